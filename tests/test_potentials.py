"""Potentials' hand-written gradients agree with autograd's."""
import numpy
import pytest
import torch

from chlu_core import CHLU, ConvPotential


@pytest.mark.parametrize("channels", [(16, 32, 64), (3, 5, 7)])
def test_conv_frozen_gradient_is_the_autograd_gradient(channels):
    torch.manual_seed(0)
    potential = ConvPotential(channels=channels, scale=3.0).double()
    q = torch.randn(6, 784, dtype=torch.float64)
    expected = potential.gradient(q)
    assert expected.abs().max() > 1e-6  # not vacuous
    torch.testing.assert_close(potential.frozen_gradient()(q), expected, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="NumPy"):
        potential.frozen_gradient(xp=numpy)


def test_graph_free_conv_rollout_matches_the_differentiable_one():
    torch.manual_seed(0)
    unit = CHLU(784, ConvPotential(scale=3.0), c=10.0).double()
    q0, p0 = torch.rand(2, 784, dtype=torch.float64), 0.1 * torch.randn(2, 784, dtype=torch.float64)
    with torch.no_grad():
        fast = unit.rollout(q0, p0, 20, gamma=0.1)
    taped = unit.rollout(q0, p0, 20, gamma=0.1)
    assert taped.q.grad_fn is not None
    torch.testing.assert_close(fast.q, taped.q.detach(), rtol=1e-10, atol=1e-12)
