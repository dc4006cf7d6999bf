"""Benchmark of experiment I's training times, printing medians and ratios.

    .venv/bin/python scripts/bench_experiments.py [--repeats 3] [--skip-best] [--before]

- paper preset, CHLU only (1,000 iterations, sleep included) against the authors' JAX implementation
  measured on this machine (about 30 s; --jax-seconds changes the reference);
- best preset, CHLU + LSTM + NODE, per model and in total, against the 3-minute budget;
- with --before, the milliseconds per training iteration of the hand-written reverse passes against
  the autograd-taped paths they replace (CHLU: taped Verlet rollout; NODE: torchdiffeq), in the same
  run, so that the speed-up is measured under the same load.
Training times are wall-clock and CPU seconds: the CPU time is the steadier figure where other work
shares the CPU. One thread, as the trainers are fastest so here. Run it alone.
"""
from __future__ import annotations

import argparse
import functools
import statistics
import time

import torch

from chlu_core.data import WindowSampler
from chlu_core.experiments import lemniscate
from chlu_core.experiments.dynamics import make_models, train
from chlu_core.training.wake_sleep import WakeSleepTrainer

MODELS = ("CHLU", "LSTM", "NODE")


def training_seconds(preset: str, models, seed: int) -> dict:
    """Per model, (wall-clock, CPU) seconds of its training under ``preset``, as ``lemniscate.run`` trains
    it (evaluation left out). CPU seconds count only the time this process ran: on a CPU shared with
    other work they are the steadier figure."""
    config = lemniscate.PRESETS[preset]
    data = lemniscate.make_data(config)
    seconds = {}
    for name, model in make_models(2, config, models).items():
        wall, cpu = time.perf_counter(), time.process_time()
        train({name: model}, data, config, seed=seed)
        seconds[name] = (time.perf_counter() - wall, time.process_time() - cpu)
    return seconds


def summary(runs: list, name: str) -> str:
    """Median wall-clock and CPU seconds of ``name`` over ``runs`` (see :func:`training_seconds`)."""
    wall = statistics.median(run[name][0] for run in runs)
    cpu = statistics.median(run[name][1] for run in runs)
    return f"{name} {wall:.1f} s wall / {cpu:.1f} s CPU"


def iteration_ms(preset: str, model_name: str, taped: bool, iterations: int) -> float:
    """Mean milliseconds of one training iteration, by the reverse pass or (``taped``) by autograd, over
    blocks of 5 consecutive iterations spread evenly over the preset's run (so that every window
    length of a curriculum, and the paper's sleep every 5th iteration, count as in a full run)."""
    config = lemniscate.PRESETS[preset]
    torch.manual_seed(0)
    model = make_models(2, config, (model_name,))[model_name]
    data = lemniscate.make_data(config)
    if model_name == "CHLU":
        if taped:
            model.rollout = functools.partial(model.rollout, twice_differentiable=True)
        step = WakeSleepTrainer(model, data, config)
    else:
        if taped:
            model._mlp_field = lambda: False  # the torchdiffeq path
        step = _baseline_step(model, data, config)
    seconds = 0.0
    blocks = range(0, config.iterations, config.iterations // (iterations // 5))
    for block in blocks:
        start = time.perf_counter()
        for iteration in range(block, block + 5):
            step(iteration)
        seconds += time.perf_counter() - start
    return 1e3 * seconds / (5 * len(blocks))


def _baseline_step(model, data, config):
    """One baseline training iteration at a given iteration number (its window length)."""
    windows = WindowSampler(data, config.window_lengths, config.iterations, config.windows_per_iteration,
                            torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)

    def step(iteration):
        optimizer.zero_grad()
        model.training_loss(windows(iteration)).backward()
        optimizer.step()
    return step


def print_before_after(iterations: int) -> None:
    for preset, model_name in (("paper", "CHLU"), ("best", "CHLU"), ("best", "NODE")):
        taped = iteration_ms(preset, model_name, taped=True, iterations=iterations)
        fast = iteration_ms(preset, model_name, taped=False, iterations=iterations)
        print(f"{preset} {model_name} per iteration: autograd-taped {taped:.1f} ms, reverse pass {fast:.1f} ms "
              f"(x{taped / fast:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jax-seconds", type=float, default=30.0)
    parser.add_argument("--budget-seconds", type=float, default=180.0)
    parser.add_argument("--skip-best", action="store_true")
    parser.add_argument("--before", action="store_true", help="also time the autograd-taped paths per iteration")
    args = parser.parse_args()
    torch.set_num_threads(1)
    lemniscate.run("quick", seed=0)  # warm-up: imports and first-call allocations
    if args.before:
        print_before_after(iterations=20)
    paper = [training_seconds("paper", ("CHLU",), seed) for seed in range(args.repeats)]
    wall = statistics.median(run["CHLU"][0] for run in paper)
    cpu = statistics.median(run["CHLU"][1] for run in paper)
    print(f"exp1 paper, medians over {args.repeats}: {summary(paper, 'CHLU')}; ratio to JAX "
          f"({args.jax_seconds:.0f} s): {wall / args.jax_seconds:.2f} wall, {cpu / args.jax_seconds:.2f} CPU")
    if args.skip_best:
        return
    best = [training_seconds("best", MODELS, seed) for seed in range(args.repeats)]
    for run in best:
        run["total"] = tuple(sum(run[name][i] for name in MODELS) for i in (0, 1))
    wall = statistics.median(run["total"][0] for run in best)
    cpu = statistics.median(run["total"][1] for run in best)
    print(f"exp1 best, medians over {args.repeats}: {'; '.join(summary(best, name) for name in MODELS)}; "
          f"{summary(best, 'total')}; ratio to the {args.budget_seconds:.0f} s budget: "
          f"{wall / args.budget_seconds:.2f} wall, {cpu / args.budget_seconds:.2f} CPU")


if __name__ == "__main__":
    main()
