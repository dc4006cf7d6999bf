"""The dissipative velocity-Verlet integrator: symplectic, reversible, second order, bounded energy."""
import math

import pytest
import torch

from chlu_core import (CHLU, AnnealedFriction, ConstantTemperature, EnergyGovernor, ExponentialTemperature,
                       MLPPotential, momentum_temperature)
from chlu_core.reference import rk4_rollout
from conftest import make_unit


def step_jacobian(unit, z, gamma):
    dim = unit.dim

    def step(state):
        q1, p1 = unit.step(state[:, :dim], state[:, dim:], gamma=gamma)
        return torch.cat([q1, p1], dim=-1)
    return torch.autograd.functional.jacobian(step, z)[0, :, 0, :]


@pytest.mark.parametrize("dim", [2, 3])
def test_one_step_jacobian_has_unit_determinant(kinetic, dim):
    unit = make_unit(kinetic, dim=dim)
    for seed in range(3):
        torch.manual_seed(seed)
        z = torch.randn(1, 2 * dim, dtype=torch.float64)
        det = torch.linalg.det(step_jacobian(unit, z, gamma=0.0))
        assert abs(det.item() - 1.0) < 1e-10


@pytest.mark.parametrize("gamma", [0.1, 0.5])
def test_friction_contracts_volume_by_one_minus_gamma_to_the_dim(kinetic, gamma):
    unit = make_unit(kinetic, dim=3)
    z = torch.randn(1, 6, dtype=torch.float64)
    det = torch.linalg.det(step_jacobian(unit, z, gamma=gamma))
    assert det.item() == pytest.approx((1 - gamma) ** 3, rel=1e-10)


def test_step_is_time_reversible(kinetic):
    unit = make_unit(kinetic)
    q, p = torch.randn(8, 2, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)
    with torch.no_grad():
        q1, p1 = unit.step(q, p)
        q2, p2 = unit.step(q1, -p1)
    assert (q2 - q).abs().max() < 1e-10
    assert (p2 + p).abs().max() < 1e-10
    assert (q1 - q).abs().max() > 1e-3  # the step did move the state


def test_long_rollout_is_reversible():
    unit = make_unit("relativistic")
    q, p = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    with torch.no_grad():
        forward = unit.rollout(q, p, steps=1000)
        back = unit.rollout(forward.q[-1], -forward.p[-1], steps=1000)
    assert (back.q[-1] - q).abs().max() < 1e-8


def harmonic_unit(kinetic="newtonian", dt=0.05):
    """H = ½‖p‖² + ½‖q‖²: a zero MLP potential and α = ½, so the period is 2π."""
    unit = CHLU(1, MLPPotential(1, hidden=8), kinetic=kinetic, alpha=0.5, dt=dt).double()
    with torch.no_grad():
        unit.potential.readout.weight.zero_()
    return unit


def test_second_order_on_the_harmonic_oscillator():
    q0, p0 = torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([[0.0]], dtype=torch.float64)
    errors = []
    for steps in (100, 200, 400):
        unit = harmonic_unit(dt=2 * math.pi / steps)
        with torch.no_grad():
            traj = unit.rollout(q0, p0, steps=steps)
        errors.append(math.hypot(traj.q[-1].item() - 1.0, traj.p[-1].item()))
    for coarse, fine in zip(errors, errors[1:]):
        assert coarse / fine == pytest.approx(4.0, rel=0.05)


def test_second_order_for_every_kinetic_mode_on_a_learned_potential(kinetic):
    q0, p0 = torch.tensor([[0.3, -0.2]], dtype=torch.float64), torch.tensor([[0.5, 0.4]], dtype=torch.float64)
    horizon = 2.0
    final = {}
    for steps in (40, 80, 160, 2560):
        unit = make_unit(kinetic, dt=horizon / steps)
        with torch.no_grad():
            traj = unit.rollout(q0, p0, steps=steps)
        final[steps] = torch.cat([traj.q[-1], traj.p[-1]], -1)
    errors = [(final[s] - final[2560]).norm().item() for s in (40, 80, 160)]
    for coarse, fine in zip(errors, errors[1:]):
        assert 3.6 < coarse / fine < 4.4


def band(energy_error, part):
    n = len(energy_error) // 10
    chunk = energy_error[:n] if part == "first" else energy_error[-n:]
    return chunk.abs().max().item(), chunk.abs().mean().item()


