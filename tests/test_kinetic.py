"""Kinetic terms: the drift uses ∂H/∂p, the speed limit holds, the velocity map inverts."""
import numpy
import pytest
import torch

from conftest import make_unit


def analytic_velocity(unit, p):
    kinetic = unit.kinetic
    if kinetic.mode == "newtonian":
        return p
    inverse_mass = 1.0 / torch.nn.functional.softplus(kinetic.log_mass)
    if kinetic.mode == "newtonian_learned":
        return inverse_mass * p
    c, m0 = kinetic.c, kinetic.m0
    energy = torch.sqrt(c**2 * (p * p * inverse_mass).sum(-1, keepdim=True) + m0**2 * c**4)
    return c**2 * inverse_mass * p / energy


def test_velocity_is_dH_dp_and_matches_the_closed_form(kinetic):
    unit = make_unit(kinetic)
    p = torch.randn(16, 2, dtype=torch.float64, requires_grad=True)
    q = torch.randn(16, 2, dtype=torch.float64)
    (autograd_velocity,) = torch.autograd.grad(unit.hamiltonian(q, p).sum(), p)
    velocity = unit.velocity(p)
    torch.testing.assert_close(velocity, autograd_velocity, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(velocity, analytic_velocity(unit, p), rtol=1e-12, atol=1e-12)


def test_frozen_velocities_match_the_live_one_in_both_backends(kinetic):
    unit = make_unit(kinetic)
    p = torch.randn(8, 2, dtype=torch.float64)
    expected = unit.velocity(p).detach()
    torch.testing.assert_close(unit.kinetic.frozen_velocity(torch)(p), expected, rtol=1e-14, atol=0)
    numpy_velocity = unit.kinetic.frozen_velocity(numpy)(p.numpy())
    torch.testing.assert_close(torch.from_numpy(numpy_velocity), expected, rtol=1e-14, atol=0)


def test_newtonian_drift_is_not_the_momentum_for_a_learned_mass():
    # The classic bug q += ε p would pass for the identity mass; a learned mass exposes it.
    unit = make_unit("newtonian_learned")
    q, p = torch.zeros(1, 2, dtype=torch.float64), torch.ones(1, 2, dtype=torch.float64)
    unit.potential.readout.weight.data.zero_()
    unit.alpha = 0.0
    q1, _ = unit.step(q, p)
    torch.testing.assert_close(q1, unit.dt * unit.velocity(p).detach())
    assert not torch.allclose(q1, unit.dt * p)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_speed_limit_holds_for_huge_momenta(dtype):
    unit = make_unit("relativistic", dim=3, dtype=dtype, c=5.0)
    magnitudes = 10.0 ** torch.arange(-3, 9, dtype=dtype)  # up to 1e8
    directions = torch.randn(len(magnitudes), 64, 3, dtype=dtype)
    p = (magnitudes[:, None, None] * directions).reshape(-1, 3)
    limit = unit.kinetic.speed_limit().detach()
    mass = torch.nn.functional.softplus(unit.kinetic.log_mass).detach()
    for velocity in (unit.velocity(p).detach(), unit.kinetic.frozen_velocity(torch)(p),
                     torch.from_numpy(unit.kinetic.frozen_velocity(numpy)(p.numpy()))):
        assert torch.isfinite(velocity).all()
        assert (velocity.abs() <= limit).all()
        assert (velocity.abs() <= 5.0 / mass.sqrt() * (1 + 1e-6)).all()
    # And ‖M^{1/2} q̇‖ < c: the limit is on the whole velocity, not only per coordinate.
    assert ((unit.velocity(p).detach().square() * mass).sum(-1).sqrt() <= 5.0 * (1 + 1e-6)).all()


def test_speed_limit_holds_along_a_rollout_with_huge_momenta():
    unit = make_unit("relativistic", c=2.0)
    q0, p0 = torch.zeros(4, 2, dtype=torch.float64), torch.full((4, 2), 1e8, dtype=torch.float64)
    with torch.no_grad():
        traj = unit.rollout(q0, p0, steps=50)
    speeds = (traj.q[1:] - traj.q[:-1]).abs() / unit.dt
    assert (speeds <= unit.kinetic.speed_limit().detach() * (1 + 1e-9)).all()


def test_momentum_inverts_velocity(kinetic):
    unit = make_unit(kinetic)
    p = 3.0 * torch.randn(32, 2, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(unit.kinetic.momentum(unit.velocity(p)), p, rtol=1e-9, atol=1e-9)


def test_momentum_rejects_velocities_beyond_the_speed_limit():
    unit = make_unit("relativistic", c=1.0)
    with pytest.raises(ValueError, match="speed limit"):
        unit.kinetic.momentum(torch.full((1, 2), 10.0, dtype=torch.float64))
