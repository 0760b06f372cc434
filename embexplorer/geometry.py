"""Geometry of one embedding space: similarity matrices, preprocessing, anisotropy, PCA spectrum,
random rotations, Procrustes alignment and per-dimension cosine contributions.

Every function takes item vectors as a 2-D array ``X`` of shape (n_items, n_dims), returns new
float64 arrays and never modifies its input.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.linalg import eigh, orthogonal_procrustes
from scipy.spatial.distance import pdist, squareform

from ._validation import check_choice, check_paired_vectors, check_vectors
from .i18n import _

METRICS = ("cosine", "euclidean")
PREPROCESSING = ("none", "center", "standardize", "remove_top_pcs")
# The preprocessing the app and the CLI offer (all-but-the-top stays a library option).
APP_PREPROCESSING = ("none", "center", "standardize")
PCA_SOLVERS = ("auto", "svd", "covariance")


# --- similarity matrices --------------------------------------------------------------------------


def _unit_rows(X: np.ndarray, norms: np.ndarray | None = None) -> np.ndarray:
    """:func:`unit_rows` of a checked array; ``norms`` (n_items,) when the caller has them."""
    norms = np.linalg.norm(X, axis=1) if norms is None else norms
    # Dividing by 1 leaves a zero row at zero instead of producing 0/0 = NaN.
    return X / np.where(norms > 0, norms, 1.0)[:, None]


def _row_norms(X: np.ndarray) -> np.ndarray:
    """Euclidean length of every row (one pass, no squared copy of ``X``)."""
    return np.sqrt(np.einsum("ij,ij->i", X, X))


def unit_rows(X) -> np.ndarray:
    """Rows scaled to unit Euclidean length; a zero row stays zero (so its cosines are 0)."""
    return _unit_rows(check_vectors(X))


def cosine_similarity_matrix(X) -> np.ndarray:
    """Cosine similarity between every pair of rows.

    Parameters
    ----------
    X : array-like of shape (n_items, n_dims)

    Returns
    -------
    ndarray of shape (n_items, n_items)
        Exactly symmetric, values in [-1, 1], diagonal exactly 1.

    Notes
    -----
    The cosine with a zero vector is defined as 0 (as in
    ``sklearn.metrics.pairwise.cosine_similarity``), including a zero vector's cosine with itself,
    so its diagonal entry is 0; the result never contains NaN.

    Examples
    --------
    >>> cosine_similarity_matrix([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]).round(3)
    array([[1.   , 0.707, 0.   ],
           [0.707, 1.   , 0.   ],
           [0.   , 0.   , 0.   ]])
    """
    return _cosine_similarity_matrix(check_vectors(X))


def _cosine_similarity_matrix(X: np.ndarray) -> np.ndarray:
    units = _unit_rows(X)
    similarity = units @ units.T
    # Rounding makes the product slightly asymmetric and can push |cos| a hair above 1.
    similarity = np.clip((similarity + similarity.T) / 2, -1.0, 1.0)
    nonzero = np.any(units != 0, axis=1)
    np.fill_diagonal(similarity, nonzero.astype(np.float64))
    return similarity


def euclidean_distance_matrix(X) -> np.ndarray:
    """Euclidean distance between every pair of rows.

    Parameters
    ----------
    X : array-like of shape (n_items, n_dims)

    Returns
    -------
    ndarray of shape (n_items, n_items)
        Exactly symmetric, diagonal exactly 0.

    Notes
    -----
    Distances are computed from the differences (``scipy.spatial.distance.pdist``), not from
    ``|x|^2 + |y|^2 - 2 x.y``: GPT-2 vectors carry a few dimensions with huge values, and the
    dot-product shortcut loses most significant digits to cancellation when vectors are long and
    close together.
    """
    X = check_vectors(X)
    if X.shape[0] == 1:
        return np.zeros((1, 1))
    return squareform(pdist(X, metric="euclidean"))


def similarity_matrix(X, metric: str = "cosine") -> np.ndarray:
    """Item-by-item matrix: cosine similarity or Euclidean distance.

    Parameters
    ----------
    X : array-like of shape (n_items, n_dims)
    metric : {"cosine", "euclidean"}
        ``"cosine"`` gives similarities (diagonal 1), ``"euclidean"`` distances (diagonal 0).

    Returns
    -------
    ndarray of shape (n_items, n_items), float64, symmetric

    See Also
    --------
    cosine_similarity_matrix, euclidean_distance_matrix
    """
    check_choice(metric, METRICS, "metric")
    if metric == "cosine":
        return cosine_similarity_matrix(X)
    return euclidean_distance_matrix(X)


def _pair_values(X: np.ndarray, metric: str) -> np.ndarray:
    """``rsa.upper_triangle(similarity_matrix(X, metric))`` of a checked float64 array, value for
    value, without the matrix's symmetry check and without index arrays."""
    if metric == "euclidean":
        return pdist(X, metric="euclidean")  # squareform's triangle, in the same order
    units = _unit_rows(X)
    gram = units @ units.T
    # The same arithmetic as _cosine_similarity_matrix (the mean of both halves, clipped); a
    # boolean mask reads the triangle row by row, as np.triu_indices does, several times faster.
    upper = np.triu(np.ones(gram.shape, dtype=bool), k=1)
    return np.clip(((gram + gram.T) / 2)[upper], -1.0, 1.0)


