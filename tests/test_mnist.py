import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from chlu_core import checkpoints
from chlu_core.assets import asset_path, read_manifest
from chlu_core.data.mnist import data_dir, load_mnist, training_subset
from chlu_core.experiments import get
from chlu_core.experiments import mnist as exp3
from chlu_core.figures import class_histogram, digit_grid, evolution_strip
from chlu_core.potentials import ConvPotential, KernelDensityPotential, SumPotential
from chlu_core.schedules import ExponentialTemperature
from chlu_core.training.generative import (ChainStarts, PCDConfig, PersistentChains, clip_to_box, langevin,
                                          train_pcd)
from chlu_core.training.progress import TrainingDiverged
from chlu_core.unit import CHLU

DATA = Path(__file__).parents[1].parent / "shared" / "data"


@pytest.fixture(scope="module", autouse=True)
def shared_data():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHLU_DATA_DIR", str(DATA))
        yield


@pytest.fixture(scope="module")
def quick_runs():
    """Two quick runs with seed 0."""
    return [exp3.run("quick", seed=0) for _ in range(2)]


def without_times(metrics: dict) -> dict:
    return {name: {k: v for k, v in m.items() if k != "sampling_time_s"} for name, m in metrics.items()}


# --- data ---------------------------------------------------------------------------------------
def test_mnist_loads_as_positions_in_minus_one_to_one():
    images, labels = load_mnist(train=False, root=DATA, download=False)
    assert images.shape == (10_000, 784) and labels.shape == (10_000,)
    assert images.min() == -1.0 and images.max() == 1.0
    assert set(labels.tolist()) == set(range(10))


def test_training_subset_is_seeded():
    a, la = training_subset(100, seed=3, root=DATA, download=False)
    b, lb = training_subset(100, seed=3, root=DATA, download=False)
    c, _ = training_subset(100, seed=4, root=DATA, download=False)
    assert torch.equal(a, b) and torch.equal(la, lb) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="subset size"):
        training_subset(0, seed=0, root=DATA, download=False)


def test_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(ValueError, match=r"MNIST files are missing in .*MNIST/raw.*CHLU_DATA_DIR"):
        load_mnist(root=tmp_path, download=False)


def test_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CHLU_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.delenv("CHLU_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data_dir() == tmp_path / "cache" / "chlu_core" / "data"
    assert data_dir(tmp_path / "x") == tmp_path / "x"


# --- the quick preset end to end -----------------------------------------------------------------
def test_quick_preset_runs_end_to_end(quick_runs, tmp_path):
    result = quick_runs[0]
    config = exp3.PRESETS["quick"]
    assert get("exp3") is exp3 and result.experiment == "exp3" and result.preset == "quick"
    metrics = result.metrics["CHLU"]
    for part in ("samples", "start", "deterministic_control"):
        scores = metrics[part]
        assert sum(scores["histogram"]) == config.samples
        assert 0.0 <= scores["entropy_bits"] <= np.log2(10) + 1e-9
        assert 0.1 <= scores["mean_confidence"] <= 1.0 and 0.0 <= scores["mean_pixel"] <= 1.0
    assert metrics["iterations"] == config.iterations + config.finetune_iterations
    assert isinstance(result.models["CHLU"].potential.parts[1], KernelDensityPotential)  # the layout prior
    assert set(result.figures) == {"digits", "evolution", "class_histogram", "loss"}

    out = result.write(tmp_path)
    written = json.loads((out / "metrics.json").read_text())
    assert written["metrics"]["CHLU"]["samples"] == metrics["samples"]
    for name, model in result.models.items():
        loaded = checkpoints.load(out / f"exp3_{name.lower()}.pt")
        assert type(loaded) is type(model)
        assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))


