"""Cached computations for the pages: thin wrappers over chlu_core with ``st.cache_data``.

Cached functions take the model as ``_model`` (not hashed) and its checkpoint ``digest`` (hashed), so
shipped and uploaded models share one cache without hashing weights; results are NumPy arrays.
"""
from __future__ import annotations

import dataclasses

import numpy
import streamlit as st
import torch
from torch import nn

from chlu_core import CHLU, DivergenceError, figures, filtering
from chlu_core.experiments import lemniscate, mnist, sine_waves
from chlu_core.experiments.mnist import clip_every_of  # noqa: F401 (the pages' way to it)
from chlu_core.training.wake_sleep import initial_momentum

from . import precomputed

LEMNISCATE = dict(steps_per_cycle=lemniscate.PRESETS["paper"].steps_per_cycle, dt=0.05)
SINE = dict(steps_per_cycle=20, dt=0.05)  # x = sin(2πt + φ): one cycle per time unit at dt = 0.05
BEST_WAVES = sine_waves.PRESETS["best"]  # the shipped sine-wave models' recipe, its energy level E* included
# A noise filter is (friction mode, γ, fraction, governor strength, start on the energy shell).
NOISE_DEFAULTS = ("none", 0.1, 0.3, 0.1, BEST_WAVES.free_run_start == "energy_shell")  # Noise page: the shipped recipe
UNFILTERED = ("none", 0.1, 0.3, 0.1, False)  # what a baseline gets: it has no filter
DREAM_DEFAULTS = mnist.PREVIEW  # MNIST page: its first dream, shipped precomputed for the shipped unit
LANDSCAPE_DEFAULTS = dict(axes=(0, 1), half_width=1.5, points=41)  # Landscape page: plane, range ±, grid
ENERGY_DEFAULTS = dict(sigma=0.5, waves=(0, 1, 2), seed=0)  # Energy page: noise, test waves (0-based), seed
RECONSTRUCTION_DEFAULTS = dict(sigma=0.5, waves=(0, 1))  # Noise page's reconstructions: noise, test waves (0-based)


class RolloutFailed(ValueError):
    """A free run left the finite numbers; the message says which model and what to change."""


def model_dt(model: nn.Module, metadata: dict) -> float:
    """The step a model was trained with (an LSTM has none of its own: its training config has it)."""
    return float(getattr(model, "dt", None) or metadata.get("config", {}).get("dt", 0.05))


def truth(experiment: str) -> numpy.ndarray:
    """The true orbit ``(points, 2)``, closed: the lemniscate in the x–y plane, or the clean sine wave
    x = sin(2πt + φ) in its phase plane (x, ẋ)."""
    if experiment == "exp1":
        return lemniscate.true_curve(400).numpy()
    angle = numpy.linspace(0.0, 2.0 * numpy.pi, 401)
    return numpy.stack([numpy.sin(angle), 2.0 * numpy.pi * numpy.cos(angle)], axis=-1)


@st.cache_resource(max_entries=16, show_spinner=False)
def rollout_player(_runs: dict, shown: tuple, experiment: str, cycles: int, steps_per_cycle: int | None = None,
                   dt: float | None = None, _reference: list | None = None):
    """The Rollouts page's figure (:func:`chlu_core.figures.rollout_player`) of the free runs ``_runs``
    (label → run), built once per ``shown`` models ((label, digest) pairs, in order) and ``cycles``:
    its animation frames take a few tenths of a second to build. Shared by every session: never mutate it.
    For a CSV-trained model (experiment "csv") a cycle is its training trajectory's ``steps_per_cycle``
    steps of ``dt``, and the truth its observed orbit ``_reference`` (set by its digest, in ``shown``)."""
    if experiment == "csv":
        return figures.rollout_player(_runs, steps_per_cycle, dt,
                                      truth=None if _reference is None else numpy.asarray(_reference))
    spec = LEMNISCATE if experiment == "exp1" else SINE
    return figures.rollout_player(_runs, spec["steps_per_cycle"], spec["dt"], truth=truth(experiment))


