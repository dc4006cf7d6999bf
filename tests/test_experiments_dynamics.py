import dataclasses
import math

import pytest
import torch

from chlu_core.experiments import get
from chlu_core.experiments import lemniscate, sine_waves


def finite(values):
    return all(math.isfinite(v) for v in (values if isinstance(values, list) else [values]))


@pytest.fixture(scope="module")
def exp1_quick():
    return lemniscate.run("quick", seed=0)


@pytest.fixture(scope="module")
def exp2_quick():
    return sine_waves.run("quick", seed=0)


def test_the_registry_finds_both_modules():
    assert get("exp1") is lemniscate and get("exp2") is sine_waves
    for module in (lemniscate, sine_waves):
        assert set(module.PRESETS) == {"paper", "best", "quick"}
        assert dataclasses.replace(module.PRESETS["best"], iterations=3, lr=0.1, dt=0.02, c=3.0, alpha=0.1,
                                   hidden=8).iterations == 3


def test_paper_presets_follow_the_protocol():
    exp1, exp2 = lemniscate.PRESETS["paper"], sine_waves.PRESETS["paper"]
    for config in (exp1, exp2):
        assert (config.iterations, config.lr, config.window_lengths, config.windows_per_iteration) == (1000, 1e-3, (64,), 1)
        assert (config.sleep_every, config.sleep_steps, config.persistent_buffer) == (5, 500, True)
    assert (exp1.kinetic, exp1.steps_per_cycle, exp1.train_cycles, exp1.free_run_cycles) == ("newtonian", 125, 3, 50)
    assert (exp2.kinetic, exp2.c, exp2.alpha, exp2.n_train, exp2.n_waves) == ("relativistic", 5.0, 0.05, 80, 100)


def test_exp1_quick_runs_end_to_end(exp1_quick, tmp_path):
    metrics = exp1_quick.metrics
    assert set(metrics) == {"CHLU", "LSTM", "NODE"}
    for name, values in metrics.items():
        for key in ("orbit_error", "max_distance", "max_radius", "x_extent", "y_extent", "perturbed_orbit_error",
                    "perturbed_max_distance"):
            assert key in values, (name, key)
    assert finite(metrics["CHLU"]["energy_rel_fluctuation"])
    assert set(exp1_quick.figures) == {"fig1_orbits", "fig4_potential_heatmap", "fig4_potential_surface",
                                       "fig4_force_field"}
    assert set(exp1_quick.wall_time_s) == {"CHLU", "LSTM", "NODE"}
    out = exp1_quick.write(tmp_path)
    assert (out / "metrics.json").exists() and (out / "exp1_chlu.pt").exists()
    assert (out / "exp1_fig1_orbits.html").stat().st_size > 10_000


def test_exp1_is_deterministic_under_a_seed(exp1_quick):
    again = lemniscate.run("quick", seed=0, models=("CHLU", "LSTM"))
    for name in ("CHLU", "LSTM"):
        assert again.metrics[name] == exp1_quick.metrics[name]
    other = lemniscate.run("quick", seed=1, models=("CHLU",))
    assert other.metrics["CHLU"] != exp1_quick.metrics["CHLU"]


def test_exp1_free_run_starts_at_the_last_training_state(exp1_quick):
    config = lemniscate.PRESETS["quick"]
    run = lemniscate.free_run(exp1_quick.models["CHLU"], config)
    assert len(run) == config.free_run_cycles * config.steps_per_cycle + 1
    assert torch.allclose(run.q[0, 0], lemniscate.make_data(config)[-1, 0, :2], atol=1e-6)


def test_exp2_quick_runs_end_to_end_and_is_deterministic(exp2_quick):
    config = sine_waves.PRESETS["quick"]
    metrics = exp2_quick.metrics
    assert set(metrics) == {"CHLU", "LSTM", "NODE", "oracle"}
    for values in metrics.values():
        assert values["sigmas"] == list(config.sigmas)
        for key in ("mse", "max_speed_fd", "max_velocity_channel", "kinetic_discrepancy", "frequency"):
            assert len(values[key]) == len(config.sigmas)
    # The relativistic CHLU's own velocity never exceeds its speed limit c/√M, whatever the noise.
    assert max(metrics["CHLU"]["max_velocity_channel"]) < metrics["CHLU"]["speed_limit"]
    assert set(exp2_quick.figures) == {"fig2_kinetic_energy", "fig5_kinetic_q_vs_p", "mse_vs_sigma"}
    assert sine_waves.run("quick", seed=0).metrics == metrics


def test_exp2_noisy_runs_share_the_noisy_start(exp2_quick):
    config = sine_waves.PRESETS["quick"]
    runs = sine_waves.noisy_runs(exp2_quick.models, config, sigma=0.5, seed=0)
    for name in ("oracle", "LSTM", "NODE"):
        assert torch.allclose(runs[name][0], runs["oracle"][0], atol=1e-6)
    assert not torch.allclose(runs["oracle"][0], runs["clean"][0])


@pytest.mark.parametrize("module", [lemniscate, sine_waves])
def test_unknown_presets_and_models_are_rejected(module):
    with pytest.raises(ValueError, match="preset"):
        module.run("fastest")
    with pytest.raises(ValueError, match="models"):
        module.run("quick", models=("GRU",))