def test_energy_error_stays_in_a_band_while_rk4_drifts():
    unit = make_unit("newtonian", alpha=0.1, dt=0.05, hidden=32, seed=3)
    q0, p0 = torch.tensor([[0.8, -0.5]], dtype=torch.float64), torch.tensor([[0.6, 0.9]], dtype=torch.float64)
    steps, every = 100_000, 10
    with torch.no_grad():
        verlet = unit.rollout(q0, p0, steps=steps, record_every=every)
        rk4 = rk4_rollout(unit, q0, p0, steps=steps, record_every=every)
        e0 = unit.hamiltonian(q0, p0)
        verlet_error = unit.hamiltonian(verlet.q[:, 0], verlet.p[:, 0]) - e0
        rk4_error = unit.hamiltonian(rk4.q[:, 0], rk4.p[:, 0]) - e0
    first_max, _ = band(verlet_error, "first")
    last_max, _ = band(verlet_error, "last")
    assert last_max < 1.5 * first_max          # the band does not grow
    assert last_max < 1e-2 * e0.abs().item()    # and it is narrow
    _, rk4_first = band(rk4_error, "first")
    _, rk4_last = band(rk4_error, "last")
    assert rk4_last > 5 * rk4_first             # RK4 at the same dt drifts


def test_gradients_flow_through_a_500_step_rollout(kinetic):
    unit = make_unit(kinetic, dtype=torch.float32)
    q0, p0 = torch.randn(8, 2), torch.randn(8, 2)
    traj = unit.rollout(q0, p0, steps=500)
    assert traj.q.shape == (501, 8, 2) and traj.q.requires_grad
    (traj.q.square().mean() + traj.p.square().mean()).backward()
    # The read-out bias shifts V by a constant and so cannot change the dynamics: it gets no gradient.
    grads = [w.grad for name, w in unit.named_parameters() if name != "potential.readout.bias"]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum().item() for g in grads) > 0


