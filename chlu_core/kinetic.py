"""Kinetic energies T(p) and their exact velocities ∂T/∂p, in one place.

Every kinetic term maps momenta ``p`` of shape ``(batch, dim)`` to an energy of shape ``(batch,)``
and a velocity of shape ``(batch, dim)``. The integrator's drift uses :meth:`Kinetic.velocity`,
never ``p`` itself, so a non-identity kinetic term is integrated correctly.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ._backend import freeze, is_real
from .config import KINETIC_MODES



class Kinetic(nn.Module):
    """Base class: ``energy(p) -> (batch,)``, ``velocity(p) -> (batch, dim)``, ``momentum(v)``."""

    mode: str

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def energy(self, p: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def velocity(self, p: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def momentum(self, v: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`velocity`: the momentum whose velocity is ``v``."""
        raise NotImplementedError

    def frozen_velocity(self, xp=torch):
        """p ↦ ∂T/∂p with the mass terms computed once, on arrays of namespace ``xp`` (inference only)."""
        raise NotImplementedError

    def frozen_velocity_vjp(self, p, xp=torch):
        """Linearise the velocity at the momenta ``p`` ``(time, batch, dim)`` for a reverse pass (no graph):
        returns ``(t, λ) ↦ (∂q̇/∂p at p[t])ᵀ λ`` for adjoints ``λ`` ``(batch, dim)``."""
        raise NotImplementedError

    def inverse_mass(self) -> torch.Tensor | None:
        """Diagonal of M⁻¹, shape ``(dim,)``, or ``None`` for the identity mass."""
        return None

    def config(self) -> dict:
        return {"mode": self.mode}


class NewtonianKinetic(Kinetic):
    """T = ½‖p‖², so the velocity is p."""

    mode = "newtonian"

    def energy(self, p):
        return 0.5 * p.square().sum(-1)

    def velocity(self, p):
        return p

    def momentum(self, v):
        return v

    def frozen_velocity(self, xp=torch):
        return lambda p: p

    def frozen_velocity_vjp(self, p, xp=torch):
        return lambda t, adjoint: adjoint


class LearnedMass(Kinetic):
    """Shared base for kinetic terms with a learned diagonal mass M = softplus(log_mass) > 0."""

    def __init__(self, dim: int, mass_init_noise: float = 0.01):
        super().__init__(dim)
        # softplus(x) = 1 at x = log(e − 1): the mass starts near 1, with a little noise to break symmetry.
        log_mass = torch.full((dim,), math.log(math.e - 1.0))
        # A checkpoint's config is first built on the meta device (chlu_core.checkpoints), where a random
        # draw imports torch's compiler (2 s), and a skeleton needs no noise.
        if not log_mass.is_meta:
            log_mass += mass_init_noise * torch.randn(dim)
        self.log_mass = nn.Parameter(log_mass)

    def mass(self) -> torch.Tensor:
        """Diagonal of M, shape ``(dim,)``."""
        return F.softplus(self.log_mass)

    def inverse_mass(self) -> torch.Tensor:
        return 1.0 / self.mass()


class NewtonianLearnedKinetic(LearnedMass):
    """T = ½ pᵀM⁻¹p, velocity M⁻¹p."""

    mode = "newtonian_learned"

    def energy(self, p):
        return 0.5 * (p.square() * self.inverse_mass()).sum(-1)

    def velocity(self, p):
        return p * self.inverse_mass()

    def frozen_velocity(self, xp=torch):
        inverse_mass = freeze(self.inverse_mass(), xp)
        return lambda p: p * inverse_mass

    def frozen_velocity_vjp(self, p, xp=torch):
        inverse_mass = freeze(self.inverse_mass(), xp)
        return lambda t, adjoint: adjoint * inverse_mass

    def momentum(self, v):
        return v * self.mass()


