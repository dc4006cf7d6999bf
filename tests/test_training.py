import dataclasses
import math

import pytest
import torch

from chlu_core import CHLU, LSTMBaseline, MLPPotential, NeuralODEBaseline
from chlu_core.data import lemniscate_trajectory
from chlu_core.training import TrainingDiverged, WakeSleepConfig, train_baseline, train_chlu
from chlu_core.training.progress import train_loop
from chlu_core.training.wake_sleep import (WakeSleepTrainer, clamp_weight, initial_momentum,
                                           max_log_singular_value, rollout_observed)

from conftest import make_unit

DATA = lemniscate_trajectory(cycles=1, steps_per_cycle=60)[:, None]
SHORT = WakeSleepConfig(iterations=40, lr=1e-2, window_lengths=(8,), windows_per_iteration=None,
                        clamp_start=1.0, sleep_every=0)


def test_initial_momentum_inverts_the_velocity_map(kinetic):
    unit = make_unit(kinetic, dim=2, c=5.0)
    velocity = torch.tensor([[0.3, -1.2], [2.0, 0.5]], dtype=torch.float64)
    assert torch.allclose(unit.velocity(initial_momentum(unit, velocity)), velocity, atol=1e-9)


def test_velocities_beyond_the_speed_limit_are_scaled_below_it():
    unit = make_unit("relativistic", dim=1, c=2.0)
    momentum = initial_momentum(unit, torch.tensor([[50.0]], dtype=torch.float64))
    assert torch.isfinite(momentum).all()
    assert unit.velocity(momentum).abs().item() < unit.kinetic.speed_limit().item()



def test_a_state_at_rest_trains_a_relativistic_unit_without_nan():
    # A trajectory that starts at rest: √ of a zero speed once made the mass's gradient NaN.
    unit = make_unit("relativistic", dim=2, c=5.0)
    initial_momentum(unit, torch.zeros(3, 2, dtype=torch.float64)).sum().backward()
    assert torch.isfinite(unit.kinetic.log_mass.grad).all()
    t = 0.05 * torch.arange(20, dtype=torch.float64)
    released = torch.stack([t.cos(), 0.5 * t.cos(), -t.sin(), -0.5 * t.sin()], dim=-1)[:, None]  # at rest at t = 0
    log = train_chlu(unit, released, dataclasses.replace(SHORT, iterations=3))
    assert all(math.isfinite(value) for value in log.history["wake_mse"])

def test_wake_rollout_starts_from_the_data_and_reports_velocities():
    unit = make_unit("relativistic", dim=2)
    start = DATA[0].double()
    observed = rollout_observed(unit, start, 5)
    assert observed.shape == (6, 1, 4)
    assert torch.allclose(observed[0], start, atol=1e-9)


def test_clamp_anneals_linearly_over_the_first_half():
    config = WakeSleepConfig(iterations=100)
    assert clamp_weight(config, 0) == 1000.0
    assert clamp_weight(config, 25) == pytest.approx(500.5)
    assert clamp_weight(config, 50) == clamp_weight(config, 99) == 1.0


def test_wake_sleep_training_fits_the_windows_and_reports_progress():
    torch.manual_seed(0)
    unit = CHLU(2, MLPPotential(2, hidden=16), kinetic="newtonian", alpha=1e-6)
    reports = []
    log = train_chlu(unit, DATA, SHORT, progress=reports.append)
    assert [r.iteration for r in reports] == list(range(1, 41)) and reports[-1].stage == "CHLU"
    mse = log.history["wake_mse"]
    assert sum(mse[-5:]) < 0.35 * sum(mse[:5])
    assert all(r.elapsed >= 0 for r in reports)