def test_same_seed_same_metrics(quick_runs):
    first, again = quick_runs
    assert without_times(first.metrics) == without_times(again.metrics)
    # Multi-threaded CPU kernels may differ in the last bits, and Adam turns a near-zero gradient's
    # noise into a full step of size lr = 1e-3: the weights agree to a few such steps.
    for a, b in zip(first.models["CHLU"].parameters(), again.models["CHLU"].parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=5e-3)


def test_unknown_preset_is_rejected():
    with pytest.raises(ValueError, match="unknown preset"):
        exp3.run("fastest")


# --- sampling -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_unit():
    torch.manual_seed(0)
    return exp3.make_unit(exp3.PRESETS["best"]).eval()


def test_sample_records_snapshots_and_is_seeded(small_unit):
    centroid = torch.zeros(784)
    run = exp3.sample(small_unit, centroid, n=4, steps=20, snapshot_steps=(0, 10), seed=5)
    assert run.final.shape == (4, 784) and set(run.snapshots) == {0, 10}
    assert torch.equal(run.snapshots[0], run.start)
    again = exp3.sample(small_unit, centroid, n=4, steps=20, snapshot_steps=(0, 10), seed=5)
    assert torch.equal(run.final, again.final)
    control = exp3.sample(small_unit, centroid, n=4, steps=20, T0=0.0, T_end=0.0, snapshot_steps=(), seed=5)
    assert not torch.equal(control.final, run.final)  # no Langevin noise in the control


@pytest.mark.parametrize("kwargs, message", [
    (dict(T0=1.0, T_end=0.0), "temperatures"),
    (dict(snapshot_steps=(0, 30)), "snapshot steps"),
    (dict(n=0), "n ≥ 1"),
])
def test_sample_rejects_bad_settings(small_unit, kwargs, message):
    with pytest.raises(ValueError, match=message):
        exp3.sample(small_unit, torch.zeros(784), steps=20, **kwargs)


# --- training ---------------------------------------------------------------------------------------
def test_diverging_training_stops_with_a_clear_message_and_keeps_good_weights():
    torch.manual_seed(0)
    unit = exp3.make_unit(exp3.PRESETS["quick"])
    images = 2 * torch.rand(64, 784) - 1
    config = PCDConfig(iterations=30, lr=1e6, buffer_size=64, batch=16, langevin_steps=5)
    with pytest.raises(TrainingDiverged, match="diverged at iteration"):
        train_pcd(unit, images, config)
    assert all(bool(torch.isfinite(w).all()) for w in unit.parameters())


def test_a_run_whose_training_diverges_still_scores_and_saves_the_last_good_unit(tmp_path):
    result = exp3.run(dataclasses.replace(exp3.PRESETS["quick"], lr=1e6), seed=0)
    chlu = result.metrics["CHLU"]
    assert chlu["stopped_early"] and chlu["diverged_at_iteration"] >= 1
    assert len(result.warnings) == 1 and "CHLU: training diverged at iteration" in result.warnings[0]
    assert all(bool(torch.isfinite(w).all()) for w in result.models["CHLU"].parameters())
    assert chlu["samples"]["classes"] >= 1 and "digits" in result.figures  # sampled and scored all the same
    result.write(tmp_path)
    assert (tmp_path / "exp3_chlu.pt").exists() and (tmp_path / "metrics.json").exists()


def test_pcd_rejects_images_of_the_wrong_size():
    unit = exp3.make_unit(exp3.PRESETS["quick"])
    with pytest.raises(ValueError, match=r"images must have shape \(n, 784\)"):
        train_pcd(unit, torch.zeros(8, 100), PCDConfig(iterations=1))
    with pytest.raises(ValueError, match="centroid"):
        train_pcd(unit, torch.zeros(8, 784), PCDConfig(iterations=1, reinit="centroid", buffer_size=64))


