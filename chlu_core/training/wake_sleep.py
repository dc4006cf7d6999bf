"""Wake–sleep Hamiltonian contrastive divergence for dynamics (the paper's Algorithm 1).

Wake (clamped): roll the unit out from the first state of each training window with γ = 0 and fit
the window: loss = κ·MSE((q, ∂H/∂p), window) + λ·Lyapunov. The unit's *velocity* ∂H/∂p is compared
with the data's velocity, and the initial momentum is the inverse of the velocity map, so the fit is
right for every kinetic term (for T = ½‖p‖² this is the usual p = q̇). κ anneals linearly from
``clamp_start`` to ``clamp_end`` over the first ``clamp_anneal_fraction`` of training.

Sleep (free), every ``sleep_every`` iterations: evolve a batch of replay-buffer states
``sleep_steps`` steps with gradients through the rollout; loss −``sleep_weight``·mean H(z_sleep)
raises the energy of the unit's own hallucinations. The buffer is persistent by default (evolved
states are written back).

Windows: ``windows_per_iteration`` random windows per step (the paper: 1), or ``None`` for all
windows of the data at once (starting every ``window_stride`` steps); ``window_lengths`` is a
curriculum (short windows first), its stages sharing the iterations equally.
"""
from __future__ import annotations

from typing import Optional

import torch

from ..config import WakeSleepConfig
from ..data import WindowSampler
from ..unit import CHLU
from .progress import ProgressCallback, TrainingLog, train_loop

def clamp_weight(config: WakeSleepConfig, iteration: int) -> float:
    """κ at ``iteration``: linear from clamp_start to clamp_end over the anneal fraction, then constant."""
    anneal = config.clamp_anneal_fraction * config.iterations
    if anneal <= 0 or iteration >= anneal:
        return config.clamp_end
    return config.clamp_start + (config.clamp_end - config.clamp_start) * iteration / anneal


def make_optimizer(model: torch.nn.Module, config: WakeSleepConfig):
    """Adam at ``config.lr`` and its per-iteration schedule (cosine to ``lr_end``, or constant)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    eta_min = config.lr if config.lr_end is None else config.lr_end
    return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.iterations, eta_min=eta_min)


def initial_momentum(unit: CHLU, velocity: torch.Tensor) -> torch.Tensor:
    """The momentum whose velocity ∂H/∂p is ``velocity`` ``(batch, dim)``.

    For the relativistic term a velocity at or beyond the speed limit c/√M has no momentum; such
    velocities are first scaled to 0.999 of the limit (the unit cannot represent them).
    """
    limit_of = getattr(unit.kinetic, "speed_limit", None)
    if limit_of is not None:
        mass = unit.kinetic.mass()
        beta2 = (velocity.square() * mass).sum(-1, keepdim=True) / unit.kinetic.c**2
        # Clamped before the square root: √ has an infinite slope at 0, and a state at rest would turn
        # the mass's gradient into 0·∞ = NaN.
        velocity = velocity * torch.clamp(0.999 * beta2.clamp_min(1e-24).rsqrt(), max=1.0)
    return unit.kinetic.momentum(velocity)


def rollout_observed(unit: CHLU, start: torch.Tensor, steps: int) -> torch.Tensor:
    """Roll out from observed states (q, q̇) ``(batch, 2·dim)``; returns observed states
    (q, ∂H/∂p) ``(steps + 1, batch, 2·dim)``, start first."""
    q0, v0 = start[:, :unit.dim], start[:, unit.dim:]
    traj = unit.rollout(q0, initial_momentum(unit, v0), steps)
    return torch.cat([traj.q, unit.velocity(traj.p)], dim=-1)


def max_log_singular_value(unit: CHLU, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of the largest log singular value of the one-step Jacobian ∂z'/∂z."""
    def step(z):
        traj = unit.rollout(z[None, :unit.dim], z[None, unit.dim:], 1, check_finite=False,
                            twice_differentiable=True)
        return torch.cat([traj.q[-1, 0], traj.p[-1, 0]])
    jacobians = torch.stack([torch.autograd.functional.jacobian(step, z, create_graph=True)
                             for z in torch.cat([q, p], dim=-1)])
    return torch.linalg.matrix_norm(jacobians, ord=2).log().mean()


