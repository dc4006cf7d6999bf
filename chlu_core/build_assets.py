"""Regenerate the shipped checkpoints of experiments I and II (``python -m chlu_core build-assets``).

Trains the ``best`` preset, writes ``assets/<experiment>_<model>.pt`` and registers each file in
``assets/manifest.json`` with its metrics and training time, and the ``paper`` preset's metrics and
training time beside them (``paper_metrics``, ``paper_training_wall_time_s``) for comparison.
"""
from __future__ import annotations

import dataclasses

from . import experiments
from .assets import ASSETS_DIR, register
from .checkpoints import save
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
        path = ASSETS_DIR / f"{name}_{model_name.lower()}.pt"
        metadata = {"experiment": name, "preset": PRESET, "seed": seed, "model": model_name,
                    "config": dataclasses.asdict(module.PRESETS[PRESET]),
                    "metrics": result.metrics[model_name], "training_wall_time_s": result.wall_time_s[model_name]}
        save(model, path, metadata=metadata)
        extra = {"model": model_name}
        if "oracle" in result.metrics:  # exp II: the best any free-running model can do, for comparison
            extra["oracle_metrics"] = result.metrics["oracle"]
        if paper_error is not None:
            extra["paper_error"] = paper_error
        if paper is not None:
            extra.update(paper_metrics=paper.metrics[model_name],
                         paper_training_wall_time_s=paper.wall_time_s[model_name])
        entries[model_name] = register(path, name, PRESET, seed, result.metrics[model_name],
                                       result.wall_time_s[model_name], **extra)
    return entries
