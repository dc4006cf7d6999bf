"""Compute the shipped models' costly default views once per server, in the background, so that a
visitor's first look at each page finds them in the cache. It starts after the first page has run
(app/main.py), so that it does not slow down the first visitor's own page; between views it waits while
any visitor's page runs."""
from __future__ import annotations

import atexit
import contextlib
import logging
import threading

import streamlit as st


STOP = threading.Event()  # set at interpreter exit: torch work in a thread that outlives it aborts the process

# No grace after the first page: a 0.4 s one let the browser fetch Streamlit's 4.7 MB Plotly chunk before
# `import torch` took the GIL, but the overview no longer needs that chunk (app.layout.light_chart), and
# without the wait the pages opened right after startup came sooner (3 runs alternating, medians: slowest
# page 2.01 s against 2.84 s, startup 4.39 s against 4.49 s).

# Between views the warm-up waits while a visitor's page script runs (they would share the GIL), but not
# longer than this, so that a server kept busy still warms up. Right after startup, opening each page's URL
# in turn: the slowest page of each of 5 runs took 1.82–2.02 s, against 2.03–2.44 s without waiting
# (alternating runs).
YIELD_S = 5.0

_pages_running = 0
_pages_changed = threading.Condition()


@contextlib.contextmanager
def page_running():
    """Mark a visitor's page script as running for its duration (app/main.py wraps every run)."""
    global _pages_running
    with _pages_changed:
        _pages_running += 1
    try:
        yield
    finally:
        with _pages_changed:
            _pages_running -= 1
            _pages_changed.notify_all()


def _next_view() -> bool:
    """Whether to compute the next view, once no visitor's page runs (at most ``YIELD_S`` later);
    False once the server stops."""
    with _pages_changed:
        _pages_changed.wait_for(lambda: _pages_running == 0 or STOP.is_set(), timeout=YIELD_S)
    return not STOP.is_set()


def _default_views() -> None:
    if not _next_view():
        return
    from . import compute, models, widgets  # here, in the thread: they load torch, which the first page may not need
    shipped = models.shipped_entries()
    for experiment, cycles in (("exp1", 50), ("exp2", 50)):  # Overview and Rollouts, in the pages' model order
        if not _next_view():
            return
        widgets.rollout_player(sorted((e for e in shipped if e.experiment == experiment),
                                      key=lambda e: models.PAPER_ORDER.index(e.kind)), experiment, cycles)
    landscape = next((e for e in shipped if e.experiment == "exp1" and e.kind == "CHLU"), None)
    if landscape is not None and _next_view():  # Landscape's default model
        unit = models.model(landscape)
        compute.landscape(unit, landscape.digest, **compute.LANDSCAPE_DEFAULTS)
    # In the pages' order (the paper's), so that the digests, part of the cache key, line up.
    waves = sorted((e for e in shipped if e.experiment == "exp2"), key=lambda e: models.PAPER_ORDER.index(e.kind))
    wave_models, wave_digests = {e.label: models.model(e) for e in waves}, tuple(e.digest for e in waves)
    wave_dts = compute.model_dts(wave_models, waves)
    if waves and _next_view():  # Energy
        compute.noisy_waves(wave_models, wave_digests, **compute.ENERGY_DEFAULTS, dts=wave_dts)
    for entry in (e for e in waves if _next_view()):  # Noise filtering
        compute.mse_curve(entry, wave_models[entry.label],
                          compute.NOISE_DEFAULTS if entry.kind == "CHLU" else compute.UNFILTERED)
    if waves and _next_view():  # and its reconstructions
        compute.filtered_waves(wave_models, wave_digests, compute.NOISE_DEFAULTS, **compute.RECONSTRUCTION_DEFAULTS,
                               dts=wave_dts)
    for entry in (e for e in shipped if e.experiment == "exp3" and _next_view()):  # MNIST
        compute.dream(models.model(entry), entry.digest, **compute.DREAM_DEFAULTS,
                      clip_every=compute.clip_every_of(entry.metadata))


def _stop(thread: threading.Thread) -> None:
    """Let the warm-up finish its current view, then end it (at interpreter exit)."""
    STOP.set()
    with _pages_changed:
        _pages_changed.notify_all()  # a wait for visitors' pages ends at once
    thread.join(timeout=60)


@st.cache_resource(show_spinner=False)
def start() -> threading.Thread:
    """Start the warm-up once per server process."""
    def run():
        try:
            _default_views()
        except Exception:  # a missing data set or asset must not take the server down; pages report it
            logging.getLogger(__name__).warning("warming up the default views failed", exc_info=True)
    thread = threading.Thread(target=run, name="chlu-warm-up", daemon=True)
    thread.start()
    atexit.register(_stop, thread)
    return thread
