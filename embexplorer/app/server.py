"""What the server does once, when it starts: ``app.py``'s App lifespan.

Without it, the imports (torch, transformers: ~6-7 s of CPU) and the model loads start only when
the first visitor's page runs, after their browser has loaded Streamlit's frontend (~2-3 s on a
small server) and connected. Started with the server, they overlap that loading.

This module is imported when the server starts, before it answers: it imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any


def _start_background_work() -> None:
    from embexplorer.app import caching

    caching.start_background_work()


@contextlib.asynccontextmanager
async def load_models_at_start(_app: Any) -> AsyncIterator[None]:
    """The App's lifespan: the default models load (and UMAP compiles, later) in the
    background from the server's start; the server answers meanwhile."""
    # pandas before any session can start: Streamlit checks values against it in every
    # session's thread, and a half-imported pandas fails them (see embexplorer.app.tables).
    import pandas  # noqa: F401

    threading.Thread(target=_start_background_work, name="server-start", daemon=True).start()
    yield
