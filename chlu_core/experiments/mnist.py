"""Experiment III: generating MNIST digits by Langevin annealing of a CHLU (paper figure 3).

Train a CHLU with a ConvNet potential on a seeded subset of MNIST (by persistent contrastive
divergence as in the protocol, or by denoising score matching, to which the best recipe adds a prior
on the digits' coarse layout, :func:`layout_prior`), then run 64 Langevin chains from the
noisy test-set centroid and let a small classifier (trained here, or shipped in ``assets/``) score
what comes out. Samples are shown and scored as the paper shows them: tanh(3q), mapped from [−1, 1]
to the 0–1 pixel scale (:func:`to_image`).

Presets: ``paper`` (the protocol: PCD, c = 1, negatives re-initialised from uniform noise, 500
iterations), ``best`` (this project's recipe, see :data:`PRESETS`) and ``quick`` (the best recipe,
scaled down to seconds).
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Optional, Union

import numpy
import torch

from ..assets import asset_path
from ..checkpoints import load
from ..classifier import DigitClassifier, accuracy, score_images, train_classifier
from ..data.mnist import load_mnist, to_unit_interval, training_subset
from ..figures import class_histogram, digit_grid, evolution_strip, loss_curve
from ..potentials import ConvPotential, KernelDensityPotential, Potential, SumPotential
from ..schedules import ExponentialTemperature
from ..training.generative import PCDConfig, PersistentChains, langevin, train_pcd
from ..training.progress import ProgressCallback, TrainingLog, keeping_diverged
from ..training.score_matching import train_denoising
from ..unit import CHLU, DivergenceError
from .result import ExperimentResult

NAME = "exp3"
OBJECTIVES = ("contrastive", "denoising")
CLASSIFIER_ASSET = "mnist_classifier.pt"
CENTROID_ASSET = "mnist_test_centroid.npy"  # 784 float32; shipped so that dreaming needs no MNIST files


@dataclass(frozen=True)
class Config(PCDConfig):
    """Experiment III settings: data, unit, sampler and classifier; PCD training is inherited."""

    subset: int = 10_000
    c: float = 1.0
    m0: float = 1.0
    alpha: float = 0.0
    potential_scale: float = 100.0  # the ConvNet's output is divided by this (the protocol's 100)
    dt: float = 0.05
    samples: int = 64
    sample_steps: int = 1000
    sample_gamma: float = 0.3
    sample_T0: float = 1.0
    sample_T_end: float = 0.01
    start_noise: float = 0.5  # the sampler starts at the test centroid + start_noise·N(0, I)
    start_momentum: float = 0.1
    snapshot_steps: tuple = (0, 200, 400, 600, 800)
    classifier_epochs: int = 2
    classifier_subset: Optional[int] = None  # None: all 60,000 training images
    # How the potential is trained: "contrastive" (the protocol's PCD, settings inherited from
    # PCDConfig) or "denoising" (score matching at noise levels noise_min … noise_max, V in units
    # where chains with momenta at temperature data_temperature draw the blurred data; iterations, lr
    # and batch as for PCD; see chlu_core.training.score_matching).
    objective: str = "contrastive"
    noise_min: float = 0.05
    noise_max: float = 1.0
    data_temperature: float = 1.0
    # After score matching, ``finetune_iterations`` more of it at ``finetune_lr`` with the contrastive
    # term ``finetune_weight``·(mean V(data) − mean V(negatives)), ``finetune_negatives`` chains per
    # iteration drawn as PCD draws them (the inherited buffer, restart and Langevin settings).
    finetune_iterations: int = 0
    finetune_lr: float = 1e-4
    finetune_weight: float = 0.01
    finetune_negatives: int = 64
    # Denoising only: a prior on the digits' coarse layout, added after score matching (before the
    # fine-tuning, whose chains it guides): V gains −data_temperature·log of a Gaussian kernel density
    # of the training images in their top ``layout_components`` principal components, kernel width
    # ``layout_width`` (:func:`layout_prior`); 0 components: none.
    layout_components: int = 0
    layout_width: float = 0.45

    def __post_init__(self):
        super().__post_init__()
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.finetune_iterations < 0 or (self.finetune_iterations and self.objective != "denoising"):
            raise ValueError(f"finetune_iterations must be ≥ 0, and > 0 only for the denoising objective, "
                             f"got {self.finetune_iterations} with {self.objective!r}")
        if self.finetune_iterations and not 1 <= self.finetune_negatives <= self.buffer_size:
            raise ValueError(f"finetune_negatives must lie in [1, buffer_size = {self.buffer_size}], "
                             f"got {self.finetune_negatives}")
        if (not 0 <= self.layout_components <= min(self.subset, 784)
                or (self.layout_components and self.objective != "denoising")):
            raise ValueError(f"layout_components must lie in [0, min(subset, 784)], and be > 0 only for the denoising "
                             f"objective, got {self.layout_components} with {self.objective!r}")
        if not self.layout_width > 0:
            raise ValueError(f"layout_width must be > 0, got {self.layout_width}")


# best: the potential trained by denoising score matching instead of contrastive divergence (whose
# negatives, on this budget, never left the noise they started from: its samples were stroke
# fragments), at noise levels σ from 0.05 (sharp strokes) to 1 (as far as the noisy centroid lies
# from any digit), in units where chains with momenta at temperature 0.1 draw the blurred data (the
# protocol's annealing 1 → 0.01 holds them at 0.059 → 0.00059, schedules.momentum_temperature, so it
# ends on the blurred data sharpened 170-fold: near its modes); c = 10 (with c = 1 the limit, shared by
# 784 pixels, lets each pixel move very little). Then 800 iterations of contrastive fine-tuning whose
# negatives are the sampler's own chains (from the noisy centroid, T annealed 1 → 0.01 over 100 steps,
# persistent): it raises V at the spurious minima where chains ended in malformed digits. Those chains
# already run with the layout prior (layout_prior: a kernel density of the training digits in their
# top 96 principal components, width 0.45, at the data temperature), which the unit keeps: it steers
# each chain to the layout of some real digit (docs/exp3-trials.md). The sampler is the protocol's,
# unclipped.
_BEST = dict(objective="denoising", c=10.0, potential_scale=10.0, data_temperature=0.1, lr=1e-3, batch=128,
             noise_min=0.05, noise_max=1.0, finetune_lr=1e-4, finetune_weight=0.01, finetune_negatives=64,
             reinit="centroid", reinit_noise=0.5, temperature=1.0, temperature_end=0.01, langevin_steps=100)
PRESETS = {
    "paper": Config(),
    "best": Config(**_BEST, iterations=20_000, finetune_iterations=800, buffer_size=1000, layout_components=96),
    "quick": Config(**{**_BEST, "langevin_steps": 10, "finetune_negatives": 16}, subset=512, iterations=20,
                    finetune_iterations=5, layout_components=16, buffer_size=128, samples=16, sample_steps=100,
                    snapshot_steps=(0, 50),
                    classifier_epochs=1, classifier_subset=2000),
}


def resolve(preset: Union[str, Config]) -> tuple:
    """(name, config) of a preset name, or ("custom", config) for a ready :class:`Config`."""
    if isinstance(preset, Config):
        return "custom", preset
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return preset, PRESETS[preset]


def make_unit(config: Config) -> CHLU:
    """An untrained CHLU on 28×28 images: ConvNet potential, relativistic kinetic term, learned mass."""
    return CHLU(784, ConvPotential(scale=config.potential_scale), kinetic="relativistic", c=config.c, m0=config.m0, alpha=config.alpha,
                dt=config.dt)


def mnist_test_centroid(root=None) -> torch.Tensor:
    """Mean test image in [−1, 1], shape ``(784,)``: where the sampler's chains start."""
    return load_mnist(train=False, root=root)[0].mean(0)


