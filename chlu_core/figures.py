"""Figure builders: pure functions from results to Plotly figures, shared by the command line
(written as self-contained HTML) and the dashboard. One colour per model everywhere.

Every builder takes plain tensors/arrays and returns a ``plotly.graph_objects.Figure``; none reads
files, trains, or knows about Streamlit.
"""
from __future__ import annotations

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


def orbit_cursor_panels(runs: dict, cursor: int, steps_per_cycle: int, truth=None,
                        units: str = "") -> go.Figure:
    """The paper's figure-1 view up to time step ``cursor``, one panel per model: earlier cycles
    transparent, the last two cycles before the cursor solid, a dot at the cursor.

    ``runs``: model name → dict with ``q`` and ``v`` arrays ``(time, dim)``; ``truth``: ``(n, 2)`` curve.
    """
    from plotly.subplots import make_subplots
    names = list(runs)
    fig = make_subplots(rows=1, cols=max(len(names), 1), subplot_titles=names, horizontal_spacing=0.05)
    for col, name in enumerate(names, start=1):
        x, y = _orbit_axes(runs[name]["q"], runs[name]["v"])
        end = min(cursor, len(x) - 1) + 1
        split = max(end - 2 * steps_per_cycle, 0)
        if truth is not None:
            fig.add_scatter(x=truth[:, 0], y=truth[:, 1], mode="lines", row=1, col=col, showlegend=col == 1,
                            name="truth", line=dict(color=MODEL_COLORS["truth"], dash="dash", width=1.5))
        fig.add_scatter(x=_thin(x[:split + 1]), y=_thin(y[:split + 1]), mode="lines", row=1, col=col,
                        showlegend=False, opacity=0.25, line=dict(color=color(name), width=1))
        fig.add_scatter(x=x[split:end], y=y[split:end], mode="lines", row=1, col=col, name=name,
                        line=dict(color=color(name), width=2.5))
        fig.add_scatter(x=[x[end - 1]], y=[y[end - 1]], mode="markers", row=1, col=col, showlegend=False,
                        marker=dict(color=color(name), size=10, line=dict(color="white", width=1.5)))
        xlabel, ylabel = ("x", "y") if runs[name]["q"].shape[1] >= 2 else ("q", "q̇")
        fig.update_xaxes(title_text=f"{xlabel}{units}", row=1, col=col)
        # Equal scales for a plane of positions; a phase plane's axes have different units.
        same_units = runs[name]["q"].shape[1] >= 2
        fig.update_yaxes(title_text=f"{ylabel}{units}" if col == 1 else None, row=1, col=col,
                         scaleanchor=f"x{col if col > 1 else ''}" if same_units else None)
    fig.update_layout(template=TEMPLATE, height=400, margin=dict(t=80),
                      legend=dict(orientation="h", x=1, xanchor="right", y=1.18))
    return fig


def phase_space(runs: dict, cursor: int, coordinate: int = 0) -> go.Figure:
    """Position against velocity of one coordinate for every model, a dot at time step ``cursor``."""
    fig = go.Figure()
    for name, run in runs.items():
        q, v = run["q"][:, coordinate], run["v"][:, coordinate]
        end = min(cursor, len(q) - 1) + 1
        fig.add_scatter(x=_thin(q[:end]), y=_thin(v[:end]), mode="lines", name=name, opacity=0.6,
                        line=dict(color=color(name), width=1.2))
        fig.add_scatter(x=[q[end - 1]], y=[v[end - 1]], mode="markers", showlegend=False,
                        marker=dict(color=color(name), size=10, line=dict(color="white", width=1.5)))
    sub = "₁₂₃₄₅₆₇₈₉"[coordinate] if coordinate < 9 else str(coordinate + 1)
    fig.update_layout(template=TEMPLATE, height=360, title="Phase space",
                      xaxis_title=f"position q{sub}", yaxis_title=f"velocity q̇{sub} (per time unit)")
    return fig


