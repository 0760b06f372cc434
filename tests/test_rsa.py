"""rsa: upper-triangle RSA against scipy and rsatoolbox, Mantel p, bootstrap CI, linear CKA."""

import json
import math
import warnings

import numpy as np
import pytest
from scipy import stats

from embexplorer.geometry import random_orthogonal, similarity_matrix
from embexplorer.rsa import (
    MIN_ITEMS_FOR_CI,
    RSA_METHODS,
    VALUE_RTOL,
    _bootstrap_estimates,
    average_ranks,
    bootstrap_ci,
    is_constant,
    item_permutations,
    linear_cka,
    linear_cka_both,
    mantel_loop_reference,
    mantel_p_value,
    rsa_score,
    snap_ties,
    spread_reason,
    upper_triangle,
    word_ids,
    word_permutations,
)


def related_spaces(n=30, d=16, noise=1.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    Y = X @ rng.standard_normal((d, d)) + noise * rng.standard_normal((n, d))
    return X, Y


@pytest.fixture
def matrices():
    X, Y = related_spaces()
    return similarity_matrix(X), similarity_matrix(Y)


# --- upper triangle -------------------------------------------------------------------------------


def test_upper_triangle_is_row_major_without_diagonal():
    M = np.array([[9, 1, 2, 3], [1, 9, 4, 5], [2, 4, 9, 6], [3, 5, 6, 9]], dtype=float)
    np.testing.assert_array_equal(upper_triangle(M), [1, 2, 3, 4, 5, 6])


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.ones((3, 4)), r"square .* got shape \(3, 4\)"),
        (np.ones(3), r"got shape \(3,\)"),
        (np.array([[0.0, 1.0], [2.0, 0.0]]), "not symmetric"),
        (np.array([[0.0, np.nan], [np.nan, 0.0]]), "NaN"),
    ],
)
def test_upper_triangle_refuses_bad_matrices(bad, message):
    with pytest.raises(ValueError, match=message):
        upper_triangle(bad)


# --- correlations against references --------------------------------------------------------------


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_correlations_match_scipy_and_rsatoolbox(metric):
    rdm = pytest.importorskip("rsatoolbox.rdm")
    X, Y = related_spaces(n=25)
    A, B = similarity_matrix(X, metric), similarity_matrix(Y, metric)
    a, b = upper_triangle(A), upper_triangle(B)
    result = rsa_score(A, B, permutations=0, bootstraps=0)
    assert result.pearson == pytest.approx(stats.pearsonr(a, b)[0], abs=1e-12)
    assert result.spearman == pytest.approx(stats.spearmanr(a, b)[0], abs=1e-12)
    rdm_a, rdm_b = rdm.RDMs(a[None]), rdm.RDMs(b[None])
    assert result.pearson == pytest.approx(
        rdm.compare(rdm_a, rdm_b, method="corr")[0, 0], abs=1e-10
    )
    assert result.spearman == pytest.approx(
        rdm.compare(rdm_a, rdm_b, method="spearman")[0, 0], abs=1e-10
    )
    assert (result.n_items, result.n_pairs) == (25, 300)


def test_spearman_handles_ties_like_scipy():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 4, size=45).astype(float)  # 10 items, heavy ties
    b = a + rng.integers(0, 3, size=45)
    A, B = (np.zeros((10, 10)) for _ in range(2))
    rows, cols = np.triu_indices(10, k=1)
    for M, values in ((A, a), (B, b)):
        M[rows, cols] = M[cols, rows] = values
    result = rsa_score(A, B, permutations=0, bootstraps=0)
    assert result.spearman == pytest.approx(stats.spearmanr(a, b)[0], abs=1e-12)


@pytest.mark.parametrize("method", RSA_METHODS)
def test_rsa_invariant_under_rotation_and_scaling_of_one_space(method):
    X, Y = related_spaces()
    rotated = 2.5 * Y @ random_orthogonal(Y.shape[1], seed=5)
    assert not np.allclose(rotated, Y)
    before = rsa_score(similarity_matrix(X), similarity_matrix(Y), method, 200, 50)
    after = rsa_score(similarity_matrix(X), similarity_matrix(rotated), method, 200, 50)
    assert after.pearson == pytest.approx(before.pearson, abs=1e-10)
    assert after.spearman == pytest.approx(before.spearman, abs=1e-10)
    assert after.p_value == before.p_value


