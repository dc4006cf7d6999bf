import pytest
import torch

from chlu_core import CHLU, MLPPotential

KINETIC_MODES = ["relativistic", "newtonian", "newtonian_learned"]


def make_unit(kinetic="relativistic", dim=2, dtype=torch.float64, seed=0, dt=0.05, c=5.0, alpha=0.05,
              hidden=32):
    """A CHLU with a random MLP potential and a random (non-unit) learned mass."""
    torch.manual_seed(seed)
    unit = CHLU(dim, MLPPotential(dim, hidden=hidden), kinetic=kinetic, c=c, m0=1.0, alpha=alpha, dt=dt)
    if hasattr(unit.kinetic, "log_mass"):
        with torch.no_grad():
            unit.kinetic.log_mass.copy_(0.5 * torch.randn(dim))
    return unit.to(dtype)


@pytest.fixture(params=KINETIC_MODES)
def kinetic(request):
    return request.param
