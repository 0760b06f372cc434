"""A thread-safe LRU cache with an entry budget and a memory budget, shared by all sessions.

Streamlit's caches bound entries but not bytes; hidden states for a corpus weigh hundreds of MB,
so the app keeps them here. Concurrent requests for the same key compute once: the second waits
for the first instead of running the model again. A computation that fails (or is interrupted
because the browser went away) leaves nothing behind, and the next request starts afresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class BoundedCache:
    """Least-recently-used cache bounded by ``max_entries`` and by ``max_bytes`` (if given).

    Parameters
    ----------
    max_entries : int
    max_bytes : int, optional
        Budget for the sum of ``size_of(value)``. A single value larger than the budget is
        returned but not kept.
    size_of : callable, optional
        Bytes a value holds (needed with ``max_bytes``).
    on_evict : callable, optional
        Called as ``on_evict(key)`` once an entry has been dropped to make room (outside the
        cache's lock; the cache no longer holds the value).
    """

    def __init__(
        self,
        max_entries: int,
        max_bytes: int | None = None,
        size_of: Callable[[Any], int] | None = None,
        on_evict: Callable[[Hashable], None] | None = None,
    ):
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        if max_bytes is not None and size_of is None:
            raise ValueError("max_bytes needs size_of to measure values")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._size_of = size_of or (lambda value: 0)
        self._on_evict = on_evict
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self.computations = 0

    @property
    def n_bytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self._entries.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    def keys(self) -> list[Hashable]:
        """The cached keys, least recently used first."""
        with self._lock:
            return list(self._entries)

    def peek(self, key: Hashable) -> tuple[bool, Any]:
        """As :meth:`lookup`, without making the entry the most recent."""
        with self._lock:
            if key in self._entries:
                return True, self._entries[key][0]
            return False, None

    def lookup(self, key: Hashable) -> tuple[bool, Any]:
        """(True, value) when ``key`` is cached (it becomes the most recent), else (False, None)."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return True, self._entries[key][0]
            return False, None

    def _store(self, key: Hashable, value: Any) -> None:
        size = int(self._size_of(value))
        with self._lock:
            if self.max_bytes is not None and size > self.max_bytes:
                return
            self._entries[key] = (value, size)
            self._entries.move_to_end(key)
            evicted = self._evict_over_budget()
        if self._on_evict is not None:
            for evicted_key in evicted:
                self._on_evict(evicted_key)

    def _evict_over_budget(self) -> list[Hashable]:
        """Drop the least recently used entries until the budgets hold (called under the lock);
        returns their keys."""
        evicted = []
        total = sum(s for _, s in self._entries.values())
        while len(self._entries) > self.max_entries or (
            self.max_bytes is not None and total > self.max_bytes
        ):
            evicted_key, (_, evicted_size) = self._entries.popitem(last=False)
            total -= evicted_size
            evicted.append(evicted_key)
        return evicted

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value for ``key``, computing it (once, even under concurrency) if needed."""
        found, value = self.lookup(key)
        if found:
            return value
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        try:
            with key_lock:
                found, value = self.lookup(key)  # another thread may have finished meanwhile
                if found:
                    return value
                value = compute()
                self.computations += 1
                self._store(key, value)
                return value
        finally:
            with self._lock:
                if not key_lock.locked():
                    self._key_locks.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
