"""Learned potentials V_θ(q) and their gradients ∂V/∂q.

A potential maps positions ``q`` of shape ``(batch, dim)`` to energies of shape ``(batch,)``.
``gradient(q)`` is differentiable with respect to the weights (training); ``frozen_gradient()``
returns a graph-free function for fast inference rollouts.
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ._backend import check_count, freeze

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

    supports_numpy = False  # closed-form frozen_gradient (with a record) and frozen_curvature on NumPy arrays

    def __init__(self, dim: int):
        super().__init__()
        self.dim = check_count("dim", dim, 1)

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

    def frozen_curvature(self, q, xp=torch, recorded: Optional[list] = None):
        """Linearise ∂V/∂q at the states ``q`` ``(time, batch, dim)`` for the hand-written reverse pass of
        a rollout (no graph); required where :attr:`supports_numpy` is set. ``recorded``: what
        ``frozen_gradient(xp, record=…)`` recorded at these states (one entry each), reused. Returns an object with
        ``gradient`` ``(time, batch, dim)``, ``hessian_vector_product(t, v)`` for ``v`` ``(batch, dim)``
        and ``weight_gradients()``: Σ_t of ∂(∂V/∂q(q[t]) · v_t)/∂θ over the products asked for, one
        tensor (or None) per parameter in ``parameters()`` order."""
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
        self.hidden, self.depth = check_count("hidden", hidden, 1), check_count("depth", depth, 1)
        sizes = [self.dim] + [self.hidden] * self.depth
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.readout = nn.Linear(self.hidden, 1)

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
    def _gradient(cls, q, weights: "_MLPWeights", xp, record: Optional[list] = None):
        # Forward pass keeping the activations, then the chain rule back by hand:
        # a_{k−1} = ∂V/∂h_{k−1} = [(1 − h_k²) ⊙ a_k] W_k, from a_depth = the read-out to a_0 = ∂V/∂q.
        activations = cls._activations(q, weights, xp)
        upstream = weights.readout
        chain = [upstream]
        for backward, h in zip(reversed(weights.backward), reversed(activations)):
            upstream = (upstream - upstream * h * h) @ backward
            chain.append(upstream)
        if record is not None:
            record.append((activations, chain[::-1]))  # h_1 … h_depth and a_0 … a_depth
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

    def frozen_gradient(self, xp=torch, record: Optional[list] = None):
        """As :meth:`Potential.frozen_gradient`; with a ``record`` list, each call also appends its
        activations and chain-rule factors there, which :meth:`frozen_curvature` can then reuse."""
        weights = self._frozen_weights(xp)
        return lambda q: self._gradient(q, weights, xp, record)

    def frozen_curvature(self, q, xp=torch, recorded: Optional[list] = None) -> "_MLPLinearisation":
        """As :meth:`Potential.frozen_curvature`; ``recorded``: what :meth:`frozen_gradient` recorded at the
        states ``q``, one entry per state, so that they are not computed again."""
        return _MLPLinearisation(self, q, xp, recorded)

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

    def frozen_gradient(self, xp=torch) -> GradientFn:
        """∂V/∂q by a hand-written backward pass (no graph). Autograd's slowest step is the input
        gradient of the first convolution (a transposed convolution to one channel, 8× its forward);
        here it is a stride-1 convolution to the four 2×2 sub-pixel phases (:func:`_subpixel_kernel`),
        which makes experiment III's sampler 1.2× faster; each layer's sigmoid serves both SiLU and its
        slope (1.15× more); activations are kept channels-last, where oneDNN's convolutions and
        transposed convolutions run 1.3–2.3× faster on the CPU (the sampler 1.1× more)."""
        if xp is not torch:
            raise ValueError("ConvPotential has no NumPy gradient")
        convs = [(layer.weight.detach(), layer.bias.detach()) for layer in self.features if isinstance(layer, nn.Conv2d)]
        first_phases = _subpixel_kernel(convs[0][0])
        readout = self.readout.weight.detach() / self.scale  # (1, features)

        def gradient(q: torch.Tensor) -> torch.Tensor:
            x, sides, slopes = q.reshape(-1, 1, self.side, self.side), [], []
            for weight, bias in convs:
                sides.append(x.shape[-1])
                z = F.conv2d(x, weight, bias, stride=2, padding=1).contiguous(memory_format=torch.channels_last)
                sigmoid = torch.sigmoid(z)
                x = z * sigmoid  # SiLU(z), its sigmoid kept for the slope
                slopes.append(torch.addcmul(sigmoid, x, 1.0 - sigmoid))  # SiLU'(z) = σ(z) + SiLU(z)(1 − σ(z))
            upstream = readout.expand(len(x), -1).reshape(x.shape)
            for (weight, _), side, slope in reversed(list(zip(convs, sides, slopes))):
                upstream = (upstream * slope).contiguous(memory_format=torch.channels_last)
                if side == self.side:
                    upstream = _subpixel_input_gradient(upstream, first_phases, side)
                else:
                    upstream = F.conv_transpose2d(upstream, weight, stride=2, padding=1, output_padding=side % 2)
            return upstream.reshape(q.shape)
        return gradient

    def config(self):
        return {"kind": "conv", "dim": self.dim, "channels": list(self.channels), "scale": self.scale}


class SumPotential(Potential):
    """V(q) = Σₖ Vₖ(q) over ``parts`` (each a :class:`Potential` of the same dim): e.g. a trained
    ConvNet plus a :class:`KernelDensityPotential` prior (experiment III). Its frozen gradient is the
    sum of the parts' own fast ones."""

    def __init__(self, *parts: Potential):
        if not parts or not all(isinstance(part, Potential) for part in parts):
            raise ValueError("SumPotential needs one or more Potential parts")
        if len({part.dim for part in parts}) != 1:
            raise ValueError(f"the parts' dims differ: {[part.dim for part in parts]}")
        super().__init__(parts[0].dim)
        self.parts = nn.ModuleList(parts)

    def forward(self, q):
        return sum(part(q) for part in self.parts)

    def frozen_gradient(self, xp=torch) -> GradientFn:
        gradients = [part.frozen_gradient(xp) for part in self.parts]

        def gradient(q: torch.Tensor) -> torch.Tensor:
            return sum(each(q) for each in gradients)
        return gradient

    def config(self):
        return {"kind": "sum", "parts": [part.config() for part in self.parts]}


