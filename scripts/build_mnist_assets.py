"""Regenerate experiment III's shipped files: ``assets/mnist_classifier.pt``, ``assets/exp3_chlu.pt`` and
``assets/mnist_test_centroid.npy``.

Usage: ``python scripts/build_mnist_assets.py [--seed 0] [--no-paper | --paper-from DIR] [--reuse-classifier]
[--best-from DIR] [--png FILE] [--dreams-only | --rescore]``

Writes the test-set centroid (where the dreams start, so that the dashboard needs no MNIST files), trains the scoring classifier (all 60,000 training images), then the ``best`` preset's CHLU scored by
it, and (unless ``--no-paper``, which keeps the paper preset's recorded metrics) the ``paper`` preset for comparison; registers both checkpoints in
``assets/manifest.json`` with their metrics and training times, the paper preset's beside the best
one's (``--paper-from DIR`` takes them from the ``metrics.json`` of a finished
``python -m chlu_core reproduce exp3 --preset paper`` run instead; ``--best-from DIR`` likewise ships a
finished best-preset run instead of training it again). ``--png`` also writes the best preset's digit grid as a PNG (for a person to look at).
Last, it writes the dashboard MNIST page's first dream of the shipped unit (``assets/exp3_first_dreams.npz``,
:func:`write_first_dreams`); ``--dreams-only`` does only that. ``--rescore`` scores the shipped unit
again (:func:`rescore_shipped`, after a score was added to ``exp3.evaluate``) and rewrites its dream.
MNIST is read from ``$CHLU_DATA_DIR``.
"""
from __future__ import annotations

import argparse
import dataclasses
import io
import json
import time
from pathlib import Path

import numpy
import torch

from chlu_core.assets import ASSETS_DIR, DREAMS, asset_path, model_fields, read_manifest, register
from chlu_core.build_assets import write_derived
from chlu_core.checkpoints import load, save, write_atomically
from chlu_core.experiments import mnist as exp3


def progress(report):
    if report.iteration % 100 == 0 or report.iteration == report.total:
        losses = ", ".join(f"{k} {v:.4g}" for k, v in report.losses.items())
        print(f"[{report.stage}] {report.iteration}/{report.total}  {losses}  {report.elapsed:.0f} s", flush=True)


def write_centroid(seed: int) -> None:
    centroid = exp3.mnist_test_centroid().numpy()
    buffer = io.BytesIO()
    numpy.save(buffer, centroid, allow_pickle=False)
    path = write_atomically(buffer.getvalue(), ASSETS_DIR / exp3.CENTROID_ASSET)
    register(path, "exp3", "best", seed, {"mean_pixel": float((centroid.mean() + 1.0) / 2.0)}, 0.0, model="centroid")


def build_classifier(seed: int):
    config = exp3.PRESETS["best"]
    start = time.perf_counter()
    classifier, test_accuracy = exp3.fit_classifier(config, seed=seed, progress=progress)
    wall = time.perf_counter() - start
    metrics = {"test_accuracy": test_accuracy}
    path = save(classifier, ASSETS_DIR / exp3.CLASSIFIER_ASSET,
                metadata={"experiment": "exp3", "seed": seed, "metrics": metrics, "training_wall_time_s": wall,
                          "epochs": config.classifier_epochs, "training_images": 60_000})
    register(path, "exp3", "best", seed, metrics, wall, model="classifier")
    print("classifier", json.dumps(metrics), f"{wall:.1f} s", flush=True)
    return classifier


def write_first_dreams(seed: int) -> dict:
    """Dream the MNIST page's first view (``mnist.PREVIEW`` with the unit's own clipping: exactly what the
    dashboard computes) with the shipped unit, and ship it with that unit's sha256, so that the page
    draws it without dreaming until the unit changes."""
    unit, metadata = load(asset_path("exp3_chlu.pt"), with_metadata=True)
    settings = {**exp3.PREVIEW, "clip_every": exp3.clip_every_of(metadata)}
    dreams = exp3.dream(unit, exp3.shipped_centroid(), exp3.shipped_classifier(), **settings)
    arrays = {"final": dreams["final"], "start": dreams["start"],
              **{f"snapshot.{step}": images for step, images in dreams["snapshots"].items()}}
    return write_derived(DREAMS, arrays, ["exp3_chlu.pt"], seed, settings=settings, scores=dreams["scores"])


