"""``warm_rerun``, ``umap_first`` and ``peak_rss_mb``: the Streamlit pages, through AppTest.

``warm_rerun`` runs in this process; ``umap_first`` and ``peak_rss_mb`` each run the pages in a
fresh worker process (``worker_app_session``). This module and ``corpus_pages`` (which reuses its
helpers) are the only benchmark modules that import Streamlit or the app's code, and only inside
their functions.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .core import PAGES_DIR, ROOT, Bench, Result, corpus_sentences, summary, time_once, unavailable

PROJECTION_PAGE = PAGES_DIR / "1_projection.py"
SIMILARITY_PAGE = PAGES_DIR / "2_similarity.py"
UMAP_CLICK_AFTER_S = 10.0
APP_TIMEOUT_S = 900  # AppTest's per-run limit: a cold UMAP view compiles numba code for ~30 s


def _app_cached_model():
    """The app's cached model loader (``st.cache_resource``), as the pages call it."""
    from embexplorer.app.caching import cached_model

    return cached_model


# --- warm_rerun (AppTest, in this process) --------------------------------------------------------


def _no_umap_warm_up(seed: int = 0) -> None:
    """Stands in for projection.warm_up_umap where its one-off compile would disturb timings."""


class _Patched:
    """Set an attribute for the duration of a ``with`` block."""

    def __init__(self, owner: Any, name: str, value: Any):
        self.owner, self.name, self.value = owner, name, value

    def __enter__(self):
        self.old = getattr(self.owner, self.name)
        setattr(self.owner, self.name, self.value)

    def __exit__(self, *exc):
        setattr(self.owner, self.name, self.old)


def _app_errors(at) -> list[str]:
    return [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]


def measure_warm_rerun(bench: Bench) -> list[Result]:
    if not PROJECTION_PAGE.exists():
        return [unavailable("warm_rerun", "s", f"{PROJECTION_PAGE} not found (needs a checkout)")]
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from embexplorer import projection

    repeats = bench.repeats(quick=2, full=7)
    corpus = corpus_sentences()
    env = {"EMBEXPLORER_MODEL_A": bench.settings.model_names[0]}
    env["EMBEXPLORER_MODEL_B"] = bench.settings.model_names[1]
    saved_env = {key: os.environ.get(key) for key in env}
    saved_path = list(sys.path)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    text_s, layer_s = [], []
    try:
        with _Patched(projection, "warm_up_umap", _no_umap_warm_up):
            st.cache_resource.clear()
            at = AppTest.from_file(str(PROJECTION_PAGE), default_timeout=APP_TIMEOUT_S).run()
            n_layers = len(at.sidebar.select_slider(key="layer_a").options) - 1
            for round_ in range(repeats + 1):  # the first round warms up and is not timed
                text = "\n".join(corpus[5 * round_ : 5 * round_ + 5])
                at.sidebar.text_area(key="text").set_value(text)
                seconds_text = time_once(at.run)
                layer = 1 + round_ % max(n_layers - 1, 1)
                at.sidebar.select_slider(key="layer_a").set_value(layer)
                seconds_layer = time_once(at.run)
                if errors := _app_errors(at):
                    raise RuntimeError(f"the Projection page failed: {errors[0]}")
                if round_:
                    text_s.append(seconds_text)
                    layer_s.append(seconds_layer)
    finally:
        sys.path[:] = saved_path
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        st.cache_resource.clear()
    return [
        Result(
            "warm_rerun",
            "s",
            value=min(layer_s),
            baseline=min(text_s),
            target=0.2,
            repeats=repeats,
            notes=[
                "Projection page (AppTest), 5 new corpus sentences per text change; the UMAP "
                "warm-up thread is switched off here so its one-off compile is not timed"
            ],
            details={"layer_change": summary(layer_s), "text_change": summary(text_s)},
        )
    ]


# --- umap_first and peak_rss_mb (fresh app processes) ---------------------------------------------


def _warm_up_threads() -> list[threading.Thread]:
    """The app's background warm-up thread(s), whatever the app names them ("...warm-up")."""
    return [t for t in threading.enumerate() if "warm-up" in t.name]


