"""The dashboard, headless (streamlit.testing.v1.AppTest), on the shipped models in assets/.

Each test opens a fresh session on one page, as a visitor following a link would, and checks what
the page shows: titles, widgets restored from the URL, charts (Plotly figures arrive here as JSON).
"""
import base64
import json
import math
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy
import pytest
import torch
from streamlit.testing.v1 import AppTest

import chlu_core
from test_assets import RTOL, RTOL_UNFILTERED  # the CPU rounding the shipped metrics are held to

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(page.stem for page in (ROOT / "pages").glob("*.py"))


@pytest.fixture(autouse=True)
def no_mnist_files(monkeypatch, tmp_path):
    """The dashboard needs no MNIST files (a hosted copy has none): the dreams' start, the test-set
    centroid, is shipped in assets/. An empty data folder proves it."""
    monkeypatch.setenv("CHLU_DATA_DIR", str(tmp_path))


@pytest.fixture(autouse=True, scope="module")
def background_threads_finish():
    """The app's warm-up and training threads run torch; let them end before the interpreter does
    (a torch call in a thread at interpreter shutdown aborts the process)."""
    yield
    for thread in threading.enumerate():
        if thread.name == "chlu-warm-up" or thread.name.startswith("train-"):
            thread.join(timeout=300)


def open_page(file: str, timeout: float = 180, **params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=timeout)
    for name, value in params.items():
        at.query_params[name] = str(value)
    at.switch_page(str(ROOT / "pages" / f"{file}.py"))
    return at.run()


def downloads(at: AppTest) -> dict:
    """Label → whether the download button leaves the app alone on click (no rerun: a rerun started by
    the click races the download and can revoke the file before the browser has fetched it)."""
    return {button.proto.label: button.proto.ignore_rerun for button in at.get("download_button")}


def figures(at: AppTest) -> list:
    """The page's Plotly figures as JSON: Streamlit's charts, then the light charts (app.layout.light_chart)."""
    light = [light_figure(frame.proto.srcdoc) for frame in at.get("iframe")]
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")] + [f for f in light if f is not None]


def light_figure(html: str) -> dict | None:
    """The figure a light chart's iframe document carries, or None for another iframe."""
    match = re.search(r'<script type="application/json" id="figure">(.*?)</script>', html, re.S)
    return None if match is None else json.loads(match.group(1).replace("<\\/", "</"))


def values(data) -> numpy.ndarray:
    """A Plotly JSON array: a list, or NumPy data as {"dtype", "bdata" (base64)} (plotly ≥ 6)."""
    if isinstance(data, dict):
        return numpy.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"])
    return numpy.asarray(data)


def titles(figure: dict) -> str:
    return figure["layout"].get("title", {}).get("text", "")


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def slider(at: AppTest, label: str):
    return next(s for s in at.slider if s.label == label)


# --- every page -----------------------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_the_shipped_models(page):
    at = open_page(page)
    assert_clean(at)
    assert at.title[0].value
    if page not in ("train", "models"):
        assert figures(at), f"{page} shows no chart"


def test_the_shipped_lemniscate_models_free_runs_are_read_precomputed_and_match_a_live_run(monkeypatch):
    """The Rollouts page's default view (50 cycles) reads the shipped exp-I models' runs from
    assets/exp1_free_runs.npz instead of running them; they must be what a live run gives, velocities and
    the CHLU's energy included (tolerance as for the overview: the CPU's rounding over 50 cycles)."""
    import app.compute
    import app.models
    import app.precomputed
    from chlu_core.experiments import lemniscate
    shipped = [e for e in app.models.shipped_entries() if e.experiment == "exp1"]
    assert {e.kind for e in shipped} == {"LSTM", "NODE", "CHLU"}
    ran, free_run = [], lemniscate.free_run
    monkeypatch.setattr(lemniscate, "free_run", lambda *args: ran.append(args) or free_run(*args))

    def runs():
        app.compute.free_run.clear()
        return {e.kind: app.compute.free_run(app.models.model(e), e.digest, "exp1", 50,
                                             app.compute.model_dt(app.models.model(e), e.metadata)) for e in shipped}
    read = runs()
    assert not ran and "H" in read["CHLU"]
    monkeypatch.setattr(app.precomputed, "_shipped_runs", lambda: None)  # as if the file were missing or stale
    live = runs()
    assert len(ran) == 3
    for kind in read:
        assert set(read[kind]) == set(live[kind])
        for field in read[kind]:
            numpy.testing.assert_allclose(read[kind][field], live[kind][field], rtol=0, atol=5e-3)
    app.compute.free_run.clear()


def test_after_the_warm_up_no_pages_first_view_runs_a_model(monkeypatch):
    """The server's warm-up thread computes every page's default view of the shipped models, so that a
    visitor's first look finds them cached: after it, opening each page runs no model."""
    import app.warmup
    from chlu_core import filtering
    from chlu_core.experiments import lemniscate, mnist, sine_waves
    app.warmup._default_views()
    ran = []
    for module, name in [(lemniscate, "free_run"), (sine_waves, "free_run"), (sine_waves, "noisy_runs"),
                         (filtering, "filtered_runs"), (filtering, "mse_against_sigma"), (mnist, "dream"),
                         (chlu_core.CHLU, "force")]:
        original = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *args, _name=name, _original=original, **kwargs:
                            ran.append(_name) or _original(*args, **kwargs))
    for page in PAGES:
        assert_clean(open_page(page))
    assert not ran, ran


