"""The cache key of a Selection: what every cached computation is looked up by."""

import dataclasses
import hashlib

import pytest
from streamlit.runtime.caching.cache_type import CacheType
from streamlit.runtime.caching.hashing import update_hash

from embexplorer.app.caching import cache_resource
from embexplorer.app.selection import Selection

BASE = Selection(("gpt2", "bert"), ("The bank.", "A river bank."), (3, 4))
CHANGED = {
    "names": ("gpt2", "other"),
    "texts": ("The bank.", "A river bank!"),
    "layers": (3, 5),
    "unit": "token",
    "pooling": "first",
    "preprocessing": "center",
    "special": True,
}


def test_every_field_changes_the_key_and_equal_selections_share_it():
    assert set(CHANGED) == {field.name for field in dataclasses.fields(Selection)}
    assert BASE.cache_key() == dataclasses.replace(BASE, texts=tuple(BASE.texts)).cache_key()
    for name, value in CHANGED.items():
        assert dataclasses.replace(BASE, **{name: value}).cache_key() != BASE.cache_key(), name


@pytest.mark.parametrize(
    "texts",
    [("a", "b"), ("a, b",), ("a', 'b",), ("ab",), ("a\nb",)],
)
def test_texts_that_join_alike_get_different_keys(texts):
    # The digest is of the tuple's repr, so no separator inside a sentence can fake a split.
    keys = {dataclasses.replace(BASE, texts=t).cache_key() for t in [("a", "b"), texts]}
    assert len(keys) == (1 if texts == ("a", "b") else 2)


def test_the_app_caches_hash_a_selection_by_its_key():
    calls = []

    @cache_resource(show_spinner=False)
    def compute(selection: Selection) -> int:
        calls.append(selection)
        return len(calls)

    compute.clear()
    first = compute(BASE)
    assert compute(dataclasses.replace(BASE)) == first  # an equal selection: a hit
    assert compute(dataclasses.replace(BASE, layers=(0, 0))) != first
    assert len(calls) == 2

    def hashed(value, funcs):
        hasher = hashlib.new("md5")
        update_hash(value, hasher, CacheType.RESOURCE, hash_funcs=funcs)
        return hasher.hexdigest()

    funcs = {Selection: Selection.cache_key}
    assert hashed(BASE, funcs) == hashed(dataclasses.replace(BASE), funcs)
    assert hashed(BASE, funcs) != hashed(dataclasses.replace(BASE, texts=("x",)), funcs)


def test_results_that_grow_as_n_squared_share_one_byte_budget(monkeypatch):
    import numpy as np
    import streamlit as st

    from embexplorer.app import caching

    st.cache_resource.clear()
    monkeypatch.setattr(caching, "RESULTS_CACHE_MB", 3)  # three 1 MB results
    calls = []

    class Result:
        def __init__(self, layers, metric):
            self.matrix = np.zeros(2**17)  # 1 MB
            self.label = f"{layers} {metric}"

    @caching.budgeted_resource("Computing…")
    def compute(selection: Selection, metric: str, method: str = "spearman") -> Result:
        calls.append((selection.layers, metric, method))
        return Result(selection.layers, metric)

    first = compute(BASE, "cosine")
    assert compute(dataclasses.replace(BASE), metric="cosine") is first  # the same call: a hit
    assert compute(BASE, "cosine", "spearman") is first  # defaults are part of the key
    assert compute(BASE, "cosine", "pearson") is not first
    for layer in range(4):
        compute(dataclasses.replace(BASE, layers=(layer, 0)), "cosine")
    results = caching.shared_caches().results
    assert results.n_bytes <= 3 * 2**20 and len(results) == 3  # the oldest went first
    before = len(calls)
    compute(dataclasses.replace(BASE, layers=(3, 0)), "cosine")  # the newest is kept
    assert len(calls) == before
    compute(BASE, "cosine")  # the first was dropped: computed again
    assert len(calls) == before + 1
    st.cache_resource.clear()
