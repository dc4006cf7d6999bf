"""The dissipative velocity-Verlet loop, and the exact reverse pass of a training rollout.

A rollout of a small unit is dominated by per-operation overhead, not arithmetic: taped by autograd,
every step of a batch-1 rollout costs some hundreds of microseconds. :func:`adjoint_rollout` instead
runs the loop graph-free in NumPy, keeps the states, and differentiates it by hand: the discrete
adjoint of each Verlet step needs only Hessian–vector products of the potential and vector–Jacobian
products of the velocity (both closed-form, linearised for all states at once), and the gradients
of the weights are then one batched autograd call over all the states. The result is the gradient
autograd gives, to rounding (tests/test_adjoint.py).

Shapes: ``q``, ``p`` are ``(batch, dim)``; a rollout's states are ``(steps + 1, batch, dim)``.
"""
from __future__ import annotations

import math

import numpy
import torch
from torch.autograd.function import once_differentiable

from ._backend import freeze, numpy_threads_like_torch

# States × batch rows linearised at once in the reverse pass: their activations (rows × hidden) stay in
# the CPU's cache, and the per-span overhead (the weight-gradient products) stays small against its work.
_ROWS_PER_SPAN = 2048


def with_confinement(gradient_v, alpha: float):
    """q ↦ ∂U/∂q for U = V + α‖q‖², from q ↦ ∂V/∂q."""
    two_alpha = 2.0 * alpha
    if two_alpha == 0.0:
        return gradient_v
    return lambda q: gradient_v(q) + two_alpha * q


def integrate(q, p, steps, dt, friction, temperature, noise, record_every, gradient_u, velocity, energy):
    """The one rollout loop: dissipative velocity Verlet, with friction and Langevin noise from the
    schedules. Works on torch tensors or NumPy arrays alike; returns lists of recorded q and p."""
    half_dt = 0.5 * dt
    qs, ps = [q], [p]
    grad_u = gradient_u(q)  # reused: the second half-kick's gradient is the next step's first
    for t in range(steps):
        gamma = friction(t, steps, q, p, energy)
        p = p - half_dt * grad_u
        q = q + dt * velocity(p)
        grad_u = gradient_u(q)
        p = p - half_dt * grad_u
        if isinstance(gamma, torch.Tensor) or gamma != 0.0:
            p = p * (1.0 - gamma)
            if temperature is not None:
                temperature_t = temperature(t, steps)
                # A negative T makes sigma complex and a NaN one poisons the states (blamed on dt later).
                if not 0.0 <= temperature_t < math.inf:
                    raise ValueError(f"temperature at step {t} must be a finite number ≥ 0, got {temperature_t!r}")
                sigma = (2.0 * gamma * temperature_t * dt) ** 0.5
                p = p + sigma * noise(p.shape)
        if (t + 1) % record_every == 0:
            qs.append(q)
            ps.append(p)
    return qs, ps


def adjoint_rollout(unit, q0: torch.Tensor, p0: torch.Tensor, steps: int, friction, temperature, noise,
                    record_every: int):
    """Recorded states ``(qs, ps)``, each ``(steps // record_every + 1, batch, dim)``, differentiable
    with respect to ``q0``, ``p0`` and the unit's weights by the hand-written reverse pass.

    Needs a potential that supports NumPy (``frozen_gradient`` with a ``record``, ``frozen_curvature``),
    CPU tensors and a state-free friction schedule (its γ_t may not depend on the state);
    ``noise(shape)`` returns NumPy arrays. Langevin noise is additive and independent of the state, so
    the reverse pass ignores it. The reverse pass cannot itself be differentiated (no double backward).
    """
    rollout = _Rollout(unit, steps, friction, temperature, noise, record_every)
    return _VerletAdjoint.apply(rollout, q0, p0, *unit.parameters())


