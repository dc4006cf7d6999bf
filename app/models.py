"""The models the dashboard shows: the shipped checkpoints (loaded once per server, shared, read-only)
and each session's own (trained on the Train page or uploaded), kept in that session only.

The shipped models are listed from the manifest and their weights loaded on first use, so that a page
that only lists them (Models) draws without torch, which takes 2 s to import.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import streamlit as st

import chlu_core
from chlu_core import assets

from . import state

if TYPE_CHECKING:
    from torch import nn

KINDS = {"CHLU": "CHLU", "LSTMBaseline": "LSTM", "NeuralODEBaseline": "NODE"}
PAPER_ORDER = ("LSTM", "NODE", "CHLU")  # the paper's panels, left to right
EXPERIMENTS = {"exp1": "Lemniscate (I)", "exp2": "Sine waves (II)", "exp3": "MNIST (III)",
               "csv": "Your CSV data", "custom": "Other"}
DIM_EXPERIMENT = {2: "exp1", 1: "exp2", 784: "exp3"}  # for uploads whose metadata names no experiment
EXPERIMENT_DIM = {experiment: dim for dim, experiment in DIM_EXPERIMENT.items()}
MAX_UPLOAD_MB = 20  # the same as server.maxUploadSize in .streamlit/config.toml
MAX_CSV_STEPS = 100_000  # a CSV trajectory's length that the Rollouts page will free-run many times over


@dataclass(frozen=True)
class ModelEntry:
    """What the pages need to know about one model; ``key`` is unique, ``digest`` keys the caches."""

    key: str
    label: str
    kind: str  # CHLU, LSTM or NODE
    experiment: str  # exp1, exp2, exp3, csv or custom
    source: str  # "shipped" or "yours"
    digest: str
    dim: int
    parameters: int
    file: str = ""  # the shipped checkpoint's file name in assets/
    metrics: dict = field(default_factory=dict, hash=False, compare=False)
    metadata: dict = field(default_factory=dict, hash=False, compare=False)
    ignored: tuple = field(default=(), hash=False, compare=False)  # metadata fields of an upload we could not use


def _trusted(model: nn.Module, metadata: dict) -> tuple[dict, tuple]:
    """An uploaded checkpoint's metadata with the fields the pages read made safe, and the names of those
    dropped: an ``experiment`` whose models have another dimension than ``model`` (the pages would feed it
    states of the wrong size; the dimension decides instead), ``metrics`` that are not a table of numbers,
    a ``config`` the pages cannot run by (:func:`_is_config`), a ``preset`` that is not a name, and a
    CSV-trained model's ``start``, ``steps`` or ``reference`` that are not what it would keep."""
    trusted, ignored = dict(metadata), []
    named = trusted.get("experiment")
    if named is not None and not (named in ("csv", "custom") or isinstance(named, str)
                                  and EXPERIMENT_DIM.get(named) == model.dim):
        ignored.append("experiment")
        named = None
    trusted["experiment"] = named or DIM_EXPERIMENT.get(model.dim, "custom")
    checks = {"metrics": _is_metrics_table, "config": _is_config, "preset": lambda v: isinstance(v, str),
              # a CSV-trained model's free run (app.training.csv_start)
              "start": lambda v: _is_numbers(v, 2 * model.dim), "steps": lambda v: _is_count(v, 1, MAX_CSV_STEPS),
              "reference": lambda v: isinstance(v, list) and len(v) <= 5000 and all(_is_numbers(r, 2) for r in v)}
    for name, check in checks.items():
        if name in trusted and not check(trusted[name]):
            ignored.append(name)
            del trusted[name]
    return trusted, tuple(ignored)


def _is_count(value, least: int, most: int) -> bool:
    """An int (not a bool) in [``least``, ``most``]."""
    return isinstance(value, int) and not isinstance(value, bool) and least <= value <= most


def _is_numbers(values, length: int) -> bool:
    """A list of ``length`` finite numbers."""
    return (isinstance(values, list) and len(values) == length
            and all(_is_number(v) and math.isfinite(v) for v in values))


def _is_number(value) -> bool:
    """A float (NaN and infinities included: a diverged model's metrics hold them) or an int that fits in
    64 bits (a table's column type), not a bool."""
    return isinstance(value, float) or isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63


