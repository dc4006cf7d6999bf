"""The hand-written reverse pass of a training rollout (chlu_core.verlet) gives autograd's gradients."""
import functools

import numpy
import pytest
import torch

from chlu_core import AnnealedFriction, ConstantTemperature, ConvPotential, EnergyGovernor, MLPPotential
from chlu_core import verlet
from chlu_core.training.wake_sleep import WakeSleepConfig, WakeSleepTrainer
from chlu_core.unit import CHLU
from conftest import make_unit

FRICTIONS = {"none": 0.0, "constant": 0.2, "annealed": AnnealedFriction(0.3, 0.5)}


@pytest.fixture(params=[2048, 6], ids=["one span", "many spans"])
def rows_per_span(request, monkeypatch):
    """Also walk the reverse pass in spans of a few steps, as a long rollout does."""
    monkeypatch.setattr(verlet, "_ROWS_PER_SPAN", request.param)


def loss_gradients(unit, q0, p0, taped, **rollout_options):
    """Gradients of a loss on every recorded state and on the last state's energy, with respect to
    q0, p0 and every weight (None where the loss does not depend on it)."""
    traj = unit.rollout(q0, p0, 30, twice_differentiable=taped, **rollout_options)
    weights = torch.linspace(-1.0, 1.0, traj.q.numel(), dtype=q0.dtype).reshape(traj.q.shape)
    loss = (weights * traj.q).sum() + (weights.flip(0) * traj.p).sum() + unit.hamiltonian(traj.q[-1], traj.p[-1]).sum()
    return torch.autograd.grad(loss, [q0, p0, *unit.parameters()], allow_unused=True)


def assert_same_gradients(fast, reference, rel=1e-10):
    for a, b in zip(fast, reference):
        assert (a is None) == (b is None)
        if b is not None:
            assert (a - b).abs().max().item() <= rel * (1.0 + b.abs().max().item())


@pytest.mark.parametrize("friction", FRICTIONS.values(), ids=FRICTIONS.keys())
@pytest.mark.parametrize("record_every", [1, 3])
def test_reverse_pass_matches_autograd(kinetic, friction, record_every, rows_per_span):
    unit = make_unit(kinetic)
    q0 = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    p0 = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    options = dict(gamma=friction, record_every=record_every)
    assert_same_gradients(loss_gradients(unit, q0, p0, taped=False, **options),
                          loss_gradients(unit, q0, p0, taped=True, **options))


def test_langevin_noise_leaves_the_reverse_pass_unchanged(kinetic):
    unit = make_unit(kinetic)
    q0 = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    p0 = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    gradients = [loss_gradients(unit, q0, p0, taped, gamma=0.3, temperature=ConstantTemperature(0.5),
                                generator=torch.Generator().manual_seed(1)) for taped in (False, True)]
    assert_same_gradients(*gradients)


def test_gradcheck_of_the_initial_state(kinetic):
    unit = make_unit(kinetic, hidden=8)
    q0 = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    p0 = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)

    def rollout(q, p):
        traj = unit.rollout(q, p, 6, gamma=0.1, record_every=2)
        return traj.q, traj.p
    assert torch.autograd.gradcheck(rollout, (q0, p0))