def test_chunked_langevin_follows_the_plain_rollout_and_clips():
    """Chunks share one temperature schedule and one noise sequence with the plain rollout; with
    clipping, every recorded state lies in the box."""
    torch.manual_seed(0)
    unit = exp3.make_unit(exp3.PRESETS["best"]).eval()
    q0, p0 = 0.5 * torch.randn(3, 784), 0.1 * torch.randn(3, 784)
    schedule = ExponentialTemperature(1.0, 0.01)
    with torch.no_grad():
        plain = unit.rollout(q0, p0, 20, gamma=0.3, temperature=schedule, generator=torch.Generator().manual_seed(1),
                             record_every=5)
        chunked = langevin(unit, q0, p0, 20, 0.3, schedule, torch.Generator().manual_seed(1), record_every=5,
                           clip_every=20)
        clipped = langevin(unit, q0, p0, 20, 0.3, schedule, torch.Generator().manual_seed(1), record_every=5,
                           clip_every=5)
    torch.testing.assert_close(chunked.q[:-1], plain.q[:-1])
    torch.testing.assert_close(chunked.q[-1], plain.q[-1].clamp(-1, 1))
    assert clipped.q[1:].abs().max() <= 1.0 and plain.q.abs().max() > 1.0


def test_clip_to_box_stops_coordinates_at_the_wall():
    q, p = torch.tensor([[-1.5, 0.25, 3.0]]), torch.tensor([[-0.5, 0.125, 0.75]])
    q_clipped, p_clipped = clip_to_box(q, p)
    assert q_clipped.tolist() == [[-1.0, 0.25, 1.0]]
    assert p_clipped.tolist() == [[0.0, 0.125, 0.0]]


@pytest.mark.parametrize("reinit", ["uniform", "centroid", "data"])
def test_chain_starts_come_from_their_distribution(reinit):
    images = torch.full((5, 784), -1.0)
    config = PCDConfig(reinit=reinit, reinit_noise=0.1, momentum_std=0.2)
    q, p = ChainStarts(config, images, torch.full((784,), 0.5), torch.Generator().manual_seed(0))(400)
    assert q.shape == p.shape == (400, 784) and q.abs().max() <= 1.0
    assert p.std().item() == pytest.approx(0.2, rel=0.05)
    expected_mean = {"uniform": 0.0, "centroid": 0.5, "data": -1.0 + 0.1 * 0.4}[reinit]  # clipped at −1
    assert q.mean().item() == pytest.approx(expected_mean, abs=0.02)


# --- figures ------------------------------------------------------------------------------------------
def test_figure_builders_tile_images_and_count_classes():
    images = np.random.default_rng(0).random((10, 784))
    grid = digit_grid(images, nrow=4)
    assert grid.data[0].z.shape == (3 * 30 - 2, 4 * 30 - 2)
    strip = evolution_strip({0: images, 200: images}, chains=3)
    assert strip.data[0].z.shape == (3 * 30 - 2, 2 * 30 - 2)
    assert list(strip.layout.xaxis.ticktext) == ["step 0", "step 200"]
    bars = class_histogram({"CHLU samples": list(range(10)), "start": [1] * 10})
    assert [list(b.y) for b in bars.data] == [list(range(10)), [1] * 10]


