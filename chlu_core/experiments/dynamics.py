"""What experiments I and II share: preset lookup, the three models, and training them under one
data regime and budget (the CHLU by wake–sleep, LSTM and NODE by their own losses)."""
from __future__ import annotations

import time
from typing import Optional

import torch

from ..baselines import LSTMBaseline, NeuralODEBaseline
from ..potentials import MLPPotential
from ..training import ProgressCallback
from ..training.baselines import train_baseline
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


def train(models: dict, data: torch.Tensor, config: WakeSleepConfig, seed: int = 0,
          progress: Optional[ProgressCallback] = None) -> dict:
    """Train each model in place on ``data`` ``(time, n_traj, 2·dim)``; returns name → seconds.
    Every model is seeded with ``seed`` before its training, so each is reproducible on its own."""
    wall_time = {}
    for name, model in models.items():
        torch.manual_seed(seed)
        start = time.perf_counter()
        trainer = train_chlu if isinstance(model, CHLU) else train_baseline
        trainer(model, data, config, progress=progress, seed=seed, stage=name)
        wall_time[name] = round(time.perf_counter() - start, 2)
    return wall_time