def _is_config(config) -> bool:
    """A training config the pages can use: a dict whose step ``dt`` (an LSTM's only record of it) is a
    plausible time step and whose ``clip_every`` (the MNIST sampler's) is None or a count ≥ 1."""
    if not isinstance(config, dict):
        return False
    dt, clip_every = config.get("dt", 0.05), config.get("clip_every")
    return _is_number(dt) and 1e-6 <= dt <= 1e3 and (clip_every is None or _is_count(clip_every, 1, 2**63 - 1))


def _is_metrics_table(metrics) -> bool:
    """A dict of numbers, lists of numbers (per σ, with ``sigmas`` a list of numbers) or dicts of numbers."""
    if not isinstance(metrics, dict) or not isinstance(metrics.get("sigmas", []), list):
        return False

    def numbers(value):
        return (_is_number(value) or value is None or isinstance(value, bool)
                or isinstance(value, list) and all(_is_number(v) or v is None for v in value))
    return all(numbers(v) or isinstance(v, dict) and all(numbers(w) for w in v.values()) for v in metrics.values())


def _entry(key: str, label: str, source: str, digest: str, described: dict, metadata: dict,
           file: str = "", ignored: tuple = ()) -> ModelEntry:
    """An entry from a model's description as the manifest records it (``assets.model_fields`` plus
    experiment and metrics): read from the manifest for a shipped model, from the model for yours."""
    return ModelEntry(key=key, label=label, kind=described["model"], experiment=described["experiment"],
                      source=source, digest=digest, dim=described["dim"], parameters=described["parameters"],
                      file=file, metrics=described.get("metrics", {}), metadata=metadata, ignored=ignored)


def _load(checkpoint) -> tuple[nn.Module, dict]:
    """(model, metadata) of a checkpoint (a path or bytes), with torch set up for the dashboard."""
    import torch
    # The models are tiny: a second intra-op thread only adds synchronisation, and on a busy or shared CPU
    # it made rollouts 20–100× slower (an LSTM free run: 0.07 s on one thread, 12 s on two). Concurrent
    # sessions get their parallelism from Streamlit's threads instead. Set here because every model a page
    # runs is loaded here first (the training jobs set it themselves, app.training).
    torch.set_num_threads(1)
    return chlu_core.load(checkpoint, with_metadata=True)


# --- shipped ----------------------------------------------------------------------------------------
@st.cache_data(show_spinner=False)
def manifest() -> dict:
    return assets.read_manifest()


@st.cache_resource(show_spinner="Loading the pretrained model …")
def _shipped(file: str) -> nn.Module:
    """A shipped model, its weights frozen: every session shares this object and none may change it."""
    model, _ = _load(assets.asset_path(file))
    for weight in model.parameters():
        weight.requires_grad_(False)
    return model


def shipped_entries() -> list[ModelEntry]:
    """The shipped CHLU, LSTM and NODE models, as their manifest entries describe them (the MNIST
    classifier, which the MNIST page loads itself, and the precomputed views are not models to show)."""
    entries = []
    for file, info in sorted(manifest()["files"].items()):
        if info.get("model") not in PAPER_ORDER:
            continue
        metadata = {k: info[k] for k in ("experiment", "preset", "seed", "model", "config", "metrics",
                                         "training_wall_time_s", "oracle_metrics") if k in info}
        entries.append(_entry(file.removesuffix(".pt"), info["model"], "shipped", info["sha256"], info, metadata,
                              file=file))
    return entries


# --- the session's own ----------------------------------------------------------------------------
def add_checkpoint(data: bytes, label: str) -> ModelEntry:
    """Load a checkpoint the user uploaded or trained into this session's models.

    Raises ``chlu_core.CheckpointError`` (or ``ValueError`` for an oversized file) and then changes
    nothing.
    """
    if len(data) > MAX_UPLOAD_MB * 2**20:
        raise ValueError(f"the file is {len(data) / 2**20:.1f} MB; checkpoints are limited to {MAX_UPLOAD_MB} MB")
    model, metadata = _load(bytes(data))
    if type(model).__name__ not in KINDS:
        raise chlu_core.CheckpointError(f"the file holds a {type(model).__name__}, not a CHLU, LSTM or Neural ODE")
    digest = hashlib.sha256(data).hexdigest()
    key = f"yours-{digest[:10]}"
    if key in state.user_models():  # the same file again
        return state.user_models()[key][0]
    kind = KINDS[type(model).__name__]
    if not label.upper().startswith(kind.upper()):  # the figures colour a model by its label's first word
        label = f"{kind} · {label}"
    taken, unique, n = {e.label for e in entries()}, label, 2
    while unique in taken:  # labels name the curves on every page, so they must differ
        unique, n = f"{label} ({n})", n + 1
    metadata, ignored = _trusted(model, metadata)
    described = {**assets.model_fields(model, {**metadata, "model": kind}),
                 "experiment": metadata["experiment"], "metrics": metadata.get("metrics", {})}
    entry = _entry(key, unique, "yours", digest, described, metadata, ignored=ignored)
    state.user_models()[entry.key] = (entry, model, bytes(data))
    return entry


