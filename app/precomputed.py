"""The overview's free runs without torch: precomputed when the assets were built
(:func:`chlu_core.build_assets.write_free_runs`), computed live where that file is missing or stale.

Loading torch takes 1.5 s of a cold start; with the precomputed runs the first page draws before it.
"""
from __future__ import annotations

import streamlit as st

from chlu_core import assets

MODELS = ("LSTM", "NODE", "CHLU")  # the paper's order


@st.cache_data(show_spinner=False)
def _shipped_runs() -> dict | None:
    return assets.read_free_runs()


def lemniscate_runs(cycles: int) -> dict:
    """The shipped experiment-I models' free runs over ``cycles`` cycles: ``runs`` (label → {"q", "v"}
    ``(time, 2)``), the true curve ``truth`` ``(points, 2)``, ``steps_per_cycle``, and ``errors``
    (label → recorded orbit_error)."""
    files = assets.read_manifest()["files"]
    errors = {kind: files[f"exp1_{kind.lower()}.pt"]["metrics"].get("orbit_error")
              for kind in MODELS if f"exp1_{kind.lower()}.pt" in files}
    snapshot = _shipped_runs()
    if snapshot is not None and snapshot["cycles"] == cycles:
        runs = {kind: snapshot["runs"][kind] for kind in MODELS if kind in snapshot["runs"]}
        return {**snapshot, "runs": runs, "errors": errors}
    from . import compute, models, widgets  # torch: only where nothing was precomputed
    shipped = {e.kind: e for e in models.entries("exp1") if e.source == "shipped"}
    runs = widgets.free_runs([shipped[k] for k in MODELS if k in shipped], "exp1", cycles)
    return {"runs": runs, "truth": compute.truth("exp1"), "errors": errors,
            "steps_per_cycle": compute.LEMNISCATE["steps_per_cycle"]}
