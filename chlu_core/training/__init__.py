"""Trainers for the CHLU and its baselines; all report through one progress-callback protocol."""
from .progress import Progress, ProgressCallback, TrainingDiverged, train_loop

__all__ = ["Progress", "ProgressCallback", "TrainingDiverged", "train_loop"]
