"""Bad input raises ValueError with a message that says what is wrong."""
import math

import pytest
import torch

from chlu_core import CHLU, AnnealedFriction, EnergyGovernor, LSTMBaseline, MLPPotential, NeuralODEBaseline
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
