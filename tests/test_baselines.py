"""LSTM and Neural-ODE baselines: the CHLU's rollout shape, and they learn what they are shown."""
import math

import pytest
import torch

from chlu_core import LSTMBaseline, NeuralODEBaseline


def circle_windows(batch=8, steps=32, dt=0.1):
    """States (x, y, ẋ, ẏ) on the unit circle, shape (steps + 1, batch, 4)."""
    phase = torch.rand(batch) * 2 * math.pi
    t = phase[None] + dt * torch.arange(steps + 1)[:, None]
    return torch.stack([t.cos(), t.sin(), -t.sin(), t.cos()], dim=-1)


def test_rollouts_have_the_chlu_shape():
    q0, v0 = torch.randn(5, 2), torch.randn(5, 2)
    for model in (LSTMBaseline(2, hidden=16), NeuralODEBaseline(2, hidden=16, dt=0.1)):
        with torch.no_grad():
            traj = model.rollout(q0, v0, steps=12)
        assert traj.q.shape == traj.p.shape == (13, 5, 2)
        torch.testing.assert_close(traj.q[0], q0)
        torch.testing.assert_close(traj.p[0], v0)


def test_lstm_teacher_forcing_predicts_the_next_state():
    model = LSTMBaseline(2, hidden=8)
    window = circle_windows(batch=3, steps=10)
    predictions = model.teacher_forced(window)
    assert predictions.shape == (10, 3, 4)
    # Causal: changing the last input changes no earlier prediction.
    changed = window.clone()
    changed[-2] += 1.0
    torch.testing.assert_close(model.teacher_forced(changed)[:-1], predictions[:-1])


def test_lstm_context_warms_the_memory():
    model = LSTMBaseline(2, hidden=8)
    window = circle_windows(batch=2, steps=10)
    with torch.no_grad():
        cold = model.rollout(window[-1, :, :2], window[-1, :, 2:], steps=3)
        warm = model.rollout(window[-1, :, :2], window[-1, :, 2:], steps=3, context=window[:-1])
        # The teacher-forced prediction made from the last state, after reading the whole window.
        teacher = model.teacher_forced(torch.cat([window, window[-1:]]))
    # Warmed on the context, the first free-run prediction is the teacher-forced one.
    torch.testing.assert_close(warm.states[1], teacher[-1])
    assert not torch.allclose(cold.states[1], warm.states[1])


def test_both_baselines_reduce_their_training_loss():
    torch.manual_seed(0)
    window = circle_windows(batch=16, steps=16)
    for model in (LSTMBaseline(2, hidden=32), NeuralODEBaseline(2, hidden=32, dt=0.1)):
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
        first = model.training_loss(window).item()
        for _ in range(60):
            optimiser.zero_grad()
            loss = model.training_loss(window)
            loss.backward()
            optimiser.step()
        assert loss.item() < 0.3 * first


def test_neural_ode_solves_a_known_field_exactly_enough():
    # Replace the MLP field by rotation ẋ = (ẋ, ẏ, −x, −y): RK4 at dt = 0.01 follows the circle.
    class Rotation(torch.nn.Module):
        def forward(self, x):
            return torch.cat([x[..., 2:], -x[..., :2]], dim=-1)
    model = NeuralODEBaseline(2, dt=0.01).double()
    model.field = Rotation()
    q0 = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    v0 = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    traj = model.rollout(q0, v0, steps=100)
    torch.testing.assert_close(traj.q[-1], torch.tensor([[math.cos(1.0), math.sin(1.0)]], dtype=torch.float64),
                               rtol=1e-8, atol=1e-8)


