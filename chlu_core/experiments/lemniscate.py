"""Experiment I: long-horizon stability on the lemniscate of Bernoulli (paper figures 1 and 4).

Train on 3 cycles (125 steps of dt = 0.05 each), free-run 50 cycles from the last training state,
and measure how well each model keeps the curve (:func:`chlu_core.metrics.orbit_metrics`).

Presets: ``paper`` (the protocol: one random window of 64 per iteration, 1,000 iterations),
``best`` (all windows at once, window curriculum 16 → 64 → 125 → 250, the same data regime and
budget for LSTM and NODE) and ``quick`` (seconds, for tests and demos).
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Union

import torch

from ..baselines import LSTMBaseline
from ..data.lemniscate import EXTENT, CurveDistance, lemniscate_trajectory
from ..metrics import energy_rel_fluctuation, orbit_metrics
from ..training import ProgressCallback
from ..training.wake_sleep import rollout_observed
from ..unit import CHLU, DivergenceError, Trajectory
from .dynamics import MODELS, make_models, resolve, train
from .presets import LEMNISCATE as PRESETS
from .presets import LemniscateConfig as Config
from .result import ExperimentResult

NAME = "exp1"


def make_data(config: Config) -> torch.Tensor:
    """Training states (x, y, ẋ, ẏ), shape ``(train_cycles · steps_per_cycle, 1, 4)``."""
    return lemniscate_trajectory(config.train_cycles, config.steps_per_cycle, config.dt)[:, None]


def true_curve(points: int = 1000) -> torch.Tensor:
    """The lemniscate itself, ``(points + 1, 2)`` (closed: the first point repeated at the end)."""
    one_cycle = lemniscate_trajectory(1, points, 1.0)[:, :2]
    return torch.cat([one_cycle, one_cycle[:1]])


@torch.no_grad()
def free_run(model, config: Config, start: Optional[torch.Tensor] = None) -> Trajectory:
    """Free-run ``free_run_cycles`` cycles from the last training state (or ``start`` ``(1, 4)``).

    Returns observed states: ``q`` positions and ``p`` velocities, ``(steps + 1, 1, 2)``; for the
    CHLU also ``momenta`` set as an attribute (its p, for the energy). The LSTM's memory is first
    warmed on the training data.
    """
    data = make_data(config)
    start = data[-1] if start is None else start
    steps = config.free_run_cycles * config.steps_per_cycle
    if isinstance(model, CHLU):
        states = rollout_observed(model, start, steps)
    elif isinstance(model, LSTMBaseline):
        states = model.rollout(start[:, :2], start[:, 2:], steps, context=data[:-1]).states
    else:
        states = model.rollout(start[:, :2], start[:, 2:], steps).states
    return Trajectory(states[..., :2], states[..., 2:])


def evaluate(models: dict, config: Config, seed: int = 0) -> dict:
    """Metrics per model: orbit_error, max_distance, max_radius, x/y extents (and their errors
    against the curve's ±1, ±0.354), the same orbit_error and max_distance of a free run from the
    last training state + N(0, perturbation²) (perturbed_orbit_error, perturbed_max_distance; noise
    drawn from ``seed``), and for the CHLU energy_rel_fluctuation over the whole free run."""
    distance = CurveDistance()
    data = make_data(config)
    noise = config.perturbation * torch.randn(data[-1].shape, generator=torch.Generator().manual_seed(seed))
    metrics = {}
    for name, model in models.items():
        try:
            run = free_run(model, config)
            perturbed = free_run(model, config, start=data[-1] + noise.to(data.dtype))
        except DivergenceError:
            metrics[name] = {"orbit_error": float("inf"), "diverged": True}
            continue
        m = orbit_metrics(run.q[:, 0], distance, config.steps_per_cycle)
        m["x_extent_error"] = abs(m["x_extent"] - EXTENT[0])
        m["y_extent_error"] = abs(m["y_extent"] - EXTENT[1])
        off_start = orbit_metrics(perturbed.q[:, 0], distance, config.steps_per_cycle)
        m["perturbed_orbit_error"], m["perturbed_max_distance"] = off_start["orbit_error"], off_start["max_distance"]
        if isinstance(model, CHLU):
            with torch.no_grad():
                momenta = model.kinetic.momentum(run.p[:, 0])
                m["energy_rel_fluctuation"] = energy_rel_fluctuation(model.hamiltonian(run.q[:, 0], momenta))
        metrics[name] = m
    return metrics


def run(preset: Union[str, Config] = "quick", seed: int = 0, progress: Optional[ProgressCallback] = None,
        models=MODELS) -> ExperimentResult:
    """Train and evaluate ``models`` (a subset of CHLU, LSTM, NODE) under ``preset`` with ``seed``."""
    name, config = resolve(PRESETS, preset)
    torch.manual_seed(seed)
    trained = make_models(2, config, models)
    training = train(trained, make_data(config), config, seed=seed, progress=progress)
    metrics = training.noted(evaluate(trained, config, seed=seed))
    return ExperimentResult(NAME, name, seed, dataclasses.asdict(config), models=trained, metrics=metrics,
                            figures=figures(trained, config), wall_time_s=training.wall_time_s,
                            warnings=training.messages)


@torch.no_grad()
def potential_grid(unit: CHLU, half_width: float = 1.5, points: int = 41) -> dict:
    """The unit's potential V(q) + α‖q‖² and force −∂H/∂q on a square grid of ``points``² positions in
    [−half_width, half_width]²: ``xs``, ``ys`` ``(points,)``; ``potential``, ``force_x``, ``force_y``
    ``(points, points)`` indexed [y, x]."""
    axis = torch.linspace(-half_width, half_width, points)
    gy, gx = torch.meshgrid(axis, axis, indexing="ij")
    q = torch.stack([gx.ravel(), gy.ravel()], dim=-1).to(next(unit.parameters()).dtype)
    force = unit.force(q)
    shape = (points, points)
    return {"xs": axis, "ys": axis, "potential": unit.potential_energy(q).reshape(shape),
            "force_x": force[:, 0].reshape(shape), "force_y": force[:, 1].reshape(shape)}


def figures(models: dict, config: Config) -> dict:
    """The paper's figure 1 (orbits of every model) and figure 4 (the CHLU's learned potential as
    heatmap, 3-D surface and force field, its free run overlaid)."""
    from .. import figures as fig
    runs = {}
    for name, model in models.items():
        try:
            runs[name] = free_run(model, config).q[:, 0]
        except DivergenceError:
            continue
    out = {"fig1_orbits": fig.orbit_panels(runs, true_curve(), config.steps_per_cycle)}
    if "CHLU" in models and "CHLU" in runs:
        grid = potential_grid(models["CHLU"])
        trajectory = runs["CHLU"]
        with torch.no_grad():
            heights = models["CHLU"].potential_energy(trajectory)
        out["fig4_potential_heatmap"] = fig.potential_heatmap(grid["xs"], grid["ys"], grid["potential"], trajectory)
        out["fig4_potential_surface"] = fig.potential_surface(grid["xs"], grid["ys"], grid["potential"],
                                                              trajectory, heights)
        out["fig4_force_field"] = fig.force_field(grid["xs"], grid["ys"], grid["force_x"], grid["force_y"],
                                                  trajectory)
    return out
