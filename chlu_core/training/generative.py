"""Persistent contrastive divergence (PCD) for a generative CHLU on images (experiment III).

Positives: training images + N(0, ``data_noise``²), clipped to [−1, 1], with p = 0. Negatives:
``batch`` chains drawn from a persistent buffer of ``buffer_size`` states; each is re-initialised
with probability ``reinit_prob`` (q from ``reinit``, p ~ N(0, ``momentum_std``²)), evolved
``langevin_steps`` Langevin steps (γ = ``gamma``, T = ``temperature``, or annealed exponentially to
``temperature_end`` over the chain as the sampler does, no gradient),
clipped to [−1, 1] (at the end, or every ``clip_every`` steps) and written back. Loss = mean E(pos) − mean E(neg)
+ ``energy_penalty``·(mean E(pos)² + mean E(neg)²), where E is the full H(q, p) (the protocol) or the
potential V(q) + α‖q‖² alone (``energy="potential"``; H carries the rest energy m₀c², which
dominates the penalty once c is large).

Re-initialisation: ``"uniform"`` (the protocol: q ~ U(−1, 1)), ``"centroid"`` (the sampler's own
start: the test-set centroid + ``reinit_noise``·N(0, I)), so that training negatives explore the
region the sampler later starts from, or ``"data"`` (a random training image + ``reinit_noise``·N(0, I):
short runs from noisy data, which carve one basin per training digit).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch

from ..schedules import ConstantTemperature, ExponentialTemperature
from ..unit import CHLU, Trajectory
from .progress import ProgressCallback, TrainingLog, train_loop

REINIT_MODES = ("uniform", "centroid", "data")
ENERGIES = ("hamiltonian", "potential")


@dataclass(frozen=True)
class PCDConfig:
    """Hyper-parameters of :func:`train_pcd`; defaults are the protocol's."""

    iterations: int = 500
    lr: float = 1e-3
    batch: int = 64
    data_noise: float = 0.05
    buffer_size: int = 10_000
    reinit_prob: float = 0.25
    reinit: str = "uniform"
    reinit_noise: float = 0.5  # std of the noise around the centroid or the image (reinit "centroid", "data")
    momentum_std: float = 0.1
    langevin_steps: int = 100
    gamma: float = 0.3
    temperature: float = 0.5
    temperature_end: Optional[float] = None  # None: constant T; else T anneals exponentially T → this over the chain
    energy: str = "hamiltonian"
    energy_penalty: float = 0.005
    clip_every: Optional[int] = None  # clip chains to [−1, 1] every this many steps; None: only at the end

    def __post_init__(self):
        if self.iterations < 1 or self.lr <= 0 or self.batch < 1 or self.langevin_steps < 1:
            raise ValueError("need iterations, batch and langevin_steps ≥ 1 and lr > 0")
        if self.buffer_size < self.batch:
            raise ValueError(f"buffer_size ({self.buffer_size}) must hold at least one batch ({self.batch})")
        if not 0.0 <= self.reinit_prob <= 1.0:
            raise ValueError(f"reinit_prob must lie in [0, 1], got {self.reinit_prob}")
        if self.reinit not in REINIT_MODES:
            raise ValueError(f"reinit must be one of {REINIT_MODES}, got {self.reinit!r}")
        if self.energy not in ENERGIES:
            raise ValueError(f"energy must be one of {ENERGIES}, got {self.energy!r}")
        if self.temperature_end is not None and not (self.temperature > 0 and self.temperature_end > 0):
            raise ValueError(f"an annealed temperature needs temperature and temperature_end > 0, got "
                             f"{self.temperature}, {self.temperature_end}")
        if self.clip_every is not None and self.clip_every < 1:
            raise ValueError(f"clip_every must be None or ≥ 1, got {self.clip_every}")


def clip_to_box(q: torch.Tensor, p: torch.Tensor) -> tuple:
    """Clip positions to [−1, 1]; a coordinate that hit the wall loses its momentum (no bounce)."""
    outside = q.abs() > 1.0
    return q.clamp(-1.0, 1.0), p.masked_fill(outside, 0.0)


def langevin(unit: CHLU, q: torch.Tensor, p: torch.Tensor, steps: int, gamma: float, temperature=None,
             generator: Optional[torch.Generator] = None, record_every: int = 1,
             clip_every: Optional[int] = None) -> Trajectory:
    """:meth:`CHLU.rollout` in Langevin mode, with the states clipped to [−1, 1] every ``clip_every``
    steps (the ConvNet potential is only trained inside that box; outside it, unclipped chains run
    away). ``clip_every=None``: one plain rollout, unclipped. The noise sequence is the same either way."""
    if clip_every is None:
        return unit.rollout(q, p, steps, gamma=gamma, temperature=temperature, generator=generator,
                            record_every=record_every)
    chunk = math.gcd(clip_every, record_every)
    qs, ps = [q], [p]
    for start in range(0, steps, chunk):
        n = min(chunk, steps - start)
        # The schedule is over the whole run: shift each chunk's step index.
        shifted = None if temperature is None else (lambda t, _, offset=start: temperature(t + offset, steps))
        part = unit.rollout(q, p, n, gamma=gamma, temperature=shifted, generator=generator, record_every=n)
        q, p = part.q[-1], part.p[-1]
        done = start + n
        if done % clip_every == 0 or done == steps:
            q, p = clip_to_box(q, p)
        if done % record_every == 0:
            qs.append(q)
            ps.append(p)
    return Trajectory(torch.stack(qs), torch.stack(ps))


