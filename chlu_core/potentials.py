"""Learned potentials V_θ(q) and their gradients ∂V/∂q.

A potential maps positions ``q`` of shape ``(batch, dim)`` to energies of shape ``(batch,)``.
``gradient(q)`` is differentiable with respect to the weights (training); ``frozen_gradient()``
returns a graph-free function for fast inference rollouts.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ._backend import freeze

GradientFn = Callable[[torch.Tensor], torch.Tensor]


class Potential(nn.Module):
    """Base class. Subclasses implement ``forward(q) -> (batch,)``; the gradient defaults to autograd."""

    supports_numpy = False

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
    def _gradient(q, weights, biases, readout_weight, xp):
        # Forward pass keeping the activations, then the chain rule back by hand:
        # ∂V/∂h_k = W_{k+1}ᵀ [(1 − h_{k+1}²) ⊙ ∂V/∂h_{k+1}].
        activations = []
        h = q
        for weight_t, bias in zip(weights, biases):
            h = xp.tanh(h @ weight_t + bias)
            activations.append(h)
        upstream = readout_weight
        for weight_t, h in zip(reversed(weights), reversed(activations)):
            upstream = (upstream - upstream * h * h) @ weight_t.T
        return upstream

    def gradient(self, q):
        return self._gradient(q, [l.weight.T for l in self.layers], [l.bias for l in self.layers],
                              self.readout.weight, torch)

    def frozen_gradient(self, xp=torch):
        # Transposed once, so that each step multiplies without a copy.
        weights = [freeze(l.weight.T.contiguous(), xp) for l in self.layers]
        biases = [freeze(l.bias, xp) for l in self.layers]
        readout_weight = freeze(self.readout.weight, xp)
        return lambda q: self._gradient(q, weights, biases, readout_weight, xp)

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