@st.cache_data(max_entries=64, show_spinner="Free-running the model …")
def free_run(_model: nn.Module, digest: str, experiment: str, cycles: int, dt: float, start: tuple | None = None,
             steps_per_cycle: int | None = None) -> dict:
    """A model's free run for ``cycles`` cycles of ``experiment`` from the experiment's own start (the
    last training state of the lemniscate; the first test wave; for a CSV-trained model, experiment
    "csv", the observed ``start`` its metadata keeps, a cycle being its trajectory's ``steps_per_cycle``
    steps), batch 1: arrays ``q`` and ``v`` ``(time, dim)``, and for a CHLU its energy ``H`` ``(time,)``;
    a shipped model's run precomputed with the assets is read, not run. Raises :class:`RolloutFailed`."""
    shipped = precomputed.free_run(digest, experiment, cycles)
    if shipped is not None:
        q, v = torch.from_numpy(shipped["q"]), torch.from_numpy(shipped["v"])
    else:
        try:
            if experiment == "csv":
                observed = torch.tensor([start], dtype=next(_model.parameters()).dtype)
                run = sine_waves.free_run(_model, observed, cycles * steps_per_cycle)
            elif experiment == "exp1":
                config = dataclasses.replace(lemniscate.PRESETS["paper"], dt=dt, free_run_cycles=cycles)
                run = lemniscate.free_run(_model, config).states
            else:
                config = dataclasses.replace(sine_waves.PRESETS["paper"], dt=dt)
                _, test = sine_waves.make_data(config)
                run = sine_waves.free_run(_model, test[0, :1], cycles * SINE["steps_per_cycle"])
        except DivergenceError as error:
            raise RolloutFailed(str(error)) from None
        dim = run.shape[-1] // 2
        q, v = run[:, 0, :dim], run[:, 0, dim:]
    result = {"q": q.numpy(), "v": v.numpy()}
    if isinstance(_model, CHLU):
        with torch.no_grad():
            result["H"] = _model.hamiltonian(q, initial_momentum(_model, v)).numpy()
    return result


@st.cache_data(max_entries=16, show_spinner=False)
def rollout_csv(runs: dict, dt: float) -> bytes:
    """The free runs as one CSV: a row per model and step with t, positions, velocities (and the
    CHLU's momenta and energy)."""
    import pandas as pd
    tables = []
    for name, run in runs.items():
        columns = {"model": name, "step": numpy.arange(len(run["q"])), "t": dt * numpy.arange(len(run["q"]))}
        for field in ("q", "v", "p"):
            if field in run:
                columns.update({f"{field}{i + 1}": run[field][:, i] for i in range(run[field].shape[1])})
        if "H" in run:
            columns["H"] = run["H"]
        tables.append(pd.DataFrame(columns))
    return pd.concat(tables).to_csv(index=False, float_format="%.6g").encode()


@st.cache_data(max_entries=32, show_spinner="Evaluating the potential …")
def landscape(_model: CHLU, digest: str, axes: tuple, half_width: float, points: int) -> dict:
    """V(q) + α‖q‖² and the force F = −∇V on a ``points``² grid over [−half_width, half_width]² in the
    plane of coordinates ``axes`` = (i, j), the other coordinates held at 0; for a 1-D unit a line.

    Returns NumPy ``xs``, ``ys`` ``(points,)``, ``potential``, ``force_x``, ``force_y`` ``(points, points)``
    indexed [y, x] (for 1-D: ``xs``, ``potential``, ``force_x`` ``(points,)``)."""
    dtype = next(_model.parameters()).dtype
    axis = torch.linspace(-half_width, half_width, points, dtype=dtype)
    if _model.dim == 1:
        q = axis[:, None]
        with torch.no_grad():
            potential = _model.potential_energy(q)
        force = _model.force(q)
        return {"xs": axis.numpy(), "potential": potential.numpy(), "force_x": force[:, 0].detach().numpy()}
    gy, gx = torch.meshgrid(axis, axis, indexing="ij")
    q = torch.zeros(points * points, _model.dim, dtype=dtype)
    q[:, axes[0]], q[:, axes[1]] = gx.ravel(), gy.ravel()
    with torch.no_grad():
        potential = _model.potential_energy(q).reshape(points, points)
    force = _model.force(q).detach()
    shape = (points, points)
    return {"xs": axis.numpy(), "ys": axis.numpy(), "potential": potential.numpy(),
            "force_x": force[:, axes[0]].reshape(shape).numpy(), "force_y": force[:, axes[1]].reshape(shape).numpy()}


@st.cache_data(max_entries=32, show_spinner=False)
def potential_along(_model: CHLU, digest: str, positions: numpy.ndarray) -> numpy.ndarray:
    """V(q) + α‖q‖² at each of ``positions`` ``(time, dim)``: the heights of a run on the surface."""
    with torch.no_grad():
        return _model.potential_energy(torch.as_tensor(positions, dtype=next(_model.parameters()).dtype)).numpy()


