"""Benchmark: rollout throughput, training-iteration time and long-horizon energy error.

    python -m chlu_core.bench            # full run (about 4 minutes on 2 cores)
    python -m chlu_core.bench --quick    # a smoke run in seconds (fewer repeats, horizons ÷ 100)

Times are medians over repeats, measured in one run so that ratios compare like with like.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from . import CHLU, LSTMBaseline, MLPPotential, NeuralODEBaseline, load
from .reference import rk4_rollout


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: first-call allocations and lazy initialisation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_models(dim: int = 2, dtype=torch.float32):
    torch.manual_seed(0)
    chlu = CHLU(dim, MLPPotential(dim, hidden=64), kinetic="relativistic", c=5.0, m0=1.0, alpha=0.05, dt=0.05)
    return {"CHLU": chlu.to(dtype), "LSTM": LSTMBaseline(dim, hidden=64).to(dtype),
            "NODE": NeuralODEBaseline(dim, hidden=64, dt=0.05).to(dtype)}


def rollout_throughput(repeats: int, quick: bool) -> dict:
    """Inference steps per second of each model at batch 1 and 256, dim 2."""
    results = {}
    models = make_models()
    for batch in (1, 256):
        q0, p0 = 0.5 * torch.randn(batch, 2), 0.5 * torch.randn(batch, 2)
        for name, model in models.items():
            steps = 6250 if name == "CHLU" and batch == 1 else (200 if quick else 1000)
            with torch.no_grad():
                seconds = median_seconds(lambda: model.rollout(q0, p0, steps=steps), repeats)
            results[(name, batch)] = (steps, seconds)
    return results


def training_iteration(repeats: int, window: int = 64, batch: int = 1) -> dict:
    """Seconds for one optimiser step on one window of 64 steps (the paper's wake phase)."""
    results = {}
    data = torch.randn(window + 1, batch, 4)
    for name, model in make_models().items():
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)

        def iteration():
            optimiser.zero_grad()
            if name == "CHLU":
                traj = model.rollout(data[0, :, :2], data[0, :, 2:], steps=window)
                loss = torch.mean((traj.states - data) ** 2)
            else:
                loss = model.training_loss(data)
            loss.backward()
            optimiser.step()
        results[name] = median_seconds(iteration, repeats)
    return results


def energy_test_unit(checkpoint: str | None) -> CHLU:
    """The learned Hamiltonian for the energy comparison: a CHLU checkpoint, or else a seeded random
    MLP potential with its weights scaled ×3 (sharper than at initialisation, like a trained one)."""
    if checkpoint:
        unit = load(checkpoint)
        if not isinstance(unit, CHLU):
            raise SystemExit(f"{checkpoint} holds a {type(unit).__name__}, not a CHLU")
        return unit.double()
    unit = make_models(dtype=torch.float64)["CHLU"]
    with torch.no_grad():
        for layer in [*unit.potential.layers, unit.potential.readout]:
            layer.weight.mul_(3.0)
    return unit


def energy_error(unit: CHLU, horizons: list[int]) -> list[tuple[int, float, float]]:
    """Max |H(t) − H(0)| over the last tenth before each horizon, for Verlet and RK4 at the same dt
    on the same learned Hamiltonian, float64."""
    q0 = torch.full((1, unit.dim), 0.5, dtype=torch.float64)
    p0 = torch.full((1, unit.dim), 0.5, dtype=torch.float64)
    p0[:, ::2] *= -1
    steps = max(horizons)
    every = max(1, horizons[0] // 100)
    with torch.no_grad():
        h0 = unit.hamiltonian(q0, p0)
        errors = {}
        for name, integrate in (("verlet", unit.rollout), ("rk4", lambda *a, **k: rk4_rollout(unit, *a, **k))):
            traj = integrate(q0, p0, steps=steps, record_every=every)
            errors[name] = (unit.hamiltonian(traj.q[:, 0], traj.p[:, 0]) - h0).abs()
    rows = []
    for horizon in horizons:
        end = horizon // every
        window = slice(end - end // 10, end + 1)
        rows.append((horizon, errors["verlet"][window].max().item(), errors["rk4"][window].max().item()))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chlu_core.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer repeats, horizons ÷ 100")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: fastest here)")
    parser.add_argument("--checkpoint", help="CHLU checkpoint for the energy comparison (default: a random MLP)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    repeats = 3 if args.quick else 7
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), medians of {repeats} runs\n")

    print("Rollout throughput (inference, dim 2)")
    throughput = rollout_throughput(repeats, args.quick)
    for batch in (1, 256):
        for name in ("CHLU", "LSTM", "NODE"):
            steps, seconds = throughput[(name, batch)]
            print(f"  {name:5s} batch {batch:3d}: {steps / seconds:10.0f} steps/s  "
                  f"({1e6 * seconds / steps:7.1f} µs/step)")
    steps, seconds = throughput[("CHLU", 1)]
    print(f"  CHLU 6,250-step rollout at batch 1: {seconds:.3f} s (target ≤ 0.2 s)")
    per_step = {name: throughput[(name, 256)][1] / throughput[(name, 256)][0] for name in ("CHLU", "LSTM")}
    print(f"  CHLU / LSTM per-step cost at batch 256: {per_step['CHLU'] / per_step['LSTM']:.2f}× (target ≤ 3×)\n")

    print("One training iteration (window 64, batch 1, forward + backward + Adam)")
    for name, seconds in training_iteration(repeats).items():
        print(f"  {name:5s}: {1e3 * seconds:8.1f} ms")

    horizons = [10**4, 10**5, 10**6]
    if args.quick:
        horizons = [h // 100 for h in horizons]
    unit = energy_test_unit(args.checkpoint)
    print(f"\nEnergy error |H(t) − H(0)|, float64, dt = {unit.dt}, max over the last tenth before each horizon"
          f" ({args.checkpoint or 'random MLP potential, weights ×3'})")
    print(f"  {'steps':>9s} {'Verlet (CHLU)':>14s} {'RK4':>12s} {'RK4 / Verlet':>13s}")
    for horizon, verlet, rk4 in energy_error(unit, horizons):
        print(f"  {horizon:9d} {verlet:14.3e} {rk4:12.3e} {rk4 / verlet:13.1f}")


if __name__ == "__main__":
    main()
