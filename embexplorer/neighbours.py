"""Search items, and their nearest neighbours in both models' full spaces.

An item's k nearest neighbours are ranked in the full vector space at one layer (never in a 2D/3D
projection, which distorts distances). The same item's lists in model A and model B overlap more
or less; the Jaccard index of the two sets, computed for every item
(:func:`neighbour_overlap`), is a local, per-item version of RSA: it shows *where* the two models
agree, not only how much.

Ranking: cosine similarity descending (or Euclidean distance ascending); the item itself is never
its own neighbour; values equal within :data:`TIE_TOLERANCE` (relative to the largest possible
value) are ties, broken by the lower index, so the result never depends on rounding or on how the
rows were split into blocks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .geometry import METRICS, check_choice, check_vectors, preprocess
from .i18n import _
from .projection import check_layer_vectors

# Scores closer than this (relative to the largest possible score) are ties (DESIGN.md §2).
TIE_TOLERANCE = 1e-9
# Rows of the similarity matrix screened at once: about this many float32 values (32 MB).
BLOCK_VALUES = 8_000_000
# Item pairs scored exactly at once (two gathers of this many rows).
PAIR_CHUNK = 4096


# --- search ---------------------------------------------------------------------------------------


def search_items(labels: Sequence[str], query: str, regex: bool = False) -> np.ndarray:
    """Indices of the items whose label matches ``query``, case-insensitively.

    Parameters
    ----------
    labels : sequence of str
        One label per item (a word, or a sentence for sentence items).
    query : str
        Plain text matches whole words: "bank" finds "bank", "Bank" and "the river bank." but not
        "banks" or "embankment". With ``regex=True`` it is a Python regular expression searched
        anywhere in the label (``re.search``, case-insensitive). A blank query matches nothing.
    regex : bool, default False

    Returns
    -------
    ndarray of int64, the matching indices in increasing order.

    Raises
    ------
    ValueError
        When ``regex=True`` and ``query`` is not a valid regular expression (one line, saying why).

    Examples
    --------
    >>> search_items(["The", "bank", "raised", "Bank", "banks"], "bank")
    array([1, 3])
    >>> search_items(["The", "bank", "raised", "Bank", "banks"], "^b.*s$", regex=True)
    array([4])
    """
    if not query.strip():
        return np.zeros(0, dtype=np.int64)
    if regex:
        try:
            pattern = re.compile(query, flags=re.IGNORECASE)
        except re.error as error:
            raise ValueError(
                _("invalid regular expression {query!r}: {error}").format(query=query, error=error)
            ) from None
    else:
        pattern = re.compile(_whole_word(query.strip()), flags=re.IGNORECASE)
    return np.array(
        [index for index, label in enumerate(labels) if pattern.search(str(label))],
        dtype=np.int64,
    )


def _whole_word(text: str) -> str:
    """A pattern for ``text`` not glued to a letter or digit at either end ("." still finds the
    full stop in "bank."; "bank" does not find "banks")."""
    before = r"(?<!\w)" if re.match(r"\w", text) else ""
    after = r"(?!\w)" if re.search(r"\w$", text) else ""
    return before + re.escape(text) + after


# --- ranking --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Neighbours:
    """One item's k nearest neighbours in one space.

    Attributes
    ----------
    item : int
        The item's index.
    indices : ndarray of shape (k,), int64
        The neighbours, nearest first (ties: lower index first); never ``item`` itself.
    values : ndarray of shape (k,), float64
        Their cosine similarity to the item (``metric="cosine"``) or Euclidean distance
        (``metric="euclidean"``).
    metric : str
    """

    item: int
    indices: np.ndarray
    values: np.ndarray
    metric: str

    @property
    def k(self) -> int:
        return len(self.indices)


@dataclass(frozen=True)
class NeighbourComparison:
    """The same item's neighbours in model A and model B, and how much the two lists agree.

    Attributes
    ----------
    item : int
    k : int
    a, b : Neighbours
    jaccard : float
        ``|A ∩ B| / |A ∪ B|`` of the two neighbour sets (order ignored): 1 = the same k
        neighbours, 0 = none in common.
    """

    item: int
    k: int
    a: Neighbours
    b: Neighbours
    jaccard: float

    @property
    def shared(self) -> np.ndarray:
        """Indices in both lists, in A's order."""
        return self.a.indices[np.isin(self.a.indices, self.b.indices)]


