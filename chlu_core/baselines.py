"""The paper's baselines, with the CHLU's rollout shape: an LSTM and a Neural ODE over the full
observed state x = (q, q̇) of size ``2·dim``.

Both expose ``rollout(q0, v0, steps) -> Trajectory`` with ``q`` and ``p`` of shape
``(steps + 1, batch, dim)``, initial state first; for a baseline ``p`` holds the predicted
observed velocity. Both take training windows ``(time, batch, 2·dim)`` in ``training_loss``.
"""
from __future__ import annotations

from typing import Optional

import numpy
import torch
from torch.autograd.function import once_differentiable
from torch import nn

from ._backend import check_count, freeze, numpy_threads_like_torch
from .unit import Trajectory, check_dt, check_pair, check_state


def _check_window(window: torch.Tensor, state_dim: int) -> None:
    check_state("window", window, state_dim, leading="time, batch")
    if window.shape[0] < 2:
        raise ValueError(f"window needs at least 2 time steps, got {window.shape[0]}")


class _Baseline(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.dim, self.hidden = check_count("dim", dim, 1), check_count("hidden", hidden, 1)
        self.state_dim = 2 * self.dim

    def _initial_state(self, q0, v0):
        check_pair(("q0", "v0"), q0, v0, self.dim)
        return torch.cat([q0, v0], dim=-1)

    def _trajectory(self, states: torch.Tensor) -> Trajectory:
        return Trajectory(states[..., :self.dim], states[..., self.dim:])


class LSTMBaseline(_Baseline):
    """One LSTM cell and a linear read-out predicting the next observed state.

    Trained by teacher-forced next-step prediction; free-run autoregressively at test time.
    """

    def __init__(self, dim: int, hidden: int = 64):
        super().__init__(dim, hidden)
        self.cell = nn.LSTMCell(self.state_dim, self.hidden)
        self.readout = nn.Linear(self.hidden, self.state_dim)

    def _step(self, x, memory):
        h, c = self.cell(x, memory)
        return self.readout(h), (h, c)

    def teacher_forced(self, window: torch.Tensor) -> torch.Tensor:
        """Predictions of ``window[1:]`` from ``window[:-1]``, shape ``(time − 1, batch, 2·dim)``."""
        _check_window(window, self.state_dim)
        memory, predictions = None, []
        for x in window[:-1]:
            prediction, memory = self._step(x, memory)
            predictions.append(prediction)
        return torch.stack(predictions)

    def training_loss(self, window: torch.Tensor) -> torch.Tensor:
        """Teacher-forced next-step MSE over a window ``(time, batch, 2·dim)``."""
        return torch.mean((self.teacher_forced(window) - window[1:]) ** 2)

    def _free_run_numpy(self, x: numpy.ndarray, steps: int, context: Optional[numpy.ndarray]) -> numpy.ndarray:
        """The free run of :meth:`rollout` on NumPy arrays, graph-free: ``(steps + 1, batch, 2·dim)``.

        Two identities make each step cheap (batch 1 is all per-op overhead): σ(z) = (1 + tanh(z/2))/2,
        so one tanh serves all four gates once the i, f, o columns of the weights are halved; and the
        read-out x_{t+1} = h_t W_out + b_out feeds the next gates as h_t (W_out W_ih) + b_out W_ih, so a
        free step needs one matrix product and the read-out is applied once to all steps at the end.
        """
        hidden = self.hidden
        half = numpy.ones(4 * hidden, dtype=x.dtype)
        half[:2 * hidden] = half[3 * hidden:] = 0.5  # nn.LSTMCell's gate order: i, f, g, o
        w_ih = freeze(self.cell.weight_ih.T, numpy) * half
        w_hh = freeze(self.cell.weight_hh.T, numpy) * half
        bias = freeze(self.cell.bias_ih + self.cell.bias_hh, numpy) * half
        w_out, b_out = freeze(self.readout.weight.T, numpy), freeze(self.readout.bias, numpy)
        w_free, b_free = w_out @ w_ih + w_hh, b_out @ w_ih + bias

        def cell(gates, c):
            i, f, g, o = numpy.split(numpy.tanh(gates), 4, axis=-1)
            c = 0.5 * ((1.0 + f) * c + (1.0 + i) * g)
            return 0.5 * (1.0 + o) * numpy.tanh(c), c

        h = c = numpy.zeros((x.shape[0], hidden), dtype=x.dtype)
        for observed in context if context is not None else ():
            h, c = cell(observed @ w_ih + h @ w_hh + bias, c)
        hs = []
        for step in range(steps):
            h, c = cell(x @ w_ih + h @ w_hh + bias if step == 0 else h @ w_free + b_free, c)
            hs.append(h)
        outputs = numpy.stack(hs) @ w_out + b_out if hs else numpy.empty((0, *x.shape), dtype=x.dtype)
        return numpy.concatenate([x[None], outputs.astype(x.dtype, copy=False)])

    def rollout(self, q0: torch.Tensor, v0: torch.Tensor, steps: int,
                context: Optional[torch.Tensor] = None) -> Trajectory:
        """Free-run ``steps`` steps from (q0, v0). ``context`` ``(time, batch, 2·dim)``, if given,
        is fed first (teacher-forced) to warm the memory; it should end just before (q0, v0).
        Under no_grad on the CPU it runs in NumPy (the same numbers to rounding, 3–4× faster)."""
        x = self._initial_state(q0, v0)
        steps = check_count("steps", steps, 0)
        if context is not None:
            check_state("context", context, self.state_dim, leading="time, batch")
            if context.shape[1] != len(x):
                raise ValueError(f"context must have the batch of (q0, v0), {len(x)}, got shape {tuple(context.shape)}")
        if x.device.type == "cpu" and not torch.is_grad_enabled():
            warm = None if context is None else freeze(context, numpy)
            return self._trajectory(torch.from_numpy(self._free_run_numpy(freeze(x, numpy), steps, warm)))
        memory = None
        for observed in context if context is not None else ():
            _, memory = self._step(observed, memory)
        states = [x]
        for _ in range(steps):
            x, memory = self._step(x, memory)
            states.append(x)
        return self._trajectory(torch.stack(states))

    def config(self) -> dict:
        return {"dim": self.dim, "hidden": self.hidden}

    @classmethod
    def from_config(cls, config: dict) -> "LSTMBaseline":
        return cls(**config)


class NeuralODEBaseline(_Baseline):
    """An autonomous vector field ẋ = f(x) (MLP 2·dim → hidden → hidden → 2·dim, tanh), solved
    with torchdiffeq on the grid t = 0, dt, 2·dt, … (fixed-step ``method``, default RK4)."""

    def __init__(self, dim: int, hidden: int = 64, dt: float = 0.05, method: str = "rk4"):
        super().__init__(dim, hidden)
        self.dt = check_dt(dt)
        self.method = method
        self.field = nn.Sequential(
            nn.Linear(self.state_dim, self.hidden), nn.Tanh(),
            nn.Linear(self.hidden, self.hidden), nn.Tanh(),
            nn.Linear(self.hidden, self.state_dim),
        )

    def forward(self, t, x):  # torchdiffeq's signature: f(t, x)
        return self.field(x)

    def _solve(self, x0: torch.Tensor, steps: int) -> torch.Tensor:
        if self.method == "rk4" and x0.device.type == "cpu" and self._mlp_field():
            if not torch.is_grad_enabled():
                with numpy_threads_like_torch():
                    return torch.from_numpy(_rk4_three_eighths(self._frozen_field(), freeze(x0, numpy), self.dt,
                                                               steps))
            return _RK4Adjoint.apply(self, steps, x0, *self.field.parameters())
        from torchdiffeq import odeint  # here, not at the top: it imports SciPy (0.4 s of the dashboard's start)
        times = torch.arange(steps + 1, dtype=x0.dtype, device=x0.device) * self.dt
        return odeint(self, x0, times, method=self.method, options={"step_size": self.dt})

    def _mlp_field(self) -> bool:
        """Whether the field is the MLP this class builds (Linear layers with tanh between), which the
        NumPy paths compute by hand; any other field module is solved by torchdiffeq."""
        kinds = [type(layer) for layer in self.field] if isinstance(self.field, nn.Sequential) else []
        return len(kinds) % 2 == 1 and all(kind is (nn.Linear if i % 2 == 0 else nn.Tanh)
                                           for i, kind in enumerate(kinds))

    def _frozen_field(self) -> "_FrozenField":
        """The vector field on NumPy arrays ``(batch, 2·dim)``, weights copied once."""
        return _FrozenField([layer for layer in self.field if isinstance(layer, nn.Linear)])

    def training_loss(self, window: torch.Tensor) -> torch.Tensor:
        """MSE of the solution from ``window[0]`` over the whole window ``(time, batch, 2·dim)``."""
        _check_window(window, self.state_dim)
        return torch.mean((self._solve(window[0], window.shape[0] - 1) - window) ** 2)

    def rollout(self, q0: torch.Tensor, v0: torch.Tensor, steps: int) -> Trajectory:
        """Solve ``steps`` steps of dt from (q0, v0)."""
        x0 = self._initial_state(q0, v0)
        return self._trajectory(self._solve(x0, check_count("steps", steps, 0)))

    def config(self) -> dict:
        return {"dim": self.dim, "hidden": self.hidden, "dt": self.dt, "method": self.method}

    @classmethod
    def from_config(cls, config: dict) -> "NeuralODEBaseline":
        return cls(**config)


def _rk4_three_eighths(field, x0: numpy.ndarray, dt: float, steps: int) -> numpy.ndarray:
    """``steps`` fixed steps of torchdiffeq's "rk4" (Kutta's 3/8 rule) from ``x0``: ``(steps + 1, *x0.shape)``.

    Inference only: a 6,250-step free run through torchdiffeq spends most of its time in per-step
    Python and per-op overhead (1.5 s at batch 1); the same scheme in NumPy takes a fraction of that
    and agrees with torchdiffeq to rounding (tests/test_baselines.py).
    """
    third = 1.0 / 3.0
    states = numpy.empty((steps + 1, *x0.shape), dtype=x0.dtype)
    states[0] = x = x0
    for step in range(1, steps + 1):
        k1 = field(x)
        k2 = field(x + dt * third * k1)
        k3 = field(x + dt * (k2 - third * k1))
        k4 = field(x + dt * (k1 - k2 + k3))
        states[step] = x = x + (k1 + 3.0 * (k2 + k3) + k4) * (dt * 0.125)
    return states


class _FrozenField:
    """An MLP field x ↦ W_n tanh(… tanh(W_1 x + b_1) …) + b_n on NumPy arrays ``(batch, 2·dim)``.

    With a :class:`_Tape` set, each evaluation also keeps its input and hidden activations there:
    the reverse pass of a training solve needs them, and they are the same arrays, so the recorded
    solve rounds exactly as the inference solve.
    """

    def __init__(self, linears):
        self.forward_weights = [freeze(layer.weight.T.contiguous(), numpy) for layer in linears]  # (in, out)
        self.backward_weights = [freeze(layer.weight, numpy) for layer in linears]  # (out, in), contiguous
        self.biases = [freeze(layer.bias, numpy) for layer in linears]
        self.tape: Optional[_Tape] = None

    def __call__(self, x):
        tape = self.tape
        if tape is not None:
            tape.inputs[tape.count] = x
        for k, (weight_t, bias) in enumerate(zip(self.forward_weights[:-1], self.biases)):
            out = None if tape is None else tape.hidden[k][tape.count]
            x = numpy.tanh(x @ weight_t + bias, out=out)
        if tape is not None:
            tape.count += 1
        return x @ self.forward_weights[-1] + self.biases[-1]

    def vjp(self, evaluation: int, adjoint):
        """(∂f/∂x)ᵀ ``adjoint`` ``(batch, 2·dim)`` at the taped ``evaluation``; keeps the adjoints of the
        outputs of every linear layer on the tape, for :meth:`weight_gradients`."""
        tape = self.tape
        tape.output_adjoints[-1][evaluation] = adjoint
        for k in reversed(range(len(tape.hidden))):
            upstream = adjoint @ self.backward_weights[k + 1]
            h = tape.hidden[k][evaluation]
            adjoint = tape.output_adjoints[k][evaluation] = upstream - upstream * h * h  # tanh' = 1 − h²
        return adjoint @ self.backward_weights[0]

    def weight_gradients(self) -> list:
        """Gradients of (weight, bias) of every linear layer, in the field's parameter order, summed over
        all taped evaluations: one product each over all of them (by torch: its tall-and-thin products
        and column sums are faster than NumPy's)."""
        tape = self.tape
        grads = []
        for layer_input, output_adjoint in zip([tape.inputs] + tape.hidden, tape.output_adjoints):
            rows_in = torch.from_numpy(layer_input.reshape(-1, layer_input.shape[-1]))
            rows_out = torch.from_numpy(output_adjoint.reshape(-1, output_adjoint.shape[-1]))
            grads += [rows_out.T @ rows_in, rows_out.sum(0)]
        return grads


class _Tape:
    """Per evaluation of a frozen field: its input ``(evaluations, batch, in)``, its hidden activations and
    (filled by the reverse pass) the adjoints of every linear layer's output."""

    def __init__(self, field: _FrozenField, evaluations: int, x0: numpy.ndarray):
        def buffer(width):
            return numpy.empty((evaluations, x0.shape[0], width), dtype=x0.dtype)
        widths = [weight_t.shape[1] for weight_t in field.forward_weights]
        self.inputs = buffer(x0.shape[1])
        self.hidden = [buffer(width) for width in widths[:-1]]
        self.output_adjoints = [buffer(width) for width in widths]
        self.count = 0


class _RK4Adjoint(torch.autograd.Function):
    """x0 ↦ the 3/8-rule RK4 solution ``(steps + 1, batch, 2·dim)`` of the NODE's MLP field, solved in
    NumPy and differentiated by hand: the exact discrete adjoint of each RK4 step (vector–Jacobian
    products of the field at the taped stage inputs), then every weight gradient as one product over all
    stages. Taped by autograd, each step costs some forty operations of per-call overhead; this gives
    autograd's gradients to rounding (tests/test_baselines.py)."""

    @staticmethod
    def forward(ctx, model, steps, x0, *weights):
        field = model._frozen_field()
        x0 = freeze(x0, numpy)
        field.tape = _Tape(field, 4 * steps, x0)
        with numpy_threads_like_torch():
            states = _rk4_three_eighths(field, x0, model.dt, steps)
        ctx.field, ctx.dt = field, model.dt
        return torch.from_numpy(states)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_states):
        with numpy_threads_like_torch():
            adjoint_x0 = _rk4_reverse(ctx.field, ctx.dt, freeze(grad_states, numpy))
            weight_grads = ctx.field.weight_gradients()
        return (None, None, torch.from_numpy(adjoint_x0), *weight_grads)


