"""Settings that need no torch: the unit's kinetic modes and the wake–sleep training regime.

Plain constants and frozen dataclasses, kept apart from the code that runs them, so that a user
interface can offer them while torch (2 s to import) is still loading.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

KINETIC_MODES = ("relativistic", "newtonian", "newtonian_learned")
LYAPUNOV_MODES = ("mean", "max", "none")


@dataclass(frozen=True)
class WakeSleepConfig:
    """Hyper-parameters of :func:`chlu_core.training.train_chlu` and of the baselines' trainer; defaults
    are the paper's protocol."""

    iterations: int = 1000
    lr: float = 1e-3
    lr_end: Optional[float] = None  # cosine decay of the learning rate to lr_end over the run; None: constant
    window_lengths: tuple = (64,)
    windows_per_iteration: Optional[int] = 1
    window_stride: int = 1  # windows start every window_stride steps of the data
    clamp_start: float = 1000.0
    clamp_end: float = 1.0
    clamp_anneal_fraction: float = 0.5
    lyapunov: str = "mean"  # "mean": mean log singular value (≡ 0 for a symplectic step), "max", "none"
    lyapunov_weight: float = 0.01
    sleep_every: int = 5  # 0 disables the sleep phase
    sleep_steps: int = 500
    sleep_batch: int = 32
    sleep_weight: float = 1.0
    persistent_buffer: bool = True
    buffer_size: int = 256
    grad_clip: Optional[float] = None

    def __post_init__(self):
        if self.iterations < 1 or self.lr <= 0:
            raise ValueError(f"need iterations ≥ 1 and lr > 0, got {self.iterations}, {self.lr}")
        if not self.window_lengths or min(self.window_lengths) < 2:
            raise ValueError(f"window_lengths must be a non-empty sequence of lengths ≥ 2, got {self.window_lengths}")
        if not (isinstance(self.window_stride, int) and self.window_stride >= 1):
            raise ValueError(f"window_stride must be an integer ≥ 1, got {self.window_stride!r}")
        if self.lyapunov not in LYAPUNOV_MODES:
            raise ValueError(f"lyapunov must be one of {LYAPUNOV_MODES}, got {self.lyapunov!r}")
        if self.sleep_every < 0 or (self.sleep_every and (self.sleep_steps < 1 or self.sleep_batch < 1)):
            raise ValueError("sleep_every must be ≥ 0, with sleep_steps and sleep_batch ≥ 1 when sleeping")
