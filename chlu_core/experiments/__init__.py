"""The paper's three experiments. Each module exposes ``PRESETS`` ("paper", "best", "quick"),
``run(preset, seed, progress) -> ExperimentResult`` and is looked up here by name."""
from __future__ import annotations

import importlib

EXPERIMENTS = {
    "exp1": "chlu_core.experiments.lemniscate",
    "exp2": "chlu_core.experiments.sine_waves",
    "exp3": "chlu_core.experiments.mnist",
}


def get(name: str):
    """The experiment module registered as ``name`` (``exp1``, ``exp2`` or ``exp3``)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    return importlib.import_module(EXPERIMENTS[name])
