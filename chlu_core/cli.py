"""The command line: ``python -m chlu_core <command>``.

    reproduce {exp1,exp2,exp3,all} --out DIR [--preset paper|best|quick] [--seed N]
        train the experiment's models with a progress bar and write, under DIR/<experiment>/,
        the checkpoints (<experiment>_<model>.pt), metrics.json and the figures as HTML. Ctrl-C stops
        the training after its current iteration and still evaluates and saves what was trained (a
        second Ctrl-C aborts); a model whose training diverges is saved with its last good weights.
    build-assets [exp1 exp2] [--seed N] [--skip-paper] [--evaluate-only]
        regenerate the shipped checkpoints in assets/ (best preset) and their manifest entries,
        with the paper preset's metrics recorded beside them; --evaluate-only keeps the weights and
        refreshes the metrics.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from . import experiments
from .data.mnist import MissingData
from .training import Progress, TrainingDiverged


class StopRequest:
    """Within ``with``, the first Ctrl-C asks the training to stop after its current iteration (the run
    then evaluates and saves what it has trained); a second one aborts as usual."""

    requested = False

    def __enter__(self) -> "StopRequest":
        # Python lets only the main thread set a handler; elsewhere Ctrl-C keeps its usual meaning.
        self._previous = (signal.signal(signal.SIGINT, self._interrupt)
                          if threading.current_thread() is threading.main_thread() else None)
        return self

    def _interrupt(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nStopping after this iteration; what was trained will be evaluated and saved "
              "(Ctrl-C again to abort).", file=sys.stderr)

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class ProgressBars:
    """A tqdm bar per training stage (model), fed by :class:`~chlu_core.training.Progress` reports; stops
    the training (returns False) once ``stop`` is requested."""

    def __init__(self, prefix: str = "", stop: StopRequest | None = None):
        self.prefix, self.stage, self.bar, self.stop = prefix, None, None, stop

    def __call__(self, report: Progress):
        from tqdm import tqdm
        if report.stage != self.stage or self.bar is None:
            self.close()
            self.stage = report.stage
            self.bar = tqdm(total=report.total, desc=f"{self.prefix}{report.stage}", unit="it", leave=True)
        self.bar.update(report.iteration - self.bar.n)
        self.bar.set_postfix({k: f"{v:.3g}" for k, v in report.losses.items() if k in ("loss", "wake_mse")})
        return not (self.stop and self.stop.requested)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def available(names: list) -> tuple[dict, list]:
    """(name → module) of the experiments that can be imported, and the names that cannot."""
    found, missing = {}, []
    for name in names:
        try:
            found[name] = experiments.get(name)
        except ModuleNotFoundError as error:
            if not error.name or not experiments.EXPERIMENTS[name].startswith(error.name):
                raise  # a missing dependency inside an existing module is a real error
            missing.append(name)
    return found, missing


def reproduce(args) -> int:
    names = list(experiments.EXPERIMENTS) if args.experiment == "all" else [args.experiment]
    found, missing = available(names)
    for name in missing:
        print(f"{name}: not available yet ({experiments.EXPERIMENTS[name]} does not exist in this "
              "installation)", file=sys.stderr)
    if args.experiment != "all" and missing:
        return 2
    out = Path(args.out)
    created = not out.exists()
    try:  # before any training, which a bad folder would otherwise throw away at the end
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"cannot write to --out {args.out}: {error.strerror or error}", file=sys.stderr)
        return 2
    status = 0
    with StopRequest() as stop:
        for name, module in found.items():
            bars = ProgressBars(f"{name} ", stop)
            try:
                result = module.run(args.preset, seed=args.seed, progress=bars)
            except (TrainingDiverged, MissingData) as error:
                bars.close()
                print(f"{name}: {error}", file=sys.stderr)
                status = 1
                continue
            bars.close()
            for warning in result.warnings:  # e.g. a model whose training diverged: saved as it last was good
                print(f"{name}: {warning}", file=sys.stderr)
                status = 1
            written = result.write(out / name)
            stopped = " (training stopped early)" if stop.requested else ""
            print(f"{name} ({args.preset}, seed {args.seed}){stopped}: wrote {written}/metrics.json, "
                  f"{len(result.models)} checkpoints and {len(result.figures)} figures")
            if stop.requested:
                skipped = list(found)[list(found).index(name) + 1:]
                if skipped:
                    print(f"stopped: {', '.join(skipped)} not run", file=sys.stderr)
                status = 130  # interrupted, as a shell reports Ctrl-C
                break
    if created and not any(out.iterdir()):  # every experiment failed: leave no empty folder behind
        out.rmdir()
    return status


def build_assets(args) -> int:
    from .build_assets import build, reevaluate
    for name in args.experiments:
        if args.evaluate_only:
            reevaluate(name)
        else:
            build(name, seed=args.seed, with_paper=not args.skip_paper, progress=ProgressBars(f"{name} "))
    return 0


def seed(text: str) -> int:
    """A seed every generator here accepts, with room for the seed + k that some stages use: [0, 2⁶³)."""
    value = int(text)
    if not 0 <= value < 2**63:
        raise ValueError(text)
    return value


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m chlu_core", description=(
        "The Causal Hamiltonian Learning Unit: reproduce the paper's experiments and rebuild the shipped "
        "checkpoints."), formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("reproduce", help="train and evaluate an experiment; write checkpoints, "
                              "metrics.json and HTML figures", description=(
        "Train the experiment's models (progress bar per model), evaluate them and write, under "
        "OUT/<experiment>/, the checkpoints, metrics.json and the figures as self-contained HTML. "
        "exp1: lemniscate (figures 1, 4); exp2: noisy sine waves (figures 2, 5, MSE vs σ); "
        "exp3: MNIST generation (figure 3); all: every experiment available."))
    run.add_argument("experiment", choices=[*experiments.EXPERIMENTS, "all"])
    run.add_argument("--out", required=True, help="output folder")
    run.add_argument("--preset", choices=("paper", "best", "quick"), default="best",
                     help="paper: the published protocol; best: this project's recipe (the shipped "
                          "checkpoints); quick: seconds, for demos (default: best)")
    run.add_argument("--seed", type=seed, default=0, help="random seed; the same seed gives the same metrics")
    run.set_defaults(handler=reproduce)
    build = commands.add_parser("build-assets", help="regenerate the shipped checkpoints in assets/ and their "
                                "manifest entries", description=(
        "Train the best preset of each experiment, write assets/<experiment>_<model>.pt and register them in "
        "assets/manifest.json with their metrics, training time and the paper preset's metrics beside them."))
    build.add_argument("experiments", nargs="*", choices=("exp1", "exp2"), default=["exp1", "exp2"])
    build.add_argument("--seed", type=seed, default=0)
    build.add_argument("--skip-paper", action="store_true", help="do not run the paper preset for comparison")
    build.add_argument("--evaluate-only", action="store_true", help="keep the shipped weights: re-evaluate them "
                       "under the current best preset and refresh their metrics (after a change to evaluation)")
    build.set_defaults(handler=build_assets)
    return main


def main(argv=None) -> int:
    import torch
    torch.set_num_threads(1)  # the models are small: one thread is fastest
    args = parser().parse_args(argv)
    return args.handler(args)
