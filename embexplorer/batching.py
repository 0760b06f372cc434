"""Requests for one model from many sessions, run together and answered one by one.

A model runs one request at a time (its tokenizer is not thread-safe and one run at a time keeps
memory bounded). When thirty visitors type at once, the requests that queued up while the model
was busy are taken together: their texts go through the same forward passes, batched by length
(fewer, fuller passes), and each request gets back exactly its own texts' hidden states. Padding
is masked, so a text's vectors do not depend on which other texts shared its batch.

Whoever finds the model idle runs the next group (its own request or not) in its own thread; the
others wait and can be told how many requests are ahead of them. No thread is started here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import extract
from .extract import HiddenStates, _validate_texts
from .models import LoadedModel

# Texts one group may hold (a few forward passes of extract's default batch of 16; the app reads
# EMBEXPLORER_GROUP_TEXTS); a larger request, or one that reports progress (a corpus, with a
# Cancel button), runs on its own.
MAX_GROUP_TEXTS = 64
WAIT_POLL_S = 0.2


@dataclass(eq=False)
class _Request:
    texts: tuple[str, ...]
    progress: Callable[[int, int], bool | None] | None
    done: bool = False
    result: HiddenStates | None = None
    error: BaseException | None = None
    max_group_texts: int = MAX_GROUP_TEXTS
    alone: bool = field(init=False)

    def __post_init__(self):
        self.alone = self.progress is not None or len(self.texts) > self.max_group_texts


class ModelQueue:
    """The queue of one model's requests (one per model per process, shared by all sessions).

    Attributes
    ----------
    groups : int
        Model runs so far (a group of requests counts once).
    requests : int
        Requests answered so far.
    dtype : numpy float dtype
        How the hidden states are stored (``extract_hidden_states``' ``dtype``; the app: float16).
    spill_mb : float or None
        ``extract_hidden_states``' ``spill_mb``: bigger states are kept in a temporary file.
    """

    def __init__(
        self,
        max_group_texts: int = MAX_GROUP_TEXTS,
        dtype=np.float32,
        spill_mb: float | None = None,
    ):
        self.max_group_texts = max_group_texts
        self.dtype = dtype
        self.spill_mb = spill_mb
        self._pending: list[_Request] = []
        self._running: list[_Request] = []
        self._changed = threading.Condition()
        self.groups = 0
        self.requests = 0

    def _ahead_of(self, request: _Request) -> int:
        if request in self._running:
            return 0
        return len(self._running) + self._pending.index(request)

    def _take_group(self, mine: _Request) -> list[_Request]:
        """The next requests to run together: the oldest this thread may run, and those after it
        that fit. A request with progress reports to its own session's page, so only its own
        thread runs it."""
        first = next(r for r in self._pending if r.progress is None or r is mine)
        self._pending.remove(first)
        group = [first]
        if first.alone:
            return group
        size = len(first.texts)
        for request in list(self._pending):
            if not request.alone and size + len(request.texts) <= self.max_group_texts:
                group.append(request)
                size += len(request.texts)
                self._pending.remove(request)
        return group

    def run(
        self,
        loaded: LoadedModel,
        texts: Sequence[str],
        progress: Callable[[int, int], bool | None] | None = None,
        waiting: Callable[[int], None] | None = None,
    ) -> HiddenStates:
        """Hidden states of ``texts`` (as :func:`~embexplorer.extract.extract_hidden_states`),
        run together with other sessions' requests that wait for the same model.

        Parameters
        ----------
        loaded : LoadedModel
            The model (every request of one queue must name the same model).
        texts : sequence of str
        progress : callable, optional
            As in ``extract_hidden_states``; a request with progress runs on its own.
        waiting : callable, optional
            Called as ``waiting(ahead)`` while the request waits, whenever the number of
            requests ahead of it changes (0: its run has started).

        Returns
        -------
        HiddenStates
            The same as ``extract_hidden_states(loaded, texts)`` up to float rounding.
        """
        request = _Request(_validate_texts(texts), progress, max_group_texts=self.max_group_texts)
        told = None
        with self._changed:
            self._pending.append(request)
            try:
                while not request.done:
                    if not self._running:
                        self._run_next_group(loaded, request)
                        continue
                    ahead = self._ahead_of(request)
                    if waiting is not None and ahead != told:
                        told = ahead
                        self._changed.release()  # the callback draws on a page: never under lock
                        try:
                            waiting(ahead)
                        finally:
                            self._changed.acquire()
                        continue
                    self._changed.wait(WAIT_POLL_S)
            finally:
                if request in self._pending:  # the caller gave up (an exception while waiting)
                    self._pending.remove(request)
        if request.error is not None:
            raise request.error
        return request.result

    def _run_next_group(self, loaded: LoadedModel, mine: _Request) -> None:
        """Run the next group in this thread (called with ``_changed`` held; released meanwhile)."""
        group = self._take_group(mine)
        self._running = group
        self._changed.notify_all()
        self._changed.release()
        try:
            _answer(loaded, group, self.dtype, self.spill_mb)
        finally:
            self._changed.acquire()
            self._running = []
            self.groups += 1
            self.requests += len(group)
            self._changed.notify_all()


def _answer(
    loaded: LoadedModel, group: list[_Request], dtype=np.float32, spill_mb: float | None = None
) -> None:
    """Run a group's texts through the model at once and give each request its own part."""
    texts = tuple(text for request in group for text in request.texts)
    try:
        states = extract.extract_hidden_states(
            loaded, texts, progress=group[0].progress, dtype=dtype, spill_mb=spill_mb
        )
        start = 0
        for request in group:
            stop = start + len(request.texts)
            request.result = states if len(group) == 1 else states.texts_slice(start, stop)
            start = stop
    except BaseException as error:  # noqa: BLE001 - raised in each request's own thread
        for request in group:
            request.error = error
    finally:
        for request in group:
            request.done = True