def _rk4_reverse(field: _FrozenField, dt: float, adjoint_states: numpy.ndarray) -> numpy.ndarray:
    """The adjoint of x0 ``(batch, 2·dim)`` from the adjoints of every state of the solve, walking the
    steps of :func:`_rk4_three_eighths` backwards: x' = x + (dt/8)(k1 + 3 k2 + 3 k3 + k4) with
    k1 = f(x), k2 = f(x + dt k1/3), k3 = f(x + dt (k2 − k1/3)), k4 = f(x + dt (k1 − k2 + k3))."""
    eighth = dt * 0.125
    adjoint = adjoint_states[-1]
    for step in reversed(range(adjoint_states.shape[0] - 1)):
        stage = 4 * step  # tape index of this step's k1
        adjoint_k1, adjoint_k2 = eighth * adjoint, 3.0 * eighth * adjoint
        adjoint_k3, adjoint_k4 = adjoint_k2, adjoint_k1
        # Each stage input x + dt·(…) passes its adjoint μ to x, and dt·μ to the earlier k's it combines.
        mu = field.vjp(stage + 3, adjoint_k4)
        adjoint_x = adjoint + mu
        adjoint_k1, adjoint_k2, adjoint_k3 = adjoint_k1 + dt * mu, adjoint_k2 - dt * mu, adjoint_k3 + dt * mu
        mu = field.vjp(stage + 2, adjoint_k3)
        adjoint_x = adjoint_x + mu
        adjoint_k1, adjoint_k2 = adjoint_k1 - (dt / 3.0) * mu, adjoint_k2 + dt * mu
        mu = field.vjp(stage + 1, adjoint_k2)
        adjoint_x = adjoint_x + mu
        adjoint_k1 = adjoint_k1 + (dt / 3.0) * mu
        adjoint = adjoint_x + field.vjp(stage, adjoint_k1) + adjoint_states[step]
    return adjoint
