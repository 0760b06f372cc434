"""Several sessions' requests for one model, run together: each gets exactly its own vectors."""

import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from embexplorer.batching import ModelQueue
from embexplorer.extract import concatenate_states, extract_hidden_states
from embexplorer.loadtest import session_texts
from embexplorer.ondisk import LayersOnDisk

FIELDS = ("tokens", "texts", "truncated", "warnings")
ARRAYS = ("token_ids", "sentence", "position", "offsets", "special")


def assert_same_states(together, alone):
    for name in FIELDS:
        assert getattr(together, name) == getattr(alone, name), name
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(together, name), getattr(alone, name), err_msg=name)
    # Padding is masked: a text's vectors do not depend on its batch (up to float rounding).
    np.testing.assert_allclose(together.vectors, alone.vectors, atol=2e-5, rtol=1e-5)


def test_texts_slice_is_the_same_as_running_those_texts_alone(tiny_gpt2):
    texts = ("A short one.", "A much longer sentence with many more words in it.", "Mid size.")
    states = extract_hidden_states(tiny_gpt2, texts)
    assert_same_states(states.texts_slice(1, 3), extract_hidden_states(tiny_gpt2, texts[1:]))


def test_concatenated_runs_are_the_same_as_one_run_of_all_their_texts(tiny_gpt2):
    texts = ("A short one.", "A much longer sentence with many more words in it.", "Mid size.")
    parts = [
        extract_hidden_states(tiny_gpt2, texts[:1]),
        extract_hidden_states(tiny_gpt2, texts[1:]),
    ]
    together = extract_hidden_states(tiny_gpt2, texts)
    assert_same_states(concatenate_states(parts), together)
    reordered = concatenate_states([together.texts_slice(2, 3), together.texts_slice(0, 1)])
    assert_same_states(reordered, extract_hidden_states(tiny_gpt2, (texts[2], texts[0])))
    on_disk = extract_hidden_states(tiny_gpt2, texts, spill_mb=0)
    from_disk = concatenate_states([on_disk.texts_slice(2, 3), parts[0]])
    assert isinstance(from_disk.vectors, np.ndarray)
    assert_same_states(from_disk, extract_hidden_states(tiny_gpt2, (texts[2], texts[0])))
    # above spill_mb the assembly goes to a file, a part and a layer at a time
    to_disk = concatenate_states([on_disk.texts_slice(2, 3), parts[0]], spill_mb=0)
    assert isinstance(to_disk.vectors, LayersOnDisk) and to_disk.vectors.all_finite
    assert_same_states(
        replace(to_disk, vectors=np.asarray(to_disk.vectors)),
        extract_hidden_states(tiny_gpt2, (texts[2], texts[0])),
    )


def test_concatenating_different_models_states_is_refused(tiny_gpt2, tiny_bert):
    parts = [extract_hidden_states(loaded, ["One sentence."]) for loaded in (tiny_gpt2, tiny_bert)]
    with pytest.raises(ValueError, match="part 2 holds"):
        concatenate_states(parts)


def test_the_app_runs_only_the_sentences_no_cached_text_holds(tiny_gpt2, monkeypatch):
    import streamlit as st

    from embexplorer.app import caching

    st.cache_resource.clear()
    monkeypatch.setattr(caching, "cached_model", lambda name: tiny_gpt2)
    ran = []
    run = ModelQueue.run
    monkeypatch.setattr(
        ModelQueue,
        "run",
        lambda self, loaded, texts, **kw: ran.append(texts) or run(self, loaded, texts, **kw),
    )
    first = ("The bank raised rates.", "We sat on the river bank.")
    caching.cached_states("gpt2", first)
    typed = (*first, "A third sentence was typed.", "The bank raised rates.")
    states = caching.cached_states("gpt2", typed)
    assert ran == [first, ("A third sentence was typed.",)]
    assert_same_states(states, extract_hidden_states(tiny_gpt2, typed, dtype=caching.STATES_DTYPE))
    fewer = caching.cached_states("gpt2", typed[1:3])  # a sentence deleted: no model run at all
    assert len(ran) == 2 and fewer.texts == typed[1:3]
    # A corpus assembled from cached sentences and new ones goes to disk, and no sentence is run
    # twice (the first version ran the whole text again once the assembly was too big).
    monkeypatch.setenv("EMBEXPLORER_SPILL_MB", "0")
    corpus = (*typed[:3], "One more new sentence.")
    big = caching.cached_states("gpt2", corpus)
    assert ran[2:] == [("One more new sentence.",)]
    assert isinstance(big.vectors, LayersOnDisk)
    assert_same_states(
        replace(big, vectors=np.asarray(big.vectors)),
        extract_hidden_states(tiny_gpt2, corpus, dtype=caching.STATES_DTYPE),
    )
    st.cache_resource.clear()