class KernelDensityPotential(Potential):
    """V(q) = −s·log (1/N) Σₖ exp(−‖Pᵀ(q − μ) − zₖ‖² / 2w²): a Gaussian kernel density of N training
    images in their top ``components`` principal components (mean μ ``(dim,)``, orthonormal basis P
    ``(dim, components)``, the images' coordinates zₖ ``(count, components)``), width w = ``width``,
    strength s = ``strength``. It sees only the coarse layout of an image, so beside a potential
    that models strokes (:class:`SumPotential`) it steers chains toward the layout of some real digit
    and leaves the strokes to the other. Fitted by :meth:`fit`; its gradient is closed-form."""

    def __init__(self, dim: int, components: int, count: int, width: float, strength: float):
        super().__init__(dim)
        self.components = check_count("components", components, 1)
        if components > dim:
            raise ValueError(f"components must be ≤ dim = {dim}, got {components}")
        self.count = check_count("count", count, 1)
        if not (width > 0 and strength > 0):
            raise ValueError(f"width and strength must be > 0, got {width}, {strength}")
        self.width, self.strength = float(width), float(strength)
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("basis", torch.zeros(dim, components))
        self.register_buffer("centres", torch.zeros(count, components))

    @classmethod
    def fit(cls, images: torch.Tensor, components: int, width: float, strength: float) -> "KernelDensityPotential":
        """The density of ``images`` ``(count, dim)`` in their top ``components`` principal components."""
        if images.dim() != 2 or not torch.isfinite(images).all():
            raise ValueError(f"images must be a finite (count, dim) tensor, got shape {tuple(images.shape)}")
        potential = cls(images.shape[1], components, len(images), width, strength).to(images.dtype)
        mean = images.mean(0)
        _, _, right = torch.linalg.svd(images - mean, full_matrices=False)
        basis = right[:components].T.contiguous()
        potential.mean.copy_(mean)
        potential.basis.copy_(basis)
        potential.centres.copy_((images - mean) @ basis)
        return potential

    def forward(self, q):
        coordinates = (q - self.mean) @ self.basis
        logits = -torch.cdist(coordinates, self.centres).square() / (2.0 * self.width ** 2)  # (batch, count)
        return -self.strength * (torch.logsumexp(logits, -1) - math.log(self.count))

    def frozen_gradient(self, xp=torch) -> GradientFn:
        """∂V/∂q = s·P(z − Σₖ rₖ zₖ)/w², r the softmax of the kernels' log-weights. Those are
        (z·zₖ − ½‖zₖ‖²)/w² once the term −½‖z‖²/w², the same for every kernel, is dropped: one
        matrix product per step instead of a distance matrix (the MNIST sampler 1.4–1.8× faster)."""
        if xp is not torch:
            raise ValueError("KernelDensityPotential has no NumPy gradient")
        scaled_centres = (self.centres / self.width ** 2).T.contiguous()  # (components, count)
        offsets = -0.5 * self.centres.square().sum(-1) / self.width ** 2  # (count,)
        stiffness = self.strength / self.width ** 2

        def gradient(q: torch.Tensor) -> torch.Tensor:
            coordinates = (q - self.mean) @ self.basis
            weights = torch.softmax(torch.addmm(offsets, coordinates, scaled_centres), -1)
            return stiffness * (coordinates - weights @ self.centres) @ self.basis.T
        return gradient

    def config(self):
        return {"kind": "kernel_density", "dim": self.dim, "components": self.components, "count": self.count,
                "width": self.width, "strength": self.strength}


