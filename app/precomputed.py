"""Views of the shipped models computed when the assets were built, used while those models are unchanged:
the overview's free runs (:func:`chlu_core.build_assets.write_free_runs`; loading torch takes 1.5–2 s of a
cold start, and with them the first page draws before it; the Rollouts page's default view reads them too)
and the MNIST page's first dream
(``scripts/build_mnist_assets.py``; 16 chains × 1,000 steps take 2–3 s). Computed live where a file is
missing or stale.
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
    errors = {kind: files[assets.exp1_checkpoint(kind)]["metrics"].get("orbit_error")
              for kind in MODELS if assets.exp1_checkpoint(kind) in files}
    snapshot = _shipped_runs()
    if snapshot is not None and snapshot["cycles"] == cycles:
        runs = {kind: snapshot["runs"][kind] for kind in MODELS if kind in snapshot["runs"]}
        return {**snapshot, "runs": runs, "errors": errors}
    from . import compute, models, widgets  # torch: only where nothing was precomputed
    shipped = {e.kind: e for e in models.entries("exp1") if e.source == "shipped"}
    runs = widgets.free_runs([shipped[k] for k in MODELS if k in shipped], "exp1", cycles)
    return {"runs": runs, "truth": compute.truth("exp1"), "errors": errors,
            "steps_per_cycle": compute.LEMNISCATE["steps_per_cycle"]}


def free_run(digest: str, experiment: str, cycles: int) -> dict | None:
    """The precomputed free run ``{"q", "v"}`` (arrays ``(time, dim)``) of the shipped experiment-I model
    whose checkpoint has sha256 ``digest``, if one was shipped for ``cycles`` cycles; else None."""
    snapshot = _shipped_runs()
    if experiment != "exp1" or snapshot is None or snapshot["cycles"] != cycles:
        return None
    model = next((name for name, shipped in snapshot["digests"].items() if shipped == digest), None)
    return None if model is None else snapshot["runs"][model]


@st.cache_data(show_spinner=False)
def _shipped_dreams() -> dict | None:
    return assets.read_dreams()


def dream(digest: str, settings: dict) -> dict | None:
    """The shipped unit's precomputed dream (as ``mnist.dream`` returns it) if ``digest`` is that unit's
    checkpoint and ``settings`` are the ones it was dreamt with; else None."""
    shipped = _shipped_dreams()
    if shipped is None or shipped["source"] != digest or shipped["settings"] != settings:
        return None
    return {key: shipped[key] for key in ("final", "start", "snapshots", "scores")}