def test_inference_and_training_paths_agree(kinetic):
    unit = make_unit(kinetic)
    q0, p0 = torch.randn(3, 2, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    with torch.no_grad():
        fast = unit.rollout(q0, p0, steps=300)
    differentiable = unit.rollout(q0, p0, steps=300)
    assert differentiable.q.requires_grad and not fast.q.requires_grad
    torch.testing.assert_close(fast.q, differentiable.q.detach(), rtol=1e-11, atol=1e-11)
    torch.testing.assert_close(fast.p, differentiable.p.detach(), rtol=1e-11, atol=1e-11)


def test_rollout_shape_and_initial_state_first():
    unit = make_unit()
    q0, p0 = torch.randn(5, 2, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    with torch.no_grad():
        traj = unit.rollout(q0, p0, steps=20)
        sparse = unit.rollout(q0, p0, steps=20, record_every=5)
    assert traj.q.shape == traj.p.shape == (21, 5, 2)
    assert torch.equal(traj.q[0], q0) and torch.equal(traj.p[0], p0)
    torch.testing.assert_close(sparse.q, traj.q[::5])
    assert traj.states.shape == (21, 5, 4)


def test_float32_works_and_matches_float64():
    unit64 = make_unit()
    unit32 = make_unit().float()
    q0, p0 = torch.randn(2, 2, dtype=torch.float64), torch.randn(2, 2, dtype=torch.float64)
    with torch.no_grad():
        a = unit64.rollout(q0, p0, steps=100).q
        b = unit32.rollout(q0.float(), p0.float(), steps=100).q
    assert b.dtype == torch.float32
    torch.testing.assert_close(b.double(), a, rtol=1e-4, atol=1e-4)


def test_friction_drains_energy_and_annealing_stops_it():
    unit = make_unit("relativistic")
    q0, p0 = torch.randn(16, 2, dtype=torch.float64), torch.randn(16, 2, dtype=torch.float64)
    with torch.no_grad():
        damped = unit.rollout(q0, p0, steps=400, gamma=0.05)
        annealed = unit.rollout(q0, p0, steps=400, gamma=AnnealedFriction(0.05, fraction=0.5))
        energy = lambda traj, t: unit.hamiltonian(traj.q[t], traj.p[t])
        assert (energy(damped, -1) < energy(damped, 0)).all()
        # After the annealing window the run is conservative again.
        torch.testing.assert_close(energy(annealed, -1), energy(annealed, 250), rtol=5e-3, atol=5e-3)
        assert (energy(annealed, 200) < energy(annealed, 0)).all()


def test_energy_governor_brakes_only_above_the_floor():
    unit = make_unit("relativistic")
    torch.manual_seed(1)
    q0, p0 = torch.randn(16, 2, dtype=torch.float64), 2 * torch.randn(16, 2, dtype=torch.float64)
    with torch.no_grad():
        start = unit.hamiltonian(q0, p0)
        floor = start.median().item() + 1e-3
        traj = unit.rollout(q0, p0, steps=2000, gamma=EnergyGovernor(floor, strength=1.0))
        end = unit.hamiltonian(traj.q[-1], traj.p[-1])
    below, above = start < floor, start > floor
    assert below.sum() == above.sum() == 8
    torch.testing.assert_close(end[below], start[below], rtol=0, atol=1e-3)  # untouched: conservative
    assert (end[above] < floor + 1e-3).all()                                   # braked down to the floor
    assert (end[above] < start[above] - 0.5).all()


def test_langevin_rollout_is_seeded_and_noise_free_at_zero_temperature():
    unit = make_unit("relativistic")
    q0, p0 = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    schedule = ExponentialTemperature(1.0, 0.01)
    with torch.no_grad():
        run = lambda seed: unit.rollout(q0, p0, steps=200, gamma=0.3, temperature=schedule,
                                        generator=torch.Generator().manual_seed(seed))
        a, b, c = run(1), run(1), run(2)
        deterministic = unit.rollout(q0, p0, steps=200, gamma=0.3)
        cold = unit.rollout(q0, p0, steps=200, gamma=0.3, temperature=ConstantTemperature(0.0))
    assert torch.equal(a.q, b.q)
    assert not torch.allclose(a.q, c.q)
    torch.testing.assert_close(cold.q, deterministic.q)


def test_langevin_noise_has_the_documented_scale():
    # Zero potential, Newtonian, no drift in p except friction: p' = (1 − γ)p + sqrt(2γTdt) ξ.
    unit = harmonic_unit()
    unit.alpha = 0.0
    gamma, temperature = 0.3, 2.0
    p0 = torch.zeros(20000, 1, dtype=torch.float64)
    with torch.no_grad():
        traj = unit.rollout(torch.zeros_like(p0), p0, steps=1, gamma=gamma,
                            temperature=ConstantTemperature(temperature), generator=torch.Generator().manual_seed(0))
    assert traj.p[-1].std().item() == pytest.approx(math.sqrt(2 * gamma * temperature * unit.dt), rel=0.03)


def test_langevin_chains_settle_at_the_momentum_temperature_not_at_T():
    # H = ½p² + ½q²: at equilibrium ⟨p²⟩ = ⟨q²⟩ = the temperature the chains really run at.
    unit = harmonic_unit()
    gamma, temperature = 0.3, 2.0
    held = momentum_temperature(temperature, gamma, unit.dt)
    assert held == pytest.approx(2 * temperature * unit.dt / (2 - gamma))  # 0.118, seventeen times below T
    generator = torch.Generator().manual_seed(0)
    start = math.sqrt(held) * torch.randn(2, 8000, 1, dtype=torch.float64, generator=generator)
    with torch.no_grad():
        traj = unit.rollout(start[0], start[1], steps=400, gamma=gamma, temperature=ConstantTemperature(temperature),
                            generator=generator, record_every=400)
    assert traj.p[-1].square().mean().item() == pytest.approx(held, rel=0.06)
    assert traj.q[-1].square().mean().item() == pytest.approx(held, rel=0.06)
    with pytest.raises(ValueError, match="no noise"):
        momentum_temperature(temperature, 0.0, unit.dt)


def test_divergence_raises_a_clear_error():
    from chlu_core import DivergenceError
    unit = harmonic_unit(dt=0.05)
    unit.alpha = 1e6  # ω·dt ≫ 2: Verlet is unstable
    with pytest.raises(DivergenceError, match="dt"):
        with torch.no_grad():
            unit.rollout(torch.ones(1, 1, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64), steps=2000)