# --- the shipped model ---------------------------------------------------------------------------------
def test_shipped_chlu_reproduces_its_recorded_metrics():
    """Re-sample the shipped CHLU with its recorded seed and settings and re-score with the shipped
    classifier. Tolerance: confidence ± 0.03, mean pixel ± 0.01, entropy ± 0.25 bits, pieces of ink ± 0.1,
    histogram within 6 samples in total (floating-point differences between CPUs may move a few chains)."""
    entry = read_manifest()["files"]["exp3_chlu.pt"]
    unit, metadata = checkpoints.load(asset_path("exp3_chlu.pt"), with_metadata=True)
    classifier = checkpoints.load(asset_path("mnist_classifier.pt"))
    assert isinstance(unit, CHLU)
    fields = {f.name for f in dataclasses.fields(exp3.Config)}
    config = exp3.Config(**{k: tuple(v) if isinstance(v, list) else v
                            for k, v in metadata["config"].items() if k in fields})
    prior = unit.potential.parts[1]  # the recipe's layout prior, as its config says
    assert (prior.components, prior.width, prior.strength) == (config.layout_components, config.layout_width,
                                                                config.data_temperature)
    measured, _ = exp3.evaluate(unit, classifier, exp3.mnist_test_centroid(), config, seed=entry["seed"])
    for part in ("samples", "start", "deterministic_control"):
        recorded, now = entry["metrics"][part], measured[part]
        assert now["mean_confidence"] == pytest.approx(recorded["mean_confidence"], abs=0.03)
        assert now["mean_pixel"] == pytest.approx(recorded["mean_pixel"], abs=0.01)
        assert now["entropy_bits"] == pytest.approx(recorded["entropy_bits"], abs=0.25)
        assert now["mean_ink_pieces"] == pytest.approx(recorded["mean_ink_pieces"], abs=0.1)
        assert sum(abs(a - b) for a, b in zip(now["histogram"], recorded["histogram"])) <= 6


def test_the_dashboards_precomputed_first_dream_is_the_shipped_units_own(monkeypatch):
    """assets/exp3_first_dreams.npz lets the MNIST page draw its first view without dreaming: it must hold
    what the unit dreams with those settings, and be ignored once the unit is replaced. Tolerance: mean
    pixel difference ≤ 0.01 and histograms within 2 samples (other CPUs may round a few chains apart)."""
    from chlu_core import assets
    shipped = assets.read_dreams()
    assert shipped is not None
    unit, metadata = checkpoints.load(asset_path("exp3_chlu.pt"), with_metadata=True)
    assert shipped["settings"] == {**exp3.PREVIEW, "clip_every": exp3.clip_every_of(metadata)}
    assert shipped["source"] == read_manifest()["files"]["exp3_chlu.pt"]["sha256"]
    live = exp3.dream(unit, exp3.shipped_centroid(), exp3.shipped_classifier(), **shipped["settings"])
    assert shipped["final"].shape == (exp3.PREVIEW["n"], 784)
    assert list(shipped["snapshots"]) == list(live["snapshots"]) == [0, 250, 500, 750, 1000]
    for images, expected in [(shipped["final"], live["final"]), (shipped["start"], live["start"]),
                             *zip(shipped["snapshots"].values(), live["snapshots"].values())]:
        assert np.abs(images - expected).mean() <= 0.01
    for part in ("dreams", "start"):
        recorded, now = shipped["scores"][part]["histogram"], live["scores"][part]["histogram"]
        assert sum(abs(a - b) for a, b in zip(recorded, now)) <= 2

    manifest = read_manifest()
    manifest["files"]["exp3_chlu.pt"]["sha256"] = "0" * 64  # as if the unit had been retrained
    monkeypatch.setattr(assets, "read_manifest", lambda *args: manifest)
    assert assets.read_dreams() is None


def test_the_shipped_centroid_is_the_test_sets():
    shipped = exp3.shipped_centroid()
    assert shipped is not None and shipped.shape == (784,) and shipped.dtype == torch.float32
    torch.testing.assert_close(shipped, exp3.mnist_test_centroid(), rtol=0, atol=1e-6)
    assert shipped.min() == -1.0 and shipped.max() < 1.0 and 0.1 < (shipped.mean() + 1) / 2 < 0.2  # a blurry digit


def test_annealed_training_temperature_needs_two_positive_temperatures():
    PCDConfig(temperature=1.0, temperature_end=0.01)
    with pytest.raises(ValueError, match="annealed temperature"):
        PCDConfig(temperature=0.0, temperature_end=0.01)
    with pytest.raises(ValueError, match="annealed temperature"):
        PCDConfig(temperature=1.0, temperature_end=0.0)


