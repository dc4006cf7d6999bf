"""Noise filtering (experiment II): free runs of a CHLU from noisy starts with no friction, the paper's
fixed annealing, or the authors' energy governor, each optionally from the start projected onto the
unit's learned energy shell; the baselines, which have neither knob, run as they are.

Both filters use what the unit learned about the data: their energy E*, a percentile of the
per-trajectory mean H of the training trajectories (:func:`training_energy`). The governor drains
energy above E*; the projection puts the start on the shell H = E* before the run.

Runs are observed states (x, model velocity) ``(time, batch, 2·dim)``, start first, as in
:mod:`chlu_core.experiments.sine_waves`.
"""
from __future__ import annotations

import math

import numpy
import torch

from .data.sine_waves import noisy_starts, oscillator
from .experiments import sine_waves
from .metrics import wave_metrics
from .schedules import AnnealedFriction, EnergyGovernor
from .training.wake_sleep import initial_momentum
from .unit import CHLU, DivergenceError

FRICTION_MODES = ("none", "annealed", "governor")


@torch.no_grad()
def training_energy(unit: CHLU, trajectories: torch.Tensor, percentile: float = 1.0, factor: float = 0.99) -> float:
    """E*: ``factor`` × the ``percentile``-th percentile of the per-trajectory mean H of observed
    ``trajectories`` ``(time, n, 2·dim)``; the defaults are the authors' governor floor (0.99 × the
    1st percentile)."""
    dim = unit.dim
    states = trajectories.to(next(unit.parameters()).dtype)
    q, v = states[..., :dim].reshape(-1, dim), states[..., dim:].reshape(-1, dim)
    energy = unit.hamiltonian(q, initial_momentum(unit, v)).reshape(states.shape[:2])
    return factor * float(numpy.percentile(energy.mean(0).numpy(), percentile))


def friction(mode: str, gamma: float = 0.1, fraction: float = 0.3, strength: float = 1.0,
             training: torch.Tensor | None = None, floor_percentile: float = 1.0, floor_factor: float = 0.99):
    """A function CHLU → its friction schedule under ``mode``: 0 (none), γ for the first ``fraction``
    of the steps (annealed), or γ_t = strength · tanh(max(0, H − E*)) with each unit's own floor E*
    from the ``training`` trajectories (governor): ``floor_factor`` × the ``floor_percentile``-th
    percentile of their per-trajectory mean H (the authors' 0.99 × 1st percentile by default; H
    includes the rest energy m₀c², so for large c a factor of 1 keeps the floor at the training
    energy rather than m₀c²/100 below it)."""
    if mode == "none":
        return lambda unit: 0.0
    if mode == "annealed":
        schedule = AnnealedFriction(gamma, fraction)
        return lambda unit: schedule
    if mode == "governor":
        if training is None:
            raise ValueError("the governor needs the training trajectories to set its energy floor")
        return lambda unit: EnergyGovernor(training_energy(unit, training, floor_percentile, floor_factor), strength)
    raise ValueError(f"unknown friction mode {mode!r}; choose one of {', '.join(FRICTION_MODES)}")


NO_FRICTION = friction("none")


def energy_shell(training: torch.Tensor, percentile: float = 50.0, factor: float = 1.0):
    """A function CHLU → the energy E* of its shell: its :func:`training_energy` on the ``training``
    trajectories (by default the median per-trajectory mean H)."""
    return lambda unit: training_energy(unit, training, percentile, factor)


def no_shell(unit: CHLU) -> None:
    """No energy shell: starts stay where the noise put them."""
    return None


NO_SHELL = no_shell


@torch.no_grad()
def project_to_energy(unit: CHLU, start: torch.Tensor, energy: float, iterations: int = 60) -> torch.Tensor:
    """The observed ``start`` ``(batch, 2·dim)`` (q, v) scaled about the origin, each row by its own
    λ ≥ 0, so that the unit's H equals ``energy``; found by bisection.

    Why a scaling: noise moves a state off the energy shell of the data; for an oscillator about the
    origin, scaling (q, v) changes its amplitude and keeps its phase, so the projected start keeps the
    noisy start's phase and takes the learned amplitude. A row whose ray never reaches ``energy``
    within λ ≤ 2¹⁰ keeps the nearest end of the search (the origin, or 2¹⁰ × the start).
    """
    dim = unit.dim
    start = start.to(next(unit.parameters()).dtype)

    def energy_at(scale):
        scaled = start * scale[:, None]
        return unit.hamiltonian(scaled[:, :dim], initial_momentum(unit, scaled[:, dim:]))

    low = torch.zeros(start.shape[0], dtype=start.dtype)
    high = torch.ones_like(low)
    for _ in range(10):  # widen the bracket until H(λ_high · start) ≥ energy
        high = torch.where(energy_at(high) < energy, 2.0 * high, high)
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        above = energy_at(middle) >= energy
        low, high = torch.where(above, low, middle), torch.where(above, middle, high)
    return start * (0.5 * (low + high))[:, None]


