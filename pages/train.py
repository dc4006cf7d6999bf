"""Train: a CHLU, LSTM or Neural ODE on the lemniscate, the sine waves or your own CSV trajectories."""
import dataclasses
import time

import streamlit as st

from app import layout, state, training
from app.navigation import page_of
from chlu_core import KINETIC_MODES
from chlu_core.experiments import presets
from chlu_core.figures import loss_curve

st.title("Train")
st.caption("Training runs in the background of your session: you can stop it, or look at other pages "
           "meanwhile. The trained model joins your models (Models page) and can be downloaded.")
settings = state.PageSettings("train")
DATA = {"exp1": "Lemniscate (I)", "exp2": "Sine waves (II)", "csv": "Your CSV"}
PRESETS = {"exp1": presets.LEMNISCATE, "exp2": presets.SINE_WAVES}
RECIPES = {"best": "This project's", "paper": "The paper's"}  # the experiments' presets
LEARNING_RATES = ["0.0001", "0.0003", "0.001", "0.003", "0.01"]
SPEED_LIMITS = ["0.5", "1", "2", "5", "10", "20", "50", "100", "200"]  # every preset's c among them

top = st.columns([1.3, 1, 1])
data_source = settings.select("data", "Data", list(DATA), container=top[0], widget=st.segmented_control,
                              format_func=DATA.get)
kind = settings.select("model", "Model", ["CHLU", "LSTM", "NODE"], container=top[1], widget=st.segmented_control)
recipe = settings.select("recipe", "Recipe", list(RECIPES), container=top[2], widget=st.segmented_control,
                         format_func=RECIPES.get, disabled=data_source == "csv",
                         help="This project's (the shipped models'): many windows per iteration (every second one "
                              "of the lemniscate, 64 random ones of the sine waves), short windows first, a decaying "
                              "learning rate, no sleep phase. The paper's: one random window per iteration, sleep "
                              "every 5 iterations. Your CSV data train by this project's.")
base = training.CsvConfig() if data_source == "csv" else PRESETS[data_source][recipe]
# Each data set and recipe has its own defaults: switching either starts from them.
if st.session_state.setdefault("train.defaults_of", (data_source, recipe)) != (data_source, recipe):
    st.session_state["train.defaults_of"] = (data_source, recipe)
    settings.reset(["kinetic", "c", "m0", "alpha", "dt", "iterations", "lr", "window", "sleep_every", "sleep_steps",
                    "sleep_batch"])

trajectories, top_speed = None, None
if data_source == "csv":
    st.markdown("One row per time step: a `trajectory` id column, positions `x, y, z` or `q1, q2, …`, "
                "optionally velocities `vx, …` / `v1, …` (else finite differences) and a time column `t`.")
    upload = st.file_uploader("Trajectories (CSV)", type=["csv"])
    file_dt = st.number_input("Time step dt, if the file has no t column", 0.001, 1.0, 0.05, format="%.3f")
    if upload is None:
        st.info("Upload a CSV file to train on your own data.")
    else:
        from chlu_core.data.trajectories_csv import read_trajectories_csv  # loads torch, which the rest need not
        try:
            data = read_trajectories_csv(upload.getvalue(), fallback_dt=file_dt)
        except ValueError as error:
            st.error(f"**{upload.name}** cannot be used: {error}", icon="🚫")
        else:
            trajectories = data.stacked()
            top_speed = training.top_speed(trajectories)
            base = dataclasses.replace(base, dt=data.dt)
            names = data.position_names if data.dim <= 8 else [*data.position_names[:3], "…", data.position_names[-1]]
            st.success(f"{len(data.ids)} trajectories of dimension {data.dim} ({', '.join(names)}), "
                       f"{trajectories.shape[0]} steps each, dt = {data.dt:.4g}; velocities "
                       f"{'from the file' if data.velocities_given else 'by finite differences'}; top speed "
                       f"{top_speed:.3g}.")
            if min(data.lengths) < max(data.lengths):
                st.warning(f"The trajectories have {min(data.lengths)} to {max(data.lengths)} steps; training uses "
                           f"the first {min(data.lengths)} of each (every trajectory the length of the shortest).")

is_chlu = kind == "CHLU"
unit, optimiser, sleep = st.columns(3)
with unit.container(border=True):
    st.markdown("**The unit**")
    kinetic = settings.select("kinetic", "Kinetic energy T(p)", list(KINETIC_MODES), default=base.kinetic,
                              disabled=not is_chlu, help="relativistic: √(c²pᵀM⁻¹p + m₀²c⁴), every speed below c")
    c = float(settings.select("c", "Speed limit c", SPEED_LIMITS, default=f"{base.c:g}", widget=st.select_slider,
                              disabled=not is_chlu or kinetic != "relativistic"))
    m0 = settings.slider("m0", "Rest mass m₀", 0.1, 5.0, float(base.m0), step=0.1,
                         disabled=not is_chlu or kinetic != "relativistic")
    alpha = settings.slider("alpha", "Confinement α", 0.0, 2.0, float(round(base.alpha, 3)), step=0.005,
                            format="%.3f", disabled=not is_chlu, help="α‖q‖² keeps the orbit near the origin")
    if top_speed is not None and is_chlu and kinetic == "relativistic" and c < 3 * top_speed:
        st.warning(f"Your data reach speed {top_speed:.3g}: with c = {c:g} the speed limit distorts their dynamics "
                   "(the sine waves, top speed 6.3, came out at 0.02 Hz instead of 1 Hz with c = 5). Choose c of at "
                   "least three times their top speed.", icon="⚠️")
    dt = settings.slider("dt", "Time step dt", 0.01, 0.2, float(base.dt), step=0.01, disabled=data_source == "csv",
                         help="Your CSV's own step is used for CSV data")
    hidden = settings.slider("hidden", "Hidden size", 8, 128, base.hidden, step=8)
