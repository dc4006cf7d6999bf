"""Cached computations for the pages: thin wrappers over chlu_core with ``st.cache_data``.

Cached functions take the model as ``_model`` (not hashed) and its checkpoint ``digest`` (hashed), so
shipped and uploaded models share one cache without hashing weights; results are NumPy arrays.
"""
from __future__ import annotations

import numpy
import streamlit as st
import torch
from torch import nn

from chlu_core import CHLU, DivergenceError
from chlu_core.data import lemniscate_trajectory

LEMNISCATE = dict(steps_per_cycle=125, dt=0.05, training_cycles=3)
SINE = dict(steps_per_cycle=20, dt=0.05)  # x = sin(2πt + φ): one cycle per time unit


class RolloutFailed(ValueError):
    """A free run left the finite numbers; the message says which model and what to change."""


@torch.no_grad()
def observed_rollout(model: nn.Module, q0: torch.Tensor, v0: torch.Tensor, steps: int) -> dict:
    """Free-run any model from observed positions and velocities ``(batch, dim)``.

    Returns ``q``, ``v`` ``(time, batch, dim)`` and, for a CHLU, its momenta ``p`` and energy ``H``
    ``(time, batch)``. The CHLU starts from the momentum whose velocity is ``v0``.
    """
    if isinstance(model, CHLU):
        p0 = model.kinetic.momentum(v0)
        trajectory = model.rollout(q0, p0, steps)
        time_steps, batch, dim = trajectory.p.shape
        velocity = model.velocity(trajectory.p.reshape(-1, dim)).reshape(time_steps, batch, dim)
        energy = model.hamiltonian(trajectory.q.reshape(-1, dim), trajectory.p.reshape(-1, dim))
        return {"q": trajectory.q.numpy(), "v": velocity.numpy(), "p": trajectory.p.numpy(),
                "H": energy.reshape(time_steps, batch).numpy()}
    trajectory = model.rollout(q0, v0, steps)
    return {"q": trajectory.q.numpy(), "v": trajectory.p.numpy()}


def lemniscate_truth(points: int = 400) -> numpy.ndarray:
    """One cycle of the true curve ``(points, 2)``, closed."""
    states = lemniscate_trajectory(cycles=1, steps_per_cycle=points - 1, dt=LEMNISCATE["dt"])
    return numpy.concatenate([states[:, :2].numpy(), states[:1, :2].numpy()])


def lemniscate_start() -> tuple[torch.Tensor, torch.Tensor]:
    """The last training state of experiment I: (q0, v0), each ``(1, 2)``."""
    states = lemniscate_trajectory(cycles=LEMNISCATE["training_cycles"],
                                   steps_per_cycle=LEMNISCATE["steps_per_cycle"], dt=LEMNISCATE["dt"])
    return states[-1:, :2], states[-1:, 2:]


@st.cache_data(max_entries=64, show_spinner="Free-running the model …")
def free_run(_model: nn.Module, digest: str, experiment: str, cycles: int) -> dict:
    """A model's free run for ``cycles`` cycles of ``experiment`` from its standard start, batch 1:
    arrays ``q``, ``v`` ``(time, dim)`` (and ``p``, ``H`` for a CHLU). Raises :class:`RolloutFailed`."""
    if experiment == "exp1":
        q0, v0 = lemniscate_start()
        steps = cycles * LEMNISCATE["steps_per_cycle"]
    else:
        q0, v0 = torch.zeros(1, 1), torch.full((1, 1), 2 * numpy.pi)  # sin(2πt) at t = 0
        steps = cycles * SINE["steps_per_cycle"]
    dtype = next(_model.parameters()).dtype
    try:
        run = observed_rollout(_model, q0.to(dtype), v0.to(dtype), steps)
    except DivergenceError as error:
        raise RolloutFailed(str(error)) from None
    except ValueError as error:  # e.g. a start velocity above the speed limit c of a relativistic CHLU
        raise RolloutFailed(f"this model cannot start from the experiment's initial state: {error}") from None
    return {name: values[:, 0] for name, values in run.items()}


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
