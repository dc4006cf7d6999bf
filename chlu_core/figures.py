"""Figure builders: pure functions from results to Plotly figures, shared by the command line
(written as self-contained HTML) and the dashboard. One colour per model everywhere.

Every builder takes plain tensors/arrays and returns a ``plotly.graph_objects.Figure``; none reads
files, trains, or knows about Streamlit.
"""
from __future__ import annotations

import math

import numpy
import plotly.graph_objects as go
import plotly.io as pio

MODEL_COLORS = {"CHLU": "#d6336c", "LSTM": "#1c7ed6", "NODE": "#f59f00", "truth": "#495057",
                "oracle": "#2b8a3e", "data": "#868e96"}

pio.templates["chlu"] = go.layout.Template(layout=go.Layout(
    font=dict(family="Inter, Helvetica, Arial, sans-serif", size=13),
    paper_bgcolor="white", plot_bgcolor="white",
    xaxis=dict(showgrid=True, gridcolor="#eceff1", zeroline=False, ticks="outside"),
    yaxis=dict(showgrid=True, gridcolor="#eceff1", zeroline=False, ticks="outside"),
    legend=dict(bgcolor="rgba(255,255,255,0.7)"),
    margin=dict(l=60, r=20, t=50, b=50),
))
TEMPLATE = "chlu"


def color(model: str) -> str:
    """The colour of a model name ("CHLU", "LSTM", "NODE", …); user models use their kind's colour."""
    for name, value in MODEL_COLORS.items():
        if model.upper().startswith(name.upper()):
            return value
    return "#7048e8"