def test_short_run_negatives_are_the_samplers_chains():
    """With every chain re-initialised at the noisy centroid and T annealed T0 → T_end over the chain, a
    training negative is exactly a sampler chain of the same length: same start distribution, same noise
    schedule. Checked on the first iteration with lr → 0 (the weights stay put)."""
    torch.manual_seed(0)
    config = dataclasses.replace(exp3.PRESETS["quick"], objective="contrastive", finetune_iterations=0,
                                 layout_components=0, energy="potential", iterations=1,
                                 lr=1e-30, reinit_prob=1.0, batch=8, buffer_size=8, temperature=1.0,
                                 temperature_end=0.01, langevin_steps=12, clip_every=4)
    unit = exp3.make_unit(config)
    centroid = torch.zeros(784)
    captured = []
    energy = unit.potential_energy
    unit.potential_energy = lambda q: (captured.append(q.detach().clone()), energy(q))[1]
    train_pcd(unit, torch.zeros(16, 784), config, centroid=centroid, seed=0)
    negatives = captured[1]
    # Replay the generator: 8 image indices, the positives' noise, the slots, the re-init coin flips,
    # then the chain starts and the chain's own noise.
    generator = torch.Generator().manual_seed(0)
    ChainStarts(config, torch.zeros(16, 784), centroid, generator)(config.buffer_size)
    torch.randint(16, (8,), generator=generator)
    torch.randn((8, 784), generator=generator)
    torch.randperm(8, generator=generator)
    torch.rand(8, generator=generator)
    q0, p0 = ChainStarts(config, torch.zeros(16, 784), centroid, generator)(8)
    with torch.no_grad():
        chain = langevin(unit, q0, p0, 12, config.gamma, ExponentialTemperature(1.0, 0.01), generator,
                         record_every=12, clip_every=4)
    torch.testing.assert_close(negatives, chain.q[-1])
    assert not torch.allclose(negatives, q0) and negatives.abs().max() <= 1.0  # evolved, clipped chains


@pytest.mark.parametrize("objective, finetune, layout, losses", [
    ("denoising", 0, 0, {"loss"}), ("denoising", 3, 5, {"loss", "contrast"}),
    ("contrastive", 0, 0, {"loss", "energy_pos", "energy_neg"})])
def test_the_objective_chooses_the_trainer(objective, finetune, layout, losses):
    config = dataclasses.replace(exp3.PRESETS["quick"], objective=objective, iterations=2, batch=8, buffer_size=8,
                                 langevin_steps=2, finetune_iterations=finetune, finetune_negatives=4,
                                 layout_components=layout)
    torch.manual_seed(0)
    unit = exp3.make_unit(config)
    before = [w.clone() for w in unit.potential.parameters()]
    stages = []
    images = 2 * torch.rand(32, 784) - 1
    log = exp3.train(unit, images, config, centroid=torch.zeros(784), progress=lambda report: stages.append(report.stage))
    assert set(log.history) == losses and log.iterations == len(log.history["loss"]) == 2 + finetune
    assert stages == ["CHLU"] * 2 + ["CHLU fine-tuning"] * finetune
    if finetune:
        assert len(log.history["contrast"]) == finetune
    trained = unit.potential.parts[0] if layout else unit.potential
    assert any(not torch.equal(a, b) for a, b in zip(before, trained.parameters()))
    if layout:  # the trained ConvNet plus the layout prior of the same images, at the data temperature
        assert isinstance(unit.potential, SumPotential) and isinstance(trained, ConvPotential)
        prior = unit.potential.parts[1]
        assert isinstance(prior, KernelDensityPotential)
        assert (prior.components, prior.count, prior.width, prior.strength) == \
            (layout, 32, config.layout_width, config.data_temperature)
        torch.testing.assert_close(prior.mean, images.mean(0))
    else:
        assert isinstance(unit.potential, ConvPotential)
    with pytest.raises(ValueError, match="objective must be one of"):
        exp3.Config(objective="magic")
    with pytest.raises(ValueError, match="only for the denoising objective"):
        exp3.Config(objective="contrastive", finetune_iterations=1)
    with pytest.raises(ValueError, match="finetune_negatives must lie in"):
        exp3.Config(objective="denoising", finetune_iterations=1, finetune_negatives=20_000)
    with pytest.raises(ValueError, match="layout_components must lie in"):
        exp3.Config(objective="contrastive", layout_components=4)
    with pytest.raises(ValueError, match="layout_components must lie in"):
        exp3.Config(objective="denoising", subset=10, layout_components=11)
    with pytest.raises(ValueError, match="layout_width must be > 0"):
        exp3.Config(objective="denoising", layout_width=0.0)