@torch.no_grad()
def filtered_run(model, start: torch.Tensor, steps: int, schedule=0.0, energy: float | None = None) -> torch.Tensor:
    """Free-run ``model`` from observed ``start`` ``(batch, 2·dim)``; a CHLU under the friction
    ``schedule`` and, given an ``energy``, from the start projected onto that energy shell
    (:func:`project_to_energy`). Returns observed states ``(steps + 1, batch, 2·dim)``, whose first
    row is the start the model ran from. Raises DivergenceError."""
    if not isinstance(model, CHLU):
        return sine_waves.free_run(model, start, steps)
    dim = model.dim
    start = start.to(next(model.parameters()).dtype)
    if energy is not None:
        start = project_to_energy(model, start, energy)
    trajectory = model.rollout(start[:, :dim], initial_momentum(model, start[:, dim:]), steps, gamma=schedule)
    return torch.cat([trajectory.q, model.velocity(trajectory.p)], dim=-1)


def filtered_runs(models: dict, config, sigma: float, friction_of=NO_FRICTION, seed: int = 0,
                  waves=None, shell_of=NO_SHELL) -> dict:
    """Like :func:`sine_waves.noisy_runs`, with each CHLU under ``friction_of(unit)`` (see
    :func:`friction`) and from the start projected onto the shell ``shell_of(unit)`` (see
    :func:`energy_shell`; None: the noisy start): name → ``(time, n, 2)``
    or None where a run diverged, plus "clean", "oracle" (the exact oscillator from the noisy start)
    and "noisy_start" ``(n, 2)``."""
    return runs_at(models, config, [sigma], _filters(models, friction_of, shell_of), seed, waves)[0]


def _filters(models: dict, friction_of, shell_of) -> dict:
    """Name → (friction schedule, shell energy or None) of each CHLU; both read the training data,
    so they are computed once per curve rather than once per σ."""
    return {name: (friction_of(model), shell_of(model)) for name, model in models.items() if isinstance(model, CHLU)}


def runs_at(models: dict, config, sigmas, filters: dict, seed: int = 0, waves=None) -> list:
    """:func:`filtered_runs` at each of ``sigmas``, a dict per σ, with ``filters`` given as name →
    (friction schedule, shell energy or None); a model without an entry runs unfiltered. Every
    model runs once on the starts of all σ (a batch of len(sigmas) × waves: per-step overhead
    dominates a batch of 20)."""
    _, test = sine_waves.make_data(config)
    test = test if waves is None else test[:, waves]
    starts = [noisy_starts(test, sigma, seed=seed) for sigma in sigmas]
    steps, n = test.shape[0] - 1, test.shape[1]
    runs = [{"clean": test, "noisy_start": start,
             "oracle": oscillator(start, steps, config.dt, 2.0 * math.pi * config.frequency_hz)} for start in starts]
    for name, model in models.items():
        schedule, energy = filters.get(name, (0.0, None))
        try:
            batch = filtered_run(model, torch.cat(starts), steps, schedule, energy)
            parts = [batch[:, k * n:(k + 1) * n] for k in range(len(sigmas))]
        except DivergenceError:  # one diverging start fails the batch: find which σ on its own
            parts = []
            for start in starts:
                try:
                    parts.append(filtered_run(model, start, steps, schedule, energy))
                except DivergenceError:
                    parts.append(None)
        for run, part in zip(runs, parts):
            run[name] = part
    return runs


def mse_against_sigma(models: dict, config, sigmas, friction_of=NO_FRICTION, seed: int = 0,
                      shell_of=NO_SHELL) -> dict:
    """Name (and "oracle") → free-run MSE against the clean test waves at each σ in ``sigmas``
    (inf where a run diverged), the CHLUs filtered as in :func:`filtered_runs`."""
    curves = {name: [] for name in [*models, "oracle"]}
    for runs in runs_at(models, config, list(sigmas), _filters(models, friction_of, shell_of), seed):
        for name in curves:
            run = runs[name]
            curves[name].append(float("inf") if run is None else
                                wave_metrics(run[..., 0], run[..., 1], runs["clean"], config.dt)["mse"])
    return curves
