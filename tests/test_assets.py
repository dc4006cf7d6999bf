"""The shipped checkpoints of experiments I and II: each loads, matches its manifest hash, and
re-computes its recorded metrics. MNIST's entries (exp3) are checked by that experiment's tests.

Tolerance: relative 2e-2 (absolute 1e-6) on every recorded number, 0.2 on the unfiltered CHLU's
diagnostics (keys ending in ``_unfiltered``). Evaluation is deterministic float32 arithmetic on the
CPU, but its rounding differs between CPUs (NumPy's and torch's kernels pick AVX2 or AVX-512), and a
50-cycle free run carries the difference along: on an AMD EPYC the metrics recorded on an Intel
machine came back within 0.6 %, and the unfiltered CHLU's, whose noisiest starts fly out of the
trained region, within 10 %."""
import math

import pytest

from chlu_core import assets, load
from chlu_core.experiments import get

RTOL, RTOL_UNFILTERED, ATOL = 2e-2, 0.2, 1e-6
FREE_RUN_ATOL = 5e-3  # on positions and velocities of order 1
ENTRIES = {name: entry for name, entry in assets.read_manifest()["files"].items()
           if entry["experiment"] in ("exp1", "exp2")}


def test_every_model_of_experiments_1_and_2_is_shipped():
    shipped = {(e["experiment"], e["model"]) for e in ENTRIES.values()}
    assert shipped == {(exp, model) for exp in ("exp1", "exp2") for model in ("CHLU", "LSTM", "NODE")}


def test_all_assets_stay_under_20_megabytes():
    total = sum(path.stat().st_size for path in assets.ASSETS_DIR.iterdir() if path.is_file())
    assert total < 20e6


@pytest.mark.parametrize("name", sorted(name for name, entry in assets.read_manifest()["files"].items()
                                       if entry.get("model") in ("CHLU", "LSTM", "NODE")))
def test_the_manifest_describes_each_shipped_model_as_its_checkpoint_does(name):
    """The dashboard lists the shipped models from the manifest alone (no torch): kind, d, parameters
    and training config must be the checkpoint's own."""
    entry = assets.read_manifest()["files"][name]
    model, metadata = load(assets.asset_path(name), with_metadata=True)
    kinds = {"CHLU": "CHLU", "LSTMBaseline": "LSTM", "NeuralODEBaseline": "NODE"}
    assert entry["model"] == kinds[type(model).__name__]
    assert entry["dim"] == model.dim
    assert entry["parameters"] == sum(w.numel() for w in model.parameters())
    assert entry["config"] == metadata["config"]
    assert assets.model_fields(model, {**metadata, "model": entry["model"]}) == {
        key: entry[key] for key in ("model", "dim", "parameters", "config")}


def _close(recorded, recomputed, key):
    if isinstance(recorded, list):
        assert len(recorded) == len(recomputed), key
        for a, b in zip(recorded, recomputed):
            _close(a, b, key)
    elif isinstance(recorded, float) and not math.isfinite(recorded):
        assert recorded == recomputed or (math.isnan(recorded) and math.isnan(recomputed)), key
    else:
        rtol = RTOL_UNFILTERED if key.endswith("_unfiltered") else RTOL
        assert recomputed == pytest.approx(recorded, rel=rtol, abs=ATOL), key


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_a_shipped_checkpoint_reproduces_its_recorded_metrics(name):
    entry = ENTRIES[name]
    model, metadata = load(assets.asset_path(name), with_metadata=True)  # asset_path checks the sha256
    module = get(entry["experiment"])
    config = module.Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in metadata["config"].items()})
    assert config == module.PRESETS[entry["preset"]]
    metrics = module.evaluate({entry["model"]: model}, config, seed=entry["seed"])[entry["model"]]
    for key, value in entry["metrics"].items():
        _close(value, metrics[key], key)


EXP2 = {entry["model"]: entry for entry in ENTRIES.values() if entry["experiment"] == "exp2"}


def test_the_shipped_exp2_chlu_keeps_its_speed_limit_and_frequency_filtered_or_not():
    metrics = EXP2["CHLU"]["metrics"]
    for suffix in ("", "_unfiltered"):
        assert max(metrics["max_speed_fd" + suffix]) < metrics["speed_limit"]
        assert max(metrics["max_velocity_channel" + suffix]) < metrics["speed_limit"]
        for frequency in metrics["frequency" + suffix]:
            assert frequency == pytest.approx(metrics["true_frequency"], rel=0.05)


def test_the_shipped_exp2_chlu_on_its_energy_shell_meets_the_noise_filtering_target():
    """The best preset starts the CHLU's free runs on its learned energy shell: at every σ its MSE is
    within 1.5 × the oracle's + 0.05 (the issue's target) and below its unfiltered MSE; unfiltered it
    is not within the target (see chlu_core.experiments.sine_waves)."""
    metrics, oracle = EXP2["CHLU"]["metrics"], EXP2["CHLU"]["oracle_metrics"]
    assert get("exp2").PRESETS[EXP2["CHLU"]["preset"]].free_run_start == "energy_shell"
    for sigma, mse, unfiltered, best in zip(metrics["sigmas"], metrics["mse"], metrics["mse_unfiltered"],
                                            oracle["mse"]):
        assert mse <= 1.5 * best + 0.05, sigma
        assert mse < unfiltered, sigma
    assert any(mse > 1.5 * best + 0.05 for mse, best in zip(metrics["mse_unfiltered"], oracle["mse"]))


def test_the_overviews_precomputed_free_runs_are_the_shipped_models_own(monkeypatch):
    """assets/exp1_free_runs.npz lets the dashboard's first page draw without torch: it must hold exactly
    what the models compute, and be ignored once a model it came from is replaced."""
    import dataclasses as dc

    import numpy

    from chlu_core.experiments import lemniscate
    snapshot = assets.read_free_runs()
    assert snapshot is not None and set(snapshot["runs"]) == {"CHLU", "LSTM", "NODE"}
    config = dc.replace(lemniscate.PRESETS["paper"], free_run_cycles=snapshot["cycles"])
    assert snapshot["steps_per_cycle"] == config.steps_per_cycle
    for name, run in snapshot["runs"].items():
        live = lemniscate.free_run(load(assets.asset_path(f"exp1_{name.lower()}.pt")), config)
        assert run["q"].shape == (snapshot["cycles"] * config.steps_per_cycle + 1, 2)
        # 50 cycles carry CPUs' rounding differences along (see the module docstring): 6e-4 seen
        numpy.testing.assert_allclose(run["q"], live.q[:, 0].numpy(), rtol=0, atol=FREE_RUN_ATOL)
        numpy.testing.assert_allclose(run["v"], live.p[:, 0].numpy(), rtol=0, atol=FREE_RUN_ATOL)
    numpy.testing.assert_allclose(snapshot["truth"], lemniscate.true_curve(400).numpy(), atol=1e-7)

    manifest = assets.read_manifest()
    manifest["files"]["exp1_chlu.pt"]["sha256"] = "0" * 64  # as if the CHLU had been retrained
    monkeypatch.setattr(assets, "read_manifest", lambda *args: manifest)
    assert assets.read_free_runs() is None
