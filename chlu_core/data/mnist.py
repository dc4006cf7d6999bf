"""MNIST for experiment III, read through torchvision from a configurable folder.

The folder is ``root`` if given, else ``$CHLU_DATA_DIR``, else ``~/.cache/chlu_core/data`` (or under
``$XDG_CACHE_HOME``). torchvision's layout is used: ``<root>/MNIST/raw/*-ubyte``. Where the files are
missing, torchvision downloads them if ``download`` is true and there is internet; otherwise a
:class:`MissingData` (a ``ValueError``) says where to put them.

Images come back as float tensors ``(n, 784)`` with pixels scaled from 0…255 to [−1, 1] (the CHLU's
positions q), labels as int64 ``(n,)``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import torch

RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
SIDE = 28
DIM = SIDE * SIDE


class MissingData(ValueError):
    """MNIST's files are not where they are looked for (and could not be downloaded)."""


def data_dir(root: Optional[Union[str, os.PathLike]] = None) -> Path:
    """The folder MNIST is read from (see the module docstring for the order of precedence)."""
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get("CHLU_DATA_DIR"):
        return Path(os.environ["CHLU_DATA_DIR"]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "chlu_core" / "data"


def _missing(root: Path) -> list:
    raw = root / "MNIST" / "raw"
    # torchvision accepts either the unpacked files or their .gz archives.
    return [name for name in RAW_FILES if not (raw / name).exists() and not (raw / f"{name}.gz").exists()]


def load_mnist(train: bool = True, root: Optional[Union[str, os.PathLike]] = None,
               download: bool = True) -> tuple:
    """``(images, labels)``: images ``(n, 784)`` float32 in [−1, 1], labels ``(n,)`` int64.

    ``train`` picks the 60,000 training or the 10,000 test images.
    """
    from torchvision.datasets import MNIST

    root = data_dir(root)
    missing = _missing(root)
    if missing and download:
        try:
            MNIST(str(root), train=train, download=True)
        except Exception:  # no internet, or a server that refuses: fall through to the clear message
            pass
        missing = _missing(root)
    if missing:
        raise MissingData(
            f"MNIST files are missing in {root / 'MNIST' / 'raw'}: {', '.join(missing)}. "
            f"Put the four files {', '.join(RAW_FILES)} (or their .gz archives from "
            "http://yann.lecun.com/exdb/mnist/) in that folder, or point CHLU_DATA_DIR at a folder "
            "that holds MNIST/raw/ with them.")
    dataset = MNIST(str(root), train=train, download=False)
    images = dataset.data.reshape(-1, DIM).to(torch.float32) / 127.5 - 1.0
    return images, dataset.targets.to(torch.int64)


def training_subset(size: int, seed: int, root=None, download: bool = True) -> tuple:
    """A seeded random subset of ``size`` training images (the protocol: 10,000), ``(images, labels)``."""
    images, labels = load_mnist(train=True, root=root, download=download)
    if not 1 <= size <= len(images):
        raise ValueError(f"subset size must lie in [1, {len(images)}], got {size}")
    index = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:size]
    return images[index], labels[index]


def to_unit_interval(q: torch.Tensor) -> torch.Tensor:
    """Pixels in [−1, 1] (q) → [0, 1], same shape."""
    return (q.clamp(-1.0, 1.0) + 1.0) / 2.0
