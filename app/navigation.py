"""The dashboard's pages, in navigation order."""
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"


@dataclass(frozen=True)
class PageInfo:
    file: str  # pages/<file>.py, also the URL path
    title: str
    icon: str
    blurb: str  # one line for the overview's way in

    def page(self) -> st.Page:
        return st.Page(PAGES_DIR / f"{self.file}.py", title=self.title, icon=self.icon, url_path=self.file,
                       default=self.file == "overview")


PAGES = (
    PageInfo("overview", "Overview", ":material/home:", "What a CHLU is, in one figure."),
    PageInfo("train", "Train", ":material/model_training:",
             "Train a CHLU, LSTM or Neural ODE on the lemniscate, sine waves or your own CSV."),
    PageInfo("models", "Models", ":material/inventory_2:",
             "The pretrained models and their metrics; upload a checkpoint; choose what to compare."),
    PageInfo("rollouts", "Rollouts", ":material/timeline:",
             "Free-run the models for many cycles and scrub through time."),
    PageInfo("landscape", "Landscape", ":material/landscape:",
             "The learned potential V(q) and its force field F = −∇V."),
    PageInfo("energy", "Energy", ":material/bolt:",
             "Kinetic energy from q against from p: who keeps physics under noise."),
    PageInfo("noise", "Noise filtering", ":material/blur_off:",
             "One friction knob filters noise: MSE against σ and the reconstructions."),
    PageInfo("mnist", "MNIST", ":material/draw:",
             "Dream digits by Langevin annealing from the noisy test centroid."),
)


def page_of(file: str) -> PageInfo:
    return next(page for page in PAGES if page.file == file)
