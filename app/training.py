"""Training in the background of a session: one job at a time, with progress, a loss history and a
stop switch, so the page stays responsive (and the user can look at other pages) while it runs.

The job's thread never touches Streamlit; the page polls the job and, once it is done, moves the
trained model into the session's own models (:func:`collect`).

Torch (2 s to import) is loaded by the job's thread, not here: the Train page draws its settings
without it, so a visitor who opens it while the server is still loading torch need not wait.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional

import streamlit as st

from chlu_core import experiments
from chlu_core.config import WakeSleepConfig

from . import state

if TYPE_CHECKING:
    import torch

    from chlu_core.training import Progress

JOB = "train.job"
# One server's CPU is shared by every visitor: at most this many trainings run at once, the rest queue.
TRAINING_SLOTS = threading.BoundedSemaphore(2)


@dataclass
class TrainingJob:
    """What a running or finished training run has to show."""

    label: str
    total: int
    history: dict = field(default_factory=dict)  # stage → losses, one per iteration
    latest: Optional[Progress] = None
    started: float = field(default_factory=time.time)
    stop: threading.Event = field(default_factory=threading.Event)
    queued: bool = True  # waiting for one of the TRAINING_SLOTS
    done: bool = False
    error: Optional[str] = None  # nothing was trained
    warning: Optional[str] = None  # a model was trained, but its training diverged: it kept its last good weights
    result: Optional[tuple] = None  # (model, metadata) once trained
    entry_key: Optional[str] = None  # the session model it became, once collected

    def report(self, progress: Progress) -> bool:
        """The trainers' progress callback (runs in the job's thread); False stops training."""
        self.latest = progress
        self.history.setdefault(progress.stage or "loss", []).append(progress.losses.get("loss", float("nan")))
        return not self.stop.is_set()

    @property
    def fraction(self) -> float:
        return 0.0 if self.latest is None else self.latest.iteration / max(self.latest.total, 1)


def current() -> Optional[TrainingJob]:
    return st.session_state.get(JOB)


def start(label: str, total: int, work: Callable[[TrainingJob], tuple]) -> TrainingJob:
    """Run ``work(job) -> (model, metadata)`` in a background thread as this session's job."""
    job = TrainingJob(label=label, total=total)

    def target():
        import torch
        torch.set_num_threads(1)  # as for the pages (app.models): these tiny models train fastest on one thread
        try:
            with TRAINING_SLOTS:
                job.started, job.queued = time.time(), False
                job.result = work(job)  # a diverging run keeps its last good weights (job.warning says so)
        except ValueError as error:  # bad settings or data, e.g. a velocity above the speed limit c
            job.error = f"Training could not run: {error}"
        finally:
            job.done = True
    st.session_state[JOB] = job
    threading.Thread(target=target, name=f"train-{label}", daemon=True).start()
    return job


def collect(job: TrainingJob):
    """Once: add a finished job's model to the session's models and to the comparison; returns its
    entry (or None)."""
    if not job.done or job.entry_key is not None or job.result is None:
        return None
    from . import models  # loads torch, which the finished job has loaded already
    model, metadata = job.result
    entry = models.add_trained(model, metadata, label=job.label)
    state.add_to_comparison(entry.key, default=[e.key for e in models.shipped_entries()])
    job.entry_key = entry.key
    return entry


# --- what a job runs ----------------------------------------------------------------------------------
def experiment_work(experiment: str, config, kind: str, seed: int):
    """Train one model of paper experiment ``experiment`` (``exp1`` or ``exp2``) under ``config``; its
    metrics go into the metadata."""
    def work(job: TrainingJob):
        result = experiments.get(experiment).run(config, seed=seed, progress=job.report, models=(kind,))
        job.warning = " ".join(result.warnings) or None
        metadata = {"experiment": result.experiment, "preset": "custom", "seed": seed, "config": result.config,
                    "metrics": result.metrics.get(kind, {}), "training_wall_time_s": result.wall_time_s.get(kind),
                    "stopped_early": job.stop.is_set() or bool(result.warnings)}
        return result.models[kind], metadata
    return work


def curriculum(window_lengths: tuple, longest: int) -> tuple:
    """A preset's window curriculum (its stages' lengths, in steps) scaled so that its longest window is
    ``longest``: the paper's single window becomes ``(longest,)``; the recipe's 16 → 64 → 125 → 250 with
    ``longest = 125`` becomes 8 → 32 → 62 → 125 (every window at least 2 steps)."""
    scale = longest / max(window_lengths)
    return tuple(max(2, round(length * scale)) for length in window_lengths)


@dataclass(frozen=True)
class CsvConfig(WakeSleepConfig):
    """Settings for training on uploaded trajectories: the shared training regime, as the project's
    recipe runs it (64 random windows per iteration, 16 steps for the first quarter of the run and 64
    after, the learning rate decaying 0.01 → 1e-5, no sleep phase; on the lemniscate as a CSV, with
    these unit settings: orbit error 0.0014 against 0.11 under the paper's regime, in 0.6× the time),
    plus the model."""

    lr: float = 0.01
    lr_end: float = 1e-5
    window_lengths: tuple = (16, 64, 64, 64)
    windows_per_iteration: int = 64
    clamp_start: float = 1.0
    grad_clip: float = 1.0
    sleep_every: int = 0
    dt: float = 0.05
    kinetic: str = "relativistic"
    c: float = 20.0  # 5 held 1 Hz sine waves of amplitude 1 (top speed 6.3) at 0.02 Hz; 20 and 100 at 1 Hz
    m0: float = 1.0
    alpha: float = 0.05
    hidden: int = 64


def top_speed(trajectories: torch.Tensor) -> float:
    """The largest speed ‖q̇‖ in trajectories ``(time, n, 2·dim)`` (positions, then velocities)."""
    return trajectories[..., trajectories.shape[-1] // 2:].norm(dim=-1).max().item()


def csv_work(trajectories: torch.Tensor, config: CsvConfig, kind: str, seed: int):
    """Train one model on uploaded trajectories ``(time, n, 2·dim)`` (observed positions, velocities)."""
    def work(job: TrainingJob):
        import torch

        from chlu_core.experiments import dynamics
        torch.manual_seed(seed)
        model = dynamics.make_models(trajectories.shape[-1] // 2, config, models=(kind,))[kind]
        training = dynamics.train({kind: model}, trajectories, config, seed=seed, progress=job.report)
        job.warning = " ".join(training.messages) or None
        return model, {"experiment": "csv", "preset": "custom", "seed": seed, "config": dataclasses.asdict(config),
                       "metrics": training.notes[kind], "training_wall_time_s": training.wall_time_s[kind],
                       "stopped_early": training.notes[kind]["stopped_early"] or job.stop.is_set(),
                       **csv_start(trajectories)}
    return work


def csv_start(trajectories: torch.Tensor, points: int = 1000) -> dict:
    """What the Rollouts and Landscape pages free-run a CSV-trained model from, kept in its metadata: the
    first trajectory's first state ``start`` (positions, then velocities), its length ``steps`` and its
    orbit ``reference`` (at most ``points`` rows of the plane the pages draw: q₁, q₂, or q, q̇ in 1-D)."""
    first = trajectories[:, 0].double()
    dim = first.shape[-1] // 2
    plane = first[:, :2] if dim >= 2 else first
    every = max(1, -(-len(plane) // points))
    return {"start": first[0].tolist(), "steps": len(first) - 1, "reference": plane[::every].tolist()}
