"""Bad input raises ValueError with a message that says what is wrong."""
import contextlib
import math

import numpy
import pytest
import torch

from chlu_core import (CHLU, AnnealedFriction, ConstantTemperature, DivergenceError, EnergyGovernor,
                       ExponentialTemperature, LSTMBaseline, MLPPotential, NeuralODEBaseline)
from chlu_core.filtering import project_to_energy, training_energy
from conftest import make_unit

GOOD = torch.zeros(3, 2, dtype=torch.float64)


@pytest.mark.parametrize("q, message", [
    (torch.zeros(3, 3, dtype=torch.float64), r"shape \(batch, 2\)"),
    (torch.zeros(3, dtype=torch.float64), r"shape \(batch, 2\)"),
    (torch.zeros(1, 3, 2, dtype=torch.float64), r"shape \(batch, 2\)"),
    (torch.tensor([[0.0, math.nan]] * 3, dtype=torch.float64), "NaN or inf"),
    (torch.tensor([[math.inf, 0.0]] * 3, dtype=torch.float64), "NaN or inf"),
    (torch.zeros(3, 2, dtype=torch.int64), "floating-point"),
    ([[0.0, 0.0]], "torch.Tensor"),
])
def test_bad_states_are_rejected(q, message):
    unit = make_unit()
    with pytest.raises(ValueError, match=message):
        unit.step(q, GOOD)
    with pytest.raises(ValueError, match=message):
        unit.rollout(GOOD, q, steps=3)


def test_mismatched_batches_and_dtypes_are_rejected():
    unit = make_unit()
    with pytest.raises(ValueError, match="same shape"):
        unit.rollout(GOOD, torch.zeros(2, 2, dtype=torch.float64), steps=3)
    with pytest.raises(ValueError, match="float32.*float64|convert"):
        unit.rollout(GOOD.float(), GOOD.float(), steps=3)


@pytest.mark.parametrize("dt", [0.0, -0.1, math.nan, math.inf])
def test_bad_time_steps_are_rejected(dt):
    with pytest.raises(ValueError, match="dt"):
        CHLU(2, MLPPotential(2), dt=dt)
    with pytest.raises(ValueError, match="dt"):
        NeuralODEBaseline(2, dt=dt)


@pytest.mark.parametrize("gamma", [-0.1, 1.0, 1.5, math.nan])
def test_friction_outside_unit_interval_is_rejected(gamma):
    unit = make_unit()
    with pytest.raises(ValueError, match=r"gamma.*\[0, 1\)"):
        unit.step(GOOD, GOOD, gamma=gamma)
    with pytest.raises(ValueError, match=r"gamma.*\[0, 1\)"):
        AnnealedFriction(gamma, fraction=0.5)


def test_bad_hyper_parameters_are_rejected():
    with pytest.raises(ValueError, match="kinetic mode"):
        CHLU(2, kinetic="quantum")
    with pytest.raises(ValueError, match="speed limit c"):
        CHLU(2, kinetic="relativistic", c=0.0)
    with pytest.raises(ValueError, match="alpha"):
        CHLU(2, alpha=-1.0)
    with pytest.raises(ValueError, match="potential has dim 3"):
        CHLU(2, potential=MLPPotential(3))
    with pytest.raises(ValueError, match="steps"):
        make_unit().rollout(GOOD, GOOD, steps=-1)
    with pytest.raises(ValueError, match="strength"):
        EnergyGovernor(0.0, strength=2.0)


def test_baselines_reject_bad_states_and_windows():
    for model in (LSTMBaseline(2), NeuralODEBaseline(2)):
        with pytest.raises(ValueError, match=r"shape \(batch, 2\)"):
            model.rollout(torch.zeros(3, 4), torch.zeros(3, 4), steps=2)
        with pytest.raises(ValueError, match="NaN or inf"):
            model.rollout(torch.full((3, 2), math.nan), torch.zeros(3, 2), steps=2)
        with pytest.raises(ValueError, match=r"window must have shape \(time, batch, 4\)"):
            model.training_loss(torch.zeros(5, 3, 2))


