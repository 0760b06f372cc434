"""geometry: similarity matrices, preprocessing, anisotropy, PCA, rotations, Procrustes."""

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from sklearn.decomposition import PCA
from sklearn.metrics.pairwise import cosine_similarity, euclidean_distances
from sklearn.preprocessing import StandardScaler

from embexplorer.geometry import (
    METRICS,
    PCA_SOLVERS,
    PREPROCESSING,
    anisotropy,
    cosine_similarity_matrix,
    euclidean_distance_matrix,
    n_components_for_variance,
    pca,
    per_dimension_cosine_contribution,
    preprocess,
    procrustes_align,
    procrustes_shuffle_null,
    random_orthogonal,
    similarity_matrix,
)


@pytest.fixture
def vectors():
    return np.random.default_rng(0).standard_normal((40, 12))


# --- similarity matrices --------------------------------------------------------------------------


def test_cosine_matches_sklearn_and_is_exact_on_the_diagonal(vectors):
    S = similarity_matrix(vectors, "cosine")
    np.testing.assert_allclose(S, cosine_similarity(vectors), atol=1e-12)
    assert S.dtype == np.float64
    assert np.array_equal(S, S.T)
    assert np.array_equal(np.diag(S), np.ones(len(vectors)))
    assert S.max() <= 1.0 and S.min() >= -1.0


def test_euclidean_matches_sklearn_and_is_exact_on_the_diagonal(vectors):
    D = similarity_matrix(vectors, "euclidean")
    np.testing.assert_allclose(D, euclidean_distances(vectors), atol=1e-10)
    assert np.array_equal(D, D.T)
    assert np.array_equal(np.diag(D), np.zeros(len(vectors)))


def test_euclidean_keeps_precision_for_long_close_vectors():
    # GPT-2-like: a huge shared offset, small differences; the dot-product shortcut would cancel.
    rng = np.random.default_rng(1)
    X = 3000.0 + 1e-3 * rng.standard_normal((5, 8))
    expected = np.linalg.norm(X[:, None, :] - X[None, :, :], axis=-1)
    np.testing.assert_allclose(euclidean_distance_matrix(X), expected, rtol=1e-9)


def test_zero_vectors_have_cosine_zero_not_nan():
    X = np.array([[1.0, 2.0], [0.0, 0.0], [2.0, 4.0]])
    S = cosine_similarity_matrix(X)
    assert np.isfinite(S).all()
    np.testing.assert_array_equal(S[1], [0.0, 0.0, 0.0])
    assert S[0, 2] == pytest.approx(1.0)
    np.testing.assert_allclose(S, cosine_similarity(X), atol=1e-12)


def test_input_is_not_modified(vectors):
    before = vectors.copy()
    for metric in METRICS:
        similarity_matrix(vectors, metric)
    for method in PREPROCESSING:
        preprocess(vectors, method)
    np.testing.assert_array_equal(vectors, before)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, "list"])
def test_no_preprocessing_gives_a_new_float64_array_without_a_second_copy(vectors, dtype):
    given = vectors.tolist() if dtype == "list" else vectors.astype(dtype)
    before = np.array(given, copy=True)
    out = preprocess(given, "none")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.asarray(given, dtype=np.float64))
    out += 1.0  # the caller owns the result
    np.testing.assert_array_equal(np.asarray(given), before)


def test_cosine_invariant_under_rotation_and_scaling_while_coordinates_change(vectors):
    rotated = 3.5 * vectors @ random_orthogonal(vectors.shape[1], seed=7)
    assert not np.allclose(rotated, vectors)
    np.testing.assert_allclose(
        cosine_similarity_matrix(rotated), cosine_similarity_matrix(vectors), atol=1e-10
    )
    np.testing.assert_allclose(
        euclidean_distance_matrix(rotated), 3.5 * euclidean_distance_matrix(vectors), atol=1e-10
    )


