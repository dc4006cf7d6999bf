"""Benchmark the dashboard on the shipped models and print medians (not a test: numbers for people).

    .venv/bin/python scripts/bench_app.py [--repeats 3]

- startup: from `streamlit run app/main.py` to the overview's figure drawn in chromium (cold caches);
- slider: a click on the Rollouts time slider (Plotly's, run in the browser) until the last change to
  the figure's drawing (every view's marker moved), right after the first visits (the warm-up thread
  may still run) and again once it has had 20 s to finish;
- first visit per page: opening each page's URL in chromium right after startup, as a shared link
  would (a full page load: Streamlit's frontend boots again each time), the server's warm-up thread
  computing the shipped models' default views meanwhile; and, on a second fresh server, clicking
  through the sidebar right after startup, as a visitor would (no reload);
- first render per page, cold: one fresh AppTest session in a fresh process (empty caches), script time;
- dreaming: 64 digits × 1,000 Langevin steps on the shipped MNIST CHLU;
- server memory: the streamlit process's resident set after the visits and the slider moves (20 s
  after the first visits, time for the warm-up to end), and its peak: what a host's memory limit sees.
Targets (issue): startup ≤ 5 s, slider ≤ 0.3 s, first render ≤ 2 s per page, dreaming ≤ 10 s.
"""
from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # app and chlu_core

from app.navigation import PAGES as NAVIGATION  # noqa: E402  (after the path)

CHROMIUM = "/usr/bin/chromium"
PAGES = tuple(info.file for info in NAVIGATION)  # URL paths, in navigation order


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}"


def wait_healthy(url: str) -> None:
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                return
        except OSError:
            time.sleep(0.05)


def idle(page) -> None:
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=120_000)


def rendered(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("[data-testid=stMain] h1", timeout=120_000)
    idle(page)


WATCH_DRAWING = """() => {
    window.__drawn = [];
    new MutationObserver(() => window.__drawn.push(performance.now())).observe(
        document.querySelector('.js-plotly-plot .main-svg'), {subtree: true, attributes: true, childList: true});
}"""


def clicked_through(page) -> dict:
    """Seconds per page from a click on its sidebar link until its title has replaced the previous
    page's and its script has finished, in navigation order."""
    seconds = {}
    for info in NAVIGATION[1:]:
        before = page.locator("[data-testid=stMain] h1").first.inner_text()
        started = time.perf_counter()
        page.locator("[data-testid=stSidebarNav] a", has_text=info.title).first.click()
        page.wait_for_function("(before) => { const h = document.querySelector('[data-testid=stMain] h1');"
                               " return h && h.innerText !== before; }", arg=before, timeout=120_000)
        idle(page)
        seconds[info.file] = time.perf_counter() - started
    return seconds


def slider_moves(page, moves: int = 10) -> list:
    """Seconds from a click on the Rollouts time slider until the figure's drawing last changed (the
    drawing is quiet for 0.3 s after it)."""
    rail = page.locator(".slider-rail-touch-rect").first
    rail.wait_for(timeout=120_000)
    rail.scroll_into_view_if_needed()
    box = rail.bounding_box()
    page.evaluate(WATCH_DRAWING)
    seconds = []
    for move in range(moves):
        fraction = 0.05 + 0.9 * ((0.37 * (move + 1)) % 1.0)  # jumps back and forth along the run
        page.evaluate("() => window.__drawn = []")
        clicked = page.evaluate("() => performance.now()")
        page.mouse.click(box["x"] + fraction * box["width"], box["y"] + box["height"] / 2)
        page.wait_for_function("() => window.__drawn.length > 0")
        page.wait_for_function("() => performance.now() - window.__drawn[window.__drawn.length - 1] > 300")
        seconds.append((page.evaluate("() => window.__drawn[window.__drawn.length - 1]") - clicked) / 1000)
    return seconds


def server_memory(pid: int) -> dict:
    """Resident set now and at its peak, in MiB, of process ``pid`` (Linux /proc)."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {"now": int(status["VmRSS"].split()[0]) / 1024, "peak": int(status["VmHWM"].split()[0]) / 1024}


def browser_timings(playwright, repeats: int) -> tuple[list, dict, list, list, dict]:
    """Startup per repeat; on the first server also each page's first visit by its URL (in navigation
    order; the warm-up thread runs meanwhile), the time slider and the server's memory after all that;
    on the second, each page's first visit by a sidebar click."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
    startups, visits, clicks, during_warmup, settled, memory = [], {}, {}, [], [], {}
    for repeat in range(repeats):
        started = time.perf_counter()
        process, url = start_server()
        try:
            wait_healthy(url)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            overview = page.frame_locator("iframe").first  # its figure is a light chart (app.layout)
            overview.locator(".js-plotly-plot .annotation-text", has_text="CHLU").first.wait_for(state="visible",
                                                                                              timeout=120_000)
            startups.append(time.perf_counter() - started)
            if repeat == 0:
                for name in PAGES[1:]:
                    visited = time.perf_counter()
                    rendered(page, f"{url}/{name}")
                    visits[name] = time.perf_counter() - visited
                rendered(page, f"{url}/rollouts")  # its default: 50 cycles of the lemniscate
                during_warmup = slider_moves(page)
                time.sleep(20)
                settled = slider_moves(page)
                memory = server_memory(process.pid)
            elif repeat == 1:
                clicks = clicked_through(page)
            page.close()
        finally:
            process.terminate()
            process.wait(timeout=90)  # the warm-up finishes its current view first
    browser.close()
    return startups, visits, clicks, during_warmup, settled, memory


