import dataclasses

import pytest
import torch

from chlu_core import CHLU, LSTMBaseline, MLPPotential
from chlu_core.experiments import sine_waves
from chlu_core.filtering import energy_floor, filtered_run, filtered_runs, friction, mse_against_sigma

CONFIG = dataclasses.replace(sine_waves.PRESETS["quick"], steps=120)


def unit():
    torch.manual_seed(0)
    return CHLU(1, MLPPotential(1, hidden=16), kinetic="relativistic", c=10.0, alpha=0.5, dt=0.05)


def energy(model, run):
    with torch.no_grad():
        from chlu_core.training.wake_sleep import initial_momentum
        return model.hamiltonian(run[..., :1].reshape(-1, 1), initial_momentum(model, run[..., 1:].reshape(-1, 1)))


def test_without_friction_a_chlu_runs_as_in_the_experiment():
    model, start = unit(), torch.tensor([[0.3, 2.0], [-0.5, 1.0]])
    assert torch.allclose(filtered_run(model, start, 50), sine_waves.free_run(model, start, 50), atol=1e-6)


@pytest.mark.parametrize("mode", ["annealed", "governor"])
def test_friction_drains_the_energy_of_a_noisy_start(mode):
    model, start = unit(), torch.tensor([[1.5, 6.0]])
    schedule = friction(mode, 0.2, 0.5, training=sine_waves.make_data(CONFIG)[0])(model)
    free, damped = filtered_run(model, start, 200), filtered_run(model, start, 200, schedule)
    assert energy(model, damped)[-1] < energy(model, free)[-1] - 1e-3


def test_baselines_ignore_friction_and_curves_cover_every_sigma_and_the_oracle():
    torch.manual_seed(0)
    models = {"CHLU": unit(), "LSTM": LSTMBaseline(1, hidden=8)}
    runs = filtered_runs(models, CONFIG, 0.3, friction("annealed", 0.3, 0.5))
    assert not torch.allclose(runs["CHLU"], filtered_runs(models, CONFIG, 0.3)["CHLU"])
    assert torch.equal(runs["LSTM"], filtered_runs(models, CONFIG, 0.3)["LSTM"])
    assert runs["CHLU"].shape == runs["clean"].shape == runs["oracle"].shape
    curves = mse_against_sigma(models, CONFIG, [0.1, 0.5])
    assert set(curves) == {"CHLU", "LSTM", "oracle"} and all(len(v) == 2 for v in curves.values())
    assert curves["oracle"][0] < curves["oracle"][1]


def test_the_governor_floor_is_below_the_training_energies_and_bad_modes_are_clear_errors():
    model, training = unit(), sine_waves.make_data(CONFIG)[0]
    means = energy(model, training).reshape(training.shape[:2]).mean(0)
    floor = energy_floor(model, training)
    assert 0.99 * float(means.min()) - 1e-4 <= floor <= 0.99 * float(means.quantile(0.05)) + 1e-4
    with pytest.raises(ValueError, match="unknown friction mode"):
        friction("sticky")
    with pytest.raises(ValueError, match="training trajectories"):
        friction("governor")


def test_the_governor_floor_can_sit_at_the_median_training_energy():
    model, training = unit(), sine_waves.make_data(CONFIG)[0]
    means = energy(model, training).reshape(training.shape[:2]).mean(0)
    floor = energy_floor(model, training, percentile=50.0, factor=1.0)
    assert floor == pytest.approx(float(means.double().quantile(0.5)), rel=1e-5, abs=1e-4)
    schedule = friction("governor", training=training, floor_percentile=50.0, floor_factor=1.0)(model)
    assert schedule.energy_floor == floor
