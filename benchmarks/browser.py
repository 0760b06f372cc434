"""``layer_step_browser``: what a visitor waits for in Chromium when moving through layers.

The Explore page's animated projection changes layer in the browser (plotly frames, no server
round trip); the baseline is the same visitor changing the sidebar's layer slider on the
Projection page, which reruns the page on the server and redraws. Both are timed in Debian's
Chromium against a served app (``streamlit run app.py`` on loopback), in the same run.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from .core import ROOT, SENTENCES, Bench, Result, unavailable

LAYER_STEP_TARGET_S = 0.1
CHART = "[data-testid='stPlotlyChart'] .js-plotly-plot"
ANIMATION_JS = "document.querySelectorAll(\"[data-testid='stPlotlyChart'] .js-plotly-plot\")[1]"


def _idle(page, timeout_ms: int = 600_000) -> None:
    page.wait_for_selector(f"{CHART} .main-svg", timeout=timeout_ms)
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=timeout_ms)


def _server_layer_changes(page, url: str, repeats: int) -> list[float]:
    """Seconds from a layer-slider key press to the Projection chart showing the new layer."""
    page.goto(f"{url}/projection")
    _idle(page)
    slider = page.locator(
        "[data-testid='stSidebar'] [data-testid='stSlider'] input[type='range']"
    ).first
    title = "document.querySelector(\"[data-testid='stPlotlyChart'] .annotation-text\")"
    times = []
    for index in range(repeats):
        before = page.evaluate(f"{title}.textContent")
        slider.focus()
        started = time.perf_counter()
        slider.press("ArrowLeft" if index % 2 == 0 else "ArrowRight")
        page.wait_for_function(
            f"old => {{ const t = {title}; return t && t.textContent !== old; }}",
            arg=before,
            timeout=120_000,
        )
        times.append(time.perf_counter() - started)
        _idle(page)
    return times


def measure_layer_step_browser(bench: Bench) -> list[Result]:
    from embexplorer.testing import (
        CHROMIUM,
        CHROMIUM_ARGS,
        layer_step_times,
        start_app,
        stop_app,
        wait_until_healthy,
        watch_animation,
    )

    name = "layer_step_browser"
    if not Path(CHROMIUM).exists():
        return [unavailable(name, "s", f"{CHROMIUM} is missing (apt-get install -y chromium)")]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return [unavailable(name, "s", "playwright is not installed (requirements-dev.txt)")]
    log_path = bench.workdir / "layer_step_browser.log"
    repeats = bench.repeats(quick=5, full=11)
    with log_path.open("w") as log:
        process, url = start_app(ROOT, bench.subprocess_env(), log)
        try:
            wait_until_healthy(url, process, timeout=180)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
                )
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                text = "%0A".join(sentence.replace(" ", "+") for sentence in SENTENCES)
                page.goto(f"{url}/explore?text={text}")
                _idle(page)
                page.locator("[data-testid='stPlotlyChart']").nth(1).scroll_into_view_if_needed()
                n_frames = watch_animation(page, ANIMATION_JS)
                order = [step % n_frames for step in range(1, repeats * 2 + 1)]
                in_browser = [ms / 1000 for ms in layer_step_times(page, ANIMATION_JS, order)]
                through_server = _server_layer_changes(page, url, repeats)
                browser.close()
        finally:
            stop_app(process)
    return [
        Result(
            name,
            "s",
            value=statistics.median(in_browser),
            baseline=statistics.median(through_server),
            target=LAYER_STEP_TARGET_S,
            target_of="value",
            repeats=len(in_browser),
            notes=[
                "median over slider steps of the Explore page's layer animation, from the mouse "
                "press to plotly's 'plotly_animated' event, in headless Chromium; baseline: the "
                "Projection page's sidebar layer slider (a server rerun) until the chart shows "
                f"the new layer; {n_frames} layers, the 5 benchmark sentences",
            ],
            details={"in_browser_s": in_browser, "through_server_s": through_server},
        )
    ]
