"""`streamlit run app.py` serves app.py's st.App: the models start loading with the server."""

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

from streamlit.web.server.app_discovery import discover_asgi_app

from embexplorer.app import caching, server, widgets

ROOT = Path(__file__).resolve().parents[1]


def test_streamlit_run_finds_the_app_with_its_lifespan():
    found = discover_asgi_app(ROOT / "app.py")
    assert found.is_asgi_app and found.import_string == "app:app"


def test_importing_app_py_to_serve_it_is_cheap():
    """The server imports app.py before it answers: nothing heavy may come with it (the
    lifespan starts those imports in the background)."""
    code = (
        "import sys, streamlit as st, app\n"
        "assert isinstance(app.app, st.App), type(app.app)\n"
        "assert app.app._user_lifespan.__name__ == 'load_models_at_start'\n"
        "heavy = [m for m in ('torch', 'transformers', 'embexplorer.app.caching')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_lifespan_starts_the_background_work_without_waiting_for_it(monkeypatch):
    started, release = threading.Event(), threading.Event()
    calls = []

    def start_background_work():
        calls.append(threading.current_thread().name)
        started.set()
        release.wait(10)  # slow, like loading two models: the server must not wait for it

    monkeypatch.setattr(caching, "start_background_work", start_background_work)

    async def serve():
        async with server.load_models_at_start(None):
            assert "pandas" in sys.modules  # imported before any session can start
            return started.wait(10)

    # In a thread of its own: an earlier test (Playwright's sync API) may have left an event loop
    # running in this one, where asyncio.run refuses to start.
    outcome = []
    runner = threading.Thread(target=lambda: outcome.append(asyncio.run(serve())))
    try:
        runner.start()
        runner.join(30)
        assert outcome == [True]
    finally:
        release.set()
    assert calls == ["server-start"]


def test_plotly_chunk_is_found_in_this_streamlit():
    """A Streamlit upgrade that renames the chunk would silently end the preload."""
    assert widgets.PLOTLY_CHUNK is not None
    assert widgets.PLOTLY_CHUNK.startswith("PlotlyChart.") and widgets.PLOTLY_CHUNK.endswith(".js")
