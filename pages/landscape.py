"""Landscape: a CHLU's learned potential V(q) as a heatmap, a 3-D surface and a force field."""
import streamlit as st

from app import compute, layout, models, state, widgets
from chlu_core import figures

st.title("Landscape")
st.caption("A CHLU is its energy. Here is the potential V(q) + α‖q‖² it learned, the force F = −∇V that "
           "drives it, and its own free run drawn on top (the paper's figure 4).")
settings = state.PageSettings("landscape")
chlus = [e for e in models.entries() if e.kind == "CHLU"]
if not chlus:
    st.info("No CHLU is available: train one on the Train page or upload one on the Models page.")
    st.stop()
compared = [e.key for e in models.compared("exp1") + models.compared("exp2") if e.kind == "CHLU"]
labels = {e.key: f"{e.label} · {models.EXPERIMENTS[e.experiment]} · {e.source}" for e in chlus}
controls = st.columns([2, 1, 1])
key = settings.select("model", "CHLU", list(labels), default=(compared or list(labels))[0], container=controls[0],
                      format_func=labels.get)
entry = models.by_key(key)
DEFAULTS = compute.LANDSCAPE_DEFAULTS
half_width = settings.slider("range", "Range ±", 0.25, 5.0, DEFAULTS["half_width"], step=0.25, container=controls[1],
                             help="Half-width of the square of positions shown")
points = settings.slider("resolution", "Resolution (points per axis)", 11, 81, DEFAULTS["points"], step=2,
                         container=controls[2])
axes = DEFAULTS["axes"]
if entry.dim > 2:
    pick = st.columns(2)
    first = settings.slider("i", "Horizontal coordinate i of qᵢ", 1, entry.dim, 1, container=pick[0])
    second = settings.slider("j", "Vertical coordinate j of qⱼ", 1, entry.dim, 2, container=pick[1])
    if first == second:
        st.warning("Choose two different coordinates for the slice.")
        st.stop()
    axes = (first - 1, second - 1)
    st.caption(f"A 2-D slice through the origin of this {entry.dim}-dimensional potential: every other coordinate is 0.")

model = models.model(entry)
grid = compute.landscape(model, entry.digest, axes, half_width, points)
# 50 cycles of a paper experiment; a CSV-trained model for 10 lengths of its training trajectories.
runs = widgets.free_runs([entry], entry.experiment, 10 if entry.experiment == "csv" else 50) \
    if widgets.can_free_run(entry) else {}
run = runs.get(entry.label)
if entry.dim == 1:
    layout.chart(figures.potential_curve(grid["xs"], grid["potential"], grid["force_x"],
                                          positions=None if run is None else run["q"][:, 0]), key="landscape.curve")
    st.caption("A 1-D unit: V(q) has one well and the force points back into it; the shaded band is the range of "
               "positions the free run visits.")
else:
    trajectory = None if run is None or entry.dim != 2 else run["q"]
    heatmap, field = st.columns(2)
    with heatmap:
        layout.chart(figures.potential_heatmap(grid["xs"], grid["ys"], grid["potential"], trajectory),
                      key="landscape.heatmap")
    with field:
        layout.chart(figures.force_field(grid["xs"], grid["ys"], grid["force_x"], grid["force_y"], trajectory),
                      key="landscape.field")
    # On request: a WebGL 3-D scene takes seconds to draw where the browser has no graphics card.
    if settings.toggle("surface", "Show V(q) as a 3-D surface", help="Drag to rotate, scroll to zoom"):
        heights = None if trajectory is None else compute.potential_along(model, entry.digest, trajectory)
        layout.chart(figures.potential_surface(grid["xs"], grid["ys"], grid["potential"], trajectory, heights),
                     key="landscape.surface_chart")
    st.caption("Notice: the free run (line) follows a valley of V, and the arrows of F = −∇V pull it back "
               "whenever it strays: the orbit is held by the energy it learned, not by memory.")