def test_non_orthogonal_map_changes_cosine(vectors):
    stretch = np.diag(np.linspace(0.1, 10.0, vectors.shape[1]))
    assert not np.allclose(
        cosine_similarity_matrix(vectors @ stretch), cosine_similarity_matrix(vectors), atol=1e-3
    )


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.ones(5), "2-D"),
        (np.ones((0, 3)), "at least 1 item"),
        (np.array([[1.0, np.nan]]), "NaN"),
    ],
)
def test_bad_vectors_are_refused_with_their_shape(bad, message):
    with pytest.raises(ValueError, match=message):
        similarity_matrix(bad)


def test_unknown_metric_lists_the_valid_ones(vectors):
    with pytest.raises(ValueError, match="'cosine', 'euclidean'"):
        similarity_matrix(vectors, "manhattan")


# --- preprocessing --------------------------------------------------------------------------------


def test_center_and_standardize(vectors):
    shifted = vectors + 100.0
    np.testing.assert_allclose(preprocess(shifted, "center").mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(
        preprocess(shifted, "standardize"), StandardScaler().fit_transform(shifted), atol=1e-10
    )
    np.testing.assert_array_equal(preprocess(shifted, "none"), shifted)


def test_standardize_leaves_constant_dimensions_at_zero():
    X = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    Z = preprocess(X, "standardize")
    assert np.isfinite(Z).all()
    np.testing.assert_array_equal(Z[:, 1], 0.0)


def test_remove_top_pcs_projects_out_the_leading_directions(vectors):
    cleaned = preprocess(vectors, "remove_top_pcs", n_components=2)
    top = PCA(n_components=2).fit(vectors).components_
    np.testing.assert_allclose(cleaned @ top.T, 0.0, atol=1e-10)
    np.testing.assert_allclose(cleaned.mean(axis=0), 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="between 0 and min"):
        preprocess(vectors, "remove_top_pcs", n_components=13)


def test_unknown_preprocessing_lists_the_valid_ones(vectors):
    with pytest.raises(ValueError, match="'none', 'center', 'standardize', 'remove_top_pcs'"):
        preprocess(vectors, "whiten")


# --- anisotropy and rogue dimensions --------------------------------------------------------------


def test_anisotropy_of_isotropic_gaussian_is_near_zero():
    X = np.random.default_rng(2).standard_normal((500, 300))
    assert abs(anisotropy(X)) < 0.02


def test_anisotropy_with_a_common_offset_is_near_one():
    X = np.random.default_rng(3).standard_normal((200, 50)) + 30.0
    assert anisotropy(X) > 0.99
    assert abs(anisotropy(preprocess(X, "center"))) < 0.02


def test_anisotropy_equals_the_mean_off_diagonal_cosine(vectors):
    S = cosine_similarity(vectors)
    off = ~np.eye(len(vectors), dtype=bool)
    assert anisotropy(vectors) == pytest.approx(S[off].mean(), abs=1e-12)


def test_anisotropy_skips_excluded_pairs():
    X = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0]])
    same_word = np.zeros((3, 3), dtype=bool)
    same_word[0, 1] = True
    S = cosine_similarity(X)
    assert anisotropy(X, exclude_pairs=same_word) == pytest.approx((S[0, 2] + S[1, 2]) / 2)
    with pytest.raises(ValueError, match=r"shape \(3, 3\)"):
        anisotropy(X, exclude_pairs=np.zeros((2, 2), dtype=bool))
    with pytest.raises(ValueError, match="every pair"):
        anisotropy(X, exclude_pairs=np.ones((3, 3), dtype=bool))


def test_anisotropy_needs_two_items():
    with pytest.raises(ValueError, match="at least 2"):
        anisotropy(np.ones((1, 4)))


def test_per_dimension_contributions_sum_to_the_total_cosine(vectors):
    X = vectors.copy()
    X[:, 3] += 25.0  # a rogue dimension
    contributions = per_dimension_cosine_contribution(X)
    upper = cosine_similarity(X)[np.triu_indices(len(X), k=1)]
    assert contributions.shape == (X.shape[1],)
    assert contributions.sum() == pytest.approx(upper.sum(), rel=1e-10)
    assert np.argmax(contributions) == 3
    units = X / np.linalg.norm(X, axis=1, keepdims=True)
    rows, cols = np.triu_indices(len(X), k=1)
    np.testing.assert_allclose(contributions, (units[rows] * units[cols]).sum(axis=0), rtol=1e-10)


