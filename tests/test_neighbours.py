"""neighbours: search, nearest neighbours against brute force, Jaccard@k overlap, the CLI."""

import doctest
import json

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors
from test_cli import TEXTS, run

from embexplorer import neighbours
from embexplorer.geometry import random_orthogonal
from embexplorer.neighbours import (
    compare_neighbours,
    nearest_neighbours,
    neighbour_overlap,
    neighbour_sets,
    pair_cosine_by_layer,
    search_items,
)


def test_docstring_examples():
    assert doctest.testmod(neighbours).failed == 0


# --- search ---------------------------------------------------------------------------------------


def test_plain_search_is_case_insensitive_and_whole_word():
    labels = ["The", "bank", "raised", "Bank", "banks", "embankment", "river bank.", "."]
    assert search_items(labels, "bank").tolist() == [1, 3, 6]
    assert search_items(labels, "BANK ").tolist() == [1, 3, 6]
    assert search_items(labels, ".").tolist() == [6, 7]
    assert search_items(labels, "a.k").tolist() == []  # plain text: "." is not a wildcard
    assert search_items(labels, "   ").tolist() == []


def test_regex_search():
    labels = ["The", "bank", "raised", "Bank", "banks"]
    assert search_items(labels, r"^ban", regex=True).tolist() == [1, 3, 4]
    assert search_items(labels, r"s$", regex=True).tolist() == [4]


def test_invalid_regex_is_one_clear_line():
    with pytest.raises(ValueError, match=r"invalid regular expression '\(bank'") as caught:
        search_items(["bank"], "(bank", regex=True)
    assert "\n" not in str(caught.value)


# --- nearest neighbours ---------------------------------------------------------------------------


def brute_force(X, k, metric):
    """sklearn's exact search, with the item itself dropped from its own list."""
    model = NearestNeighbors(n_neighbors=k + 1, metric=metric, algorithm="brute").fit(X)
    distances, indices = model.kneighbors(X)
    found, values = [], []
    for row, (d, idx) in enumerate(zip(distances, indices, strict=True)):
        keep = idx != row
        found.append(idx[keep][:k])
        values.append((1 - d if metric == "cosine" else d)[keep][:k])
    return np.array(found), np.array(values)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_matches_sklearn_brute_force(metric):
    X = np.random.default_rng(0).standard_normal((120, 16))
    expected, values = brute_force(X, 7, metric)
    np.testing.assert_array_equal(neighbour_sets(X, 7, metric), expected)
    for item in (0, 57, 119):
        found = nearest_neighbours(X, item, 7, metric)
        np.testing.assert_array_equal(found.indices, expected[item])
        np.testing.assert_allclose(found.values, values[item], atol=1e-12)
        assert found.metric == metric and found.item == item and found.k == 7


def lexsort_reference(X, k, metric):
    """Plain float64 ranking: score descending, then index, the item itself left out."""
    found = []
    for row in range(len(X)):
        if metric == "cosine":
            norms = np.linalg.norm(X, axis=1)
            score = X @ X[row] / np.where(norms > 0, norms, 1) / max(norms[row], 1e-300)
        else:
            score = -np.linalg.norm(X - X[row], axis=1)
        order = [i for i in np.lexsort((np.arange(len(X)), -np.round(score, 12))) if i != row]
        found.append(order[:k])
    return np.array(found)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_crowded_anisotropic_spaces_with_duplicates_match_float64(metric):
    """GPT-2-like: every cosine near 0.98, repeated vectors (shared prefixes): the float32 screen
    lets many candidates through and the float64 ranking decides."""
    rng = np.random.default_rng(9)
    X = 50 + 0.3 * rng.standard_normal((150, 32))
    X[100:120] = X[5]  # twenty copies of item 5
    X[[120, 121]] = X[7] * 2.0  # same direction as item 7
    expected = lexsort_reference(X, 8, metric)
    np.testing.assert_array_equal(neighbour_sets(X, 8, metric), expected)
    # One item's list (screened in float64 from X itself) is the same as every item's.
    for item in (0, 5, 7, 101, 120, 149):
        np.testing.assert_array_equal(
            nearest_neighbours(X, item, 8, metric).indices, expected[item]
        )


def test_blocks_do_not_change_the_result(monkeypatch):
    X = np.random.default_rng(1).standard_normal((97, 5))
    whole = neighbour_sets(X, 4)
    monkeypatch.setattr(neighbours, "BLOCK_VALUES", 3 * 97)  # blocks of 3 rows, last one of 1
    np.testing.assert_array_equal(neighbour_sets(X, 4), whole)


