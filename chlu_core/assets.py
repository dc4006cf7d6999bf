"""The shipped pretrained checkpoints in ``assets/`` and their manifest.

``assets/manifest.json`` lists, per file: sha256, experiment, preset, seed, metrics, training wall
time and library version; per model also what lists it without loading it (:func:`model_fields`).
:func:`register` adds or replaces an entry atomically.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Optional

import numpy

from ._version import __version__

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
MANIFEST = ASSETS_DIR / "manifest.json"
FREE_RUNS = "exp1_free_runs.npz"  # the overview's figure, precomputed (see build_assets.write_free_runs)
DREAMS = "exp3_first_dreams.npz"  # the MNIST page's first dream, precomputed (scripts/build_mnist_assets.py)


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_manifest(manifest: Path = MANIFEST) -> dict:
    """``{"files": {name: entry}}``; empty when there is no manifest yet."""
    if not Path(manifest).exists():
        return {"files": {}}
    return json.loads(Path(manifest).read_text())


def model_fields(model, metadata: dict) -> dict:
    """What the manifest records of a model beyond its numbers, so that a catalogue (the dashboard's
    Models page) can list it without loading it, or torch: its kind, dimension d, parameter count and
    training config (from its checkpoint ``metadata``)."""
    return {"model": metadata["model"], "dim": model.dim, "parameters": sum(w.numel() for w in model.parameters()),
            "config": metadata.get("config", {})}


def register(path: Path, experiment: str, preset: str, seed: int, metrics: dict, wall_time_s: float,
             manifest: Path = MANIFEST, **extra) -> dict:
    """Record the checkpoint at ``path`` (inside the assets folder) in the manifest."""
    path = Path(path)
    entry = {"file": path.name, "sha256": sha256(path), "experiment": experiment, "preset": preset,
             "seed": seed, "metrics": metrics, "training_wall_time_s": round(wall_time_s, 2),
             "library_version": __version__, **extra}
    data = read_manifest(manifest)
    data["files"][path.name] = entry
    fd, tmp = tempfile.mkstemp(dir=Path(manifest).parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
    os.replace(tmp, manifest)
    return entry


def asset_path(name: str) -> Path:
    """Path of a shipped file, checked against its manifest hash."""
    entry = read_manifest()["files"].get(name)
    if entry is None:
        raise FileNotFoundError(f"{name} is not listed in {MANIFEST}")
    path = ASSETS_DIR / name
    if sha256(path) != entry["sha256"]:
        raise ValueError(f"{path} does not match its sha256 in the manifest (corrupted or replaced)")
    return path


def exp1_checkpoint(model: str) -> str:
    """The shipped experiment-I checkpoint's file name of ``model`` (CHLU, LSTM or NODE)."""
    return f"exp1_{model.lower()}.pt"


def read_free_runs(name: str = FREE_RUNS) -> Optional[dict]:
    """Precomputed free runs of shipped models, without torch: ``{"runs": {model: {"q", "v"}},
    "digests": {model: sha256 of its checkpoint}, "truth": (points, 2), "cycles", "steps_per_cycle"}``,
    arrays ``(time, dim)``; ``None`` where the file is not shipped or any model it was computed from has
    changed since (its manifest entry records their sha256)."""
    entry = _current(name)
    if entry is None:
        return None
    with numpy.load(asset_path(name), allow_pickle=False) as arrays:
        runs = {model: {"q": arrays[f"{model}.q"], "v": arrays[f"{model}.v"]} for model in entry["models"]}
        digests = {model: entry["sources"][exp1_checkpoint(model)] for model in entry["models"]}
        return {"runs": runs, "digests": digests, "truth": arrays["truth"], "cycles": entry["cycles"],
                "steps_per_cycle": entry["steps_per_cycle"]}


def read_dreams(name: str = DREAMS) -> Optional[dict]:
    """A shipped unit's precomputed dreams (what ``mnist.dream`` returns: ``final``, ``start`` ``(n, 784)``,
    ``snapshots`` step → ``(n, 784)``, ``scores``) with the ``settings`` they were dreamt with and the
    ``source`` sha256 of the unit's checkpoint; ``None`` where the file is not shipped or the unit changed."""
    entry = _current(name)
    if entry is None:
        return None
    with numpy.load(asset_path(name), allow_pickle=False) as arrays:
        snapshots = {int(key.removeprefix("snapshot.")): arrays[key] for key in arrays.files if key.startswith("snapshot.")}
        return {"final": arrays["final"], "start": arrays["start"], "snapshots": dict(sorted(snapshots.items())),
                "scores": entry["scores"], "settings": entry["settings"], "source": next(iter(entry["sources"].values()))}


def _current(name: str) -> Optional[dict]:
    """The manifest entry of a file computed from shipped checkpoints, or None where it is not listed or
    any checkpoint it was computed from has changed since (the entry's ``sources`` record their sha256)."""
    files = read_manifest()["files"]
    entry = files.get(name)
    if entry is None or any(files.get(f, {}).get("sha256") != sha for f, sha in entry["sources"].items()):
        return None
    return entry
