"""Drawing helpers every page shares; torch-free, so that the overview can draw before torch loads."""
from __future__ import annotations

import streamlit as st


def chart(figure, key: str | None = None) -> None:
    """A Plotly figure drawn with the project's own template (not Streamlit's), full width."""
    st.plotly_chart(figure, theme=None, key=key, config={"displaylogo": False})