def add_trained(model: nn.Module, metadata: dict, label: str) -> ModelEntry:
    return add_checkpoint(chlu_core.to_bytes(model, metadata), label)


def remove(key: str) -> None:
    state.user_models().pop(key, None)


# --- lookup -----------------------------------------------------------------------------------------
def entries(experiment: str | None = None) -> list[ModelEntry]:
    """Shipped then the session's own models, optionally those of one experiment."""
    every = shipped_entries() + [entry for entry, _, _ in state.user_models().values()]
    every.sort(key=lambda e: (e.source != "shipped", list(EXPERIMENTS).index(e.experiment), PAPER_ORDER.index(e.kind)))
    return [e for e in every if experiment is None or e.experiment == experiment]


def by_key(key: str) -> ModelEntry | None:
    return next((e for e in entries() if e.key == key), None)


def model(entry: ModelEntry) -> nn.Module:
    if entry.source == "shipped":
        return _shipped(entry.file)
    return state.user_models()[entry.key][1]


def checkpoint(entry: ModelEntry) -> bytes:
    if entry.source == "shipped":
        return assets.asset_path(entry.file).read_bytes()
    return state.user_models()[entry.key][2]


def compared(experiment: str) -> list[ModelEntry]:
    """The models of ``experiment`` the user chose to compare; by default the shipped ones."""
    available = entries(experiment)
    default = [e.key for e in available if e.source == "shipped"]
    chosen = state.comparison(default)
    picked = [e for e in available if e.key in chosen]
    return picked or [e for e in available if e.key in default]


# The numbers each experiment is judged by (the targets), shown first; the rest follow as recorded.
HEADLINE_FIRST = ("orbit_error", "max_distance", "energy_rel_fluctuation", "mse at σ=0.5", "frequency at σ=0.5",
                  "max_speed_fd at σ=0.5", "samples mean_confidence", "samples classes", "samples entropy_bits",
                  "samples mean_pixel", "samples mean_ink_pieces")


def headline_metrics(entry: ModelEntry) -> dict:
    """The entry's metrics as one flat row of numbers: scalars as they are, per-σ lists (experiment II)
    at σ = 0.5, one level of nesting (experiment III: samples, start, control) joined by a space."""
    metrics = entry.metrics
    sigmas = metrics.get("sigmas", [])
    row = {}
    for name, value in metrics.items():
        if isinstance(value, bool) or name == "sigmas":
            continue
        if isinstance(value, (int, float)):
            row[name] = value
        elif isinstance(value, list) and len(value) == len(sigmas) and 0.5 in sigmas:
            row[f"{name} at σ=0.5"] = value[sigmas.index(0.5)]
        elif isinstance(value, dict):
            row.update({f"{name} {inner}": number for inner, number in value.items()
                        if isinstance(number, (int, float)) and not isinstance(number, bool)})
    return row


def metrics_table(entries: list[ModelEntry]) -> dict[str, list]:
    """The Models page's table of ``entries`` side by side: field → one value per entry, in order ``model``
    (the labels), source, preset, dimension d, parameters, then the metrics (:func:`headline_metrics`),
    the headline ones first (``HEADLINE_FIRST``), the rest as recorded; None where an entry lacks one."""
    table = {"model": [e.label for e in entries], "source": [e.source for e in entries],
             "preset": [e.metadata.get("preset") for e in entries], "dimension d": [e.dim for e in entries],
             "parameters": [e.parameters for e in entries]}
    metrics = [headline_metrics(entry) for entry in entries]
    recorded = [name for name in dict.fromkeys(name for row in metrics for name in row)
                if name not in table]  # an upload's metric named like a field must not replace it
    first = [name for name in HEADLINE_FIRST if name in recorded]
    table.update({name: [row.get(name) for row in metrics]
                  for name in first + [name for name in recorded if name not in first]})
    return table