@pytest.mark.parametrize("value", [-1.0, math.nan])
@pytest.mark.parametrize("path", ["numpy", "adjoint", "torch"])
def test_a_bad_temperature_is_named_with_its_step(value, path):
    unit = make_unit()
    temperature = lambda t, steps: value if t == 1 else 1.0  # noqa: E731
    grad = torch.no_grad() if path == "numpy" else contextlib.nullcontext()
    with grad, pytest.raises(ValueError, match=rf"temperature at step 1 .*got {value}") as error:
        unit.rollout(GOOD, GOOD, 3, gamma=0.3, temperature=temperature,
                     twice_differentiable=path == "torch")
    assert not isinstance(error.value, DivergenceError)


def test_energies_force_and_velocity_reject_the_wrong_dimension():
    unit = make_unit()
    wrong = torch.zeros(3, 3, dtype=torch.float64)
    for energy_of_q in (unit.potential_energy, unit.force):
        with pytest.raises(ValueError, match=r"q must have shape \(batch, 2\)"):
            energy_of_q(wrong)
    with pytest.raises(ValueError, match=r"p must have shape \(batch, 2\)"):
        unit.kinetic_energy(wrong)
    with pytest.raises(ValueError, match=r"q and p must have the same shape, got \(1, 2\) and \(3, 2\)"):
        unit.hamiltonian(GOOD[:1], GOOD)
    with pytest.raises(ValueError, match=r"q must have shape \(batch, 2\)"):
        unit.hamiltonian(wrong, GOOD)
    with pytest.raises(ValueError, match=r"p must have shape \(batch, 2\)"):
        unit.hamiltonian(GOOD, wrong)
    with pytest.raises(ValueError, match=r"p must have shape \(\.\.\., 2\)"):
        unit.velocity(wrong)
    # A trajectory's momenta convert at once, and H of a diverged state is NaN, not an error: a governed
    # rollout evaluates H on every state and must reach its own DivergenceError.
    assert unit.velocity(torch.zeros(4, 3, 2, dtype=torch.float64)).shape == (4, 3, 2)
    assert unit.hamiltonian(GOOD, torch.full((3, 2), math.nan, dtype=torch.float64)).isnan().all()


@pytest.mark.parametrize("steps", [-1, 2.5, True, "3"])
def test_baselines_reject_bad_steps_like_the_unit(steps):
    with pytest.raises(ValueError) as unit_error:
        make_unit().rollout(GOOD, GOOD, steps)
    for model in (LSTMBaseline(2).double(), NeuralODEBaseline(2).double()):
        for grad in (torch.enable_grad, torch.no_grad):
            with grad(), pytest.raises(ValueError) as error:
                model.rollout(GOOD, GOOD, steps)
            assert str(error.value) == str(unit_error.value)


