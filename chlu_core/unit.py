"""The Causal Hamiltonian Learning Unit: H(q, p) = T(p) + V_θ(q) + α‖q‖², evolved by a
dissipative velocity-Verlet integrator that is exactly symplectic at zero friction.

Shapes: positions ``q`` and momenta ``p`` are ``(batch, dim)``; energies are ``(batch,)``;
a rollout of ``steps`` steps holds ``steps // record_every + 1`` states, the initial state first.
Time is in units of the step ``dt``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Union

import numpy
import torch
from torch import nn

from ._backend import check_count, freeze, is_real, numpy_threads_like_torch
from .kinetic import KINETIC_MODES, Kinetic, make_kinetic
from .potentials import MLPPotential, Potential, potential_from_config
from .schedules import AnnealedFriction, ConstantFriction, Friction, as_friction, as_temperature
from .verlet import adjoint_rollout, integrate, with_confinement

Temperature = Callable[[int, int], float]


class DivergenceError(ValueError):
    """A rollout left the finite numbers: the step dt is too large for the potential's curvature."""


@dataclass
class Trajectory:
    """States after every recorded step, initial state first: ``q``, ``p`` of shape ``(time, batch, dim)``."""

    q: torch.Tensor
    p: torch.Tensor

    @property
    def states(self) -> torch.Tensor:
        """``(time, batch, 2·dim)``: positions then momenta (or velocities, for the baselines)."""
        return torch.cat([self.q, self.p], dim=-1)

    def __len__(self) -> int:
        return self.q.shape[0]


def check_state(name: str, x: torch.Tensor, dim: int, leading: str = "batch", finite: bool = True) -> None:
    """Raise ``ValueError`` unless ``x`` is a floating tensor of shape ``(leading, dim)``, finite unless
    ``finite`` is False. ``leading`` names the leading dimensions ("batch", "time, n", …); "..." allows any."""
    shape = f"({leading}, {dim})"
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape {shape}, got {type(x).__name__}")
    rank = x.dim() if leading == "..." else len(leading.split(", ")) + 1
    if x.dim() != rank or x.shape[-1:] != (dim,):
        raise ValueError(f"{name} must have shape {shape}, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if finite and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf values")


def check_pair(names: tuple[str, str], first: torch.Tensor, second: torch.Tensor, dim: int,
               finite: bool = True) -> None:
    """:func:`check_state` for both states of a pair (positions and momenta, or velocities), and that
    their shapes agree: a batch of 1 would otherwise broadcast against the other's."""
    for name, x in zip(names, (first, second)):
        check_state(name, x, dim, finite=finite)
    if first.shape != second.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape, got {tuple(first.shape)} and "
                         f"{tuple(second.shape)}")


def check_dt(dt: float) -> float:
    if not (is_real(dt) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"time step dt must be a finite number > 0, got {dt!r}")
    return float(dt)