def test_a_view_with_another_potential_trains_the_units_own_modules():
    config = dataclasses.replace(exp3.PRESETS["quick"], c=3.0)
    torch.manual_seed(0)
    unit = exp3.make_unit(config)
    images = 2 * torch.rand(32, 784) - 1
    strokes = unit.potential
    unit.potential = SumPotential(strokes, exp3.layout_prior(images, config))
    view = exp3.with_potential(unit, strokes)  # how the fine-tuning trains the ConvNet of a unit with a prior
    q = images[:4] + 0.1
    with torch.no_grad():
        torch.testing.assert_close(view.potential_energy(q), strokes(q))
        assert view.config()["c"] == 3.0 and view.kinetic is unit.kinetic
        before = unit.potential_energy(q)
        view.potential.readout.bias += 1.0  # a training step on the view shows in the unit's energy
        torch.testing.assert_close(unit.potential_energy(q), before + 1.0 / config.potential_scale)


def test_persistent_chains_evolve_and_keep_what_they_draw():
    config = dataclasses.replace(exp3.PRESETS["quick"], buffer_size=16, batch=16, reinit="centroid", reinit_prob=0.0,
                                 langevin_steps=3, temperature=1.0, temperature_end=0.01)
    torch.manual_seed(0)
    unit = exp3.make_unit(config)
    chains = PersistentChains(config, torch.zeros(4, 784), torch.zeros(784), torch.Generator().manual_seed(0))
    before = chains.q.clone()
    q, p = chains.draw(unit, 16)
    assert q.shape == p.shape == (16, 784) and q.abs().max() <= 1.0
    # 16 distinct slots of 16: every chain is drawn once and written back whole (a slot drawn twice
    # could have stored a mix of two chains)
    assert bool((chains.q != before).any(-1).all())
    assert all((q == row).all(-1).any().item() for row in chains.q)
    with pytest.raises(ValueError, match="can draw 1 to buffer_size = 16 chains"):
        chains.draw(unit, 17)


def test_best_preset_trains_by_score_matching_and_samples_unclipped():
    best = exp3.PRESETS["best"]
    assert best.objective == "denoising" and best.clip_every is None and best.c == 10.0
    # the fine-tuning's negatives are the sampler's chains: from the noisy centroid, annealed as it anneals
    assert best.finetune_iterations > 0 and (best.reinit, best.reinit_noise, best.momentum_std, best.gamma) == \
        ("centroid", best.start_noise, best.start_momentum, best.sample_gamma)
    assert (best.temperature, best.temperature_end) == (best.sample_T0, best.sample_T_end)
    assert (best.sample_gamma, best.sample_T0, best.sample_T_end, best.sample_steps, best.dt, best.start_noise) == \
        (0.3, 1.0, 0.01, 1000, 0.05, 0.5)  # the protocol's sampler


def test_potential_scale_divides_the_convnet_energy():
    torch.manual_seed(0)
    base = exp3.make_unit(exp3.Config())
    scaled = exp3.make_unit(exp3.Config(potential_scale=10.0))
    scaled.load_state_dict(base.state_dict())
    q = torch.rand(3, 784) * 2 - 1
    assert scaled.potential.scale == 10.0 and scaled.potential.config()["scale"] == 10.0
    torch.testing.assert_close(scaled.potential_energy(q), 10.0 * base.potential_energy(q))
