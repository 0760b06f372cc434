"""Server protection: limits from the environment, the hosted allowlist, the bounded cache."""

import threading
import time
import weakref

import numpy as np
import pytest

from embexplorer.cache import BoundedCache
from embexplorer.limits import (
    DEFAULT_ALLOWED_MODELS,
    ModelNotAllowed,
    load_limits,
    sentences_within_budget,
)


def test_local_and_hosted_defaults():
    local = load_limits({})
    hosted = load_limits({"EMBEXPLORER_HOSTED": "1"})
    assert not local.hosted and hosted.hosted
    assert hosted.max_tokens < local.max_tokens and hosted.max_sentences < local.max_sentences
    assert hosted.allowed_models == DEFAULT_ALLOWED_MODELS
    local.check_model("/any/folder")  # local mode: anything goes
    hosted.check_model("gpt2")
    for forbidden in ("/etc", "../models", "someone/huge-model", "GPT2", "gpt2 "):
        with pytest.raises(ModelNotAllowed, match="only offers"):
            hosted.check_model(forbidden)


def test_limits_are_configurable_and_validated():
    limits = load_limits(
        {"EMBEXPLORER_MAX_TOKENS": "123", "EMBEXPLORER_ALLOWED_MODELS": " a , b,,"}
    )
    assert limits.max_tokens == 123 and limits.allowed_models == ("a", "b")
    for bad in ("0", "-5", "lots"):
        with pytest.raises(ValueError, match="EMBEXPLORER_MAX_SENTENCES"):
            load_limits({"EMBEXPLORER_MAX_SENTENCES": bad})
    # states spill to disk above 64 MB by default; 0 sends every model run to disk
    assert load_limits({}).spill_mb == 64
    assert load_limits({"EMBEXPLORER_SPILL_MB": "0"}).spill_mb == 0
    with pytest.raises(ValueError, match="EMBEXPLORER_SPILL_MB must be at least 0"):
        load_limits({"EMBEXPLORER_SPILL_MB": "-1"})


@pytest.mark.parametrize(
    ("counts", "budget", "keep"),
    [([[5, 5, 5], [6, 6, 6]], 12, 2), ([[5, 5]], 10, 2), ([[11, 1]], 10, 0), ([[], []], 5, 0)],
)
def test_sentences_within_budget(counts, budget, keep):
    assert sentences_within_budget(counts, budget) == keep


def test_cache_evicts_by_entries_and_bytes():
    cache = BoundedCache(max_entries=3, max_bytes=100, size_of=lambda v: v.nbytes)
    for key in range(4):
        cache.get_or_compute(key, lambda: np.zeros(2, dtype=np.int64))  # 16 bytes each
    assert len(cache) == 3 and 0 not in cache
    cache.get_or_compute("big", lambda: np.zeros(10, dtype=np.int64))  # 80 bytes
    assert cache.n_bytes <= 100 and "big" in cache
    huge = cache.get_or_compute("huge", lambda: np.zeros(100, dtype=np.int64))
    assert huge.size == 100 and "huge" not in cache  # returned, never kept


def test_cache_tells_which_entries_it_dropped_once_it_no_longer_holds_them():
    class Value:
        pass

    refs = {}
    dropped = []  # (key, still alive when told)
    cache = BoundedCache(max_entries=2, on_evict=lambda key: dropped.append((key, refs[key]())))
    for key in "abc":
        refs[key] = weakref.ref(cache.get_or_compute(key, Value))
    assert dropped == [("a", None)]  # "a" was freed before the callback ran
    cache.get_or_compute("b", Value)  # a hit drops nothing
    assert dropped == [("a", None)] and refs["b"]() is not None


def test_cache_computes_once_under_concurrency():
    cache = BoundedCache(max_entries=4)
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return "value"

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_compute("k", slow)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["value"] * 8 and len(calls) == 1


def test_failed_or_interrupted_computation_leaves_nothing_behind():
    cache = BoundedCache(max_entries=2)

    def broken():
        raise KeyboardInterrupt  # like a browser that went away mid-run

    with pytest.raises(KeyboardInterrupt):
        cache.get_or_compute("k", broken)
    assert "k" not in cache
    assert cache.get_or_compute("k", lambda: 42) == 42  # no deadlock, recomputed