# --- preprocessing --------------------------------------------------------------------------------


def center(X) -> np.ndarray:
    """Subtract the mean item (column means) from every row."""
    return _center(check_vectors(X))


def _center(X: np.ndarray) -> np.ndarray:
    return X - X.mean(axis=0)


def standardize(X) -> np.ndarray:
    """Z-score every dimension over items (population std, ddof=0, like sklearn's StandardScaler).

    A dimension with zero variance is left at 0 after centring instead of becoming NaN.
    """
    return _standardize(check_vectors(X))


def _standardize(X: np.ndarray) -> np.ndarray:
    centred = _center(X)
    std = centred.std(axis=0)
    return centred / np.where(std > 0, std, 1.0)


def remove_top_pcs(X, n_components: int = 1) -> np.ndarray:
    """Centre, then project out the top ``n_components`` principal directions.

    This is "all-but-the-top" (Mu & Viswanath 2018): the dominant directions shared by all
    vectors carry frequency and position rather than meaning.
    """
    return _remove_top_pcs(check_vectors(X), n_components)


def _remove_top_pcs(X: np.ndarray, n_components: int) -> np.ndarray:
    centred = _center(X)
    limit = min(centred.shape)
    if not 0 <= n_components <= limit:
        raise ValueError(
            f"n_components must be between 0 and min(n_items, n_dims) = {limit} for X of shape "
            f"{centred.shape}; got {n_components}"
        )
    if n_components == 0:
        return centred
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    top = vt[:n_components]
    return centred - (centred @ top.T) @ top


def preprocess(X, method: str = "none", n_components: int = 1) -> np.ndarray:
    """Prepare item vectors before comparing them.

    Parameters
    ----------
    X : array-like of shape (n_items, n_dims)
    method : {"none", "center", "standardize", "remove_top_pcs"}
        ``"none"``: a float64 copy. ``"center"``: subtract the mean item. ``"standardize"``:
        z-score every dimension over items (zero-variance dimensions become 0, not NaN).
        ``"remove_top_pcs"``: centre, then remove the top ``n_components`` principal directions
        (Mu & Viswanath 2018).
    n_components : int, default 1
        Only for ``"remove_top_pcs"``.

    Returns
    -------
    ndarray of shape (n_items, n_dims), float64; the input is never modified.

    Notes
    -----
    Raw GPT-2 vectors share a large common direction and a few "rogue" dimensions (Ethayarajh
    2019; Timkey & van Schijndel 2021), so every cosine is close to 1. Centring removes the common
    direction; standardising also stops a few huge dimensions from dominating.

    References
    ----------
    Mu, J. & Viswanath, P. (2018). All-but-the-top: simple and effective postprocessing for word
    representations. ICLR.
    """
    check_choice(method, PREPROCESSING, "preprocessing")
    checked = check_vectors(X)
    if method != "none":
        return _preprocess(checked, method, n_components)
    # Only a float64 array comes back from the check as itself (or a view of it); anything
    # else (a float16 layer, a list) was already converted into a new array.
    return checked.copy() if isinstance(X, np.ndarray) and X.dtype == np.float64 else checked


