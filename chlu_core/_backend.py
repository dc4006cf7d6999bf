"""Array backends for graph-free inference, and the checks of plain numbers that every module shares.

Inference rollouts of small models are dominated by per-operation overhead, which is about four times
lower in NumPy than in PyTorch on a CPU. Formulas that serve both are written once against an array
namespace ``xp`` (``torch`` or ``numpy``) using only operators and ``xp.tanh/sqrt/clip/sum``.
"""
from __future__ import annotations

import contextlib
import ctypes
import numbers
import os

import numpy
import torch


def is_real(value) -> bool:
    """Whether ``value`` is a real number, Python's or NumPy's; a bool is not (True would pass for 1)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_count(name: str, value, minimum: int) -> int:
    """``value`` as a plain int; ``ValueError`` unless it is an integer (Python's or NumPy's, not a bool)
    ≥ ``minimum``."""
    if not (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= minimum):
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return int(value)


def freeze(tensor: torch.Tensor, xp):
    """A detached copy of ``tensor`` as an array of the namespace ``xp``."""
    tensor = tensor.detach()
    return tensor.cpu().numpy() if xp is numpy else tensor


@contextlib.contextmanager
def numpy_threads_like_torch():
    """Inside, NumPy's BLAS uses as many threads as torch (``torch.set_num_threads``).

    OpenBLAS otherwise runs a product as large as (360, 64) × (64, 64) on every core; on a CPU that
    other work shares, that is several times slower than one thread. A no-op where NumPy's BLAS is not
    an OpenBLAS whose thread count can be set.
    """
    threads = _openblas_threads()
    if threads is None:
        yield
        return
    get_threads, set_threads = threads
    before = get_threads()
    set_threads(torch.get_num_threads())
    try:
        yield
    finally:
        set_threads(before)


_OPENBLAS_SYMBOLS = [(f"{prefix}_get_num_threads{suffix}", f"{prefix}_set_num_threads{suffix}")
                     for prefix in ("scipy_openblas", "openblas") for suffix in ("64_", "")]
_openblas_api: list = []  # found once: [] before the search, [None] or [(get, set)] after


def _openblas_threads():
    """``(get, set)`` thread-count functions of the OpenBLAS loaded by NumPy, or None."""
    if not _openblas_api:
        _openblas_api.append(_find_openblas_threads())
    return _openblas_api[0]


def _find_openblas_threads():
    try:  # the shared libraries this process has loaded (Linux)
        with open(f"/proc/{os.getpid()}/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.rsplit("/", 1)[-1]})
    except OSError:
        return None
    for path in paths:
        library = ctypes.CDLL(path)
        for get_name, set_name in _OPENBLAS_SYMBOLS:
            if hasattr(library, get_name) and hasattr(library, set_name):
                return getattr(library, get_name), getattr(library, set_name)
    return None
