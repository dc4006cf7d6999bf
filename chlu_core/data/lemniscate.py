"""The lemniscate of Bernoulli, traced at constant parameter speed (experiment I).

x = sin s / (1 + cos² s), y = sin s cos s / (1 + cos² s) with s = ω t; one cycle takes
``steps_per_cycle`` steps of ``dt`` (ω = 2π / (steps_per_cycle · dt)), and the velocities are the
analytic time derivatives, so that (q, v) are consistent with the time step the unit integrates.
"""
from __future__ import annotations

import math

import numpy
import torch

# Half-extents of the curve: |x| ≤ 1 (at s = π/2), |y| ≤ 1/(2√2) (at cos² s = 1/3).
EXTENT = (1.0, 1.0 / (2.0 * math.sqrt(2.0)))


def curve(s):
    """Points of the lemniscate at parameters ``s`` (array, any shape) → ``(..., 2)`` NumPy array."""
    s = numpy.asarray(s, dtype=numpy.float64)
    denominator = 1.0 + numpy.cos(s) ** 2
    return numpy.stack([numpy.sin(s) / denominator, numpy.sin(s) * numpy.cos(s) / denominator], axis=-1)


def curve_velocity(s, angular_speed: float):
    """d/dt of :func:`curve` at parameters ``s`` when s = ``angular_speed`` · t → ``(..., 2)``."""
    s = numpy.asarray(s, dtype=numpy.float64)
    sin, cos = numpy.sin(s), numpy.cos(s)
    denominator = 1.0 + cos**2
    # Quotient rule with d(1 + cos² s)/ds = −2 sin s cos s.
    dx = (cos * denominator + 2.0 * sin**2 * cos) / denominator**2
    dy = ((cos**2 - sin**2) * denominator + 2.0 * sin**2 * cos**2) / denominator**2
    return angular_speed * numpy.stack([dx, dy], axis=-1)


def lemniscate_trajectory(cycles: float = 3, steps_per_cycle: int = 125, dt: float = 0.05,
                          phase: float = 0.0, dtype=torch.float32) -> torch.Tensor:
    """States (x, y, ẋ, ẏ) at t = 0, dt, …, shape ``(round(cycles · steps_per_cycle), 4)``."""
    if not (steps_per_cycle >= 4 and cycles > 0 and dt > 0):
        raise ValueError(f"need steps_per_cycle ≥ 4, cycles > 0 and dt > 0; got {steps_per_cycle}, {cycles}, {dt}")
    angular_speed = 2.0 * math.pi / (steps_per_cycle * dt)
    s = phase + angular_speed * dt * numpy.arange(int(round(cycles * steps_per_cycle)))
    states = numpy.concatenate([curve(s), curve_velocity(s, angular_speed)], axis=-1)
    return torch.as_tensor(states, dtype=dtype)


class CurveDistance:
    """Distance from points to the nearest point of the lemniscate (not to the point at the same
    time, so a phase lag is not punished). Exact to about 1e-5 via a dense sampling of the curve."""

    def __init__(self, samples: int = 200_000):
        from scipy.spatial import cKDTree
        self._tree = cKDTree(curve(numpy.linspace(0.0, 2.0 * math.pi, samples, endpoint=False)))

    def __call__(self, points) -> numpy.ndarray:
        """``points`` ``(..., 2)`` → distances ``(...)``."""
        points = numpy.asarray(points, dtype=numpy.float64)
        distances, _ = self._tree.query(points.reshape(-1, 2))
        return distances.reshape(points.shape[:-1])