def test_neural_ode_inference_path_matches_torchdiffeq():
    # Under no_grad on the CPU the free run takes a NumPy path (same 3/8-rule RK4 as torchdiffeq's "rk4");
    # with gradients it goes through torchdiffeq. Both must give the same trajectory to rounding.
    torch.manual_seed(0)
    model = NeuralODEBaseline(2, hidden=32, dt=0.05).double()
    for layer in model.field:
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.normal_(layer.weight, std=0.8)  # a field with some curvature, not near-linear
    q0 = torch.tensor([[0.3, -0.2], [1.0, 0.5]], dtype=torch.float64)
    v0 = torch.tensor([[0.5, 0.1], [-0.2, 0.0]], dtype=torch.float64)
    reference = model.rollout(q0, v0, steps=400)
    with torch.no_grad():
        fast = model.rollout(q0, v0, steps=400)
    assert not fast.q.requires_grad and reference.q.requires_grad
    assert fast.q.shape == reference.q.shape == (401, 2, 2)
    torch.testing.assert_close(fast.q, reference.q.detach(), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(fast.p, reference.p.detach(), rtol=1e-10, atol=1e-10)
    assert (fast.q[-1] - fast.q[0]).abs().max() > 0.1  # it moved: the comparison is not of constants


def test_lstm_inference_path_matches_torch():
    # Under no_grad on the CPU the free run takes a NumPy path; with gradients it runs nn.LSTMCell.
    torch.manual_seed(1)
    model = LSTMBaseline(2, hidden=16).double()
    context = torch.randn(5, 3, 4, dtype=torch.float64)
    q0, v0 = torch.randn(3, 2, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    for warm in (None, context):
        reference = model.rollout(q0, v0, steps=300, context=warm)
        with torch.no_grad():
            fast = model.rollout(q0, v0, steps=300, context=warm)
        assert reference.q.requires_grad and not fast.q.requires_grad
        torch.testing.assert_close(fast.q, reference.q.detach(), rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(fast.p, reference.p.detach(), rtol=1e-10, atol=1e-12)
    with torch.no_grad():  # the context changes the run: the memory is really warmed on both paths
        assert (model.rollout(q0, v0, 5, context=context).q - model.rollout(q0, v0, 5).q).abs().max() > 1e-3


def curved_node(hidden=32, seed=0):
    """A float64 NODE whose field has some curvature (not near-linear)."""
    torch.manual_seed(seed)
    model = NeuralODEBaseline(2, hidden=hidden, dt=0.05).double()
    for layer in model.field:
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.normal_(layer.weight, std=0.8)
    return model


def test_neural_ode_training_gradients_match_torchdiffeq(monkeypatch):
    # With gradients on the CPU the MLP field's solve is differentiated by a hand-written RK4 adjoint;
    # torchdiffeq (autograd through its 3/8-rule steps) is the reference.
    model = curved_node()
    window = circle_windows(batch=5, steps=40, dt=0.05).double()

    def gradients():
        loss = model.training_loss(window)
        return loss, torch.autograd.grad(loss, list(model.parameters()))
    fast_loss, fast = gradients()
    monkeypatch.setattr(model, "_mlp_field", lambda: False)  # the torchdiffeq path
    reference_loss, reference = gradients()
    torch.testing.assert_close(fast_loss, reference_loss, rtol=1e-12, atol=1e-12)
    for a, b in zip(fast, reference):
        assert (a - b).abs().max().item() <= 1e-10 * (1.0 + b.abs().max().item())


def test_neural_ode_adjoint_passes_gradcheck():
    model = curved_node(hidden=6)
    x0 = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: model._solve(x, 5), (x0,))
    # The weight gradient against central finite differences along a random direction.
    weight, eps = model.field[2].weight, 1e-6
    direction = torch.randn_like(weight)
    (grad,) = torch.autograd.grad(model._solve(x0, 5).sin().sum(), weight)
    values = []
    with torch.no_grad():
        for sign in (1.0, -1.0):
            weight.add_(sign * eps * direction)
            values.append(model._solve(x0, 5).sin().sum())
            weight.sub_(sign * eps * direction)
    numeric = (values[0] - values[1]) / (2 * eps)
    assert (grad * direction).sum().item() == pytest.approx(numeric.item(), rel=1e-7)