def shipped_centroid() -> Optional[torch.Tensor]:
    """:func:`mnist_test_centroid` as shipped in ``assets/`` (hash-checked), or ``None`` where it is not there."""
    try:
        return torch.from_numpy(numpy.load(asset_path(CENTROID_ASSET), allow_pickle=False))
    except FileNotFoundError:
        return None


def to_image(q: torch.Tensor) -> torch.Tensor:
    """What the paper shows: tanh(3q) mapped from [−1, 1] to the 0–1 pixel scale, same shape."""
    return (torch.tanh(3.0 * q) + 1.0) / 2.0


@dataclass
class Samples:
    """A sampling run: ``start`` and ``final`` positions ``(n, 784)``; ``snapshots`` step → ``(n, 784)``."""

    start: torch.Tensor
    final: torch.Tensor
    snapshots: dict


@torch.no_grad()
def sample(unit: CHLU, centroid: torch.Tensor, n: int = 64, noise_scale: float = 0.5, gamma: float = 0.3,
           T0: float = 1.0, T_end: float = 0.01, steps: int = 1000, seed: int = 0,
           snapshot_steps=(0, 200, 400, 600, 800), momentum_std: float = 0.1,
           clip_every: Optional[int] = None) -> Samples:
    """Run ``n`` Langevin chains of ``steps`` steps from ``centroid`` + ``noise_scale``·N(0, I) with
    p₀ = ``momentum_std``·N(0, I), friction ``gamma`` and T annealed exponentially T0 → T_end.
    ``T0 = 0`` is the deterministic control (friction, no noise). ``clip_every``: clip the chains to
    [−1, 1] every that many steps (None: never). Seeded by ``seed``."""
    if n < 1 or steps < 0:
        raise ValueError(f"need n ≥ 1 and steps ≥ 0, got n={n}, steps={steps}")
    if T0 < 0 or T_end < 0 or (T0 > 0) != (T_end > 0):
        raise ValueError(f"temperatures must both be > 0 (Langevin) or both 0 (deterministic), got {T0}, {T_end}")
    snapshot_steps = tuple(sorted(set(snapshot_steps)))
    if any(s < 0 or s > steps for s in snapshot_steps):
        raise ValueError(f"snapshot steps must lie in [0, {steps}], got {snapshot_steps}")
    generator = torch.Generator().manual_seed(seed)
    q0 = centroid.to(torch.float32) + noise_scale * torch.randn((n, unit.dim), generator=generator)
    p0 = momentum_std * torch.randn((n, unit.dim), generator=generator)
    record_every = math.gcd(steps, *snapshot_steps) or 1
    temperature = ExponentialTemperature(T0, T_end) if T0 > 0 else None
    chain = langevin(unit, q0, p0, steps, gamma, temperature, generator, record_every=record_every,
                     clip_every=clip_every)
    snapshots = {s: chain.q[s // record_every] for s in snapshot_steps}
    return Samples(start=q0, final=chain.q[-1], snapshots=snapshots)


def sample_with(unit: CHLU, centroid: torch.Tensor, config: Config, seed: int = 0, **overrides) -> Samples:
    """:func:`sample` with the sampler settings of ``config`` (``overrides`` replace any of them)."""
    settings = dict(n=config.samples, noise_scale=config.start_noise, gamma=config.sample_gamma,
                    T0=config.sample_T0, T_end=config.sample_T_end, steps=config.sample_steps,
                    snapshot_steps=config.snapshot_steps, momentum_std=config.start_momentum,
                    clip_every=config.clip_every)
    settings.update(overrides)
    return sample(unit, centroid, seed=seed, **settings)


def score(samples: torch.Tensor, classifier: DigitClassifier) -> dict:
    """Classifier scores of positions ``(n, 784)`` shown as :func:`to_image`: histogram, entropy_bits,
    classes, mean_confidence, mean_pixel (0–1 scale)."""
    return score_images(to_image(samples), classifier)


def evaluate(unit: CHLU, classifier: DigitClassifier, centroid: torch.Tensor, config: Config,
             seed: int = 0) -> tuple:
    """``(metrics, samples)``: scores of the samples, of the sampler's starting points and of the
    deterministic control (the same chains with T = 0), with the sampling wall time in seconds."""
    start = time.perf_counter()
    langevin = sample_with(unit, centroid, config, seed=seed)
    seconds = time.perf_counter() - start
    control = sample_with(unit, centroid, config, seed=seed, T0=0.0, T_end=0.0, snapshot_steps=())
    metrics = {"samples": score(langevin.final, classifier), "start": score(langevin.start, classifier),
               "deterministic_control": score(control.final, classifier), "sampling_time_s": round(seconds, 3)}
    return metrics, langevin


def clip_every_of(metadata: dict) -> Optional[int]:
    """How often a unit's own training clipped its chains (its sampler does the same), from its
    checkpoint's metadata, or None."""
    return metadata.get("config", {}).get("clip_every")


PREVIEW = dict(n=16, noise_scale=0.5, gamma=0.3, T0=1.0, T_end=0.01, steps=1000, seed=0)  # the dashboard's first dream: the recipe's sampler


def dream(unit: CHLU, centroid: torch.Tensor, classifier: Optional[DigitClassifier] = None, n: int = 16,
          noise_scale: float = 0.5, gamma: float = 0.3, T0: float = 1.0, T_end: float = 0.01, steps: int = 1000,
          seed: int = 0, clip_every: Optional[int] = None) -> dict:
    """A sampling run as the dashboard shows it (:func:`sample` with these settings): ``final`` and
    ``start`` images ``(n, 784)`` on the 0–1 scale, ``snapshots`` at five evenly spaced steps → images,
    and ``scores`` of the final and start images by ``classifier`` (None without one)."""
    snapshot_steps = tuple(sorted({round(k * steps / 4) for k in range(5)}))
    samples = sample(unit, centroid, n=n, noise_scale=noise_scale, gamma=gamma, T0=T0, T_end=T_end, steps=steps,
                     seed=seed, snapshot_steps=snapshot_steps, clip_every=clip_every)
    scores = None if classifier is None else {"dreams": score(samples.final, classifier),
                                              "start": score(samples.start, classifier)}
    return {"final": to_image(samples.final).numpy(), "start": to_image(samples.start).numpy(),
            "snapshots": {s: to_image(q).numpy() for s, q in samples.snapshots.items()}, "scores": scores}


def shipped_classifier() -> Optional[DigitClassifier]:
    """The classifier shipped in ``assets/`` (hash-checked), or ``None`` where it is not there."""
    try:
        return load(asset_path(CLASSIFIER_ASSET))
    except FileNotFoundError:
        return None


def fit_classifier(config: Config, seed: int = 0, progress: Optional[ProgressCallback] = None) -> tuple:
    """Train the scoring classifier on the training images (``classifier_subset`` of them, or all);
    returns ``(classifier, test_accuracy)``."""
    images, labels = load_mnist(train=True)
    if config.classifier_subset is not None:
        index = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:config.classifier_subset]
        images, labels = images[index], labels[index]
    classifier, _ = train_classifier(to_unit_interval(images), labels, epochs=config.classifier_epochs,
                                     seed=seed, progress=progress)
    return classifier, mnist_test_accuracy(classifier)


def mnist_test_accuracy(classifier: DigitClassifier) -> float:
    """Accuracy on the 10,000 MNIST test images."""
    images, labels = load_mnist(train=False)
    return accuracy(classifier, to_unit_interval(images), labels)


def train(unit: CHLU, images: torch.Tensor, config: Config, centroid: Optional[torch.Tensor] = None, seed: int = 0,
          progress: Optional[ProgressCallback] = None) -> TrainingLog:
    """Train ``unit`` in place on ``images`` ``(n, 784)`` by ``config.objective``; for score matching,
    then add the layout prior (:func:`layout_prior`) and run the contrastive fine-tuning if ``config``
    asks for them. The fine-tuning's chains run on the unit with its prior (it raises V where those
    chains end); it trains the ConvNet alone. Returns the loss history, stages one after the other; a
    run stopped early skips the stages after it."""
    if config.objective == "contrastive":
        return train_pcd(unit, images, config, centroid=centroid, seed=seed, progress=progress)
    settings = dict(batch=config.batch, noise_min=config.noise_min, noise_max=config.noise_max,
                    data_temperature=config.data_temperature, progress=progress)
    log = train_denoising(unit, images, config.iterations, config.lr, seed=seed, **settings)
    if log.stopped_early:
        return log
    strokes = unit.potential
    if config.layout_components:
        unit.potential = SumPotential(strokes, layout_prior(images, config))
    if config.finetune_iterations:
        chains = PersistentChains(config, images, centroid, torch.Generator().manual_seed(seed + 1))
        log = log.followed_by(train_denoising(
            with_potential(unit, strokes), images, config.finetune_iterations, config.finetune_lr, seed=seed + 1,
            stage="CHLU fine-tuning", negatives=lambda: chains.draw(unit, config.finetune_negatives)[0],
            contrastive_weight=config.finetune_weight, **settings))
    return log


def with_potential(unit: CHLU, potential: Potential) -> CHLU:
    """A CHLU like ``unit`` whose potential is ``potential``; it shares ``unit``'s kinetic term and the
    potential's modules, so training it trains them (e.g. the ConvNet part of a unit with a prior)."""
    settings = {key: value for key, value in unit.config().items() if key != "potential"}
    view = CHLU(potential=potential, **settings)
    view.kinetic = unit.kinetic
    return view.train(unit.training)


def layout_prior(images: torch.Tensor, config: Config) -> KernelDensityPotential:
    """The best recipe's layout prior: −T_data·log of a Gaussian kernel density of the training ``images``
    ``(n, 784)`` in their top ``config.layout_components`` principal components (width
    ``config.layout_width``), added to the score-matched V.

    Why: the score-matched V models strokes well (chains started from noisy real digits end on crisp
    ones), but from the noisy centroid its chains often settle in a spurious minimum whose layout is
    no digit's. The density sees only the layout (its few top components of 784), so the sum steers each chain
    to the layout of some real digit and leaves the strokes to V. Its strength is the data temperature
    of V's units, so that exp(−V/T_data) is the product of the two densities (a product of experts)."""
    return KernelDensityPotential.fit(images, config.layout_components, config.layout_width, config.data_temperature)


def run(preset: Union[str, Config] = "quick", seed: int = 0, progress: Optional[ProgressCallback] = None,
        classifier: Optional[DigitClassifier] = None) -> ExperimentResult:
    """Train a CHLU under ``preset`` with ``seed``, sample and score it.

    The scorer is ``classifier`` if given, else the shipped one, else one trained here (then it is
    returned among the models, as "classifier"). MNIST is read from ``$CHLU_DATA_DIR`` (see
    :mod:`chlu_core.data.mnist`).
    """
    name, config = resolve(preset)
    images, _ = training_subset(config.subset, seed)
    centroid = mnist_test_centroid()
    models, metrics, wall_time = {}, {}, {}
    classifier = classifier or shipped_classifier()
    if classifier is None:
        start = time.perf_counter()
        classifier, classifier_accuracy = fit_classifier(config, seed, progress)
        wall_time["classifier"] = round(time.perf_counter() - start, 2)
        models["classifier"] = classifier
        metrics["classifier"] = {"test_accuracy": classifier_accuracy}

    torch.manual_seed(seed)
    unit = make_unit(config)
    start = time.perf_counter()
    # A diverging unit keeps its last good weights: those are sampled and saved.
    log, notes, message = keeping_diverged(lambda: train(unit, images, config, centroid, seed, progress))
    warnings = [] if message is None else [f"CHLU: {message}"]
    if message is None:
        notes = {"iterations": log.iterations, **notes}
    wall_time["CHLU"] = round(time.perf_counter() - start, 2)
    models["CHLU"] = unit
    try:
        metrics["CHLU"], samples = evaluate(unit, classifier, centroid, config, seed=seed)
    except DivergenceError as error:
        metrics["CHLU"], samples = {}, None
        warnings.append(f"CHLU: its samples could not be scored: {error}")
    metrics["CHLU"].update(notes)
    return ExperimentResult(NAME, name, seed, dataclasses.asdict(config), models=models, metrics=metrics,
                            figures={} if samples is None else figures(samples, metrics["CHLU"], log.history),
                            wall_time_s=wall_time, warnings=warnings)


def figures(samples: Samples, metrics: dict, history: dict) -> dict:
    """Figure 3 (digit grid), its evolution strip, the class histograms and the training loss."""
    counts = {"CHLU samples": metrics["samples"]["histogram"], "start (noisy centroid)": metrics["start"]["histogram"],
              "deterministic control (T = 0)": metrics["deterministic_control"]["histogram"]}
    return {"digits": digit_grid(to_image(samples.final)),
            "evolution": evolution_strip({s: to_image(q) for s, q in samples.snapshots.items()}),
            "class_histogram": class_histogram(counts),
            "loss": loss_curve({"CHLU": history.get("loss", [])}, title="training loss")}
