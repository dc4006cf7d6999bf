"""Sine waves x = A sin(ω t + φ), ẋ = A ω cos(ω t + φ) (experiment II), and their noisy starts.

The authors' figures use ω = 2π (1 Hz) and A = 1; ``frequency_range`` gives the paper text's
variant ω ~ U(0.5, 2) (in rad per unit time).
"""
from __future__ import annotations

import math
from typing import Optional

import torch


def sine_waves(n_waves: int = 100, steps: int = 1000, dt: float = 0.05, frequency_hz: float = 1.0,
               frequency_range: Optional[tuple[float, float]] = None, seed: int = 0,
               dtype=torch.float32) -> torch.Tensor:
    """States (x, ẋ) of ``n_waves`` waves with random phases, shape ``(steps, n_waves, 2)``.

    ``frequency_range`` = (low, high) draws each wave's ω uniformly there instead of ω = 2π·frequency_hz.
    """
    if not (n_waves >= 1 and steps >= 2 and dt > 0 and frequency_hz > 0):
        raise ValueError(f"need n_waves ≥ 1, steps ≥ 2, dt > 0, frequency_hz > 0; "
                         f"got {n_waves}, {steps}, {dt}, {frequency_hz}")
    generator = torch.Generator().manual_seed(seed)
    phase = 2.0 * math.pi * torch.rand(n_waves, generator=generator, dtype=torch.float64)
    if frequency_range is None:
        omega = torch.full((n_waves,), 2.0 * math.pi * frequency_hz, dtype=torch.float64)
    else:
        low, high = frequency_range
        if not 0 < low <= high:
            raise ValueError(f"frequency_range must satisfy 0 < low ≤ high, got {frequency_range}")
        omega = low + (high - low) * torch.rand(n_waves, generator=generator, dtype=torch.float64)
    angle = omega * dt * torch.arange(steps, dtype=torch.float64)[:, None] + phase
    return torch.stack([angle.sin(), omega * angle.cos()], dim=-1).to(dtype)


def noisy_starts(states: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """The first state of every wave plus N(0, σ²) noise on both q and q̇: ``(n_waves, 2)``."""
    if not (sigma >= 0 and math.isfinite(sigma)):
        raise ValueError(f"noise sigma must be a finite number ≥ 0, got {sigma!r}")
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(states.shape[1:], generator=generator, dtype=torch.float64)
    return states[0] + (sigma * noise).to(states.dtype)


def oscillator(start: torch.Tensor, steps: int, dt: float, omega: float = 2.0 * math.pi) -> torch.Tensor:
    """The exact harmonic oscillator from ``start`` (x₀, ẋ₀) ``(batch, 2)`` for ``steps`` steps of
    ``dt``: ``(steps + 1, batch, 2)``. The oracle: the best a free-running model can do from a noisy start."""
    t = dt * torch.arange(steps + 1, dtype=torch.float64)[:, None]
    x0, v0 = start[:, 0].double(), start[:, 1].double()
    x = x0 * torch.cos(omega * t) + v0 / omega * torch.sin(omega * t)
    v = -x0 * omega * torch.sin(omega * t) + v0 * torch.cos(omega * t)
    return torch.stack([x, v], dim=-1).to(start.dtype)