with optimiser.container(border=True):
    st.markdown("**Training**")
    iterations = settings.slider("iterations", "Iterations", 10, 3000, base.iterations, step=10)
    lr = float(settings.select("lr", "Learning rate", LEARNING_RATES, default=str(base.lr), widget=st.select_slider,
                               help=f"The recipe's decays to {base.lr_end:g} over the run" if base.lr_end else None))
    window = settings.slider("window", "Longest window (steps)", 4, 256, max(base.window_lengths), step=2,
                             help="How many steps of the data each training rollout covers; the recipe starts "
                                  "with shorter ones in proportion")
    seed = settings.slider("seed", "Seed", 0, 99, 0)
with sleep.container(border=True):
    st.markdown("**Sleep phase** (CHLU)")
    sleep_every = settings.slider("sleep_every", "Sleep every K iterations (0: never)", 0, 20, base.sleep_every,
                                  disabled=not is_chlu)
    sleep_steps = settings.slider("sleep_steps", "Steps per dream", 10, 500, base.sleep_steps, step=10,
                                  disabled=not is_chlu or sleep_every == 0)
    sleep_batch = settings.slider("sleep_batch", "Dreams per batch", 8, 64, base.sleep_batch, step=8,
                                  disabled=not is_chlu or sleep_every == 0)

config = dataclasses.replace(
    base, kinetic=kinetic, c=c, m0=m0, alpha=alpha, dt=base.dt if data_source == "csv" else dt, hidden=hidden,
    iterations=iterations, lr=lr, window_lengths=training.curriculum(base.window_lengths, window),
    sleep_every=sleep_every, sleep_steps=sleep_steps,
    sleep_batch=sleep_batch)
job = training.current()
running = job is not None and not job.done
if st.button("Train", type="primary", icon=":material/play_arrow:",
             disabled=running or (data_source == "csv" and trajectories is None)):
    label = f"{kind} · {DATA[data_source]} · {time.strftime('%H:%M:%S')}"
    if data_source == "csv":
        if window > trajectories.shape[0]:
            st.error(f"The window ({window} steps) is longer than your trajectories ({trajectories.shape[0]} steps).")
            st.stop()
        work = training.csv_work(trajectories, config, kind, seed)
    else:
        work = training.experiment_work(data_source, config, kind, seed)
    training.start(label, iterations, work)
    st.rerun()


@st.fragment(run_every=0.5 if running else None)
def progress():
    job = training.current()
    if job is None:
        return
    if not job.done:
        done = job.latest.iteration if job.latest else 0
        stage = f" · {job.latest.stage}" if job.latest and job.latest.stage else ""
        text = (f"**{job.label}** is waiting for a free trainer (other visitors are training) …" if job.queued else
                f"Training **{job.label}**: iteration {done} of {job.total}{stage} · {time.time() - job.started:.0f} s "
                "(evaluation follows the last iteration)")
        st.progress(job.fraction, text=text)
        if st.button("Stop", icon=":material/stop:"):
            job.stop.set()
    if job.history:
        layout.chart(loss_curve(job.history), key="train.loss")
    if running and job.done:  # it finished since the page was drawn: redraw the page with the result
        st.rerun()


progress()
if job is not None and job.done:
    from app import models  # loads torch (2 s), which the settings above do without and the job has loaded
    training.collect(job)
    if job.error:
        st.error(job.error, icon="⚠️")
    if job.warning:
        st.warning(job.warning, icon="⚠️")
    entry = models.by_key(job.entry_key) if job.entry_key else None
    if entry is not None:
        note = " (stopped early)" if entry.metadata.get("stopped_early") else ""
        st.success(f"**{entry.label}** is trained{note} and added to your models.", icon="✅")
        if models.headline_metrics(entry):
            layout.table(models.metrics_table([entry]))  # as the Models page shows it
        links = st.columns(3)
        links[0].download_button("Download the checkpoint", models.checkpoint(entry),
                                 file_name=f"{entry.kind.lower()}_{entry.experiment}.pt",
                                 icon=":material/download:", on_click="ignore")
        links[1].page_link(page_of("models").page(), label="Compare it on the Models page", icon=":material/inventory_2:")
