import math

import numpy
import pytest
import torch

from chlu_core.data import CurveDistance, WindowSampler, all_windows, lemniscate_trajectory, noisy_starts, oscillator, sine_waves
from chlu_core.data.lemniscate import EXTENT, curve


def test_lemniscate_velocities_are_the_time_derivative_of_the_positions():
    states = lemniscate_trajectory(cycles=1, steps_per_cycle=2000, dt=0.05 * 125 / 2000, dtype=torch.float64)
    dt = 0.05 * 125 / 2000
    central = (states[2:, :2] - states[:-2, :2]) / (2 * dt)
    assert torch.allclose(central, states[1:-1, 2:], atol=1e-4)


def test_lemniscate_has_the_curve_extents_and_closes_after_one_cycle():
    states = lemniscate_trajectory(cycles=2, steps_per_cycle=500, dtype=torch.float64)
    assert states[:, 0].abs().max() == pytest.approx(EXTENT[0], abs=1e-4)
    assert states[:, 1].abs().max() == pytest.approx(EXTENT[1], abs=1e-4)
    assert torch.allclose(states[0], states[500], atol=1e-12)


def test_curve_distance_is_zero_on_the_curve_and_measures_offsets():
    distance = CurveDistance()
    on_curve = curve(numpy.linspace(0, 2 * math.pi, 97))
    assert distance(on_curve).max() < 1e-4
    assert distance(numpy.array([[2.0, 0.0]]))[0] == pytest.approx(1.0, abs=1e-4)  # nearest point (1, 0)
    assert distance(numpy.array([[0.0, 0.0]]))[0] < 1e-4  # the self-crossing is on the curve


def test_sine_waves_are_seeded_with_consistent_velocities():
    waves = sine_waves(n_waves=5, steps=400, dt=0.01, seed=3, dtype=torch.float64)
    assert waves.shape == (400, 5, 2)
    assert torch.equal(waves, sine_waves(n_waves=5, steps=400, dt=0.01, seed=3, dtype=torch.float64))
    central = (waves[2:, :, 0] - waves[:-2, :, 0]) / 0.02
    assert torch.allclose(central, waves[1:-1, :, 1], atol=5e-3)
    variant = sine_waves(n_waves=50, steps=2000, frequency_range=(0.5, 2.0), seed=0, dtype=torch.float64)
    omega = variant[..., 1].abs().amax(0)  # |ẋ| peaks at ω for amplitude 1
    assert 0.49 < omega.min() < omega.max() <= 2.0 + 1e-9


def test_oscillator_from_a_clean_start_is_the_clean_wave():
    waves = sine_waves(n_waves=4, steps=300, dt=0.05, dtype=torch.float64)
    assert torch.allclose(oscillator(waves[0], 299, 0.05), waves, atol=1e-9)
    assert torch.equal(noisy_starts(waves, 0.0), waves[0])
    assert torch.equal(noisy_starts(waves, 0.3, seed=1), noisy_starts(waves, 0.3, seed=1))


def test_windows_cover_every_start_of_every_trajectory():
    data = torch.arange(2 * 10 * 3, dtype=torch.float32).reshape(10, 2, 3)
    windows = all_windows(data, 4)
    assert windows.shape == (4, 7 * 2, 3)
    assert torch.equal(windows[:, 2 * 5 + 1], data[5:9, 1])
    sampler = WindowSampler(data, (2, 4), iterations=10, per_iteration=3, generator=torch.Generator().manual_seed(0))
    assert [sampler.length_at(i) for i in (0, 4, 5, 9)] == [2, 2, 4, 4]
    assert sampler(7).shape == (4, 3, 3)


def test_strided_windows_start_every_stride_steps():
    data = torch.arange(2 * 10 * 3, dtype=torch.float32).reshape(10, 2, 3)
    windows = all_windows(data, 4, stride=2)
    assert windows.shape == (4, 4 * 2, 3)  # starts 0, 2, 4, 6
    assert torch.equal(windows[:, 2 * 3 + 1], data[6:10, 1])
    sampler = WindowSampler(data, (4,), iterations=2, per_iteration=None, generator=torch.Generator(), stride=3)
    assert torch.equal(sampler(0), all_windows(data, 4, stride=3))


@pytest.mark.parametrize("call", [
    lambda: all_windows(torch.zeros(5, 1, 2), 2, stride=0),
    lambda: all_windows(torch.zeros(5, 1, 2), 6),
    lambda: all_windows(torch.zeros(5, 2), 2),
    lambda: lemniscate_trajectory(steps_per_cycle=2),
    lambda: sine_waves(n_waves=0),
    lambda: noisy_starts(torch.zeros(3, 2, 2), -1.0),
])
def test_bad_input_raises_a_clear_value_error(call):
    with pytest.raises(ValueError):
        call()
