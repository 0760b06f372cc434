"""layers, context, invariance, rogue: the measures of the Layers, Geometry and Context pages."""

import dataclasses

import numpy as np
import pytest

from embexplorer import align, extract
from embexplorer.align import Items
from embexplorer.contextuality import (
    context_profile,
    default_word,
    occurrences,
    recurring_words,
    self_similarity,
)
from embexplorer.geometry import (
    cosine_similarity_matrix,
    first_pc_share,
    preprocess,
    similarity_matrix,
)
from embexplorer.invariance import invariance_demo, random_linear_map
from embexplorer.layers import (
    LAYER_METHODS,
    best_match,
    contextual_anisotropy,
    intra_sentence_similarity,
    layer_profile,
    layer_similarity_matrix,
    word_keys,
)
from embexplorer.rogue import keep_items, largest_norms, top_dimensions
from embexplorer.rsa import linear_cka, rsa_score


def make_items(vectors, labels=None, sentence=None, cased=True) -> Items:
    """Word items; by default every item in its own sentence."""
    vectors = np.asarray(vectors, dtype=np.float64)
    n = vectors.shape[1]
    labels = labels or [f"w{i}" for i in range(n)]
    sentence = np.arange(n, dtype=np.int64) if sentence is None else np.asarray(sentence)
    position = np.zeros(n, dtype=np.int64)
    for s in np.unique(sentence):
        position[sentence == s] = np.arange((sentence == s).sum())
    return Items("word", list(labels), sentence, position, vectors, list(labels), cased=cased)


@pytest.fixture
def paired():
    rng = np.random.default_rng(3)
    shared = rng.standard_normal((14, 5))
    a = np.stack(
        [
            shared @ rng.standard_normal((5, 6)) + 0.5 * rng.standard_normal((14, 6))
            for _ in range(4)
        ]
    )
    b = np.stack(
        [shared @ rng.standard_normal((5, 9)) + rng.standard_normal((14, 9)) for _ in range(3)]
    )
    return make_items(a), make_items(b)


# --- layer_similarity_matrix ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["spearman", "pearson"])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("preprocessing", ["none", "standardize"])
def test_layer_matrix_equals_rsa_score_cell_by_cell(paired, method, metric, preprocessing):
    items_a, items_b = paired
    matrix = layer_similarity_matrix(items_a, items_b, metric, preprocessing, method)
    assert matrix.shape == (4, 3)
    for i in range(4):
        for j in range(3):
            expected = rsa_score(
                similarity_matrix(preprocess(items_a.vectors[i], preprocessing), metric),
                similarity_matrix(preprocess(items_b.vectors[j], preprocessing), metric),
                method=method,
                permutations=0,
                bootstraps=0,
            ).value
            assert matrix[i, j] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("preprocessing", ["none", "center", "standardize"])
def test_layer_matrix_cka_equals_linear_cka_cell_by_cell(paired, preprocessing):
    items_a, items_b = paired
    matrix = layer_similarity_matrix(items_a, items_b, preprocessing=preprocessing, method="cka")
    for i in range(4):
        for j in range(3):
            expected = linear_cka(
                preprocess(items_a.vectors[i], preprocessing),
                preprocess(items_b.vectors[j], preprocessing),
            )
            assert matrix[i, j] == pytest.approx(expected, abs=1e-12)


def test_layer_matrix_of_a_model_with_itself_has_unit_diagonal(paired):
    for method in LAYER_METHODS:
        matrix = layer_similarity_matrix(paired[0], paired[0], method=method)
        np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-12)
        np.testing.assert_allclose(matrix, matrix.T, atol=1e-12)


def test_layer_matrix_is_nan_where_a_layer_has_no_spread(paired):
    items_a, items_b = paired
    vectors = items_a.vectors.copy()
    vectors[2] = 1.0  # every item the same vector: every cosine 1, no Gram variance
    flat = make_items(vectors)
    for method in LAYER_METHODS:
        matrix = layer_similarity_matrix(flat, items_b, method=method)
        assert np.isnan(matrix[2]).all() and np.isfinite(np.delete(matrix, 2, axis=0)).all()


def test_layer_matrix_rejects_bad_input(paired):
    items_a, items_b = paired
    with pytest.raises(ValueError, match="'spearman', 'pearson', 'cka'"):
        layer_similarity_matrix(items_a, items_b, method="kendall")
    with pytest.raises(ValueError, match="items differ"):
        layer_similarity_matrix(items_a, make_items(items_b.vectors, labels=list("abcdefghijklmn")))
    with pytest.raises(ValueError, match="too few"):
        layer_similarity_matrix(
            make_items(items_a.vectors[:, :2]), make_items(items_b.vectors[:, :2])
        )


