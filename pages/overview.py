"""Overview: what a CHLU is, the one figure that shows it, and a way into every page."""
import streamlit as st

from app.navigation import PAGES

st.title("The Causal Hamiltonian Learning Unit")
st.markdown(
    "A **CHLU** learns an energy H(q, p) = T(p) + V(q) instead of a next-step map, and moves its state with a "
    "**symplectic integrator**: at zero friction it conserves phase-space volume exactly, so it can neither "
    "blow up nor fade away. Its kinetic energy is **relativistic**, so no velocity ever exceeds a speed "
    "limit *c*: noise becomes a phase shift, not an explosion. One friction knob γ filters noise, and with "
    "a little heat the same unit **dreams** data (Langevin annealing).")

# An empty chart first, before importing torch and the models (2 s on a cold server): the browser fetches
# and starts Plotly's code meanwhile instead of after the free runs.
orbits = st.empty()
orbits.plotly_chart({"data": [{"type": "scatter", "x": [], "y": []}],
                     "layout": {"height": 400, "xaxis": {"visible": False}, "yaxis": {"visible": False}}})

from app import compute, models, widgets  # noqa: E402
from chlu_core import figures  # noqa: E402

CYCLES = 50
shipped = {e.kind: e for e in models.entries("exp1") if e.source == "shipped"}
runs = widgets.free_runs([shipped[k] for k in ("LSTM", "NODE", "CHLU") if k in shipped], "exp1", CYCLES)
if not runs:
    orbits.empty()
    st.info("The pretrained lemniscate models are not installed (assets/); train your own on the Train page.")
else:
    steps = CYCLES * compute.LEMNISCATE["steps_per_cycle"]
    with orbits:
        widgets.chart(figures.orbit_cursor_panels(runs, steps, compute.LEMNISCATE["steps_per_cycle"],
                                                truth=compute.truth("exp1")), key="overview.orbits")
    st.caption(f"Each model learned three cycles of a figure-eight, then ran freely for {CYCLES} more "
               "(6,250 steps). Faint: cycles 0–48; solid: the last two; dashed: the true curve. The paper reports "
               "the LSTM drifting off and the Neural ODE spiralling inward; below are these shipped models' own "
               "numbers (lower is better). Noisy starts tell them apart: see Energy and Noise filtering.")
    errors = {kind: shipped[kind].metrics.get("orbit_error") for kind in ("LSTM", "NODE", "CHLU") if kind in shipped}
    if all(isinstance(error, (int, float)) for error in errors.values()):
        for column, (kind, error) in zip(st.columns(len(errors)), errors.items()):
            column.metric(f"{kind}: distance to the curve, last 2 cycles", f"{error:.3g}")

st.subheader("Explore")
columns = st.columns(2)
for index, page in enumerate(p for p in PAGES if p.file != "overview"):
    with columns[index % 2].container(border=True):
        st.page_link(page.page(), label=page.title, icon=page.icon)
        st.caption(page.blurb)