def test_a_non_orthogonal_map_changes_rsa():
    X, _ = related_spaces()
    stretched = X @ np.diag(np.geomspace(0.01, 10.0, X.shape[1]))
    result = rsa_score(
        similarity_matrix(X), similarity_matrix(stretched), permutations=0, bootstraps=0
    )
    assert result.spearman < 0.99


# --- permutation test -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", RSA_METHODS)
def test_vectorised_mantel_equals_the_loop_exactly(matrices, method):
    A, B = matrices
    for seed in (0, 1):
        fast = mantel_p_value(A, B, method, permutations=300, seed=seed)
        slow = mantel_loop_reference(A, B, permutations=300, seed=seed, method=method)
        assert fast == slow


@pytest.mark.parametrize("method", RSA_METHODS)
def test_mantel_equals_the_loop_when_the_identity_permutation_occurs(method):
    # 4 items have 24 orders, so 500 draws include the identity (r_perm == r_obs) many times.
    X, Y = related_spaces(n=4, d=3, seed=8)
    A, B = similarity_matrix(X), similarity_matrix(Y)
    fast = mantel_p_value(A, B, method, permutations=500, seed=0)
    assert fast == mantel_loop_reference(A, B, 500, 0, method)
    identities = sum(np.array_equal(order, np.arange(4)) for order in item_permutations(4, 500, 0))
    assert identities > 0
    assert fast >= (1 + identities) / 501


def test_p_small_for_related_and_not_small_for_independent_matrices():
    X, Y = related_spaces(n=40, noise=0.5)
    related = rsa_score(similarity_matrix(X), similarity_matrix(Y), permutations=999, bootstraps=0)
    assert related.p_value == pytest.approx(1 / 1000)
    rng = np.random.default_rng(9)
    p_values = [
        rsa_score(
            similarity_matrix(rng.standard_normal((20, 5))),
            similarity_matrix(rng.standard_normal((20, 5))),
            permutations=199,
            bootstraps=0,
            seed=seed,
        ).p_value
        for seed in range(5)
    ]
    assert np.median(p_values) > 0.05
    assert all(0 < p <= 1 for p in p_values)


def test_same_seed_same_result_and_zero_permutations_give_nan(matrices):
    A, B = matrices
    first = rsa_score(A, B, permutations=100, bootstraps=100, seed=3)
    assert first == rsa_score(A, B, permutations=100, bootstraps=100, seed=3)
    skipped = rsa_score(A, B, permutations=0, bootstraps=0)
    assert math.isnan(skipped.p_value) and math.isnan(skipped.ci_low) and skipped.defined
    assert skipped.spearman == first.spearman


# --- bootstrap ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", RSA_METHODS)
def test_bootstrap_ci_contains_the_estimate_for_a_clear_case(method):
    X, Y = related_spaces(n=40, noise=0.5)
    result = rsa_score(similarity_matrix(X), similarity_matrix(Y), method, 0, 500, ci_level=0.9)
    assert result.ci_low < result.value < result.ci_high
    assert result.ci_high - result.ci_low < 0.5
    assert result.ci_level == 0.9


def test_bootstrap_ranks_equal_scipy_spearman_on_a_resample(matrices):
    # One resample by hand: drop same-item pairs, rank with scipy; the O(n) ranking must agree.
    A, B = matrices
    n = len(A)
    low, high = bootstrap_ci(A, B, "spearman", bootstraps=1, ci_level=0.5, seed=4)
    sample = np.random.default_rng([4, 1]).integers(0, n, size=n)
    rows, cols = np.triu_indices(n, k=1)
    first, second = sample[rows], sample[cols]
    keep = first != second
    expected = stats.spearmanr(A[first[keep], second[keep]], B[first[keep], second[keep]])[0]
    assert low == pytest.approx(expected, abs=1e-12)
    assert high == pytest.approx(expected, abs=1e-12)


