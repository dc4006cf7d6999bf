"""Training data: the experiments' generators and user CSV files, plus the training windows."""
from __future__ import annotations

import torch

from .lemniscate import CurveDistance, lemniscate_trajectory
from .sine_waves import noisy_starts, oscillator, sine_waves


def all_windows(trajectories: torch.Tensor, length: int, stride: int = 1) -> torch.Tensor:
    """Every window of ``length`` consecutive states of every trajectory, starting every ``stride`` steps.

    ``trajectories`` ``(time, n_traj, state)`` → ``(length, n_windows, state)``, n_windows =
    (⌊(time − length) / stride⌋ + 1)·n_traj.
    """
    if trajectories.dim() != 3:
        raise ValueError(f"trajectories must have shape (time, n_traj, state), got {tuple(trajectories.shape)}")
    time = trajectories.shape[0]
    if not 2 <= length <= time:
        raise ValueError(f"window length must lie in [2, {time}] for trajectories of {time} steps, got {length}")
    if not (isinstance(stride, int) and stride >= 1):
        raise ValueError(f"window stride must be an integer ≥ 1, got {stride!r}")
    windows = trajectories.unfold(0, length, stride)  # (n_starts, n_traj, state, length)
    return windows.permute(3, 0, 1, 2).reshape(length, -1, trajectories.shape[-1])


class WindowSampler:
    """Training windows for iteration ``i`` of ``iterations``: a curriculum of ``window_lengths``
    (short first, the stages sharing the iterations equally), and either ``per_iteration`` random
    windows or, with ``per_iteration=None``, all windows of the data at once; windows start every
    ``stride`` steps."""

    def __init__(self, trajectories: torch.Tensor, window_lengths, iterations: int,
                 per_iteration: int | None, generator: torch.Generator, stride: int = 1):
        self.trajectories, self.lengths, self.stride = trajectories, tuple(window_lengths), stride
        self.iterations, self.per_iteration, self.generator = iterations, per_iteration, generator
        self._cache: dict[int, torch.Tensor] = {}

    def length_at(self, iteration: int) -> int:
        stage = min(iteration * len(self.lengths) // self.iterations, len(self.lengths) - 1)
        return self.lengths[stage]

    def __call__(self, iteration: int) -> torch.Tensor:
        """``(length, batch, state)`` windows for ``iteration``."""
        length = self.length_at(iteration)
        if length not in self._cache:
            self._cache[length] = all_windows(self.trajectories, length, self.stride)
        windows = self._cache[length]
        if self.per_iteration is None:
            return windows
        return windows[:, torch.randint(windows.shape[1], (self.per_iteration,), generator=self.generator)]


__all__ = ["all_windows", "WindowSampler", "lemniscate_trajectory", "CurveDistance", "sine_waves", "noisy_starts", "oscillator"]