def test_ties_go_to_the_lower_index_and_never_to_the_item_itself():
    # Rows 1, 2 and 4 are the same direction as row 0 (cosine 1), row 3 is orthogonal.
    X = np.array([[1.0, 0.0], [2.0, 0.0], [0.5, 0.0], [0.0, 1.0], [3.0, 0.0]])
    assert nearest_neighbours(X, 0, 2).indices.tolist() == [1, 2]
    assert nearest_neighbours(X, 4, 3).indices.tolist() == [0, 1, 2]
    assert neighbour_sets(X, 2)[:, :2].tolist() == [[1, 2], [0, 2], [0, 1], [0, 1], [0, 1]]
    # Equal within rounding (1e-15 apart) is still a tie.
    Y = np.array([[1.0, 0.0], [1.0, 1e-8], [1.0, 0.0], [1.0, -1e-8]])
    assert nearest_neighbours(Y, 2, 3).indices.tolist() == [0, 1, 3]


def test_zero_vectors_have_cosine_zero_not_nan():
    X = np.array([[1.0, 0.0], [0.0, 0.0], [-1.0, 0.0]])
    found = nearest_neighbours(X, 0, 2)
    assert found.indices.tolist() == [1, 2] and found.values.tolist() == [0.0, -1.0]


def test_negative_item_counts_from_the_end():
    X = np.random.default_rng(2).standard_normal((10, 3))
    assert nearest_neighbours(X, -1, 3).item == 9


@pytest.mark.parametrize(
    ("item", "k", "message"),
    [
        (10, 3, r"item must be an index from 0 to 9; got 10 \(vectors have shape \(10, 3\)\)"),
        (1.5, 3, "item must be an index"),
        (True, 3, "item must be an index"),
        (0, 0, r"k must be an integer from 1 to n_items - 1 = 9; got 0"),
        (0, 10, "k must be an integer from 1 to n_items - 1 = 9; got 10"),
    ],
)
def test_bad_item_or_k(item, k, message):
    X = np.random.default_rng(3).standard_normal((10, 3))
    with pytest.raises(ValueError, match=message):
        nearest_neighbours(X, item, k)


def test_bad_inputs_state_shapes():
    with pytest.raises(ValueError, match=r"X_a has 5 rows while X_b has 4"):
        compare_neighbours(np.ones((5, 3)), np.ones((4, 3)), 0, 2)
    with pytest.raises(ValueError, match="metric must be one of 'cosine', 'euclidean'"):
        neighbour_overlap(np.ones((5, 3)), np.ones((5, 3)), 2, metric="dot")
    with pytest.raises(ValueError, match=r"2-D array .* got shape \(5,\)"):
        neighbour_sets(np.ones(5), 2)


# --- comparing two models -------------------------------------------------------------------------


def reference_jaccard(X_a, X_b, k):
    sets_a, _ = brute_force(X_a, k, "cosine")
    sets_b, _ = brute_force(X_b, k, "cosine")
    return np.array(
        [len(set(a) & set(b)) / len(set(a) | set(b)) for a, b in zip(sets_a, sets_b, strict=True)]
    )


def test_overlap_matches_a_plain_set_computation():
    rng = np.random.default_rng(4)
    X_a = rng.standard_normal((80, 12))
    X_b = X_a[:, :6] @ rng.standard_normal((6, 20)) + 0.5 * rng.standard_normal((80, 20))
    overlap = neighbour_overlap(X_a, X_b, 6)
    np.testing.assert_allclose(overlap, reference_jaccard(X_a, X_b, 6), atol=1e-15)
    assert 0 < overlap.mean() < 1  # related but different spaces
    for item in (0, 33):
        comparison = compare_neighbours(X_a, X_b, item, 6)
        assert comparison.jaccard == pytest.approx(overlap[item], abs=1e-15)
        assert set(comparison.shared) == set(comparison.a.indices) & set(comparison.b.indices)