def best_config_as_recorded() -> dict:
    """The best preset's config as a checkpoint or ``metrics.json`` records it (JSON: tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(exp3.PRESETS["best"])))


def rescore_shipped() -> None:
    """Score the shipped unit again with its recorded seed and the best preset's sampler, and record the
    new scores of its samples, starting points and deterministic control (and the sampling time) in its
    checkpoint and the manifest; its weights, training figures and the paper preset's recorded metrics
    stay as they are."""
    unit, metadata = load(asset_path("exp3_chlu.pt"), with_metadata=True)
    if metadata["config"] != best_config_as_recorded():
        raise ValueError("the shipped unit was not trained with the current best preset; rebuild it instead")
    scored, _ = exp3.evaluate(unit, exp3.shipped_classifier(), exp3.shipped_centroid(), exp3.PRESETS["best"],
                              seed=metadata["seed"])
    metrics = dict(metadata["metrics"])
    for part in ("samples", "start", "deterministic_control", "sampling_time_s"):
        print(part, "recorded", json.dumps(metrics.get(part)), "now", json.dumps(scored[part]), flush=True)
        metrics[part] = scored[part]
    entry = read_manifest()["files"]["exp3_chlu.pt"]
    kept = {k: v for k, v in entry.items() if k not in ("file", "sha256", "experiment", "preset", "seed", "metrics",
                                                       "training_wall_time_s", "library_version")}
    metadata = {"model": "CHLU", **metadata, "metrics": metrics}
    path = save(unit, asset_path("exp3_chlu.pt"), metadata=metadata)
    register(path, "exp3", "best", metadata["seed"], metrics, metadata["training_wall_time_s"],
             **{**kept, **model_fields(unit, metadata)})


def finished_best_run(folder: Path, seed: int) -> tuple:
    """``(unit, metrics, training wall time)`` of a finished run of the best preset (written by
    :meth:`ExperimentResult.write`, e.g. ``python -m chlu_core reproduce exp3 --preset best``), scored by
    the shipped classifier; refused unless its seed and config are the best preset's."""
    summary = json.loads((folder / "metrics.json").read_text())
    if summary["seed"] != seed or summary["config"] != best_config_as_recorded():
        raise ValueError(f"{folder} is not a run of the best preset with seed {seed}")
    unit = load(folder / "exp3_chlu.pt")
    print("best (from", folder, ")", json.dumps(summary["metrics"]), flush=True)
    return unit, summary["metrics"]["CHLU"], summary["training_wall_time_s"]["CHLU"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-paper", action="store_true", help="skip the paper preset's comparison run (keep its recorded metrics)")
    parser.add_argument("--paper-from", help="metrics.json folder of a finished paper-preset run")
    parser.add_argument("--best-from", help="folder of a finished best-preset run (metrics.json, exp3_chlu.pt) to "
                        "ship instead of training it again; its config must be the best preset's")
    parser.add_argument("--reuse-classifier", action="store_true", help="keep the shipped classifier")
    parser.add_argument("--png", help="write the best preset's digit grid to this PNG file")
    parser.add_argument("--dreams-only", action="store_true", help="only write the dashboard's first dream of the shipped unit")
    parser.add_argument("--rescore", action="store_true", help="score the shipped unit again (new scores), then "
                        "write its dream; no training")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for PCD's small batches on a "
                        "shared CPU; the best preset's score matching, batch 128, gains from 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.dreams_only or args.rescore:
        if args.rescore:
            rescore_shipped()
        write_first_dreams(args.seed)
        return

    finished = finished_best_run(Path(args.best_from), args.seed) if args.best_from else None  # check before writing
    write_centroid(args.seed)
    classifier = exp3.shipped_classifier() if args.reuse_classifier else None
    classifier = classifier or build_classifier(args.seed)
    if finished:
        unit, metrics, wall = finished
    else:
        best = exp3.run("best", seed=args.seed, progress=progress, classifier=classifier)
        print("best", json.dumps(best.metrics), json.dumps(best.wall_time_s), flush=True)
        unit, metrics, wall = best.models["CHLU"], best.metrics["CHLU"], best.wall_time_s["CHLU"]
    extra = {"model": "CHLU", "sample_pixels": "tanh(3q) mapped to [0, 1]"}
    if args.paper_from:
        paper = json.loads((Path(args.paper_from) / "metrics.json").read_text())
        if paper["preset"] != "paper" or paper["seed"] != args.seed:
            raise ValueError(f"{args.paper_from} holds preset {paper['preset']!r}, seed {paper['seed']}, "
                             f"not the paper preset with seed {args.seed}")
        extra.update(paper_metrics=paper["metrics"]["CHLU"],
                     paper_training_wall_time_s=paper["training_wall_time_s"]["CHLU"])
    elif not args.no_paper:
        paper = exp3.run("paper", seed=args.seed, progress=progress, classifier=classifier)
        print("paper", json.dumps(paper.metrics), json.dumps(paper.wall_time_s), flush=True)
        extra.update(paper_metrics=paper.metrics["CHLU"], paper_training_wall_time_s=paper.wall_time_s["CHLU"])
    else:  # --no-paper: the paper preset did not change, keep its recorded comparison
        recorded = read_manifest()["files"].get("exp3_chlu.pt", {})
        extra.update({k: recorded[k] for k in ("paper_metrics", "paper_training_wall_time_s") if k in recorded})
    metadata = {"experiment": "exp3", "preset": "best", "seed": args.seed, "model": "CHLU",
                "config": dataclasses.asdict(exp3.PRESETS["best"]), "metrics": metrics, "training_wall_time_s": wall}
    path = save(unit, ASSETS_DIR / "exp3_chlu.pt", metadata=metadata)
    register(path, "exp3", "best", args.seed, metrics, wall, **{**extra, **model_fields(unit, metadata)})
    if args.png:
        from torchvision.utils import save_image
        samples = exp3.sample_with(unit, exp3.mnist_test_centroid(), exp3.PRESETS["best"],
                                   seed=args.seed)
        save_image(exp3.to_image(samples.final).reshape(-1, 1, 28, 28), args.png, nrow=8, pad_value=0.5)
    write_first_dreams(args.seed)


if __name__ == "__main__":
    main()