def waiting_for_next_view(outcome: list) -> threading.Thread:
    """A started thread that asks the warm-up whether to compute its next view, appending the answer."""
    import app.warmup
    waiting = threading.Thread(target=lambda: outcome.append(app.warmup._next_view()), daemon=True)
    waiting.start()
    return waiting


def test_the_warm_up_waits_between_views_while_a_visitors_page_runs(monkeypatch):
    import app.warmup
    monkeypatch.setattr(app.warmup, "YIELD_S", 60.0)
    outcome = []
    with app.warmup.page_running():
        waiting = waiting_for_next_view(outcome)
        waiting.join(timeout=0.5)
        assert waiting.is_alive() and not outcome  # held while the page runs
    waiting.join(timeout=10)
    assert outcome == [True]  # and released when it ends


def test_the_warm_up_goes_on_after_its_longest_wait_and_stops_with_the_server(monkeypatch):
    import app.warmup
    monkeypatch.setattr(app.warmup, "YIELD_S", 0.05)
    with app.warmup.page_running():
        assert app.warmup._next_view() is True  # a server kept busy still warms up
    monkeypatch.setattr(app.warmup, "STOP", threading.Event())
    monkeypatch.setattr(app.warmup, "YIELD_S", 120.0)  # longer than _stop's join: only the notice can end it
    outcome = []
    with app.warmup.page_running():
        waiting = waiting_for_next_view(outcome)
        app.warmup._stop(waiting)  # at exit: the wait for the page ends at once, and no view follows
        assert not waiting.is_alive() and outcome == [False]


WITHOUT_TORCH = """
import sys
from streamlit.testing.v1 import AppTest
from app import warmup
warmup.start = lambda: None  # the warm-up thread loads torch on purpose; this is about the page itself
at = AppTest.from_file("app/main.py", default_timeout=120)
at.switch_page("../pages/{page}.py")
at.run()
assert not at.exception, at.exception
assert at.title[0].value, "the page drew nothing"
print("torch loaded" if "torch" in sys.modules else "torch not loaded")
"""


