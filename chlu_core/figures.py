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
