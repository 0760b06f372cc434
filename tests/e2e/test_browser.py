"""The whole app in Chromium: every page draws its charts, a layer change redraws, no exception."""

import time

import pytest

from .conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

CHART = "[data-testid='stPlotlyChart'] .js-plotly-plot .main-svg"
EXCEPTION = "[data-testid='stException']"
FIRST_CHART_TIMEOUT_MS = 120_000  # cold server: loads both models and runs them once


def wait_for_charts(page, count: int, timeout_ms: int = 60_000) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll(\"[data-testid='stPlotlyChart'] .js-plotly-plot\").length >= n",
        arg=count,
        timeout=timeout_ms,
    )
    page.wait_for_selector(CHART, timeout=timeout_ms)
    # Streamlit keeps re-rendering while the script runs; wait until it says it is idle.
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=timeout_ms)


def panel_titles(page) -> list[str]:
    # SVG text has no innerText; textContent is what the chart shows.
    return page.evaluate(
        "Array.from(document.querySelectorAll(\"[data-testid='stPlotlyChart'] .annotation-text\"))"
        ".map(element => element.textContent)"
    )


def assert_no_exception(page) -> None:
    assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()
    dialogs = page.locator("[role='dialog']")
    assert dialogs.count() == 0, dialogs.first.inner_text()


# First, as a student with a shared link would: the very first visit of a fresh server is a deep
# link with settings. Streamlit used to show a false "Page not found" dialog over the right page
# here (streamlit/streamlit#9992; see embexplorer.app.widgets.leave_pages_folder_mode).
def test_deep_link_is_the_first_visit(app_server, page):
    query = "text=The+bank+raised+rates.%0AWe+sat+on+the+river+bank.%0AThe+bank+closed.&metric=euclidean"
    page.goto(f"{app_server['url']}/similarity?{query}")
    wait_for_charts(page, 2, FIRST_CHART_TIMEOUT_MS)
    page.wait_for_timeout(1_000)  # a dialog would arrive with the first messages
    assert_no_exception(page)
    assert page.get_by_text("Similarity & RSA").count() >= 1
    assert page.locator("[data-testid='stSidebar'] textarea").input_value().splitlines() == [
        "The bank raised rates.",
        "We sat on the river bank.",
        "The bank closed.",
    ]
    assert "metric=euclidean" in page.url
    assert page.get_by_text("Euclidean distance").count() >= 1


def test_home_page_links(app_server, page):
    page.goto(app_server["url"])
    page.wait_for_selector("text=The mathematics in one place", timeout=FIRST_CHART_TIMEOUT_MS)
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=60_000)
    page.wait_for_function("document.querySelectorAll('.katex').length >= 6", timeout=30_000)
    assert_no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "home.png"), full_page=False)


def test_projection_page_and_layer_change(app_server, page):
    page.goto(f"{app_server['url']}/projection")
    wait_for_charts(page, 1, FIRST_CHART_TIMEOUT_MS)
    first_chart_s = time.monotonic() - app_server["started"]
    print(f"\ntime from `streamlit run` to the first chart: {first_chart_s:.1f} s")
    assert_no_exception(page)
    before = panel_titles(page)
    assert before[0].startswith("A: ") and before[1].startswith("B: ")
    page.screenshot(path=str(ARTIFACTS / "projection.png"), full_page=False)

    slider = page.locator(
        "[data-testid='stSidebar'] [data-testid='stSlider'] input[type='range']"
    ).first
    slider.focus()
    started = time.monotonic()
    slider.press("ArrowLeft")
    page.wait_for_function(
        "old => { const t = document.querySelector(\"[data-testid='stPlotlyChart'] .annotation-text\");"
        " return t && t.textContent !== old; }",
        arg=before[0],
        timeout=30_000,
    )
    wait_for_charts(page, 1)
    print(f"layer change redrawn in {time.monotonic() - started:.2f} s (warm server)")
    after = panel_titles(page)
    assert after[0] != before[0] and after[1] == before[1]
    assert "layer=" not in page.url or "layer_a=" in page.url
    assert "layer_a=" in page.url  # the setting is in the link
    assert_no_exception(page)


def test_similarity_page(app_server, page):
    page.goto(f"{app_server['url']}/similarity")
    wait_for_charts(page, 2, FIRST_CHART_TIMEOUT_MS)
    assert_no_exception(page)
    assert (
        page.locator(
            "[data-testid='stPlotlyChart'] .hm, [data-testid='stPlotlyChart'] image"
        ).count()
        >= 1
    )
    assert page.get_by_text("Spearman ρ").count() >= 1
    # the chance baseline beside the score (random-weight copies, on by default)
    page.get_by_text("random weights:").first.wait_for(timeout=FIRST_CHART_TIMEOUT_MS)
    page.screenshot(path=str(ARTIFACTS / "similarity.png"), full_page=False)


def test_shared_link_reproduces_view(app_server, page):
    query = "text=the+bank%0Athe+river+bank%0Athe+money&unit=sentence&dims=2&layer_b=0"
    page.goto(f"{app_server['url']}/projection?{query}")
    wait_for_charts(page, 1, FIRST_CHART_TIMEOUT_MS)
    assert_no_exception(page)
    titles = panel_titles(page)
    assert "embeddings" in titles[1]
    assert page.locator("[data-testid='stSidebar'] textarea").input_value().splitlines() == [
        "the bank",
        "the river bank",
        "the money",
    ]


# Layers / Geometry / Context pages


def cell_position(page, chart_index: int, x: float, y: float) -> tuple[float, float]:
    """Where on the screen a data point (x, y) of a chart's first axes lies."""
    return tuple(
        page.evaluate(
            """([index, x, y]) => {
                const gd = document.querySelectorAll("[data-testid='stPlotlyChart'] .js-plotly-plot")[index];
                const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
                const box = gd.getBoundingClientRect();
                return [box.left + xa._offset + xa.l2p(x), box.top + ya._offset + ya.l2p(y)];
            }""",
            [chart_index, x, y],
        )
    )


def test_layers_page_and_picking_a_cell(app_server, page):
    page.set_viewport_size({"width": 1600, "height": 2000})
    page.goto(f"{app_server['url']}/layers")
    wait_for_charts(page, 2, FIRST_CHART_TIMEOUT_MS)
    assert_no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "layers.png"), full_page=False)
    x, y = cell_position(page, 0, 1, 2)  # B layer 1, A layer 2
    page.mouse.click(x, y)
    page.wait_for_selector("text=Selected pair: A 2 · B 1", timeout=30_000)
    wait_for_charts(page, 2)
    assert_no_exception(page)
    assert "layer_a=2" in page.url and "layer_b=1" in page.url


def test_geometry_page(app_server, page):
    page.set_viewport_size({"width": 1600, "height": 4600})
    page.goto(f"{app_server['url']}/geometry")
    wait_for_charts(page, 7, FIRST_CHART_TIMEOUT_MS)
    assert_no_exception(page)
    assert page.get_by_text("Largest cosine change (R)").count() == 1
    page.screenshot(path=str(ARTIFACTS / "geometry.png"), full_page=False)


def test_context_page(app_server, page):
    page.set_viewport_size({"width": 1600, "height": 2200})
    page.goto(f"{app_server['url']}/context")
    wait_for_charts(page, 2, FIRST_CHART_TIMEOUT_MS)
    assert_no_exception(page)
    assert page.get_by_text("What to notice").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "context.png"), full_page=False)