def _preprocess(X: np.ndarray, method: str, n_components: int = 1) -> np.ndarray:
    """:func:`preprocess` of a checked float64 array and a valid method; "none" returns ``X``
    itself (callers never modify it)."""
    if method == "center":
        return _center(X)
    if method == "standardize":
        return _standardize(X)
    if method == "remove_top_pcs":
        return _remove_top_pcs(X, n_components)
    return X


# --- anisotropy and rogue dimensions --------------------------------------------------------------


def anisotropy(X, exclude_pairs=None) -> float:
    """Mean cosine similarity between different items (Ethayarajh 2019).

    Parameters
    ----------
    X : array-like of shape (n_items, n_dims), n_items >= 2
    exclude_pairs : array-like of bool, shape (n_items, n_items), optional
        True where a pair must not count (e.g. two occurrences of the same word). The diagonal is
        always excluded.

    Returns
    -------
    float
        About 0 for an isotropic space, close to 1 when all vectors share one direction.

    Notes
    -----
    Without ``exclude_pairs`` it is computed in O(n d) from the sum of unit vectors, without
    forming the n x n matrix. Zero vectors count as cosine 0 with everything.

    References
    ----------
    Ethayarajh, K. (2019). How contextual are contextualized word representations? EMNLP.
    """
    X = check_vectors(X, min_items=2)
    n = X.shape[0]
    if exclude_pairs is None:
        total = _per_dimension_cosine_contribution(X).sum()
        return float(total / (n * (n - 1) / 2))
    mask = np.asarray(exclude_pairs, dtype=bool)
    if mask.shape != (n, n):
        raise ValueError(
            f"exclude_pairs must have shape ({n}, {n}) to match X of shape {X.shape}; "
            f"got {mask.shape}"
        )
    keep = ~(mask | mask.T)
    np.fill_diagonal(keep, False)
    if not keep.any():
        raise ValueError(
            _("exclude_pairs excludes every pair of the {n} items; nothing to average").format(n=n)
        )
    return float(_cosine_similarity_matrix(X)[keep].mean())


def per_dimension_cosine_contribution(X) -> np.ndarray:
    """How much each dimension adds to the sum of cosines over all pairs of different items.

    For unit rows ``u_j``, dimension ``i`` contributes ``sum_{j<k} u_ji u_ki``; the contributions
    add up to the sum of the upper-triangle cosines. A few dimensions with a large share are the
    "rogue dimensions" of Timkey & van Schijndel (2021).

    Parameters
    ----------
    X : array-like of shape (n_items, n_dims)

    Returns
    -------
    ndarray of shape (n_dims,)

    Notes
    -----
    ``sum_{j<k} u_ji u_ki = ((sum_j u_ji)^2 - sum_j u_ji^2) / 2``: O(n d), no pair loop.

    References
    ----------
    Timkey, W. & van Schijndel, M. (2021). All bark and no bite: rogue dimensions in transformer
    language models obscure representational quality. EMNLP.

    Examples
    --------
    >>> per_dimension_cosine_contribution([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    array([1., 0.])
    """
    return _per_dimension_cosine_contribution(check_vectors(X))


def _per_dimension_cosine_contribution(X: np.ndarray) -> np.ndarray:
    units = _unit_rows(X)
    return (units.sum(axis=0) ** 2 - (units**2).sum(axis=0)) / 2


# --- PCA ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PCAResult:
    """Principal components of centred item vectors.

    Attributes
    ----------
    components : ndarray of shape (k, n_dims)
        Unit directions, largest variance first; each one's largest-|loading| entry is positive.
    eigenvalues : ndarray of shape (k,)
        Variance along each component (ddof=1, sklearn's ``explained_variance_``).
    explained_variance_ratio : ndarray of shape (k,)
        Share of the total variance (over all components, not only the k kept).
    mean : ndarray of shape (n_dims,)
    coords : ndarray of shape (n_items, k)
        The centred items in the components' coordinates.
    """

    components: np.ndarray
    eigenvalues: np.ndarray
    explained_variance_ratio: np.ndarray
    mean: np.ndarray
    coords: np.ndarray

    @property
    def n_components(self) -> int:
        return self.components.shape[0]


