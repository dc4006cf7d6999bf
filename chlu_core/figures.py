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
    fig = make_subplots(rows=1, cols=max(len(names), 1), subplot_titles=names, horizontal_spacing=0.06)
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
        fig.update_yaxes(title_text=f"{ylabel}{units}", row=1, col=col, scaleanchor=f"x{col if col > 1 else ''}")
    fig.update_layout(template=TEMPLATE, height=380, legend=dict(orientation="h", y=-0.2))
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
    fig.update_layout(template=TEMPLATE, height=360, title=title, xaxis_title="time t (units of dt·steps)",
                      yaxis_title="energy H (model units)")
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
