"""A classroom at once: N visitors open a served app, each with their own sentences.

A browser costs ~300 MB and a core of its own; a visitor here is a websocket speaking Streamlit's
own protocol (the ``BackMsg`` / ``ForwardMsg`` protobufs the page's JavaScript sends and reads),
so thirty of them fit on a small machine beside the server. Each session asks for one page with
its own ``text=`` in the query string, as a shared link does, and is done when the script run
finishes; the charts it received are checked for its own words and for no other session's.

The server is a real ``streamlit run app.py`` (:func:`embexplorer.testing.start_app`); its CPU
seconds and peak memory are read from ``/proc/<pid>`` (Linux).

Nothing here imports Streamlit until a session runs (its protobufs come with it).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

SESSION_TIMEOUT_S = 600.0
# The app's note to a visitor queued behind others (app.sidebar.queue_message) contains this.
WAITING_MARK = "ahead of you"
# Words no default text or other session contains: every session gets its own pair, so a chart
# that shows another session's words was computed for another session's text.
_ANIMALS = (
    "aardvark badger camel dingo emu ferret gecko hyena ibis jackal koala lemur marmot narwhal "
    "ocelot panda quokka raccoon serval tapir urchin vulture walrus yak zebu bison cobra donkey "
    "eagle falcon gibbon heron iguana jaguar kiwi llama moose newt otter puffin"
).split()
_PLACES = (
    "attic bakery canyon dock estuary fjord garage harbour island jetty kitchen lagoon meadow "
    "nursery orchard pantry quarry ravine stable tundra valley wharf yard zoo arcade basement "
    "cellar desert forest glacier hangar igloo jungle kiosk library mill"
).split()


def session_texts(index: int) -> tuple[str, ...]:
    """Visitor ``index``'s sentences: ordinary words plus a pair that only this visitor types."""
    animal = _ANIMALS[index % len(_ANIMALS)]
    place = _PLACES[(index * 7) % len(_PLACES)]
    if index >= len(_ANIMALS):
        animal += _ANIMALS[index // len(_ANIMALS) % len(_ANIMALS)]
    return (
        f"The {animal} slept in the {place}.",
        f"A {animal} is not a {place}.",
        f"We saw the {animal} near the old {place} today.",
    )


def session_words(index: int) -> tuple[str, str]:
    """The two words that mark visitor ``index``'s sentences."""
    words = session_texts(index)[1].removesuffix(".").split()
    return words[1], words[-1]


@dataclass
class SessionResult:
    """What one visitor saw.

    Attributes
    ----------
    index : int
    started_s, first_chart_s, finished_s : float or None
        Seconds from the load test's start to the session opening its socket, receiving its
        first chart, and its script run finishing (None if it never happened).
    charts : list of str
        Every plotly chart's figure JSON the session received.
    errors : list of str
        Exceptions and error messages shown to this visitor, and protocol failures.
    waiting_texts : list of str
        Spinner and progress texts shown while the visitor waited, and queue notes.
    """

    index: int
    started_s: float | None = None
    first_chart_s: float | None = None
    finished_s: float | None = None
    charts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    waiting_texts: list[str] = field(default_factory=list)

    def problems(self, visitors: Sequence[int]) -> list[str]:
        """Why this session's view is wrong: an error, no chart, or the words of another of
        ``visitors`` (the visitor numbers of the same run)."""
        problems = [f"session {self.index}: {error}" for error in self.errors]
        if self.finished_s is None:
            problems.append(f"session {self.index}: its script run never finished")
        if not self.charts:
            problems.append(f"session {self.index}: no chart arrived")
            return problems
        shown = set(re.findall(r"\w+", "\n".join(self.charts)))  # whole words: "emu" in "lemur"
        own = session_words(self.index)
        if not all(word in shown for word in own):
            problems.append(f"session {self.index}: its chart lacks its own words {own}")
        others = [
            other
            for other in visitors
            if other != self.index and any(w in shown for w in session_words(other))
        ]
        if others:
            problems.append(f"session {self.index}: its chart shows the words of sessions {others}")
        return problems


def _rerun_message(query: dict[str, str], page: str, url: str) -> bytes:
    """The ``rerun_script`` BackMsg a browser sends when it opens ``url/page?query``."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    message = BackMsg()
    state = message.rerun_script
    state.query_string = urlencode(query)
    state.page_name = page
    state.page_script_hash = ""
    state.widget_states.SetInParent()
    state.context_info.timezone = "UTC"
    state.context_info.timezone_offset = 0
    state.context_info.locale = "en-US"
    state.context_info.url = f"{url}/{page}?{state.query_string}"
    return message.SerializeToString()


def _read_element(result: SessionResult, element, elapsed: float) -> None:
    kind = element.WhichOneof("type")
    if kind == "plotly_chart":
        result.charts.append(element.plotly_chart.spec)
        if result.first_chart_s is None:
            result.first_chart_s = elapsed
    elif kind == "exception":
        result.errors.append(f"exception {element.exception.type}: {element.exception.message}")
    elif kind == "alert" and element.alert.format == element.alert.ERROR:
        result.errors.append(f"error: {element.alert.body}")
    elif kind == "markdown" and WAITING_MARK in element.markdown.body:
        result.waiting_texts.append(element.markdown.body)
    elif kind == "spinner" and element.spinner.text:
        result.waiting_texts.append(element.spinner.text)
    elif kind == "progress" and element.progress.text:
        result.waiting_texts.append(element.progress.text)


def run_session(
    url: str,
    page: str,
    query: dict[str, str],
    result: SessionResult,
    clock_start: float,
    timeout: float = SESSION_TIMEOUT_S,
) -> SessionResult:
    """One visitor: open the page's websocket, ask for one run, read until it finishes."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect

    stream = url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    deadline = time.perf_counter() + timeout
    result.started_s = time.perf_counter() - clock_start
    try:
        with connect(
            f"{stream}/_stcore/stream",
            subprotocols=["streamlit"],
            max_size=None,
            open_timeout=timeout,
            origin=url,
        ) as socket:
            socket.send(_rerun_message(query, page, url))
            while True:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    result.errors.append(f"no finished run within {timeout:.0f} s")
                    return result
                message = ForwardMsg()
                message.ParseFromString(socket.recv(timeout=remaining))
                elapsed = time.perf_counter() - clock_start
                kind = message.WhichOneof("type")
                if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                    _read_element(result, message.delta.new_element, elapsed)
                elif kind == "ref_hash":
                    result.errors.append("the server sent a cached-message reference")
                elif kind == "script_finished":
                    status = message.script_finished
                    if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                        result.errors.append("the script failed to compile")
                    if status in (
                        ForwardMsg.FINISHED_SUCCESSFULLY,
                        ForwardMsg.FINISHED_WITH_COMPILE_ERROR,
                    ):
                        result.finished_s = elapsed
                        return result
    except Exception as error:  # noqa: BLE001 - a failed visitor is a result, not a crash
        result.errors.append(f"{type(error).__name__}: {error}")
    return result


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its waited-for children (Linux)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: utime, stime, cutime, cstime are fields 14-17 of stat(5).
    ticks = sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def process_memory_mb(pid: int) -> dict[str, float]:
    """Resident memory now (VmRSS) and its peak (VmHWM) of process ``pid``, in MB (Linux)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(line.split()[1]) / 2**10
    return {"rss_mb": out.get("VmRSS", 0.0), "peak_rss_mb": out.get("VmHWM", 0.0)}


@dataclass
class LoadResult:
    """N visitors against one server.

    Attributes
    ----------
    sessions : list of SessionResult
    wall_s : float
        Seconds from the first visitor arriving to the last one's finished run.
    last_chart_s : float or None
        Seconds from the first visitor arriving to the last visitor's first chart (None when
        some visitor never got one).
    server_cpu_s : float
        The server's CPU seconds (user + system) spent meanwhile.
    rss_mb, peak_rss_mb : float
        The server's resident memory at the end, and its peak since it started.
    """

    sessions: list[SessionResult]
    wall_s: float
    last_chart_s: float | None
    server_cpu_s: float
    rss_mb: float
    peak_rss_mb: float

    @property
    def cpu_s_per_visitor(self) -> float:
        return self.server_cpu_s / len(self.sessions)

    def problems(self) -> list[str]:
        visitors = [s.index for s in self.sessions]
        return [problem for s in self.sessions for problem in s.problems(visitors)]

    def to_dict(self) -> dict:
        return {
            "n_sessions": len(self.sessions),
            "wall_s": self.wall_s,
            "last_chart_s": self.last_chart_s,
            "server_cpu_s": self.server_cpu_s,
            "cpu_s_per_visitor": self.cpu_s_per_visitor,
            "rss_mb": self.rss_mb,
            "peak_rss_mb": self.peak_rss_mb,
            "first_chart_s": [s.first_chart_s for s in self.sessions],
            "waiting_texts": sorted({t for s in self.sessions for t in s.waiting_texts}),
            "problems": self.problems(),
        }


def run_classroom(
    url: str,
    server_pid: int,
    n_sessions: int,
    page: str = "projection",
    first_index: int = 0,
    arrival_spread_s: float = 0.0,
    extra_query: dict[str, str] | None = None,
    timeout: float = SESSION_TIMEOUT_S,
) -> LoadResult:
    """``n_sessions`` visitors open ``page`` on the server at ``url``, each with own sentences.

    Parameters
    ----------
    url : str
        The served app, e.g. ``http://127.0.0.1:8501``.
    server_pid : int
        The server's process id, for its CPU time and memory.
    n_sessions : int
    page : str
        The page's URL path.
    first_index : int
        Visitor numbers start here (:func:`session_texts`): a warm-up visitor with another
        number shares no text with the measured ones.
    arrival_spread_s : float
        Visitors arrive evenly over this many seconds (0: all at once).
    extra_query : dict, optional
        More link settings every visitor's URL carries.
    timeout : float
        Seconds a visitor waits for its run before it counts as failed.

    Returns
    -------
    LoadResult
    """
    if n_sessions < 1:
        raise ValueError(f"n_sessions must be at least 1, got {n_sessions}")
    results = [SessionResult(first_index + k) for k in range(n_sessions)]
    import streamlit.proto.ForwardMsg_pb2  # noqa: F401 - imported once, before the clock starts

    cpu_before = process_cpu_seconds(server_pid)
    start = time.perf_counter()
    threads = []
    for k, result in enumerate(results):
        query = dict(extra_query or {}, text="\n".join(session_texts(result.index)))
        delay = arrival_spread_s * k / max(n_sessions - 1, 1)
        threads.append(
            threading.Timer(delay, run_session, (url, page, query, result, start, timeout))
        )
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    cpu = process_cpu_seconds(server_pid) - cpu_before
    charts = [r.first_chart_s for r in results]
    memory = process_memory_mb(server_pid)
    return LoadResult(
        sessions=results,
        wall_s=wall,
        last_chart_s=None if None in charts else max(charts),
        server_cpu_s=cpu,
        **memory,
    )