# Threads cost more than they save on a small decomposition, and far more on a busy machine: the
# thin SVD of 90 x 768 items took 0.5-3 s with OpenBLAS's two threads on a loaded 2-core server
# (each hand-off waits for a descheduled thread), ~10 ms with one. Up to this much work
# (n_items x n_dims x min(n_items, n_dims) multiply-adds; 1,000 x 768 is 5.9e8) PCA runs its
# linear algebra on one thread.
SINGLE_THREAD_MAX_WORK = 2 * 10**8


class _OneBlasThread:
    """Context manager: the BLAS libraries on one thread while any caller is inside.

    Their thread counts belong to the process, so concurrent callers share one limit: the first
    to enter sets it, the last to leave restores the original (other BLAS work in the process
    meanwhile runs on one thread too: slower for that moment, never wrong).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._limit = None

    def __enter__(self) -> None:
        from threadpoolctl import threadpool_limits

        with self._lock:
            if self._users == 0:
                self._limit = threadpool_limits(limits=1, user_api="blas")
            self._users += 1

    def __exit__(self, *exc_info) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._limit.restore_original_limits()
                self._limit = None


_one_blas_thread = _OneBlasThread()


def _blas_threads_for(n_items: int, n_dims: int):
    """One BLAS thread for a small decomposition, the library's own choice otherwise."""
    small = n_items * n_dims * min(n_items, n_dims) <= SINGLE_THREAD_MAX_WORK
    return _one_blas_thread if small else contextlib.nullcontext()


