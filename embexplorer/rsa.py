"""Compare two similarity structures over the same items: RSA with a permutation (Mantel) p-value
and a bootstrap CI over items, and linear CKA.

RSA (Kriegeskorte et al. 2008) correlates the strict upper triangles of two item-by-item matrices
(similarities or distances; the diagonal is excluded). The reference implementation used in the
tests is ``rsatoolbox.rdm.compare(..., method="corr" | "spearman")``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from ._validation import (
    check_choice,
    check_count,
    check_level,
    check_matrix,
    check_matrix_pair,
    check_paired_vectors,
)
from .i18n import N_, Message

RSA_METHODS = ("pearson", "spearman")
# Bootstrap resamples run in two threads when there are at least twice this many, over at least
# this many pairs (below, a thread costs more than it saves).
BOOTSTRAP_CHUNK = 10
PARALLEL_BOOTSTRAP_PAIRS = 50_000

# A permuted correlation that equals the observed one in exact arithmetic (e.g. the identity
# permutation) may differ from it in the last bits; count it as "at least as large".
TIE_TOLERANCE = 1e-12

# Pair values (similarities) closer than this, relative to the largest |value|, are equal: they
# differ by floating-point noise (batching changes a vector by ~1e-7, a cosine by ~1e-15), not by
# anything a model did. Ties for Spearman, "constant" when all of them are.
VALUE_RTOL = 1e-9

# Item vectors whose spread around their mean is below this share of their size are one vector
# plus float32 noise: CKA over them (and RSA after centring) would measure the noise.
VECTOR_RTOL = 1e-5

# A bootstrap resample's rank spread (:func:`_rank_spread`) at most this share of total**3 is
# zero up to rounding: one side of the resample is constant. Any other is at least
# (total**2 - total) / 4, far above this for any total below 1e12 pairs.
RANK_SPREAD_RTOL = 1e-13

# Fewer items give no bootstrap CI: most resamples then repeat the same few items, and with 3
# items every resample is a relabelling, so the "interval" has zero width.
MIN_ITEMS_FOR_CI = 8

NULL_HYPOTHESIS = N_(
    "Null hypothesis: the items are paired up at random between the two models (model B's "
    "items shuffled); p is the share of such shuffles that score at least as high, so it tests "
    "'no relation at all', not 'no more than any two models share'."
)
NULL_HYPOTHESIS_WORDS = N_(
    "Null hypothesis: the words are paired up at random between the two models (model B's words "
    "shuffled among words that occur as often, all occurrences of a word moving together) and "
    "only pairs of different words are compared; p is the share of such shuffles that score at "
    "least as high."
)


def is_constant(values, rtol: float = VALUE_RTOL) -> bool:
    """True when all values are equal within ``rtol`` of the largest magnitude.

    Examples
    --------
    >>> is_constant([0.5, 0.5 + 1e-15, 0.5]), is_constant([0.5, 0.6])
    (True, False)
    """
    values = np.asarray(values, dtype=np.float64)
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    return values.size == 0 or float(np.ptp(values)) <= rtol * scale


def snap_ties(values, rtol: float = VALUE_RTOL) -> np.ndarray:
    """Values with every run of neighbours closer than ``rtol`` (relative to the largest
    magnitude) set to the run's smallest value, so that noise-level differences rank as ties.

    Examples
    --------
    >>> snap_ties([0.3, 0.1 + 1e-14, 0.1, 0.2]).tolist()
    [0.3, 0.1, 0.1, 0.2]
    """
    values = np.asarray(values, dtype=np.float64)
    ranking = _Ranking.of(values, rtol)
    ordered = values[ranking.order]
    snapped = np.empty_like(values)
    snapped[ranking.order] = ordered[ranking.run_starts()[ranking.run]]
    return snapped


def average_ranks(values, rtol: float = VALUE_RTOL) -> np.ndarray:
    """Ranks 1..n, ties averaged, where neighbours closer than ``rtol`` (relative to the largest
    magnitude) tie: ``scipy.stats.rankdata(snap_ties(values, rtol))`` from one sort instead of
    two, and 2-3 times faster than ``rankdata`` alone. ``rtol=0`` ties only equal values.

    Examples
    --------
    >>> average_ranks([0.3, 0.1 + 1e-14, 0.1, 0.2]).tolist()
    [4.0, 1.5, 1.5, 3.0]
    >>> average_ranks([0.3, 0.1 + 1e-14, 0.1, 0.2], rtol=0).tolist()
    [4.0, 2.0, 1.0, 3.0]
    """
    return _Ranking.of(np.asarray(values, dtype=np.float64), rtol).ranks()


@dataclass(frozen=True)
class _Ranking:
    """One vector sorted once: its sort order and, for each sorted position, its tie run
    (neighbours closer than ``rtol`` of the largest magnitude, as :func:`snap_ties` joins them),
    numbered 0, 1, ... in increasing order of value.

    Everything rank-based here (Spearman ranks, the bootstrap's tie groups, snapping) is read off
    this one sort.
    """

    order: np.ndarray
    run: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray, rtol: float = VALUE_RTOL) -> _Ranking:
        if values.size < 2:
            return cls(np.arange(values.size), np.zeros(values.size, dtype=np.int64))
        # Not a stable sort: equal values share one run whatever their order.
        order = np.argsort(values)
        tolerance = rtol * float(np.max(np.abs(values)))
        starts = np.concatenate([[True], np.diff(values[order]) > tolerance])
        return cls(order, np.cumsum(starts) - 1)

    @property
    def n_runs(self) -> int:
        return int(self.run[-1]) + 1 if self.run.size else 0

    def run_starts(self) -> np.ndarray:
        """The sorted position where each run begins."""
        return np.flatnonzero(np.concatenate([[True], np.diff(self.run) > 0]))

    def groups(self) -> np.ndarray:
        """Each value's tie run, in the values' own order (a dense rank)."""
        groups = np.empty_like(self.run)
        groups[self.order] = self.run
        return groups

    def ranks(self) -> np.ndarray:
        """Average ranks with each run tied: ``scipy.stats.rankdata(snap_ties(values))``."""
        ranks = np.empty(self.run.size)
        if self.n_runs == self.run.size:  # no ties: the sorted position is the rank
            ranks[self.order] = np.arange(1.0, self.run.size + 1)
            return ranks
        sizes = np.bincount(self.run)
        average = np.cumsum(sizes) - (sizes - 1) / 2
        ranks[self.order] = average[self.run]
        return ranks


# --- matrices -> pair vectors ---------------------------------------------------------------------


def upper_triangle(M) -> np.ndarray:
    """The strict upper triangle (k=1) of a square matrix, row by row, as a condensed vector.

    Examples
    --------
    >>> upper_triangle([[0, 1, 2], [1, 0, 3], [2, 3, 0]])
    array([1., 2., 3.])
    """
    return _upper_triangle_unchecked(check_matrix(M))


def _upper_triangle_unchecked(M: np.ndarray) -> np.ndarray:
    """:func:`upper_triangle` of a matrix already checked (square float64)."""
    return M[np.triu_indices(M.shape[0], k=1)]


def _transform(values: np.ndarray, method: str) -> np.ndarray:
    """The values Pearson's r is taken over: the values, or their ranks (ties, within
    :data:`VALUE_RTOL`, averaged)."""
    return average_ranks(values) if method == "spearman" else values


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; NaN (no warning) when either vector is constant."""
    # Scaled to a largest deviation of 1 (r does not change): deviations below ~1e-154 would
    # otherwise square to 0 and make a varying vector look constant.
    a, b = _unit_scaled(a), _unit_scaled(b)
    norm_a, norm_b = math.sqrt(float(a @ a)), math.sqrt(float(b @ b))
    if norm_a == 0 or norm_b == 0:
        return math.nan
    return float(np.clip((a / norm_a) @ (b / norm_b), -1.0, 1.0))


