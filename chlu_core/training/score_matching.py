"""Denoising score matching (DSM) for a generative CHLU on images: experiment III's ``best`` recipe.

The unit's force −∇V(q) is fitted to the score of the training images blurred by Gaussian noise:
positives q̃ = x + σε with ε ~ N(0, I) and σ drawn log-uniformly from [``noise_min``, ``noise_max``]
per image, loss = mean ‖σ∇V(q̃)/T_data − ε‖² / dim (Vincent 2011; the σ²-weighted sum over noise
levels of Song & Ermon 2019). One potential serves every σ, so its optimum is V = −T_data·log of the
mixture of the blurred data densities: far from the data the wide components lead chains in, near
it the narrow ones sharpen strokes. Chains whose momenta sit at temperature T_p draw from that mixture
raised to the power T_data/T_p. The protocol's Langevin step holds them at
T_p = :func:`~chlu_core.schedules.momentum_temperature` = 2T dt/(2 − γ), 0.059 T at dt = 0.05 and
γ = 0.3: with T_data = 0.1 its annealing T = 1 → 0.01 runs from the mixture^1.7 to the mixture^170,
so the chains end near its modes.

Contrastive fine-tuning (``negatives``): the learned V also has minima where no data lie, and the
sampler's chains end in them (malformed digits); a few hundred iterations with the unit's own chains
as negatives, mean V(data) − mean V(negatives) added to the loss, raise V there while the DSM term
keeps the fit.

Why not contrastive divergence (:mod:`.generative`): on this machine's budget its negatives never
leave the noise they start from, so the learned V sharpens noise locally; DSM needs no chains in
training and its V is trained everywhere a chain from the noisy centroid goes (σ up to 1 covers
the distance from the centroid to any digit).
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch

from ..unit import CHLU
from .progress import ProgressCallback, TrainingLog, train_loop


def denoising_loss(unit: CHLU, images: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor,
                   data_temperature: float = 1.0) -> torch.Tensor:
    """mean ‖σ∇V(x + σε)/T_data − ε‖² / dim over the batch: ``images`` x and ``noise`` ε ``(batch, dim)``,
    ``sigma`` ``(batch, 1)``. Differentiable in the unit's weights (double backward through V)."""
    noisy = (images + sigma * noise).requires_grad_(True)
    gradient, = torch.autograd.grad(unit.potential_energy(noisy).sum(), noisy, create_graph=True)
    return (sigma * gradient / data_temperature - noise).square().sum(-1).mean() / unit.dim


def train_denoising(unit: CHLU, images: torch.Tensor, iterations: int, lr: float = 1e-3, batch: int = 128,
                    noise_min: float = 0.05, noise_max: float = 1.0, data_temperature: float = 1.0, seed: int = 0,
                    progress: Optional[ProgressCallback] = None, stage: str = "CHLU",
                    negatives: Optional[Callable[[], torch.Tensor]] = None,
                    contrastive_weight: float = 0.0) -> TrainingLog:
    """Fit ``unit``'s potential in place by DSM (Adam, ``lr``) on ``images`` ``(n, dim)``, ``batch``
    images per iteration, each with its own σ ∈ [``noise_min``, ``noise_max``] (log-uniform; equal
    ends: one σ); the unit's V is in units where chains whose momenta sit at temperature
    ``data_temperature`` draw the blurred data. Returns the loss history (``loss``, the DSM term).

    ``negatives``: a function returning the unit's own samples ``(m, dim)`` (e.g. a
    :class:`~chlu_core.training.generative.PersistentChains` draw); with it the loss gains
    ``contrastive_weight``·(mean V(images) − mean V(negatives)), which raises V where the unit's chains
    end but no data lie (its spurious minima), and the history ``contrast`` (that difference).
    Seeded by ``seed``; raises :class:`~chlu_core.training.progress.TrainingDiverged` (keeping the
    last good weights) on a NaN."""
    if images.dim() != 2 or images.shape[1] != unit.dim:
        raise ValueError(f"images must have shape (n, {unit.dim}), got {tuple(images.shape)}")
    if not torch.isfinite(images).all():
        raise ValueError("images contain NaN or inf")
    if not 0.0 < noise_min <= noise_max:
        raise ValueError(f"need 0 < noise_min ≤ noise_max, got {noise_min}, {noise_max}")
    if not data_temperature > 0:
        raise ValueError(f"data_temperature must be > 0, got {data_temperature}")
    if iterations < 1 or batch < 1 or lr <= 0:
        raise ValueError(f"need iterations and batch ≥ 1 and lr > 0, got {iterations}, {batch}, {lr}")
    if not contrastive_weight >= 0 or (contrastive_weight > 0 and negatives is None):
        raise ValueError(f"contrastive_weight must be ≥ 0 and needs negatives, got {contrastive_weight}")
    images = images.to(next(unit.parameters()).dtype)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(unit.parameters(), lr=lr)
    log_ratio = math.log(noise_max / noise_min)

    def step(i: int) -> dict:
        chosen = images[torch.randint(len(images), (batch,), generator=generator)]
        sigma = noise_min * torch.exp(log_ratio * torch.rand((batch, 1), generator=generator))
        sigma, noise = sigma.to(images.dtype), torch.randn(chosen.shape, generator=generator).to(images.dtype)
        loss = denoising_loss(unit, chosen, sigma, noise, data_temperature)
        losses = {"loss": loss.item()}
        if contrastive_weight > 0:
            contrast = unit.potential_energy(chosen).mean() - unit.potential_energy(negatives()).mean()
            loss = loss + contrastive_weight * contrast
            losses["contrast"] = contrast.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return losses

    unit.train()
    log = train_loop(unit, step, iterations, progress=progress, stage=stage)
    unit.eval()
    return log