def _spectrum_by_svd(centred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Squared singular values (descending) and right singular vectors (rows) of centred items."""
    _, singular_values, vt = np.linalg.svd(centred, full_matrices=False)
    return singular_values**2, vt


def _spectrum_by_covariance(centred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same, from the eigendecomposition of the d x d scatter matrix ``centred.T @ centred``.

    Eigenvalues that rounding makes slightly negative are clipped to 0.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
    # eigh sorts ascending; PCA wants the largest variance first.
    return np.clip(eigenvalues[::-1], 0.0, None), eigenvectors[:, ::-1].T


# Up to this many components the covariance route finds only those (Lanczos, ``eigsh``) instead
# of all d: a 2D picture of 768-dimensional items needs 2 eigenvectors, not 768 (the Explore
# page's 26 layer PCAs took 9 s of full eigendecompositions on a corpus).
MAX_LANCZOS_COMPONENTS = 8


def _top_by_covariance(centred: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The ``k`` largest eigenvalues (descending) and eigenvectors (rows) of the scatter matrix
    ``centred.T @ centred``, and its trace (the total sum of squares), by Lanczos iteration to
    machine precision."""
    from scipy.sparse.linalg import eigsh

    scatter = centred.T @ centred
    start = np.ones(scatter.shape[0])  # a fixed start: the same result on every run
    values, vectors = eigsh(scatter, k=k, which="LA", v0=start, tol=0)
    order = np.argsort(values)[::-1]
    return np.clip(values[order], 0.0, None), vectors[:, order].T, float(np.trace(scatter))


def pca(
    X,
    n_components: int | None = None,
    solver: str = "auto",
    with_coords: bool = True,
    overwrite_X: bool = False,
) -> PCAResult:
    """PCA of the centred items, with fixed component signs.

    Parameters
    ----------
    X : array-like of shape (n_items, n_dims), n_items >= 2
    n_components : int, optional
        How many components to keep; default all ``min(n_items, n_dims)``. A larger number is
        clipped to ``min(n_items, n_dims)`` (check ``result.n_components``). With n_items <= n_dims
        the last kept component has zero variance, since centring removes one degree of freedom.
    solver : {"auto", "svd", "covariance"}, default "auto"
        ``"svd"``: thin SVD of the centred items. ``"covariance"``: eigendecomposition of the
        d x d matrix ``Xc^T Xc``. ``"auto"`` takes the covariance route when
        ``n_items > 2 * n_dims`` and SVD otherwise.
    with_coords : bool, default True
        False leaves ``coords`` empty (shape (n_items, 0)): a spectrum alone needs no projected
        items, which would cost another n x d x k product and n x k floats.
    overwrite_X : bool, default False
        True lets a float64 ``X`` that owns its memory be centred in place, for a caller whose
        copy is not needed afterwards: one n x d array fewer at the peak (135 MB for a corpus's
        20,000 words). Views and other dtypes are never written.

    Returns
    -------
    PCAResult

    Notes
    -----
    Sign convention: each component is flipped so that its entry with the largest absolute value
    is positive (the first such entry on ties), so a rerun or a reordering of the items never
    mirrors the picture. Eigenvalues and ratios equal sklearn's ``PCA`` ``explained_variance_``
    and ``explained_variance_ratio_``; coordinates equal its ``transform`` up to the sign of each
    column. When all items are identical the total variance is 0 and the ratios are 0.

    For many items the thin SVD spends most of its time forming the n x d left factor: on
    56,000 x 768 it takes about 10 times longer than the covariance route (one matrix product and
    a 768 x 768 eigendecomposition; 7 s against 0.7 s on 2 CPU cores). The covariance route
    squares the condition number, so a small eigenvalue's absolute error grows to about
    ``eps * largest eigenvalue``; with GPT-2-like data (a few dimensions 3,000 times larger than
    the rest) the eigenvalues still agree with the SVD's to about 1e-9 relative, far below what a
    plot or a percentage shows.
    """
    check_choice(solver, PCA_SOLVERS, "solver")
    X = check_vectors(X, min_items=2)
    n_items, n_dims = X.shape
    limit = min(n_items, n_dims)
    if n_components is None:
        n_components = limit
    if n_components < 1:
        raise ValueError(f"n_components must be at least 1; got {n_components}")
    k = min(int(n_components), limit)
    if solver == "auto":
        solver = "covariance" if n_items > 2 * n_dims else "svd"
    mean = X.mean(axis=0)
    if overwrite_X and X.dtype == np.float64 and X.flags.owndata and X.flags.writeable:
        centred = X
        centred -= mean
    else:
        centred = X - mean
    if solver == "covariance" and k <= MAX_LANCZOS_COMPONENTS and 4 * k < n_dims:
        sums_of_squares, directions, total = _top_by_covariance(centred, k)
        eigenvalues, total = sums_of_squares / (n_items - 1), total / (n_items - 1)
    else:
        spectrum = _spectrum_by_covariance if solver == "covariance" else _spectrum_by_svd
        with _blas_threads_for(n_items, n_dims):
            sums_of_squares, directions = spectrum(centred)
        # With n_items < n_dims the covariance route has n_dims directions but at most
        # n_items - 1 nonzero variances; keep as many as SVD does, so both routes give the
        # same shapes.
        eigenvalues = sums_of_squares[:limit] / (n_items - 1)
        total = eigenvalues.sum()
    kept = directions[:k]
    signs = np.sign(kept[np.arange(k), np.argmax(np.abs(kept), axis=1)])
    signs[signs == 0] = 1.0
    components = kept * signs[:, None]
    ratios = eigenvalues / total if total > 0 else np.zeros_like(eigenvalues)
    return PCAResult(
        components=components,
        eigenvalues=eigenvalues[:k],
        explained_variance_ratio=ratios[:k],
        mean=mean,
        coords=centred @ components.T if with_coords else np.empty((n_items, 0)),
    )


def n_components_for_variance(explained_variance_ratio, threshold: float = 0.9) -> int:
    """Smallest number of leading components whose explained variance reaches ``threshold``.

    Examples
    --------
    >>> n_components_for_variance([0.5, 0.3, 0.15, 0.05], threshold=0.9)
    3
    """
    ratios = np.asarray(explained_variance_ratio, dtype=np.float64)
    if ratios.ndim != 1 or ratios.size == 0:
        raise ValueError(
            f"explained_variance_ratio must be a non-empty 1-D array; got shape {ratios.shape}"
        )
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1]; got {threshold}")
    cumulative = np.cumsum(ratios)
    # Ratios that sum to 1 in exact arithmetic may sum to 0.9999999999999998 in floating point.
    reached = np.flatnonzero(cumulative >= threshold - 1e-12)
    if reached.size == 0:
        raise ValueError(
            f"the {ratios.size} given ratios sum to {cumulative[-1]:.4f}, below threshold {threshold}"
        )
    return int(reached[0] + 1)