class Blocked:
    """A progress callback that holds the model until released (a long run in progress)."""

    def __init__(self):
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self, done, total):
        self.started.set()
        assert self.release.wait(30)


@pytest.mark.parametrize("model", ["tiny_gpt2", "tiny_bert"])
def test_queued_requests_run_together_and_each_gets_its_own_vectors(model, request):
    loaded = request.getfixturevalue(model)
    queue = ModelQueue()
    blocked = Blocked()
    first = threading.Thread(target=queue.run, args=(loaded, session_texts(0), blocked))
    first.start()
    assert blocked.started.wait(30)
    results, told = {}, {}

    def visitor(index):
        told[index] = []
        results[index] = queue.run(loaded, session_texts(index), waiting=told[index].append)

    waiting = [threading.Thread(target=visitor, args=(index,)) for index in (1, 2, 3)]
    for index, thread in enumerate(waiting):
        thread.start()
        deadline = time.monotonic() + 30  # queue them in a known order
        while len(told.get(index + 1, [])) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
    blocked.release.set()
    for thread in [first, *waiting]:
        thread.join(60)
    # The long run, then the three waiting requests in one group.
    assert (queue.groups, queue.requests) == (2, 4)
    assert [told[index][0] for index in (1, 2, 3)] == [1, 2, 3]
    for index in (1, 2, 3):
        assert_same_states(results[index], extract_hidden_states(loaded, session_texts(index)))


def test_an_error_reaches_only_its_own_request(tiny_gpt2):
    queue = ModelQueue()
    with pytest.raises(ValueError, match="empty"):
        queue.run(tiny_gpt2, ["fine", "  "])
    assert queue.run(tiny_gpt2, ["fine"]).texts == ("fine",)


def test_a_cancelled_run_raises_in_its_own_session_only(tiny_gpt2):
    from embexplorer.extract import ExtractionCancelled

    queue = ModelQueue()
    with pytest.raises(ExtractionCancelled):
        queue.run(tiny_gpt2, session_texts(0), progress=lambda done, total: False)
    assert queue.run(tiny_gpt2, session_texts(1)).texts == session_texts(1)


def test_a_large_request_runs_alone(tiny_gpt2):
    queue = ModelQueue(max_group_texts=4)
    blocked = Blocked()
    first = threading.Thread(target=queue.run, args=(tiny_gpt2, ["x"], blocked))
    first.start()
    assert blocked.started.wait(30)
    big = threading.Thread(target=queue.run, args=(tiny_gpt2, ["word"] * 5))
    small = threading.Thread(target=queue.run, args=(tiny_gpt2, ["other"]))
    big.start()
    time.sleep(0.3)
    small.start()
    time.sleep(0.3)
    blocked.release.set()
    for thread in (first, big, small):
        thread.join(60)
    assert (queue.groups, queue.requests) == (3, 3)


def test_concurrent_identical_misses_compute_once_in_streamlit_caches():
    """The app relies on st.cache_resource computing a value once when several sessions miss it
    at the same moment (Streamlit holds a lock per value key)."""
    import streamlit as st

    calls = []

    @st.cache_resource(show_spinner=False)
    def slow(key):
        calls.append(key)
        time.sleep(0.3)
        return key * 2

    threads = [threading.Thread(target=slow, args=(21,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    slow.clear()
    assert calls == [21]
