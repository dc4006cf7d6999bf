"""Rollouts: free-run the compared models for N cycles and scrub through time."""
import streamlit as st

from app import compute, layout, models, state, widgets
from chlu_core import figures

st.title("Rollouts")
st.caption("Every model starts from the same state and runs on its own, with no data. Scrub the time "
           "slider or press play; the figure-eight view, the phase space and the energy follow.")
settings = state.PageSettings("rollouts")
EXPERIMENTS = {"exp1": "Lemniscate (I)", "exp2": "Sine wave (II)"}
left, right = st.columns(2)
experiment = settings.select("experiment", "Experiment", list(EXPERIMENTS), container=left,
                             widget=st.segmented_control, format_func=EXPERIMENTS.get)
cycles = settings.slider("cycles", "Cycles to free-run", 1, 50, 50, container=right)
spec = compute.LEMNISCATE if experiment == "exp1" else compute.SINE
steps, per_cycle = cycles * spec["steps_per_cycle"], spec["steps_per_cycle"]

entries = models.compared(experiment)
runs = widgets.free_runs(entries, experiment, cycles)
if not runs:
    st.info("No model of this experiment is chosen: pick some on the Models page.")
    st.stop()
truth = compute.truth(experiment)
playing = settings.toggle("play", "▶ Play", help="Advance the time slider by a fifth of a cycle every 0.2 s")


@st.fragment(run_every=0.2 if playing else None)
def scrub():
    key = "rollouts.t"
    if playing and key in st.session_state:  # advance before the slider exists in this run
        st.session_state[key] = (st.session_state[key] + max(per_cycle // 5, 1)) % (steps + 1)
    cursor = settings.slider("t", "Time step", 0, steps, steps, step=1)
    st.caption(f"t = {cursor * spec['dt']:.2f} time units · cycle {cursor / per_cycle:.1f} of {cycles}")
    layout.chart(figures.orbit_cursor_panels(runs, cursor, per_cycle, truth=truth), key="rollouts.orbits")
    st.caption("Faint: the path so far; solid: the last two cycles before the cursor; dashed: the truth.")
    phase, energy = st.columns(2)
    with phase:
        layout.chart(figures.phase_space(runs, cursor), key="rollouts.phase")
    energies = {name: run["H"] for name, run in runs.items() if "H" in run}
    with energy:
        if energies:
            times = spec["dt"] * compute.numpy.arange(steps + 1)
            layout.chart(figures.energy_trace(times, energies, cursor * spec["dt"]), key="rollouts.energy")
            st.caption("At zero friction the CHLU's energy stays flat up to a small bounded wobble: the "
                       "symplectic integrator cannot drift. LSTM and NODE have no energy to show.")
        else:
            st.info("Only a CHLU has an energy H(q, p); add one on the Models page.")


scrub()
st.download_button("Download the rollouts (CSV)", compute.rollout_csv(runs, spec["dt"]),
                   file_name=f"rollouts_{experiment}_{cycles}cycles.csv", mime="text/csv",
                   icon=":material/download:")
settings.show_notices()