class RelativisticKinetic(LearnedMass):
    """T = sqrt(c² pᵀM⁻¹p + m₀²c⁴); every |q̇_i| stays below the speed limit c/√M_i.

    Written in the scaled momentum u = M^{-1/2} p: q̇_i = c·sqrt(M⁻¹_i) · u_i / sqrt(‖u‖² + (m₀c)²),
    whose second factor lies in [−1, 1]; the bound holds exactly for any finite p whose square
    does not overflow.
    """

    mode = "relativistic"

    def __init__(self, dim: int, c: float = 1.0, m0: float = 1.0, mass_init_noise: float = 0.01):
        super().__init__(dim, mass_init_noise)
        if not (is_real(c) and c > 0 and math.isfinite(c)):
            raise ValueError(f"the speed limit c must be a positive number, got {c}")
        if not (is_real(m0) and m0 > 0 and math.isfinite(m0)):
            raise ValueError(f"the rest mass m0 must be a positive number, got {m0}")
        self.c = float(c)
        self.m0 = float(m0)

    def energy(self, p):
        u = p * self.inverse_mass().sqrt()
        return self.c * (u.square().sum(-1) + (self.m0 * self.c) ** 2).sqrt()

    @staticmethod
    def _velocity(p, sqrt_inv_mass, limit, rest_momentum2, xp):
        u = p * sqrt_inv_mass
        ratio = u / xp.sqrt((u * u).sum(-1, keepdims=True) + rest_momentum2)
        # |ratio_i| ≤ 1 in exact arithmetic; sqrt may round one ulp low, so clip to keep the bound exact.
        return ratio.clip(-1.0, 1.0) * limit

    def velocity(self, p):
        sqrt_inv_mass = self.inverse_mass().sqrt()
        return self._velocity(p, sqrt_inv_mass, self.c * sqrt_inv_mass, (self.m0 * self.c) ** 2, torch)

    def frozen_velocity(self, xp=torch):
        sqrt_inv_mass = freeze(self.inverse_mass().sqrt(), xp)
        limit = self.c * sqrt_inv_mass
        rest_momentum2 = (self.m0 * self.c) ** 2
        return lambda p: self._velocity(p, sqrt_inv_mass, limit, rest_momentum2, xp)

    def frozen_velocity_vjp(self, p, xp=torch):
        # q̇ = clip(u/r, −1, 1) c√M⁻¹ with u = √M⁻¹ p, r = sqrt(‖u‖² + (m₀c)²) and ∂(u/r)/∂u = I/r − u uᵀ/r³:
        # Jᵀλ = λ ⊙ diagonal − outer_left · (λ · outer_right), the factors computed for every state here.
        # The clip passes no gradient at or beyond ±1, as torch.clip does.
        sqrt_inv_mass = freeze(self.inverse_mass().sqrt(), xp)
        limit = self.c * sqrt_inv_mass
        u = p * sqrt_inv_mass
        inverse_r = 1.0 / xp.sqrt((u * u).sum(-1, keepdims=True) + (self.m0 * self.c) ** 2)
        ratio = u * inverse_r
        passing = limit * ((ratio > -1.0) & (ratio < 1.0))
        diagonal = passing * sqrt_inv_mass * inverse_r
        outer_left = u * sqrt_inv_mass * inverse_r ** 3
        outer_right = passing * u

        def vjp(t, adjoint):
            return adjoint * diagonal[t] - outer_left[t] * (adjoint * outer_right[t]).sum(-1, keepdims=True)
        return vjp

    def speed_limit(self) -> torch.Tensor:
        """Per-coordinate bound c/√M_i on |q̇_i|, shape ``(dim,)``."""
        return self.c * self.inverse_mass().sqrt()

    def momentum(self, v):
        # w = M^{1/2} v must satisfy ‖w‖ < c; then p = m₀ M v / sqrt(1 − ‖w‖²/c²).
        mass = self.mass()
        beta2 = (v.square() * mass).sum(-1, keepdim=True) / self.c**2
        if bool((beta2 >= 1).any()):
            raise ValueError(
                f"velocity exceeds the speed limit c = {self.c} (vᵀMv/c² = {beta2.max().item():.3g} ≥ 1); "
                "raise c or rescale the data"
            )
        return self.m0 * mass * v / (1.0 - beta2).sqrt()

    def config(self):
        return {"mode": self.mode, "c": self.c, "m0": self.m0}


def make_kinetic(mode: str, dim: int, c: float = 1.0, m0: float = 1.0) -> Kinetic:
    """Build the kinetic term named ``mode`` (one of :data:`KINETIC_MODES`)."""
    if mode == "relativistic":
        return RelativisticKinetic(dim, c=c, m0=m0)
    if mode == "newtonian":
        return NewtonianKinetic(dim)
    if mode == "newtonian_learned":
        return NewtonianLearnedKinetic(dim)
    raise ValueError(f"unknown kinetic mode {mode!r}; choose one of {', '.join(KINETIC_MODES)}")