# --- PCA ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("solver", PCA_SOLVERS)
@pytest.mark.parametrize("shape", [(40, 12), (8, 30)])
def test_pca_matches_sklearn(shape, solver):
    X = np.random.default_rng(4).standard_normal(shape) * np.linspace(5, 1, shape[1])
    k = min(shape) - 1
    ours = pca(X, k, solver=solver)
    theirs = PCA(n_components=k, svd_solver="full").fit(X)
    np.testing.assert_allclose(ours.eigenvalues, theirs.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(
        ours.explained_variance_ratio, theirs.explained_variance_ratio_, rtol=1e-10
    )
    np.testing.assert_allclose(np.abs(ours.coords), np.abs(theirs.transform(X)), atol=1e-10)
    np.testing.assert_allclose(ours.mean, theirs.mean_)
    assert pca(X, solver=solver).explained_variance_ratio.sum() == pytest.approx(1.0)


@pytest.fixture
def gpt2_like():
    """Many more items than dimensions, three dimensions ~3,000 times larger than the rest."""
    X = np.random.default_rng(7).standard_normal((600, 24))
    X[:, [2, 9, 17]] *= 3000.0
    X[:, 9] += 2000.0
    return X


def test_pca_solvers_agree_on_gpt2_like_data(gpt2_like):
    by_svd = pca(gpt2_like, solver="svd")
    by_covariance = pca(gpt2_like, solver="covariance")
    theirs = PCA(svd_solver="full").fit(gpt2_like)
    # A component is determined only as well as its eigenvalue is separated from the others:
    # the covariance route's error on component k is about eps * lambda_1 / gap_k (Davis-Kahan),
    # which for the two nearly equal small eigenvalues here is ~3e-8, while the well-separated
    # ones agree to 1e-8 as the SVD does. (How close they come depends on the BLAS build.)
    eigenvalues = by_svd.eigenvalues
    gaps = np.abs(eigenvalues[:, None] - eigenvalues[None, :])
    np.fill_diagonal(gaps, np.inf)
    bound = np.maximum(1e-8, np.finfo(float).eps * eigenvalues[0] / gaps.min(axis=1))
    for result, atol in ((by_svd, np.full(eigenvalues.size, 1e-8)), (by_covariance, bound)):
        np.testing.assert_allclose(result.eigenvalues, theirs.explained_variance_, rtol=1e-8)
        np.testing.assert_allclose(
            result.explained_variance_ratio, theirs.explained_variance_ratio_, rtol=1e-8
        )
        # sklearn flips signs by its own rule; ours is the largest-|loading| one.
        signs = np.sign(np.sum(result.components * theirs.components_, axis=1))
        error = np.abs(result.components - theirs.components_ * signs[:, None]).max(axis=1)
        assert (error <= atol).all(), (error, atol)
    # Both routes apply the same sign convention, so they agree without any flipping.
    error = np.abs(by_covariance.components - by_svd.components).max(axis=1)
    assert (error <= bound).all(), (error, bound)
    assert (bound[:3] == 1e-8).all()  # the three large, well-separated components are held to 1e-8
    scale = np.abs(by_svd.coords).max()
    np.testing.assert_allclose(by_covariance.coords, by_svd.coords, atol=1e-9 * scale)


def test_pca_takes_the_covariance_route_only_for_many_more_items_than_dimensions(
    gpt2_like, monkeypatch
):
    import embexplorer.geometry as geometry

    def refuse(centred):
        raise AssertionError(f"SVD of a {centred.shape} matrix: the covariance route is faster")

    expected = pca(gpt2_like, 2, solver="covariance")
    monkeypatch.setattr(geometry, "_spectrum_by_svd", refuse)
    np.testing.assert_array_equal(pca(gpt2_like, 2).coords, expected.coords)
    with pytest.raises(AssertionError, match="SVD"):
        pca(gpt2_like[:48], 2)  # n_items == 2 * n_dims: SVD


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def test_small_pca_runs_its_linear_algebra_on_one_thread_then_restores_the_limit(monkeypatch):
    from threadpoolctl import threadpool_limits

    import embexplorer.geometry as geometry

    seen = []
    real = geometry._spectrum_by_svd

    def watched(centred):
        seen.append(_blas_threads())
        return real(centred)

    monkeypatch.setattr(geometry, "_spectrum_by_svd", watched)
    X = np.random.default_rng(1).standard_normal((30, 64))
    expected = PCA(2).fit(X)
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        result = pca(X, 2)
        assert seen and all(threads == 1 for threads in seen[0])
        assert _blas_threads() == before
        monkeypatch.setattr(geometry, "SINGLE_THREAD_MAX_WORK", 0)  # a large one keeps them
        pca(X, 2)
        assert seen[1] == before == [2] * len(before)
    np.testing.assert_allclose(result.eigenvalues, expected.explained_variance_, rtol=1e-10)


def test_one_blas_thread_limit_is_shared_by_concurrent_callers():
    import embexplorer.geometry as geometry

    before = _blas_threads()
    limit = geometry._OneBlasThread()
    with limit:
        with limit:  # a second caller (another session's thread) enters meanwhile
            assert all(threads == 1 for threads in _blas_threads())
        assert all(threads == 1 for threads in _blas_threads())  # the first is still inside
    assert _blas_threads() == before


def test_pca_covariance_route_clips_negative_rounding_to_zero():
    # Rank 3 in 12 dimensions: eigh returns tiny negative eigenvalues for the empty directions.
    rng = np.random.default_rng(6)
    X = rng.standard_normal((200, 3)) @ rng.standard_normal((3, 12))
    X[:, 0] *= 3000.0
    result = pca(X, solver="covariance")
    assert (result.eigenvalues >= 0).all() and (result.explained_variance_ratio >= 0).all()
    np.testing.assert_allclose(result.explained_variance_ratio[3:], 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="'auto', 'svd', 'covariance'"):
        pca(X, solver="eig")


def test_pca_signs_follow_the_largest_loading_convention(vectors):
    result = pca(vectors, 5)
    largest = result.components[np.arange(5), np.argmax(np.abs(result.components), axis=1)]
    assert (largest > 0).all()
    # The same picture whatever the item order or the signs SVD happens to return.
    flipped = pca(-vectors[::-1], 5)
    np.testing.assert_allclose(flipped.components, result.components, atol=1e-10)
    np.testing.assert_allclose(flipped.coords, -result.coords[::-1], atol=1e-10)


def test_pca_clips_too_many_components_and_handles_constant_data():
    X = np.random.default_rng(5).standard_normal((4, 10))
    assert pca(X, 50).n_components == 4
    same = pca(np.ones((5, 3)))
    np.testing.assert_array_equal(same.explained_variance_ratio, 0.0)
    with pytest.raises(ValueError, match="at least 1"):
        pca(X, 0)
    with pytest.raises(ValueError, match="at least 2 item"):
        pca(X[:1])


def test_n_components_for_variance():
    assert n_components_for_variance([0.5, 0.3, 0.15, 0.05], 0.9) == 3
    assert n_components_for_variance([0.5, 0.3, 0.15, 0.05], 1.0) == 4
    assert n_components_for_variance([0.95, 0.05], 0.9) == 1
    with pytest.raises(ValueError, match="below threshold"):
        n_components_for_variance([0.5, 0.2], 0.9)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        n_components_for_variance([1.0], 1.5)


# --- rotations and Procrustes ---------------------------------------------------------------------


def test_random_orthogonal_is_orthogonal_and_seeded():
    Q = random_orthogonal(6, seed=3)
    np.testing.assert_allclose(Q.T @ Q, np.eye(6), atol=1e-12)
    np.testing.assert_array_equal(Q, random_orthogonal(6, seed=3))
    assert not np.allclose(Q, random_orthogonal(6, seed=4))
    with pytest.raises(ValueError, match="positive integer"):
        random_orthogonal(0)


def test_procrustes_recovers_a_known_rotation_and_scale(vectors):
    R = random_orthogonal(vectors.shape[1], seed=11)
    Y = 0.5 * (vectors @ R) + 7.0
    result = procrustes_align(vectors, Y)
    np.testing.assert_allclose(result.rotation, R.T, atol=1e-10)
    assert result.scale == pytest.approx(2.0)
    np.testing.assert_allclose(result.aligned, vectors, atol=1e-10)
    np.testing.assert_allclose(result.residuals, 0.0, atol=1e-10)
    assert result.disparity == pytest.approx(0.0, abs=1e-20)


def test_procrustes_matches_scipy_for_noisy_data(vectors):
    rng = np.random.default_rng(12)
    Y = vectors @ random_orthogonal(12, seed=1) + 0.3 * rng.standard_normal(vectors.shape)
    result = procrustes_align(vectors, Y, scale=False)
    Xc, Yc = vectors - vectors.mean(0), Y - Y.mean(0)
    R, _ = orthogonal_procrustes(Yc, Xc)
    np.testing.assert_allclose(result.rotation, R, atol=1e-10)
    assert result.scale == 1.0
    residuals = np.linalg.norm(Yc @ R - Xc, axis=1)
    np.testing.assert_allclose(result.residuals, residuals, atol=1e-10)
    assert result.disparity == pytest.approx(np.sum(residuals**2) / np.sum(Xc**2))
    assert 0 < result.disparity < 1


@pytest.mark.parametrize("width_y", [8, 16])
def test_procrustes_with_different_widths(vectors, width_y):
    # Y holds X's first 8 dimensions (width 8), or X rotated into a 16-dimensional space.
    X = vectors[:, :8]
    embed = random_orthogonal(16, seed=2)[:8]  # (8, 16) with orthonormal rows
    Y = X if width_y == 8 else X @ embed
    wide = np.hstack([X, np.zeros((len(X), 4))])  # X is 12 wide; Y lives in its first 8 dims
    result = procrustes_align(wide, Y)
    assert result.aligned.shape == wide.shape
    assert result.rotation.shape == (width_y, 12)
    np.testing.assert_allclose(result.residuals, 0.0, atol=1e-9)
    np.testing.assert_allclose(result.aligned, wide, atol=1e-9)


def test_procrustes_refuses_mismatched_or_flat_inputs(vectors):
    with pytest.raises(ValueError, match=r"X has 40 rows while Y has 39"):
        procrustes_align(vectors, vectors[:39])
    with pytest.raises(ValueError, match="all rows of Y are identical"):
        procrustes_align(vectors, np.ones_like(vectors))


# --- Procrustes shuffle null (issue 10) -----------------------------------------------------------


@pytest.mark.parametrize("scale", [True, False])
def test_procrustes_shuffle_null_matches_procrustes_align(scale):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((25, 12))
    Y = X[:, :7] * 2 + 0.3 * rng.standard_normal((25, 7))
    null = procrustes_shuffle_null(X, Y, n_shuffles=30, seed=4, scale=scale)
    assert null.disparity == pytest.approx(procrustes_align(X, Y, scale=scale).disparity)
    for order, value in zip(_permutations(25, 30, seed=4), null.shuffled, strict=True):
        assert value == pytest.approx(procrustes_align(X, Y[order], scale=scale).disparity)
    assert null.disparity < null.shuffled.min() and null.p_value == pytest.approx(1 / 31)
    data = null.to_dict()
    assert data["n_shuffles"] == 30 and data["shuffled_mean"] == pytest.approx(null.shuffled_mean)


def _permutations(n, count, seed):
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) for _ in range(count)]