# --- rotations and Procrustes ---------------------------------------------------------------------


def random_orthogonal(d: int, seed: int | None = 0) -> np.ndarray:
    """A Haar-distributed (uniformly random) orthogonal matrix of shape (d, d).

    QR decomposition of a standard Gaussian matrix, with the columns of Q multiplied by the signs
    of R's diagonal; without that correction Q is not uniformly distributed (Mezzadri 2007).
    """
    if int(d) != d or d < 1:
        raise ValueError(f"d must be a positive integer; got {d!r}")
    if not isinstance(seed, (int, np.integer)):  # None, a Generator or a SeedSequence
        return _haar_orthogonal(int(d), seed)
    # A seeded matrix is the same every time: the QR of a 768 x 768 matrix is kept, not redone
    # on every layer change of the Geometry page (a copy, so a caller may modify it).
    return _seeded_orthogonal(int(d), int(seed)).copy()


@functools.lru_cache(maxsize=8)
def _seeded_orthogonal(d: int, seed: int) -> np.ndarray:
    return _haar_orthogonal(d, seed)


def _haar_orthogonal(d: int, seed: int | None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    return q * signs[None, :]


@dataclass(frozen=True)
class ProcrustesResult:
    """Y aligned onto X by an orthogonal map (and a scale) after centring both.

    Attributes
    ----------
    rotation : ndarray of shape (d_y, d_x)
        Orthogonal map from Y's (centred) space into X's: rows of a (padded) orthogonal matrix.
    scale : float
        Factor applied to centred Y (1.0 when ``scale=False``).
    aligned : ndarray of shape (n_items, d_x)
        ``scale * (Y - Y.mean(0)) @ rotation + X.mean(0)``: Y in X's coordinates.
    residuals : ndarray of shape (n_items,)
        Euclidean distance between each aligned Y row and its X row (after centring).
    disparity : float
        Sum of squared residuals over the sum of squares of centred X: 0 means the same shape up
        to rotation (and scale). With scaling it is at most 1, but 1 is not "unrelated": with
        many dimensions and few items an unrelated Y can be rotated to fit X well (independent
        Gaussian data can give 0.03). Read it against :func:`procrustes_shuffle_null`, the
        disparity of the same two spaces with the items paired at random.
    """

    rotation: np.ndarray
    scale: float
    aligned: np.ndarray
    residuals: np.ndarray
    disparity: float


def _pad_columns(X: np.ndarray, width: int) -> np.ndarray:
    return np.pad(X, ((0, 0), (0, width - X.shape[1])))


def procrustes_align(X, Y, scale: bool = True) -> ProcrustesResult:
    """Orthogonal Procrustes: rotate (and scale) centred Y to best match centred X.

    Parameters
    ----------
    X : array-like of shape (n_items, d_x)
        The reference space.
    Y : array-like of shape (n_items, d_y)
        The space to align; row i is the same item as row i of X.
    scale : bool, default True
        Also fit one positive scale factor.

    Returns
    -------
    ProcrustesResult

    Notes
    -----
    Two models may have different widths. The narrower one is zero-padded to the wider width
    (a copy of it lying in a subspace), the rotation is fitted there, and the aligned output keeps
    X's width. Residuals and disparity are measured in the padded space, so any part of Y that
    cannot be turned into X's span counts against the fit.

    Raises
    ------
    ValueError
        When the row counts differ, or the rows of X or of Y are all identical.
    """
    X, Y = check_paired_vectors(X, Y)
    d_x, d_y = X.shape[1], Y.shape[1]
    width = max(d_x, d_y)
    mean_x = X.mean(axis=0)
    x_centred = _pad_columns(X - mean_x, width)
    y_centred = _pad_columns(Y - Y.mean(axis=0), width)
    x_norm2, y_norm2 = np.sum(x_centred**2), np.sum(y_centred**2)
    if x_norm2 == 0 or y_norm2 == 0:
        which = "X" if x_norm2 == 0 else "Y"
        raise ValueError(
            _("all rows of {which} are identical: there is no shape to align").format(which=which)
        )
    rotation, singular_sum = orthogonal_procrustes(y_centred, x_centred)
    factor = float(singular_sum / y_norm2) if scale else 1.0
    mapped = factor * y_centred @ rotation
    residuals = np.linalg.norm(mapped - x_centred, axis=1)
    return ProcrustesResult(
        rotation=rotation[:d_y, :d_x],
        scale=factor,
        aligned=mapped[:, :d_x] + mean_x,
        residuals=residuals,
        disparity=float(np.sum(residuals**2) / x_norm2),
    )


@dataclass(frozen=True)
class ProcrustesNull:
    """Procrustes disparity of the true pairing next to item-shuffled pairings.

    Attributes
    ----------
    disparity : float
        The disparity with row i of Y matched to row i of X.
    shuffled : ndarray of shape (n_shuffles,)
        The disparity with Y's rows shuffled (each a different seeded permutation): what any
        pairing of these two clouds of points reaches.
    seed : int or None
    scale : bool
    """

    disparity: float
    shuffled: np.ndarray
    seed: int | None
    scale: bool

    @property
    def shuffled_mean(self) -> float:
        return float(self.shuffled.mean()) if self.shuffled.size else float("nan")

    @property
    def p_value(self) -> float:
        """Share of shuffles (counting the true pairing) with a disparity at most as low."""
        return float((1 + np.sum(self.shuffled <= self.disparity)) / (1 + self.shuffled.size))

    def to_dict(self) -> dict:
        return {
            "disparity": self.disparity,
            "shuffled_mean": self.shuffled_mean,
            "shuffled_min": float(self.shuffled.min()) if self.shuffled.size else None,
            "shuffled_max": float(self.shuffled.max()) if self.shuffled.size else None,
            "n_shuffles": int(self.shuffled.size),
            "p_value": self.p_value,
            "seed": self.seed,
            "scale": self.scale,
        }


def _centred_basis(X: np.ndarray) -> tuple[np.ndarray, float]:
    """``U S`` of the thin SVD of centred X (so ``X_c^T Y_c`` has the singular values of
    ``(U_x S_x)^T (U_y S_y)``), and the sum of squares of centred X."""
    centred = X - X.mean(axis=0)
    u, singular, _ = np.linalg.svd(centred, full_matrices=False)
    return u * singular, float(np.sum(singular**2))


def _disparity(cross_nuclear: float, x_norm2: float, y_norm2: float, scale: bool) -> float:
    """Procrustes disparity from the nuclear norm of ``X_c^T Y_c`` (see :func:`procrustes_align`)."""
    if scale:
        return max(0.0, 1.0 - cross_nuclear**2 / (x_norm2 * y_norm2))
    return max(0.0, (x_norm2 + y_norm2 - 2 * cross_nuclear) / x_norm2)


def procrustes_shuffle_null(
    X, Y, n_shuffles: int = 100, seed: int | None = 0, scale: bool = True
) -> ProcrustesNull:
    """Disparity of the true item pairing and of ``n_shuffles`` item-shuffled pairings.

    Parameters
    ----------
    X : array-like of shape (n_items, d_x)
    Y : array-like of shape (n_items, d_y)
        The same items as X, in the same order.
    n_shuffles : int, default 100
    seed : int, default 0
        Seeds the permutations of Y's rows.
    scale : bool, default True
        As in :func:`procrustes_align`.

    Returns
    -------
    ProcrustesNull
        ``disparity`` equals ``procrustes_align(X, Y, scale).disparity``.

    Notes
    -----
    The optimal rotation's fit depends only on the nuclear norm of ``X_c^T Y_c``; with thin SVDs
    of both centred spaces each shuffle costs one small (rank x rank) eigendecomposition, not a
    (d x d) SVD.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 3))
    >>> null = procrustes_shuffle_null(X, X @ random_orthogonal(3, seed=1), n_shuffles=50)
    >>> round(null.disparity, 9), bool(null.shuffled_mean > 0.5)
    (0.0, True)
    """
    X, Y = check_paired_vectors(X, Y)
    if int(n_shuffles) != n_shuffles or n_shuffles < 0:
        raise ValueError(f"n_shuffles must be a non-negative integer; got {n_shuffles!r}")
    basis_x, x_norm2 = _centred_basis(X)
    basis_y, y_norm2 = _centred_basis(Y)
    if x_norm2 == 0 or y_norm2 == 0:
        which = "X" if x_norm2 == 0 else "Y"
        raise ValueError(
            _("all rows of {which} are identical: there is no shape to align").format(which=which)
        )

    def shuffled_disparity(order: np.ndarray) -> float:
        cross = basis_x.T @ basis_y[order]
        # sum of singular values = sum of sqrt(eigenvalues of cross^T cross): ~5x cheaper than SVD
        eigenvalues = np.linalg.eigvalsh(cross.T @ cross)
        nuclear = float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())
        return _disparity(nuclear, x_norm2, y_norm2, scale)

    rng = np.random.default_rng(seed)
    n = X.shape[0]
    shuffled = np.array([shuffled_disparity(rng.permutation(n)) for _ in range(int(n_shuffles))])
    nuclear = float(np.linalg.svd(basis_x.T @ basis_y, compute_uv=False).sum())
    return ProcrustesNull(_disparity(nuclear, x_norm2, y_norm2, scale), shuffled, seed, scale)


