"""Energy: kinetic energy computed from q against from p, from the same noisy starts (figures 2 and 5)."""
import streamlit as st

from app import compute, layout, models, state
from chlu_core import figures

st.title("Energy")
st.caption("Every model starts from the same noisy state of a sine wave and runs freely. A physical model's "
           "kinetic energy is the same whether you compute it from its positions q (finite differences) or "
           "from its own velocity channel p. Does it stay near the expected curve?")
settings = state.PageSettings("energy")
entries = models.compared("exp2")
if not entries:
    st.info("No sine-wave model is chosen: pick some on the Models page.")
    st.stop()
controls = st.columns([1, 2, 1, 1])
DEFAULTS = compute.ENERGY_DEFAULTS
sigma = settings.slider("sigma", "Start noise σ", 0.0, 1.0, DEFAULTS["sigma"], step=0.05, container=controls[0])
waves = settings.multiselect("waves", "Test waves", [str(i) for i in range(1, 21)],
                             default=[str(w + 1) for w in DEFAULTS["waves"]],
                             container=controls[1], max_selections=4)
seed = settings.slider("seed", "Noise seed", 0, 20, DEFAULTS["seed"], container=controls[2])
span = settings.slider("span", "Show the first … time units", 2, 50, 10, container=controls[3])
if not waves:
    st.info("Choose at least one test wave.")
    st.stop()

chosen = {e.label: models.model(e) for e in entries}
result = compute.noisy_waves(chosen, tuple(e.digest for e in entries), sigma, tuple(int(w) - 1 for w in waves), seed,
                             compute.model_dts(chosen, entries))
failed = [name for name, run in result["runs"].items() if run is None]
if failed:
    st.warning(f"{', '.join(failed)} diverged from this start and is left out.", icon="⚠️")
shown = slice(0, int(span / compute.SINE["dt"]) + 1)
times, from_q, from_p = (result["times"][shown], {k: v[shown] for k, v in result["from_q"].items()},
                         {k: v[shown] for k, v in result["from_p"].items()})
layout.chart(figures.kinetic_energy_panels(times, result["expected"][shown], from_q,
                                            title=f"Kinetic energy from q against the expected (σ = {sigma})"),
              key="energy.fig2")
st.caption("Figure 2. Dotted: the clean wave's ½ẋ². The paper reports non-physical velocity spikes for the LSTM, "
           "a wave collapsing toward 0 for the Neural ODE, and for the CHLU a speed that saturates below c, so that "
           "noise becomes a phase shift. Move σ and the waves to see where these models agree.")
layout.chart(figures.kinetic_energy_q_vs_p(times, from_q, from_p), key="energy.fig5")
st.caption("Figure 5. Top: from q; bottom: from the model's own velocity. Only a model that learned the q–p "
           "relation draws the same picture twice; a relativistic CHLU's velocity is ∂H/∂p by construction.")
