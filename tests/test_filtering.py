import dataclasses
import math

import pytest
import torch

from chlu_core import CHLU, LSTMBaseline, MLPPotential
from chlu_core.experiments import sine_waves
from chlu_core.filtering import (filtered_run, filtered_runs, mse_against_sigma, noise_filter, project_to_energy,
                                 training_energy)

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
    schedule = noise_filter(mode, training=sine_waves.make_data(CONFIG)[0], gamma=0.2, fraction=0.5)(model).friction
    free, damped = filtered_run(model, start, 200), filtered_run(model, start, 200, schedule)
    assert energy(model, damped)[-1] < energy(model, free)[-1] - 1e-3


def test_baselines_ignore_friction_and_curves_cover_every_sigma_and_the_oracle():
    torch.manual_seed(0)
    models = {"CHLU": unit(), "LSTM": LSTMBaseline(1, hidden=8)}
    runs = filtered_runs(models, CONFIG, 0.3, noise_filter("annealed", gamma=0.3, fraction=0.5))
    assert not torch.allclose(runs["CHLU"], filtered_runs(models, CONFIG, 0.3)["CHLU"])
    assert torch.equal(runs["LSTM"], filtered_runs(models, CONFIG, 0.3)["LSTM"])
    assert runs["CHLU"].shape == runs["clean"].shape == runs["oracle"].shape
    curves = mse_against_sigma(models, CONFIG, [0.1, 0.5])
    assert set(curves) == {"CHLU", "LSTM", "oracle"} and all(len(v) == 2 for v in curves.values())
    assert curves["oracle"][0] < curves["oracle"][1]


def test_the_governor_floor_is_below_the_training_energies_and_bad_modes_are_clear_errors():
    model, training = unit(), sine_waves.make_data(CONFIG)[0]
    means = energy(model, training).reshape(training.shape[:2]).mean(0)
    floor = training_energy(model, training)
    assert 0.99 * float(means.min()) - 1e-4 <= floor <= 0.99 * float(means.quantile(0.05)) + 1e-4
    with pytest.raises(ValueError, match="unknown friction mode"):
        noise_filter("sticky")
    for settings in (dict(friction="governor"), dict(shell=True)):
        with pytest.raises(ValueError, match="training trajectories"):
            noise_filter(**settings)


def test_the_governor_floor_can_sit_at_the_median_training_energy():
    model, training = unit(), sine_waves.make_data(CONFIG)[0]
    means = energy(model, training).reshape(training.shape[:2]).mean(0)
    floor = training_energy(model, training, percentile=50.0, factor=1.0)
    assert floor == pytest.approx(float(means.double().quantile(0.5)), rel=1e-5, abs=1e-4)
    governed = noise_filter("governor", training=training, percentile=50.0, factor=1.0)(model)
    assert governed.friction.energy_floor == governed.level == floor and governed.shell is None


def harmonic_unit(omega: float = 2.0 * torch.pi) -> CHLU:
    """H = ½p² + ½ω²q² exactly: a zero readout leaves only the confinement α‖q‖², α = ω²/2."""
    model = CHLU(1, MLPPotential(1, hidden=4), kinetic="newtonian", alpha=0.5 * omega**2, dt=0.05).double()
    with torch.no_grad():
        model.potential.readout.weight.zero_()
        model.potential.readout.bias.zero_()
    return model


def test_projecting_a_start_onto_an_energy_shell_keeps_its_phase_and_sets_its_amplitude():
    model, omega = harmonic_unit(), 2.0 * torch.pi
    start = torch.tensor([[1.3, -4.6], [0.2, 1.0], [-0.7, 0.0], [0.0, 8.0]], dtype=torch.float64)
    target = 0.5 * omega**2  # the shell of x = sin(ωt + φ): amplitude 1
    projected = project_to_energy(model, start, target)
    assert torch.allclose(model.hamiltonian(projected[:, :1], projected[:, 1:]),
                          torch.full((4,), target, dtype=torch.float64), rtol=1e-12, atol=0)
    start_energy = 0.5 * start[:, 1] ** 2 + 0.5 * omega**2 * start[:, 0] ** 2
    assert torch.allclose(projected, start * (target / start_energy).sqrt()[:, None], rtol=1e-12, atol=1e-12)
    phase = lambda z: torch.atan2(omega * z[:, 0], z[:, 1])  # noqa: E731
    assert torch.allclose(phase(projected), phase(start), atol=1e-12)
    assert torch.allclose(project_to_energy(model, projected, target), projected, rtol=1e-12, atol=1e-12)


def test_an_energy_shell_out_of_reach_keeps_the_nearest_end_of_the_ray():
    model = harmonic_unit()
    start = torch.tensor([[0.5, 1.0]], dtype=torch.float64)
    assert torch.allclose(project_to_energy(model, start, -1.0), torch.zeros(1, 2, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(project_to_energy(model, start, 1e12), start * 2.0**10, rtol=1e-12)


def test_a_chlu_run_from_its_energy_shell_starts_there_and_the_baselines_ignore_the_shell():
    torch.manual_seed(0)
    model, training = unit(), sine_waves.make_data(CONFIG)[0]
    on_shell = noise_filter(shell=True, training=training, percentile=50.0, factor=1.0)
    level = on_shell(model).shell
    assert level == on_shell(model).level == training_energy(model, training, percentile=50.0, factor=1.0)
    assert on_shell(model).friction == 0.0
    start = torch.tensor([[1.2, 3.0], [-0.3, -2.0]])
    run = filtered_run(model, start, 40, energy=level)
    assert torch.allclose(energy(model, run[0]), torch.full((2,), level), rtol=1e-5)
    assert torch.allclose(run, filtered_run(model, project_to_energy(model, start, level), 40))
    models = {"CHLU": model, "LSTM": LSTMBaseline(1, hidden=8)}
    shelled = filtered_runs(models, CONFIG, 0.3, on_shell)
    plain = filtered_runs(models, CONFIG, 0.3)
    assert torch.equal(shelled["LSTM"], plain["LSTM"]) and not torch.allclose(shelled["CHLU"], plain["CHLU"])


def test_curves_batch_every_sigma_and_mark_only_the_diverging_one(monkeypatch):
    import chlu_core.filtering as filtering
    from chlu_core.unit import DivergenceError
    model, real = unit(), filtering.filtered_run
    per_sigma = {s: mse_against_sigma({"CHLU": model}, CONFIG, [s])["CHLU"][0] for s in (0.1, 0.5)}
    assert mse_against_sigma({"CHLU": model}, CONFIG, [0.1, 0.5])["CHLU"] == pytest.approx(
        [per_sigma[0.1], per_sigma[0.5]], rel=1e-5)

    def diverging_far_out(model, start, steps, schedule=0.0, energy=None):
        if bool((start[:, 0].abs() > 3.0).any()):
            raise DivergenceError("left the finite numbers")
        return real(model, start, steps, schedule, energy)
    monkeypatch.setattr(filtering, "filtered_run", diverging_far_out)
    curves = mse_against_sigma({"CHLU": model}, CONFIG, [0.1, 10.0])
    assert curves["CHLU"][0] == pytest.approx(per_sigma[0.1], rel=1e-5) and curves["CHLU"][1] == float("inf")
    assert all(math.isfinite(v) for v in curves["oracle"])