def _wave_setting(dt: float) -> sine_waves.Config:
    """Experiment II's test setting sampled at step ``dt``: the same waves, noisy starts and 50 time units.
    A model steps at the dt it was trained with; fed waves sampled at another, it runs at the wrong frequency."""
    paper = sine_waves.PRESETS["paper"]
    return dataclasses.replace(paper, dt=dt, steps=max(2, round(paper.steps * paper.dt / dt)))


def model_dts(chosen: dict, entries: list) -> tuple:
    """The time step of each of ``entries`` (``chosen``: label → its model), in order: what
    :func:`noisy_waves` and :func:`filtered_waves` run each model at."""
    return tuple(model_dt(chosen[entry.label], entry.metadata) for entry in entries)


def _on_reference_grid(models: dict, dts: tuple, results_at) -> tuple[dict, numpy.ndarray]:
    """``results_at(group, setting)`` for each group of ``models`` that step at one dt (``dts``, in the
    models' order), on experiment II's test waves sampled at that dt (``setting``), merged onto the grid
    of the pages' step ``SINE["dt"]``. A result maps keys to {name → array ``(time, …)`` or None} or to
    shared arrays: that grid's group gives every key as it is (the shared references with it), the other
    groups their models' arrays, resampled linearly. Returns the merged results, each table's models
    first in their order, and the grid's times."""
    groups = {SINE["dt"]: {}}
    for (label, model), dt in zip(models.items(), dts):
        groups.setdefault(dt, {})[label] = model
    merged = None
    for dt, group in groups.items():
        setting = _wave_setting(dt)
        results = results_at(group, setting)
        if merged is None:
            merged, times = results, dt * numpy.arange(setting.steps)
            continue
        for key, values in results.items():
            if isinstance(values, dict):
                merged[key].update({label: None if values.get(label) is None else _resampled(values[label], dt, times)
                                    for label in group if label in values})
    return {key: _in_order(values, models) if isinstance(values, dict) else values
            for key, values in merged.items()}, times


def _resampled(values: numpy.ndarray, dt: float, times: numpy.ndarray) -> numpy.ndarray:
    """``values`` ``(time, …)`` sampled every ``dt`` from t = 0, linearly interpolated at ``times``."""
    columns = values.reshape(len(values), -1).T
    own = dt * numpy.arange(len(values))
    return numpy.stack([numpy.interp(times, own, column) for column in columns], -1).reshape(
        (len(times),) + values.shape[1:])


def _in_order(results: dict, labels) -> dict:
    """``results`` with the models' ``labels`` first, in order (the figures' columns), then the rest."""
    return {**{label: results[label] for label in labels if label in results},
            **{name: value for name, value in results.items() if name not in labels}}


@st.cache_data(max_entries=32, show_spinner="Free-running the models from noisy starts …")
def noisy_waves(_models: dict, digests: tuple, sigma: float, waves: tuple, seed: int, dts: tuple) -> dict:
    """Free runs of ``_models`` (label → model, each stepping at its ``dts``) and the oracle from the test
    ``waves`` started at noise ``sigma`` (experiment II), with their kinetic energies per unit mass:
    ``runs`` (name → ``(time, waves, 2)`` or None if it diverged), ``from_q``, ``from_p`` (name →
    ``(time, waves)``), ``expected`` ``(time, waves)`` and ``times``, every model's on the grid of step
    ``SINE["dt"]`` (its finite differences taken at its own step, then resampled)."""
    def results_at(group: dict, setting) -> dict:
        runs = sine_waves.noisy_runs(group, setting, sigma, seed=seed, waves=list(waves))
        return {"runs": {name: None if run is None else run.numpy() for name, run in runs.items()},
                **sine_waves.kinetic_energies(runs, setting.dt)}
    merged, times = _on_reference_grid(_models, dts, results_at)
    return {**merged, "times": times}


def _filter_of(mode: str, gamma: float, fraction: float, strength: float, shell: bool):
    """A CHLU → :class:`~chlu_core.filtering.NoiseFilter` function. E*, the governor's floor and the
    shell, is set as the shipped recipe sets it: the median training energy (the authors' 0.99 × 1st
    percentile lies m₀c²/100 below it, which for c = 100 lets the noise's energy stay)."""
    training = sine_waves.make_data(BEST_WAVES)[0] if mode == "governor" or shell else None
    return filtering.noise_filter(mode, shell, training, gamma, fraction, strength,
                                  BEST_WAVES.energy_level_percentile, BEST_WAVES.energy_level_factor)