def test_procrustes_disparity_scale_is_calibrated_by_the_shuffle_null():
    # "1 = unrelated" is wrong: independent wide Gaussian data fits well with few items
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 200)), rng.standard_normal((20, 200))
    null = procrustes_shuffle_null(X, Y, n_shuffles=50)
    assert null.disparity < 0.1
    assert null.shuffled.min() < null.disparity < null.shuffled.max()  # no better than shuffled
    with pytest.raises(ValueError, match="identical"):
        procrustes_shuffle_null(np.ones((5, 3)), Y[:5])


@pytest.mark.parametrize("metric", METRICS)
def test_pair_values_equal_the_upper_triangle_of_the_matrix_exactly(metric):
    from embexplorer.geometry import _pair_values
    from embexplorer.rsa import upper_triangle

    X = np.random.default_rng(6).standard_normal((300, 40))
    X[5] = 0.0  # a zero row: cosine 0 with everything
    X[7] = X[9]  # identical rows
    expected = upper_triangle(similarity_matrix(X, metric))
    np.testing.assert_array_equal(_pair_values(X, metric), expected)


def test_first_pc_share_from_a_float32_scatter_matrix_is_within_float32_rounding():
    """What the Layers page uses for float16 hidden states: about 1e-7 from float64, against
    the ~5e-4 relative rounding of float16 itself."""
    from embexplorer.geometry import _first_pc_share

    rng = np.random.default_rng(4)
    for shape, offset in [((3000, 300), 0.0), ((400, 768), 5.0), ((300, 20), 0.0)]:
        X = (rng.standard_normal(shape) + offset).astype(np.float16).astype(np.float64)
        X[:, 3] += 40.0 * rng.standard_normal(shape[0])  # a rogue dimension
        single = _first_pc_share(X, product_dtype=np.float32)
        assert single == pytest.approx(_first_pc_share(X), rel=1e-5)


