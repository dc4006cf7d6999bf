"""Regenerate the shipped checkpoints of experiments I and II (``python -m chlu_core build-assets``).

Trains the ``best`` preset, writes ``assets/<experiment>_<model>.pt`` and registers each file in
``assets/manifest.json`` with its metrics and training time, and the ``paper`` preset's metrics and
training time beside them (``paper_metrics``, ``paper_training_wall_time_s``) for comparison. For
experiment I it also writes the free runs the dashboard's overview draws (:func:`write_free_runs`).
After a change to evaluation only, :func:`reevaluate` refreshes the metrics without retraining.
"""
from __future__ import annotations

import dataclasses
import io

import numpy

from . import experiments
from .assets import ASSETS_DIR, FREE_RUNS, exp1_checkpoint, model_fields, read_manifest, register
from .checkpoints import load, save, write_atomically
from .training import TrainingDiverged

PRESET = "best"


def build(name: str, seed: int = 0, with_paper: bool = True, progress=None) -> dict:
    """Train, save and register the best-preset models of experiment ``name``; returns the entries."""
    module = experiments.get(name)
    paper = paper_error = None
    if with_paper:
        try:
            paper = module.run("paper", seed=seed, progress=progress)
        except TrainingDiverged as error:  # recorded beside the shipped models, not fatal to them
            paper_error = str(error)
    result = module.run(PRESET, seed=seed, progress=progress)
    entries = {}
    for model_name, model in result.models.items():
        metadata = {"experiment": name, "preset": PRESET, "seed": seed, "model": model_name,
                    "config": dataclasses.asdict(module.PRESETS[PRESET]),
                    "metrics": result.metrics[model_name], "training_wall_time_s": result.wall_time_s[model_name]}
        extra = {"model": model_name}
        if paper_error is not None:
            extra["paper_error"] = paper_error
        if paper is not None:
            extra.update(paper_metrics=paper.metrics[model_name],
                         paper_training_wall_time_s=paper.wall_time_s[model_name])
        entries[model_name] = _ship(model, ASSETS_DIR / f"{name}_{model_name.lower()}.pt", metadata, result.metrics,
                                    extra)
    if name == "exp1":
        write_free_runs(result.models, seed)
    return entries


def reevaluate(name: str) -> dict:
    """Re-evaluate the shipped models of experiment ``name`` under the current ``best`` preset, same
    weights, and re-save them with that config and the new metrics; the manifest keeps each entry's
    training time and ``paper`` metrics. Returns the entries."""
    module = experiments.get(name)
    config = module.PRESETS[PRESET]
    files = read_manifest()["files"]
    shipped = {entry["model"]: entry for entry in files.values() if entry["experiment"] == name}
    models = {model_name: load(ASSETS_DIR / entry["file"]) for model_name, entry in shipped.items()}
    metrics = module.evaluate(models, config, seed=shipped[next(iter(shipped))]["seed"])
    entries = {}
    for model_name, entry in shipped.items():
        path = ASSETS_DIR / entry["file"]
        _, metadata = load(path, with_metadata=True)
        metadata.update(config=dataclasses.asdict(config), metrics=metrics[model_name])
        extra = {key: value for key, value in entry.items()
                 if key not in ("file", "sha256", "experiment", "preset", "seed", "metrics",
                                "training_wall_time_s", "library_version", "oracle_metrics")}
        entries[model_name] = _ship(models[model_name], path, metadata, metrics, extra)
    return entries


def _ship(model, path, metadata: dict, metrics: dict, extra: dict) -> dict:
    """Save ``model`` with ``metadata`` at ``path`` and register it in the manifest; ``metrics`` are the
    experiment's, the oracle's included (exp II: the best any free-running model can do, kept beside)."""
    save(model, path, metadata=metadata)
    extra = {**extra, **model_fields(model, metadata)}
    if "oracle" in metrics:
        extra = {**extra, "oracle_metrics": metrics["oracle"]}
    return register(path, metadata["experiment"], metadata["preset"], metadata["seed"],
                    metrics[metadata["model"]], metadata["training_wall_time_s"], **extra)


def write_free_runs(models: dict, seed: int = 0, cycles: int = 50) -> dict:
    """Save the shipped experiment-I ``models``' free runs over ``cycles`` cycles from the last training
    state (exactly what the dashboard computes, ``lemniscate.free_run`` at the paper's data) and the
    true curve, so that its first page draws without loading torch; registered with the sha256 of
    each model's shipped checkpoint, and ignored once any of them changes."""
    lemniscate = experiments.get("exp1")
    config = dataclasses.replace(lemniscate.PRESETS["paper"], free_run_cycles=cycles)
    arrays = {"truth": lemniscate.true_curve(400).numpy()}
    for model_name, model in models.items():
        # The step each model was trained with, as the dashboard takes it (app.compute.model_dt): its own,
        # or for the LSTM, which has none, its training preset's.
        dt = float(getattr(model, "dt", None) or lemniscate.PRESETS[PRESET].dt)
        run = lemniscate.free_run(model, dataclasses.replace(config, dt=dt))
        arrays[f"{model_name}.q"], arrays[f"{model_name}.v"] = run.q[:, 0].numpy(), run.p[:, 0].numpy()
    return write_derived(FREE_RUNS, arrays, [exp1_checkpoint(m) for m in models], seed, models=list(models),
                         cycles=cycles, steps_per_cycle=config.steps_per_cycle)


def write_derived(name: str, arrays: dict, sources: list, seed: int = 0, **extra) -> dict:
    """Write ``arrays`` (name → NumPy array) as ``assets/<name>`` (.npz, atomically): a dashboard view
    computed from the shipped checkpoints ``sources`` (file names), registered with their sha256 so
    that readers ignore it once any of them changes (``assets._current``); ``extra`` goes to the entry."""
    buffer = io.BytesIO()
    numpy.savez_compressed(buffer, **arrays)
    path = write_atomically(buffer.getvalue(), ASSETS_DIR / name)
    files = read_manifest()["files"]
    return register(path, "dashboard", PRESET, seed, {}, 0.0, sources={f: files[f]["sha256"] for f in sources},
                    **extra)
