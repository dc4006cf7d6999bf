"""A non-symplectic reference integrator (classic RK4) for the same learned Hamiltonian.

Used by the tests and the benchmark to show what the CHLU's Verlet step buys: at equal dt, RK4's
energy error drifts with time while Verlet's stays in a band.
"""
from __future__ import annotations

import numpy
import torch

from ._backend import freeze
from .unit import CHLU, Trajectory


def rk4_rollout(unit: CHLU, q0: torch.Tensor, p0: torch.Tensor, steps: int, record_every: int = 1) -> Trajectory:
    """Integrate q̇ = ∂H/∂p, ṗ = −∂H/∂q with RK4 at the unit's dt; shapes as :meth:`CHLU.rollout`."""
    xp = numpy if unit.potential.supports_numpy and q0.device.type == "cpu" else torch
    with torch.no_grad():
        gradient_v = unit.potential.frozen_gradient(xp)
        velocity = unit.kinetic.frozen_velocity(xp)
        two_alpha, dt = 2.0 * unit.alpha, unit.dt

        def field(q, p):
            return velocity(p), -(gradient_v(q) + two_alpha * q)

        q, p = freeze(q0, xp), freeze(p0, xp)
        qs, ps = [q], [p]
        for t in range(steps):
            k1q, k1p = field(q, p)
            k2q, k2p = field(q + 0.5 * dt * k1q, p + 0.5 * dt * k1p)
            k3q, k3p = field(q + 0.5 * dt * k2q, p + 0.5 * dt * k2p)
            k4q, k4p = field(q + dt * k3q, p + dt * k3p)
            q = q + (dt / 6.0) * (k1q + 2.0 * k2q + 2.0 * k3q + k4q)
            p = p + (dt / 6.0) * (k1p + 2.0 * k2p + 2.0 * k3p + k4p)
            if (t + 1) % record_every == 0:
                qs.append(q)
                ps.append(p)
        as_torch = torch.from_numpy if xp is numpy else (lambda x: x)
        return Trajectory(as_torch(xp.stack(qs)), as_torch(xp.stack(ps)))
