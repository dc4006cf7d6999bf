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
from typing import Any, NamedTuple, Optional

import numpy
import torch

from ._backend import is_real
from .data.sine_waves import noisy_starts, oscillator
from .experiments import sine_waves
from .metrics import wave_metrics
from .schedules import AnnealedFriction, EnergyGovernor
from .training.wake_sleep import initial_momentum
from .unit import CHLU, DivergenceError, check_state

FRICTION_MODES = ("none", "annealed", "governor")


@torch.no_grad()
def training_energy(unit: CHLU, trajectories: torch.Tensor, percentile: float = 1.0, factor: float = 0.99) -> float:
    """E*: ``factor`` × the ``percentile``-th percentile of the per-trajectory mean H of observed
    ``trajectories`` ``(time, n, 2·dim)``; the defaults are the authors' governor floor (0.99 × the
    1st percentile)."""
    dim = unit.dim
    check_state("trajectories", trajectories, 2 * dim, leading="time, n")
    states = trajectories.to(next(unit.parameters()).dtype)
    q, v = states[..., :dim].reshape(-1, dim), states[..., dim:].reshape(-1, dim)
    energy = unit.hamiltonian(q, initial_momentum(unit, v)).reshape(states.shape[:2])
    return factor * float(numpy.percentile(energy.mean(0).numpy(), percentile))


class NoiseFilter(NamedTuple):
    """How one CHLU free-runs from noisy starts: its ``friction`` schedule (0.0 for none), the energy
    ``shell`` its starts are projected onto (None: the noisy start) and its E* ``level`` (None where
    neither needed it)."""

    friction: Any = 0.0
    shell: Optional[float] = None
    level: Optional[float] = None


UNFILTERED = NoiseFilter()


def noise_filter(friction: str = "none", shell: bool = False, training: Optional[torch.Tensor] = None,
                 gamma: float = 0.1, fraction: float = 0.3, strength: float = 1.0, percentile: float = 1.0,
                 factor: float = 0.99):
    """A function CHLU → :class:`NoiseFilter`. ``friction``: "none", "annealed" (γ = ``gamma`` for the
    first ``fraction`` of the steps) or "governor" (γ_t = ``strength`` · tanh(max(0, H − E*))); ``shell``:
    start on H = E*. E*, computed once per unit, is its :func:`training_energy` on the ``training``
    trajectories with ``percentile`` and ``factor`` (the authors' 0.99 × 1st percentile by default; H
    includes the rest energy m₀c², so for large c a factor of 1 keeps E* at the training energy rather
    than m₀c²/100 below it)."""
    if friction not in FRICTION_MODES:
        raise ValueError(f"unknown friction mode {friction!r}; choose one of {', '.join(FRICTION_MODES)}")
    needs_level = friction == "governor" or shell
    if needs_level and training is None:
        raise ValueError("the governor and the energy shell need the training trajectories to set E*")

    def of(unit: CHLU) -> NoiseFilter:
        level = training_energy(unit, training, percentile, factor) if needs_level else None
        schedule = EnergyGovernor(level, strength) if friction == "governor" else \
            AnnealedFriction(gamma, fraction) if friction == "annealed" else 0.0
        return NoiseFilter(schedule, level if shell else None, level)
    return of


unfiltered = noise_filter()  # no friction, no shell: every unit runs from the noisy start as it is


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
    check_state("start", start, 2 * dim)
    if not (is_real(energy) and math.isfinite(energy)):
        raise ValueError(f"energy must be a finite number, got {energy!r}")
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


def filtered_runs(models: dict, config, sigma: float, filter_of=unfiltered, seed: int = 0, waves=None) -> dict:
    """Like :func:`sine_waves.noisy_runs`, with each CHLU filtered by ``filter_of(unit)`` (see
    :func:`noise_filter`): name → ``(time, n, 2)`` or None where a run diverged, plus "clean", "oracle"
    (the exact oscillator from the noisy start) and "noisy_start" ``(n, 2)``."""
    return runs_at(models, config, [sigma], filters_of(models, filter_of), seed, waves)[0]


def filters_of(models: dict, filter_of) -> dict:
    """Name → :class:`NoiseFilter` of each CHLU among ``models``; E* reads the training data, so it is
    computed once per unit rather than once per σ."""
    return {name: filter_of(model) for name, model in models.items() if isinstance(model, CHLU)}


def runs_at(models: dict, config, sigmas, filters: dict, seed: int = 0, waves=None) -> list:
    """:func:`filtered_runs` at each of ``sigmas``, a dict per σ, with ``filters`` given as name →
    :class:`NoiseFilter`; a model without an entry runs unfiltered. Every
    model runs once on the starts of all σ (a batch of len(sigmas) × waves: per-step overhead
    dominates a batch of 20)."""
    _, test = sine_waves.make_data(config)
    test = test if waves is None else test[:, waves]
    starts = [noisy_starts(test, sigma, seed=seed) for sigma in sigmas]
    steps, n = test.shape[0] - 1, test.shape[1]
    runs = [{"clean": test, "noisy_start": start,
             "oracle": oscillator(start, steps, config.dt, 2.0 * math.pi * config.frequency_hz)} for start in starts]
    for name, model in models.items():
        schedule, energy, _ = filters.get(name, UNFILTERED)
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


def mse_against_sigma(models: dict, config, sigmas, filter_of=unfiltered, seed: int = 0) -> dict:
    """Name (and "oracle") → free-run MSE against the clean test waves at each σ in ``sigmas``
    (inf where a run diverged), the CHLUs filtered as in :func:`filtered_runs`."""
    curves = {name: [] for name in [*models, "oracle"]}
    for runs in runs_at(models, config, list(sigmas), filters_of(models, filter_of), seed):
        for name in curves:
            run = runs[name]
            curves[name].append(float("inf") if run is None else
                                wave_metrics(run[..., 0], run[..., 1], runs["clean"], config.dt)["mse"])
    return curves
