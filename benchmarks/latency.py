"""``browser_first_chart``, ``browser_restart_first_chart``, ``browser_text_change``,
``browser_layer_change``: what one visitor waits for in Chromium (issue 11's targets: 10 s for
both first charts, 1.5 s, 0.4 s).

A fresh ``streamlit run app.py`` on loopback, Debian's Chromium already open (as a visitor's
browser is): from starting the server to the Projection chart on screen; then, once the server has
finished its background warm-up, a sentence typed into the sidebar (Ctrl+Enter) until the chart
shows its new word, and the sidebar's layer slider until the chart shows the new layer. Last, the
same server started again, with the hidden states the first one kept on disk
(:mod:`embexplorer.statestore`), to its first chart.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from embexplorer.statestore import ENV_STATES_DIR

from .browser import CHART, _idle, _server_layer_changes
from .classroom import wait_until_idle
from .core import ROOT, Bench, Result, unavailable

FIRST_CHART_TARGET_S = 10.0
TEXT_CHANGE_TARGET_S = 1.5
LAYER_CHANGE_TARGET_S = 0.4
NAMES = (
    "browser_first_chart",
    "browser_restart_first_chart",
    "browser_text_change",
    "browser_layer_change",
)
TEXT_AREA = "[data-testid='stSidebar'] textarea"
CHART_HAS_WORD_JS = (
    f'word => {{ const gd = document.querySelector("{CHART}");'
    " return gd && gd.data && JSON.stringify(gd.data).includes(word); }"
)


def _first_chart_s(page, url: str, started: float) -> float:
    """Open the Projection page; seconds from ``started`` until its chart is drawn."""
    page.goto(f"{url}/projection")
    page.wait_for_selector(f"{CHART} .main-svg", timeout=600_000)
    seconds = time.perf_counter() - started
    _idle(page)
    return seconds


def _text_changes(page, repeats: int) -> list[float]:
    """Seconds from Ctrl+Enter after typing one more sentence until the chart shows its word."""
    from embexplorer.loadtest import session_words

    times = []
    for index in range(repeats):
        word = session_words(500 + index)[0]
        box = page.locator(TEXT_AREA).first
        box.click()
        box.press("Control+End")
        box.type(f"\nThe {word} waited here.")
        started = time.perf_counter()
        box.press("Control+Enter")
        page.wait_for_function(CHART_HAS_WORD_JS, arg=word, timeout=120_000)
        times.append(time.perf_counter() - started)
        _idle(page)
    return times


def measure_browser_latency(bench: Bench, root: Path = ROOT) -> list[Result]:
    from embexplorer.testing import (
        CHROMIUM,
        CHROMIUM_ARGS,
        start_app,
        stop_app,
        wait_until_healthy,
    )

    if not Path(CHROMIUM).exists():
        why = f"{CHROMIUM} is missing (apt-get install -y chromium)"
        return [unavailable(name, "s", why) for name in NAMES]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return [unavailable(n, "s", "playwright is not installed") for n in NAMES]
    repeats = bench.repeats(quick=5, full=11)
    log_path = bench.workdir / "browser_latency.log"
    env = bench.subprocess_env()
    # The hidden states this first server keeps on disk, for the restart below (empty now: a
    # first start on this machine).
    env[ENV_STATES_DIR] = tempfile.mkdtemp(prefix="states-", dir=bench.workdir)
    with log_path.open("w") as log, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
        viewport = {"width": 1600, "height": 1000}
        started = time.perf_counter()
        process, url = start_app(root, env, log)
        try:
            wait_until_healthy(url, process, timeout=180, poll_s=0.05)  # the clock runs
            cold = _first_chart_s(browser.new_page(viewport=viewport), url, started)
            idle_s = wait_until_idle(process.pid)
            page = browser.new_page(viewport=viewport)
            warm = _first_chart_s(page, url, time.perf_counter())
            typed = _text_changes(page, repeats)
            layer = _server_layer_changes(page, url, repeats)
        finally:
            stop_app(process)
        # The same server started again (its states store and numba cache kept), as a host
        # restarts it or a sleeping demo wakes up, in a new browser context (nothing cached).
        try:
            context = browser.new_context(viewport=viewport)
            started = time.perf_counter()
            process, url = start_app(root, env, log)
            try:
                wait_until_healthy(url, process, timeout=180, poll_s=0.05)
                restart = _first_chart_s(context.new_page(), url, started)
            finally:
                stop_app(process)
        finally:
            browser.close()
    details = {
        "cold_first_chart_s": cold,
        "restart_first_chart_s": restart,
        "warm_first_chart_s": warm,
        "idle_after_first_chart_s": idle_s,
        "text_change_s": typed,
        "layer_change_s": layer,
    }
    return [
        Result(
            "browser_first_chart",
            "s",
            value=cold,
            baseline=warm,
            target=FIRST_CHART_TARGET_S,
            target_of="value",
            repeats=1,
            notes=[
                "from starting `streamlit run app.py` for the first time on this machine "
                "(Chromium already open; the hidden-states store empty) until the Projection "
                "page's chart is drawn; baseline: a new tab opening the same page once the "
                "server is warm"
            ],
            details=details,
        ),
        Result(
            "browser_restart_first_chart",
            "s",
            value=restart,
            baseline=cold,
            target=FIRST_CHART_TARGET_S,
            target_of="value",
            repeats=1,
            notes=[
                "the same server started again (the states the first one kept on disk, its "
                "numba cache), in a new browser context, until the Projection page's chart is "
                "drawn; baseline: the first start"
            ],
        ),
        Result(
            "browser_text_change",
            "s",
            value=statistics.median(typed),
            baseline=warm,
            target=TEXT_CHANGE_TARGET_S,
            target_of="value",
            repeats=len(typed),
            notes=[
                "median from Ctrl+Enter after typing one more sentence in the sidebar until "
                "the chart shows its new word (both models run on the new text); baseline: "
                "opening the page anew on the warm server"
            ],
        ),
        Result(
            "browser_layer_change",
            "s",
            value=statistics.median(layer),
            baseline=statistics.median(typed),
            target=LAYER_CHANGE_TARGET_S,
            target_of="value",
            repeats=len(layer),
            notes=[
                "median from a key press on the sidebar's layer slider until the Projection "
                "chart shows the new layer (no model run); baseline: the typed sentence"
            ],
        ),
    ]
