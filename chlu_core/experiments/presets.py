"""The dynamics experiments' settings and presets (I: the lemniscate, II: the sine waves), without torch.

Each experiment's module runs them (:mod:`chlu_core.experiments.lemniscate` as ``Config`` and
``PRESETS``, :mod:`chlu_core.experiments.sine_waves` likewise); they live here so that a user interface
can offer them while torch (2 s to import) is still loading.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..config import WakeSleepConfig


@dataclass(frozen=True)
class LemniscateConfig(WakeSleepConfig):
    """Experiment I settings: the data, the models, and the shared training regime (inherited)."""

    dt: float = 0.05
    steps_per_cycle: int = 125
    train_cycles: int = 3
    free_run_cycles: int = 50
    kinetic: str = "newtonian"
    c: float = 1.0
    m0: float = 1.0
    alpha: float = 1e-6
    hidden: int = 64
    perturbation: float = 0.01  # std of the N(0, σ²) start perturbation of the robustness metric


LEMNISCATE = {
    "paper": LemniscateConfig(),
    # best: every window of the 375 training steps at once (a window every second step: overlapping
    # windows carry nearly the same gradient, and half of them halve the work, which brings all three
    # models under 3 minutes; CHLU orbit error over seeds 0-2: 0.0057 / 0.0094 / 0.010 with stride 2,
    # 0.0049 / 0.081 / 0.0075 with stride 1), short windows first, Adam with cosine decay, no sleep.
    "best": LemniscateConfig(iterations=1000, lr=1e-2, lr_end=1e-5, window_lengths=(16, 64, 125, 250),
                             windows_per_iteration=None, window_stride=2, clamp_start=1.0, sleep_every=0,
                             grad_clip=1.0),
    "quick": LemniscateConfig(iterations=30, window_lengths=(8, 16), windows_per_iteration=None, sleep_every=10,
                              sleep_steps=20, train_cycles=1, free_run_cycles=4, clamp_start=1.0),
}


SIGMAS = tuple(round(0.1 * k, 1) for k in range(1, 11))
FREE_RUN_FRICTION = ("none", "governor")
FREE_RUN_START = ("noisy", "energy_shell")


@dataclass(frozen=True)
class SineWavesConfig(WakeSleepConfig):
    """Experiment II settings: the data, the models, the test noise, and the shared training regime."""

    dt: float = 0.05
    n_waves: int = 100
    n_train: int = 80
    steps: int = 1000
    frequency_hz: float = 1.0
    kinetic: str = "relativistic"
    c: float = 5.0
    m0: float = 1.0
    alpha: float = 0.05
    hidden: int = 64
    sigmas: tuple = SIGMAS
    figure_sigma: float = 0.5  # start noise of the 3 waves drawn in figures 2 and 5
    # How a CHLU filters its free runs from the noisy starts (the baselines cannot): the friction, "none"
    # or "governor" (the authors' energy governor γ_t = governor_strength · tanh(max(0, H − E*))), and
    # the start, "noisy" or "energy_shell" (projected onto H = E*). E* = energy_level_factor × the
    # energy_level_percentile-th percentile of the unit's per-trajectory mean H on the training waves
    # (the authors' governor floor: 0.99 × the 1st percentile).
    free_run_friction: str = "none"
    governor_strength: float = 1.0
    free_run_start: str = "noisy"
    energy_level_percentile: float = 1.0
    energy_level_factor: float = 0.99

    def __post_init__(self):
        super().__post_init__()
        if self.free_run_friction not in FREE_RUN_FRICTION:
            raise ValueError(f"free_run_friction must be one of {FREE_RUN_FRICTION}, got {self.free_run_friction!r}")
        if self.free_run_start not in FREE_RUN_START:
            raise ValueError(f"free_run_start must be one of {FREE_RUN_START}, got {self.free_run_start!r}")
        if not 0.0 < self.governor_strength <= 1.0:
            raise ValueError(f"governor_strength must lie in (0, 1], got {self.governor_strength!r}")
        if not 0.0 <= self.energy_level_percentile <= 100.0:
            raise ValueError(f"energy_level_percentile must lie in [0, 100], got {self.energy_level_percentile!r}")


SINE_WAVES = {
    "paper": SineWavesConfig(),
    # Why (measured on seed 0; more in :mod:`chlu_core.experiments.sine_waves`): the noisy starts sit at
    # other energies than the training waves, and over 50 cycles a period error of 1e-3 already costs a
    # third of a radian.
    # - c = 100: fitted to amplitude-1 waves, a relativistic unit's period grows with the energy (the
    #   potential makes up for the speed-dependent mass at the training energy only). For the exact
    #   fit, the period at amplitude 0.9 / 0.7 is short by 6 % / 14 % at c = 10, 0.5 % / 1.3 % at
    #   c = 30 and 0.04 % / 0.1 % at c = 100. The speed limit c/√M ≈ 110 stays above every observed
    #   speed (≤ 12).
    # - alpha = 1: beyond |q| ≈ 1.3 the learned V is flat (force 0.3 with alpha = 0.05), so a noisy
    #   start with more energy than the plateau escapes and takes seconds to come back.
    # - windows 16 for the first sixth, then 64 (2,400 iterations): the 16-step fit converges fast but
    #   leaves the period at other amplitudes off by up to 1e-2; 64-step windows refine it (the
    #   previous 16 → 64 → 250 over 600 iterations did not); the jump 16 → 64 needs grad_clip 1.0 to
    #   recover (without it, seed 1 never did).
    # - free runs from the noisy start projected onto the unit's energy shell at the median training
    #   energy (factor 1: for c = 100 the authors' 0.99 would put it m0c²/100 = 100 below the training
    #   energy, H including the rest energy m0c²); see sine_waves' docstring for why not the
    #   governor.
    #   evaluate() also records the unfiltered numbers.
    "best": SineWavesConfig(iterations=2400, lr=1e-2, lr_end=1e-5, window_lengths=(16, 64, 64, 64, 64, 64),
                            windows_per_iteration=64, clamp_start=1.0, sleep_every=0, grad_clip=1.0, c=100.0,
                            alpha=1.0, free_run_start="energy_shell", energy_level_percentile=50.0,
                            energy_level_factor=1.0),
    "quick": SineWavesConfig(iterations=20, window_lengths=(8, 16), windows_per_iteration=16, sleep_every=10,
                             sleep_steps=20, n_waves=10, n_train=8, steps=200, sigmas=(0.1, 0.5), clamp_start=1.0,
                             c=10.0),
}