def energy_trace(times, energies: dict, cursor_time: float, title: str = "Energy H(t) of the CHLU") -> go.Figure:
    """Energy against time per model, with a vertical line at the cursor."""
    fig = go.Figure()
    for name, energy in energies.items():
        fig.add_scatter(x=_thin(times), y=_thin(energy), mode="lines", name=name, line=dict(color=color(name)))
    fig.add_vline(x=cursor_time, line=dict(color=MODEL_COLORS["truth"], dash="dot"))
    fig.update_layout(template=TEMPLATE, height=360, title=title, xaxis_title="time t",
                      yaxis=dict(title=dict(text="energy H (model units)", standoff=12), automargin=True))
    return fig


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
    import numpy
    return x.detach().cpu().numpy() if hasattr(x, "detach") else numpy.asarray(x)


def orbit_panels(runs: dict, curve, steps_per_cycle: int, last_cycles: int = 2,
                 title: str = "Free run over the lemniscate") -> go.Figure:
    """Figure 1: one x–y panel per model, early cycles transparent, the last ``last_cycles`` solid.

    ``runs``: model name → positions ``(time, 2)``; ``curve``: the true curve ``(n, 2)``.
    Units: positions in the data's units.
    """
    from plotly.subplots import make_subplots
    names = list(runs)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.04)
    curve = _numpy(curve)
    for col, name in enumerate(names, start=1):
        q = _numpy(runs[name])
        split = max(len(q) - last_cycles * steps_per_cycle, 0)
        fig.add_trace(go.Scatter(x=curve[:, 0], y=curve[:, 1], mode="lines", name="true curve",
                                 line=dict(color=MODEL_COLORS["truth"], dash="dot", width=1),
                                 showlegend=col == 1), row=1, col=col)
        early = _thin(q[:split + 1], 3000)
        fig.add_trace(go.Scatter(x=early[:, 0], y=early[:, 1], mode="lines", opacity=0.25,
                                 line=dict(color=color(name), width=1), name=f"{name} early cycles",
                                 showlegend=False), row=1, col=col)
        fig.add_trace(go.Scatter(x=q[split:, 0], y=q[split:, 1], mode="lines", name=f"{name} last {last_cycles} cycles",
                                 line=dict(color=color(name), width=2.5)), row=1, col=col)
        fig.update_xaxes(title_text="x", row=1, col=col)
    fig.update_yaxes(title_text="y", row=1, col=1)
    fig.update_layout(template=TEMPLATE, title=title, height=380)
    return fig


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
    """Figure 4c: arrows of F = −∇V on the grid (``force_x``, ``force_y`` ``(ny, nx)``), scaled to
    the grid spacing, with the trajectory ``(time, 2)`` overlaid."""
    import numpy
    xs, ys, fx, fy = _numpy(xs), _numpy(ys), _numpy(force_x), _numpy(force_y)
    gx, gy = numpy.meshgrid(xs, ys)
    spacing = min(numpy.diff(xs).min(), numpy.diff(ys).min())
    scale = 0.9 * spacing / max(float(numpy.hypot(fx, fy).max()), 1e-12)
    ex, ey = gx + scale * fx, gy + scale * fy
    nan = numpy.full_like(gx, numpy.nan)
    # One trace of segments (start, end, gap) for all arrows, and a marker at each head.
    fig = go.Figure(go.Scatter(x=numpy.stack([gx, ex, nan], -1).ravel(), y=numpy.stack([gy, ey, nan], -1).ravel(),
                               mode="lines", line=dict(color=MODEL_COLORS["truth"], width=1), name="F = −∇V"))
    fig.add_trace(go.Scatter(x=ex.ravel(), y=ey.ravel(), mode="markers", marker=dict(size=3, color=MODEL_COLORS["truth"]),
                             showlegend=False, hoverinfo="skip"))
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
    fig.update_xaxes(title_text="time", row=waves)
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
    fig.update_xaxes(title_text="time", row=2)
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