def group_membership(groups) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Which rows form each group: (membership (n_groups, n_rows) sparse 0/1 matrix, sizes
    (n_groups,), group of each row), so that ``membership @ X`` sums ``X``'s rows per group.

    ``groups`` is one label per row, or one row of labels per row (grouped by the whole row).
    One sparse product per array, O(n d), instead of a loop over groups or ``np.add.at``; build
    it once and reuse it for every array over the same rows (every layer).
    """
    _, index = np.unique(np.asarray(groups), axis=0, return_inverse=True)
    index = index.ravel()
    n_groups = int(index.max()) + 1 if index.size else 0
    membership = sparse.csr_matrix(
        (np.ones(index.size), (index, np.arange(index.size))), shape=(n_groups, index.size)
    )
    return membership, np.bincount(index, minlength=n_groups), index


def first_pc_share(X) -> float:
    """The share of the total variance on the first principal component (PCA's
    ``explained_variance_ratio_[0]``), from the top eigenvalue alone.

    Only the largest eigenvalue of the scatter matrix is computed (Lanczos, or LAPACK's subset
    driver for small ones), on the smaller of ``Xc^T Xc`` and ``Xc Xc^T``: several times faster
    than the full spectrum that :func:`pca` computes. 0 when all rows are equal.

    Examples
    --------
    >>> round(first_pc_share([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0], [2.0, 1.0]]), 6)
    0.914286
    """
    return _first_pc_share(check_vectors(X, min_items=2))


def _first_pc_share(X: np.ndarray, product_dtype=np.float64) -> float:
    """:func:`first_pc_share` of a checked float64 array (at least 2 rows).

    ``product_dtype=np.float32`` forms the scatter matrix, the one costly step, in single
    precision (twice as fast): for vectors that were float16 or float32 to begin with, the share
    then differs from the float64 one by about 1e-7 relative, far below what the input's own
    rounding already leaves uncertain. The total variance is always summed in float64.
    """
    centred = _center(X)
    total = float(np.einsum("ij,ij->", centred, centred))
    if total == 0:
        return 0.0
    factor = centred.astype(product_dtype, copy=False)
    scatter = factor.T @ factor if factor.shape[0] >= factor.shape[1] else factor @ factor.T
    scatter = scatter.astype(np.float64, copy=False)
    size = scatter.shape[0]
    if size > _LANCZOS_MIN_SIZE:
        # Lanczos (ARPACK) from a fixed start: the top eigenvalue to machine precision, 2-3 times
        # faster than LAPACK's subset driver on 768 x 768 (the Layers page needs 52 of them).
        from scipy.sparse.linalg import eigsh

        start = np.full(size, 1 / np.sqrt(size))
        top = eigsh(scatter, k=1, which="LA", v0=start, tol=0, return_eigenvectors=False)[0]
    else:
        top = eigh(scatter, eigvals_only=True, subset_by_index=[size - 1, size - 1])[0]
    return float(min(max(top / total, 0.0), 1.0))


_LANCZOS_MIN_SIZE = 256