def peak_rss_mb() -> tuple[float, float]:
    """This process's peak resident memory in MB: (VmHWM, ru_maxrss).

    On Linux ``ru_maxrss`` survives ``exec``: a child started from a big parent reports at least
    the parent's size at the fork. ``VmHWM`` belongs to the process's own address space, so it is
    the figure used where /proc exists; ``ru_maxrss`` is kept beside it.
    """
    import resource

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    maxrss_mb = maxrss / 2**20 if sys.platform == "darwin" else maxrss / 2**10
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return maxrss_mb, maxrss_mb
    line = next((ln for ln in status.splitlines() if ln.startswith("VmHWM:")), None)
    return (int(line.split()[1]) / 2**10 if line else maxrss_mb), maxrss_mb


def current_rss_mb(field: str = "VmRSS") -> float | None:
    """This process's resident memory now (Linux), in MB. ``field``: ``VmRSS`` (all of it),
    ``RssAnon`` (the process's own data) or ``RssFile`` (file pages mapped in: the models'
    weights, which transformers maps read-only from their safetensors files)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    line = next((ln for ln in status.splitlines() if ln.startswith(f"{field}:")), None)
    return int(line.split()[1]) / 2**10 if line else None


def models_weights_mb(names) -> float:
    """The weights of the app's loaded models ``names``, in MB."""
    cached_model = _app_cached_model()
    weights = 0
    for name in names:
        model = cached_model(name).model
        weights += sum(p.numel() * p.element_size() for p in model.parameters())
    return weights / 2**20


def worker_app_session(config: dict[str, Any]) -> dict[str, Any]:
    """One app process: open the Projection page, optionally click UMAP at a set time, optionally
    render the Similarity page, and report times and peak memory."""
    import streamlit as st  # noqa: F401 - imported before the clock starts, as in a server
    import torch
    from streamlit.testing.v1 import AppTest

    from embexplorer import projection

    sys.path.insert(0, str(ROOT))
    out: dict[str, Any] = {}
    opened = time.perf_counter()
    if config["warm_up"]:
        real_warm_up = projection.warm_up_umap

        def timed_warm_up(*args, **kwargs):
            out["warm_up_started_s"] = time.perf_counter() - opened
            real_warm_up(*args, **kwargs)
            out["warm_up_finished_s"] = time.perf_counter() - opened

        projection.warm_up_umap = timed_warm_up
    else:
        projection.warm_up_umap = _no_umap_warm_up
    if not config.get("umap_disk_cache", True):
        projection.enable_umap_disk_cache = lambda: 0  # umap-learn as shipped: compiles in memory
    at = AppTest.from_file(str(PROJECTION_PAGE), default_timeout=APP_TIMEOUT_S).run()
    out["first_render_s"] = time.perf_counter() - opened
    out["rss_after_first_render_mb"] = current_rss_mb()
    if errors := _app_errors(at):
        raise RuntimeError(f"the Projection page failed: {errors[0]}")
    if config.get("umap_click_at") is not None:
        time.sleep(max(0.0, opened + config["umap_click_at"] - time.perf_counter()))
        out["clicked_at_s"] = time.perf_counter() - opened
        out["warm_up_running_at_click"] = any(t.is_alive() for t in _warm_up_threads())
        at.segmented_control(key="method").set_value("umap")
        out["umap_view_s"] = time_once(at.run)
        if errors := _app_errors(at):
            raise RuntimeError(f"the UMAP view failed: {errors[0]}")
    if config.get("similarity"):
        similarity = AppTest.from_file(str(SIMILARITY_PAGE), default_timeout=APP_TIMEOUT_S)
        out["similarity_render_s"] = time_once(similarity.run)
        if errors := _app_errors(similarity):
            raise RuntimeError(f"the Similarity page failed: {errors[0]}")
    for thread in _warm_up_threads():
        thread.join()  # the app compiles UMAP in every process: its memory belongs to the peak
    out["peak_rss_mb"], out["ru_maxrss_mb"] = peak_rss_mb()
    out["weights_mb"] = models_weights_mb(config["models"])
    out["device"] = _app_cached_model()(config["models"][0]).info.device
    out["torch_threads"] = torch.get_num_threads()
    return out


def _umap_click_row(
    name: str,
    warm: list[dict],
    cold: list[dict],
    notes: list[str],
    target: float | None = None,
) -> Result:
    """One UMAP-click row: the best view time with the warm-up / without it, over the rounds."""
    return Result(
        name,
        "s",
        value=min(w["umap_view_s"] for w in warm),
        baseline=min(c["umap_view_s"] for c in cold),
        target=target,
        repeats=len(warm),
        notes=notes,
        details={"with_warm_up": warm, "without_warm_up": cold},
    )


