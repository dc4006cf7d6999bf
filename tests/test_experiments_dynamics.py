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
    assert exp2.free_run_friction == "none"  # the paper's free runs are frictionless


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


GOVERNED = dict(free_run_friction="governor", governor_strength=0.05, energy_level_percentile=50.0,
                energy_level_factor=1.0)


def _energies(unit, run):
    from chlu_core.training.wake_sleep import initial_momentum
    with torch.no_grad():
        return unit.hamiltonian(run[..., :1].reshape(-1, 1), initial_momentum(unit, run[..., 1:].reshape(-1, 1))
                                ).reshape(run.shape[:2])


def test_exp2_governor_drains_only_the_chlu_and_only_above_its_floor(exp2_quick):
    config = dataclasses.replace(sine_waves.PRESETS["quick"], **GOVERNED)
    unit = exp2_quick.models["CHLU"]
    filters = sine_waves.free_run_filters(exp2_quick.models, config)
    floor = filters["CHLU"].friction.energy_floor
    training = sine_waves.make_data(config)[0]
    means = _energies(unit, training).mean(0)
    assert floor == pytest.approx(float(means.double().quantile(0.5)), rel=1e-4, abs=1e-4)  # the 50th percentile, factor 1
    assert set(filters) == {"CHLU"} and filters["CHLU"].shell is None  # the baselines run as they are
    governed = sine_waves.noisy_runs(exp2_quick.models, config, sigma=0.5, seed=0)
    free = sine_waves.noisy_runs(exp2_quick.models, config, sigma=0.5, seed=0, filtered=False)
    for name in ("LSTM", "NODE", "oracle"):
        assert torch.equal(governed[name], free[name])
    energy_governed, energy_free = _energies(unit, governed["CHLU"]), _energies(unit, free["CHLU"])
    above = energy_free[0] > floor + 1.0
    below = energy_free.max(0).values < floor  # the governor never acts on these
    assert above.any() and below.any()
    # Friction never adds energy: starts well above the floor end near it; the others run freely.
    assert (energy_governed[-1, above] < energy_free[-1, above] - 0.5).all()
    assert (energy_governed[-1, above] < floor + 0.5).all()
    assert torch.allclose(governed["CHLU"][:, below], free["CHLU"][:, below], atol=1e-4)


def test_exp2_evaluation_under_friction_keeps_the_frictionless_numbers(exp2_quick):
    plain = exp2_quick.metrics
    config = dataclasses.replace(sine_waves.PRESETS["quick"], **GOVERNED)
    metrics = sine_waves.evaluate(exp2_quick.models, config, seed=0)
    for name in ("LSTM", "NODE", "oracle"):
        assert metrics[name] == {k: v for k, v in plain[name].items() if k != "stopped_early"}  # run()'s, not evaluate()'s
    chlu = metrics["CHLU"]
    for key in ("mse", "max_speed_fd", "max_velocity_channel", "kinetic_discrepancy", "frequency"):
        assert chlu[key + "_unfiltered"] == plain["CHLU"][key]
    assert chlu["energy_level"] == sine_waves.free_run_filters(exp2_quick.models, config)["CHLU"].friction.energy_floor
    assert max(chlu["max_velocity_channel"]) <= max(chlu["max_velocity_channel_unfiltered"]) + 1e-6
    figures = sine_waves.figures(exp2_quick.models, config, metrics)
    assert "CHLU (unfiltered)" in {trace.name for trace in figures["mse_vs_sigma"].data}