class _Rollout:
    """What the forward and reverse passes share: the unit, the schedules, the stored states."""

    def __init__(self, unit, steps, friction, temperature, noise, record_every):
        self.unit, self.steps, self.friction = unit, steps, friction
        self.temperature, self.noise, self.record_every = temperature, noise, record_every
        self.states = None  # (q, p), each (steps + 1, batch, dim): every state, recorded or not
        self.potential_record = []  # per state, the activations of the potential's gradient, for its curvature

    def forward(self, q0: numpy.ndarray, p0: numpy.ndarray):
        unit = self.unit
        gradient_u = with_confinement(unit.potential.frozen_gradient(numpy, record=self.potential_record),
                                      unit.alpha)
        # A diverging rollout is reported once, by the caller's finiteness check, not as NumPy warnings.
        with numpy.errstate(over="ignore", invalid="ignore"):
            qs, ps = integrate(q0, p0, self.steps, unit.dt, self.friction, self.temperature, self.noise, 1,
                               gradient_u, unit.kinetic.frozen_velocity(numpy), energy=None)
        self.states = numpy.stack(qs), numpy.stack(ps)
        return tuple(states[::self.record_every].copy() for states in self.states)

    def frictions(self):
        """γ_t of every step, from the state-free schedule."""
        return [self.friction(t, self.steps, None, None, None) for t in range(self.steps)]

    def reverse(self, adjoint_qs: numpy.ndarray, adjoint_ps: numpy.ndarray, weights):
        """Adjoints of q0 and p0 ``(batch, dim)`` and the gradients of ``weights`` (None where unused),
        from the adjoints of every state ``(steps + 1, batch, dim)``.

        Step t reads p½ = p_t − (ε/2) g_t, q_{t+1} = q_t + ε q̇(p½), p_{t+1} = (1 − γ_t)(p½ − (ε/2) g_{t+1})
        with g = ∂U/∂q; walking it backwards, g_{t+1} collects −(ε/2) times the adjoints of both
        half-kicks that use it, so each state needs one Hessian–vector product. The walk goes span by
        span of steps, each linearised at once and small enough to stay in the CPU's cache (one pass
        over a whole long rollout is bound by memory bandwidth).
        """
        steps, batch = self.steps, adjoint_qs.shape[1]
        dt, half_dt = self.unit.dt, 0.5 * self.unit.dt
        frictions = self.frictions()
        adjoint_q, adjoint_p = adjoint_qs[-1], adjoint_ps[-1]
        adjoint_half = numpy.zeros_like(adjoint_p)  # of p½ of the step after the current one
        weight_grads = [None] * len(weights)
        span = max(1, _ROWS_PER_SPAN // batch)
        for start in reversed(range(0, max(steps, 1), span)):
            stop = min(start + span, steps)
            curvature, hessian_u, half_momenta, velocity_vjp = self._linearise(start, stop)
            # Adjoints of q̇ at the steps start … stop − 1; those of g = ∂U/∂q are kept by the curvature.
            adjoint_velocity = numpy.empty((stop - start, *adjoint_p.shape), adjoint_p.dtype)
            for i, gamma in reversed(list(enumerate(frictions[start:stop]))):
                t = start + i
                adjoint_kicked = adjoint_p if gamma == 0.0 else (1.0 - gamma) * adjoint_p
                adjoint_q = adjoint_q + hessian_u(i + 1, -half_dt * (adjoint_kicked + adjoint_half))
                adjoint_velocity[i] = dt * adjoint_q
                adjoint_half = adjoint_kicked + velocity_vjp(i, adjoint_velocity[i])
                adjoint_p = adjoint_half + adjoint_ps[t]
                adjoint_q = adjoint_q + adjoint_qs[t]
            if start == 0:
                adjoint_q = adjoint_q + hessian_u(0, -half_dt * adjoint_half)
            span_grads = self._weight_gradients(weights, curvature, adjoint_velocity, half_momenta)
            weight_grads = [a if b is None else b if a is None else a + b for a, b in zip(weight_grads, span_grads)]
        return adjoint_q, adjoint_p, weight_grads

    def _linearise(self, start: int, stop: int):
        """For the steps start … stop − 1: the potential's linearisation at the states start … stop,
        ``(i, v) ↦ ∇²U v`` at state start + i (the products it remembers for the weights), the half-step
        momenta p½ ``(stop − start, batch, dim)`` and ``(i, λ) ↦ (∂q̇/∂p)ᵀ λ`` at p½ of step start + i."""
        unit = self.unit
        states_q, states_p = (states[start:stop + 1] for states in self.states)
        curvature = unit.potential.frozen_curvature(states_q, numpy,
                                                    recorded=self.potential_record[start:stop + 1])
        two_alpha = 2.0 * unit.alpha

        def hessian_u(i, v):  # ∇²U = ∇²V + 2α I
            return curvature.hessian_vector_product(i, v) + two_alpha * v
        half_momenta = states_p[:-1] - (0.5 * unit.dt) * (curvature.gradient[:-1] + two_alpha * states_q[:-1])
        return curvature, hessian_u, half_momenta, unit.kinetic.frozen_velocity_vjp(half_momenta, numpy)

    def _weight_gradients(self, weights, curvature, adjoint_velocity, half_momenta):
        """The rollout depends on the weights θ only through ∂V/∂q at each state (the curvature's
        Hessian–vector products were taken with the adjoints λ_g of those gradients, so it gives
        Σ λ_g · ∂(∂V/∂q)/∂θ) and through q̇ at each half-step momentum (one autograd call for
        Σ λ_q̇ · ∂q̇/∂θ). One gradient per entry of ``weights``, None where unused."""
        unit = self.unit
        grads = dict(zip(map(id, unit.potential.parameters()), curvature.weight_gradients()))
        mass_weights = [w for w in unit.kinetic.parameters() if w.requires_grad]
        if mass_weights:
            with torch.enable_grad():
                surrogate = (unit.kinetic.velocity(torch.from_numpy(half_momenta))
                             * torch.from_numpy(adjoint_velocity)).sum()
                grads.update(zip(map(id, mass_weights), torch.autograd.grad(surrogate, mass_weights)))
        return [grads.get(id(w)) if w.requires_grad else None for w in weights]


class _VerletAdjoint(torch.autograd.Function):
    """(q0, p0, weights…) ↦ recorded (qs, ps); forward and reverse pass by :class:`_Rollout`."""

    @staticmethod
    def forward(ctx, rollout, q0, p0, *weights):
        ctx.rollout = rollout
        qs, ps = rollout.forward(freeze(q0, numpy), freeze(p0, numpy))
        return torch.from_numpy(qs), torch.from_numpy(ps)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_qs, grad_ps):
        rollout = ctx.rollout
        adjoint_qs, adjoint_ps = (_every_state(freeze(grad, numpy), rollout) for grad in (grad_qs, grad_ps))
        with numpy_threads_like_torch():
            adjoint_q, adjoint_p, weight_grads = rollout.reverse(adjoint_qs, adjoint_ps,
                                                                 list(rollout.unit.parameters()))
        return (None, torch.from_numpy(adjoint_q), torch.from_numpy(adjoint_p), *weight_grads)


def _every_state(recorded: numpy.ndarray, rollout: _Rollout) -> numpy.ndarray:
    """Adjoints of the recorded states spread over every state (zero for those not recorded)."""
    if rollout.record_every == 1:
        return recorded
    every = numpy.zeros_like(rollout.states[0])
    every[::rollout.record_every] = recorded
    return every
