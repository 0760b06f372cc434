"""A real `streamlit run app.py` on a free loopback port, and Debian's Chromium via Playwright."""

import time
from pathlib import Path

import pytest

from embexplorer.testing import (
    CHROMIUM,
    CHROMIUM_ARGS,
    offline_app_env,
    start_app,
    stop_app,
    wait_until_healthy,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="session")
def app_server(tiny_gpt2_dir, minilm_dir):
    """The app with a tiny random GPT-2 as model A and the real all-MiniLM-L6-v2 as model B."""
    env = offline_app_env(tiny_gpt2_dir, minilm_dir)
    # MiniLM's states for the uploaded 150-sentence corpus (~12 MB) go to disk, as a real corpus's
    # do (default 64 MB), so the browser tests read states from a file too; the default sentences'
    # stay in memory.
    env["EMBEXPLORER_SPILL_MB"] = "8"
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / "streamlit.log").open("w")
    started = time.monotonic()
    process, url = start_app(ROOT, env, log)
    try:
        wait_until_healthy(url, process, timeout=90)
        yield {"url": url, "started": started}
    finally:
        stop_app(process)
        log.close()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, device_scale_factor=1)
    tab = context.new_page()
    yield tab
    context.close()
