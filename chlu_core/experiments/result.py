"""What an experiment run returns, and how it is written to disk."""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..checkpoints import save


@dataclass
class ExperimentResult:
    """One run of one experiment preset.

    ``models``: name → trained model (e.g. "CHLU", "LSTM", "NODE"); ``metrics``: JSON-serialisable
    numbers per model; ``figures``: name → Plotly figure; ``config``: the preset's settings as a dict;
    ``warnings``: what went wrong but left a result (a model whose training diverged keeps its last good
    weights, and its metrics say ``diverged_at_iteration``).
    """

    experiment: str
    preset: str
    seed: int
    config: dict
    models: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    wall_time_s: dict = field(default_factory=dict)  # model name → training seconds
    warnings: list = field(default_factory=list)  # for people: e.g. a model whose training diverged

    def write(self, out_dir) -> Path:
        """Write ``<model>.pt`` checkpoints, ``metrics.json`` and ``<figure>.html`` under ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name, model in self.models.items():
            metadata = {"experiment": self.experiment, "preset": self.preset, "seed": self.seed,
                        "config": self.config, "metrics": self.metrics.get(name, {}),
                        "training_wall_time_s": self.wall_time_s.get(name)}
            save(model, out / f"{self.experiment}_{name.lower()}.pt", metadata=metadata)
        summary = {"experiment": self.experiment, "preset": self.preset, "seed": self.seed,
                   "config": self.config, "metrics": self.metrics, "training_wall_time_s": self.wall_time_s}
        fd, tmp = tempfile.mkstemp(dir=out, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(summary, f, indent=2)
        os.replace(tmp, out / "metrics.json")
        for name, figure in self.figures.items():
            figure.write_html(out / f"{self.experiment}_{name}.html", include_plotlyjs=True, full_html=True)
        return out
