"""The dashboard in a real browser: Playwright drives Debian's chromium against `streamlit run
app/main.py` on a free local port, visits every page, checks what a visitor sees and saves a
screenshot of each page to tests/artifacts/ (git-ignored).

Fails (never skips) when chromium or Playwright is missing: this is the test that the app works for people.
"""
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
MNIST_DIR = Path("/work/shared/data")
# Timeouts are generous: on a shared, busy CPU a cold first page (imports, free runs) can take a minute.
# page → (title, whether it shows a chart without user input)
PAGES = {"overview": ("The Causal Hamiltonian Learning Unit", True), "train": ("Train", False),
         "models": ("Models", False), "rollouts": ("Rollouts", True), "landscape": ("Landscape", True),
         "energy": ("Energy", True), "noise": ("Noise filtering", True), "mnist": ("MNIST: dreaming digits", True)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(base_path: str = "", log_name: str = "server.log"):
    """`streamlit run app/main.py` on a free local port, under the URL path ``base_path`` if given (Streamlit's
    `server.baseUrlPath`); yields its URL. Its output goes to tests/artifacts/``log_name``, not an unread pipe
    (which would block the server once full), so that a failing test can be explained afterwards."""
    port = free_port()
    env = dict(os.environ)
    if "CHLU_DATA_DIR" not in env and (MNIST_DIR / "MNIST" / "raw").exists():
        env["CHLU_DATA_DIR"] = str(MNIST_DIR)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / log_name
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--server.baseUrlPath", base_path],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}" + (f"/{base_path}" if base_path else "")
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            process.kill()
            pytest.fail(f"streamlit did not start: {log_path.read_text()[-2000:]}")
        try:
            yield url
        finally:
            process.terminate()
            process.wait(timeout=90)  # the warm-up finishes its current view first


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: install Debian's chromium (scripts/install.sh --browser)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        yield browser
        browser.close()


def visit(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(url)
    page.wait_for_selector("[data-testid=stMain] h1", timeout=240_000)
    # The script may still be running (or rerun once the URL is written): wait until the "running"
    # indicator has been gone for a moment.
    for _ in range(2):
        page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=240_000)
        page.wait_for_timeout(700)
    return page


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_shows_its_title_and_charts_and_no_error(server, browser, name):
    title, has_chart = PAGES[name]
    page = visit(browser, f"{server}/{'' if name == 'overview' else name}")
    try:
        expect(page.get_by_role("heading", level=1).first).to_have_text(title, timeout=120_000)
        if has_chart:  # the overview draws its figure in an iframe (app.layout.light_chart)
            where = page.frame_locator("iframe").first if name == "overview" else page
            expect(where.locator(".js-plotly-plot").first).to_be_visible(timeout=180_000)
        assert page.locator("[data-testid=stException]").count() == 0
        assert page.locator("[data-testid=stAlertContentError]").count() == 0
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        page.close()


def overview_then_rollouts(browser, url: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    try:
        page.goto(url + "/")
        chart = page.frame_locator("iframe").first.locator(".js-plotly-plot")
        expect(chart.locator(".annotation-text", has_text="CHLU")).to_be_visible(timeout=180_000)
        assert chart.locator(".scatterlayer .trace").count() == 9  # per panel: faint cycles, last two, truth
        page.wait_for_function("() => window.chluPlotlyPreloaded === true", timeout=120_000)
        chunks = [address for address in fetched if "/static/js/PlotlyChart." in address]
        assert len(chunks) == 1 and chunks[0].startswith(url + "/static/js/")
        assert f"{url}/app/static/plotly-basic.min.js" in fetched
        page.locator("[data-testid=stSidebarNav] a", has_text="Rollouts").first.click()
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=180_000)
        assert [address for address in fetched if "/static/js/PlotlyChart." in address] == chunks  # not fetched again
        assert page.locator("[data-testid=stException]").count() == 0
    finally:
        page.close()


def test_the_overview_draws_the_curves_then_preloads_streamlits_plotly_for_the_next_page(server, browser):
    overview_then_rollouts(browser, server)


def test_the_overview_draws_under_a_hosts_url_prefix(browser):
    """Hosts may serve the app under a path (Streamlit's `server.baseUrlPath`): the light chart finds its
    bundle and Streamlit's chunk under it."""
    with streamlit_server(base_path="hosted/chlu", log_name="server-prefixed.log") as url:
        overview_then_rollouts(browser, url)


def test_a_shared_link_opens_the_same_view(server, browser):
    page = visit(browser, f"{server}/rollouts?experiment=exp2&cycles=5")
    try:
        last = page.locator(".slider-container text").filter(has_text="5.00")  # 5 cycles of 1 time unit
        expect(last).to_have_count(1, timeout=60_000)
        assert "cycles=5" in page.url and "experiment=exp2" in page.url
    finally:
        page.close()


def test_play_moves_the_rollouts_time_in_the_browser(server, browser):
    page = visit(browser, f"{server}/rollouts?cycles=5")
    try:
        now = page.locator(".slider-container text").filter(has_text="t = ")  # the slider's current value
        expect(now).to_have_text("t = 0.00 time units", timeout=60_000)
        page.locator(".updatemenu-button", has_text="Play").click()
        expect(now).not_to_have_text("t = 0.00 time units", timeout=20_000)
    finally:
        page.close()


def test_the_rollouts_download_as_csv(server, browser):
    page = visit(browser, f"{server}/rollouts?experiment=exp2&cycles=2")
    try:
        button = page.get_by_role("button", name="Download the rollouts (CSV)")
        expect(button).to_be_visible(timeout=60_000)
        with page.expect_download(timeout=60_000) as download:
            button.click()
        lines = Path(download.value.path()).read_text().splitlines()
        assert lines[0].split(",")[:3] == ["model", "step", "t"], lines[0]
        assert len(lines) == 1 + 3 * (2 * 20 + 1)  # a row per model and step: 2 cycles of 20 steps, start included
    finally:
        page.close()
