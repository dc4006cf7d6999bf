"""One safe checkpoint format: round trips, atomic writes, clear errors, no code execution."""
import io
import os
import pickle
import random

import pytest
import torch

import chlu_core
from chlu_core import (CHLU, CheckpointError, ConvPotential, KernelDensityPotential, LSTMBaseline, MLPPotential,
                       NeuralODEBaseline, SumPotential, load, save)

MODELS = {
    "chlu": lambda: CHLU(2, MLPPotential(2, hidden=16), kinetic="relativistic", c=3.0, m0=0.5, alpha=0.1, dt=0.02),
    "chlu_conv": lambda: CHLU(784, ConvPotential(), kinetic="newtonian_learned", dt=0.05),
    "chlu_conv_layout": lambda: CHLU(784, SumPotential(ConvPotential(), KernelDensityPotential.fit(
        torch.rand(20, 784) * 2 - 1, components=4, width=0.5, strength=0.1)), c=10.0, dt=0.05),
    "lstm": lambda: LSTMBaseline(2, hidden=16),
    "node": lambda: NeuralODEBaseline(1, hidden=16, dt=0.1),
}


@pytest.mark.parametrize("kind", MODELS)
def test_round_trip_gives_identical_outputs(kind, tmp_path):
    torch.manual_seed(0)
    model = MODELS[kind]()
    path = save(model, tmp_path / "model.pt", metadata={"experiment": "test", "metrics": {"mse": 0.5}})
    loaded, metadata = load(path, with_metadata=True)
    assert type(loaded) is type(model)
    assert metadata == {"experiment": "test", "metrics": {"mse": 0.5}}
    dim = model.dim
    q0, p0 = torch.rand(3, dim) - 0.5, 0.1 * torch.randn(3, dim)
    with torch.no_grad():
        expected, actual = model.rollout(q0, p0, steps=5), loaded.rollout(q0, p0, steps=5)
    assert torch.equal(expected.q, actual.q) and torch.equal(expected.p, actual.p)
    assert loaded.config() == model.config()


def test_bytes_round_trip_and_library_version():
    model = MODELS["chlu"]()
    data = chlu_core.to_bytes(model)
    payload = torch.load(io.BytesIO(data), weights_only=True)
    assert payload["library_version"] == chlu_core.__version__
    assert isinstance(load(data), CHLU)


def test_truncated_file_raises(tmp_path):
    path = save(MODELS["chlu"](), tmp_path / "model.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load(path)


def test_random_bytes_raise(tmp_path):
    path = tmp_path / "random.pt"
    path.write_bytes(random.Random(0).randbytes(4096))  # seeded: the same bytes, and the same message, every run
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load(path)


def test_foreign_torch_file_raises(tmp_path):
    path = tmp_path / "state_dict.pt"
    torch.save(MODELS["lstm"]().state_dict(), path)
    with pytest.raises(CheckpointError, match="no format marker"):
        load(path)


class Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # the exploit file is a plain pickle
def test_loading_never_executes_code(tmp_path):
    marker = tmp_path / "pwned"
    Exploit.marker = marker
    path = tmp_path / "evil.pt"
    torch.save({"format": "chlu-checkpoint", "payload": Exploit()}, path)
    with pytest.raises(CheckpointError):
        load(path)
    path.write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(CheckpointError):
        load(path)
    assert not marker.exists()


def test_incompatible_checkpoint_raises(tmp_path):
    path = save(MODELS["chlu"](), tmp_path / "model.pt")
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["potential.layers.0.weight"] = torch.zeros(3, 3)
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="does not match a CHLU"):
        load(path)
    payload["format_version"] = 99
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="format version 99"):
        load(path)


def test_write_is_atomic(tmp_path, monkeypatch):
    path = save(MODELS["lstm"](), tmp_path / "model.pt", metadata={"version": 1})

    def crash(*args):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save(MODELS["lstm"](), path, metadata={"version": 2})
    monkeypatch.undo()
    assert load(path, with_metadata=True)[1] == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_written_files_get_the_umask_permissions_as_open_gives(tmp_path):
    previous = os.umask(0o022)
    try:
        path = save(MODELS["lstm"](), tmp_path / "model.pt")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644


def test_metadata_must_be_plain_data(tmp_path):
    with pytest.raises(TypeError, match="JSON"):
        save(MODELS["lstm"](), tmp_path / "m.pt", metadata={"bad": object()})
    with pytest.raises(TypeError, match="must be a dict"):
        save(MODELS["lstm"](), tmp_path / "m.pt", metadata=[1, 2, 3])


def _rewrite(path, **changes):
    """Edit a saved checkpoint's payload in place (to forge a bad file)."""
    payload = torch.load(path, weights_only=True)
    payload.update(changes)
    torch.save(payload, path)


def test_metadata_that_is_not_a_json_object_is_refused(tmp_path):
    path = save(MODELS["lstm"](), tmp_path / "model.pt")
    _rewrite(path, metadata="[1, 2, 3]")
    with pytest.raises(CheckpointError, match="metadata is a list"):
        load(path)


def test_a_small_file_asking_for_a_huge_model_is_refused_before_it_is_built(tmp_path):
    path = save(MODELS["lstm"](), tmp_path / "model.pt")
    _rewrite(path, config='{"dim": 2, "hidden": 1000000}')  # 4·10¹² weights if built
    with pytest.raises(CheckpointError, match="shape"):
        load(path)


def test_nan_weights_are_neither_saved_nor_loaded(tmp_path):
    model = MODELS["chlu"]()
    path = save(model, tmp_path / "model.pt")
    with torch.no_grad():
        model.potential.layers[0].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite weights"):
        save(model, path)
    assert torch.isfinite(load(path).potential.layers[0].weight).all()  # the good file is kept
    _rewrite(path, state_dict=model.state_dict())  # forged
    with pytest.raises(CheckpointError, match="NaN"):
        load(path)


def test_saving_onto_a_directory_names_the_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        save(MODELS["lstm"](), tmp_path)


def test_an_unknown_device_is_a_value_error(tmp_path):
    path = save(MODELS["lstm"](), tmp_path / "model.pt")
    with pytest.raises(ValueError, match="map_location"):
        load(path, map_location="bogus")


def test_loading_a_checkpoint_stays_light():
    """The meta-device check must not reach torch's Python reference kernels: they import its compiler
    (2 s and 140 MB, which made the dashboard's first Energy page 2.5 s slower)."""
    import subprocess
    import sys
    code = ("import sys, chlu_core; from chlu_core import assets; "
            "[chlu_core.load(assets.asset_path(f)) for f in ('exp1_chlu.pt', 'exp2_chlu.pt', 'exp3_chlu.pt', "
            "'exp2_lstm.pt', 'exp2_node.pt', 'mnist_classifier.pt')]; print('torch._dynamo' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