def _subpixel_kernel(weight: torch.Tensor) -> torch.Tensor:
    """The input gradient of a 4×4, stride-2, padding-1 convolution with weight ``(out, in, 4, 4)`` as a
    3×3 stride-1 convolution from ``out`` channels to ``4·in`` (each input channel's 2×2 phases, in
    :func:`torch.nn.functional.pixel_shuffle` order). Input pixel 2i + r receives output i + d through
    tap k = r + 1 − 2d, for d ∈ {−1, 0, 1} and k ∈ [0, 4)."""
    out_channels, in_channels = weight.shape[:2]
    phases = weight.new_zeros(in_channels, 2, 2, out_channels, 3, 3)
    for ry in range(2):
        for rx in range(2):
            for ty in range(3):
                for tx in range(3):
                    ky, kx = ry + 3 - 2 * ty, rx + 3 - 2 * tx  # d = t − 1
                    if 0 <= ky < 4 and 0 <= kx < 4:
                        phases[:, ry, rx, :, ty, tx] = weight[:, :, ky, kx].T
    return phases.reshape(4 * in_channels, out_channels, 3, 3)


def _subpixel_input_gradient(upstream: torch.Tensor, phases: torch.Tensor, side: int) -> torch.Tensor:
    """conv_transpose2d of ``upstream`` ``(batch, out, h, h)`` back to ``side × side`` through :func:`_subpixel_kernel`."""
    return F.pixel_shuffle(F.conv2d(upstream, phases, padding=1), 2)[..., :side, :side]


