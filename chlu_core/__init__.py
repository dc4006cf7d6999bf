"""chlu_core: the Causal Hamiltonian Learning Unit, its baselines, training and experiments."""
from .baselines import LSTMBaseline, NeuralODEBaseline
from .checkpoints import CheckpointError, load, save, to_bytes
from .kinetic import KINETIC_MODES
from .potentials import ConvPotential, MLPPotential
from .schedules import (AnnealedFriction, ConstantFriction, ConstantTemperature, EnergyGovernor,
                        ExponentialTemperature)
from .unit import CHLU, DivergenceError, Trajectory

from ._version import __version__

__all__ = [
    "CHLU", "MLPPotential", "ConvPotential", "Trajectory", "DivergenceError", "KINETIC_MODES",
    "LSTMBaseline", "NeuralODEBaseline", "save", "load", "to_bytes", "CheckpointError",
    "ConstantFriction", "AnnealedFriction", "EnergyGovernor", "ConstantTemperature",
    "ExponentialTemperature", "__version__",
]