def test_exp2_energy_shell_starts_move_only_the_chlu_onto_its_training_energy(exp2_quick):
    config = dataclasses.replace(sine_waves.PRESETS["quick"], free_run_start="energy_shell",
                                 energy_level_percentile=50.0, energy_level_factor=1.0)
    unit = exp2_quick.models["CHLU"]
    filters = sine_waves.free_run_filters(exp2_quick.models, config)
    level = filters["CHLU"].shell
    assert set(filters) == {"CHLU"} and filters["CHLU"].friction == 0.0
    assert sine_waves.free_run_filters(exp2_quick.models, sine_waves.PRESETS["quick"]) == {}
    shelled = sine_waves.noisy_runs(exp2_quick.models, config, sigma=0.5, seed=0)
    free = sine_waves.noisy_runs(exp2_quick.models, config, sigma=0.5, seed=0, filtered=False)
    for name in ("LSTM", "NODE", "oracle"):
        assert torch.equal(shelled[name], free[name])
    start_energy = _energies(unit, shelled["CHLU"][:1])[0]
    assert torch.allclose(start_energy, torch.full_like(start_energy, level), rtol=0, atol=1e-3 * abs(level))
    assert not torch.allclose(_energies(unit, free["CHLU"][:1])[0], start_energy, atol=1e-2)
    metrics = sine_waves.evaluate(exp2_quick.models, config, seed=0)
    assert metrics["CHLU"]["energy_level"] == level
    assert metrics["CHLU"]["mse_unfiltered"] == exp2_quick.metrics["CHLU"]["mse"]
    assert "mse_unfiltered" not in metrics["LSTM"]


def test_exp2_config_rejects_unknown_free_run_filters():
    with pytest.raises(ValueError, match="free_run_friction"):
        sine_waves.Config(free_run_friction="sticky")
    with pytest.raises(ValueError, match="free_run_start"):
        sine_waves.Config(free_run_start="anywhere")
    with pytest.raises(ValueError, match="governor_strength"):
        sine_waves.Config(free_run_friction="governor", governor_strength=0.0)


@pytest.mark.parametrize("module", [lemniscate, sine_waves])
def test_unknown_presets_and_models_are_rejected(module):
    with pytest.raises(ValueError, match="preset"):
        module.run("fastest")
    with pytest.raises(ValueError, match="models"):
        module.run("quick", models=("GRU",))


def test_one_diverging_model_keeps_its_last_good_weights_and_the_others_still_train():
    # Stiff confinement: dt·ω = 1·√(2·1e4) ≫ 2, so the CHLU's very first rollout leaves the finite numbers.
    config = dataclasses.replace(lemniscate.PRESETS["quick"], alpha=1e4, dt=1.0)
    result = lemniscate.run(config, seed=0, models=("CHLU", "LSTM"))
    assert set(result.models) == {"CHLU", "LSTM"}
    assert result.metrics["CHLU"]["diverged_at_iteration"] == 1 and result.metrics["CHLU"]["stopped_early"]
    assert not result.metrics["LSTM"]["stopped_early"] and "diverged_at_iteration" not in result.metrics["LSTM"]
    assert result.metrics["LSTM"]["orbit_error"] < 1.0  # trained as usual
    assert [w.split(":")[0] for w in result.warnings] == ["CHLU"] and "diverged at iteration 1" in result.warnings[0]
    assert all(torch.isfinite(w).all() for w in result.models["CHLU"].parameters())


def test_exp2_reports_the_chlus_largest_momentum_beside_its_velocity(exp2_quick):
    chlu, config = exp2_quick.metrics["CHLU"], sine_waves.PRESETS["quick"]
    assert len(chlu["max_momentum"]) == len(chlu["sigmas"]) and "max_momentum" not in exp2_quick.metrics["LSTM"]
    unit = exp2_quick.models["CHLU"]
    index = chlu["sigmas"].index(config.figure_sigma)
    run = sine_waves.noisy_runs({"CHLU": unit}, config, config.figure_sigma, seed=0)["CHLU"]
    with torch.no_grad():
        momentum = unit.kinetic.momentum(run[..., 1:])  # p from the velocity channel ∂H/∂p
    assert chlu["max_momentum"][index] == pytest.approx(momentum.abs().max().item(), rel=1e-6)
    assert chlu["max_velocity_channel"][index] == pytest.approx(run[..., 1].abs().max().item(), rel=1e-6)
