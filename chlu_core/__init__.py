"""chlu_core: the Causal Hamiltonian Learning Unit, its baselines, training and experiments.

The public names below are imported on first use (PEP 562), so that torch-free parts
(``chlu_core.figures``, ``chlu_core.assets``) load without torch: the dashboard draws its first
page while torch is still loading.
"""
from importlib import import_module

from ._version import __version__

_PUBLIC = {
    "LSTMBaseline": "baselines", "NeuralODEBaseline": "baselines",
    "CheckpointError": "checkpoints", "load": "checkpoints", "save": "checkpoints", "to_bytes": "checkpoints",
    "KINETIC_MODES": "config",
    "ConvPotential": "potentials", "MLPPotential": "potentials", "SumPotential": "potentials",
    "KernelDensityPotential": "potentials",
    "AnnealedFriction": "schedules", "ConstantFriction": "schedules", "ConstantTemperature": "schedules",
    "EnergyGovernor": "schedules", "ExponentialTemperature": "schedules", "momentum_temperature": "schedules",
    "CHLU": "unit", "DivergenceError": "unit", "Trajectory": "unit",
}

__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(import_module(f".{_PUBLIC[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_PUBLIC])
