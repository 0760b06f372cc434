"""``classroom``: N visitors open a served app at once, each with their own sentences.

One ``streamlit run app.py`` on loopback; the visitors are :mod:`embexplorer.loadtest` websocket
clients (Streamlit's own protocol, no browser), each opening the Projection page with its own
``text=`` in the link. A warm-up visitor first loads the models and the imports (a server that has
just started for a class has done that for its first visitor). Then one visitor alone gives the
baselines, and N arrive at once.
"""

from __future__ import annotations

from pathlib import Path

from .core import ROOT, Bench, Result

CLASSROOM_SIZE = {"full": 30, "tiny": 4}
# Shared work (identical texts once, queued requests in one model run) should let a class wait
# at most half of what the same visitors would wait one after the other.
LAST_CHART_TARGET_RATIO = 0.5
CPU_PER_VISITOR_TARGET_RATIO = 1.0  # a crowd costs no more CPU per visitor than one alone
GROUPING_TARGET_RATIO = 1.0  # whether running queued requests together makes the class wait less
RSS_TARGET_RATIO = 1.25  # and barely more memory than one visitor's server
VISITOR_TIMEOUT_S = 600.0
# The server counts as idle when it used less than this many CPU seconds in each of a few
# seconds in a row (on a loaded machine a busy thread still gets a tenth of a core).
IDLE_CPU_S = 0.03
IDLE_SECONDS = 3


def wait_until_idle(pid: int, timeout: float = 180.0) -> float:
    """Until process ``pid`` has finished its background work (the UMAP compilation starts after
    the first view); returns the seconds waited."""
    import time

    from embexplorer.loadtest import process_cpu_seconds

    start = time.monotonic()
    before, quiet = process_cpu_seconds(pid), 0
    while time.monotonic() - start < timeout and quiet < IDLE_SECONDS:
        time.sleep(1.0)
        now = process_cpu_seconds(pid)
        quiet = quiet + 1 if now - before < IDLE_CPU_S else 0
        before = now
    return time.monotonic() - start


def _serve_class(bench: Bench, root: Path, n_visitors: int, label: str, env: dict[str, str]):
    """One server: a warm-up visitor, quiet, one visitor alone, then ``n_visitors`` at once."""
    from embexplorer.loadtest import run_classroom
    from embexplorer.testing import start_app, stop_app, wait_until_healthy

    with (bench.workdir / f"classroom-{label}.log").open("w") as log:
        process, url = start_app(root, dict(bench.subprocess_env(), **env), log)
        try:
            wait_until_healthy(url, process, timeout=180)
            warm_up = run_classroom(url, process.pid, 1, first_index=1000)
            idle_after_s = wait_until_idle(process.pid)
            alone = run_classroom(url, process.pid, 1, first_index=1001)
            crowd = run_classroom(url, process.pid, n_visitors, timeout=VISITOR_TIMEOUT_S)
        finally:
            stop_app(process)
    return warm_up, alone, crowd, idle_after_s


def measure_classroom(bench: Bench, root: Path = ROOT) -> list[Result]:
    n_visitors = CLASSROOM_SIZE[bench.settings.size]
    warm_up, alone, crowd, idle_after_s = _serve_class(bench, root, n_visitors, "default", {})
    # The same class on a second server that runs every request on its own (the default runs
    # queued requests together).
    one_by_one = _serve_class(
        bench, root, n_visitors, "one-by-one", {"EMBEXPLORER_GROUP_TEXTS": "1"}
    )
    problems = [p for run in (warm_up, alone, crowd, *one_by_one[:3]) for p in run.problems()]
    status = "error" if problems else "ok"
    details = {
        "idle_after_warm_up_s": idle_after_s,
        "one_by_one": {"alone": one_by_one[1].to_dict(), "crowd": one_by_one[2].to_dict()},
        "warm_up": warm_up.to_dict(),
        "alone": alone.to_dict(),
        "crowd": crowd.to_dict(),
    }
    queued = sum(1 for s in crowd.sessions if s.waiting_texts)
    common = [
        f"{n_visitors} visitors open the Projection page at once, each with 3 sentences of "
        "their own in the link (websocket clients speaking Streamlit's protocol); a warm-up "
        f"visitor loaded the models first and the server was left to finish its background "
        f"warm-up; {queued} of them were told how many requests were "
        "ahead of them",
    ] + [f"problem: {p}" for p in problems[:5]]
    return [
        Result(
            "classroom_last_chart",
            "s",
            value=crowd.last_chart_s,
            baseline=None if alone.last_chart_s is None else alone.last_chart_s * n_visitors,
            target=LAST_CHART_TARGET_RATIO,
            status=status,
            repeats=1,
            notes=common
            + [
                "value: seconds until the last visitor's first chart arrived; baseline: one "
                f"visitor alone on the same warm server, times {n_visitors} (one after another)"
            ],
            details=details,
        ),
        Result(
            "classroom_grouping",
            "s",
            value=crowd.last_chart_s,
            baseline=one_by_one[2].last_chart_s,
            target=GROUPING_TARGET_RATIO,
            status=status,
            repeats=1,
            notes=[
                "the last chart of the class on the default server (queued requests run "
                "together, up to 64 texts); baseline: the same class on a second server started "
                "with EMBEXPLORER_GROUP_TEXTS=1 (each request on its own); CPU per visitor "
                f"{crowd.cpu_s_per_visitor:.2f} s against {one_by_one[2].cpu_s_per_visitor:.2f} "
                f"s, peak RSS {crowd.peak_rss_mb:,.0f} MB against "
                f"{one_by_one[2].peak_rss_mb:,.0f} MB"
            ],
        ),
        Result(
            "classroom_cpu_per_visitor",
            "s",
            value=crowd.cpu_s_per_visitor,
            baseline=alone.cpu_s_per_visitor,
            target=CPU_PER_VISITOR_TARGET_RATIO,
            status=status,
            repeats=1,
            notes=[
                "the server's CPU seconds (user + system, /proc/<pid>/stat) per visitor while "
                f"the {n_visitors} were served; baseline: the same for one visitor alone"
            ],
        ),
        Result(
            "classroom_peak_rss_mb",
            "MB",
            value=crowd.peak_rss_mb,
            baseline=alone.peak_rss_mb,
            target=RSS_TARGET_RATIO,
            status=status,
            repeats=1,
            notes=[
                "the server's peak RSS (VmHWM) after the crowd; baseline: its peak after the "
                "warm-up visitor and one visitor alone"
            ],
        ),
    ]
