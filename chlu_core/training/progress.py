"""One training loop shape for every trainer: progress callbacks, early stop, divergence guard.

A trainer supplies ``step(iteration) -> dict[str, float]`` (one optimiser step, returning its losses);
:func:`train_loop` calls it, reports :class:`Progress` after each iteration, stops when the callback
returns ``False``, and on a NaN/inf loss or weights restores the last good weights and raises
:class:`TrainingDiverged` with a clear message.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
from torch import nn


@dataclass(frozen=True)
class Progress:
    """What a trainer reports after each iteration (``iteration`` counts from 1)."""

    iteration: int
    total: int
    losses: dict
    elapsed: float  # seconds since training started
    stage: str = ""  # which model or phase is training, e.g. "CHLU" or "LSTM"


ProgressCallback = Callable[[Progress], Optional[bool]]  # return False to stop early


class TrainingDiverged(RuntimeError):
    """Training produced a non-finite loss or weights; the model holds its last good weights."""

    def __init__(self, message: str, iteration: int):
        super().__init__(message)
        self.iteration = iteration


@dataclass
class TrainingLog:
    """Loss history and outcome of a run: ``history[name]`` is one float per completed iteration."""

    history: dict = field(default_factory=dict)
    iterations: int = 0
    elapsed: float = 0.0
    stopped_early: bool = False

    def followed_by(self, later: "TrainingLog") -> "TrainingLog":
        """This run and a ``later`` stage as one log; a loss that only one stage reports keeps its own length."""
        names = {**self.history, **later.history}
        return TrainingLog({name: self.history.get(name, []) + later.history.get(name, []) for name in names},
                           self.iterations + later.iterations, self.elapsed + later.elapsed, later.stopped_early)


def _finite_model(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(w).all()) for w in model.parameters())


def train_loop(model: nn.Module, step: Callable[[int], dict], iterations: int,
               progress: Optional[ProgressCallback] = None, checkpoint_every: int = 10,
               stage: str = "") -> TrainingLog:
    """Run ``step(i)`` for i = 0 … iterations − 1 with progress reports and a divergence guard.

    Every ``checkpoint_every`` iterations the weights are copied before the step (a copy costs little for
    these small models) and kept as the last good ones once that step's loss on them came out finite; a
    diverging run restores them. (A copy taken after a step would hold weights no loss has yet checked:
    the update that makes the next loss infinite.)
    """
    log = TrainingLog()
    good_state, good_iteration = copy.deepcopy(model.state_dict()), 0
    start = time.perf_counter()
    for i in range(iterations):
        candidate = copy.deepcopy(model.state_dict()) if i % checkpoint_every == 0 and i > 0 else None
        try:
            losses = {name: float(value) for name, value in step(i).items()}
        except Exception as error:  # a DivergenceError inside a rollout, or similar numerical failure
            if isinstance(error, (ValueError, RuntimeError)) and "diverged" in str(error):
                losses = {"loss": math.nan}
            else:
                raise
        finite_losses = all(math.isfinite(v) for v in losses.values())
        if finite_losses and candidate is not None:  # the step's losses were computed on these weights
            good_state, good_iteration = candidate, i
        if not finite_losses or not _finite_model(model):
            model.load_state_dict(good_state)
            raise TrainingDiverged(
                f"training diverged at iteration {i + 1} (loss {losses}); the model keeps its weights from "
                f"iteration {good_iteration}. Lower the learning rate or dt, or raise the confinement alpha.",
                iteration=i + 1)
        for name, value in losses.items():
            log.history.setdefault(name, []).append(value)
        log.iterations = i + 1
        log.elapsed = time.perf_counter() - start
        if progress is not None and progress(Progress(i + 1, iterations, losses, log.elapsed, stage)) is False:
            log.stopped_early = True
            break
    return log


def keeping_diverged(train: Callable[[], TrainingLog]) -> tuple[TrainingLog, dict, Optional[str]]:
    """Run ``train`` (a trainer call) so that a divergence ends it without raising, the model holding its
    last good weights (:func:`train_loop`): ``(log, notes, message)`` with the log (empty after a
    divergence), notes for the model's metrics (``stopped_early``, and ``diverged_at_iteration`` where it
    diverged) and the divergence's message, or None."""
    try:
        log = train()
    except TrainingDiverged as error:
        return TrainingLog(stopped_early=True), {"stopped_early": True, "diverged_at_iteration": error.iteration}, \
            str(error)
    return log, {"stopped_early": log.stopped_early}, None