class CHLU(nn.Module):
    """A learned Hamiltonian system with a speed-limited kinetic term.

    Args:
        dim: configuration-space dimension d (q, p ∈ R^d).
        potential: the learned V_θ; defaults to ``MLPPotential(dim)``.
        kinetic: ``"relativistic"`` (√(c² pᵀM⁻¹p + m₀²c⁴)), ``"newtonian"`` (½‖p‖²) or
            ``"newtonian_learned"`` (½ pᵀM⁻¹p); M is a learned diagonal mass.
        c: speed limit of the relativistic kinetic term.  m0: its rest mass.
        alpha: confinement strength in α‖q‖².  dt: integrator step.
    """

    def __init__(self, dim: int, potential: Optional[Potential] = None, kinetic: str = "relativistic",
                 c: float = 1.0, m0: float = 1.0, alpha: float = 0.0, dt: float = 0.05):
        super().__init__()
        dim = check_count("dim", dim, 1)
        if kinetic not in KINETIC_MODES:
            raise ValueError(f"unknown kinetic mode {kinetic!r}; choose one of {', '.join(KINETIC_MODES)}")
        if not (is_real(alpha) and math.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"confinement alpha must be a finite number ≥ 0, got {alpha!r}")
        potential = MLPPotential(dim) if potential is None else potential
        if potential.dim != dim:
            raise ValueError(f"potential has dim {potential.dim} but the unit has dim {dim}")
        self.dim = dim
        self.potential = potential
        self.kinetic: Kinetic = make_kinetic(kinetic, dim, c=c, m0=m0)
        self.alpha = float(alpha)
        self.dt = check_dt(dt)

    # --- energies and their gradients -------------------------------------------------------
    def potential_energy(self, q: torch.Tensor) -> torch.Tensor:
        """V_θ(q) + α‖q‖², shape ``(batch,)``."""
        check_state("q", q, self.dim, finite=False)  # NaN passes, as for H
        return self.potential(q) + self.alpha * q.square().sum(-1)

    def kinetic_energy(self, p: torch.Tensor) -> torch.Tensor:
        """T(p), shape ``(batch,)``."""
        check_state("p", p, self.dim, finite=False)
        return self.kinetic.energy(p)

    def hamiltonian(self, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """H(q, p) = T(p) + V_θ(q) + α‖q‖², shape ``(batch,)``."""
        # NaN passes: a governed rollout takes H of every state, and a diverging one is DivergenceError.
        check_pair(("q", "p"), q, p, self.dim, finite=False)
        return self.kinetic.energy(p) + self.potential_energy(q)

    def velocity(self, p: torch.Tensor) -> torch.Tensor:
        """q̇ = ∂H/∂p, shape ``(batch, dim)``; ``p`` may have more leading dimensions (a trajectory's, say)."""
        check_state("p", p, self.dim, leading="...", finite=False)
        return self.kinetic.velocity(p)

    def force(self, q: torch.Tensor) -> torch.Tensor:
        """ṗ = −∂H/∂q (confinement included), shape ``(batch, dim)``."""
        check_state("q", q, self.dim, finite=False)
        return -with_confinement(self.potential.gradient, self.alpha)(q)

    # --- integration -------------------------------------------------------------------------
    def step(self, q: torch.Tensor, p: torch.Tensor, gamma: float = 0.0):
        """One dissipative velocity-Verlet step; returns ``(q', p')``, each ``(batch, dim)``.

        p½ = p − (ε/2)∂H/∂q(q); q' = q + ε ∂H/∂p(p½); p' = (1 − γ)(p½ − (ε/2)∂H/∂q(q')).
        """
        traj = self.rollout(q, p, steps=1, gamma=gamma)
        return traj.q[-1], traj.p[-1]

    def rollout(self, q0: torch.Tensor, p0: torch.Tensor, steps: int,
                gamma: Union[float, Friction] = 0.0, temperature: Union[float, Temperature, None] = None,
                generator: Optional[torch.Generator] = None, record_every: int = 1,
                check_finite: bool = True, twice_differentiable: bool = False) -> Trajectory:
        """Evolve ``steps`` Verlet steps from ``(q0, p0)`` and record the states.

        ``gamma`` is a constant friction in [0, 1) or a schedule from :mod:`chlu_core.schedules`.
        With a ``temperature`` (a constant T or a schedule) this is the Langevin mode: after the friction,
        p ← p + sqrt(2 γ_t T_t dt) ξ with ξ ~ N(0, I) drawn from ``generator``.
        Differentiable through every step when gradients are enabled and the unit has trainable
        weights (or the initial state requires a gradient); otherwise a graph-free fast path.
        Where the inference path is NumPy, the gradient comes from a hand-written reverse pass
        (:mod:`chlu_core.verlet`), exact but not itself differentiable: pass ``twice_differentiable``
        to tape the rollout with autograd instead (a loss on the rollout's Jacobian needs it).
        Raises :class:`DivergenceError` if the states leave the finite numbers (unless
        ``check_finite`` is False).
        """
        check_pair(("q0", "p0"), q0, p0, self.dim)
        steps = check_count("steps", steps, 0)
        record_every = check_count("record_every", record_every, 1)
        dtype = next(self.parameters()).dtype
        if q0.dtype != dtype or p0.dtype != dtype:
            raise ValueError(f"states are {q0.dtype}/{p0.dtype} but the unit is {dtype}; "
                             f"convert one of them (e.g. unit.to({dtype}) or q0.to({dtype}))")
        friction, temperature = as_friction(gamma), as_temperature(temperature)
        differentiable = torch.is_grad_enabled() and (
            q0.requires_grad or p0.requires_grad or any(w.requires_grad for w in self.parameters()))
        xp = self._array_backend(q0, friction)
        if differentiable and (xp is torch or twice_differentiable):
            xp = torch  # taped by autograd

        def noise(shape):
            sample = torch.randn(shape, generator=generator, dtype=q0.dtype, device=q0.device)
            return freeze(sample, xp)

        with numpy_threads_like_torch():
            if differentiable and xp is numpy:
                traj = Trajectory(*adjoint_rollout(self, q0, p0, steps, friction, temperature, noise, record_every))
            else:
                with torch.set_grad_enabled(differentiable):
                    traj = self._integrate(q0, p0, steps, friction, temperature, noise, record_every, xp,
                                           taped=differentiable)
        if check_finite:
            _check_finite(traj, self.dt * record_every)
        return traj

    def _integrate(self, q0, p0, steps, friction, temperature, noise, record_every, xp, taped) -> Trajectory:
        """The rollout on arrays of namespace ``xp``; ``taped``: with the weights' autograd graph."""
        if taped:
            gradient_u = with_confinement(self.potential.gradient, self.alpha)
            velocity = self.kinetic.velocity
            q, p = q0, p0
        else:
            gradient_u = with_confinement(self.potential.frozen_gradient(xp), self.alpha)
            velocity = self.kinetic.frozen_velocity(xp)
            q, p = freeze(q0, xp), freeze(p0, xp)
        # A diverging rollout is reported once, by _check_finite, not as NumPy warnings per step.
        with numpy.errstate(over="ignore", invalid="ignore"):
            qs, ps = integrate(q, p, steps, self.dt, friction, temperature, noise, record_every, gradient_u,
                               velocity, self.hamiltonian)
        return Trajectory(_to_torch(xp.stack(qs)), _to_torch(xp.stack(ps)))

    def _array_backend(self, q0, friction):
        """NumPy where it is exact and faster (a closed-form gradient on the CPU, state-free
        friction); PyTorch otherwise."""
        state_free = isinstance(friction, (ConstantFriction, AnnealedFriction))
        if q0.device.type == "cpu" and self.potential.supports_numpy and state_free:
            return numpy
        return torch

    # --- checkpoints -------------------------------------------------------------------------
    def config(self) -> dict:
        kinetic = self.kinetic.config()
        return {"dim": self.dim, "potential": self.potential.config(), "kinetic": kinetic["mode"],
                "c": kinetic.get("c", 1.0), "m0": kinetic.get("m0", 1.0), "alpha": self.alpha, "dt": self.dt}

    @classmethod
    def from_config(cls, config: dict) -> "CHLU":
        config = dict(config)
        potential = potential_from_config(config.pop("potential"))
        return cls(potential=potential, **config)


def _to_torch(x):
    """A NumPy result as a tensor (zero-copy); tensors pass through."""
    return torch.from_numpy(x) if isinstance(x, numpy.ndarray) else x


def _check_finite(traj: Trajectory, record_dt: float) -> None:
    finite = torch.isfinite(traj.q).all(dim=(1, 2)) & torch.isfinite(traj.p).all(dim=(1, 2))
    if not bool(finite.all()):
        first_bad = int((~finite).nonzero()[0, 0])
        raise DivergenceError(
            f"the rollout diverged (non-finite state) near t = {first_bad * record_dt:.4g}: "
            "the step dt is too large for the learned potential's curvature (dt·ω > 2); "
            "lower dt, raise the friction, or retrain with stronger confinement alpha")