def test_layer_matrix_on_tiny_models(tiny_gpt2, tiny_bert):
    texts = ["The bank raised its rates.", "We sat on the river bank.", "A cat sat on the mat."]
    states = [extract.extract_hidden_states(m, texts) for m in (tiny_gpt2, tiny_bert)]
    items_a, items_b = align.paired_items(*states)
    matrix = layer_similarity_matrix(items_a, items_b)
    assert matrix.shape == (tiny_gpt2.info.n_hidden_states, tiny_bert.info.n_hidden_states)
    assert np.isfinite(matrix).all() and (np.abs(matrix) <= 1).all()


def test_best_match():
    assert best_match([[0.1, 0.9], [np.nan, 0.3]]) == (0, 1)
    with pytest.raises(ValueError):
        best_match([[np.nan]])


# --- layer_profile --------------------------------------------------------------------------------


def test_anisotropy_of_isotropic_gaussian_is_near_zero_and_of_one_direction_is_one():
    rng = np.random.default_rng(0)
    iso = make_items(rng.standard_normal((1, 300, 400)))
    assert abs(layer_profile(iso).anisotropy[0]) < 0.01
    direction = rng.standard_normal(20)
    aligned = make_items(np.outer(rng.uniform(1, 3, 10), direction)[None])
    profile = layer_profile(aligned)
    assert profile.anisotropy[0] == pytest.approx(1.0)
    assert profile.first_pc_share[0] == pytest.approx(1.0)


def test_layer_profile_hand_computed_values():
    # items: (1,0) "a" S1, (0,1) "b" S1, (1,0) "A" S2, (3,4) "c" S2
    vectors = np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [3.0, 4.0]]])
    items = make_items(vectors, labels=["a", "b", "A", "c"], sentence=[0, 0, 1, 1], cased=False)
    profile = layer_profile(items)
    # Ethayarajh's baseline: different words in different sentences: a-c .6, b-A 0, b-c .8
    # (a-b and A-c share a sentence; a-A is the same word in an uncased model)
    assert profile.anisotropy[0] == pytest.approx((0.6 + 0 + 0.8) / 3)
    cased = layer_profile(make_items(vectors, ["a", "b", "A", "c"], [0, 0, 1, 1], cased=True))
    assert cased.anisotropy[0] == pytest.approx((1 + 0.6 + 0 + 0.8) / 4)  # a-A now counts
    assert profile.mean_norm[0] == pytest.approx((1 + 1 + 1 + 5) / 4)
    s1 = np.cos(np.pi / 4)
    mean2 = np.array([2.0, 2.0])
    s2 = (
        np.dot([1, 0], mean2) / np.linalg.norm(mean2)
        + np.dot([0.6, 0.8], mean2) / np.linalg.norm(mean2)
    ) / 2
    assert profile.intra_sentence[0] == pytest.approx((s1 + s2) / 2)
    assert intra_sentence_similarity(vectors[0], [0, 1, 2, 3]) != intra_sentence_similarity(
        vectors[0], [0, 0, 1, 1]
    )


def test_layer_profile_after_centring_shows_the_common_direction_gone():
    rng = np.random.default_rng(1)
    offset = np.zeros(50)
    offset[7] = 100.0  # one rogue dimension shared by every item
    items = make_items((rng.standard_normal((30, 50)) + offset)[None])
    raw, centred = layer_profile(items), layer_profile(items, "center")
    assert raw.anisotropy[0] > 0.99
    assert abs(centred.anisotropy[0]) < 0.05
    assert raw.mean_norm[0] > 10 * centred.mean_norm[0]


