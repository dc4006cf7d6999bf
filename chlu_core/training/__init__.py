"""Trainers for the CHLU and its baselines; all report through one progress-callback protocol."""
from .baselines import train_baseline
from .progress import Progress, ProgressCallback, TrainingDiverged, train_loop
from .wake_sleep import WakeSleepConfig, train_chlu

__all__ = ["Progress", "ProgressCallback", "TrainingDiverged", "train_loop", "WakeSleepConfig", "train_chlu",
           "train_baseline"]
