import pytest
import torch

from chlu_core.potentials import ConvPotential, MLPPotential
from chlu_core.training.progress import TrainingDiverged
from chlu_core.training.score_matching import denoising_loss, train_denoising
from chlu_core.unit import CHLU

CENTRE = torch.tensor([0.5, -0.3], dtype=torch.float64)


def gaussian_unit() -> CHLU:
    torch.manual_seed(0)
    return CHLU(2, MLPPotential(2, hidden=32), kinetic="relativistic", c=10.0).double()


def test_the_learned_force_is_the_score_of_the_blurred_data():
    # Data N(μ, s²I) blurred by N(0, σ²I) is N(μ, (s² + σ²)I): the optimal force is −(q − μ)/(s² + σ²).
    spread, sigma = 0.2, 0.3
    data = CENTRE + spread * torch.randn(4096, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    unit = gaussian_unit()
    # Batch 2048 at lr 3e-3 keeps Adam's last-step noise to a 4-5 % force error (lr 1e-2 at batch 256 sat at 9-10 %).
    train_denoising(unit, data, iterations=1500, lr=3e-3, batch=2048, noise_min=sigma, noise_max=sigma)
    points = CENTRE + 0.4 * torch.tensor([[1.0, 0.0], [0.0, 1.0], [-0.7, 0.7], [0.5, -0.5], [0.0, 0.0]],
                                         dtype=torch.float64)
    expected = -(points - CENTRE) / (spread ** 2 + sigma ** 2)
    error = (unit.force(points) - expected).norm(dim=-1).max()
    assert error < 0.1 * expected.norm(dim=-1).max(), (unit.force(points), expected)


@pytest.mark.parametrize("data_temperature", [1.0, 0.1])
def test_the_loss_vanishes_for_the_exact_score(data_temperature):
    # V = T_data‖q − μ‖²/(2σ²) with data at μ: σ∇V(μ + σε)/T_data = ε exactly.
    class Exact(MLPPotential):
        def forward(self, q):
            return data_temperature * (q - CENTRE).square().sum(-1) / (2 * 0.3 ** 2)

    unit = CHLU(2, Exact(2)).double()
    noise = torch.randn(64, 2, dtype=torch.float64)
    centre = CENTRE.expand(64, 2)
    loss = denoising_loss(unit, centre, torch.full((64, 1), 0.3, dtype=torch.float64), noise, data_temperature)
    assert loss.item() < 1e-24
    assert denoising_loss(unit, centre, torch.full((64, 1), 0.6, dtype=torch.float64), noise, data_temperature) > 0.1
    assert denoising_loss(unit, centre, torch.full((64, 1), 0.3, dtype=torch.float64), noise, 0.5) > 0.1


def test_the_contrastive_term_raises_the_energy_where_the_negatives_lie():
    # DSM on N(μ, 0.2²) with negatives pinned at a point off the data: the contrastive term lifts V there.
    data = CENTRE + 0.2 * torch.randn(1024, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    spurious = (CENTRE + torch.tensor([0.3, 0.3], dtype=torch.float64)).expand(64, 2)
    lifts = {}
    for weight in (0.0, 1.0):
        unit = gaussian_unit()
        log = train_denoising(unit, data, iterations=200, lr=3e-3, batch=256, noise_min=0.3, noise_max=0.3,
                              negatives=lambda: spurious, contrastive_weight=weight)
        assert ("contrast" in log.history) == (weight > 0)
        with torch.no_grad():
            lifts[weight] = (unit.potential_energy(spurious[:1]) - unit.potential_energy(CENTRE[None])).item()
    assert lifts[1.0] > lifts[0.0] + 0.5, lifts


def test_a_diverging_run_stops_with_a_clear_message_and_keeps_good_weights():
    torch.manual_seed(0)
    unit = CHLU(784, ConvPotential(scale=1.0), c=10.0)  # SiLU is unbounded: at lr 1e6 the energy overflows
    images = 2 * torch.rand(64, 784, generator=torch.Generator().manual_seed(0)) - 1
    with pytest.raises(TrainingDiverged, match="diverged at iteration"):
        train_denoising(unit, images, iterations=30, lr=1e6, batch=8)
    assert all(bool(torch.isfinite(w).all()) for w in unit.parameters())


@pytest.mark.parametrize("kwargs, message", [
    (dict(images=torch.zeros(8, 3)), r"images must have shape \(n, 2\)"),
    (dict(noise_min=0.5, noise_max=0.1), "noise_min ≤ noise_max"),
    (dict(noise_min=0.0), "noise_min ≤ noise_max"),
    (dict(iterations=0), "iterations and batch ≥ 1"),
    (dict(data_temperature=0.0), "data_temperature must be > 0"),
    (dict(images=torch.tensor([[0.0, float("nan")]])), "NaN or inf"),
    (dict(contrastive_weight=1.0), "needs negatives"),
    (dict(contrastive_weight=-1.0, negatives=lambda: torch.zeros(1, 2)), "must be ≥ 0"),
])
def test_bad_settings_are_rejected(kwargs, message):
    settings = {"images": torch.zeros(8, 2), "iterations": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        train_denoising(gaussian_unit(), **settings)