# --- dashboard views: rollouts with a time cursor, phase space, H(t), training loss ---------------
def _thin(x, limit: int = 1500):
    """Every k-th row so that at most about ``limit`` points are drawn (a browser stays responsive)."""
    return x[::max(1, len(x) // limit)]


def _orbit_axes(q, v):
    """The plane a rollout is drawn in: (q₁, q₂) for dim ≥ 2, phase plane (q, q̇) for dim 1."""
    return (q[:, 0], q[:, 1]) if q.shape[1] >= 2 else (q[:, 0], v[:, 0])


def loss_curve(history: dict, title: str = "Training loss") -> go.Figure:
    """Loss per iteration on a log axis: ``history`` maps a stage (model or loss name) to its values."""
    fig = go.Figure()
    for name, values in history.items():
        fig.add_scatter(y=values, mode="lines", name=name, line=dict(color=color(name)))
    positive = all(v > 0 for values in history.values() for v in values)  # contrastive losses can be < 0
    fig.update_layout(template=TEMPLATE, height=320, title=title, xaxis_title="iteration",
                      yaxis_title="loss" + (" (log scale)" if positive else ""),
                      yaxis_type="log" if positive else "linear")
    return fig


# --- the paper's figures (experiments I and II) ------------------------------------------------
def _numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else numpy.asarray(x)


def _add_orbit(fig: go.Figure, x, y, name: str, steps_per_cycle: int, last_cycles: int, truth, col: int) -> None:
    """One model's panel of figure 1 in column ``col``: the truth dashed, the early cycles faint, the last
    ``last_cycles`` cycles solid. ``x``, ``y``: ``(time,)``; ``truth``: ``(n, 2)`` or None."""
    if truth is not None:
        fig.add_scatter(x=truth[:, 0], y=truth[:, 1], mode="lines", name="truth", showlegend=col == 1,
                        line=dict(color=MODEL_COLORS["truth"], dash="dash", width=1.5), hoverinfo="skip",
                        row=1, col=col)
    split = max(len(x) - 1 - last_cycles * steps_per_cycle, 0)
    fig.add_scatter(x=_thin(x[:split + 1], 3000), y=_thin(y[:split + 1], 3000), mode="lines", opacity=0.25,
                    line=dict(color=color(name), width=1), showlegend=False, hoverinfo="skip", row=1, col=col)
    fig.add_scatter(x=x[split:], y=y[split:], mode="lines", name=name, line=dict(color=color(name), width=2.5),
                    row=1, col=col)


def _orbit_grid(names: list, rows: int = 1, **kwargs) -> go.Figure:
    """Subplots with one orbit panel per model in the first row (two grid columns each, so that a
    second row can split the width in halves); ``kwargs`` go to make_subplots."""
    from plotly.subplots import make_subplots
    return make_subplots(**{"rows": rows, "cols": 2 * len(names), "subplot_titles": names, "horizontal_spacing": 0.09,
                            "specs": [[{"colspan": 2}, None] * len(names)], **kwargs})


def _orbit_axes_titles(fig: go.Figure, index: int, plane: bool) -> None:
    """Axis titles of the orbit panel of model ``index`` (from 0); equal scales for a plane of positions
    (a phase plane's axes have different units)."""
    col = 2 * index + 1
    fig.update_xaxes(title_text="x" if plane else "q", row=1, col=col)
    fig.update_yaxes(title_text=("y" if plane else "q̇") if index == 0 else None, row=1, col=col,
                     scaleanchor=f"x{index + 1 if index else ''}" if plane else None)  # axes count subplots


def orbit_panels(runs: dict, curve, steps_per_cycle: int, last_cycles: int = 2,
                 title: str | None = "Free run over the lemniscate") -> go.Figure:
    """Figure 1: one x–y panel per model, early cycles transparent, the last ``last_cycles`` solid.

    ``runs``: model name → positions ``(time, 2)``; ``curve``: the true curve ``(n, 2)``.
    Units: positions in the data's units.
    """
    names = list(runs)
    fig = _orbit_grid(names)
    curve = _numpy(curve)
    for index, name in enumerate(names):
        q = _numpy(runs[name])
        _add_orbit(fig, q[:, 0], q[:, 1], name, steps_per_cycle, last_cycles, curve, 2 * index + 1)
        _orbit_axes_titles(fig, index, plane=True)
    fig.update_layout(template=TEMPLATE, title=title, height=400, margin=dict(t=90 if title else 60),
                      legend=dict(orientation="h", x=1, xanchor="right", y=1.2))
    return fig


def _frame_steps(steps: int, frames: int) -> list:
    """About ``frames`` evenly spaced time steps from 0 to ``steps``, both included."""
    stride = max(1, -(-steps // max(frames - 1, 1)))
    return sorted(set(range(0, steps + 1, stride)) | {steps})


def rollout_player(runs: dict, steps_per_cycle: int, dt: float, truth=None, frames: int = 200) -> go.Figure:
    """Free runs to scrub in the browser. Top: figure 1 per model in its orbit plane (early cycles faint,
    the last two solid, the truth dashed). Bottom: the phase space (q₁, q̇₁) of every model and the
    energy H(t) of those that have one. A time slider and a play button (Plotly animation frames, no
    round trip to the server) move a marker with a short tail (a quarter cycle) on every panel.

    ``runs``: model name → dict with ``q`` and ``v`` ``(time, dim)`` and optionally ``H`` ``(time,)``,
    all of one length; ``dt``: time units per step; ``truth``: ``(n, 2)`` curve in the orbit plane;
    ``frames``: about how many time steps the slider offers (the last step always among them).
    """
    names = list(runs)
    if not names:
        raise ValueError("rollout_player needs at least one run")
    steps = len(runs[names[0]]["q"]) - 1
    if any(len(run["q"]) != steps + 1 for run in runs.values()):
        raise ValueError("every run must have the same number of time steps")
    energies = {name: _numpy(run["H"]) for name, run in runs.items() if run.get("H") is not None}
    n = len(names)
    bottom = [{"colspan": n}] + [None] * (n - 1) + [{"colspan": n}] + [None] * (n - 1) if energies else \
        [{"colspan": 2 * n}] + [None] * (2 * n - 1)
    fig = _orbit_grid(names, rows=2, specs=[[{"colspan": 2}, None] * n, bottom], row_heights=[0.55, 0.45],
                      vertical_spacing=0.16, subplot_titles=names + ["Phase space"] + (["Energy H(t)"] if energies else []))
    planes = {name: _orbit_axes(_numpy(runs[name]["q"]), _numpy(runs[name]["v"])) for name in names}
    phases = {name: (_numpy(runs[name]["q"])[:, 0], _numpy(runs[name]["v"])[:, 0]) for name in names}
    times = dt * numpy.arange(steps + 1)
    tail = -numpy.arange(0, max(steps_per_cycle // 4, 1) + 1, max(steps_per_cycle // 40, 1))[::-1]  # offsets, ends at 0
    head = dict(size=numpy.where(tail == 0, 11, 0), line=dict(color="white", width=1.5))
    moving = []  # (trace index, function step → its {"x", "y"}), for the frames

    for index, name in enumerate(names):
        col, (x, y) = 2 * index + 1, planes[name]
        _add_orbit(fig, x, y, name, steps_per_cycle, 2, truth, col)
        _orbit_axes_titles(fig, index, plane=runs[name]["q"].shape[1] >= 2)
        fig.add_scatter(mode="lines+markers", showlegend=False, hoverinfo="skip", row=1, col=col,
                        line=dict(color=color(name), width=5), marker=dict(color=color(name), **head))
        moving.append((len(fig.data) - 1, lambda step, x=x, y=y: _at(x, y, numpy.clip(step + tail, 0, steps))))
    for name in names:
        fig.add_scatter(x=_thin(phases[name][0]), y=_thin(phases[name][1]), mode="lines", opacity=0.5, name=name,
                        showlegend=False, line=dict(color=color(name), width=1.2), row=2, col=1)
    fig.add_scatter(mode="markers", showlegend=False, hoverinfo="skip", row=2, col=1,
                    marker=dict(color=[color(name) for name in names], size=11, line=dict(color="white", width=1.5)))
    phase_q, phase_v = (numpy.stack([phases[name][i] for name in names], axis=1) for i in (0, 1))  # (time, model)
    moving.append((len(fig.data) - 1, lambda step: _at(phase_q, phase_v, step)))
    fig.update_xaxes(title_text="position q₁", row=2, col=1)
    fig.update_yaxes(title_text="velocity q̇₁ (per time unit)", row=2, col=1)
    if energies:
        for name, energy in energies.items():
            fig.add_scatter(x=_thin(times), y=_thin(energy), mode="lines", name=name, showlegend=False,
                            line=dict(color=color(name)), row=2, col=n + 1)
        fig.add_scatter(mode="markers", showlegend=False, hoverinfo="skip", row=2, col=n + 1,
                        marker=dict(color=[color(name) for name in energies], size=11,
                                    line=dict(color="white", width=1.5)))
        energy_t = numpy.repeat(times[:, None], len(energies), axis=1)  # (time, model), as the energies
        energy_h = numpy.stack(list(energies.values()), axis=1)
        moving.append((len(fig.data) - 1, lambda step: _at(energy_t, energy_h, step)))
        fig.update_xaxes(title_text="time t", row=2, col=n + 1)
        fig.update_yaxes(title_text="H (model units)", row=2, col=n + 1)

    traces = [trace for trace, _ in moving]
    for trace, at in moving:  # the markers start at t = 0, ready to play
        fig.data[trace].update(at(0))
    marks = _frame_steps(steps, frames)
    fig.frames = [dict(name=str(step), traces=traces, data=[at(step) for _, at in moving]) for step in marks]
    still = dict(mode="immediate", frame=dict(duration=0, redraw=False), transition=dict(duration=0))
    hidden = dict(color="rgba(0,0,0,0)", size=1)  # one label per step would be a smear; the current value says it
    fig.update_layout(
        template=TEMPLATE, height=900, margin=dict(t=90, b=130),
        legend=dict(orientation="h", x=1, xanchor="right", y=1.1),
        sliders=[dict(active=0, x=0.2, len=0.8, y=-0.07, yanchor="top", ticklen=0, minorticklen=0,
                      tickcolor="rgba(0,0,0,0)", font=hidden, pad=dict(t=10),
                      currentvalue=dict(prefix="t = ", suffix=" time units", xanchor="right",
                                        font=dict(size=14, color="#212529")),
                      steps=[dict(method="animate", label=f"{step * dt:.2f}", args=[[str(step)], still])
                             for step in marks])],
        updatemenus=[dict(type="buttons", direction="left", x=0, y=-0.07, xanchor="left", yanchor="top",
                          pad=dict(t=30), showactive=False, buttons=[
                              dict(label="▶ Play", method="animate", args=[None, dict(
                                  mode="immediate", fromcurrent=True, transition=dict(duration=0),
                                  frame=dict(duration=40, redraw=False))]),
                              dict(label="❚❚ Pause", method="animate", args=[[None], still])])])
    return fig


def _at(x, y, index) -> dict:
    """{"x", "y"}: rows ``index`` of ``x`` and ``y`` as short lists (frames are sent as text)."""
    return {"x": _rounded(x[index]), "y": _rounded(y[index])}


def _rounded(values, digits: int = 6) -> list:
    """``values`` to ``digits`` significant digits of their largest magnitude, as a list."""
    scale = float(numpy.abs(values).max(initial=0.0))
    decimals = digits - 1 - int(numpy.floor(numpy.log10(scale))) if scale > 0 else 0
    return numpy.round(numpy.asarray(values, dtype=float), decimals).tolist()


def potential_heatmap(xs, ys, potential, trajectory=None, title: str = "Learned potential V(q)") -> go.Figure:
    """Figure 4a: V on a grid as a heatmap. ``xs`` ``(nx,)``, ``ys`` ``(ny,)``, ``potential``
    ``(ny, nx)``; ``trajectory`` ``(time, 2)`` drawn on top."""
    fig = go.Figure(go.Heatmap(x=_numpy(xs), y=_numpy(ys), z=_numpy(potential), colorscale="Viridis",
                               colorbar=dict(title="V")))
    if trajectory is not None:
        q = _thin(_numpy(trajectory), 3000)
        fig.add_trace(go.Scatter(x=q[:, 0], y=q[:, 1], mode="lines", name="CHLU output",
                                 line=dict(color="white", width=1.5)))
    fig.update_layout(template=TEMPLATE, title=title, xaxis_title="x", yaxis_title="y", height=450)
    return fig


def potential_surface(xs, ys, potential, trajectory=None, trajectory_potential=None,
                      title: str = "Learned potential V(q), 3-D") -> go.Figure:
    """Figure 4b: V as a 3-D surface; the trajectory ``(time, 2)`` drawn at its heights
    ``trajectory_potential`` ``(time,)``."""
    fig = go.Figure(go.Surface(x=_numpy(xs), y=_numpy(ys), z=_numpy(potential), colorscale="Viridis",
                               opacity=0.9, showscale=False))
    if trajectory is not None and trajectory_potential is not None:
        q, v = _thin(_numpy(trajectory), 3000), _thin(_numpy(trajectory_potential), 3000)
        fig.add_trace(go.Scatter3d(x=q[:, 0], y=q[:, 1], z=v, mode="lines", name="CHLU output",
                                   line=dict(color=MODEL_COLORS["CHLU"], width=4)))
    fig.update_layout(template=TEMPLATE, title=title, height=500,
                      scene=dict(xaxis_title="x", yaxis_title="y", zaxis_title="V"))
    return fig


def force_field(xs, ys, force_x, force_y, trajectory=None, title: str = "Force field F = −∇V") -> go.Figure:
    """Figure 4c: an arrow of F = −∇V at each grid point (``force_x``, ``force_y`` ``(ny, nx)``), scaled
    so that the longest spans 0.9 of the grid spacing, with the trajectory ``(time, 2)`` overlaid."""
    xs, ys, fx, fy = _numpy(xs), _numpy(ys), _numpy(force_x), _numpy(force_y)
    gx, gy = numpy.meshgrid(xs, ys)
    spacing = min(numpy.diff(xs).min(), numpy.diff(ys).min())
    scale = 0.9 * spacing / max(float(numpy.hypot(fx, fy).max()), 1e-12)
    dx, dy = scale * fx, scale * fy
    ex, ey = gx + dx, gy + dy
    # Each head: two barbs a third of the arrow long, 30° either side of its shaft (the arrow turned ±150°).
    barbs = [(ex + (dx * math.cos(a) - dy * math.sin(a)) / 3, ey + (dx * math.sin(a) + dy * math.cos(a)) / 3)
             for a in (5 * math.pi / 6, -5 * math.pi / 6)]  # math: Python floats keep float32 data float32
    nan = numpy.full_like(gx, numpy.nan)
    # All arrows in one line trace (shaft, barb, barb, gap): one SVG path, which a browser draws in about
    # half the time of a line trace plus a marker per head (0.2 against 0.37 s for 41 × 41 arrows).
    x = numpy.stack([gx, ex, barbs[0][0], ex, barbs[1][0], nan], -1).ravel()
    y = numpy.stack([gy, ey, barbs[0][1], ey, barbs[1][1], nan], -1).ravel()
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines", line=dict(color=MODEL_COLORS["truth"], width=1),
                               name="F = −∇V", hoverinfo="skip"))
    if trajectory is not None:
        q = _thin(_numpy(trajectory), 3000)
        fig.add_trace(go.Scatter(x=q[:, 0], y=q[:, 1], mode="lines", name="CHLU output",
                                 line=dict(color=MODEL_COLORS["CHLU"], width=2)))
    fig.update_layout(template=TEMPLATE, title=title, xaxis_title="x", yaxis_title="y", height=450)
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def kinetic_energy_panels(times, expected, predicted: dict, title: str = "Kinetic energy from q (finite differences)"
                          ) -> go.Figure:
    """Figure 2: one row per wave, one column per model; each panel overlays a model's kinetic
    energy on the expected one. ``times`` ``(time,)``; ``expected`` ``(time, waves)``;
    ``predicted``: model name → ``(time, waves)``. Energies per unit mass (½ q̇²)."""
    from plotly.subplots import make_subplots
    times, expected = _numpy(times), _numpy(expected)
    names, waves = list(predicted), expected.shape[1]
    fig = make_subplots(rows=waves, cols=len(names), shared_xaxes=True, column_titles=names,
                        vertical_spacing=0.05, horizontal_spacing=0.05)
    for col, name in enumerate(names, start=1):
        values = _numpy(predicted[name])
        for row in range(1, waves + 1):
            first = row == 1 and col == 1
            fig.add_trace(go.Scatter(x=times, y=expected[:, row - 1], mode="lines", name="expected",
                                     line=dict(color=MODEL_COLORS["truth"], dash="dot", width=1),
                                     showlegend=first), row=row, col=col)
            fig.add_trace(go.Scatter(x=times, y=values[:, row - 1], mode="lines", name=name,
                                     line=dict(color=color(name), width=1.5), showlegend=row == 1),
                          row=row, col=col)
    for row in range(1, waves + 1):
        fig.update_yaxes(title_text=f"½q̇², wave {row}", row=row, col=1)
    fig.update_xaxes(title_text="time t", row=waves)
    fig.update_layout(template=TEMPLATE, title=title, height=220 * waves + 80)
    return fig


def kinetic_energy_q_vs_p(times, from_q: dict, from_p: dict,
                          title: str = "Kinetic energy from q (top) and from p (bottom)") -> go.Figure:
    """Figure 5: per model (columns), KE from finite differences of q (top row) against KE from the
    model's own velocity channel (bottom row), one line per wave. ``from_q``/``from_p``: model
    name → ``(time, waves)``; energies per unit mass."""
    from plotly.subplots import make_subplots
    times, names = _numpy(times), list(from_q)
    fig = make_subplots(rows=2, cols=len(names), shared_xaxes=True, column_titles=names,
                        row_titles=["from q", "from p"], vertical_spacing=0.08, horizontal_spacing=0.05)
    for col, name in enumerate(names, start=1):
        for row, source in ((1, from_q), (2, from_p)):
            values = _numpy(source[name])
            for wave in range(values.shape[1]):
                fig.add_trace(go.Scatter(x=times, y=values[:, wave], mode="lines", name=f"{name} wave {wave + 1}",
                                         line=dict(color=color(name), width=1),
                                         opacity=1.0 - 0.25 * wave, showlegend=False), row=row, col=col)
    fig.update_yaxes(title_text="½q̇², q̇ from q", row=1, col=1)
    fig.update_yaxes(title_text="½v², v from p", row=2, col=1)
    fig.update_xaxes(title_text="time t", row=2)
    fig.update_layout(template=TEMPLATE, title=title, height=520)
    return fig


def mse_vs_sigma(sigmas, mse: dict, title: str = "Free-run MSE against the clean wave") -> go.Figure:
    """MSE (mean of the x and ẋ channels) against the start noise σ, one line per model;
    ``mse``: name → ``(len(sigmas),)`` (include "oracle", and "zero" for the zero predictor)."""
    fig = go.Figure()
    for name, values in mse.items():
        dash = "dash" if name in ("oracle", "zero") else None
        fig.add_trace(go.Scatter(x=_numpy(sigmas), y=_numpy(values), mode="lines+markers", name=name,
                                 line=dict(color=color(name) if name != "zero" else MODEL_COLORS["data"], dash=dash)))
    fig.update_layout(template=TEMPLATE, title=title, xaxis_title="noise σ", yaxis_title="MSE (log scale)",
                      yaxis_type="log", height=400)
    return fig


def potential_curve(xs, potential, force, positions=None, title: str = "Learned potential V(q) of a 1-D unit"
                    ) -> go.Figure:
    """A 1-D unit's V(q) and force F = −dV/dq (right axis) against q; ``positions`` of a free run
    shade the range it visits."""
    fig = go.Figure()
    if positions is not None and len(positions):
        fig.add_vrect(x0=float(min(positions)), x1=float(max(positions)), fillcolor=MODEL_COLORS["CHLU"],
                      opacity=0.08, line_width=0, annotation_text="free run", annotation_position="top left")
    fig.add_scatter(x=xs, y=potential, mode="lines", name="V(q)", line=dict(color=MODEL_COLORS["CHLU"], width=2.5))
    fig.add_scatter(x=xs, y=force, mode="lines", name="F = −dV/dq", yaxis="y2",
                    line=dict(color=MODEL_COLORS["truth"], dash="dash"))
    fig.update_layout(template=TEMPLATE, title=title, height=420, xaxis_title="position q",
                      yaxis_title="potential V (model units)", margin=dict(t=80),
                      legend=dict(orientation="h", x=1, xanchor="right", y=1.12),
                      yaxis2=dict(title="force F", overlaying="y", side="right", showgrid=False))
    return fig


def reconstructions(times, clean, runs: dict, title: str = "Reconstructions from a noisy start") -> go.Figure:
    """One panel per wave: the clean x(t) (dashed) and each model's free-run x(t).

    ``clean`` ``(time, waves)``; ``runs``: model name → ``(time, waves)`` positions."""
    from plotly.subplots import make_subplots
    waves = clean.shape[1]
    fig = make_subplots(rows=waves, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=[f"test wave {k + 1}" for k in range(waves)])
    for row in range(1, waves + 1):
        fig.add_scatter(x=times, y=clean[:, row - 1], mode="lines", name="clean wave", row=row, col=1,
                        showlegend=row == 1, line=dict(color=MODEL_COLORS["truth"], dash="dash", width=1.5))
        for name, x in runs.items():
            fig.add_scatter(x=times, y=x[:, row - 1], mode="lines", name=name, row=row, col=1,
                            showlegend=row == 1, line=dict(color=color(name), width=1.5))
        fig.update_yaxes(title_text="x", row=row, col=1)
    fig.update_xaxes(title_text="time t", row=waves, col=1)
    fig.update_layout(template=TEMPLATE, title=title, height=200 * waves + 140, margin=dict(t=90))
    return fig


# --- experiment III: generated digits -------------------------------------------------------------
def _tile(images, nrow: int, pad: int = 2):
    """``(n, 784)`` or ``(n, 28, 28)`` images → one ``(rows·30, nrow·30)`` array, gaps filled with 1."""
    import numpy as np
    images = np.asarray(images, dtype=float).reshape(-1, 28, 28)
    rows = -(-len(images) // nrow)
    side = 28 + pad
    canvas = np.ones((rows * side - pad, nrow * side - pad))
    for k, image in enumerate(images):
        r, c = divmod(k, nrow)
        canvas[r * side:r * side + 28, c * side:c * side + 28] = image
    return canvas


def _image_figure(canvas, title: str, height: int) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=canvas, colorscale="gray", zmin=0.0, zmax=1.0, showscale=False,
                               hovertemplate="pixel %{z:.2f}<extra></extra>"))
    fig.update_layout(template=TEMPLATE, title=title, height=height, margin=dict(l=20, r=20, t=50, b=40))
    fig.update_xaxes(showgrid=False, showticklabels=False, ticks="", constrain="domain")
    fig.update_yaxes(showgrid=False, showticklabels=False, ticks="", autorange="reversed", scaleanchor="x")
    return fig


def digit_grid(images, nrow: int = 8, title: str = "Generated digits, tanh(3q)") -> go.Figure:
    """The paper's figure 3: images ``(n, 784)`` on the 0–1 pixel scale (white ink on black) as a grid."""
    canvas = _tile(images, nrow)
    return _image_figure(canvas, title, height=min(900, 40 + 13 * canvas.shape[0] // 5))


def evolution_strip(snapshots: dict, chains: int = 8, title: str = "Langevin chains over time") -> go.Figure:
    """Snapshots ``{step: (n, 784) images on the 0–1 scale}`` of the first ``chains`` chains: one row
    per chain, one column per step (left to right in step order)."""
    import numpy as np
    steps = sorted(snapshots)
    per_chain = np.stack([np.asarray(snapshots[s], dtype=float)[:chains].reshape(-1, 28, 28) for s in steps], axis=1)
    canvas = _tile(per_chain.reshape(-1, 28, 28), nrow=len(steps))
    fig = _image_figure(canvas, title, height=min(900, 80 + 13 * canvas.shape[0] // 5))
    fig.update_xaxes(showticklabels=True, tickvals=[15 + 30 * k for k in range(len(steps))],
                     ticktext=[f"step {s}" for s in steps])
    return fig


def class_histogram(counts: dict, title: str = "Classifier's digit histogram") -> go.Figure:
    """Grouped bars of digit counts: ``counts`` maps a series name (e.g. "CHLU samples", "start")
    to 10 counts, one per digit 0–9."""
    fig = go.Figure()
    for name, values in counts.items():
        fig.add_bar(x=list(range(10)), y=list(values), name=name, marker_color=color(name))
    fig.update_layout(template=TEMPLATE, title=title, height=340, barmode="group",
                      xaxis=dict(title="digit (classifier's top class)", tickmode="linear", dtick=1),
                      yaxis_title="samples")
    return fig
