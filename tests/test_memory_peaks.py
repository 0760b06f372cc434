"""Memory peaks of the computations a corpus makes large (issue 11: peak RSS over the pages).

numpy reports its array buffers to ``tracemalloc``, so the peak of a call is measured exactly,
independent of the allocator and of other processes. Each test fails when a whole extra copy of
the data is held at the peak, as it was before.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import traced_peak

from embexplorer import geometry, neighbours
from embexplorer.align import Items
from embexplorer.layers import layer_similarity_matrix


def peak_bytes(compute) -> int:
    """The most memory ``compute()`` held above what was allocated before it started."""
    return traced_peak(compute)[1]


def make_items(vectors: np.ndarray) -> Items:
    n = vectors.shape[1]
    labels = [f"w{i}" for i in range(n)]
    return Items("word", labels, np.arange(n) // 10, np.arange(n) % 10, vectors, labels)


def test_neighbour_search_holds_no_float64_copy_of_the_space():
    """The float32 screen of the cosine search is filled in chunks: no float64 temporary of the
    whole space (135 MB for a corpus's words) beside the float32 copy."""
    X = np.random.default_rng(0).standard_normal((20_000, 128))
    peak = peak_bytes(lambda: neighbours.nearest_neighbours(X, 3, k=5))
    assert peak < 0.75 * X.nbytes, (peak, X.nbytes)  # the float32 copy is 0.5; 1.5 before
    # the same float32 values as the whole-array product
    scorer = neighbours._Scorer(X, "cosine")
    whole = (X * scorer.inverse_norms[:, None]).astype(np.float32)
    assert np.array_equal(scorer.screen_X, whole)


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_layer_matrix_holds_each_models_pair_values_once(method):
    """Every layer's pair values are written into one array and standardised in place: model A's
    finished rows, and model B's rows once (not as a list, a stacked copy and a standardised
    copy)."""
    rng = np.random.default_rng(1)
    n_layers, n_items = 4, 800
    items_a, items_b = (make_items(rng.standard_normal((n_layers, n_items, 16))) for _ in range(2))
    one_model = n_layers * n_items * (n_items - 1) // 2 * 8
    peak = peak_bytes(lambda: layer_similarity_matrix(items_a, items_b, method=method))
    assert peak < 4.2 * one_model, peak / one_model  # 5 before


@pytest.fixture
def corpus_layers(monkeypatch):
    """The app's item lookup answering with two large synthetic layers (no model run)."""
    from embexplorer.app import caching
    from embexplorer.app.selection import Selection

    rng = np.random.default_rng(2)
    items = tuple(make_items(rng.standard_normal((2, 20_000, 64)).astype(np.float16)) for _ in "ab")
    monkeypatch.setattr(caching, "items_of", lambda selection: items)
    selection = Selection(names=("a", "b"), texts=(f"memory test {id(items)}",), layers=(1, 1))
    one_layer = 20_000 * 64 * 8  # one model's layer in float64
    return caching, selection, one_layer


def test_app_spectra_hold_one_models_layer_at_a_time(corpus_layers):
    caching, selection, one_layer = corpus_layers
    peak = peak_bytes(lambda: caching.cached_spectra(selection))
    assert peak < 2.5 * one_layer, peak / one_layer  # the layer and its centred copy; 3 before
    reference = [geometry.pca(x, with_coords=False) for x in caching.paired_vectors(selection)]
    for found, expected in zip(caching.cached_spectra(selection), reference, strict=True):
        assert np.array_equal(found.eigenvalues, expected.eigenvalues)


def test_app_neighbours_hold_one_models_layer_at_a_time(corpus_layers):
    caching, selection, one_layer = corpus_layers
    peak = peak_bytes(lambda: caching.cached_neighbours(selection, 7, 10))
    assert peak < 1.9 * one_layer, peak / one_layer  # the layer and its float32 screen; 3.5 before
    found = caching.cached_neighbours(selection, 7, 10)
    expected = neighbours.compare_neighbours(*caching.paired_vectors(selection), 7, 10)
    assert found.jaccard == expected.jaccard
    for side in ("a", "b"):
        assert np.array_equal(getattr(found, side).indices, getattr(expected, side).indices)
        assert np.array_equal(getattr(found, side).values, getattr(expected, side).values)


def test_preprocessing_nothing_converts_float16_once():
    """``preprocess(layer, "none")`` of float16 states is their float64 conversion: no second
    float64 copy at the peak; a float64 input is still copied, never returned itself."""
    layer = np.random.default_rng(3).standard_normal((20_000, 64)).astype(np.float16)
    as_float64 = layer.size * 8
    peak = peak_bytes(lambda: geometry.preprocess(layer, "none"))
    assert peak < 1.5 * as_float64, peak / as_float64  # 2 before
    assert np.array_equal(geometry.preprocess(layer, "none"), layer.astype(np.float64))
    exact = layer.astype(np.float64)
    copied = geometry.preprocess(exact, "none")
    assert copied is not exact and not np.may_share_memory(copied, exact)
    assert np.array_equal(copied, exact)


def test_a_spectrum_of_the_callers_copy_is_centred_in_place():
    """``overwrite_X``: the Geometry page's spectra centre their own float64 copy of a layer in
    place, one n x d array fewer at the peak; views and other dtypes are left alone."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((6_000, 64)) * np.linspace(1, 9, 64) + 5.0
    expected = geometry.pca(X, with_coords=False)
    mine = X.copy()
    peak_copy = peak_bytes(lambda: geometry.pca(X.copy(), with_coords=False))
    peak_in_place = peak_bytes(lambda: geometry.pca(X.copy(), with_coords=False, overwrite_X=True))
    assert peak_in_place < peak_copy - 0.9 * X.nbytes, (peak_in_place, peak_copy, X.nbytes)
    result = geometry.pca(mine, with_coords=False, overwrite_X=True)
    np.testing.assert_array_equal(result.eigenvalues, expected.eigenvalues)
    np.testing.assert_array_equal(result.components, expected.components)
    np.testing.assert_allclose(mine.mean(axis=0), 0.0, atol=1e-9)  # the caller's copy, centred
    for untouchable in (X[::2], X.astype(np.float32)):
        before = untouchable.copy()
        geometry.pca(untouchable, with_coords=False, overwrite_X=True)
        np.testing.assert_array_equal(untouchable, before)
