"""Friction and temperature schedules handed to :meth:`chlu_core.CHLU.rollout`.

Plain, friction-annealed, governed and Langevin rollouts share one loop and differ only in these.
A friction schedule returns γ for step ``t`` of ``steps``: a float, or a ``(batch, 1)`` tensor when
it depends on the state. A temperature schedule returns T_t ≥ 0; the Langevin kick has standard
deviation σ_t = sqrt(2 γ_t T_t dt) (the authors' code convention: mass-blind, zero when γ = 0).
"""
from __future__ import annotations

import math
from typing import Callable, Union

import torch

from ._backend import is_real

Energy = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def check_gamma(gamma: float) -> float:
    if not (is_real(gamma) and 0.0 <= gamma < 1.0):
        raise ValueError(f"friction gamma must be a number in [0, 1), got {gamma!r}")
    return float(gamma)


class ConstantFriction:
    """γ_t = γ for every step."""

    def __init__(self, gamma: float):
        self.gamma = check_gamma(gamma)

    def __call__(self, t: int, steps: int, q, p, energy: Energy) -> float:
        return self.gamma


class AnnealedFriction:
    """The paper's fixed annealing: γ_f for the first ``fraction`` of the steps, then 0."""

    def __init__(self, gamma: float, fraction: float):
        self.gamma = check_gamma(gamma)
        if not (is_real(fraction) and 0.0 <= fraction <= 1.0):
            raise ValueError(f"annealing fraction must lie in [0, 1], got {fraction!r}")
        self.fraction = float(fraction)

    def __call__(self, t, steps, q, p, energy):
        return self.gamma if t < self.fraction * steps else 0.0


class EnergyGovernor:
    """The authors' energy governor: γ_t = s · tanh(max(0, H(z_t) − E*)) per trajectory.

    Friction acts only while a trajectory's energy is above the floor E* (the authors take
    0.99 × the 1st percentile of the per-trajectory mean H on the training set).
    """

    def __init__(self, energy_floor: float, strength: float = 1.0):
        if not (is_real(strength) and 0.0 < strength < 1.0 + 1e-12):
            raise ValueError(f"governor strength must lie in (0, 1] so that γ < 1, got {strength!r}")
        if not (is_real(energy_floor) and math.isfinite(energy_floor)):
            raise ValueError(f"governor energy floor must be finite, got {energy_floor!r}")
        self.energy_floor = float(energy_floor)
        # tanh < 1 keeps γ < 1 for strength 1 in exact arithmetic; cap it in floating point too.
        self.strength = min(float(strength), 1.0 - 1e-6)

    def __call__(self, t, steps, q, p, energy):
        excess = (energy(q, p) - self.energy_floor).clamp_min(0.0)
        return (self.strength * torch.tanh(excess)).unsqueeze(-1)


Friction = Union[ConstantFriction, AnnealedFriction, EnergyGovernor]


def as_friction(gamma: Union[float, Friction]) -> Friction:
    """Accept a plain γ as shorthand for :class:`ConstantFriction`."""
    if is_real(gamma):
        return ConstantFriction(gamma)
    if callable(gamma):
        return gamma
    raise ValueError(f"gamma must be a number in [0, 1) or a friction schedule, got {gamma!r}")


class ConstantTemperature:
    """T_t = T."""

    def __init__(self, temperature: float):
        if not (is_real(temperature) and temperature >= 0 and math.isfinite(temperature)):
            raise ValueError(f"temperature must be a finite number ≥ 0, got {temperature!r}")
        self.temperature = float(temperature)

    def __call__(self, t: int, steps: int) -> float:
        return self.temperature


def momentum_temperature(temperature: float, gamma: float, dt: float) -> float:
    """The temperature that the Langevin step holds the momenta at, ⟨p_i²⟩ per coordinate, for a
    schedule's ``temperature`` T held constant, constant friction ``gamma`` and step ``dt``.

    The step's friction and kick, p ← (1 − γ) p + sqrt(2γT dt) ξ, settle the momentum variance at
    2γT dt / (1 − (1 − γ)²) = 2T dt / (2 − γ), not at T: with dt = 0.05 and γ = 0.3 the chains run
    17 times colder than T says. For the Newtonian ½‖p‖²/m with m = 1, positions then follow
    exp(−V/T_p) (up to O(dt²)); for other kinetic terms it is the momenta's variance only.
    """
    check_gamma(gamma)
    if gamma == 0.0:
        raise ValueError("with γ = 0 the Langevin step adds no noise: the momenta keep no temperature")
    if not (is_real(temperature) and is_real(dt) and temperature >= 0 and dt > 0):
        raise ValueError(f"need temperature ≥ 0 and dt > 0, got {temperature!r}, {dt!r}")
    return 2.0 * temperature * dt / (2.0 - gamma)


def as_temperature(temperature):
    """Accept a plain T as shorthand for :class:`ConstantTemperature`; ``None`` (no noise) and schedules
    (callables ``(t, steps) → T``) pass through."""
    if is_real(temperature):
        return ConstantTemperature(temperature)
    if temperature is None or callable(temperature):
        return temperature
    raise ValueError(f"temperature must be a number ≥ 0, a schedule or None, got {temperature!r}")


class ExponentialTemperature:
    """T annealed exponentially from ``start`` at the first step to ``end`` at the last."""

    def __init__(self, start: float, end: float):
        if not (is_real(start) and is_real(end) and start > 0 and end > 0 and math.isfinite(start)
                and math.isfinite(end)):
            raise ValueError(f"temperatures must be finite and > 0, got start={start!r}, end={end!r}")
        self.start, self.end = float(start), float(end)

    def __call__(self, t, steps):
        fraction = t / max(steps - 1, 1)
        return self.start * (self.end / self.start) ** fraction