FIRST_RENDER = """
import sys, time
sys.path.insert(0, {root!r})
from streamlit.testing.v1 import AppTest
import app.compute, chlu_core  # imported before timing: the server has them loaded after its first page
at = AppTest.from_file({main!r}, default_timeout=300)
at.switch_page({page!r})
started = time.perf_counter()
at.run()
assert not at.exception, at.exception
print(time.perf_counter() - started)
"""


def first_render(page: str) -> float:
    code = FIRST_RENDER.format(root=str(ROOT), main=str(ROOT / "app" / "main.py"),
                               page=str(ROOT / "pages" / f"{page}.py"))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def dreaming(repeats: int) -> list:
    import torch
    from chlu_core import assets, load
    from chlu_core.experiments import mnist
    torch.set_num_threads(1)  # as the app runs
    unit = load(assets.asset_path("exp3_chlu.pt"))
    centroid = mnist.shipped_centroid()  # where the app's dreams start: no MNIST files needed
    times = []
    for seed in range(repeats):
        started = time.perf_counter()
        mnist.sample(unit, centroid, n=64, steps=1000, seed=seed)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    def report(name: str, values: list, target: float) -> None:
        median = statistics.median(values)
        verdict = "ok" if median <= target else "OVER"
        each = f"; each {' / '.join(f'{v:.2f}' for v in values)}" if len(values) > 1 else ""
        print(f"{name:<32} median {median:6.2f} s  (target ≤ {target:g} s, {verdict}; n = {len(values)}{each})",
              flush=True)

    with sync_playwright() as playwright:
        startups, visits, clicks, during_warmup, settled, memory = browser_timings(playwright, args.repeats)
    report("startup → overview drawn", startups, 5)
    report("time slider, warm-up may run", during_warmup, 0.3)
    report("time slider, 20 s later", settled, 0.3)
    for page, seconds in visits.items():
        report(f"first visit (browser): {page}", [seconds], 2)
    for page, seconds in clicks.items():
        report(f"first visit (sidebar click): {page}", [seconds], 2)
    for page in PAGES:
        report(f"first render, cold process: {page}", [first_render(page) for _ in range(args.repeats)], 2)
    report("dreaming 64 digits × 1,000 steps", dreaming(args.repeats), 10)
    print(f"server memory after every page: {memory['now']:.0f} MiB resident, peak {memory['peak']:.0f} MiB")


if __name__ == "__main__":
    main()