def test_rotation_and_scale_of_b_change_nothing():
    rng = np.random.default_rng(5)
    X_a = rng.standard_normal((60, 10))
    X_b = rng.standard_normal((60, 10))
    rotated = 7.0 * X_b @ random_orthogonal(10, seed=1)
    np.testing.assert_array_equal(
        neighbour_overlap(X_a, rotated, 5), neighbour_overlap(X_a, X_b, 5)
    )
    same, turned = compare_neighbours(X_a, X_b, 3, 5), compare_neighbours(X_a, rotated, 3, 5)
    np.testing.assert_array_equal(same.b.indices, turned.b.indices)
    np.testing.assert_allclose(same.b.values, turned.b.values, atol=1e-12)


def test_identical_spaces_agree_fully_and_widths_may_differ():
    X = np.random.default_rng(6).standard_normal((40, 8))
    padded = np.hstack([X, np.zeros((40, 3))])
    assert np.all(neighbour_overlap(X, padded, 4) == 1.0)
    assert compare_neighbours(X, padded, 0, 4).jaccard == 1.0


def test_overlap_takes_the_values_s_over_2k_minus_s():
    rng = np.random.default_rng(7)
    overlap = neighbour_overlap(rng.standard_normal((50, 4)), rng.standard_normal((50, 4)), 3)
    allowed = {s / (6 - s) for s in range(4)}
    assert set(np.round(overlap, 12)) <= {round(value, 12) for value in allowed}


# --- pairs through depth --------------------------------------------------------------------------


def test_pair_cosine_by_layer():
    rng = np.random.default_rng(8)
    vectors = rng.standard_normal((4, 6, 5))
    curve = pair_cosine_by_layer(vectors, 1, 4)
    expected = [
        layer[1] @ layer[4] / np.linalg.norm(layer[1]) / np.linalg.norm(layer[4])
        for layer in vectors
    ]
    np.testing.assert_allclose(curve, expected, atol=1e-12)
    centred = pair_cosine_by_layer(vectors, 1, 4, preprocessing="center")
    middle = vectors - vectors.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(centred, pair_cosine_by_layer(middle, 1, 4), atol=1e-12)
    with pytest.raises(ValueError, match=r"\(n_layers, n_items, n_dims\); got shape \(6, 5\)"):
        pair_cosine_by_layer(vectors[0], 0, 1)
    with pytest.raises(ValueError, match="item must be an index from 0 to 5; got 6"):
        pair_cosine_by_layer(vectors, 0, 6)


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_neighbours_equal_a_reference_from_the_exported_vectors(tiny_models_env, tmp_path):
    export = tmp_path / "vectors.npz"
    options = ["--layer-a", "2", "--preprocess", "center", *TEXTS]
    status, out, err = run(
        ["compare", "--json", "--permutations", "0", "--export", str(export), *options]
    )
    assert status == 0, err
    items = json.loads(out)["items"]
    status, out, err = run(["neighbours", "--json", "--item", "1", "--k", "4", *options])
    assert status == 0, err
    result = json.loads(out)
    saved = np.load(export)
    assert saved["items"].tolist() == items
    expected = compare_neighbours(saved["vectors_a"], saved["vectors_b"], 1, 4)
    assert result["item"] == items[1] == "bank"
    assert (result["index"], result["k"], result["metric"]) == (1, 4, "cosine")
    for key, found in (("a", expected.a), ("b", expected.b)):
        assert [entry["index"] for entry in result[key]] == found.indices.tolist()
        assert [entry["item"] for entry in result[key]] == [items[i] for i in found.indices]
        np.testing.assert_allclose(
            [entry["cosine"] for entry in result[key]], found.values, atol=1e-12
        )
    assert result["jaccard"] == pytest.approx(expected.jaccard)


def test_cli_neighbours_readable_report(tiny_models_env):
    status, out, err = run(
        ["neighbours", "--item", "-1", "--k", "2", "--unit", "sentence", *TEXTS, "A third one."]
    )
    assert status == 0, err
    assert "A third one." in out.splitlines()[0] and "Jaccard@2" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--item", "12"],
            "--item 12 is out of range: there are 12 word items (0 to 11, or negative",
        ),
        (["--item", "0", "--k", "12"], "--k 12 is out of range: 12 word items allow 1 to 11"),
        (["--item", "0", "--k", "0"], "--k 0 is out of range"),
        ([], "the following arguments are required: --item"),
        (["--item", "x"], "argument --item: invalid int value: 'x'"),
    ],
)
def test_cli_neighbours_bad_item_or_k_exit_2_with_one_line(tiny_models_env, args, message):
    status, out, err = run(["neighbours", *args, *TEXTS])
    assert status == 2 and out == ""
    assert message in err and err.count("\n") == 1
