import math

import numpy
import pytest
import torch

from chlu_core.data import CurveDistance, lemniscate_trajectory, noisy_starts, oscillator, sine_waves
from chlu_core.metrics import dominant_frequency, energy_rel_fluctuation, orbit_metrics, wave_metrics


def test_orbit_metrics_ignore_phase_and_see_a_scaled_orbit():
    distance = CurveDistance()
    q = lemniscate_trajectory(cycles=4, steps_per_cycle=125, dtype=torch.float64)[:, :2]
    lagged = orbit_metrics(q.roll(37, dims=0), distance, 125)
    assert lagged["orbit_error"] < 1e-4 and lagged["max_distance"] < 1e-4
    assert lagged["x_extent"] == pytest.approx(1.0, abs=1e-3)
    scaled = orbit_metrics(1.1 * q, distance, 125)
    assert 0.01 < scaled["orbit_error"] < 0.1
    assert scaled["max_radius"] == pytest.approx(1.1, abs=2e-3)
    assert orbit_metrics(q * float("nan"), distance, 125)["orbit_error"] == float("inf")
    with pytest.raises(ValueError):
        orbit_metrics(q[:, :1], distance, 125)


def test_energy_rel_fluctuation():
    assert energy_rel_fluctuation([2.0, 2.1, 1.9]) == pytest.approx(0.1)


def test_dominant_frequency_resolves_below_the_bin_width():
    t = 0.05 * numpy.arange(1000)
    x = numpy.sin(2 * math.pi * 1.013 * t[:, None] + numpy.array([0.0, 2.0]))
    assert dominant_frequency(x, 0.05) == pytest.approx([1.013, 1.013], abs=2e-3)


def test_wave_metrics_of_the_clean_wave_and_of_the_oracle():
    waves = sine_waves(n_waves=200, steps=1000, dt=0.05, dtype=torch.float64)
    perfect = wave_metrics(waves[..., 0], waves[..., 1], waves, 0.05)
    # Central differences at dt = 0.05 read |q̇| low by sin(ωdt)/(ωdt) ≈ 0.984, so KE by 3 %.
    assert perfect["mse"] == 0 and perfect["kinetic_discrepancy"] < 0.04
    assert perfect["frequency"] == pytest.approx(1.0, abs=1e-3)
    assert perfect["max_speed_fd"] == pytest.approx(2 * math.pi, rel=0.01)
    sigma = 0.3
    oracle = oscillator(noisy_starts(waves, sigma, seed=0), 999, 0.05)
    # The oracle's MSE (mean of both channels) is σ²(2 + ω² + 1/ω²)/4 ≈ 10.4 σ² in expectation.
    expected = sigma**2 * (2 + (2 * math.pi) ** 2 + (2 * math.pi) ** -2) / 4
    assert wave_metrics(oracle[..., 0], oracle[..., 1], waves, 0.05)["mse"] == pytest.approx(expected, rel=0.15)
