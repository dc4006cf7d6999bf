"""Small pieces several pages share."""
from __future__ import annotations

import streamlit as st

from . import compute, layout, models


def free_runs(entries: list, experiment: str, cycles: int) -> dict:
    """Label → free run of each model; a model whose run diverges is reported, not raised."""
    runs = {}
    for entry in entries:
        try:
            model = models.model(entry)
            runs[entry.label] = compute.free_run(model, entry.digest, experiment, cycles,
                                                 compute.model_dt(model, entry.metadata))
        except compute.RolloutFailed as error:
            st.warning(f"**{layout.markdown_text(entry.label)}** could not be run: {error}", icon="⚠️")
    return runs


def rollout_player(entries: list, experiment: str, cycles: int) -> tuple:
    """``(runs, figure)``: :func:`free_runs` of ``entries`` and the Rollouts page's figure of those that
    ran (``compute.rollout_player``, cached per models and cycles); the figure is None when none ran."""
    runs = free_runs(entries, experiment, cycles)
    if not runs:
        return runs, None
    shown = tuple((entry.label, entry.digest) for entry in entries if entry.label in runs)
    return runs, compute.rollout_player(runs, shown, experiment, cycles)
