"""Rollouts: free-run the compared models for N cycles and scrub through time."""
import streamlit as st

from app import compute, layout, models, state, widgets

st.title("Rollouts")
st.caption("Every model starts from the same state and runs on its own, with no data. Drag the time slider "
           "under the figure or press play: a marker with a short tail moves along every view at once, in "
           "your browser.")
settings = state.PageSettings("rollouts")
EXPERIMENTS = {"exp1": "Lemniscate (I)", "exp2": "Sine wave (II)", "csv": "Your CSV data"}
left, right = st.columns(2)
experiment = settings.select("experiment", "Experiment", list(EXPERIMENTS), container=left,
                             widget=st.segmented_control, format_func=EXPERIMENTS.get)
if experiment == "csv":  # one model at a time: each keeps its own start, step and trajectory length
    trained = [e for e in models.entries("csv") if widgets.can_free_run(e)]
    if not trained:
        st.info("No model trained on your own data yet: upload a CSV of trajectories on the Train page.")
        st.stop()
    chosen = settings.select("model", "Model", [e.key for e in trained], container=left,
                             format_func={e.key: e.label for e in trained}.get)
    entries = [models.by_key(chosen)]
    cycles = settings.slider("lengths", "Training-trajectory lengths to free-run", 1, 50, 10, container=right,
                             help="One length is as many steps as each of your trajectories has")
    dt = compute.model_dt(models.model(entries[0]), entries[0].metadata)
else:
    cycles = settings.slider("cycles", "Cycles to free-run", 1, 50, 50, container=right)
    entries = models.compared(experiment)
    dt = (compute.LEMNISCATE if experiment == "exp1" else compute.SINE)["dt"]

runs, player = widgets.rollout_player(entries, experiment, cycles, dt)
if player is None:
    st.info("No model of this experiment is chosen: pick some on the Models page.")
    st.stop()
layout.chart(player, key="rollouts.player")
st.caption("Top, the paper's figure 1: faint, the early cycles; solid, the last two; dashed, the truth (your "
           "first trajectory, for a model trained on your data). "
           "Bottom: position against velocity, and the energy H(t) of a CHLU, which stays flat up to a small "
           "bounded wobble at zero friction: the symplectic integrator cannot drift. LSTM and NODE have no "
           "energy to show.")
# Built on click; on_click="ignore": a rerun started by the click would race the download and could revoke
# the file before the browser fetched it (Streamlit's documented race).
st.download_button("Download the rollouts (CSV)", lambda: compute.rollout_csv(runs, dt),
                   file_name=f"rollouts_{experiment}_{cycles}cycles.csv", mime="text/csv",
                   icon=":material/download:", on_click="ignore")