def test_permuted_score_equals_the_sum_over_the_permuted_matrix():
    # The compiled Mantel loop against its definition: sum(W * B[order][:, order]) over i < j.
    from embexplorer._rsa_kernels import permuted_score

    rng = np.random.default_rng(2)
    n = 37
    W = rng.standard_normal((n, n))
    B = rng.standard_normal((n, n))
    B += B.T
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    for order in [np.arange(n), *item_permutations(n, 5, seed=1)]:
        expected = float(np.sum(W[upper] * B[np.ix_(order, order)][upper]))
        assert permuted_score(W, B, order) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("decimals", [None, 1])
def test_spearman_resample_unchanged_when_every_count_is_multiplied(decimals):
    # Multiplying every item's multiplicity by k multiplies every pair's count by k**2: average
    # ranks become k**2 * rank - (k**2 - 1) / 2, an affine map, so Spearman's r is unchanged.
    # k = 40,000 makes the total count pass 2**31, where the 64-bit counting takes over.
    from embexplorer.rsa import _Ranking, _WeightedPairs

    X, Y = related_spaces(n=20, seed=3)
    A, B = similarity_matrix(X), similarity_matrix(Y)
    if decimals is not None:
        A, B = np.round(A, decimals), np.round(B, decimals)
    rows, cols = np.triu_indices(20, k=1)
    a, b = A[rows, cols], B[rows, cols]
    pairs = _WeightedPairs(a, b, rows, cols, None, "spearman", (_Ranking.of(a), _Ranking.of(b)))
    rng = np.random.default_rng(0)
    for _ in range(5):
        multiplicities = np.bincount(rng.integers(0, 20, 20), minlength=20)
        small = pairs.correlation(multiplicities)
        assert pairs.counted.dtype == np.int32
        large = pairs.correlation(40_000 * multiplicities)
        assert pairs.counted.dtype == np.int64
        assert large == pytest.approx(small, abs=1e-12)
        sample = np.repeat(np.arange(20), multiplicities)
        first, second = (sample[index] for index in np.triu_indices(sample.size, k=1))
        kept = first != second
        expected = stats.spearmanr(A[first[kept], second[kept]], B[first[kept], second[kept]])[0]
        assert small == pytest.approx(expected, abs=1e-12)


# --- degenerate inputs ----------------------------------------------------------------------------


def test_constant_matrix_gives_an_explained_undefined_result(matrices):
    A, _ = matrices
    flat = np.ones_like(A)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = rsa_score(A, flat)
    assert not result.defined
    assert "model B are all equal" in result.reason
    for value in (result.pearson, result.spearman, result.p_value, result.ci_low, result.ci_high):
        assert math.isnan(value)
    assert "both models" in rsa_score(flat, flat).reason
    data = result.to_dict()
    assert data["spearman"] is None and data["defined"] is False
    json.dumps(data, allow_nan=False)


def test_to_dict_of_a_defined_result_is_json_safe(matrices):
    data = rsa_score(*matrices, permutations=50, bootstraps=0).to_dict()
    assert data["ci_low"] is None and data["defined"] is True
    assert json.loads(json.dumps(data, allow_nan=False))["method"] == "spearman"


def test_refuses_mismatched_shapes_too_few_items_and_unknown_methods(matrices):
    A, B = matrices
    with pytest.raises(ValueError, match=r"A has shape \(30, 30\) while B has shape \(29, 29\)"):
        rsa_score(A, B[:29, :29])
    with pytest.raises(ValueError, match="at least 3 items"):
        rsa_score(A[:2, :2], B[:2, :2])
    with pytest.raises(ValueError, match="'pearson', 'spearman'"):
        rsa_score(A, B, method="kendall")
    with pytest.raises(ValueError, match="ci_level"):
        rsa_score(A, B, ci_level=95)
    with pytest.raises(ValueError, match="non-negative integer"):
        rsa_score(A, B, permutations=-1)


# --- CKA ------------------------------------------------------------------------------------------


