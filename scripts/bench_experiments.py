"""Benchmark of experiment training times (exp I), printing medians and ratios.

    .venv/bin/python scripts/bench_experiments.py [--repeats 3] [--skip-best]

- paper preset, CHLU only (1,000 iterations, sleep included) against the authors' JAX implementation
  measured on this machine (about 30 s; pass --jax-seconds to change the reference);
- best preset, all three models together, against the 3-minute budget.
One thread, as the trainers are fastest so here. Times depend on the machine's load: run it alone.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from chlu_core.experiments import lemniscate


def train_seconds(preset: str, models, seed: int) -> float:
    start = time.perf_counter()
    lemniscate.run(preset, seed=seed, models=models)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jax-seconds", type=float, default=30.0)
    parser.add_argument("--skip-best", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    lemniscate.run("quick", seed=0, models=("CHLU",))  # warm-up: imports and first-call allocations
    paper = [lemniscate.run("paper", seed=s, models=("CHLU",)).wall_time_s["CHLU"] for s in range(args.repeats)]
    median = statistics.median(paper)
    print(f"exp1 paper CHLU training: median {median:.1f} s over {args.repeats} "
          f"({', '.join(f'{t:.1f}' for t in paper)}); ratio to JAX ({args.jax_seconds:.0f} s): "
          f"{median / args.jax_seconds:.2f}")
    if not args.skip_best:
        best = [sum(lemniscate.run("best", seed=s).wall_time_s.values()) for s in range(args.repeats)]
        median = statistics.median(best)
        print(f"exp1 best, CHLU + LSTM + NODE training: median {median:.1f} s over {args.repeats} "
              f"({', '.join(f'{t:.1f}' for t in best)}); ratio to the 180 s budget: {median / 180:.2f}")


if __name__ == "__main__":
    main()