# --- the result -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RSAResult:
    """Pearson and Spearman RSA, with the p-value and CI of ``method``.

    ``p_value`` is NaN when ``permutations == 0``, the CI is NaN when ``bootstraps == 0``, and
    everything is NaN when the correlation is not defined (see ``defined`` and ``reason``).
    """

    pearson: float
    spearman: float
    method: str
    p_value: float
    ci_low: float
    ci_high: float
    ci_level: float
    n_items: int
    n_pairs: int
    permutations: int
    bootstraps: int
    reason: str = ""
    n_same_word_pairs: int = 0
    same_word_excluded: bool = False
    n_pairs_compared: int = -1
    ci_note: str = ""
    min_items_for_ci: int = MIN_ITEMS_FOR_CI

    @property
    def null(self) -> str:
        """The permutation test's null hypothesis, in one plain sentence."""
        return Message(NULL_HYPOTHESIS_WORDS if self.same_word_excluded else NULL_HYPOTHESIS)

    @property
    def defined(self) -> bool:
        """False when a correlation cannot be computed (``reason`` says why)."""
        return not self.reason

    @property
    def value(self) -> float:
        """The correlation of ``method``."""
        return self.spearman if self.method == "spearman" else self.pearson

    def to_dict(self) -> dict:
        """JSON-safe dictionary: NaN becomes None; includes ``defined``."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, float) and not math.isfinite(value):
                data[key] = None
        data["defined"] = self.defined
        data["null"] = self.null
        return data


def _which_models(flags: list[bool]) -> str:
    """ "model A", "model B", "both models" or "" for the models whose flag is set."""
    names = [name for name, flag in zip("AB", flags, strict=True) if flag]
    if not names:
        return ""
    if len(names) == 2:
        return Message(N_("both models"))
    return Message(N_("model {name}"), name=names[0])


def _constant_reason(a: np.ndarray, b: np.ndarray) -> str:
    """Why a correlation over these pair values is undefined, or "" when it is defined.

    Values equal within :data:`VALUE_RTOL` count as equal: their differences are floating-point
    noise, and a correlation over noise is not a score.
    """
    which = _which_models([is_constant(a), is_constant(b)])
    if not which:
        return ""
    return Message(
        N_(
            "the similarities of {which} are all equal (within a relative {rtol:g}: any "
            "differences are floating-point noise), so a correlation is not defined"
        ),
        which=which,
        rtol=VALUE_RTOL,
    )


# --- permutation (Mantel) test --------------------------------------------------------------------


def item_permutations(n_items: int, permutations: int, seed: int | None) -> Iterator[np.ndarray]:
    """The item permutations of the Mantel test, one after the other.

    Both :func:`mantel_p_value` and :func:`mantel_loop_reference` draw from here, so the same seed
    gives the same permutations in the same order.
    """
    rng = np.random.default_rng(seed)
    for _ in range(permutations):
        yield rng.permutation(n_items)


def _one_sided_p(count_at_least: int, permutations: int) -> float:
    # The observed labelling counts as one of the permutations (Phipson & Smyth 2010): p > 0.
    return (1 + count_at_least) / (1 + permutations)


def mantel_p_value(
    A, B, method: str = "spearman", permutations: int = 10_000, seed: int | None = 0
) -> float:
    """One-sided permutation p-value of the RSA correlation, permuting B's items.

    ``p = (1 + #{r_perm >= r_obs}) / (1 + permutations)``; NaN when ``permutations == 0`` or the
    correlation is undefined.

    Notes
    -----
    Permuting items (rows and columns together) only reorders the pair values, so their mean,
    spread and ranks are fixed: A's pairs are standardised once, B's pair values (or ranks) are
    put in a symmetric matrix once, and each permutation costs one compiled pass over the pairs
    that reads B's values in permuted order, with no re-ranking, no re-standardising and no
    permuted copy (about 3 times faster on 1,000 items than gathering permuted copies with
    numpy).
    """
    check_choice(method, RSA_METHODS, "RSA method")
    permutations = check_count(permutations, "permutations")
    A, B = check_matrix_pair(A, B)
    return _mantel_p_value(A, B, method, permutations, seed)


def _mantel_p_value(
    A: np.ndarray,
    B: np.ndarray,
    method: str,
    permutations: int,
    seed: int | None,
    keep: np.ndarray | None = None,
    transformed: tuple[np.ndarray, np.ndarray] | None = None,
) -> float:
    """:func:`mantel_p_value` on matrices already checked.

    With ``keep`` (False for pairs of two occurrences of one word) only the allowed pairs are
    compared and the permutations shuffle words, not items (:func:`word_permutations`): all
    occurrences of a word move together, so the allowed pairs map onto allowed pairs and the
    repetition structure is the same in every permutation. ``transformed`` are the compared
    pairs' values as :func:`_transform` gives them, when the caller has them.

    Notes
    -----
    Each permutation's score is one compiled pass over the upper triangle
    (:func:`~embexplorer._rsa_kernels.permuted_score`): no permuted copy of either matrix.
    """
    n = A.shape[0]
    pairs = np.triu(np.ones((n, n), dtype=bool), k=1)
    if keep is not None:
        pairs &= keep
    if transformed is None:
        transformed = (_transform(A[pairs], method), _transform(B[pairs], method))
    a, b = transformed
    if permutations == 0 or _constant_reason(a, b):
        return math.nan
    # Unit-scaled like _correlation's (the centring drops out, see below; the scale is the
    # same in every permutation), so tiny values cannot underflow the norms to 0.
    a_centred, b = _unit_scaled(a), _unit_scaled(b)
    scale = math.sqrt(float(a_centred @ a_centred)) * math.sqrt(float(b @ b))
    # Weights on the compared pairs (upper triangle): <weights, B permuted> is r's numerator;
    # the centring of B drops out because the weights sum to zero, and a permutation only
    # reorders B's values (B symmetric: a permuted pair may land below the diagonal).
    weights = np.zeros((n, n))
    weights[pairs] = a_centred / scale
    b_matrix = np.zeros((n, n))
    b_matrix[pairs] = b
    b_matrix += b_matrix.T
    from ._rsa_kernels import permuted_score  # imports numba: only when resampling

    # The observed score by the same loop: the identity permutation then ties it exactly.
    observed = permuted_score(weights, b_matrix, np.arange(n))
    orders = (
        item_permutations(n, permutations, seed)
        if keep is None
        else word_permutations(word_ids(~keep), permutations, seed)
    )
    count = sum(
        permuted_score(weights, b_matrix, order) >= observed - TIE_TOLERANCE for order in orders
    )
    return _one_sided_p(int(count), permutations)


def word_ids(same_word) -> np.ndarray:
    """Each item's word as an integer, from a (symmetric) same-word mask: its connected
    components, so "same word in either model" is closed under chaining.

    Examples
    --------
    >>> import numpy as np
    >>> words = np.array(["a", "b", "a", "c"])
    >>> word_ids(words[:, None] == words[None, :]).tolist()
    [0, 1, 0, 2]
    """
    from scipy.sparse.csgraph import connected_components

    mask = np.asarray(same_word, dtype=bool)
    _, labels = connected_components(mask | mask.T, directed=False)
    return labels.astype(np.int64)


def word_permutations(ids, permutations: int, seed: int | None) -> Iterator[np.ndarray]:
    """Item orders that shuffle whole words: the k-th occurrence of a word goes to the k-th
    occurrence of another word that occurs as often. Words seen once shuffle like items.

    Pairs of two occurrences of one word map onto such pairs, so a test that leaves them out
    compares the same repetition structure in every permutation.
    """
    ids = np.asarray(ids)
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(ids == word) for word in np.unique(ids)]
    by_count: dict[int, list[np.ndarray]] = {}
    for occurrences in members:
        by_count.setdefault(occurrences.size, []).append(occurrences)
    groups = [np.array(words) for words in by_count.values()]  # (n_words, count) each
    for _ in range(permutations):
        order = np.empty(ids.size, dtype=np.int64)
        for words in groups:
            order[words.ravel()] = words[rng.permutation(len(words))].ravel()
        yield order


def mantel_loop_reference(
    A, B, permutations: int = 1000, seed: int | None = 0, method: str = "spearman"
) -> float:
    """The plain Mantel test: permute B's items, call scipy, count. For tests and benchmarks.

    Draws the same permutations as :func:`mantel_p_value` (see :func:`item_permutations`), so the
    two give the identical p-value.
    """
    check_choice(method, RSA_METHODS, "RSA method")
    permutations = check_count(permutations, "permutations")
    from scipy import stats  # here only: importing scipy.stats took ~1 s of a server's cold start

    A, B = check_matrix_pair(A, B)
    correlate = stats.spearmanr if method == "spearman" else stats.pearsonr
    a, b = _upper_triangle_unchecked(A), _upper_triangle_unchecked(B)
    if permutations == 0 or _constant_reason(a, b):
        return math.nan
    observed = correlate(a, b)[0]
    count = 0
    for order in item_permutations(A.shape[0], permutations, seed):
        permuted = B[np.ix_(order, order)]
        count += correlate(a, _upper_triangle_unchecked(permuted))[0] >= observed - TIE_TOLERANCE
    return _one_sided_p(int(count), permutations)


def warm_up_resampling() -> None:
    """Compile the resampling loops of :func:`rsa_score` now (call it in a background thread):
    about 2 s on a fresh install and under a second from numba's disk cache, which the first
    p-value and CI would otherwise wait for."""
    points = np.random.default_rng(0).standard_normal((12, 3))
    distances = np.abs(points[:, :1] - points[:, :1].T)  # any other symmetric matrix
    rsa_score(points @ points.T, distances, permutations=1, bootstraps=1)


# --- bootstrap over items -------------------------------------------------------------------------


def _item_draws(n: int, rng: np.random.Generator):
    """A function giving one bootstrap sample of items (n draws with replacement)."""
    return lambda: rng.integers(0, n, size=n)


def _word_draws(ids: np.ndarray, rng: np.random.Generator):
    """A function giving one bootstrap sample of whole words: words drawn with replacement, each
    bringing all its occurrences (so the sample's size varies)."""
    members = [np.flatnonzero(ids == word) for word in np.unique(ids)]
    return lambda: np.concatenate([members[w] for w in rng.integers(0, len(members), len(members))])


def bootstrap_ci(
    A,
    B,
    method: str = "spearman",
    bootstraps: int = 1_000,
    ci_level: float = 0.95,
    seed: int | None = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the RSA correlation, resampling items with replacement.

    In each resample, pairs made of two copies of the same original item are left out (their
    value would be the diagonal, which RSA excludes). Resamples where the correlation is undefined
    are skipped; (NaN, NaN) when ``bootstraps == 0`` or none is defined.
    """
    check_choice(method, RSA_METHODS, "RSA method")
    check_level(ci_level)
    bootstraps = check_count(bootstraps, "bootstraps")
    A, B = check_matrix_pair(A, B)
    return _bootstrap_ci(A, B, method, bootstraps, ci_level, seed)


def _bootstrap_ci(
    A: np.ndarray,
    B: np.ndarray,
    method: str,
    bootstraps: int,
    ci_level: float,
    seed: int | None,
    keep: np.ndarray | None = None,
    rankings: tuple[_Ranking, _Ranking] | None = None,
) -> tuple[float, float]:
    """:func:`bootstrap_ci` on matrices already checked; only pairs ``keep`` allows count.

    ``rankings`` are those of the whole upper triangles of A and B, when the caller has them.

    Notes
    -----
    A resample of items with replacement is its items' multiplicities ``w`` (``np.bincount`` of
    the draws): each original pair (u, v) of different items appears ``w[u] * w[v]`` times,
    and two copies of one item never pair. So every resample is computed over the original
    pairs with those weights (:class:`_WeightedPairs`), never listed: the same correlation as
    listing its pairs, up to rounding.
    """
    a, b = _upper_triangle_unchecked(A), _upper_triangle_unchecked(B)
    if bootstraps == 0 or _constant_reason(a, b):
        return math.nan, math.nan
    estimates = _bootstrap_estimates(A, B, method, bootstraps, seed, keep, rankings)
    estimates = estimates[np.isfinite(estimates)]
    if estimates.size == 0:
        return math.nan, math.nan
    tail = 100 * (1 - ci_level) / 2
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)


def _bootstrap_estimates(
    A: np.ndarray,
    B: np.ndarray,
    method: str,
    bootstraps: int,
    seed: int | None,
    keep: np.ndarray | None = None,
    rankings: tuple[_Ranking, _Ranking] | None = None,
) -> np.ndarray:
    """The correlation of each bootstrap resample, NaN where it is undefined."""
    n = A.shape[0]
    a, b = _upper_triangle_unchecked(A), _upper_triangle_unchecked(B)
    if rankings is None and method == "spearman":
        rankings = (_Ranking.of(a), _Ranking.of(b))
    rows, cols = np.triu_indices(n, k=1)
    allowed = None if keep is None else keep[rows, cols]
    pairs = _WeightedPairs(a, b, rows, cols, allowed, method, rankings)
    # A separate stream from the permutations', so changing one count never changes the other.
    rng = np.random.default_rng([0 if seed is None else seed, 1])
    draw = _item_draws(n, rng) if keep is None else _word_draws(word_ids(~keep), rng)
    resamples = [np.bincount(draw(), minlength=n) for _ in range(bootstraps)]
    if bootstraps < 2 * BOOTSTRAP_CHUNK or a.size < PARALLEL_BOOTSTRAP_PAIRS:
        return np.array([pairs.correlation(resample) for resample in resamples])
    # Two threads, each with its own work arrays, take half the resamples each: their loops
    # release the GIL, so on two cores a corpus's CI takes half as long (Similarity's layer
    # change on 1,000 items spent ~1.3 s here). The draws were made above, in order.
    halves = (resamples[: bootstraps // 2], resamples[bootstraps // 2 :])
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rsa-bootstrap") as pool:
        other = pairs.with_own_work_arrays()
        second = pool.submit(lambda: [other.correlation(resample) for resample in halves[1]])
        first = [pairs.correlation(resample) for resample in halves[0]]
        return np.array(first + second.result())


class _WeightedPairs:
    """The pairs of a bootstrap, prepared once so that each resample, given as its items'
    multiplicities, costs a few passes over the original pairs.

    Pair (u, v) counts ``w[u] * w[v]`` times in a resample with multiplicities ``w``. Spearman:
    the pairs are kept in the order of A's values, so A's average ranks in the resample follow
    from a running count (runs of tied values share their average: they are few), and then
    visited in the order of B's values for B's ranks the same way, which is what ranking the
    listed pairs gives; both in compiled loops (:mod:`embexplorer._rsa_kernels`), with counts
    and doubled ranks in integers. Pearson: weighted moments of the values.
    """

    def __init__(self, a, b, rows, cols, allowed, method, rankings):
        self.method = method
        if method == "spearman":
            ranking_a, ranking_b = rankings
            order, run_a = ranking_a.order, ranking_a.run
            if allowed is not None:  # pairs never compared carry no weight: drop them
                kept = allowed[order]
                order, run_a = order[kept], run_a[kept]
            # B's order over the same pairs, as their positions in A's order.
            position = np.full(a.size, -1, dtype=np.int64)
            position[order] = np.arange(order.size)
            order_b = position[ranking_b.order]
            compared_b = order_b >= 0
            # 32-bit indices (half the memory the loops read): n x n float64 matrices fit in
            # memory only for n far below 2**16, so items and pairs number below 2**31.
            self.order_b = order_b[compared_b].astype(np.int32)
            self.tied_a = _tied_runs(run_a)
            self.tied_b = _tied_runs(ranking_b.run[compared_b])
            self.counted = np.empty((0, 2), dtype=np.int32)
            rows, cols = rows.astype(np.int32), cols.astype(np.int32)
        else:
            order = np.arange(a.size) if allowed is None else np.flatnonzero(allowed)
            # Centred and scaled once: the weighted moments then neither cancel nor overflow.
            self.x, self.y = (_unit_scaled(values[order]) for values in (a, b))
            # Work arrays allocated once: with megabytes allocated and freed in every resample,
            # one took 30-40 ms instead of 18 on 1,000 items, depending on where they landed.
            self.first, self.second = np.empty(order.size), np.empty(order.size)
            self.weights = np.empty(order.size)
        self.rows, self.cols = rows[order], cols[order]

    def with_own_work_arrays(self) -> _WeightedPairs:
        """The same pairs with work arrays of its own, for another thread."""
        twin = copy.copy(self)
        if self.method == "spearman":
            twin.counted = np.empty((0, 2), dtype=np.int32)
        else:
            twin.first, twin.second = np.empty_like(self.first), np.empty_like(self.second)
            twin.weights = np.empty_like(self.weights)
        return twin

    def correlation(self, multiplicities: np.ndarray) -> float:
        """The correlation over the resample with these item multiplicities; NaN when it holds
        fewer than 2 pairs or either side is constant."""
        if self.method == "spearman":
            return self._spearman(multiplicities.astype(np.int64))
        multiplicities = multiplicities.astype(np.float64)
        # mode="clip": with the default "raise", take() writes to a temporary copy of ``out``.
        np.take(multiplicities, self.rows, out=self.first, mode="clip")
        np.take(multiplicities, self.cols, out=self.second, mode="clip")
        return self._pearson(np.multiply(self.first, self.second, out=self.weights))

    def _spearman(self, multiplicities: np.ndarray) -> float:
        from ._rsa_kernels import spearman_resample_a, spearman_resample_cross

        # Counts and doubled ranks are at most twice the total count, which is at most
        # drawn**2 / 2: 32-bit (half the memory read in B's order, which is random) unless
        # that could overflow.
        drawn = int(multiplicities.sum())
        count_type = np.int32 if drawn * drawn < 2**31 else np.int64
        if self.counted.dtype != count_type or len(self.counted) != self.rows.size:
            self.counted = np.empty((self.rows.size, 2), dtype=count_type)
        total, cubes, cubes_a = spearman_resample_a(
            multiplicities, self.rows, self.cols, *self.tied_a, self.counted
        )
        if total < 2:
            return math.nan
        cross, cubes_b = spearman_resample_cross(
            self.counted, self.order_b, total, cubes, *self.tied_b
        )
        spread_a, spread_b = _rank_spread(total, cubes_a), _rank_spread(total, cubes_b)
        if min(spread_a, spread_b) <= RANK_SPREAD_RTOL * total**3:  # one side constant
            return math.nan
        return _from_moments(cross, spread_a, spread_b)

    def _pearson(self, weights: np.ndarray) -> float:
        x, y = self.x, self.y
        total = float(weights.sum())
        if total < 2:
            return math.nan
        sum_x, sum_y = float(np.einsum("i,i->", weights, x)), float(np.einsum("i,i->", weights, y))
        spread_x = float(np.einsum("i,i,i->", weights, x, x)) - sum_x * sum_x / total
        spread_y = float(np.einsum("i,i,i->", weights, y, y)) - sum_y * sum_y / total
        cross = float(np.einsum("i,i,i->", weights, x, y)) - sum_x * sum_y / total
        if _constant_in(x, weights, spread_x) or _constant_in(y, weights, spread_y):
            return math.nan
        return _from_moments(cross, spread_x, spread_y)


def _tied_runs(run: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of more than one value starts and ends (inclusive), given each sorted
    value's run (``_Ranking.run``, possibly with some values left out)."""
    sizes = np.bincount(run) if run.size else np.zeros(0, dtype=np.int64)
    runs = np.flatnonzero(sizes > 1)
    ends = np.cumsum(sizes)[runs] - 1
    return ends - sizes[runs] + 1, ends


def _rank_spread(total: float, cubed_counts: float) -> float:
    """Sum of squared deviations of average ranks from their mean, for ``total`` values in tie
    groups of sizes c: ``(total**3 - total - sum(c**3 - c)) / 12``, and sum(c) is ``total``.

    It is 0 when one group holds every value, and at least ``(total**2 - total) / 4``
    otherwise; rounding moves it by a few ``1e-16 * total**3`` (see :data:`RANK_SPREAD_RTOL`).
    """
    return (total**3 - cubed_counts) / 12


def _unit_scaled(values: np.ndarray) -> np.ndarray:
    """Values minus their mean, divided by their largest deviation (when there is one)."""
    centred = values - values.mean()
    largest = float(np.max(np.abs(centred)))
    return centred / largest if largest > 0 else centred


def _constant_in(values: np.ndarray, weights: np.ndarray, spread: float) -> bool:
    """True when the values of positive weight are all equal, or their spread is not positive.

    ``values`` are scaled to a largest magnitude of 1, so rounding leaves a constant's spread
    near ``1e-16 * weights.sum()``: a spread far above that proves they differ, and only below
    it are they compared.
    """
    if spread > 1e-8 * float(weights.sum()):
        return False
    sampled = values[weights > 0]
    return spread <= 0 or float(sampled.min()) == float(sampled.max())


def _from_moments(cross: float, spread_a: float, spread_b: float) -> float:
    """Pearson's r from the centred cross moment and the two spreads (sums of squares)."""
    # Each root on its own: the product of two large sums of squares may overflow.
    return float(np.clip(cross / (math.sqrt(spread_a) * math.sqrt(spread_b)), -1.0, 1.0))


# --- RSA ------------------------------------------------------------------------------------------


def rsa_score(
    A,
    B,
    method: str = "spearman",
    permutations: int = 10_000,
    bootstraps: int = 1_000,
    ci_level: float = 0.95,
    seed: int | None = 0,
    same_word=None,
    exclude_same_word: bool = False,
) -> RSAResult:
    """Representational similarity analysis of two item-by-item matrices.

    Parameters
    ----------
    A, B : array-like of shape (n_items, n_items)
        Symmetric similarity or distance matrices over the same items in the same order
        (n_items >= 3). Only the strict upper triangles are compared.
    method : {"spearman", "pearson"}
        The correlation the p-value and CI refer to; both correlations are always reported.
    permutations : int, default 10_000
        Item permutations for the one-sided Mantel test; 0 skips it (p is NaN).
    bootstraps : int, default 1_000
        Item resamples for the percentile CI; 0 skips it (CI is NaN).
    ci_level : float, default 0.95
    seed : int, default 0
        Seeds ``np.random.default_rng`` for the permutations (and a separate stream for the
        bootstrap): the same call always gives the same p and CI.
    same_word : array-like of bool, shape (n_items, n_items), optional
        True where two items are occurrences of the same word: such pairs are alike in any two
        models. They are counted (``n_same_word_pairs``) and, with ``exclude_same_word``, left
        out of both correlations, the p-value and the CI. The permutations then shuffle
        whole words (:func:`word_permutations`) and the bootstrap resamples whole words, since
        occurrences of one word are not independent items.
    exclude_same_word : bool, default False

    Returns
    -------
    RSAResult
        When A's or B's upper triangle is constant (within :data:`VALUE_RTOL`: differences of
        floating-point noise do not count) the correlation is undefined: every number is NaN,
        ``defined`` is False and ``reason`` says which model; no warning and no exception.
        Spearman ranks treat values within :data:`VALUE_RTOL` as ties. Below
        :data:`MIN_ITEMS_FOR_CI` items there is no CI, and ``ci_note`` says so.

    Raises
    ------
    ValueError
        When A and B differ in shape, are not square and symmetric, hold NaN, or cover fewer than
        3 items; or when ``method`` is unknown.

    References
    ----------
    Kriegeskorte, N., Mur, M. & Bandettini, P. (2008). Representational similarity analysis.
    Frontiers in Systems Neuroscience 2:4.
    Mantel, N. (1967). The detection of disease clustering and a generalized regression approach.
    Cancer Research 27, 209-220.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[1.0, 0.9, 0.1], [0.9, 1.0, 0.2], [0.1, 0.2, 1.0]])
    >>> result = rsa_score(A, 2 * A, permutations=0, bootstraps=0)
    >>> round(result.pearson, 6), round(result.spearman, 6)
    (1.0, 1.0)
    """
    check_choice(method, RSA_METHODS, "RSA method")
    check_level(ci_level)
    permutations = check_count(permutations, "permutations")
    bootstraps = check_count(bootstraps, "bootstraps")
    A, B = check_matrix_pair(A, B)
    n = A.shape[0]
    same = _check_same_word(same_word, n)
    keep = ~same if exclude_same_word and same[np.triu_indices(n, k=1)].any() else None
    pairs = np.triu(np.ones((n, n), dtype=bool), k=1) & (True if keep is None else keep)
    a, b = A[pairs], B[pairs]
    ci_note = (
        Message(
            N_(
                "No CI: a bootstrap over items needs at least {min_items} items; with {n} most "
                "resamples repeat the same few items."
            ),
            min_items=MIN_ITEMS_FOR_CI,
            n=n,
        )
        if bootstraps and n < MIN_ITEMS_FOR_CI
        else ""
    )
    common = dict(
        method=method,
        ci_level=ci_level,
        n_items=n,
        n_pairs=n * (n - 1) // 2,
        permutations=permutations,
        bootstraps=bootstraps,
        n_same_word_pairs=int(same[np.triu_indices(n, k=1)].sum()),
        same_word_excluded=bool(exclude_same_word),
        n_pairs_compared=int(a.size),
        ci_note=ci_note,
    )
    reason = _constant_reason(a, b) if a.size >= 3 else _too_few_pairs_reason(a.size)
    if reason:
        return undefined_rsa(reason, **common)
    # Each side sorted once, for the Spearman score, the permutations and (over the whole upper
    # triangle, which these pairs are unless some are left out) the bootstrap.
    rankings = (_Ranking.of(a), _Ranking.of(b))
    ranks = (rankings[0].ranks(), rankings[1].ranks())
    compared = ranks if method == "spearman" else (a, b)
    if ci_note or not bootstraps:
        ci_low, ci_high = math.nan, math.nan
        p_value = _mantel_p_value(A, B, method, permutations, seed, keep, compared)
    else:
        # The bootstrap runs beside the permutation test: both spend their time in compiled loops
        # that release the GIL, so on two cores the wait is the slower one's (each has its own
        # seeded generator: the results do not depend on it).
        whole = rankings if keep is None else None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rsa-bootstrap") as pool:
            ci = pool.submit(_bootstrap_ci, A, B, method, bootstraps, ci_level, seed, keep, whole)
            p_value = _mantel_p_value(A, B, method, permutations, seed, keep, compared)
            ci_low, ci_high = ci.result()
    return RSAResult(
        pearson=_correlation(a, b),
        spearman=_correlation(*ranks),
        p_value=p_value,
        ci_low=ci_low,
        ci_high=ci_high,
        **common,
    )


def undefined_rsa(reason: str, **fields) -> RSAResult:
    """An RSAResult whose correlations, p and CI are NaN, with ``reason`` saying why."""
    nan = math.nan
    return RSAResult(
        pearson=nan, spearman=nan, p_value=nan, ci_low=nan, ci_high=nan, reason=reason, **fields
    )


def _too_few_pairs_reason(n_pairs: int) -> str:
    return Message(
        N_(
            "only {n} pair(s) of different words are left once same-word pairs are left out; "
            "a correlation needs at least 3"
        ),
        n=n_pairs,
    )


def _check_same_word(same_word, n: int) -> np.ndarray:
    """The same-word mask as a symmetric (n, n) bool array (all False when None)."""
    if same_word is None:
        return np.zeros((n, n), dtype=bool)
    mask = np.asarray(same_word, dtype=bool)
    if mask.shape != (n, n):
        raise ValueError(
            f"same_word must have shape ({n}, {n}) to match the matrices; got {mask.shape}"
        )
    return mask | mask.T


# --- CKA ------------------------------------------------------------------------------------------


def _debiased(cross: float, rows_x, rows_y, total_x: float, total_y: float, n: int) -> float:
    """Unbiased HSIC estimate (up to a constant factor that cancels in CKA) from the biased one.

    Kornblith et al. (2019) reference code, ``_debiased_dot_product_similarity_helper``.
    """
    return cross - n / (n - 2) * float(rows_x @ rows_y) + total_x * total_y / ((n - 1) * (n - 2))


def _centre_gram(gram: np.ndarray, debiased: bool) -> np.ndarray:
    """Double-centred Gram matrix; the unbiased (U-statistic) centring when ``debiased``."""
    gram = gram.copy()
    n = gram.shape[0]
    if debiased:
        np.fill_diagonal(gram, 0.0)
        means = gram.sum(axis=0) / (n - 2)
        means -= means.sum() / (2 * (n - 1))
    else:
        means = gram.mean(axis=0)
        means -= means.mean() / 2
    gram -= means[:, None]
    gram -= means[None, :]
    if debiased:
        np.fill_diagonal(gram, 0.0)
    return gram


def _cka_features(X: np.ndarray, Y: np.ndarray) -> tuple[float, float]:
    """Plain and debiased CKA from the p x q cross products (for more items than features)."""
    cross = float(np.linalg.norm(Y.T @ X) ** 2)
    norm_x = float(np.linalg.norm(X.T @ X))
    norm_y = float(np.linalg.norm(Y.T @ Y))
    plain = cross / (norm_x * norm_y) if norm_x * norm_y > 0 else math.nan
    n = X.shape[0]
    if n < 4:
        return plain, math.nan
    rows_x, rows_y = np.einsum("ij,ij->i", X, X), np.einsum("ij,ij->i", Y, Y)
    total_x, total_y = float(rows_x.sum()), float(rows_y.sum())
    cross = _debiased(cross, rows_x, rows_y, total_x, total_y, n)
    self_x = _debiased(norm_x**2, rows_x, rows_x, total_x, total_x, n)
    self_y = _debiased(norm_y**2, rows_y, rows_y, total_y, total_y, n)
    if self_x <= 0 or self_y <= 0:
        return plain, math.nan
    return plain, cross / (math.sqrt(self_x) * math.sqrt(self_y))


def _cka_grams(X: np.ndarray, Y: np.ndarray) -> tuple[float, float]:
    """Plain and debiased CKA from the n x n Gram matrices (for fewer items than features)."""
    grams = X @ X.T, Y @ Y.T
    values = []
    for debiased in (False, True):
        if debiased and X.shape[0] < 4:
            values.append(math.nan)
            continue
        gram_x, gram_y = (_centre_gram(gram, debiased) for gram in grams)
        denominator = float(np.linalg.norm(gram_x) * np.linalg.norm(gram_y))
        values.append(float(np.vdot(gram_x, gram_y)) / denominator if denominator > 0 else math.nan)
    return values[0], values[1]


def linear_cka(X, Y, debiased: bool = False) -> float:
    """Linear centred kernel alignment between two representations of the same items.

    ``CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)`` on column-centred X and Y.

    Parameters
    ----------
    X : array-like of shape (n_items, p)
    Y : array-like of shape (n_items, q)
        The same items as X, in the same order; widths may differ.
    debiased : bool, default False
        Use the unbiased HSIC estimator (Song et al. 2012; the ``debiased=True`` option of
        Kornblith et al.'s code), which removes CKA's upward bias for few items in many
        dimensions. Needs at least 4 items.

    Returns
    -------
    float
        1 for the same geometry up to rotation and isotropic scale. NaN when one space has no
        variance, when ``debiased`` and n_items < 4, or when the debiased self-similarity
        estimate is not positive.

    Notes
    -----
    With fewer items than features (wide hidden states) the value is computed from the n x n Gram
    matrices, which is cheaper and gives the same number.

    References
    ----------
    Kornblith, S., Norouzi, M., Lee, H. & Hinton, G. (2019). Similarity of neural network
    representations revisited. ICML.

    Examples
    --------
    >>> import numpy as np
    >>> legacy = np.random.RandomState(1337)  # the draws of np.random.seed(1337); randn(...)
    >>> X = legacy.randn(100, 10)
    >>> Y = legacy.randn(100, 10) + X
    >>> round(linear_cka(X, Y), 5), round(linear_cka(X, Y, debiased=True), 5)
    (0.55761, 0.51346)
    """
    return linear_cka_both(X, Y)[int(debiased)]


def linear_cka_both(X, Y) -> tuple[float, float]:
    """:func:`linear_cka` plain and debiased, from one set of cross products (half the work of
    two calls on a corpus's 1,000 x 768 vectors).

    Examples
    --------
    >>> import numpy as np
    >>> legacy = np.random.RandomState(1337)
    >>> X = legacy.randn(100, 10)
    >>> Y = legacy.randn(100, 10) + X
    >>> tuple(round(value, 5) for value in linear_cka_both(X, Y))
    (0.55761, 0.51346)
    """
    X, Y = check_paired_vectors(X, Y)
    n = X.shape[0]
    if _noise_only(X) or _noise_only(Y):
        return math.nan, math.nan
    X = X - X.mean(axis=0)
    Y = Y - Y.mean(axis=0)
    if n < max(X.shape[1], Y.shape[1]):
        return _cka_grams(X, Y)
    return _cka_features(X, Y)


def _noise_only(X: np.ndarray) -> bool:
    """True when the rows of X are one vector up to :data:`VECTOR_RTOL` (float noise)."""
    size = float(np.linalg.norm(X))
    return float(np.linalg.norm(X - X.mean(axis=0))) <= VECTOR_RTOL * size


def spread_reason(X, Y) -> str:
    """Why a comparison of these two sets of item vectors is not defined, or "".

    When every item of a model has the same vector up to floating-point noise (the same word
    run several times: batching changes it by ~1e-7), any score computed from them, CKA or RSA
    after centring, would be a score of the noise.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> same = np.ones((5, 4)) + 1e-8 * rng.standard_normal((5, 4))
    >>> spread_reason(same, rng.standard_normal((5, 4)))[:32]
    'the vectors of model A are all e'
    >>> spread_reason(rng.standard_normal((5, 4)), rng.standard_normal((5, 4)))
    ''
    """
    X, Y = check_paired_vectors(X, Y)
    which = _which_models([_noise_only(X), _noise_only(Y)])
    if not which:
        return ""
    return Message(
        N_(
            "the vectors of {which} are all equal up to floating-point noise (spread below "
            "{rtol:g} of their size), so a score would measure only the noise"
        ),
        which=which,
        rtol=VECTOR_RTOL,
    )
