"""MNIST: dream digits by Langevin annealing from the noisy test centroid (the paper's figure 3)."""
import time

import streamlit as st

from app import compute, layout, models, state
from chlu_core import DivergenceError, figures

st.title("MNIST: dreaming digits")
st.caption("The CHLU learned an energy over 28×28 images (the shipped one: a ConvNet that models strokes, plus a "
           "prior on the coarse layout of real digits). Start chains at the blurry average test digit plus "
           "noise, add heat that cools from T₀ to T_end while friction γ drains energy, and the chains settle into "
           "low-energy images: digits. Without friction nothing settles; without heat the start's noise alone picks "
           "the digit (the paper's unit then collapses to one mode).")
settings = state.PageSettings("mnist")
units = [e for e in models.entries("exp3") if e.kind == "CHLU"]
if not units:
    st.info("No MNIST CHLU is available: the shipped one is missing and you have not uploaded one.")
    st.stop()
PRESETS = {"Langevin (the paper)": dict(gamma=0.3, T0=1.0, T_end=0.01),
           "Deterministic (γ = 0.3, T = 0)": dict(gamma=0.3, T0=0.0, T_end=0.0),
           "Conservative (γ = T = 0)": dict(gamma=0.0, T0=0.0, T_end=0.0)}


def apply(preset: dict) -> None:
    for name, value in preset.items():
        st.session_state[f"mnist.{name}"] = value


st.markdown("**Controls, one click away**")
buttons = st.columns(len(PRESETS))
for column, (label, preset) in zip(buttons, PRESETS.items()):
    column.button(label, on_click=apply, args=(preset,), width="stretch")

DEFAULTS = compute.DREAM_DEFAULTS
with st.form("mnist.settings"):
    labels = {e.key: f"{e.label} · {e.source}" for e in units}
    first, second, third = st.columns(3)
    key = settings.select("model", "CHLU", list(labels), container=first, format_func=labels.get)
    noise_scale = settings.slider("noise", "Start noise scale", 0.0, 1.0, DEFAULTS["noise_scale"], step=0.05, container=first)
    seed = settings.slider("seed", "Seed", 0, 99, DEFAULTS["seed"], container=first)
    gamma = settings.slider("gamma", "Friction γ", 0.0, 0.9, DEFAULTS["gamma"], step=0.05, container=second)
    T0 = settings.slider("T0", "Start temperature T₀", 0.0, 2.0, DEFAULTS["T0"], step=0.05, container=second)
    T_end = settings.slider("T_end", "End temperature T_end", 0.0, 0.5, DEFAULTS["T_end"], step=0.01, container=second)
    steps = settings.slider("steps", "Langevin steps", 0, 1000, DEFAULTS["steps"], step=50, container=third)
    n = settings.slider("samples", "Samples", 4, 64, DEFAULTS["n"], step=4, container=third,
                        help="64 samples × 1,000 steps take about 5–10 s on a small CPU")
    st.form_submit_button("Dream", type="primary", icon=":material/auto_awesome:")

entry = models.by_key(key)
try:
    compute.mnist_centroid()
except ValueError as error:
    st.error(f"The dreams start at the MNIST test-set centroid, but the MNIST test images are not available "
             f"here: {error}", icon="⚠️")
    st.stop()
started = time.perf_counter()
try:
    dreams = compute.dream(models.model(entry), entry.digest, n, noise_scale, gamma, T0, T_end, steps, seed,
                           clip_every=compute.clip_every_of(entry.metadata))
except DivergenceError as error:  # a ValueError too: caught first
    st.error(f"The chains diverged: {error}", icon="⚠️")
    st.stop()
except ValueError as error:  # temperatures that do not fit together
    st.error(f"Cannot dream with these settings: {error}", icon="⚠️")
    st.stop()
st.caption(f"{n} chains × {steps} steps in {time.perf_counter() - started:.1f} s (cached results are instant).")

layout.chart(figures.digit_grid(dreams["final"], nrow=min(8, n)), key="mnist.grid")
st.caption("tanh(3q) of each chain's final state. Notice which digits appear, and how often.")
strip, histogram = st.columns(2)
with strip:
    layout.chart(figures.evolution_strip(dreams["snapshots"]), key="mnist.strip")
    st.caption("The first chains at five moments from start (left) to end (right).")
with histogram:
    if dreams["scores"] is None:
        st.info("No digit classifier is shipped, so the samples are not scored.")
    else:
        scores = dreams["scores"]
        layout.chart(figures.class_histogram({"CHLU samples": scores["dreams"]["histogram"],
                                               "start (noisy centroid)": scores["start"]["histogram"]}),
                      key="mnist.histogram")
        st.caption(f"What a small MNIST classifier reads in the dreams: entropy "
                   f"{scores['dreams']['entropy_bits']:.2f} bits over the 10 classes (3.32 = all equally often), "
                   f"mean confidence {scores['dreams']['mean_confidence']:.2f}; "
                   f"{scores['dreams']['mean_ink_pieces']:.1f} separate pieces of ink per dream "
                   f"(a written digit is one: MNIST's test digits average 1.04).")
