"""Small pieces several pages share."""
from __future__ import annotations

import streamlit as st

from . import compute, layout, models


def can_free_run(entry) -> bool:
    """Whether the pages can free-run ``entry``: a paper experiment's model, or a CSV-trained one that
    keeps its start (app.training.csv_start)."""
    return (entry.experiment in ("exp1", "exp2")
            or entry.experiment == "csv" and {"start", "steps"} <= set(entry.metadata))


def _csv_cycle(entry) -> dict:
    """A CSV-trained model's start and cycle (its training trajectory's length) for compute.free_run."""
    return {"start": tuple(entry.metadata["start"]), "steps_per_cycle": entry.metadata["steps"]}


def free_runs(entries: list, experiment: str, cycles: int) -> dict:
    """Label → free run of each model (see :func:`can_free_run`); a model whose run diverges is
    reported, not raised."""
    runs = {}
    for entry in entries:
        try:
            model = models.model(entry)
            runs[entry.label] = compute.free_run(model, entry.digest, experiment, cycles,
                                                 compute.model_dt(model, entry.metadata),
                                                 **(_csv_cycle(entry) if experiment == "csv" else {}))
        except compute.RolloutFailed as error:
            st.warning(f"**{layout.markdown_text(entry.label)}** could not be run: {error}", icon="⚠️")
    return runs


def rollout_player(entries: list, experiment: str, cycles: int, dt: float | None = None) -> tuple:
    """``(runs, figure)``: :func:`free_runs` of ``entries`` and the Rollouts page's figure of those that
    ran (``compute.rollout_player``, cached per models and cycles); the figure is None when none ran.
    CSV-trained models: one at a time, each with its own start and cycle and its step ``dt`` (which the
    page also needs, for its download; a paper experiment's figure uses the experiment's own step)."""
    runs = free_runs(entries, experiment, cycles)
    if not runs:
        return runs, None
    shown = tuple((entry.label, entry.digest) for entry in entries if entry.label in runs)
    if experiment != "csv":
        return runs, compute.rollout_player(runs, shown, experiment, cycles)
    (entry,) = entries
    return runs, compute.rollout_player(runs, shown, experiment, cycles, entry.metadata["steps"], dt,
                                        entry.metadata.get("reference"))
