"""Trainers for the LSTM and Neural-ODE baselines, with the same data regime as the CHLU's
wake phase (random windows or all windows, the same window-length curriculum)."""
from __future__ import annotations

from typing import Optional, Union

import torch

from ..baselines import LSTMBaseline, NeuralODEBaseline
from ..data import WindowSampler
from .progress import ProgressCallback, TrainingLog, train_loop
from .wake_sleep import WakeSleepConfig, make_optimizer


def train_baseline(model: Union[LSTMBaseline, NeuralODEBaseline], trajectories: torch.Tensor,
                   config: WakeSleepConfig = WakeSleepConfig(), progress: Optional[ProgressCallback] = None,
                   seed: int = 0, stage: str = "") -> TrainingLog:
    """Train an LSTM (teacher-forced next step) or NODE (solution over the window) in place on
    observed states ``trajectories`` ``(time, n_traj, 2·dim)``.

    Uses the CHLU's data regime and budget from ``config`` (iterations, lr, window curriculum,
    windows per iteration, gradient clipping); the wake–sleep-only fields are ignored.
    """
    optimizer, schedule = make_optimizer(model, config)
    windows = WindowSampler(trajectories, config.window_lengths, config.iterations,
                            config.windows_per_iteration, torch.Generator().manual_seed(seed), config.window_stride)

    def step(iteration: int) -> dict:
        window = windows(iteration)
        optimizer.zero_grad()
        loss = model.training_loss(window)
        loss.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        schedule.step()
        return {"loss": loss.item()}

    model.train()
    log = train_loop(model, step, config.iterations, progress=progress, stage=stage or type(model).__name__)
    model.eval()
    return log