class _MLPLinearisation:
    """:meth:`Potential.frozen_curvature` of an :class:`MLPPotential`.

    The gradient is g = a_0 with a_K = r (the read-out), u_k = s_k ⊙ a_k, a_{k−1} = u_k W_k, and slopes
    s_k = 1 − h_k². ∇²V v is the reverse-mode derivative of g · v with respect to q (the Hessian is
    symmetric), and the same pass yields the weights' derivative: walking the chain with ā_0 = v,
    ū_k = ā_{k−1} W_kᵀ, ā_k = s_k ⊙ ū_k, then z̄_k = c_k ⊙ ū_k + s_k ⊙ z̄_{k+1} W_{k+1} with
    c_k = −2 h_k s_k a_k, and q̄ = z̄_1 W_1. Per product it costs 2·depth matrix products; the
    adjoints it passes are kept so that :meth:`weight_gradients` is one product per weight over all
    states: W̄_k = u_kᵀ ā_{k−1} + z̄_kᵀ h_{k−1}, b̄_k = Σ z̄_k, r̄ = Σ s_K ⊙ ū_K.
    """

    def __init__(self, potential: MLPPotential, q, xp, recorded: Optional[list]):
        self.potential, self.xp, self.q = potential, xp, q
        weights = potential._frozen_weights(xp)
        self.forward = weights.forward
        self.backward = [freeze(l.weight, xp) for l in potential.layers]  # contiguous: faster than the views
        if recorded is None:  # all states in one batch
            recorded = []
            potential._gradient(q, weights, xp, recorded)
            self.activations, chain = recorded[0]
        else:
            self.activations = [xp.stack(per_layer) for per_layer in zip(*(entry[0] for entry in recorded))]
            chain = [xp.stack(per_layer) for per_layer in zip(*(entry[1][:-1] for entry in recorded))]
            chain.append(weights.readout)
        self.gradient = chain[0]
        self.slopes = [1.0 - h * h for h in self.activations]
        self.sensitivities = [slope * upstream for slope, upstream in zip(self.slopes, chain[1:])]  # u_k = s_k a_k
        self.curvatures = [-2.0 * h * u for h, u in zip(self.activations, self.sensitivities)]  # c_k
        # Adjoints passed by each product, zero at states never asked for.
        zeros = (lambda like: xp.zeros_like(like))
        self.chain_adjoints = [zeros(q)] + [zeros(h) for h in self.activations[:-1]]  # ā_{k−1}
        self.output_adjoint = zeros(self.activations[-1])  # ū_K
        self.pre_activation_adjoints = [zeros(h) for h in self.activations]  # z̄_k

    def hessian_vector_product(self, t, v):
        """∇²V(q[t]) v for ``v`` ``(batch, dim)``; remembered for :meth:`weight_gradients`."""
        self.chain_adjoints[0][t] = v
        chain_out = []  # ū_k
        for k, forward in enumerate(self.forward):
            chain_out.append(self.chain_adjoints[k][t] @ forward)
            if k + 1 < len(self.forward):
                self.chain_adjoints[k + 1][t] = self.slopes[k][t] * chain_out[k]
        self.output_adjoint[t] = chain_out[-1]
        downstream = None  # z̄_{k+1} W_{k+1}
        for k in reversed(range(len(self.forward))):
            z_bar = self.curvatures[k][t] * chain_out[k]
            if downstream is not None:
                z_bar = z_bar + self.slopes[k][t] * downstream
            self.pre_activation_adjoints[k][t] = z_bar
            downstream = z_bar @ self.backward[k]
        return downstream

    def weight_gradients(self) -> list:
        """Σ over the products asked for of ∂(g · v)/∂θ, per parameter of the potential (products by torch,
        faster than NumPy's for these tall-and-thin shapes); the read-out bias gets None."""
        def rows(array):
            return torch.as_tensor(array).reshape(-1, array.shape[-1])
        grads = []
        inputs = [self.q] + self.activations[:-1]
        for k in range(len(self.forward)):
            z_bar = rows(self.pre_activation_adjoints[k])
            weight = (rows(self.sensitivities[k]).T @ rows(self.chain_adjoints[k])
                      + z_bar.T @ rows(inputs[k]))
            grads += [weight, z_bar.sum(0)]
        readout = (rows(self.output_adjoint) * rows(self.slopes[-1])).sum(0, keepdim=True)
        return grads + [readout, None]


def potential_from_config(config: dict) -> Potential:
    """Rebuild a potential from :meth:`Potential.config`."""
    config = dict(config)
    kind = config.pop("kind", None)
    if kind == "mlp":
        return MLPPotential(**config)
    if kind == "conv":
        config["channels"] = tuple(config.get("channels", (16, 32, 64)))
        return ConvPotential(**config)
    if kind == "sum":
        return SumPotential(*(potential_from_config(part) for part in config["parts"]))
    if kind == "kernel_density":
        return KernelDensityPotential(**config)
    raise ValueError(f"unknown potential kind {kind!r}; expected 'mlp', 'conv', 'sum' or 'kernel_density'")