class ChainStarts:
    """Fresh chain states ``(q, p)``, each ``(n, dim)``: q from the re-initialisation mode, p ~ N(0, σ²)."""

    def __init__(self, config: PCDConfig, images: torch.Tensor, centroid: Optional[torch.Tensor],
                 generator: torch.Generator):
        if config.reinit == "centroid" and centroid is None:
            raise ValueError('reinit = "centroid" needs the centroid image (dim,)')
        self.config, self.images, self.centroid, self.generator = config, images, centroid, generator

    def __call__(self, n: int) -> tuple:
        shape = (n, self.images.shape[1])
        if self.config.reinit == "uniform":
            q = 2.0 * torch.rand(shape, generator=self.generator) - 1.0
        else:
            around = self.centroid if self.config.reinit == "centroid" else \
                self.images[torch.randint(len(self.images), (n,), generator=self.generator)]
            q = around + self.config.reinit_noise * torch.randn(shape, generator=self.generator)
        p = self.config.momentum_std * torch.randn(shape, generator=self.generator)
        return q.clamp(-1.0, 1.0), p


class PersistentChains:
    """PCD's negatives: a buffer of ``buffer_size`` chain states (started by :class:`ChainStarts`).
    :meth:`draw` takes ``n`` of them at random, re-initialises each with probability ``reinit_prob``,
    evolves them ``langevin_steps`` Langevin steps without gradient (γ = ``gamma``, T = ``temperature``
    or annealed to ``temperature_end``), clips them to [−1, 1] and writes them back."""

    def __init__(self, config: PCDConfig, images: torch.Tensor, centroid: Optional[torch.Tensor],
                 generator: torch.Generator):
        self.config, self.generator = config, generator
        self.starts = ChainStarts(config, images, centroid, generator)
        self.q, self.p = self.starts(config.buffer_size)
        self.temperature = ConstantTemperature(config.temperature) if config.temperature_end is None else \
            ExponentialTemperature(config.temperature, config.temperature_end)

    @torch.no_grad()
    def draw(self, unit: CHLU, n: int) -> tuple:
        """``(q, p)``, each ``(n, dim)``: ``n`` distinct chains advanced by ``unit`` and written back."""
        config = self.config
        if not 1 <= n <= config.buffer_size:
            raise ValueError(f"can draw 1 to buffer_size = {config.buffer_size} chains, got {n}")
        # Distinct slots: writing a batch back to a slot drawn twice could store a mix of the two chains.
        slots = torch.randperm(config.buffer_size, generator=self.generator)[:n]
        q, p = self.q[slots], self.p[slots]
        fresh = torch.rand(n, generator=self.generator) < config.reinit_prob
        q[fresh], p[fresh] = self.starts(int(fresh.sum()))
        chain = langevin(unit, q, p, config.langevin_steps, config.gamma, self.temperature, self.generator,
                         record_every=config.langevin_steps, clip_every=config.clip_every)
        q, p = chain.q[-1].clamp(-1.0, 1.0), chain.p[-1]
        self.q[slots], self.p[slots] = q, p
        return q, p


def train_pcd(unit: CHLU, images: torch.Tensor, config: PCDConfig = PCDConfig(),
              centroid: Optional[torch.Tensor] = None, seed: int = 0,
              progress: Optional[ProgressCallback] = None, stage: str = "CHLU") -> TrainingLog:
    """Train ``unit`` in place on ``images`` ``(n, dim)`` in [−1, 1]; returns the loss history
    (``loss``, ``energy_pos``, ``energy_neg``). Seeded by ``seed``; raises
    :class:`~chlu_core.training.progress.TrainingDiverged` (keeping the last good weights) on a NaN."""
    if images.dim() != 2 or images.shape[1] != unit.dim:
        raise ValueError(f"images must have shape (n, {unit.dim}), got {tuple(images.shape)}")
    generator = torch.Generator().manual_seed(seed)
    chains = PersistentChains(config, images, centroid, generator)
    optimizer = torch.optim.Adam(unit.parameters(), lr=config.lr)

    def energy(q, p):
        return unit.hamiltonian(q, p) if config.energy == "hamiltonian" else unit.potential_energy(q)

    def step(i: int) -> dict:
        index = torch.randint(len(images), (config.batch,), generator=generator)
        noise = config.data_noise * torch.randn((config.batch, unit.dim), generator=generator)
        positives = (images[index] + noise).clamp(-1.0, 1.0)
        q, p = chains.draw(unit, config.batch)
        energy_pos = energy(positives, torch.zeros_like(positives)).mean()
        energy_neg = energy(q, p).mean()
        loss = energy_pos - energy_neg + config.energy_penalty * (energy_pos ** 2 + energy_neg ** 2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"loss": loss.item(), "energy_pos": energy_pos.item(), "energy_neg": energy_neg.item()}

    unit.train()
    log = train_loop(unit, step, config.iterations, progress=progress, stage=stage)
    unit.eval()
    return log