class WakeSleepTrainer:
    """One optimiser step per call; ``state`` holds the replay buffer (persistent or not)."""

    def __init__(self, unit: CHLU, trajectories: torch.Tensor, config: WakeSleepConfig, seed: int = 0):
        if trajectories.dim() != 3 or trajectories.shape[-1] != 2 * unit.dim:
            raise ValueError(f"trajectories must have shape (time, n_traj, {2 * unit.dim}), "
                             f"got {tuple(trajectories.shape)}")
        self.unit, self.data, self.config = unit, trajectories, config
        self.generator = torch.Generator().manual_seed(seed)
        self.optimizer, self.schedule = make_optimizer(unit, config)
        self.buffer = self._fresh_states(config.buffer_size)
        self.windows = WindowSampler(trajectories, config.window_lengths, config.iterations,
                                     config.windows_per_iteration, self.generator, config.window_stride)

    def _fresh_states(self, n: int) -> torch.Tensor:
        dtype = next(self.unit.parameters()).dtype
        return torch.randn(n, 2 * self.unit.dim, generator=self.generator).to(dtype)

    def wake_loss(self, iteration: int) -> dict:
        window = self.windows(iteration)
        predicted = rollout_observed(self.unit, window[0], window.shape[0] - 1)
        losses = {"wake_mse": torch.mean((predicted - window) ** 2)}
        # The mean log singular value of a symplectic step is 0 for every θ: skip it, it would only cost.
        if self.config.lyapunov == "max" and self.config.lyapunov_weight:
            dim = self.unit.dim
            states = window[0, :8]
            losses["lyapunov"] = max_log_singular_value(
                self.unit, states[:, :dim], initial_momentum(self.unit, states[:, dim:]))
        return losses

    def sleep_loss(self) -> torch.Tensor:
        config = self.config
        pick = torch.randint(config.buffer_size, (config.sleep_batch,), generator=self.generator)
        start = self.buffer[pick]
        dim = self.unit.dim
        traj = self.unit.rollout(start[:, :dim], start[:, dim:], config.sleep_steps)
        q, p = traj.q[-1], traj.p[-1]
        if config.persistent_buffer:
            self.buffer[pick] = torch.cat([q, p], dim=-1).detach()
        return -self.unit.hamiltonian(q, p).mean()

    def __call__(self, iteration: int) -> dict:
        config = self.config
        self.optimizer.zero_grad()
        losses = self.wake_loss(iteration)
        total = clamp_weight(config, iteration) * losses["wake_mse"]
        if "lyapunov" in losses:
            total = total + config.lyapunov_weight * losses["lyapunov"]
        if config.sleep_every and iteration % config.sleep_every == 0:
            losses["sleep"] = self.sleep_loss()
            total = total + config.sleep_weight * losses["sleep"]
        total.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.unit.parameters(), config.grad_clip)
        self.optimizer.step()
        self.schedule.step()
        losses["loss"] = total
        return {name: value.item() for name, value in losses.items()}


def train_chlu(unit: CHLU, trajectories: torch.Tensor, config: WakeSleepConfig = WakeSleepConfig(),
               progress: Optional[ProgressCallback] = None, seed: int = 0, stage: str = "CHLU") -> TrainingLog:
    """Train ``unit`` in place on observed states ``trajectories`` ``(time, n_traj, 2·dim)`` (q, q̇).

    Reports :class:`~chlu_core.training.Progress` each iteration; raises ``TrainingDiverged`` (last
    good weights kept) on a NaN loss or a diverging rollout.
    """
    trainer = WakeSleepTrainer(unit, trajectories, config, seed=seed)
    unit.train()
    log = train_loop(unit, trainer, config.iterations, progress=progress, stage=stage)
    unit.eval()
    return log