def measure_app_sessions(bench: Bench, selected: set[str]) -> list[Result]:
    """``umap_first`` and ``peak_rss_mb``: the warm session serves both when both are asked for."""
    names = [n for n in ("umap_first", "peak_rss_mb") if n in selected]
    if not PROJECTION_PAGE.exists():
        why = f"{PROJECTION_PAGE} not found (needs a checkout)"
        return [unavailable(n, "s" if n == "umap_first" else "MB", why) for n in names]
    models = list(bench.settings.model_names)
    results = []
    if "umap_first" in selected:
        rounds = bench.repeats(quick=1, full=2)
        warm_job = dict(
            models=models,
            warm_up=True,
            umap_click_at=UMAP_CLICK_AFTER_S,
            similarity="peak_rss_mb" in selected,
        )
        cold_job = dict(
            models=models, warm_up=False, umap_disk_cache=False, umap_click_at=0.0, similarity=False
        )
        side_by_side = bench.settings.quick
        # A server restart on an installed machine: one earlier app start filled the numba cache
        # (as the first start of any installation does); the baseline shares that cache, so
        # pynndescent's own cached code helps it too, but it compiles umap-learn as shipped.
        installed = bench.empty_numba_cache()
        bench.run_workers(
            [("app_session", dict(warm_job, umap_click_at=None, similarity=False))],
            numba_cache_dir=installed,
        )
        warm, cold, first_warm, first_cold = [], [], [], []
        for _ in range(rounds):
            warm.append(
                bench.run_workers([("app_session", warm_job)], numba_cache_dir=installed)[0]
            )
            cold.append(
                bench.run_workers([("app_session", cold_job)], numba_cache_dir=installed)[0]
            )
            # The very first start of a fresh installation: every process with an empty cache.
            sessions = bench.run_workers(
                [("app_session", dict(warm_job, similarity=False)), ("app_session", cold_job)],
                parallel=side_by_side,
            )
            first_warm.append(sessions[0])
            first_cold.append(sessions[1])
        click_note = (
            f"the click comes {UMAP_CLICK_AFTER_S:.0f} s after the Projection page first opens "
            "(or when its first render ends, if later); baseline: the same click in a fresh "
            "process with the warm-up off and umap-learn compiling in memory as shipped"
        )
        results.append(
            _umap_click_row(
                "umap_first",
                warm,
                cold,
                target=0.2,
                notes=[
                    "a server start on an installed machine: the numba disk cache was filled by "
                    "one earlier app start (pynndescent caches its code on disk; the app also "
                    "caches umap-learn's, projection.enable_umap_disk_cache); " + click_note,
                ],
            )
        )
        results.append(
            _umap_click_row(
                "umap_first_cold",
                first_warm,
                first_cold,
                notes=[
                    "the first start of a fresh installation: each process has its own empty "
                    "NUMBA_CACHE_DIR, so everything compiles (~30 s on 2 cores); " + click_note,
                ]
                + (
                    ["quick: the two processes ran side by side (about one core each)"]
                    if side_by_side
                    else []
                ),
            )
        )
    if "peak_rss_mb" in selected:
        if "umap_first" in selected:
            session = warm[0]
            how = (
                "read at the end of the first umap_first session (Projection PCA, UMAP, Similarity)"
            )
        else:
            (session,) = bench.run_workers(
                [
                    (
                        "app_session",
                        dict(
                            models=models,
                            # tiny: plumbing only, without the ~30 s UMAP compile
                            warm_up=not bench.settings.tiny,
                            umap_click_at=None,
                            similarity=True,
                        ),
                    )
                ]
            )
            how = "fresh app process: Projection and Similarity renders"
        results.append(
            Result(
                "peak_rss_mb",
                "MB",
                value=session["peak_rss_mb"],
                baseline=session["weights_mb"],
                target=1500.0,
                target_of="value",
                repeats=1,
                notes=[
                    f"peak RSS (VmHWM; ru_maxrss where /proc is missing) of the app process, "
                    f"{how}, after the background warm-up finished; baseline: both models' "
                    "weights"
                ],
                details={"session": session},
            )
        )
    return results