@pytest.mark.parametrize("page", ["overview", "train", "models"])
def test_the_pages_a_visitor_opens_first_draw_without_loading_torch(page):
    """The overview (the start page), Train's settings and the Models list draw while the server still
    loads torch (2 s on this CPU), so a visitor who opens them right after startup need not wait for it."""
    done = subprocess.run([sys.executable, "-c", WITHOUT_TORCH.format(page=page)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "torch not loaded"


def test_overview_shows_the_three_models_on_the_lemniscate_and_links_every_page():
    at = open_page("overview")
    assert not at.get("plotly_chart")  # drawn by the light bundle: Streamlit's Plotly chunk would take 2 s to load
    (orbit,) = figures(at)
    panels = [a["text"] for a in orbit["layout"]["annotations"]]
    assert panels == ["LSTM", "NODE", "CHLU"]
    links = [link.proto.page for link in at.get("page_link")]
    assert len(links) == len(PAGES) - 1


def test_a_light_chart_carries_its_figure_intact_and_refuses_what_its_bundle_cannot_draw():
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs_version

    from app import layout
    bundle = (ROOT / "app" / "static" / layout.LIGHT_BUNDLE).read_text()[:200]
    assert f"v{get_plotlyjs_version()}" in bundle  # the same plotly.js as the figures are written for
    figure = go.Figure(go.Scatter(x=[0, 1], y=[1, 2], name="</script><b>bold</b>"), layout=dict(height=300))
    html = layout.light_chart_html(figure.to_json(), 300)
    assert html.count("</script>") == 2  # the name's "</" cannot close the JSON's script element early
    assert light_figure(html) == json.loads(figure.to_json())
    assert "/PlotlyChart." not in html and re.search(r'"PlotlyChart\.[\w-]+\.js"', html)  # Streamlit's chunk, to preload
    with pytest.raises(ValueError, match="heatmap"):
        layout.light_chart(go.Figure(go.Heatmap(z=[[1.0]]), layout=dict(height=300)), alt="a heatmap")
    with pytest.raises(ValueError, match="height"):
        layout.light_chart(go.Figure(go.Scatter(x=[0], y=[0])), alt="no height")


def test_without_static_file_serving_the_overview_falls_back_to_streamlits_chart():
    from streamlit import config
    assert config.get_option("server.enableStaticServing")  # .streamlit/config.toml turns it on
    try:
        config.set_option("server.enableStaticServing", False)
        at = open_page("overview")
    finally:
        config.set_option("server.enableStaticServing", True)
    assert_clean(at)
    assert not at.get("iframe") and len(at.get("plotly_chart")) == 1
    assert [a["text"] for a in figures(at)[0]["layout"]["annotations"]] == ["LSTM", "NODE", "CHLU"]


def test_overview_computes_the_free_runs_itself_where_none_were_precomputed(monkeypatch):
    import app.precomputed
    import app.widgets
    precomputed = open_page("overview")
    monkeypatch.setattr(app.precomputed, "_shipped_runs", lambda: None)  # missing or stale file
    computed = []
    free_runs = app.widgets.free_runs
    monkeypatch.setattr(app.widgets, "free_runs", lambda *args: computed.append(threading.current_thread().name)
                        or free_runs(*args))
    live = open_page("overview")
    assert_clean(live)
    assert [name for name in computed if name != "chlu-warm-up"] == ["ScriptRunner.scriptThread"]  # the page, once
    # The same figure either way, up to the CPU's rounding carried along 50 cycles (see test_assets).
    live_traces, shipped_traces = figures(live)[0]["data"], figures(precomputed)[0]["data"]
    assert len(live_traces) == len(shipped_traces)
    for a, b in zip(live_traces, shipped_traces):
        assert {k: v for k, v in a.items() if k not in ("x", "y")} == {k: v for k, v in b.items() if k not in ("x", "y")}
        for axis in "xy":
            numpy.testing.assert_allclose(values(a[axis]), values(b[axis]), rtol=0, atol=5e-3)


def test_the_mnist_page_draws_its_first_dream_precomputed_or_dreams_it_itself(monkeypatch):
    import app.compute
    import app.precomputed
    from chlu_core.experiments import mnist
    dreamt, dream = [], mnist.dream
    monkeypatch.setattr(mnist, "dream", lambda *args, **kwargs: dreamt.append(kwargs) or dream(*args, **kwargs))
    app.compute.dream.clear()
    precomputed = open_page("mnist")
    assert_clean(precomputed)
    assert not dreamt  # drawn from assets/exp3_first_dreams.npz
    monkeypatch.setattr(app.precomputed, "_shipped_dreams", lambda: None)  # missing or stale file
    app.compute.dream.clear()
    live = open_page("mnist")
    assert_clean(live)
    assert len(dreamt) == 1

    def grid(at):
        z = figures(at)[0]["data"][0]["z"]
        return values(z).astype(float) if isinstance(z, dict) else numpy.asarray(z, dtype=float).ravel()
    assert numpy.abs(grid(precomputed) - grid(live)).mean() <= 0.01  # the same dreams either way



def test_diverging_dreams_are_reported_as_a_divergence(monkeypatch):
    import app.compute
    from chlu_core.experiments import mnist

    def diverge(*args, **kwargs):
        raise chlu_core.DivergenceError("the states left the finite numbers at step 12")
    monkeypatch.setattr(mnist, "dream", diverge)
    app.compute.dream.clear()
    at = open_page("mnist", seed=3)  # not the precomputed first dream
    app.compute.dream.clear()
    assert not at.exception
    assert [e.value for e in at.error] == ["The chains diverged: the states left the finite numbers at step 12"]

# --- the URL ---------------------------------------------------------------------------------------
def test_query_parameters_restore_the_settings_and_are_written_back():
    at = open_page("rollouts", experiment="exp2", cycles=10)
    assert_clean(at)
    assert slider(at, "Cycles to free-run").value == 10
    assert at.segmented_control[0].value == "exp2"
    assert figures(at)[0]["layout"]["sliders"][0]["steps"][-1]["label"] == "10.00"  # 10 cycles of 1 time unit
    assert at.query_params["cycles"] == ["10"] or at.query_params["cycles"] == "10"
    slider(at, "Cycles to free-run").set_value(20).run()
    assert "20" in str(at.query_params["cycles"])


@pytest.mark.parametrize("page, params, name", [
    ("rollouts", {"cycles": "abc"}, "cycles"),
    ("rollouts", {"experiment": "exp7"}, "experiment"),
    ("landscape", {"model": "no_such_model"}, "model"),
    ("energy", {"waves": "1,99"}, "waves"),
    ("noise", {"friction": "sticky"}, "friction"),
    ("mnist", {"samples": "1e9"}, "samples"),
    ("energy", {"waves": "1,2,3,4,5,6"}, "waves"),  # more than the widget's 4
    ("energy", {"waves": "2,2"}, "waves"),
    ("models", {"compare": "exp1_chlu,exp1_chlu"}, "compare"),
    ("energy", {"waves": "", "sigma": "abc"}, "sigma"),  # shown although the page stops early (no wave)
])
def test_a_malformed_parameter_falls_back_to_the_default_with_a_notice(page, params, name):
    at = open_page(page, **params)
    assert_clean(at)
    notices = [w.value for w in at.warning]
    assert any(f"`{name}=" in notice and "ignored" in notice for notice in notices), notices



def test_a_list_parameter_may_have_spaces_after_its_commas():
    at = open_page("energy", waves="1, 3")
    assert_clean(at)
    assert at.multiselect[0].value == ["1", "3"] and not at.warning


def test_a_parameter_given_twice_is_read_from_its_last_copy_with_a_notice():
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=180)
    at.query_params["cycles"] = ["5", "7"]
    at.switch_page(str(ROOT / "pages" / "rollouts.py")).run()
    assert_clean(at)
    assert slider(at, "Cycles to free-run").value == 7
    assert any("`cycles` 2 times" in w.value for w in at.warning), [w.value for w in at.warning]
    assert at.query_params["cycles"] in ("7", ["7"])  # written back once


# --- widgets change what is shown -----------------------------------------------------------------
def test_the_rollouts_player_moves_a_marker_on_every_view_without_the_server():
    at = open_page("rollouts", cycles=2)
    assert_clean(at)
    (player,) = figures(at)
    panels = [a["text"] for a in player["layout"]["annotations"]]
    assert panels == ["LSTM", "NODE", "CHLU", "Phase space", "Energy H(t)"]
    frames = player["frames"]
    assert len(frames) > 100 and frames[-1]["name"] == str(2 * 125)  # the last step of 2 lemniscate cycles
    axes = {(player["data"][i].get("xaxis", "x"), player["data"][i].get("yaxis", "y")) for i in frames[0]["traces"]}
    assert len(axes) == len(panels)  # a moving marker on every panel
    first, last = frames[0]["data"], frames[-1]["data"]
    assert all(values(a["x"])[-1] != values(b["x"])[-1] for a, b in zip(first, last))
    assert len(player["layout"]["sliders"][0]["steps"]) == len(frames)
    assert downloads(at) == {"Download the rollouts (CSV)": True}


def test_landscape_resolution_and_range_change_the_grid():
    at = open_page("landscape", resolution=21, range=2.0)
    heatmap = next(f for f in figures(at) if f["data"][0]["type"] == "heatmap")
    x = values(heatmap["data"][0]["x"])
    assert len(x) == 21 and x[-1] == pytest.approx(2.0)
    slider(at, "Resolution (points per axis)").set_value(31).run()
    heatmap = next(f for f in figures(at) if f["data"][0]["type"] == "heatmap")
    assert len(values(heatmap["data"][0]["x"])) == 31


def test_landscape_surface_is_one_toggle_away_and_follows_the_grid():
    at = open_page("landscape", resolution=21)
    assert not any(f["data"][0]["type"] == "surface" for f in figures(at))
    at.toggle(key="landscape.surface").set_value(True).run()
    assert_clean(at)
    surface = next(f for f in figures(at) if f["data"][0]["type"] == "surface")
    assert len(values(surface["data"][0]["x"])) == 21
    assert surface["data"][1]["type"] == "scatter3d"  # the free run drawn on the surface
    shared = open_page("landscape", resolution=21, surface="true")  # a copied link opens it too
    assert shared.get("plotly_chart")[-1].proto.spec == at.get("plotly_chart")[-1].proto.spec


def test_energy_noise_level_changes_the_kinetic_energies():
    at = open_page("energy", sigma=0.1, waves="1")
    before = figures(at)[0]
    slider(at, "Start noise σ").set_value(0.9).run()
    assert_clean(at)
    assert figures(at)[0]["data"] != before["data"] and "0.9" in titles(figures(at)[0])


def test_the_filters_move_only_the_chlu_curve():
    at = open_page("noise", waves="1")
    assert at.toggle[0].value is True  # opens on the shipped recipe: the start on the energy shell
    curves = {trace["name"]: values(trace["y"]) for trace in figures(at)[0]["data"]}
    at.toggle[0].set_value(False).run()
    assert_clean(at)
    unfiltered = {trace["name"]: values(trace["y"]) for trace in figures(at)[0]["data"]}
    assert at.query_params["shell"] in ("false", ["false"])
    at.segmented_control[0].set_value("annealed").run()
    assert_clean(at)
    damped = {trace["name"]: values(trace["y"]) for trace in figures(at)[0]["data"]}
    assert len({tuple(c["CHLU"]) for c in (curves, unfiltered, damped)}) == 3
    for baseline in ("LSTM", "NODE", "oracle"):
        assert (curves[baseline] == unfiltered[baseline]).all() and (curves[baseline] == damped[baseline]).all()
    # The shipped CHLU on its energy shell stays within the target at every σ, and the unfiltered one does not.
    assert all(chlu <= 1.5 * oracle + 0.05 for chlu, oracle in zip(curves["CHLU"], curves["oracle"]))
    assert not all(chlu <= 1.5 * oracle + 0.05 for chlu, oracle in zip(unfiltered["CHLU"], curves["oracle"]))


def test_the_noise_page_draws_the_shipped_models_recorded_curves_and_measures_the_rest(monkeypatch):
    """The shipped models' MSE-vs-σ curves under the filters their manifest entries were evaluated with
    come from there (no free runs); any other filter is measured."""
    import app.compute
    measured, filtering_curve = [], app.compute.filtering_curve
    monkeypatch.setattr(app.compute, "filtering_curve",
                        lambda *args: measured.append(args[2]) or filtering_curve(*args))
    at = open_page("noise", waves="1")
    assert_clean(at)
    at.toggle[0].set_value(False).run()  # the CHLU unfiltered: recorded beside its filtered runs
    assert_clean(at)
    assert measured == []
    at.segmented_control[0].set_value("annealed").run()
    assert_clean(at)
    assert measured == [("annealed", 0.1, 0.3, 0.1, False)]  # the CHLU's alone: the baselines have no filter


def test_the_recorded_curves_are_what_the_noise_page_would_measure():
    """What :func:`app.compute.mse_curve` reads from the manifest equals the page's own measurement, to
    the CPU rounding that test_assets allows (its RTOL; the unfiltered CHLU's runs amplify it, as there)."""
    import dataclasses
    from app import compute, models
    shipped = [e for e in models.shipped_entries() if e.experiment == "exp2"]
    assert sorted(e.kind for e in shipped) == ["CHLU", "LSTM", "NODE"]
    for entry in shipped:
        filters = [compute.NOISE_DEFAULTS, compute.UNFILTERED] if entry.kind == "CHLU" else [compute.UNFILTERED]
        for noise_filter in filters:
            recorded = compute._recorded_mse(entry, noise_filter)
            live = compute.filtering.mse_against_sigma({"model": models.model(entry)}, compute.sine_waves.PRESETS["paper"],
                                                       compute.sine_waves.SIGMAS, compute._filter_of(*noise_filter))
            rtol = RTOL_UNFILTERED if entry.kind == "CHLU" and noise_filter == compute.UNFILTERED else RTOL
            numpy.testing.assert_allclose(recorded["model"], live["model"], rtol=rtol)
            numpy.testing.assert_allclose(recorded["oracle"], live["oracle"], rtol=1e-6)
        assert compute._recorded_mse(entry, ("governor", 0.1, 0.3, 0.1, True)) is None
        assert compute._recorded_mse(dataclasses.replace(entry, source="yours"), compute.UNFILTERED) is None


def test_mnist_controls_are_one_click_away_and_dreaming_follows_the_form():
    at = open_page("mnist", samples=4, steps=50)
    assert_clean(at)
    next(b for b in at.button if b.label.startswith("Conservative")).click().run()
    assert slider(at, "Friction γ").value == 0.0 and slider(at, "Start temperature T₀").value == 0.0
    grid = next(f for f in figures(at) if "Generated" in titles(f))
    slider(at, "Samples").set_value(8)
    next(b for b in at.button if b.label == "Dream").click().run()
    assert_clean(at)
    assert next(f for f in figures(at) if "Generated" in titles(f)) != grid
    assert any(c.value.startswith("8 chains × 50 steps") for c in at.caption)


# --- the session's own models ---------------------------------------------------------------------
def wait_for_training(at: AppTest, successes: int = 1, timeout: float = 150) -> None:
    """Rerun the page until background training has shown ``successes`` success messages, or
    ``timeout`` seconds pass."""
    deadline = time.time() + timeout
    while len(at.success) < successes and time.time() < deadline:
        time.sleep(0.5)
        at.run()


def upload(at: AppTest, name: str, content: bytes) -> AppTest:
    at.file_uploader[0].upload(name, content)
    return at.run()


def shown(markdown: str) -> str:
    """Markdown's text as it reads, its backslash escapes (app.layout.markdown_text) removed."""
    return re.sub(r"\\(.)", r"\1", markdown)


def tables(at: AppTest) -> list:
    """The Models page's Markdown tables (one per experiment tab), each as its rows of cells as they read,
    the header first."""
    return [[[shown(cell) for cell in re.split(r"(?<!\\) \| ", line[2:-2])] for line in m.value.splitlines()
             if not line.startswith("| ---")]
            for m in at.markdown if m.value.startswith("| model |")]


def listed(at: AppTest) -> list:
    """The model names in the Models page's tables."""
    return [name for table in tables(at) for name in table[0][1:]]


@pytest.mark.parametrize("content, message", [
    (b"this is not a checkpoint", "not a readable checkpoint"),
    (bytes(21 * 2**20), "limited to 20 MB"),
])
def test_a_bad_upload_shows_a_clear_error_and_changes_nothing(content, message):
    at = open_page("models")
    before = listed(at)
    compared = at.multiselect[0].value
    upload(at, "notes.pt", content)
    assert any("notes.pt" in shown(e.value) and message in e.value for e in at.error), [e.value for e in at.error]
    assert listed(at) == before and at.multiselect[0].value == compared
    assert not at.exception


def test_an_uploaded_checkpoint_joins_this_session_only():
    torch.manual_seed(0)
    unit = chlu_core.CHLU(2, chlu_core.MLPPotential(2, hidden=8), kinetic="newtonian", alpha=0.5)
    data = chlu_core.to_bytes(unit, {"experiment": "exp1"})
    mine = upload(open_page("models"), "mine.pt", data)
    assert_clean(mine)
    assert "CHLU · mine" in listed(mine)  # its kind first: every page colours it as a CHLU
    assert downloads(mine) == {"Download": True}
    assert any(key.startswith("yours-") for key in mine.multiselect[0].value)  # and it is compared
    mine.switch_page(str(ROOT / "pages" / "rollouts.py")).run()
    rollouts = figures(mine)[0]
    assert "CHLU · mine" in [a["text"] for a in rollouts["layout"]["annotations"]]
    assert {t["line"]["color"] for t in rollouts["data"] if t.get("name") == "CHLU · mine" and "line" in t} == \
        {chlu_core.figures.MODEL_COLORS["CHLU"]}
    someone_else = open_page("models")
    assert "CHLU · mine" not in listed(someone_else)



def test_an_upload_whose_metadata_does_not_fit_is_added_without_it_and_breaks_no_page():
    torch.manual_seed(0)
    unit = chlu_core.CHLU(2, chlu_core.MLPPotential(2, hidden=8), kinetic="newtonian", alpha=0.5)
    # A 2-D model labelled with experiment II (whose models are 1-D), metrics that are not a table, a bad dt.
    data = chlu_core.to_bytes(unit, {"experiment": "exp2", "metrics": "good", "config": {"dt": "fast"}})
    at = upload(open_page("models"), "odd.pt", data)
    assert_clean(at)
    assert "CHLU · odd" in listed(at)
    assert any("experiment, metrics, config" in s.value and "ignored" in s.value for s in at.success)
    (entry,) = [e for e, _, _ in at.session_state["user_models"].values()]
    assert entry.experiment == "exp1" and entry.metrics == {}
    for page in ("rollouts", "energy", "noise", "landscape"):
        at.switch_page(str(ROOT / "pages" / f"{page}.py")).run()
        assert not at.exception, (page, at.exception)


@pytest.mark.parametrize("metadata, ignored", [
    ({"experiment": ["exp1"]}, ("experiment",)),
    ({"metrics": {"orbit_error": float("nan")}}, ()),  # a diverged model's metrics are kept
    ({"metrics": {"orbit_error": 10**30}}, ("metrics",)),  # no table column holds it
    ({"config": {"dt": 10**400}}, ("config",)),
    ({"config": {"dt": 1e-300}}, ("config",)),
    ({"config": {"dt": 0.05, "clip_every": 0}}, ("config",)),
    ({"preset": {"a": 1}}, ("preset",)),
])
def test_an_upload_with_odd_metadata_is_added_and_breaks_no_page(metadata, ignored):
    lstm = chlu_core.LSTMBaseline(2, hidden=8)  # an LSTM's step comes from its metadata's config
    at = upload(open_page("models"), "odd.pt", chlu_core.to_bytes(lstm, metadata))
    assert_clean(at)
    (entry,) = [e for e, _, _ in at.session_state["user_models"].values()]
    assert entry.experiment == "exp1" and entry.ignored == ignored
    at.switch_page(str(ROOT / "pages" / "rollouts.py")).run()
    assert not at.exception, at.exception

@pytest.mark.parametrize("fields, ignored", [
    ({"start": [1.0, 0.0, 0.0, 1.0], "steps": 10, "reference": [[1.0, 0.0], [0.0, 1.0]]}, ()),
    ({"start": [1.0, 0.0, 0.5], "steps": 10}, ("start",)),  # 3 numbers for a 2-D model's (q, q̇)
    ({"start": [1.0, float("nan"), 0.0, 1.0], "steps": 10}, ("start",)),
    ({"start": [1.0, 0.0, 0.0, 1.0], "steps": 0}, ("steps",)),
    ({"start": [1.0, 0.0, 0.0, 1.0], "steps": 10, "reference": [[1.0]]}, ("reference",)),
])
def test_a_csv_models_start_is_checked_and_rollouts_runs_it_or_says_why_not(fields, ignored):
    unit = chlu_core.CHLU(2, chlu_core.MLPPotential(2, hidden=8), kinetic="newtonian", alpha=0.5)
    at = upload(open_page("models"), "mine.pt", chlu_core.to_bytes(unit, {"experiment": "csv", **fields}))
    (entry,) = [e for e, _, _ in at.session_state["user_models"].values()]
    assert entry.experiment == "csv" and entry.ignored == ignored
    at.query_params["experiment"] = "csv"
    at.switch_page(str(ROOT / "pages" / "rollouts.py")).run()
    assert not at.exception, at.exception
    if {"start", "steps"} & set(ignored):
        assert not figures(at) and "No model trained on your own data" in at.info[0].value
    else:
        player = figures(at)[0]
        assert len(player["frames"]) > 10 and any(t.get("name") == "truth" for t in player["data"]) == (not ignored)


def test_training_runs_in_the_background_and_keeps_the_model_in_the_session():
    at = open_page("train", data="exp2", model="CHLU", iterations=10, sleep_steps=10, window=8)
    assert_clean(at)
    next(b for b in at.button if b.label == "Train").click().run()
    wait_for_training(at)
    assert_clean(at)
    assert at.success and "is trained" in at.success[0].value
    assert downloads(at) == {"Download the checkpoint": True}
    assert len(at.session_state["user_models"]) == 1
    (table,) = tables(at)  # its metrics, as the Models page shows them
    (entry,) = at.session_state["user_models"].values()
    assert table[0] == ["model", entry[0].label] and ["source", "yours"] in table
    assert any(row[0].startswith("mse at σ=0.5") and float(row[1]) >= 0 for row in table)
    loss = figures(at)[0]
    assert titles(loss) == "Training loss" and len(values(loss["data"][0]["y"])) == 10
    at.query_params["experiment"] = "exp2"
    at.switch_page(str(ROOT / "pages" / "rollouts.py")).run()
    assert entry[0].label in [a["text"] for a in figures(at)[0]["layout"]["annotations"]]  # compared at once


def test_a_diverging_training_shows_why_and_keeps_the_model_with_its_last_good_weights(monkeypatch):
    from chlu_core.experiments import dynamics
    from chlu_core.training import TrainingDiverged

    def diverges(model, data, config, **kwargs):
        raise TrainingDiverged("training diverged at iteration 3 (loss {'loss': nan}); the model keeps its "
                               "weights from iteration 0. Lower the learning rate or dt.", iteration=3)
    monkeypatch.setattr(dynamics, "train_chlu", diverges)
    at = open_page("train", data="exp2", model="CHLU", iterations=10, window=8)
    next(b for b in at.button if b.label == "Train").click().run()
    wait_for_training(at)
    assert not at.exception and not at.error
    assert [w.value for w in at.warning] == ["CHLU: training diverged at iteration 3 (loss {'loss': nan}); the model "
                                             "keeps its weights from iteration 0. Lower the learning rate or dt."]
    assert "is trained (stopped early)" in at.success[0].value
    (entry,) = at.session_state["user_models"].values()
    assert entry[0].metrics["diverged_at_iteration"] == 3


def test_energy_and_noise_run_each_sine_wave_model_at_its_own_time_step():
    # A model steps at the dt it was trained with (the Train page has a dt slider), so the pages must feed it
    # waves sampled at that dt and draw it in time units. Two exact 1 Hz oscillators (H = ½p² + 2π²q², the
    # network's V zeroed), one stepping at 0.05 and one at 0.1: fed at 0.05 per step, the second ran at 2 Hz.
    import app.compute as compute

    def oscillator(dt):
        unit = chlu_core.CHLU(1, chlu_core.MLPPotential(1, hidden=4), kinetic="newtonian", alpha=2 * math.pi ** 2,
                              dt=dt)
        with torch.no_grad():
            for weight in unit.potential.parameters():
                weight.zero_()
        return unit

    def period(x, times):  # time units between upward zero crossings
        return numpy.diff(times[numpy.flatnonzero(numpy.diff(numpy.sign(x)) > 0)]).mean()
    units = {"fine": oscillator(0.05), "coarse": oscillator(0.1)}
    waves = compute.noisy_waves(units, ("a", "b"), 0.0, (0, 1), 0, (0.05, 0.1))
    assert list(waves["runs"])[:2] == ["fine", "coarse"] and list(waves["from_q"]) == ["fine", "coarse"]
    times = waves["times"]
    assert waves["runs"]["coarse"].shape == waves["runs"]["fine"].shape and len(times) == 1000
    for name in units:
        assert period(waves["runs"][name][:, 1, 0], times) == pytest.approx(1.0, rel=0.03)
        ripple = waves["from_q"][name][:, 0] - waves["from_q"][name][:, 0].mean()
        assert period(ripple, times) == pytest.approx(0.5, rel=0.03)  # ½ẋ² beats twice per cycle
    positions = compute.filtered_waves(units, ("a", "b"), compute.UNFILTERED, 0.0, (0,), (0.05, 0.1))
    assert period(positions["coarse"][:, 0], times) == pytest.approx(1.0, rel=0.03)
    # The same noisy starts over the same 50 time units whatever the step: the oracle's MSE agrees.
    at_coarse = compute.filtering_curve(units["coarse"], "b", compute.UNFILTERED, 0.1)
    at_fine = compute.filtering_curve(units["fine"], "a", compute.UNFILTERED, 0.05)
    assert at_coarse["oracle"] == pytest.approx(at_fine["oracle"], rel=0.05)


def test_a_training_job_runs_torch_on_one_thread():
    """The app's thread policy (app.models) holds for training too, though the Train page loads no torch."""
    from app import training
    torch.set_num_threads(2)
    threads = []
    job = training.start("probe", 1, lambda job: threads.append(torch.get_num_threads()) or (None, {}))
    deadline = time.time() + 60
    while not job.done and time.time() < deadline:
        time.sleep(0.05)
    assert threads == [1]


def test_the_train_page_starts_from_the_shipped_recipe_and_each_recipe_brings_its_own_defaults():
    from chlu_core.experiments import lemniscate
    at = open_page("train")
    assert_clean(at)
    best, paper = lemniscate.PRESETS["best"], lemniscate.PRESETS["paper"]
    assert at.session_state["train.recipe"] == "best"
    assert slider(at, "Iterations").value == best.iterations and slider(at, "Sleep every K iterations (0: never)").value == 0
    assert slider(at, "Longest window (steps)").value == max(best.window_lengths)
    assert next(s for s in at.select_slider if s.label == "Learning rate").value == str(best.lr)
    slider(at, "Iterations").set_value(50).run()
    at.session_state["train.recipe"] = "paper"  # the segmented control, as a click sets it
    at.run()
    assert_clean(at)
    assert slider(at, "Iterations").value == paper.iterations  # the recipe's, not the one set before
    assert slider(at, "Sleep every K iterations (0: never)").value == paper.sleep_every
    assert slider(at, "Longest window (steps)").value == max(paper.window_lengths)
    assert next(s for s in at.select_slider if s.label == "Learning rate").value == str(paper.lr)
    assert at.query_params["recipe"] == "paper"
    linked = open_page("train", recipe="paper", iterations=300)
    assert linked.session_state["train.recipe"] == "paper" and slider(linked, "Iterations").value == 300


def test_a_curriculum_keeps_its_proportions_up_to_the_longest_window():
    from app.training import curriculum
    assert curriculum((16, 64, 125, 250), 250) == (16, 64, 125, 250)
    assert curriculum((16, 64, 125, 250), 125) == (8, 32, 62, 125)
    assert curriculum((64,), 8) == (8,)
    assert curriculum((16, 64, 64, 64), 4) == (2, 4, 4, 4)  # never below 2 steps


def test_the_models_tables_lead_with_the_numbers_each_experiment_is_judged_by():
    at = open_page("models")
    assert [tab.label for tab in at.tabs] == ["Lemniscate (I)", "Sine waves (II)", "MNIST (III)"]
    fields = [[row[0] for row in table] for table in tables(at)]
    identity = ["model", "source", "preset", "dimension d", "parameters"]
    assert fields[0][:8] == identity + ["orbit_error", "max_distance", "energy_rel_fluctuation"]
    assert fields[1][5:8] == ["mse at σ=0.5", "frequency at σ=0.5", "max_speed_fd at σ=0.5"]
    assert fields[2][5:10] == ["samples mean_confidence", "samples classes", "samples entropy_bits", "samples mean_pixel",
                               "samples mean_ink_pieces"]
    lemniscate = {row[0]: row[1:] for row in tables(at)[0]}
    assert lemniscate["model"] == ["LSTM", "NODE", "CHLU"] and lemniscate["source"] == ["shipped"] * 3
    manifest = chlu_core.assets.read_manifest()["files"]
    assert lemniscate["orbit_error"] == [f"{manifest[f'exp1_{kind}.pt']['metrics']['orbit_error']:.4g}"
                                            for kind in ("lstm", "node", "chlu")]
    assert lemniscate["energy_rel_fluctuation"][:2] == ["—", "—"]  # only the CHLU has an energy


def test_markdown_tables_show_any_text_literally_and_split_wide_tables():
    from app import layout
    nasty = "$x$ :red[y] *z* a|b `c` <b>"
    assert shown(layout.markdown_text(nasty)) == nasty
    assert not re.search(r"(?<!\\)[$:\[\]*|`<]", layout.markdown_text(nasty))  # every such mark escaped
    assert layout.markdown_text("two\nlines") == "two lines"  # a line break would end a table row
    assert [layout.table_cell(v) for v in (None, True, 18180, 0.0012345678, float("nan"), "p_q")] == \
        ["—", "yes", "18,180", "0.001235", "nan", "p\\_q"]
    fields = {"model": [f"m{i}" for i in range(8)], "score": list(range(8))}
    parts = layout.markdown_tables(fields, columns_per_table=6)
    assert [part.splitlines()[0] for part in parts] == ["| model | m0 | m1 | m2 | m3 | m4 | m5 |", "| model | m6 | m7 |"]
    assert parts[1].splitlines()[1:] == ["| --- | --- | --- |", "| score | 6 | 7 |"]


def test_an_uploads_metric_named_like_a_table_field_does_not_replace_it():
    from app import models
    entry = models.ModelEntry(key="k", label="mine", kind="CHLU", experiment="exp1", source="yours", digest="d",
                              dim=2, parameters=10, metrics={"model": 1.0, "source": 2.0, "orbit_error": 0.5})
    table = models.metrics_table([entry])
    assert table["model"] == ["mine"] and table["source"] == ["yours"] and table["orbit_error"] == [0.5]
    assert list(table)[:6] == ["model", "source", "preset", "dimension d", "parameters", "orbit_error"]


def test_a_bad_training_csv_is_explained():
    at = open_page("train", data="csv")
    upload(at, "runs.csv", b"time,x\n0,1\n")
    assert any("runs.csv" in e.value and "trajectory id column" in e.value for e in at.error)
    assert next(b for b in at.button if b.label == "Train").disabled



def test_a_training_csv_with_its_own_time_step_and_uneven_lengths_is_read_as_it_is():
    rows = ["trajectory,t,x"] + [f"{k},{i * 0.1:.1f},{numpy.cos(i * 0.1 + k):.6f}"
                                 for k, steps in enumerate((30, 40)) for i in range(steps)]
    at = upload(open_page("train", data="csv"), "slow.csv", "\n".join(rows).encode())
    assert_clean(at)  # the form's dt (0.05) serves files without a t column only
    assert "30 steps each, dt = 0.1;" in at.success[0].value
    assert any("30 to 40 steps" in w.value and "first 30" in w.value for w in at.warning)

def test_training_can_be_stopped_and_keeps_what_it_learned():
    at = open_page("train", data="exp2", model="LSTM", iterations=1000, window=8)
    next(b for b in at.button if b.label == "Train").click().run()
    while not any(b.label == "Stop" for b in at.button):
        time.sleep(0.2)
        at.run()
    next(b for b in at.button if b.label == "Stop").click().run()
    wait_for_training(at)
    assert_clean(at)
    assert "(stopped early)" in at.success[0].value
    assert len(values(figures(at)[0]["data"][0]["y"])) < 1000


def test_csv_data_faster_than_a_third_of_the_speed_limit_are_flagged():
    times = 0.05 * numpy.arange(100)
    rows = ["trajectory,t,x,y,vx,vy"] + [f"0,{t:.2f},{numpy.cos(10 * t)},{numpy.sin(10 * t)},{-10 * numpy.sin(10 * t)},"
                                         f"{10 * numpy.cos(10 * t)}" for t in times]  # a circle at speed 10
    at = upload(open_page("train", data="csv", model="CHLU"), "fast.csv", "\n".join(rows).encode())
    assert "top speed 10" in at.success[0].value
    assert any("reach speed 10" in w.value and "c = 20" in w.value for w in at.warning)
    next(s for s in at.select_slider if s.label == "Speed limit c").set_value("50").run()
    assert_clean(at)
    assert not any("reach speed" in w.value for w in at.warning)


def test_training_on_an_uploaded_csv_gives_a_model_the_landscape_can_show():
    rows = ["trajectory,t,x,y"] + [f"{k},{i * 0.05:.2f},{numpy.cos(i * 0.05 + k):.6f},{numpy.sin(i * 0.05 + k):.6f}"
                                   for k in range(2) for i in range(40)]
    at = open_page("train", data="csv", model="CHLU", iterations=10, sleep_every=0, window=8)
    upload(at, "circles.csv", "\n".join(rows).encode())
    assert "2 trajectories of dimension 2" in at.success[0].value
    next(b for b in at.button if b.label == "Train").click().run()
    wait_for_training(at, successes=2)
    assert_clean(at)
    assert "is trained" in at.success[-1].value
    at.switch_page(str(ROOT / "pages" / "landscape.py")).run()
    (mine,) = at.session_state["user_models"]
    assert any("Your CSV" in option for option in at.selectbox[0].options)
    at.selectbox[0].set_value(mine).run()
    assert_clean(at)
    (heatmap,) = [f for f in figures(at) if f["data"][0]["type"] == "heatmap"]
    (entry,) = [e for e, _, _ in at.session_state["user_models"].values()]
    free_run = [t for t in heatmap["data"] if t["type"] == "scatter"]  # its own free run, drawn on V
    assert free_run and len(values(free_run[0]["x"])) == 10 * 39 + 1  # 10 lengths of its 40-row trajectories
    assert entry.metadata["steps"] == 39 and len(entry.metadata["start"]) == 4
    assert entry.metadata["start"][:2] == pytest.approx([1.0, 0.0], abs=1e-6)  # trajectory 0 at t = 0: (cos 0, sin 0)
    # Rollouts free-runs it from that start and scrubs through it, its first trajectory dashed as the truth.
    at.query_params["experiment"] = "csv"
    at.switch_page(str(ROOT / "pages" / "rollouts.py")).run()
    assert_clean(at)
    player = figures(at)[0]
    assert entry.label in [a["text"] for a in player["layout"]["annotations"]]
    truth = [t for t in player["data"] if t.get("name") == "truth"]
    assert truth and values(truth[0]["x"])[0] == pytest.approx(1.0, abs=1e-6)
    assert len(player["frames"]) > 10


def test_pages_never_change_the_shared_shipped_models():
    for page in ("rollouts", "landscape", "noise"):
        assert_clean(open_page(page))
    from app import models
    from chlu_core import assets
    for entry in models.shipped_entries():
        on_disk = chlu_core.load(assets.asset_path(entry.file)).state_dict()
        shared = models.model(entry)
        assert not any(w.requires_grad for w in shared.parameters())
        assert all(torch.equal(shared.state_dict()[name], value) for name, value in on_disk.items())
