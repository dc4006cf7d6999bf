import json
import os
import signal

import pytest
import torch

from chlu_core import checkpoints, cli, experiments
from chlu_core.experiments import dynamics
from chlu_core.training import TrainingDiverged


def test_help_explains_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "reproduce" in text and "build-assets" in text
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "--help"])
    text = capsys.readouterr().out
    for word in ("exp1", "exp2", "exp3", "all", "--preset", "--seed", "--out", "paper", "best", "quick"):
        assert word in text


def test_a_missing_experiment_is_reported_clearly(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(experiments.EXPERIMENTS, "exp3", "chlu_core.experiments.not_written_yet")
    assert cli.main(["reproduce", "exp3", "--out", str(tmp_path)]) == 2
    assert "exp3: not available yet" in capsys.readouterr().err


def test_reproduce_all_runs_what_exists_and_writes_checkpoints_metrics_and_figures(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(experiments.EXPERIMENTS, "exp3", "chlu_core.experiments.not_written_yet")
    assert cli.main(["reproduce", "all", "--out", str(tmp_path), "--preset", "quick", "--seed", "3"]) == 0
    captured = capsys.readouterr()
    assert "exp3: not available yet" in captured.err
    assert "CHLU" in captured.err  # the tqdm progress bars name the model being trained
    for name, figure in (("exp1", "fig1_orbits"), ("exp2", "mse_vs_sigma")):
        summary = json.loads((tmp_path / name / "metrics.json").read_text())
        assert (summary["experiment"], summary["preset"], summary["seed"]) == (name, "quick", 3)
        assert set(summary["metrics"]) >= {"CHLU", "LSTM", "NODE"}
        for model in ("chlu", "lstm", "node"):
            assert (tmp_path / name / f"{name}_{model}.pt").exists()
        assert (tmp_path / name / f"{name}_{figure}.html").exists()


def test_bad_arguments_exit_with_usage(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["reproduce", "exp1", "--out", "x", "--preset", "fastest"])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("seed", ["-1", "18446744073709551616", "1.5"])
def test_a_seed_out_of_range_exits_with_usage(seed, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["reproduce", "exp1", "--out", "x", "--seed", seed])
    assert exit_.value.code == 2
    assert "invalid seed value" in capsys.readouterr().err


def test_an_out_folder_that_cannot_be_made_is_refused_before_training(tmp_path, capsys, monkeypatch):
    def must_not_train(*args, **kwargs):
        raise AssertionError("trained although the output folder cannot be written")
    monkeypatch.setattr(experiments.get("exp1"), "run", must_not_train)
    a_file = tmp_path / "afile"
    a_file.write_text("")
    assert cli.main(["reproduce", "exp1", "--out", str(a_file)]) == 2
    assert "cannot write to --out" in capsys.readouterr().err


def test_missing_mnist_is_reported_without_a_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CHLU_DATA_DIR", str(tmp_path))
    def offline(self):
        raise OSError("no internet in this test")
    monkeypatch.setattr("torchvision.datasets.MNIST.download", offline)
    assert cli.main(["reproduce", "exp3", "--out", str(tmp_path / "out"), "--preset", "quick"]) == 1
    assert "MNIST files are missing" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing written, no empty folder left


def test_a_model_whose_training_diverges_is_saved_with_its_last_good_weights_and_the_rest_still_train(
        monkeypatch, tmp_path, capsys):
    real = dynamics.train_baseline

    def node_diverges(model, data, config, **kwargs):
        if kwargs["stage"] == "NODE":
            raise TrainingDiverged("training diverged at iteration 4 (loss {'loss': nan}); the model keeps its "
                                   "weights from iteration 0.", iteration=4)
        return real(model, data, config, **kwargs)
    monkeypatch.setattr(dynamics, "train_baseline", node_diverges)
    assert cli.main(["reproduce", "exp1", "--out", str(tmp_path), "--preset", "quick"]) == 1
    assert "exp1: NODE: training diverged at iteration 4" in capsys.readouterr().err
    metrics = json.loads((tmp_path / "exp1" / "metrics.json").read_text())["metrics"]
    assert metrics["NODE"]["diverged_at_iteration"] == 4 and metrics["NODE"]["stopped_early"]
    assert "diverged_at_iteration" not in metrics["CHLU"] and not metrics["LSTM"]["stopped_early"]
    for model in ("chlu", "lstm", "node"):
        checkpoints.load(tmp_path / "exp1" / f"exp1_{model}.pt")


def test_ctrl_c_stops_training_and_still_evaluates_and_saves_what_was_trained(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(experiments.EXPERIMENTS, "exp3", "chlu_core.experiments.not_written_yet")
    real = dynamics.train_chlu

    def interrupted(model, data, config, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # as a user's Ctrl-C, just as training starts
        return real(model, data, config, **kwargs)
    monkeypatch.setattr(dynamics, "train_chlu", interrupted)
    before = signal.getsignal(signal.SIGINT)
    assert cli.main(["reproduce", "all", "--out", str(tmp_path), "--preset", "quick"]) == 130
    assert signal.getsignal(signal.SIGINT) is before  # the usual Ctrl-C is back
    err = capsys.readouterr().err
    assert "Stopping after this iteration" in err and "stopped: exp2 not run" in err
    summary = json.loads((tmp_path / "exp1" / "metrics.json").read_text())
    assert all(summary["metrics"][name]["stopped_early"] for name in ("CHLU", "LSTM", "NODE"))
    assert torch.isfinite(torch.tensor(summary["metrics"]["CHLU"]["orbit_error"]))  # evaluated all the same
    assert (tmp_path / "exp1" / "exp1_chlu.pt").exists() and not (tmp_path / "exp2").exists()
