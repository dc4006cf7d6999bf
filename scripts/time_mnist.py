"""Time experiment III's sampler and training step: medians over repeats.

Usage: ``python scripts/time_mnist.py [--repeats 3] [--iterations 10]``

Sampling: the shipped CHLU (or an untrained one if none is shipped), 64 chains × 1,000 Langevin steps
from the noisy test centroid. Training: seconds per iteration of each stage of the ``paper`` preset (PCD)
and the ``best`` one (denoising score matching, then contrastive fine-tuning; the layout prior between
them is a 2 s fit), the first iteration excluded as warm-up, and the whole training they add up to.
MNIST is read from ``$CHLU_DATA_DIR``.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from chlu_core.assets import asset_path
from chlu_core.checkpoints import load
from chlu_core.experiments import mnist as exp3


def time_sampling(unit, centroid, repeats: int) -> list:
    seconds = []
    for seed in range(repeats):
        start = time.perf_counter()
        exp3.sample(unit, centroid, n=64, steps=1000, seed=seed, snapshot_steps=(0, 200, 400, 600, 800))
        seconds.append(time.perf_counter() - start)
    return seconds


def time_training(preset: str, iterations: int, images, centroid) -> dict:
    """Seconds per iteration of each training stage of ``preset`` (stage name → list), from ``iterations`` + 1
    of each stage, the first excluded as warm-up (progress reports restart their clock at each stage)."""
    base = exp3.PRESETS[preset]
    config = dataclasses.replace(base, iterations=iterations + 1,
                                 finetune_iterations=min(base.finetune_iterations, iterations + 1))
    marks = {}
    exp3.train(exp3.make_unit(config), images, config, centroid,
               progress=lambda report: marks.setdefault(report.stage, []).append(report.elapsed))
    return {stage: [b - a for a, b in zip(times[:-1], times[1:])] for stage, times in marks.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    centroid = exp3.mnist_test_centroid()
    try:
        unit = load(asset_path("exp3_chlu.pt"))
    except FileNotFoundError:
        unit = exp3.make_unit(exp3.PRESETS["best"]).eval()
    sampling = time_sampling(unit, centroid, args.repeats)
    print(f"sampling 64 × 1000 steps: median {statistics.median(sampling):.2f} s "
          f"(runs: {', '.join(f'{s:.2f}' for s in sampling)})")
    images = exp3.training_subset(10_000, seed=0)[0]
    for preset in ("paper", "best"):
        config = exp3.PRESETS[preset]
        counts = {"CHLU": config.iterations, "CHLU fine-tuning": config.finetune_iterations}
        total = 0.0
        for stage, per_iteration in time_training(preset, args.iterations, images, centroid).items():
            median = statistics.median(per_iteration)
            total += median * counts[stage]
            print(f"{preset}, {stage}: median {median:.3f} s per iteration; {counts[stage]} iterations ≈ "
                  f"{median * counts[stage] / 60:.1f} min")
        print(f"{preset}: training ≈ {total / 60:.1f} min")


if __name__ == "__main__":
    main()