def test_weight_gradient_matches_finite_differences(kinetic):
    unit = make_unit(kinetic, hidden=8)
    q0, p0 = torch.randn(3, 2, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    weights = list(unit.parameters())
    direction = [torch.randn_like(w) for w in weights]

    def loss():
        traj = unit.rollout(q0, p0, 20, gamma=0.1)
        return traj.q.square().sum() + traj.p.sin().sum()
    gradients = torch.autograd.grad(loss(), weights, allow_unused=True)
    analytic = sum((g * d).sum() for g, d in zip(gradients, direction) if g is not None)
    eps = 1e-6
    with torch.no_grad():
        values = []
        for sign in (1.0, -1.0):
            for w, d in zip(weights, direction):
                w.add_(sign * eps * d)
            values.append(loss())
            for w, d in zip(weights, direction):
                w.sub_(sign * eps * d)
    numeric = (values[0] - values[1]) / (2 * eps)
    assert analytic.item() == pytest.approx(numeric.item(), rel=1e-7)


@pytest.mark.parametrize("friction", [0.0, 0.2], ids=["no friction", "friction"])
def test_wake_and_sleep_loss_gradients_match_autograd(kinetic, friction, monkeypatch):
    """The trainer's own losses, with the rollout taped by autograd or reversed by hand."""
    torch.manual_seed(0)
    data = torch.randn(40, 2, 4, dtype=torch.float64).cumsum(0) * 0.05
    config = WakeSleepConfig(iterations=10, window_lengths=(16,), windows_per_iteration=3, sleep_steps=25,
                             sleep_batch=4, buffer_size=8)
    gradients = []
    for taped in (False, True):
        unit = make_unit(kinetic)
        rollout = functools.partial(unit.rollout, twice_differentiable=taped)
        if friction:
            rollout = functools.partial(rollout, gamma=friction)
        monkeypatch.setattr(unit, "rollout", rollout)
        trainer = WakeSleepTrainer(unit, data, config, seed=0)
        losses = [trainer.wake_loss(3)["wake_mse"], trainer.sleep_loss()]
        gradients.append([torch.autograd.grad(loss, list(unit.parameters()), allow_unused=True)
                          for loss in losses])
    for fast, reference in zip(*gradients):
        assert_same_gradients(fast, reference)


def test_the_reverse_pass_refuses_a_second_derivative():
    unit = make_unit()
    q0 = torch.randn(1, 2, dtype=torch.float64, requires_grad=True)
    traj = unit.rollout(q0, torch.zeros(1, 2, dtype=torch.float64), 3)
    (grad,) = torch.autograd.grad(traj.q[-1].sum(), q0, create_graph=True)
    with pytest.raises(RuntimeError):  # an error, not a silently wrong second derivative
        grad.sum().backward()
    taped = unit.rollout(q0, torch.zeros(1, 2, dtype=torch.float64), 3, twice_differentiable=True)
    (grad,) = torch.autograd.grad(taped.q[-1].sum(), q0, create_graph=True)
    grad.sum().backward()  # taped by autograd: twice differentiable


def test_state_dependent_friction_and_conv_potentials_are_taped():
    unit = make_unit()
    q0, p0 = torch.randn(2, 2, dtype=torch.float64), torch.randn(2, 2, dtype=torch.float64)
    traj = unit.rollout(q0, p0, 5, gamma=EnergyGovernor(0.0))
    assert traj.q.grad_fn is not None and "VerletAdjoint" not in type(traj.q.grad_fn).__name__
    conv = CHLU(784, ConvPotential(), kinetic="newtonian")
    traj = conv.rollout(torch.rand(1, 784), torch.zeros(1, 784), 2)
    assert "VerletAdjoint" not in type(traj.q.grad_fn).__name__
    traj = unit.rollout(q0, p0, 5)
    assert "VerletAdjoint" in type(traj.q.grad_fn).__name__


def test_mlp_curvature_is_the_autograd_hessian_with_or_without_a_record():
    torch.manual_seed(0)
    potential = MLPPotential(3, hidden=16, depth=3).double()
    q = torch.randn(4, 5, 3, dtype=torch.float64)
    v = torch.randn(5, 3, dtype=torch.float64)
    hessian = torch.autograd.functional.hessian(lambda x: potential(x).sum(), q[2])  # (5, 3, 5, 3)
    expected = torch.einsum("bicj,cj->bi", hessian, v)
    record = []
    gradient = potential.frozen_gradient(numpy, record=record)
    for state in q.numpy():
        gradient(state)
    for curvature in (potential.frozen_curvature(q.numpy(), numpy),
                      potential.frozen_curvature(q.numpy(), numpy, recorded=record)):
        numpy.testing.assert_allclose(curvature.gradient, potential.gradient(q).detach().numpy(), atol=1e-14)
        numpy.testing.assert_allclose(curvature.hessian_vector_product(2, v.numpy()), expected.numpy(), atol=1e-13)
