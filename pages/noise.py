"""Noise filtering: a CHLU uses the energy it learned to shed what a noisy start injected."""
import streamlit as st

from app import compute, layout, models, state
from chlu_core import figures

st.title("Noise filtering")
st.caption("Start every model from a noisy state of a sine wave. Left alone, a CHLU conserves whatever "
           "energy the noise gave it. It knows the energy E* of the training waves, and can filter with it: "
           "start on that energy shell (scale the noisy state until H = E*, which keeps its phase), or let "
           "friction γ drain energy — for a while (fixed annealing), or only while H is above E* (the "
           "governor). The baselines have no such knobs.")
settings = state.PageSettings("noise")
FRICTION = {"none": "None", "annealed": "Fixed annealing", "governor": "Energy governor"}
entries = models.compared("exp2")
if not entries:
    st.info("No sine-wave model is chosen: pick some on the Models page.")
    st.stop()
left, middle, right = st.columns([1, 1.4, 1])
DEFAULTS = compute.RECONSTRUCTION_DEFAULTS
sigma = settings.slider("sigma", "Start noise σ", 0.0, 1.0, DEFAULTS["sigma"], step=0.05, container=left)
mode = settings.select("friction", "Friction", list(FRICTION), container=middle, widget=st.segmented_control,
                       format_func=FRICTION.get)
_, default_gamma, default_fraction, default_strength, default_shell = compute.NOISE_DEFAULTS
shell = settings.toggle("shell", "Start on the learned energy shell", default_shell, container=middle,
                        help="Scale the noisy (q, v) about the origin until the CHLU's H equals E*, the median "
                             "energy of its training waves; the shipped recipe")
gamma = settings.slider("gamma", "Friction γ", 0.01, 0.5, default_gamma, step=0.01, container=right,
                        disabled=mode != "annealed", help="p ← (1 − γ) p after each step, while it acts")
fraction = settings.slider("fraction", "Acts for the first … of the run", 0.05, 1.0, default_fraction, step=0.05,
                           container=right, disabled=mode != "annealed")
strength = settings.slider("strength", "Governor strength s", 0.05, 1.0, default_strength, step=0.05, container=right,
                           disabled=mode != "governor", help="γ_t = s · tanh(max(0, H − E*)), E* from the training data")
waves = settings.multiselect("waves", "Test waves to draw", [str(i) for i in range(1, 21)],
                             default=[str(w + 1) for w in DEFAULTS["waves"]],
                             max_selections=4, container=left)
span = settings.slider("span", "Show the first … time units", 2, 50, 10, container=middle)

chosen = {e.label: models.model(e) for e in entries}
digests = tuple(e.digest for e in entries)
noise_filter = (mode, gamma, fraction, strength, shell)
curves = {}
for entry in entries:  # a baseline's curve does not depend on the filter: computed once
    applied = noise_filter if entry.kind == "CHLU" else compute.UNFILTERED
    measured = compute.mse_curve(entry, chosen[entry.label], applied)
    curves[entry.label], curves["oracle"] = measured["model"], measured["oracle"]
layout.chart(figures.mse_vs_sigma(list(compute.sine_waves.SIGMAS), curves,
                                   title=f"Free-run MSE against the clean wave · friction: {FRICTION[mode]}"
                                         + (" · start on the energy shell" if shell else "")),
              key="noise.mse")
st.caption("Lower is better; the oracle is the exact oscillator from the same noisy start, the best any "
           "free-running model from the noisy start can do; a filter can beat it. Switch the filters and watch "
           "only the CHLU's curve move.")
if waves:
    runs = compute.filtered_waves(chosen, digests, noise_filter, sigma, tuple(int(w) - 1 for w in waves),
                                  compute.model_dts(chosen, entries))
    shown = slice(0, int(span / compute.SINE["dt"]) + 1)
    times = compute.numpy.arange(len(runs["clean"]))[shown] * compute.SINE["dt"]
    failed = [name for name, x in runs.items() if x is None]
    if failed:
        st.warning(f"{', '.join(failed)} diverged from this start and is left out.", icon="⚠️")
    drawn = {name: x[shown] for name, x in runs.items() if x is not None and name not in ("clean",)}
    layout.chart(figures.reconstructions(times, runs["clean"][shown], drawn,
                                          title=f"Reconstructions from a start with noise σ = {sigma}"),
                  key="noise.reconstructions")
