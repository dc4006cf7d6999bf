import json

import pytest

from chlu_core import cli, experiments


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
