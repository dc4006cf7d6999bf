"""Learned potentials V_θ(q) and their gradients ∂V/∂q.

A potential maps positions ``q`` of shape ``(batch, dim)`` to energies of shape ``(batch,)``.
``gradient(q)`` is differentiable with respect to the weights (training); ``frozen_gradient()``
returns a graph-free function for fast inference rollouts.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import torch
from torch import nn

from ._backend import freeze

GradientFn = Callable[[torch.Tensor], torch.Tensor]


class _MLPWeights(NamedTuple):
    """An MLP potential's weights as its hand-written gradient uses them: W_kᵀ ``(in, out)`` for the
    forward pass, W_k ``(out, in)`` for the chain rule back, the biases and the read-out ``(1, hidden)``."""

    forward: list
    backward: list
    biases: list
    readout: Any


class Potential(nn.Module):
    """Base class. Subclasses implement ``forward(q) -> (batch,)``; the gradient defaults to autograd."""

    supports_numpy = False  # closed-form frozen_gradient and frozen_curvature on NumPy arrays

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def gradient(self, q: torch.Tensor) -> torch.Tensor:
        """∂V/∂q, shape ``(batch, dim)``; keeps the graph when gradients are enabled (training)."""
        # Only keep a graph when the caller is differentiating (the sleep phase, training rollouts).
        create_graph = torch.is_grad_enabled()
        with torch.enable_grad():
            q_ = q if q.requires_grad else q.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self(q_).sum(), q_, create_graph=create_graph)
        return grad

    def frozen_gradient(self, xp=torch) -> GradientFn:
        """A function q ↦ ∂V/∂q for inference on arrays of namespace ``xp``; builds no graph.

        Only potentials with a closed-form gradient support ``xp=numpy`` (see :attr:`supports_numpy`).
        """
        if xp is not torch:
            raise ValueError(f"{type(self).__name__} has no NumPy gradient")

        def gradient(q: torch.Tensor) -> torch.Tensor:
            with torch.enable_grad():
                q_ = q.detach().requires_grad_(True)
                (grad,) = torch.autograd.grad(self(q_).sum(), q_)
            return grad
        return gradient

    def frozen_curvature(self, q, xp=torch):
        """The gradient at the states ``q`` ``(time, batch, dim)`` and ``(t, v) ↦ ∇²V(q[t]) v``, for the
        hand-written reverse pass of a rollout; required where :attr:`supports_numpy` is set."""
        raise NotImplementedError

    def config(self) -> dict:
        raise NotImplementedError


class MLPPotential(Potential):
    """V(q) = MLP(q) with tanh hidden layers (dim → hidden → … → 1) and an analytic gradient.

    The analytic gradient costs about a third of autograd's in a batch-1 rollout, which is where the
    per-step Python overhead dominates.
    """

    supports_numpy = True

    def __init__(self, dim: int, hidden: int = 64, depth: int = 2):
        super().__init__(dim)
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.hidden, self.depth = hidden, depth
        sizes = [dim] + [hidden] * depth
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.readout = nn.Linear(hidden, 1)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        h = q
        for layer in self.layers:
            h = torch.tanh(layer(h))
        return self.readout(h).squeeze(-1)

    @staticmethod
    def _activations(q, weights: "_MLPWeights", xp):
        """Hidden activations h_k = tanh(h_{k−1} W_kᵀ + b_k), k = 1 … depth, each ``(..., hidden)``."""
        activations = []
        h = q
        for forward, bias in zip(weights.forward, weights.biases):
            h = xp.tanh(h @ forward + bias)
            activations.append(h)
        return activations

    @classmethod
    def _gradient(cls, q, weights: "_MLPWeights", xp):
        # Forward pass keeping the activations, then the chain rule back by hand:
        # ∂V/∂h_{k−1} = [(1 − h_k²) ⊙ ∂V/∂h_k] W_k.
        upstream = weights.readout
        for backward, h in zip(reversed(weights.backward), reversed(cls._activations(q, weights, xp))):
            upstream = (upstream - upstream * h * h) @ backward
        return upstream

    def gradient(self, q):
        weights = _MLPWeights([l.weight.T for l in self.layers], [l.weight for l in self.layers],
                              [l.bias for l in self.layers], self.readout.weight)
        return self._gradient(q, weights, torch)

    def _frozen_weights(self, xp) -> "_MLPWeights":
        # W_kᵀ transposed once, so that the forward products need no copy. The chain rule back multiplies
        # by its transposed view W_k: a contiguous copy would be faster but round differently, and the
        # shipped models' recorded free runs are reproduced to the bit by this arithmetic.
        forward = [freeze(l.weight.T.contiguous(), xp) for l in self.layers]
        return _MLPWeights(forward, [weight_t.T for weight_t in forward], [freeze(l.bias, xp) for l in self.layers],
                           freeze(self.readout.weight, xp))

    def frozen_gradient(self, xp=torch):
        weights = self._frozen_weights(xp)
        return lambda q: self._gradient(q, weights, xp)

    def frozen_curvature(self, q, xp=torch):
        """Linearise ∂V/∂q at the states ``q`` ``(time, batch, dim)`` for a reverse pass (no graph).

        Returns the gradient ∂V/∂q at every state, ``(time, batch, dim)``, and a function
        ``(t, v) ↦ ∇²V(q[t]) v`` of ``v`` ``(batch, dim)``. The Hessian–vector product is the
        tangent of the hand-written gradient: with slopes s_k = 1 − h_k² and a_k = ∂V/∂h_k,
        d(s_k ⊙ a_k) = −2 h_k s_k a_k ⊙ dz_k + s_k ⊙ da_k; every factor not depending on v is
        computed here, for all states at once, so that each call costs 2·depth products.
        """
        weights = self._frozen_weights(xp)
        activations = self._activations(q, weights, xp)
        slopes = [1.0 - h * h for h in activations]
        curvatures = []  # −2 h_k s_k a_k, last layer first
        upstream = weights.readout
        for backward, h, slope in zip(reversed(weights.backward), reversed(activations), reversed(slopes)):
            curvatures.append(-2.0 * h * slope * upstream)
            upstream = (upstream - upstream * h * h) @ backward  # as in _gradient, to the same rounding
        curvatures.reverse()

        backward = [freeze(l.weight, xp) for l in self.layers]  # contiguous: faster in each call below

        def hessian_vector_product(t, v):
            tangent = v @ weights.forward[0]
            pre_activations = [tangent]  # dz_k = (s_{k−1} ⊙ dz_{k−1}) W_kᵀ
            for forward, slope in zip(weights.forward[1:], slopes):
                tangent = (slope[t] * tangent) @ forward
                pre_activations.append(tangent)
            upstream = None  # da_k, zero at the read-out
            for weight, slope, curvature, dz in zip(reversed(backward), reversed(slopes), reversed(curvatures),
                                                    reversed(pre_activations)):
                du = curvature[t] * dz if upstream is None else curvature[t] * dz + slope[t] * upstream
                upstream = du @ weight
            return upstream
        return upstream, hessian_vector_product

    def config(self):
        return {"kind": "mlp", "dim": self.dim, "hidden": self.hidden, "depth": self.depth}


class ConvPotential(Potential):
    """Energy of a 28×28 image flattened to ``dim = 784``: three stride-2 4×4 convolutions
    (1→16→32→64, SiLU), a linear map of the 64·3·3 features to a scalar, divided by ``scale``."""

    side = 28

    def __init__(self, dim: int = 784, channels: tuple[int, int, int] = (16, 32, 64), scale: float = 100.0):
        super().__init__(dim)
        if dim != self.side * self.side:
            raise ValueError(f"ConvPotential works on 28×28 images (dim = 784), got dim = {dim}")
        c1, c2, c3 = channels
        self.channels, self.scale = tuple(channels), float(scale)
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 4, stride=2, padding=1), nn.SiLU(),   # 28 → 14
            nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.SiLU(),  # 14 → 7
            nn.Conv2d(c2, c3, 4, stride=2, padding=1), nn.SiLU(),  # 7 → 3
            nn.Flatten(),
        )
        self.readout = nn.Linear(c3 * 3 * 3, 1)

    def forward(self, q):
        images = q.reshape(-1, 1, self.side, self.side)
        return self.readout(self.features(images)).squeeze(-1) / self.scale

    def config(self):
        return {"kind": "conv", "dim": self.dim, "channels": list(self.channels), "scale": self.scale}


def potential_from_config(config: dict) -> Potential:
    """Rebuild a potential from :meth:`Potential.config`."""
    config = dict(config)
    kind = config.pop("kind", None)
    if kind == "mlp":
        return MLPPotential(**config)
    if kind == "conv":
        config["channels"] = tuple(config.get("channels", (16, 32, 64)))
        return ConvPotential(**config)
    raise ValueError(f"unknown potential kind {kind!r}; expected 'mlp' or 'conv'")
