"""Overview: what a CHLU is, the one figure that shows it, and a way into every page."""
import streamlit as st

from app import layout, precomputed
from app.navigation import PAGES
from chlu_core import figures

st.title("The Causal Hamiltonian Learning Unit")
st.markdown(
    "A **CHLU** learns an energy H(q, p) = T(p) + V(q) instead of a next-step map, and moves its state with a "
    "**symplectic integrator**: at zero friction it conserves phase-space volume exactly, so it can neither "
    "blow up nor fade away. Its kinetic energy is **relativistic**, so no velocity ever exceeds a speed "
    "limit *c*: noise becomes a phase shift, not an explosion. One friction knob γ filters noise, and with "
    "a little heat the same unit **dreams** data (Langevin annealing).")

CYCLES = 50
shipped = precomputed.lemniscate_runs(CYCLES)
runs, errors, per_cycle = shipped["runs"], shipped["errors"], shipped["steps_per_cycle"]
if not runs:
    st.info("The pretrained lemniscate models are not installed (assets/); train your own on the Train page.")
else:
    orbits = figures.orbit_panels({name: run["q"] for name, run in runs.items()}, shipped["truth"], per_cycle, title=None)
    layout.light_chart(orbits, alt=f"LSTM, NODE and CHLU, each running freely for {CYCLES} cycles of the figure-eight")
    st.caption(f"Each model learned three cycles of a figure-eight, then ran freely for {CYCLES} more "
               f"({CYCLES * per_cycle:,} steps). Faint: cycles 0–48; solid: the last two; dashed: the true "
               "curve. The paper reports the LSTM drifting off and the Neural ODE spiralling inward; below are "
               "these shipped models' own numbers (lower is better). Noisy starts tell them apart: see Energy and "
               "Noise filtering.")
    if errors and all(isinstance(error, (int, float)) for error in errors.values()):
        for column, (kind, error) in zip(st.columns(len(errors)), errors.items()):
            column.metric(f"{kind}: distance to the curve, last 2 cycles", f"{error:.3g}")

st.subheader("Explore")
columns = st.columns(2)
for index, page in enumerate(p for p in PAGES if p.file != "overview"):
    with columns[index % 2].container(border=True):
        st.page_link(page.page(), label=page.title, icon=page.icon)
        st.caption(page.blurb)