def _is_index(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_k(k, n_items: int, shape: tuple) -> int:
    if not _is_index(k) or not 1 <= k <= n_items - 1:
        raise ValueError(
            f"k must be an integer from 1 to n_items - 1 = {n_items - 1}; got {k!r} "
            f"(vectors have shape {shape})"
        )
    return int(k)


def _check_item(item, n_items: int, shape: tuple) -> int:
    if not _is_index(item) or not -n_items <= item < n_items:
        raise ValueError(
            f"item must be an index from 0 to {n_items - 1}; got {item!r} "
            f"(vectors have shape {shape})"
        )
    return int(item) % n_items


class _Scorer:
    """Blockwise scores of some rows against all rows (higher = nearer) and their top k.

    Scores are cosines, or minus squared distances for ``"euclidean"``. Blocks are screened in
    float32 (twice as fast as float64, from a float32 copy of X), and every candidate the screen
    lets through is scored again exactly in float64, so the result is that of float64 throughout.
    """

    def __init__(self, X: np.ndarray, metric: str, exact_screen: bool = False):
        # Distances do not change when every item moves by the same vector; centring first keeps
        # the tie step (relative to the largest score) and the rounding error of
        # |x|^2 + |y|^2 - 2 x.y on the scale of the distances, not of the offset.
        self.X = X if metric == "cosine" else X - X.mean(axis=0)
        X = self.X
        self.metric = metric
        self.n = X.shape[0]
        norms = np.concatenate(
            [np.linalg.norm(X[rows], axis=1) for rows in _row_chunks(self.n)]
        )  # chunk by chunk: no squared copy of the whole space
        self.inverse_norms = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        self.squared_norms = norms**2
        # Largest possible |score|: 1 for cosine, the squared diameter bound for distances.
        self.scale = 1.0 if metric == "cosine" else max(4 * float(self.squared_norms.max()), 1e-300)
        self.step = TIE_TOLERANCE * self.scale
        cosine = metric == "cosine"
        # One row's scores are one product with X: screening them in float64 from X itself
        # costs less than the float32 copy of X (0.2 s of Explore's layer change per model on a
        # corpus), and the candidates are scored exactly all the same.
        self.exact_screen = exact_screen
        screen_type = np.float64 if exact_screen else np.float32
        if not exact_screen:
            self.screen_X = _float32_rows(X, self.inverse_norms if cosine else None)
            self.screen_squared_norms = self.squared_norms.astype(np.float32)
        # A bound on one screened score's rounding error: gamma_d (Higham 2002, §3.1) for a dot
        # product of d terms, scaled to the largest score, with room for the norms' rounding.
        self.screen_error = (X.shape[1] + 8) * float(np.finfo(screen_type).eps) * self.scale

    def screened(self, rows: np.ndarray) -> np.ndarray:
        """float32 (or float64, ``exact_screen``) scores of ``rows`` against every item, shape
        (b, n); each row's own item -inf."""
        if self.exact_screen:
            scores = self.X[rows] @ self.X.T
            if self.metric == "cosine":
                scores *= self.inverse_norms[rows, None]
                scores *= self.inverse_norms[None, :]
            squared_norms = self.squared_norms
        else:
            scores = self.screen_X[rows] @ self.screen_X.T
            squared_norms = self.screen_squared_norms
        if self.metric == "euclidean":
            scores *= 2.0
            scores -= squared_norms[None, :]
            scores -= squared_norms[rows, None]
        scores[np.arange(len(rows)), rows] = -np.inf
        return scores

    def exact(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """float64 scores of the pairs (rows[i], columns[i]); a zero vector's cosines are 0."""
        dots = np.empty(len(rows))
        for start in range(0, len(rows), PAIR_CHUNK):
            part = slice(start, start + PAIR_CHUNK)
            dots[part] = np.einsum("ij,ij->i", self.X[rows[part]], self.X[columns[part]])
        if self.metric == "cosine":
            return dots * self.inverse_norms[rows] * self.inverse_norms[columns]
        return 2 * dots - self.squared_norms[rows] - self.squared_norms[columns]

    def reported(self, scores: np.ndarray) -> np.ndarray:
        """Cosines clipped to [-1, 1], or distances."""
        if self.metric == "cosine":
            return np.clip(scores, -1.0, 1.0)
        return np.sqrt(np.clip(-scores, 0.0, None))

    def keys(self, scores: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """Float keys, exact integers, larger = nearer and unique per row: the score rounded to
        ``step``, then the lower index. (|rounded| <= 1e9, so keys stay below 2**53.)"""
        return np.rint(scores / self.step) * self.n + (self.n - 1 - columns)

    def nearest(self, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest of each row (nearest first) and their values, shapes (b, k).

        Sorting or ``argpartition``-ing every row costs more than the products themselves, so each
        screened row is cut into chunks: the k-th largest chunk maximum is at most the k-th
        largest score, and only the items scoring above it, less the screen's error bound and two
        rounding steps (ties), are scored exactly and ranked by their keys.
        """
        screened = self.screened(rows)
        chunk = max(1, self.n // (16 * k))
        maxima = np.maximum.reduceat(screened, np.arange(0, self.n, chunk), axis=1)
        bound = np.partition(maxima, maxima.shape[1] - k, axis=1)[:, maxima.shape[1] - k]
        margin = 2 * self.screen_error + 2 * self.step
        screen_type = screened.dtype.type
        threshold = np.nextafter((bound - margin).astype(screen_type), screen_type(-np.inf))
        owner, column = np.nonzero(screened >= threshold[:, None])
        values = self.exact(rows[owner], column)
        order = np.lexsort((-self.keys(values, column), owner))
        owner, column, values = owner[order], column[order], values[order]
        rank = np.arange(len(owner)) - np.searchsorted(owner, np.arange(len(rows)))[owner]
        kept = rank < k
        top = column[kept].reshape(len(rows), k).astype(np.int64)
        return top, self.reported(values[kept].reshape(len(rows), k))

    def block_rows(self) -> int:
        return max(1, BLOCK_VALUES // max(self.n, 1))


def _float32_rows(X: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """``(X * scale[:, None]).astype(np.float32)`` (or ``X`` alone), the same values, computed
    :data:`PAIR_CHUNK` rows at a time: the float64 product of a corpus's ~22,000 words x 768
    was a 135 MB temporary beside the float32 copy, at the Explore page's memory peak."""
    out = np.empty(X.shape, dtype=np.float32)
    for rows in _row_chunks(X.shape[0]):
        out[rows] = X[rows] if scale is None else X[rows] * scale[rows, None]
    return out


def _row_chunks(n_rows: int) -> list[slice]:
    return [slice(start, start + PAIR_CHUNK) for start in range(0, n_rows, PAIR_CHUNK)]


def _checked_space(X, name: str, metric: str) -> np.ndarray:
    check_choice(metric, METRICS, "metric")
    return check_vectors(X, name, min_items=2)


def nearest_neighbours(X, item: int, k: int, metric: str = "cosine") -> Neighbours:
    """The ``k`` items nearest to ``item`` in the full space ``X``.

    Parameters
    ----------
    X : array-like of shape (n_items, n_dims)
        Item vectors at one layer (after any preprocessing), n_items >= 2.
    item : int
        Row of ``X``; negative counts from the end.
    k : int
        1 <= k <= n_items - 1.
    metric : {"cosine", "euclidean"}, default "cosine"

    Returns
    -------
    Neighbours

    Examples
    --------
    >>> X = [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [1.0, 0.0]]
    >>> found = nearest_neighbours(X, 0, k=2)
    >>> found.indices, found.values.round(3)
    (array([3, 1]), array([1.   , 0.994]))
    """
    X = _checked_space(X, "X", metric)
    item = _check_item(item, X.shape[0], X.shape)
    k = _check_k(k, X.shape[0], X.shape)
    indices, values = _Scorer(X, metric, exact_screen=True).nearest(np.array([item]), k)
    return Neighbours(item=item, indices=indices[0], values=values[0], metric=metric)


def _jaccard_rows(sets_a: np.ndarray, sets_b: np.ndarray) -> np.ndarray:
    """Row-wise Jaccard of two (n, k) arrays of distinct indices per row."""
    k = sets_a.shape[1]
    both = np.sort(np.concatenate([sets_a, sets_b], axis=1), axis=1)
    shared = np.count_nonzero(both[:, 1:] == both[:, :-1], axis=1)
    return shared / (2 * k - shared)


def _checked_pair(X_a, X_b, metric: str) -> tuple[np.ndarray, np.ndarray]:
    X_a = _checked_space(X_a, "X_a", metric)
    X_b = _checked_space(X_b, "X_b", metric)
    if X_a.shape[0] != X_b.shape[0]:
        raise ValueError(
            f"X_a and X_b must hold the same items: X_a has {X_a.shape[0]} rows while X_b has "
            f"{X_b.shape[0]} (shapes {X_a.shape} and {X_b.shape})"
        )
    return X_a, X_b


def compare_neighbours(X_a, X_b, item: int, k: int, metric: str = "cosine") -> NeighbourComparison:
    """One item's ``k`` nearest neighbours in model A and in model B, and their Jaccard overlap.

    Parameters
    ----------
    X_a : array-like of shape (n_items, d_a)
    X_b : array-like of shape (n_items, d_b)
        The same items in the same order; widths may differ.
    item, k, metric
        As in :func:`nearest_neighbours`.

    Returns
    -------
    NeighbourComparison

    Examples
    --------
    >>> X = [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.5, 0.5]]
    >>> compare_neighbours(X, X, item=0, k=2).jaccard
    1.0
    """
    X_a, X_b = _checked_pair(X_a, X_b, metric)
    return neighbour_comparison(
        nearest_neighbours(X_a, item, k, metric), nearest_neighbours(X_b, item, k, metric)
    )


def neighbour_comparison(a: Neighbours, b: Neighbours) -> NeighbourComparison:
    """The comparison of one item's neighbours found in model A (``a``) and in model B (``b``):
    :func:`compare_neighbours` for a caller that builds each model's vectors only when it needs
    them (a corpus's layer in float64 is ~150 MB per model)."""
    if (a.item, a.k) != (b.item, b.k):
        raise ValueError(
            f"a and b are neighbours of different queries: {a.item, a.k}, {b.item, b.k}"
        )
    jaccard = float(_jaccard_rows(a.indices[None], b.indices[None])[0])
    return NeighbourComparison(item=a.item, k=a.k, a=a, b=b, jaccard=jaccard)


def neighbour_sets(X, k: int, metric: str = "cosine") -> np.ndarray:
    """Every item's ``k`` nearest neighbours, shape (n_items, k), nearest first.

    Computed in blocks of rows (about :data:`BLOCK_VALUES` similarities at a time) with
    ``argpartition``, so memory beyond ``X`` is one block plus the (n_items, k) result.
    Row i equals ``nearest_neighbours(X, i, k, metric).indices``.
    """
    X = _checked_space(X, "X", metric)
    k = _check_k(k, X.shape[0], X.shape)
    scorer = _Scorer(X, metric)
    result = np.empty((X.shape[0], k), dtype=np.int64)
    step = scorer.block_rows()
    for start in range(0, X.shape[0], step):
        rows = np.arange(start, min(start + step, X.shape[0]))
        result[rows] = scorer.nearest(rows, k)[0]
    return result


def neighbour_overlap(X_a, X_b, k: int, metric: str = "cosine") -> np.ndarray:
    """Every item's Jaccard@k between its neighbour sets in A and in B: a local, per-item RSA.

    Parameters
    ----------
    X_a : array-like of shape (n_items, d_a)
    X_b : array-like of shape (n_items, d_b)
        The same items in the same order.
    k : int
        1 <= k <= n_items - 1.
    metric : {"cosine", "euclidean"}, default "cosine"

    Returns
    -------
    ndarray of shape (n_items,), values in [0, 1]
        ``|N_A(i) ∩ N_B(i)| / |N_A(i) ∪ N_B(i)|``; with k neighbours each it takes the values
        ``s / (2k - s)`` for ``s`` shared neighbours.

    Notes
    -----
    Two random neighbour sets of size k among n - 1 items share about ``k² / (n - 1)`` items, so
    the chance level is near ``k / (2n)`` for small k; compare with it before reading agreement
    into a value. Invariant to any rotation and scaling of either space (cosine), or rotation and
    translation (Euclidean). 20,000 x 768 items per model with k = 10 take a few seconds.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 8))
    >>> bool(np.all(neighbour_overlap(X, 3 * X, k=5) == 1.0))
    True
    """
    X_a, X_b = _checked_pair(X_a, X_b, metric)
    return _jaccard_rows(neighbour_sets(X_a, k, metric), neighbour_sets(X_b, k, metric))


# --- following a pair through depth ---------------------------------------------------------------


def pair_cosine_by_layer(vectors, i: int, j: int, preprocessing: str = "none") -> np.ndarray:
    """Cosine similarity of items ``i`` and ``j`` at every layer.

    Parameters
    ----------
    vectors : array-like of shape (n_layers, n_items, n_dims)
        Every layer's item vectors (``Items.vectors``).
    i, j : int
        Item indices; negative counts from the end.
    preprocessing : {"none", "center", "standardize", "remove_top_pcs"}, default "none"
        Applied to each layer's items before the cosine (centring needs the other items too).

    Returns
    -------
    ndarray of shape (n_layers,)
        0 where either vector is zero.

    Examples
    --------
    >>> layers = [[[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 2.0]]]
    >>> pair_cosine_by_layer(layers, 0, 1)
    array([1., 0.])
    """
    vectors = check_layer_vectors(vectors)
    n_items = vectors.shape[1]
    i = _check_item(i, n_items, vectors.shape)
    j = _check_item(j, n_items, vectors.shape)
    curve = np.empty(vectors.shape[0])
    for layer, X in enumerate(vectors):
        X = preprocess(X, preprocessing)[[i, j]]
        scorer = _Scorer(X, "cosine")
        curve[layer] = scorer.reported(scorer.exact(np.array([0]), np.array([1])))[0]
    return curve


def chance_jaccard(n_items: int, k: int) -> float:
    """The expected Jaccard@k of two neighbour lists drawn at random: the chance level.

    Each list is k items drawn without replacement from the ``n_items - 1`` other items, so the
    number shared is hypergeometric (each neighbour of A is in B's list with probability
    ``k / (n_items - 1)``); the result is the exact mean of ``s / (2k - s)`` over it, close to
    ``k / (2 (n_items - 1) - k)``.

    Examples
    --------
    >>> round(chance_jaccard(101, 5), 4)
    0.0283
    >>> chance_jaccard(6, 5)  # every other item is a neighbour in both lists
    1.0
    """
    from scipy.stats import hypergeom

    if not _is_index(n_items) or n_items < 2:
        raise ValueError(f"n_items must be an integer >= 2; got {n_items!r}")
    k = _check_k(k, n_items, (n_items,))
    shared = np.arange(k + 1)
    probability = hypergeom(n_items - 1, k, k).pmf(shared)
    return float(np.sum(probability * shared / (2 * k - shared)))


def same_left_context(items, i: int, j: int) -> bool:
    """True when word items ``i`` and ``j`` are the same word after the same words in their
    sentences (the same position and every word up to it equal, case kept).

    A causal model (GPT-2) sees only the left context, so two such occurrences get the same
    vector at every layer (cosine 1), however their sentences go on; a bidirectional model sees
    the rest of the sentence too. Always False for items other than words, and for an item with
    itself.
    """
    if items.unit != "word" or i == j:
        return False
    if items.position[i] != items.position[j]:
        return False

    def prefix(index: int) -> list[str]:
        members = np.flatnonzero(
            (items.sentence == items.sentence[index]) & (items.position <= items.position[index])
        )
        return [items.labels[m] for m in members[np.argsort(items.position[members])]]

    return prefix(i) == prefix(j)