def test_lstm_context_must_match_the_start():
    model = LSTMBaseline(2).double()
    with pytest.raises(ValueError, match=r"context must have the batch of \(q0, v0\), 3, got shape \(5, 2, 4\)"):
        model.rollout(GOOD, GOOD, 2, context=torch.zeros(5, 2, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"context must be a torch.Tensor of shape \(time, batch, 4\)"):
        model.rollout(GOOD, GOOD, 2, context=[[0.0] * 4])
    with pytest.raises(ValueError, match="context contains NaN"):
        model.rollout(GOOD, GOOD, 2, context=torch.full((5, 3, 4), math.nan, dtype=torch.float64))


def test_numpy_numbers_are_accepted():
    unit = CHLU(numpy.int64(2), MLPPotential(numpy.int64(2), hidden=numpy.int64(8), depth=numpy.int64(1)),
                c=numpy.float32(5.0), alpha=numpy.float32(0.1), dt=numpy.float32(0.05)).double()
    assert unit.config()["dim"] == 2 and type(unit.config()["dim"]) is int  # a checkpoint stores plain numbers
    assert unit.dt == pytest.approx(0.05)
    traj = unit.rollout(GOOD, GOOD, numpy.int64(4), gamma=numpy.float32(0.1), record_every=numpy.int64(2),
                        temperature=ConstantTemperature(numpy.float32(1.0)))
    assert len(traj) == 3
    for model in (LSTMBaseline(numpy.int64(2), hidden=numpy.int64(8)).double(),
                  NeuralODEBaseline(numpy.int64(2), hidden=numpy.int64(8), dt=numpy.float32(0.1)).double()):
        assert len(model.rollout(GOOD, GOOD, numpy.int64(3))) == 4


def test_bools_are_not_numbers():
    unit = make_unit()
    with pytest.raises(ValueError, match="steps"):
        unit.rollout(GOOD, GOOD, True)
    with pytest.raises(ValueError, match="record_every"):
        unit.rollout(GOOD, GOOD, 2, record_every=True)
    with pytest.raises(ValueError, match="dt"):
        CHLU(2, dt=True)
    with pytest.raises(ValueError, match="dim"):
        CHLU(True)
    with pytest.raises(ValueError, match="gamma"):
        AnnealedFriction(False, fraction=0.5)


def test_non_numbers_are_rejected_with_what_is_needed():
    for make, message in [(lambda: CHLU(2, alpha="x"), "alpha must be a finite number"),
                          (lambda: CHLU(2, c="5"), "speed limit c"),
                          (lambda: CHLU(2, m0=None), "rest mass m0"),
                          (lambda: ConstantTemperature("1"), "temperature must be a finite number"),
                          (lambda: ExponentialTemperature("1", 0.1), "temperatures must be finite"),
                          (lambda: AnnealedFriction(0.1, fraction="0.5"), "fraction"),
                          (lambda: EnergyGovernor("0"), "energy floor"),
                          (lambda: EnergyGovernor(0.0, strength="1"), "strength")]:
        with pytest.raises(ValueError, match=message):
            make()


@pytest.mark.parametrize("make, name", [
    (lambda: MLPPotential(0), "dim"), (lambda: MLPPotential(2, hidden=0), "hidden"),
    (lambda: MLPPotential(2, depth=0), "depth"), (lambda: MLPPotential(2, hidden=2.5), "hidden"),
    (lambda: LSTMBaseline(2, hidden=0), "hidden"), (lambda: NeuralODEBaseline(2, hidden=0), "hidden"),
    (lambda: LSTMBaseline(0), "dim"),
])
def test_empty_networks_are_rejected(make, name):
    with pytest.raises(ValueError, match=rf"{name} must be an integer ≥ 1"):
        make()


def test_energy_shell_inputs_are_checked():
    unit = make_unit()
    start = torch.zeros(3, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"start must have shape \(batch, 4\), got \(3, 3\)"):
        project_to_energy(unit, torch.zeros(3, 3, dtype=torch.float64), 1.0)
    for energy in (math.nan, math.inf, "1"):
        with pytest.raises(ValueError, match="energy must be a finite number"):
            project_to_energy(unit, start, energy)
    for trajectories in (torch.zeros(5, 3, 3), torch.zeros(5, 4), torch.full((5, 3, 4), math.nan)):
        with pytest.raises(ValueError, match=r"trajectories (must have shape \(time, n, 4\)|contains NaN)"):
            training_energy(unit, trajectories)


def test_a_constant_temperature_may_be_a_plain_number():
    unit = make_unit()
    runs = [unit.rollout(GOOD, GOOD, 5, gamma=0.3, temperature=T, generator=torch.Generator().manual_seed(0))
            for T in (0.5, ConstantTemperature(0.5))]
    assert torch.equal(runs[0].q, runs[1].q) and not torch.equal(runs[0].q, GOOD.expand(6, 3, 2))
    with pytest.raises(ValueError, match="temperature must be a number ≥ 0, a schedule or None"):
        unit.rollout(GOOD, GOOD, 5, gamma=0.3, temperature="warm")