@st.cache_data(max_entries=64, show_spinner="Measuring the MSE at every noise level …")
def filtering_curve(_model: nn.Module, digest: str, noise_filter: tuple, dt: float) -> dict:
    """The model's (and the oracle's) free-run MSE at each σ of experiment II, the model stepping at ``dt``,
    a CHLU under ``noise_filter`` (see :data:`NOISE_DEFAULTS`); pass :data:`UNFILTERED` for a baseline,
    which has no filter, so that its curve is computed once."""
    return filtering.mse_against_sigma({"model": _model}, _wave_setting(dt), sine_waves.SIGMAS,
                                       _filter_of(*noise_filter))


def mse_curve(entry, model: nn.Module, noise_filter: tuple) -> dict:
    """:func:`filtering_curve` of ``model`` (its :class:`~app.models.ModelEntry` ``entry``), or, for a
    shipped model under the filter its manifest entry was evaluated with (the shipped recipe, or none),
    the curves recorded there when the assets were built: the Noise page's first view then needs no
    free runs (three models at ten σ: 2–3 s on two cores)."""
    recorded = _recorded_mse(entry, noise_filter)
    return recorded if recorded is not None else filtering_curve(model, entry.digest, noise_filter,
                                                                 model_dt(model, entry.metadata))


def _recorded_mse(entry, noise_filter: tuple) -> dict | None:
    """``{"model", "oracle"}`` MSE per σ from a shipped ``best`` model's manifest entry (carried in its
    ``metadata``, see :func:`app.models.shipped_entries`), or None."""
    if entry.source != "shipped" or entry.metadata.get("preset") != "best":
        return None
    if noise_filter == UNFILTERED:  # a CHLU that the recipe filters records its unfiltered runs beside
        key = "mse_unfiltered" if "mse_unfiltered" in entry.metrics else "mse"
    else:
        key = "mse" if entry.kind == "CHLU" and noise_filter == NOISE_DEFAULTS else None
    oracle = entry.metadata.get("oracle_metrics", {}).get("mse")
    if key not in entry.metrics or oracle is None or entry.metrics.get("sigmas") != list(sine_waves.SIGMAS):
        return None
    return {"model": entry.metrics[key], "oracle": oracle}


@st.cache_data(max_entries=32, show_spinner="Free-running from the noisy starts …")
def filtered_waves(_models: dict, digests: tuple, noise_filter: tuple, sigma: float, waves: tuple,
                   dts: tuple) -> dict:
    """Positions x ``(time, waves)`` of each model (stepping at its ``dts``), the clean waves and the
    oracle, from the test ``waves`` started at noise ``sigma``, each CHLU under ``noise_filter``, on the
    grid of step ``SINE["dt"]``; a diverged model maps to None."""
    def results_at(group: dict, setting) -> dict:
        runs = filtering.filtered_runs(group, setting, sigma, _filter_of(*noise_filter), waves=list(waves))
        runs.pop("noisy_start")
        return {"x": {name: None if run is None else run[..., 0].numpy() for name, run in runs.items()}}
    return _on_reference_grid(_models, dts, results_at)[0]["x"]


@st.cache_resource(show_spinner="Loading the MNIST test set for its centroid …")
def mnist_centroid() -> torch.Tensor:
    """The mean MNIST test image in [−1, 1] ``(784,)``, where the dreams start (read once per server):
    the shipped copy, or from the test set where it is not shipped."""
    shipped = mnist.shipped_centroid()
    return mnist.mnist_test_centroid() if shipped is None else shipped


@st.cache_resource(show_spinner=False)
def mnist_classifier():
    """The shipped digit classifier, or None where it is not shipped."""
    return mnist.shipped_classifier()


@st.cache_data(max_entries=16, show_spinner=False)
def dream(_unit: CHLU, digest: str, n: int, noise_scale: float, gamma: float, T0: float, T_end: float,
          steps: int, seed: int, clip_every: int | None = None) -> dict:
    """Langevin dreams from the noisy test centroid (:func:`chlu_core.experiments.mnist.dream`), scored by
    the shipped classifier where there is one; the shipped unit's first dream comes precomputed.
    ``clip_every``: clip the chains to [−1, 1] that often, as the unit's training did (``clip_every_of(metadata)``)."""
    settings = dict(n=n, noise_scale=noise_scale, gamma=gamma, T0=T0, T_end=T_end, steps=steps, seed=seed,
                    clip_every=clip_every)
    shipped = precomputed.dream(digest, settings)
    if shipped is not None:
        return shipped
    return mnist.dream(_unit, mnist_centroid(), mnist_classifier(), **settings)
