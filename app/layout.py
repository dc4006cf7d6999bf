"""Drawing helpers every page shares; torch-free, so that the overview can draw before torch loads."""
from __future__ import annotations

import json
import string
from pathlib import Path

import streamlit as st

# plotly.js's "basic" bundle (scatter, bar, pie; v4.1.1, the version the plotly package writes for), which
# Streamlit's static file serving sends from the folder app/static/ at the URL path app/static/. It is 1.2 MB
# against the 4.7 MB of Streamlit's own Plotly chunk, which this CPU evaluates for 1.6–2.1 s before the
# first chart can be drawn.
LIGHT_BUNDLE = "plotly-basic.min.js"
LIGHT_TRACES = {"scatter", "bar", "pie"}
# Streamlit's own Plotly chunk (its name carries a content hash), which the light chart preloads; None if
# this Streamlit ships none under that name.
STREAMLIT_PLOTLY_CHUNK = next((path.name for path in (Path(st.__file__).parent / "static" / "static" / "js")
                               .glob("PlotlyChart.*.js")), None)


def chart(figure, key: str | None = None) -> None:
    """A Plotly figure drawn with the project's own template (not Streamlit's), full width."""
    st.plotly_chart(figure, theme=None, key=key, config={"displaylogo": False})


def light_chart(figure, alt: str) -> None:
    """:func:`chart` for the first page a visitor sees: the same figure, drawn in an iframe by plotly.js's
    basic bundle (``LIGHT_TRACES`` only; ValueError otherwise), so it appears about 1.7 s sooner on this
    CPU. Once it is drawn, the browser loads Streamlit's own Plotly renderer in the background, so that the
    next page's charts do not wait for it. ``figure`` needs a fixed layout height (pixels); ``alt`` names
    the figure for screen readers."""
    kinds = {trace.type for trace in figure.data}
    if not kinds <= LIGHT_TRACES:
        raise ValueError(f"light_chart draws {sorted(LIGHT_TRACES)} traces only, not {sorted(kinds - LIGHT_TRACES)}")
    height = figure.layout.height
    if height is None:
        raise ValueError("light_chart needs the figure's layout height")
    if not st.get_option("server.enableStaticServing"):  # started without .streamlit/config.toml: no bundle to load
        chart(figure)
        return
    st.iframe(light_chart_html(figure.to_json(), height), height=height, alt=alt)


def light_chart_html(figure_json: str, height: int) -> str:
    """The iframe's document for :func:`light_chart`: the figure's JSON in a ``<script id="figure">`` tag,
    and the script that loads the bundle, draws, and then preloads Streamlit's Plotly chunk."""
    safe_json = figure_json.replace("</", "<\\/")  # it sits inside a <script> element
    return f"""<!doctype html>
<html><head><style>html, body {{ margin: 0; overflow: hidden; }}</style></head>
<body><div id="chart" style="height: {int(height)}px"></div>
<script type="application/json" id="figure">{safe_json}</script>
<script>
(() => {{
  // The app's root URL (also under a hosting prefix): where Streamlit's own bundle is served from.
  const index = parent.document.querySelector('script[src*="static/js/index"]');
  const root = index ? index.src.slice(0, index.src.indexOf("static/js/")) : new URL("./", parent.location.href).href;
  const renderer = {json.dumps(STREAMLIT_PLOTLY_CHUNK)};
  const figure = JSON.parse(document.getElementById("figure").textContent);
  const bundle = document.createElement("script");
  bundle.src = root + "app/static/{LIGHT_BUNDLE}";
  bundle.onload = () => Plotly.newPlot("chart", figure.data, figure.layout, {{displaylogo: false, responsive: true}})
    .then(() => {{
      if (!renderer) return;
      // Imported in the app's own window (a script element runs where its document lives), so Streamlit
      // finds the module already evaluated when a page first shows a chart.
      const preload = parent.document.createElement("script");
      preload.type = "module";
      preload.textContent = `import ${{JSON.stringify(root + "static/js/" + renderer)}}; window.chluPlotlyPreloaded = true;`;
      setTimeout(() => parent.document.head.appendChild(preload), 100);  // the chart is painted first
    }});
  bundle.onerror = () => {{ document.getElementById("chart").textContent = "The figure could not be drawn: its plotly.js bundle did not load."; }};
  document.head.appendChild(bundle);
}})();
</script></body></html>"""


def markdown_text(text) -> str:
    """``text`` to show literally in Markdown: every ASCII punctuation mark is escaped (Markdown's own, and
    Streamlit's ``$…$`` for LaTeX and ``:…:`` for emoji, icons and colours); line breaks become spaces."""
    return "".join("\\" + char if char in string.punctuation else char for char in " ".join(str(text).split()))


def table_cell(value) -> str:
    """A table cell in Markdown: None as a dash, integers with thousands separators, other numbers to 4
    significant digits, text literally (:func:`markdown_text`)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return markdown_text(value)


def markdown_tables(fields: dict[str, list], columns_per_table: int = 6) -> list[str]:
    """``fields`` (name → one value per column; the first names the columns) as Markdown tables of one row
    per other field and at most ``columns_per_table`` value columns each, so that many columns never
    widen the page."""
    def row(cells: list) -> str:
        return "| " + " | ".join(cells) + " |"
    (head, names), *rows = fields.items()
    tables = []
    for start in range(0, max(len(names), 1), columns_per_table):
        part = slice(start, start + columns_per_table)
        lines = [row([markdown_text(head)] + [markdown_text(name) for name in names[part]]),
                 row(["---"] * (1 + len(names[part])))]
        lines += [row([markdown_text(field)] + [table_cell(value) for value in values[part]]) for field, values in rows]
        tables.append("\n".join(lines))
    return tables


def table(fields: dict[str, list], container=st) -> None:
    """:func:`markdown_tables` drawn in ``container``. Markdown, not ``st.dataframe``: pandas and Streamlit's
    data grid took about 1.2 s before the Models page's first tables appeared (scripts/bench_app.py)."""
    for markdown in markdown_tables(fields):
        container.markdown(markdown)
