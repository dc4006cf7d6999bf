"""The numbers the paper lacks: orbit keeping (experiment I) and kinetic safety / noise filtering
(experiment II). Pure functions of NumPy arrays or tensors; time in units of the data step dt."""
from __future__ import annotations

import numpy


def _array(x) -> numpy.ndarray:
    return x.detach().cpu().numpy().astype(numpy.float64) if hasattr(x, "detach") else numpy.asarray(x, numpy.float64)


def orbit_metrics(q, distance_to_curve, steps_per_cycle: int, last_cycles: int = 2) -> dict:
    """How well a free run ``q`` ``(time, 2)`` keeps a closed curve.

    ``distance_to_curve`` maps points ``(n, 2)`` to distances ``(n,)`` to the nearest point of the
    curve. Returns orbit_error (mean distance over the last ``last_cycles`` cycles), max_distance
    (over the whole run), max_radius (largest ‖q‖) and x_extent / y_extent (max |x|, max |y| over
    the last cycles). A non-finite run gives infinities.
    """
    q = _array(q)
    if q.ndim != 2 or q.shape[1] != 2:
        raise ValueError(f"q must have shape (time, 2), got {q.shape}")
    tail = q[-last_cycles * steps_per_cycle:]
    if not numpy.isfinite(q).all():
        return {name: float("inf") for name in ("orbit_error", "max_distance", "max_radius", "x_extent", "y_extent")}
    return {"orbit_error": float(distance_to_curve(tail).mean()),
            "max_distance": float(distance_to_curve(q).max()),
            "max_radius": float(numpy.linalg.norm(q, axis=-1).max()),
            "x_extent": float(numpy.abs(tail[:, 0]).max()),
            "y_extent": float(numpy.abs(tail[:, 1]).max())}


def energy_rel_fluctuation(energy) -> float:
    """(max H − min H) / |mean H| of an energy series ``(time,)``."""
    energy = _array(energy)
    return float((energy.max() - energy.min()) / abs(energy.mean()))


def finite_difference_velocity(q, dt: float) -> numpy.ndarray:
    """q̇ by central differences (one-sided at the ends), same shape as ``q`` ``(time, ...)``."""
    return numpy.gradient(_array(q), dt, axis=0)


def dominant_frequency(x, dt: float) -> numpy.ndarray:
    """Dominant frequency (cycles per unit time) of each series in ``x`` ``(time, batch)``: the peak
    of the Hann-windowed spectrum, refined by parabolic interpolation of the log-magnitude."""
    x = _array(x)
    x = x - x.mean(axis=0)
    n = x.shape[0]
    spectrum = numpy.abs(numpy.fft.rfft(x * numpy.hanning(n)[:, None], axis=0))
    peak = numpy.clip(spectrum[1:].argmax(axis=0) + 1, 1, spectrum.shape[0] - 2)
    columns = numpy.arange(x.shape[1])
    left, centre, right = (numpy.log(spectrum[peak + k, columns] + 1e-300) for k in (-1, 0, 1))
    curvature = left - 2 * centre + right
    offset = numpy.where(curvature < 0, 0.5 * (left - right) / numpy.where(curvature < 0, curvature, 1.0), 0.0)
    return (peak + offset) / (n * dt)


def wave_metrics(q, velocity, clean, dt: float) -> dict:
    """Exp II metrics of a free run against the clean waves.

    ``q``, ``velocity``: the model's positions and its own velocity channel (∂H/∂p for the CHLU,
    the predicted q̇ for the baselines), ``(time, batch)``; ``clean``: ``(time, batch, 2)`` (x, ẋ).
    Returns mse (mean over both channels, time and waves), max_speed_fd (max |q̇| by finite
    differences of q), max_velocity_channel (max |velocity|), kinetic_discrepancy (mean
    |½q̇_fd² − ½velocity²| relative to the clean mean ½ẋ²) and frequency (median dominant
    frequency of q, Hz).
    """
    q, velocity, clean = _array(q), _array(velocity), _array(clean)
    if not (numpy.isfinite(q).all() and numpy.isfinite(velocity).all()):
        return {"mse": float("inf"), "max_speed_fd": float("inf"), "max_velocity_channel": float("inf"),
                "kinetic_discrepancy": float("inf"), "frequency": float("nan")}
    speed_fd = finite_difference_velocity(q, dt)
    clean_ke = 0.5 * numpy.mean(clean[..., 1] ** 2)
    return {
        "mse": float(numpy.mean(((q - clean[..., 0]) ** 2 + (velocity - clean[..., 1]) ** 2) / 2)),
        "max_speed_fd": float(numpy.abs(speed_fd).max()),
        "max_velocity_channel": float(numpy.abs(velocity).max()),
        "kinetic_discrepancy": float(numpy.mean(numpy.abs(speed_fd**2 - velocity**2)) / 2 / clean_ke),
        "frequency": float(numpy.median(dominant_frequency(q, dt))),
    }
