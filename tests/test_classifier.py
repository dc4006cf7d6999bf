import math
from pathlib import Path

import pytest
import torch

from chlu_core import checkpoints
from chlu_core.assets import asset_path, read_manifest
from chlu_core.classifier import DigitClassifier, accuracy, entropy_bits, ink_pieces, score_images, train_classifier
from chlu_core.data.mnist import load_mnist, to_unit_interval

DATA = Path(__file__).parents[1].parent / "shared" / "data"


@pytest.fixture(scope="module")
def mnist():
    train_images, train_labels = load_mnist(train=True, root=DATA, download=False)
    test_images, test_labels = load_mnist(train=False, root=DATA, download=False)
    return to_unit_interval(train_images), train_labels, to_unit_interval(test_images), test_labels


def test_entropy_bits():
    assert entropy_bits([5] * 10) == pytest.approx(math.log2(10))
    assert entropy_bits([0, 0, 7, 0]) == 0.0
    assert entropy_bits([1, 1, 0, 2]) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="empty"):
        entropy_bits([0, 0, 0])


def test_score_images_reports_histogram_confidence_and_mean_pixel():
    torch.manual_seed(0)
    model = DigitClassifier().eval()
    images = torch.rand(32, 784)
    scores = score_images(images, model)
    assert sum(scores["histogram"]) == 32 and len(scores["histogram"]) == 10
    assert scores["classes"] == sum(c > 0 for c in scores["histogram"])
    assert 0.1 <= scores["mean_confidence"] <= 1.0
    assert scores["mean_pixel"] == pytest.approx(float(images.mean()), abs=1e-4)
    assert scores["mean_ink_pieces"] == pytest.approx(float(ink_pieces(images).double().mean()), abs=1e-4)


def test_ink_pieces_counts_separate_groups_of_ink_with_diagonals_touching():
    canvas = torch.zeros(4, 28, 28)
    canvas[1, 5:20, 14] = 1.0                                 # one vertical stroke
    canvas[2, 3:8, 3:8] = 0.9                                 # two blobs apart, and
    canvas[2, 20:25, 20:25] = 0.9
    canvas[2, 14, 14] = 0.4                                   # a pixel below the ink threshold
    canvas[3, torch.arange(4, 24), torch.arange(4, 24)] = 1.0  # a diagonal stroke: one piece
    assert ink_pieces(canvas.reshape(4, 784)).tolist() == [0, 1, 2, 1]


def test_real_digits_are_one_piece_of_ink_and_fragments_are_not(mnist):
    test_images = mnist[2][:1000]
    assert 1.0 <= float(ink_pieces(test_images).double().mean()) < 1.15
    # The same digits with every other column blanked fall apart into strokes.
    broken = test_images.reshape(-1, 28, 28).clone()
    broken[:, :, ::2] = 0.0
    assert float(ink_pieces(broken.reshape(-1, 784)).double().mean()) > 2.0


def test_training_learns_digits_from_a_small_subset(mnist):
    train_images, train_labels, test_images, test_labels = mnist
    model, log = train_classifier(train_images[:3000], train_labels[:3000], epochs=3, lr=3e-3, seed=0)
    assert log.iterations == 3 * math.ceil(3000 / 128)
    assert accuracy(model, test_images[:2000], test_labels[:2000]) > 0.85


def test_mismatched_labels_are_rejected():
    with pytest.raises(ValueError, match="as many labels"):
        train_classifier(torch.rand(10, 784), torch.zeros(9, dtype=torch.int64))


def test_classifier_checkpoint_round_trip(tmp_path):
    torch.manual_seed(1)
    model = DigitClassifier().eval()
    images = torch.rand(8, 784)
    loaded = checkpoints.load(checkpoints.save(model, tmp_path / "c.pt"))
    assert isinstance(loaded, DigitClassifier)
    assert torch.equal(loaded.predict(images), model.predict(images))


def test_shipped_classifier_reaches_its_recorded_accuracy(mnist):
    """The shipped scorer: ≥ 98 % on the MNIST test set, equal to its manifest entry within 0.001."""
    entry = read_manifest()["files"]["mnist_classifier.pt"]
    model = checkpoints.load(asset_path("mnist_classifier.pt"))
    measured = accuracy(model, mnist[2], mnist[3])
    assert measured >= 0.98
    assert measured == pytest.approx(entry["metrics"]["test_accuracy"], abs=1e-3)
