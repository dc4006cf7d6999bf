"""Potentials' hand-written gradients agree with autograd's."""
import numpy
import pytest
import torch

from chlu_core import CHLU, ConvPotential, KernelDensityPotential, SumPotential
from chlu_core.potentials import potential_from_config


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


def _layout_prior(components=5, count=40, width=0.7, strength=0.3, dtype=torch.float64):
    torch.manual_seed(0)
    images = torch.rand(count, 784, dtype=dtype) * 2 - 1
    return KernelDensityPotential.fit(images, components, width, strength), images


def test_kernel_density_fit_is_a_pca_of_the_images():
    prior, images = _layout_prior()
    basis = prior.basis
    torch.testing.assert_close(basis.T @ basis, torch.eye(5, dtype=torch.float64))
    torch.testing.assert_close(prior.centres, (images - images.mean(0)) @ basis)
    # the top components carry the most variance, in decreasing order
    variances = prior.centres.var(0)
    assert bool((variances[:-1] >= variances[1:]).all())
    assert variances[0] > ((images - images.mean(0)) @ torch.randn(784, dtype=torch.float64).div(28)).var()


def test_kernel_density_energy_is_lowest_at_the_images_and_pulls_toward_them():
    prior, images = _layout_prior(width=0.3)
    at_image = prior(images[:3])
    away = images[:3] + 2.0 * prior.basis[:, 0]  # moved along the first component only
    assert bool((prior(away) > at_image + 1.0).all())
    # only the layout counts: a change orthogonal to the components leaves V as it is
    orthogonal = torch.randn(784, dtype=torch.float64)
    orthogonal -= prior.basis @ (prior.basis.T @ orthogonal)
    torch.testing.assert_close(prior(images[:3] + orthogonal), at_image)
    # the force −∇V points back toward the image
    force = -prior.gradient(away)
    assert bool(((force * (images[:3] - away)).sum(-1) > 0).all())


@pytest.mark.parametrize("width", [0.3, 5.0])
def test_kernel_density_closed_form_gradient_is_the_autograd_gradient(width):
    prior, images = _layout_prior(width=width)
    q = images[:4] + 0.3 * torch.randn(4, 784, dtype=torch.float64)
    expected = prior.gradient(q)
    assert expected.abs().max() > 1e-6
    torch.testing.assert_close(prior.frozen_gradient()(q), expected, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="NumPy"):
        prior.frozen_gradient(xp=numpy)


def test_kernel_density_rejects_bad_settings():
    with pytest.raises(ValueError, match="components must be ≤ dim"):
        KernelDensityPotential(4, 5, 10, 1.0, 1.0)
    with pytest.raises(ValueError, match="width and strength must be > 0"):
        KernelDensityPotential(4, 2, 10, 0.0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        KernelDensityPotential.fit(torch.full((3, 4), float("nan")), 2, 1.0, 1.0)


def test_sum_potential_adds_energies_and_gradients_and_rebuilds_from_its_config():
    torch.manual_seed(0)
    prior, images = _layout_prior()
    conv = ConvPotential(channels=(3, 5, 7), scale=3.0).double()
    total = SumPotential(conv, prior)
    q = images[:3] + 0.1
    torch.testing.assert_close(total(q), conv(q) + prior(q))
    torch.testing.assert_close(total.frozen_gradient()(q), conv.gradient(q) + prior.gradient(q), rtol=1e-10, atol=1e-12)
    rebuilt = potential_from_config(total.config()).double()
    rebuilt.load_state_dict(total.state_dict())
    torch.testing.assert_close(rebuilt(q), total(q), rtol=0, atol=0)
    with pytest.raises(ValueError, match="one or more Potential parts"):
        SumPotential()
    with pytest.raises(ValueError, match="dims differ"):
        SumPotential(conv, KernelDensityPotential(4, 2, 3, 1.0, 1.0))