@pytest.mark.parametrize("shape", [(300, 40), (20, 100), (2, 5), (900, 300), (300, 900)])
def test_first_pc_share_equals_sklearn_pca(shape):
    from embexplorer.geometry import first_pc_share

    X = np.random.default_rng(3).standard_normal(shape)
    X[:, 1] *= 25.0
    expected = PCA().fit(X).explained_variance_ratio_[0]
    assert first_pc_share(X) == pytest.approx(expected, rel=1e-10)
    assert first_pc_share(np.ones((4, 3))) == 0.0


def test_pca_without_coords_gives_the_same_spectrum():
    from embexplorer.geometry import pca

    X = np.random.default_rng(2).standard_normal((300, 20)) * np.arange(1, 21)
    full, spectrum = pca(X), pca(X, with_coords=False)
    np.testing.assert_array_equal(spectrum.eigenvalues, full.eigenvalues)
    np.testing.assert_array_equal(spectrum.explained_variance_ratio, full.explained_variance_ratio)
    np.testing.assert_array_equal(spectrum.components, full.components)
    assert spectrum.coords.shape == (300, 0)


def test_seeded_rotation_is_kept_but_each_caller_gets_its_own_copy():
    from embexplorer.geometry import random_orthogonal

    first = random_orthogonal(6, seed=3)
    first[:] = 0.0  # a caller's change does not reach the kept matrix
    again = random_orthogonal(6, seed=np.int64(3))
    np.testing.assert_allclose(again @ again.T, np.eye(6), atol=1e-12)
    np.testing.assert_array_equal(again, random_orthogonal(6, seed=3))
    assert not np.array_equal(again, random_orthogonal(6, seed=4))


@pytest.mark.parametrize("k", [1, 2, 3, 8])
def test_pca_few_components_by_lanczos_equals_the_full_decomposition(k):
    """A few components of many dimensions come from eigsh, not a full eigh: the same
    eigenvalues, shares of the total variance, signed components and coordinates as the SVD."""
    from embexplorer.geometry import MAX_LANCZOS_COMPONENTS

    assert k <= MAX_LANCZOS_COMPONENTS
    rng = np.random.default_rng(k)
    X = rng.standard_normal((600, 64)) * np.geomspace(30, 1, 64) + 5.0
    X[:, 7] *= 40  # one outsized dimension, as in GPT-2
    fast = pca(X, k, solver="covariance")
    exact = pca(X, k, solver="svd")
    np.testing.assert_allclose(fast.eigenvalues, exact.eigenvalues, rtol=1e-9)
    np.testing.assert_allclose(
        fast.explained_variance_ratio, exact.explained_variance_ratio, rtol=1e-9
    )
    np.testing.assert_allclose(fast.components, exact.components, atol=1e-8)
    np.testing.assert_allclose(fast.coords, exact.coords, atol=1e-6 * np.abs(exact.coords).max())