def corpus_like_items(seed=7) -> Items:
    """3 layers of 120 items in 12 sentences, words repeating within and across sentences, one
    zero vector and a shared direction (so anisotropy and the PC1 share are far from 0)."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((3, 120, 40)) + np.linspace(0, 3, 3)[:, None, None]
    vectors[1, 17] = 0.0
    words = [f"w{i}" for i in rng.integers(0, 25, 120)]
    return make_items(vectors, words, np.repeat(np.arange(12), 10))


def test_contextual_anisotropy_equals_the_mean_over_every_pair():
    items = corpus_like_items()
    X, sentence, words = items.vectors[1], items.sentence, word_keys(items)
    cosines = cosine_similarity_matrix(X)
    i, j = np.triu_indices(X.shape[0], k=1)
    kept = (sentence[i] != sentence[j]) & (np.array(words)[i] != np.array(words)[j])
    expected = cosines[i[kept], j[kept]].mean()
    assert contextual_anisotropy(X, sentence, words) == pytest.approx(expected, rel=1e-12)
    assert np.isnan(contextual_anisotropy(X[:3], [0, 0, 0], words[:3]))  # no such pair


@pytest.mark.parametrize("preprocessing", ["none", "center", "standardize", "remove_top_pcs"])
def test_layer_profile_equals_each_measure_layer_by_layer(preprocessing):
    items = corpus_like_items()
    profile = layer_profile(items, preprocessing)
    for index, layer in enumerate(items.vectors):
        X = preprocess(layer, preprocessing)
        expected = {
            "anisotropy": contextual_anisotropy(X, items.sentence, word_keys(items)),
            "mean_norm": np.linalg.norm(X, axis=1).mean(),
            "intra_sentence": intra_sentence_similarity(X, items.sentence),
            "first_pc_share": first_pc_share(X),
        }
        for name, value in expected.items():
            assert profile.measure(name)[index] == pytest.approx(value, rel=1e-12, abs=1e-15)


def test_layer_profile_rejects_items_whose_vectors_and_sentences_disagree():
    items = corpus_like_items()
    with pytest.raises(ValueError, match="items.vectors has 119 items"):
        layer_profile(dataclasses.replace(items, vectors=items.vectors[:, 1:]))


def test_layer_profile_of_float16_states_is_the_float64_profile_within_float32_rounding():
    items = corpus_like_items()
    half = dataclasses.replace(items, vectors=items.vectors.astype(np.float16))
    double = dataclasses.replace(items, vectors=half.vectors.astype(np.float64))
    fast, exact = layer_profile(half), layer_profile(double)
    for name in ("anisotropy", "mean_norm", "intra_sentence"):
        np.testing.assert_allclose(fast.measure(name), exact.measure(name), rtol=1e-12)
    np.testing.assert_allclose(fast.first_pc_share, exact.first_pc_share, rtol=1e-5)


# --- context --------------------------------------------------------------------------------------


def test_self_similarity():
    assert self_similarity(np.ones((4, 3))) == pytest.approx(1.0)
    assert self_similarity(np.eye(3)) == pytest.approx(0.0)
    assert self_similarity([[1.0, 0.0], [1.0, 1.0]]) == pytest.approx(np.sqrt(0.5))
    with pytest.raises(ValueError, match="at least 2"):
        self_similarity([[1.0, 2.0]])


def test_self_similarity_counts_only_pairs_from_different_sentences():
    X = [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]
    # pairs across sentences: 0-2 0, 0-3 .6, 1-2 0, 1-3 .6 (0-1 and 2-3 share a sentence)
    assert self_similarity(X, sentence=[0, 0, 1, 1]) == pytest.approx(1.2 / 4)
    with pytest.raises(ValueError, match="different sentences"):
        self_similarity(X, sentence=[3, 3, 3, 3])


def test_recurring_words_and_occurrences_follow_the_tokenizer_case():
    labels = ["The", "bank", ".", "the", "river", "Bank", ".", "cat", "bank"]
    sentence = [0, 0, 0, 1, 1, 1, 1, 2, 2]
    uncased = make_items(np.zeros((1, 9, 2)), labels, sentence, cased=False)
    assert recurring_words(uncased) == ["bank", "the"]
    assert occurrences(uncased, "BANK").tolist() == [1, 5, 8]
    # a cased model (GPT-2) matches by token identity: "Bank" and "The" are other words
    cased = make_items(np.zeros((1, 9, 2)), labels, sentence, cased=True)
    assert recurring_words(cased) == ["bank"]
    assert occurrences(cased, "bank").tolist() == [1, 8]
    assert occurrences(cased, "Bank").tolist() == [5]
    # a word repeated inside one sentence only has one context
    repeated = make_items(np.zeros((1, 3, 2)), ["a", "a", "b"], [0, 0, 1])
    assert recurring_words(repeated) == []
    assert occurrences(uncased, "bank", skip_first=True).tolist() == [1, 5, 8]
    assert occurrences(uncased, "the", skip_first=True).tolist() == []
    assert default_word(["the", "bank"]) == "bank" and default_word(["the"]) == "the"
    assert default_word([]) is None


def test_context_profile_identical_occurrences_and_the_adjustment():
    rng = np.random.default_rng(2)
    vectors = rng.standard_normal((3, 6, 8))
    vectors[:, [1, 4], :] = vectors[:, [1], :]  # "bank" identical at every layer
    items = make_items(
        vectors,
        labels=["a", "bank", "b", "c", "Bank", "d"],
        sentence=[0] * 3 + [1] * 3,
        cased=False,
    )
    profile = context_profile(items, "bank")
    np.testing.assert_allclose(profile.self_similarity, 1.0)
    np.testing.assert_allclose(profile.ci_low, 1.0)
    # Ethayarajh's baseline: different words in different sentences only
    expected_baseline = [
        np.mean(
            [
                cosine_similarity_matrix(v)[i, j]
                for i in range(3)
                for j in range(3, 6)
                if (i, j) != (1, 4)
            ]
        )
        for v in vectors
    ]
    np.testing.assert_allclose(profile.baseline, expected_baseline)
    np.testing.assert_allclose(profile.adjusted, 1.0 - np.array(expected_baseline))
    assert profile.n_contexts == 2 and profile.few_contexts and "at least 5" in profile.warning
    rows = profile.to_dict()["layers"]
    assert [row["layer"] for row in rows] == [0, 1, 2]
    assert rows[1]["adjusted"] == pytest.approx(rows[1]["self_similarity"] - rows[1]["anisotropy"])
    with pytest.raises(ValueError, match="occurs 1 time"):
        context_profile(items, "a")
    one_sentence = make_items(vectors, ["bank", "bank", "x", "y", "z", "w"], [0, 0, 1, 1, 2, 2])
    with pytest.raises(ValueError, match="2 different sentences"):
        context_profile(one_sentence, "bank")


def test_context_profile_uses_only_pairs_across_sentences_and_bootstraps_occurrences():
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((2, 12, 6))
    labels = ["bank", "x", "bank", "y", "bank", "z", "w", "bank", "v", "bank", "bank", "u"]
    sentence = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    items = make_items(vectors, labels, sentence)
    profile = context_profile(items, "bank", bootstraps=500, seed=1)
    X = vectors[1][[0, 2, 4, 7, 9, 10]]
    S = cosine_similarity_matrix(X)
    across = [S[i, j] for i in range(6) for j in range(i + 1, 6) if (i, j) != (0, 1)]
    assert profile.self_similarity[1] == pytest.approx(np.mean(across))
    assert profile.n_contexts == 5 and not profile.few_contexts and profile.warning == ""
    assert np.all(profile.ci_low <= profile.self_similarity + 1e-12)
    assert np.all(profile.self_similarity <= profile.ci_high + 1e-12)
    again = context_profile(items, "bank", bootstraps=500, seed=1)
    np.testing.assert_array_equal(profile.ci_low, again.ci_low)
    # position 0 left out: the "bank"s that open sentences 0, 1 and 4 go
    skipped = context_profile(items, "bank", skip_first=True, bootstraps=0)
    assert skipped.indices.tolist() == [2, 7, 9] and skipped.n_contexts == 3
    assert np.isnan(skipped.ci_low).all()


# --- invariance -----------------------------------------------------------------------------------


def test_rotation_leaves_cosines_and_rsa_unchanged_while_a_linear_map_changes_them():
    rng = np.random.default_rng(4)
    X_a, X_b = rng.standard_normal((25, 16)), rng.standard_normal((25, 11))
    X_b[:, :5] += X_a[:, :5]
    for method in ("spearman", "pearson"):
        demo = invariance_demo(X_a, X_b, seed=3, method=method)
        assert demo.rotation.max_cosine_change < 1e-12
        assert demo.rotation.max_coordinate_change > 0.1  # the coordinates do move
        assert abs(demo.rotation.rsa_with_b - demo.rsa_with_b) < 1e-10
        assert demo.rotation.rsa_with_original == pytest.approx(1.0, abs=1e-10)
        assert demo.linear.max_cosine_change > 0.05
        assert abs(demo.linear.rsa_with_b - demo.rsa_with_b) > 1e-3
    assert linear_cka(X_a @ demo.rotation.matrix, X_b) == pytest.approx(linear_cka(X_a, X_b))


def test_random_linear_map_is_seeded_and_has_the_condition_number():
    M = random_linear_map(12, seed=5, condition=100.0)
    assert np.linalg.cond(M) == pytest.approx(100.0)
    assert np.array_equal(M, random_linear_map(12, seed=5))
    assert not np.allclose(M.T @ M, np.eye(12))


# --- rogue ----------------------------------------------------------------------------------------


def test_top_dimensions_find_a_planted_rogue_dimension_and_sum_to_the_cosines():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((40, 30))
    X[:, 17] += 20.0
    result = top_dimensions(X, k=30)
    assert result.dims[0] == 17 and result.share[0] > 0.9
    S = cosine_similarity_matrix(X)
    assert result.cosine_sum == pytest.approx(S[np.triu_indices(40, k=1)].sum())
    assert result.contribution.sum() == pytest.approx(result.cosine_sum)


def test_largest_norms_and_first_position():
    X = np.array([[30.0, 40.0], [1.0, 0.0], [0.0, 2.0], [0.0, 1.0]])
    outliers = largest_norms(X, k=2)
    assert outliers.indices.tolist() == [0, 2]
    assert outliers.ratio_to_median.tolist() == pytest.approx([50 / 1.5, 2 / 1.5])
    items = make_items(X[None], sentence=[0, 0, 1, 1])
    assert keep_items(items, True).tolist() == [1, 3]
    assert keep_items(items, False).tolist() == [0, 1, 2, 3]


def test_intra_sentence_similarity_equals_the_per_sentence_loop():
    """The O(n d) group-sum version against the definition, zero vectors and lone items included."""
    from embexplorer.geometry import cosine_similarity_matrix

    rng = np.random.default_rng(5)
    X = rng.standard_normal((60, 9))
    X[7] = 0.0
    sentence = rng.integers(0, 9, 60)
    sentence[-1] = 99  # a sentence with one item is left out
    per_sentence = []
    for index in np.unique(sentence):
        members = X[sentence == index]
        if members.shape[0] >= 2:
            cosines = cosine_similarity_matrix(np.vstack([members.mean(axis=0), members]))[0, 1:]
            per_sentence.append(cosines.mean())
    assert intra_sentence_similarity(X, sentence) == pytest.approx(np.mean(per_sentence), rel=1e-12)


def test_bootstrap_self_similarity_equals_averaging_every_resampled_pair():
    """The multiplicity form (c^T S' c / 2) is the mean over the resample's pairs of positions
    from different sentences, resample by resample."""
    from embexplorer.contextuality import _bootstrap_self_similarity

    rng = np.random.default_rng(4)
    X = rng.standard_normal((9, 5))
    sentence = np.array([0, 0, 1, 2, 2, 2, 3, 4, 4])
    similarity = cosine_similarity_matrix(X)
    fast = _bootstrap_self_similarity(similarity, sentence, 300, np.random.default_rng(7))
    samples = np.random.default_rng(7).integers(0, 9, size=(300, 9))
    expected = []
    for sample in samples:
        pairs = [(i, j) for p, i in enumerate(sample) for j in sample[p + 1 :]]
        values = [similarity[i, j] for i, j in pairs if sentence[i] != sentence[j]]
        expected.append(np.mean(values) if values else np.nan)
    np.testing.assert_allclose(fast, expected, rtol=1e-12, atol=1e-15)
    assert np.isnan(fast).any() == np.isnan(expected).any()


def test_same_vector_pairs_equal_comparing_every_pair_at_every_layer():
    from embexplorer.app.context_text import SAME_VECTOR_RTOL, _same_vector_pairs

    rng = np.random.default_rng(4)
    vectors = rng.standard_normal((5, 60, 16)) * 30
    vectors[:, [7, 21, 40], :] = vectors[:, [3], :]  # one vector at every layer
    vectors[:, 50, :] = vectors[:, 9, :] * (1 + 3e-6)  # equal within the tolerance
    vectors[:, 51, :] = vectors[:, 10, :]
    vectors[-1, 51, 0] += 1.0  # equal at every layer but the last
    vectors[:, 12, :] = 0.0
    vectors[:, 13, :] = 0.0  # two zero vectors
    items = make_items(vectors)
    indices = np.array([*range(0, 60, 1)][::-1][::2] + [3, 7, 21, 40, 9, 50, 10, 51, 12, 13][::-1])
    indices = np.unique(indices)  # occurrences in text order, as context_profile gives them
    expected = [
        (int(indices[a]), int(indices[b]))
        for a in range(indices.size)
        for b in range(a + 1, indices.size)
        if np.all(
            np.linalg.norm(vectors[:, indices[a]] - vectors[:, indices[b]], axis=-1)
            <= SAME_VECTOR_RTOL * (np.linalg.norm(vectors[:, indices[a]], axis=-1) + 1e-12)
        )
    ]
    assert {(3, 7), (3, 21), (21, 40), (9, 50), (12, 13)} <= set(expected)
    assert (10, 51) not in expected
    assert _same_vector_pairs(items, indices) == expected
