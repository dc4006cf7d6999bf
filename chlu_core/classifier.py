"""A small MNIST classifier that scores generated digits, and the scores themselves.

Images are ``(batch, 784)`` or ``(batch, 1, 28, 28)`` with pixels on a 0–1 scale (0 = black
background, 1 = white ink). A classifier alone is easily fooled (uniform noise can score a high
confidence), so :func:`score_images` reports the class histogram, its entropy, the mean top-class
confidence and the mean pixel together.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy
import torch
from scipy import ndimage
from torch import nn
from torch.nn import functional as F

from .training.progress import ProgressCallback, train_loop

SIDE = 28
CLASSES = 10
# Mean and standard deviation of MNIST's training pixels on the 0–1 scale.
PIXEL_MEAN, PIXEL_STD = 0.1307, 0.3081
INK = 0.5  # a pixel above this (0–1 scale) is ink
_TOUCHING = numpy.ones((3, 3), dtype=bool)  # diagonal neighbours touch: a slanted stroke stays one piece


class DigitClassifier(nn.Module):
    """Two 3×3 conv blocks (1→c1→c2, ReLU, 2×2 max-pool) and an MLP head → 10 logits."""

    def __init__(self, channels: tuple = (16, 32), hidden: int = 64):
        super().__init__()
        c1, c2 = channels
        self.channels, self.hidden = tuple(channels), int(hidden)
        self.net = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 28 → 14
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 14 → 7
            nn.Flatten(), nn.Linear(c2 * 7 * 7, hidden), nn.ReLU(), nn.Linear(hidden, CLASSES),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, 10)`` of images on the 0–1 scale."""
        x = images.reshape(-1, 1, SIDE, SIDE)
        return self.net((x - PIXEL_MEAN) / PIXEL_STD)

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch: int = 1000) -> torch.Tensor:
        """Class probabilities ``(n, 10)``, computed in batches."""
        return torch.cat([F.softmax(self(images[i:i + batch]), dim=-1) for i in range(0, len(images), batch)])

    def config(self) -> dict:
        return {"channels": list(self.channels), "hidden": self.hidden}

    @classmethod
    def from_config(cls, config: dict) -> "DigitClassifier":
        return cls(channels=tuple(config["channels"]), hidden=config["hidden"])


def train_classifier(images: torch.Tensor, labels: torch.Tensor, epochs: int = 2, batch: int = 128,
                     lr: float = 1e-3, seed: int = 0, progress: Optional[ProgressCallback] = None
                     ) -> tuple:
    """Train a :class:`DigitClassifier` on ``images`` ``(n, 784)`` (0–1 scale) and ``labels`` ``(n,)``.

    Adam with a cosine-decayed learning rate; shuffled by ``seed``. Returns ``(model, TrainingLog)``.
    """
    if len(images) != len(labels) or len(images) == 0:
        raise ValueError(f"need as many labels as images (> 0), got {len(images)} and {len(labels)}")
    torch.manual_seed(seed)
    model = DigitClassifier()
    generator = torch.Generator().manual_seed(seed)
    per_epoch = math.ceil(len(images) / batch)
    iterations = epochs * per_epoch
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, iterations)
    order = torch.empty(0, dtype=torch.int64)

    def step(i: int) -> dict:
        nonlocal order
        if i % per_epoch == 0:
            order = torch.randperm(len(images), generator=generator)
        index = order[(i % per_epoch) * batch:(i % per_epoch + 1) * batch]
        loss = F.cross_entropy(model(images[index]), labels[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        return {"loss": loss.item()}

    model.train()
    log = train_loop(model, step, iterations, progress=progress, stage="classifier")
    return model.eval(), log


def accuracy(model: DigitClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of ``images`` (0–1 scale) whose top class is the label."""
    return float((model.predict(images).argmax(-1) == labels).float().mean())


def entropy_bits(counts) -> float:
    """Shannon entropy in bits of a histogram (empty classes contribute 0)."""
    counts = torch.as_tensor(counts, dtype=torch.float64)
    total = counts.sum()
    if total <= 0:
        raise ValueError("entropy of an empty histogram is undefined")
    share = counts[counts > 0] / total
    return float((share * (1.0 / share).log2()).sum())  # written so that one class gives +0.0, not −0.0


def ink_pieces(images: torch.Tensor, threshold: float = INK) -> torch.Tensor:
    """How many separate pieces of ink each image ``(n, 784)`` (0–1 scale) holds: groups of pixels
    above ``threshold`` that touch, diagonals included; shape ``(n,)``. A written digit is one piece
    (MNIST's test digits: 1.04 on average); a dream that broke into fragments is several, whatever a
    classifier makes of it."""
    ink = (images.detach().reshape(len(images), SIDE, SIDE) > threshold).cpu().numpy()
    return torch.tensor([ndimage.label(image, structure=_TOUCHING)[1] for image in ink])


def score_images(images: torch.Tensor, model: DigitClassifier) -> dict:
    """Scores of ``images`` ``(n, 784)`` on the 0–1 scale: ``histogram`` (10 counts of the top
    class), ``entropy_bits`` of that histogram, ``classes`` (how many are non-empty),
    ``mean_confidence`` (mean top-class probability), ``mean_pixel`` and ``mean_ink_pieces``
    (:func:`ink_pieces`)."""
    probabilities = model.predict(images.reshape(len(images), -1))
    confidence, predicted = probabilities.max(-1)
    histogram = torch.bincount(predicted, minlength=CLASSES)
    # Rounded to 4 decimals: multi-threaded CPU kernels may differ in the last float32 bits from run
    # to run, and a same-seed run must report the same metrics.
    return {"histogram": histogram.tolist(), "entropy_bits": round(entropy_bits(histogram), 4),
            "classes": int((histogram > 0).sum()), "mean_confidence": round(float(confidence.double().mean()), 4),
            "mean_pixel": round(float(images.double().mean()), 4),
            "mean_ink_pieces": round(float(ink_pieces(images).double().mean()), 4)}
