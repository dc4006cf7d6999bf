"""Models: the shipped pretrained models and their metrics, uploads, and what the other pages compare."""
import streamlit as st

import chlu_core
from app import layout, models, state

st.title("Models")
st.caption("The pretrained models shipped with the app, and your own (trained on the Train page or "
           "uploaded here). Your models live in your browser session only: nobody else sees them, and "
           "they are gone when you close the tab — download the checkpoints you want to keep.")
settings = state.PageSettings("models")
table_area, compare_area, upload_area = st.container(), st.container(), st.container()

upload_area.subheader("Upload a checkpoint")
upload = upload_area.file_uploader(
    f"A checkpoint saved by this library (.pt, at most {models.MAX_UPLOAD_MB} MB)", type=["pt"])
# The uploader keeps its file across reruns: add each file once, and keep its outcome on screen.
if upload is not None and st.session_state.get("models.last_upload") != upload.file_id:
    st.session_state["models.last_upload"] = upload.file_id
    try:
        entry = models.add_checkpoint(upload.getvalue(), label=upload.name.removesuffix(".pt"))
    except (chlu_core.CheckpointError, ValueError) as error:
        st.session_state["models.upload_outcome"] = (
            "error", f"**{layout.markdown_text(upload.name)}** was not added: {error}")
    else:
        state.add_to_comparison(entry.key, default=[e.key for e in models.shipped_entries()])
        ignored = (f" Its metadata's {', '.join(entry.ignored)} did not fit the model and "
                   f"{'was' if len(entry.ignored) == 1 else 'were'} ignored." if entry.ignored else "")
        st.session_state["models.upload_outcome"] = (
            "success", f"Added **{layout.markdown_text(entry.label)}** ({entry.kind}, "
                       f"{models.EXPERIMENTS[entry.experiment]}) to your models and to the comparison.{ignored}")
if upload is not None and "models.upload_outcome" in st.session_state:
    kind, message = st.session_state["models.upload_outcome"]
    getattr(upload_area, kind)(message, icon="🚫" if kind == "error" else "✅")

every = models.entries()
table_area.subheader("Available models")
# One tab per experiment that has models: the tables list every metric recorded, one row each.
shown = {experiment: [e for e in every if e.experiment == experiment] for experiment in models.EXPERIMENTS}
shown = {experiment: entries for experiment, entries in shown.items() if entries}
for tab, entries in zip(table_area.tabs([models.EXPERIMENTS[experiment] for experiment in shown]), shown.values()):
    layout.table(models.metrics_table(entries), container=tab)

compare_area.subheader("Compare")
compare_area.caption("The Rollouts, Landscape and Energy pages show the models chosen here, per experiment.")
labels = {e.key: f"{e.label} · {models.EXPERIMENTS[e.experiment]} · {e.source}" for e in every}
chosen = settings.multiselect("compare", "Models to compare", list(labels), container=compare_area,
                              default=state.comparison([e.key for e in every if e.source == "shipped"]),
                              format_func=labels.get)
state.set_comparison(chosen)

yours = [e for e in every if e.source == "yours"]
if yours:
    st.subheader("Your models")
    for entry in yours:
        left, middle, right = st.columns([3, 1, 1], vertical_alignment="center")
        left.markdown(f"**{layout.markdown_text(entry.label)}** — {entry.kind}, "
                      f"{models.EXPERIMENTS[entry.experiment]}, d = {entry.dim}")
        middle.download_button("Download", models.checkpoint(entry), file_name=f"{entry.label}.pt",
                               key=f"download.{entry.key}", icon=":material/download:", on_click="ignore")
        if right.button("Remove", key=f"remove.{entry.key}", icon=":material/delete:"):
            models.remove(entry.key)
            st.rerun()
