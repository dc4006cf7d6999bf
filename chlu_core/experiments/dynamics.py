"""What experiments I and II share: preset lookup, the three models, and training them under one
data regime and budget (the CHLU by wake–sleep, LSTM and NODE by their own losses)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import torch

from ..baselines import LSTMBaseline, NeuralODEBaseline
from ..potentials import MLPPotential
from ..training import ProgressCallback
from ..training.baselines import train_baseline
from ..training.progress import keeping_diverged
from ..training.wake_sleep import WakeSleepConfig, train_chlu
from ..unit import CHLU

MODELS = ("CHLU", "LSTM", "NODE")


def resolve(presets: dict, preset) -> tuple:
    """(name, config) of a preset name, or ("custom", preset) for a ready config."""
    if isinstance(preset, WakeSleepConfig):
        return "custom", preset
    if preset not in presets:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(presets)}")
    return preset, presets[preset]


def make_models(dim: int, config, models=MODELS) -> dict:
    """Untrained models named in ``models``; ``config`` supplies hidden, kinetic, c, m0, alpha, dt."""
    unknown = set(models) - set(MODELS)
    if unknown:
        raise ValueError(f"unknown models {sorted(unknown)}; choose from {', '.join(MODELS)}")
    builders = {
        "CHLU": lambda: CHLU(dim, MLPPotential(dim, hidden=config.hidden), kinetic=config.kinetic, c=config.c,
                             m0=config.m0, alpha=config.alpha, dt=config.dt),
        "LSTM": lambda: LSTMBaseline(dim, hidden=config.hidden),
        "NODE": lambda: NeuralODEBaseline(dim, hidden=config.hidden, dt=config.dt),
    }
    return {name: builders[name]() for name in MODELS if name in models}


@dataclass
class Training:
    """How :func:`train` went: seconds per model; per model, notes for its metrics (``stopped_early``, and
    ``diverged_at_iteration`` where its training diverged); and a message for people per divergence."""

    wall_time_s: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)

    def noted(self, metrics: dict) -> dict:
        """``metrics`` (model name → its metrics) with each trained model's notes added, in place."""
        for name, notes in self.notes.items():
            metrics[name].update(notes)
        return metrics


def train(models: dict, data: torch.Tensor, config: WakeSleepConfig, seed: int = 0,
          progress: Optional[ProgressCallback] = None) -> Training:
    """Train each model in place on ``data`` ``(time, n_traj, 2·dim)``. Every model is seeded with ``seed``
    before its training, so each is reproducible on its own. A model whose training diverges keeps its
    last good weights, and the others still train: a run never loses what it has trained."""
    outcome = Training()
    for name, model in models.items():
        torch.manual_seed(seed)
        start = time.perf_counter()
        trainer = train_chlu if isinstance(model, CHLU) else train_baseline
        _, outcome.notes[name], message = keeping_diverged(
            lambda: trainer(model, data, config, progress=progress, seed=seed, stage=name))
        if message is not None:
            outcome.messages.append(f"{name}: {message}")
        outcome.wall_time_s[name] = round(time.perf_counter() - start, 2)
    return outcome