def test_persistent_buffer_keeps_the_evolved_states_unless_switched_off():
    for persistent in (True, False):
        torch.manual_seed(0)
        unit = CHLU(2, MLPPotential(2, hidden=8), kinetic="newtonian", alpha=0.05)
        config = WakeSleepConfig(iterations=2, window_lengths=(8,), sleep_every=1, sleep_steps=5, sleep_batch=4, buffer_size=8,
                                 persistent_buffer=persistent)
        trainer = WakeSleepTrainer(unit, DATA, config)
        before = trainer.buffer.clone()
        losses = trainer(0)
        assert "sleep" in losses and math.isfinite(losses["sleep"])
        assert (not torch.equal(before, trainer.buffer)) == persistent


def test_lyapunov_max_variant_is_finite_and_the_mean_variant_costs_nothing():
    unit = make_unit("newtonian", dim=2)
    states = DATA[:4, 0].double()
    value = max_log_singular_value(unit, states[:, :2], states[:, 2:])
    assert torch.isfinite(value) and value.item() >= -1e-9  # det J = 1 ⇒ the largest σ is ≥ 1
    trainer = WakeSleepTrainer(unit, DATA.double(), WakeSleepConfig(window_lengths=(8,), lyapunov="mean", sleep_every=0))
    assert "lyapunov" not in trainer.wake_loss(0)


def test_a_callback_can_stop_training_early():
    unit = CHLU(2, MLPPotential(2, hidden=8), kinetic="newtonian")
    log = train_chlu(unit, DATA, SHORT, progress=lambda report: report.iteration < 3)
    assert log.stopped_early and log.iterations == 3


def test_a_diverging_run_stops_with_a_clear_message_and_keeps_the_last_good_weights():
    torch.manual_seed(0)
    # Stiff confinement: dt·ω = 1·√(2·1e4) ≫ 2, so the very first rollout leaves the finite numbers.
    unit = CHLU(2, MLPPotential(2, hidden=8), kinetic="newtonian", alpha=1e4, dt=1.0)
    initial = {k: v.clone() for k, v in unit.state_dict().items()}
    long_windows = WakeSleepConfig(iterations=5, window_lengths=(50,), windows_per_iteration=None, sleep_every=0)
    with pytest.raises(TrainingDiverged, match="diverged at iteration 1"):
        train_chlu(unit, DATA, long_windows)
    assert all(torch.equal(initial[k], v) for k, v in unit.state_dict().items())


def test_the_weights_kept_after_a_divergence_gave_a_finite_loss():
    # A step's loss is computed on the weights before its update. Here w grows by 0.11 per step and the loss
    # is infinite once w > 1, as when a too-large optimiser step precedes a rollout that blows up: step 11
    # (w = 1.1) diverges, and the copy taken after step 10 would hold exactly those weights.
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.constant_(model.weight, 0.0)

    def step(i):
        w = model.weight.item()
        with torch.no_grad():
            model.weight += 0.11
        return {"loss": math.inf if w > 1 else w}
    with pytest.raises(TrainingDiverged, match="diverged at iteration 11 .* weights from iteration 5"):
        train_loop(model, step, 50, checkpoint_every=5)
    assert model.weight.item() == pytest.approx(5 * 0.11)  # step 6 evaluated them: loss 0.55


@pytest.mark.parametrize("model_class", [LSTMBaseline, NeuralODEBaseline])
def test_baselines_train_on_the_same_windows(model_class):
    torch.manual_seed(0)
    model = model_class(2, hidden=16)
    log = train_baseline(model, DATA, SHORT, stage="baseline")
    assert log.iterations == 40
    assert sum(log.history["loss"][-5:]) < 0.5 * sum(log.history["loss"][:5])


def test_bad_configs_and_data_raise_value_errors():
    with pytest.raises(ValueError):
        WakeSleepConfig(window_lengths=(1,))
    with pytest.raises(ValueError):
        WakeSleepConfig(lyapunov="median")
    with pytest.raises(ValueError, match="window_stride"):
        WakeSleepConfig(window_stride=0)
    with pytest.raises(ValueError):
        train_chlu(CHLU(2), torch.zeros(10, 1, 3), SHORT)
