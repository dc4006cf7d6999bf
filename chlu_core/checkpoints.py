"""One safe file format for every model kind.

A checkpoint is a ``torch.save`` archive of a dict holding only strings and tensors: the model's
kind, its config and metadata as JSON text, and its weights. It is read with
``torch.load(weights_only=True)``, so loading never executes code from the file; it is written to a
temporary file and renamed, so a crash never leaves a half-written checkpoint.
"""
from __future__ import annotations

import io
import json
import os
import secrets
from pathlib import Path
from typing import BinaryIO, Union

import torch
from torch import nn

from .baselines import LSTMBaseline, NeuralODEBaseline
from .classifier import DigitClassifier
from .unit import CHLU

FORMAT = "chlu-checkpoint"
FORMAT_VERSION = 1
MODEL_KINDS = {cls.__name__: cls for cls in (CHLU, LSTMBaseline, NeuralODEBaseline, DigitClassifier)}

Target = Union[str, os.PathLike, BinaryIO]


class CheckpointError(ValueError):
    """A file is not a readable checkpoint of this library: truncated, foreign or incompatible."""


def to_bytes(model: nn.Module, metadata: dict | None = None) -> bytes:
    """The checkpoint of ``model`` as bytes (e.g. for a download button)."""
    kind = type(model).__name__
    if kind not in MODEL_KINDS:
        raise TypeError(f"cannot save a {kind}; checkpoints hold {', '.join(MODEL_KINDS)}")
    from ._version import __version__
    if not isinstance(metadata, (dict, type(None))):
        raise TypeError(f"metadata must be a dict (or None), got {type(metadata).__name__}")
    try:
        metadata_json = json.dumps(metadata or {}, allow_nan=True)
    except TypeError as error:
        raise TypeError(f"metadata must be JSON-serialisable (numbers, strings, lists, dicts): {error}") from None
    if not _finite(model.state_dict()):
        raise ValueError(f"the {kind} holds NaN or infinite weights (a diverged run?); nothing was saved")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "kind": kind,
        "config": json.dumps(model.config()),
        "metadata": metadata_json,
        "state_dict": {name: t.detach().cpu() for name, t in model.state_dict().items()},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def save(model: nn.Module, path: Union[str, os.PathLike], metadata: dict | None = None) -> Path:
    """Write ``model`` (any of MODEL_KINDS) with ``metadata`` to ``path`` atomically."""
    return write_atomically(to_bytes(model, metadata), path)


def write_atomically(data: bytes, path: Union[str, os.PathLike]) -> Path:
    """Write ``data`` to ``path`` so that a reader sees the old file or the whole new one, never a part."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; give a file name to write to")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created like open() would create the file, so the umask sets its permissions (mkstemp's are 0600).
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(source: Target, map_location: Union[str, torch.device] = "cpu", with_metadata: bool = False):
    """Read a checkpoint from a path, bytes or a binary file object.

    Returns the model (in eval mode), or ``(model, metadata)`` when ``with_metadata`` is true.
    Raises :class:`CheckpointError` naming the problem if the file is not a valid checkpoint.
    """
    name = str(source) if isinstance(source, (str, os.PathLike)) else "the file"
    try:
        torch.device(map_location)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"map_location must name a device such as 'cpu': {error}") from None
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    try:
        payload = torch.load(source, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:
        raise CheckpointError(
            f"{name} is not a readable checkpoint (truncated, corrupted or not a torch archive "
            f"of plain tensors): {type(error).__name__}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{name} is a torch file but not a {FORMAT} (no format marker)")
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{name} has checkpoint format version {version!r}; this library reads up to {FORMAT_VERSION}")
    kind = payload.get("kind")
    if kind not in MODEL_KINDS:
        raise CheckpointError(f"{name} holds an unknown model kind {kind!r}")
    try:
        config = json.loads(payload["config"])
        metadata = json.loads(payload["metadata"])
        if not isinstance(metadata, dict):
            raise ValueError(f"its metadata is a {type(metadata).__name__}, not a JSON object")
        # The config is checked against the weights on the meta device first (no memory), so a
        # small file whose config asks for a huge model fails here instead of filling the memory.
        with torch.device("meta"):
            skeleton = MODEL_KINDS[kind].from_config(config)
        _check_shapes(skeleton.state_dict(), payload["state_dict"])
        model = MODEL_KINDS[kind].from_config(config)
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{name} does not match a {kind} of this library version: {error}") from None
    if not _finite(model.state_dict()):
        raise CheckpointError(f"{name} holds NaN or infinite weights (saved from a diverged run?)")
    model.to(map_location).eval()
    if with_metadata:
        return model, metadata
    return model


def _check_shapes(expected: dict, found) -> None:
    """Raise ValueError unless the state dict ``found`` has exactly the tensors and shapes of ``expected``."""
    if not isinstance(found, dict) or not all(isinstance(t, torch.Tensor) for t in found.values()):
        raise ValueError("its state_dict is not a dict of tensors")
    if set(found) != set(expected):
        missing, unexpected = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
        raise ValueError(f"its weights do not match its config (missing {missing}, unexpected {unexpected})")
    for key, tensor in expected.items():
        if found[key].shape != tensor.shape:
            raise ValueError(f"weight {key} has shape {tuple(found[key].shape)}, its config needs {tuple(tensor.shape)}")


def _finite(state_dict: dict) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in state_dict.values() if t.is_floating_point())