def test_cka_published_values():
    # The reference's draws: np.random.seed(1337); randn(100, 10) twice (legacy generator).
    legacy = np.random.RandomState(1337)
    X = legacy.randn(100, 10)
    Y = legacy.randn(100, 10) + X
    assert linear_cka(X, Y) == pytest.approx(0.55761, abs=1e-4)
    assert linear_cka(X, Y, debiased=True) == pytest.approx(0.51346, abs=1e-4)


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_gram_path_equals_feature_path(debiased):
    X, Y = related_spaces(n=30, d=16)
    wide_x = np.hstack([X, np.zeros((30, 40))])  # 56 columns > 30 items: the Gram path
    assert linear_cka(wide_x, Y, debiased) == pytest.approx(linear_cka(X, Y, debiased), abs=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_invariant_under_rotation_and_scaling(debiased):
    X, Y = related_spaces()
    rotated = 0.2 * Y @ random_orthogonal(Y.shape[1], seed=6) + 4.0
    assert linear_cka(X, rotated, debiased) == pytest.approx(linear_cka(X, Y, debiased), abs=1e-10)
    assert linear_cka(X, X, debiased) == pytest.approx(1.0)


def _hsic_cka(X, Y):
    """CKA from its definition: HSIC of the centred Gram matrices K = HXX'H, L = HYY'H."""
    n = X.shape[0]
    centring = np.eye(n) - np.ones((n, n)) / n
    K, L = centring @ X @ X.T @ centring, centring @ Y @ Y.T @ centring
    return np.sum(K * L) / np.sqrt(np.sum(K * K) * np.sum(L * L))


@pytest.mark.parametrize("width", [16, 56])  # fewer columns than items, then more (Gram path)
def test_cka_both_equal_the_definition_and_the_separate_calls(width):
    X, Y = related_spaces(n=30, d=16)
    X = np.hstack([X, np.random.default_rng(2).standard_normal((30, width - 16))])
    plain, debiased = linear_cka_both(X, Y)
    assert plain == pytest.approx(_hsic_cka(X, Y), abs=1e-12)
    assert (plain, debiased) == (linear_cka(X, Y), linear_cka(X, Y, debiased=True))
    assert debiased < plain  # the bias it removes is upward


def test_cka_both_below_four_items_has_no_debiased_value():
    X, Y = related_spaces(n=3, d=4)
    plain, debiased = linear_cka_both(X, Y)
    assert plain == pytest.approx(_hsic_cka(X, Y), abs=1e-12) and math.isnan(debiased)
    assert all(math.isnan(value) for value in linear_cka_both(X, np.ones_like(Y)))


def test_cka_degenerate_inputs():
    X, Y = related_spaces(n=10, d=4)
    assert math.isnan(linear_cka(X, np.ones_like(Y)))
    assert math.isnan(linear_cka(X[:3], Y[:3], debiased=True))
    assert np.isfinite(linear_cka(X[:3], Y[:3]))
    with pytest.raises(ValueError, match="X has 10 rows while Y has 9"):
        linear_cka(X, Y[:9])


# --- issue 10: numerical tolerance, same-word pairs, calibration ----------------------------------


def noise_only_similarities(n=5, seed=0):
    """Cosines of one vector plus float32-batching-sized noise: equal up to ~1e-15."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(64)
    return similarity_matrix(base + 1e-7 * rng.standard_normal((n, 64)))


def test_noise_only_similarities_are_not_a_perfect_score():
    noisy_a, noisy_b = noise_only_similarities(seed=1), noise_only_similarities(seed=2)
    assert np.ptp(upper_triangle(noisy_a)) > 0  # the values do differ, by noise
    result = rsa_score(noisy_a, noisy_b)
    assert not result.defined and math.isnan(result.spearman)
    assert "both models" in result.reason and "noise" in result.reason
    rng = np.random.default_rng(3)
    real = similarity_matrix(rng.standard_normal((5, 8)))
    assert "model A are all equal" in rsa_score(noisy_a, real).reason
    assert "model B are all equal" in rsa_score(real, noisy_b).reason


@pytest.mark.parametrize("rtol", [0.0, VALUE_RTOL])
def test_average_ranks_equal_rankdata_of_snapped_values(rtol):
    """One sort instead of snap_ties + rankdata: the same ranks, exact ties and near-ties
    (within and just beyond the tolerance) included."""
    rng = np.random.default_rng(8)
    values = np.round(rng.uniform(-1, 1, 5000), 3)  # many exact ties
    values[:50] += 1e-14 * rng.standard_normal(50)  # noise-level near-ties
    values[50:60] = values[60:70] + 1e-6  # far beyond the tolerance
    expected = stats.rankdata(snap_ties(values, rtol)) if rtol else stats.rankdata(values)
    np.testing.assert_array_equal(average_ranks(values, rtol), expected)
    assert average_ranks([]).size == 0 and average_ranks([2.5]).tolist() == [1.0]


def test_ties_within_tolerance_are_ranked_as_ties():
    values = np.array([0.1, 0.1 + 1e-13, 0.3, 0.2, 0.2 - 1e-14, 0.5])
    np.testing.assert_array_equal(snap_ties(values), [0.1, 0.1, 0.3, 0.2 - 1e-14, 0.2 - 1e-14, 0.5])
    assert is_constant([1.0, 1.0 + 4e-15, 1.0 - 3e-15]) and not is_constant([1.0, 1.0 + 1e-6])
    rng = np.random.default_rng(4)
    A = similarity_matrix(rng.standard_normal((8, 5)))
    A_noisy = A + np.triu(1e-14 * rng.standard_normal(A.shape), k=1)
    A_noisy = np.triu(A_noisy, 1) + np.triu(A_noisy, 1).T + np.eye(8)
    tied = A.copy()
    tied[0, 1] = tied[1, 0] = tied[0, 2]  # one exact tie, then perturbed by noise
    tied_noisy = tied.copy()
    tied_noisy[0, 1] = tied_noisy[1, 0] = tied[0, 2] + 1e-15
    B = similarity_matrix(rng.standard_normal((8, 5)))
    exact = rsa_score(tied, B, permutations=0, bootstraps=0).spearman
    assert rsa_score(tied_noisy, B, permutations=0, bootstraps=0).spearman == exact


def test_no_ci_below_the_minimum_number_of_items(matrices):
    A, B = matrices
    small = rsa_score(A[:3, :3], B[:3, :3], permutations=0)
    assert math.isnan(small.ci_low) and str(MIN_ITEMS_FOR_CI) in small.ci_note
    assert small.to_dict()["min_items_for_ci"] == MIN_ITEMS_FOR_CI
    enough = rsa_score(A[:MIN_ITEMS_FOR_CI, :MIN_ITEMS_FOR_CI], B[:8, :8], permutations=0)
    assert np.isfinite(enough.ci_low) and enough.ci_note == ""


def test_cka_of_noise_only_vectors_is_nan_with_a_reason():
    rng = np.random.default_rng(5)
    one = np.ones((5, 16)) + 1e-8 * rng.standard_normal((5, 16))
    other = rng.standard_normal((5, 16))
    assert math.isnan(linear_cka(one, other)) and math.isnan(linear_cka(one, one))
    assert "model A" in spread_reason(one, other) and "both models" in spread_reason(one, one)
    assert spread_reason(other, other + 1) == ""


def word_mask(words):
    words = np.asarray(words)
    return words[:, None] == words[None, :]


def test_same_word_pairs_counted_and_excluded(matrices):
    A, B = matrices
    words = [f"w{i}" for i in range(30)]
    words[3] = words[7] = words[20] = "bank"  # 3 same-word pairs
    same = word_mask(words)
    kept = rsa_score(A, B, permutations=200, bootstraps=100, same_word=same)
    assert kept.n_same_word_pairs == 3 and not kept.same_word_excluded
    assert kept.n_pairs_compared == kept.n_pairs == 435
    assert kept.spearman == rsa_score(A, B, permutations=0, bootstraps=0).spearman
    dropped = rsa_score(
        A, B, permutations=200, bootstraps=100, same_word=same, exclude_same_word=True
    )
    assert dropped.same_word_excluded and dropped.n_pairs_compared == 432
    rows, cols = np.triu_indices(30, k=1)
    allowed = ~same[rows, cols]
    a, b = A[rows, cols][allowed], B[rows, cols][allowed]
    assert dropped.spearman == pytest.approx(stats.spearmanr(a, b)[0], abs=1e-12)
    assert dropped.pearson == pytest.approx(stats.pearsonr(a, b)[0], abs=1e-12)
    assert 0 < dropped.p_value <= 1 and np.isfinite(dropped.ci_low)
    data = dropped.to_dict()
    assert data["n_same_word_pairs"] == 3 and "words are paired up at random" in data["null"]


def test_word_permutations_move_whole_words_and_keep_the_mask():
    words = np.array(["a", "b", "a", "c", "b", "d", "a"])
    same = word_mask(words)
    for order in word_permutations(word_ids(same), 20, seed=0):
        assert sorted(order.tolist()) == list(range(7))
        np.testing.assert_array_equal(same[np.ix_(order, order)], same)
        assert order[[0, 2, 6]].tolist() == [0, 2, 6]  # the only word seen 3 times stays


def test_excluded_same_word_mantel_equals_a_plain_loop(matrices):
    A, B = matrices
    words = [f"w{i % 24}" for i in range(30)]  # 6 words twice, 18 once
    same = word_mask(words)
    upper = np.triu(np.ones((30, 30), dtype=bool), k=1) & ~same
    for method, correlate in (("spearman", stats.spearmanr), ("pearson", stats.pearsonr)):
        observed = correlate(A[upper], B[upper])[0]
        count = 0
        for order in word_permutations(word_ids(same), 100, 9):
            count += correlate(A[upper], B[np.ix_(order, order)][upper])[0] >= observed - 1e-12
        result = rsa_score(A, B, method, 100, 0, seed=9, same_word=same, exclude_same_word=True)
        assert result.p_value == pytest.approx((1 + count) / 101)


def test_repetition_alone_makes_p_small_unless_same_word_pairs_are_excluded():
    # Two unrelated "models" that both see 6 words, each 4 times: the same-word pairs are
    # alike in both, nothing else is shared.
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(6)] * 4
    same = word_mask(words)

    def model(seed):
        word_vectors = np.random.default_rng(seed).standard_normal((6, 32))
        return similarity_matrix(
            np.vstack([word_vectors] * 4) + 0.3 * rng.standard_normal((24, 32))
        )

    A, B = model(1), model(2)
    included = rsa_score(A, B, permutations=500, bootstraps=0, same_word=same)
    excluded = rsa_score(
        A, B, permutations=500, bootstraps=0, same_word=same, exclude_same_word=True
    )
    assert included.p_value < 0.01
    assert excluded.p_value > 0.05


def test_p_value_is_calibrated_under_a_true_null():
    # Independent random spaces: p <= 0.05 in about 5 % of runs.
    rng = np.random.default_rng(11)
    runs, hits, hits_masked = 200, 0, 0
    words = [f"w{i % 12}" for i in range(15)]
    same = word_mask(words)
    for _ in range(runs):
        A = similarity_matrix(rng.standard_normal((15, 6)))
        B = similarity_matrix(rng.standard_normal((15, 6)))
        hits += rsa_score(A, B, permutations=199, bootstraps=0, seed=None).p_value <= 0.05
        hits_masked += (
            rsa_score(
                A,
                B,
                permutations=99,
                bootstraps=0,
                seed=None,
                same_word=same,
                exclude_same_word=True,
            ).p_value
            <= 0.05
        )
    assert 0.02 <= hits / runs <= 0.09
    assert 0.02 <= hits_masked / runs <= 0.09


# --- the bootstrap against every resample materialised ---------------------------------------------


def bootstrap_loop_reference(A, B, method, bootstraps, ci_level=0.95, seed=0, same_word=None):
    """The percentile CI of :func:`bootstrap_loop_estimates`."""
    estimates = bootstrap_loop_estimates(A, B, method, bootstraps, seed, same_word)
    estimates = estimates[np.isfinite(estimates)]
    if not estimates.size:
        return math.nan, math.nan
    tail = 100 * (1 - ci_level) / 2
    return tuple(np.percentile(estimates, [tail, 100 - tail]))


def bootstrap_loop_estimates(A, B, method, bootstraps, seed=0, same_word=None):
    """Each bootstrap resample's correlation with its pairs listed and correlated by scipy.

    The same draws as ``rsa_score`` (the stream ``default_rng([seed, 1])``: items, or whole words
    when ``same_word`` is given and same-word pairs are left out). A resample lists every pair of
    positions, drops pairs of one item twice (and of one word twice), ranks its pairs by their tie
    group over the whole matrix (runs within VALUE_RTOL, as ``snap_ties`` finds them), and is
    NaN (skipped by the CI) when it has under 2 pairs or either side is constant.
    """
    n = len(A)
    rows, cols = np.triu_indices(n, k=1)
    groups = []
    for M in (A, B):
        dense = np.unique(snap_ties(M[rows, cols]), return_inverse=True)[1]
        groups.append(np.zeros((n, n), dtype=np.int64))
        groups[-1][rows, cols] = groups[-1][cols, rows] = dense
    allowed = ~np.eye(n, dtype=bool) if same_word is None else ~(same_word | np.eye(n, dtype=bool))
    rng = np.random.default_rng([seed, 1])
    if same_word is not None:
        ids = word_ids(same_word)
        members = [np.flatnonzero(ids == word) for word in np.unique(ids)]
    estimates = []
    for _ in range(bootstraps):
        if same_word is None:
            sample = rng.integers(0, n, size=n)
        else:
            drawn = rng.integers(0, len(members), len(members))
            sample = np.concatenate([members[word] for word in drawn])
        first, second = (sample[index] for index in np.triu_indices(sample.size, k=1))
        kept = allowed[first, second]
        first, second = first[kept], second[kept]
        if method == "spearman":
            x = stats.rankdata(groups[0][first, second])
            y = stats.rankdata(groups[1][first, second])
        else:
            x, y = A[first, second], B[first, second]
        defined = x.size >= 2 and np.ptp(x) > 0 and np.ptp(y) > 0
        estimates.append(stats.pearsonr(x, y)[0] if defined else math.nan)
    return np.array(estimates)


def tied(M, decimals):
    """M with its values rounded, so that many pairs tie."""
    return np.round(M, decimals)


@pytest.mark.parametrize("method", RSA_METHODS)
@pytest.mark.parametrize("n", [8, 13, 40])
def test_bootstrap_ci_equals_materialising_every_resample(method, n):
    X, Y = related_spaces(n=n, seed=n)
    A, B = similarity_matrix(X), similarity_matrix(Y)
    for a, b in ((A, B), (tied(A, 1), tied(B, 2))):
        for seed in (0, 5):
            expected = bootstrap_loop_reference(a, b, method, 60, 0.9, seed)
            assert bootstrap_ci(a, b, method, 60, 0.9, seed) == pytest.approx(expected, abs=1e-12)
            result = rsa_score(a, b, method, 0, 60, ci_level=0.9, seed=seed)
            assert (result.ci_low, result.ci_high) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("method", RSA_METHODS)
@pytest.mark.parametrize("n", [9, 24, 50])
def test_bootstrap_ci_of_whole_words_equals_materialising_every_resample(method, n):
    X, Y = related_spaces(n=n, seed=n)
    A, B = similarity_matrix(X), similarity_matrix(Y)
    words = [f"w{i % (2 * n // 3)}" for i in range(n)]  # a third of the words seen twice
    words[1] = words[4] = "bank"
    same = word_mask(words)
    for a, b in ((A, B), (tied(A, 1), tied(B, 1))):
        expected = bootstrap_loop_reference(a, b, method, 60, 0.95, 3, same_word=same)
        result = rsa_score(a, b, method, 0, 60, seed=3, same_word=same, exclude_same_word=True)
        assert (result.ci_low, result.ci_high) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("method", RSA_METHODS)
def test_bootstrap_skips_constant_resamples_like_the_materialised_one(method):
    # Items 0-4 are alike in both models (one value for all their pairs) and B takes two values
    # but for one pair: resamples from items 0-4 alone, or with one pair, are constant and
    # skipped. (Their values' sums do not round exactly: a test of "constant" by the spread
    # rounding leaves would keep some of them.)
    n = 8
    A = similarity_matrix(np.random.default_rng(0).standard_normal((n, 3)))
    A[:5, :5] = 0.3
    B = np.full((n, n), 0.1)
    B[:5, :5] = 0.6
    B[0, 7] = B[7, 0] = 0.9
    np.fill_diagonal(A, 1.0)
    np.fill_diagonal(B, 1.0)
    expected = bootstrap_loop_estimates(A, B, method, 400, seed=0)
    fast = _bootstrap_estimates(A, B, method, 400, seed=0)
    np.testing.assert_allclose(fast, expected, rtol=0, atol=1e-12)  # NaN where NaN
    assert 0 < np.isnan(expected).sum() < 400
    # Words: with 3 words many resamples hold one word only, or one word and one pair.
    words = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    same = words[:, None] == words[None, :]
    expected = bootstrap_loop_estimates(A, B, method, 200, 0, same_word=same)
    fast = _bootstrap_estimates(A, B, method, 200, 0, keep=~same)
    np.testing.assert_allclose(fast, expected, rtol=0, atol=1e-12)
    assert 0 < np.isnan(expected).sum() < 200


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_tiny_similarities_score_like_the_same_values_scaled_up(method):
    # Deviations of 1e-256 square to 0 in float64; r is scale-free, so the score must not be NaN.
    rng = np.random.default_rng(3)
    a = similarity_matrix(rng.normal(size=(9, 4)))
    b = similarity_matrix(rng.normal(size=(9, 4)))
    tiny = rsa_score(a, b * 1e-256, method=method, permutations=99, bootstraps=50, seed=1)
    plain = rsa_score(a, b, method=method, permutations=99, bootstraps=50, seed=1)
    assert tiny.defined and math.isfinite(tiny.pearson)
    for field in ("pearson", "spearman", "p_value", "ci_low", "ci_high"):
        assert getattr(tiny, field) == pytest.approx(getattr(plain, field), abs=1e-12)
    # The case the property test found: one off-diagonal value of 5.9e-256, the rest 0.
    b3 = np.zeros((3, 3))
    b3[0, 1] = b3[1, 0] = 5.92724932e-256
    a3 = np.array([[1.0, 0.5, 1.0], [0.5, 1.0, 1.0], [1.0, 1.0, 1.0]])
    assert rsa_score(a3, b3, permutations=50, bootstraps=0).pearson == pytest.approx(-1.0)


@pytest.mark.parametrize("method", RSA_METHODS)
def test_bootstrap_in_two_threads_beside_the_permutations_equals_the_reference(method, monkeypatch):
    """On a corpus the resamples run in two threads next to the permutation test: the same
    draws, in the same order, give the same CI and p-value as one thread."""
    from embexplorer import rsa as rsa_module

    n = 40
    X, Y = related_spaces(n=n, seed=11)
    A, B = similarity_matrix(X), similarity_matrix(Y)
    words = [f"w{i % 30}" for i in range(n)]
    same = word_mask(words)
    serial = {
        key: rsa_score(A, B, method, 99, 60, ci_level=0.9, seed=4, same_word=same, **extra)
        for key, extra in (("all", {}), ("words", {"exclude_same_word": True}))
    }
    monkeypatch.setattr(rsa_module, "PARALLEL_BOOTSTRAP_PAIRS", 0)  # threads at any size
    expected = bootstrap_loop_reference(A, B, method, 60, 0.9, 4)
    assert bootstrap_ci(A, B, method, 60, 0.9, 4) == pytest.approx(expected, abs=1e-12)
    for key, extra in (("all", {}), ("words", {"exclude_same_word": True})):
        threaded = rsa_score(A, B, method, 99, 60, ci_level=0.9, seed=4, same_word=same, **extra)
        assert threaded == serial[key]
