"""Layer by layer: how every layer of model A matches every layer of model B, and how the geometry
of each model's space changes with depth.

:func:`layer_similarity_matrix` gives the (L_A + 1) x (L_B + 1) matrix of RSA correlations (or linear CKA)
between all pairs of hidden states from hidden states already extracted: no model runs. Each
layer's pair vector (or Gram matrix) is computed once per model, so the whole matrix is one matrix
product. :func:`layer_profile` gives per-layer curves of anisotropy, vector norm, intra-sentence
similarity and the first principal component's share of variance. Anisotropy follows Ethayarajh
(2019): the mean cosine between different words in different sentences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ._validation import check_choice, check_layered, check_paired_items, check_vectors
from .align import Items, word_key
from .geometry import (
    METRICS,
    PREPROCESSING,
    _first_pc_share,
    _pair_values,
    _preprocess,
    _row_norms,
    _unit_rows,
    group_membership,
)
from .i18n import N_, _
from .rsa import average_ranks

LAYER_METHODS = ("spearman", "pearson", "cka")
LAYER_MEASURES = {
    "anisotropy": N_("anisotropy (mean cosine, different words in different sentences)"),
    "mean_norm": N_("mean vector norm"),
    "intra_sentence": N_("intra-sentence similarity"),
    "first_pc_share": N_("share of variance on PC1"),
}


# --- the layer-by-layer match ---------------------------------------------------------------------


def _standardised_rows(values: np.ndarray) -> np.ndarray:
    """Centre each row and scale it to unit length, in place (``values`` is returned); a
    constant row becomes NaN (undefined)."""
    centred = values
    centred -= values.mean(axis=1, keepdims=True)
    # Row by row: the norm of all rows at once squares a copy of them all.
    norms = np.concatenate(
        [
            np.linalg.norm(centred[row : row + 1], axis=1, keepdims=True)
            for row in range(len(centred))
        ]
    )
    centred /= np.where(norms > 0, norms, 1.0)  # in place: 13 rows of 500,000 pairs each
    centred[norms[:, 0] == 0] = np.nan
    return centred


def layer_pair_vectors(
    vectors, metric: str = "cosine", preprocessing: str = "none", method: str = "spearman"
) -> np.ndarray:
    """Each layer's comparison vector, standardised, so that dot products are correlations.

    Parameters
    ----------
    vectors : array-like of shape (n_layers, n_items, n_dims)
    metric, preprocessing : str
        As in :func:`embexplorer.geometry.similarity_matrix` / :func:`~embexplorer.geometry.preprocess`.
    method : {"spearman", "pearson", "cka"}

    Returns
    -------
    ndarray of shape (n_layers, n_pairs) for RSA, (n_layers, n_items ** 2) for CKA
        RSA: the upper triangle of the layer's item-by-item matrix (ranked for Spearman), centred
        and scaled to unit length. CKA: the layer's Gram matrix of column-centred vectors, flattened
        and scaled to unit length (``metric`` plays no part). A row with no spread is NaN.
    """
    _check_layer_settings(metric, preprocessing, method)
    return _layer_pair_vectors(check_layered(vectors), metric, preprocessing, method)


def _check_layer_settings(metric: str, preprocessing: str, method: str) -> None:
    check_choice(method, LAYER_METHODS, "layer comparison method")
    check_choice(metric, METRICS, "metric")
    check_choice(preprocessing, PREPROCESSING, "preprocessing")


def _layer_pair_vectors(
    layered: np.ndarray, metric: str, preprocessing: str, method: str
) -> np.ndarray:
    """:func:`layer_pair_vectors` on settings and a (n_layers, n_items, n_dims) array already
    checked."""
    # Filled layer by layer and standardised in place: a list of rows, its stacked copy and a
    # standardised copy held 13 x 500,000 pairs (52 MB) three times at once on a corpus.
    stacked = None
    for index, layer in enumerate(layered):
        # check_layered found every value finite: the per-layer kernels need no second check.
        prepared = _preprocess(np.asarray(layer, dtype=np.float64), preprocessing)
        if method == "cka":
            centred = prepared - prepared.mean(axis=0)
            row = (centred @ centred.T).ravel()  # already double-centred
        elif method == "spearman":
            # Exact ties only, as scipy.stats.rankdata ranked them here before.
            row = average_ranks(_pair_values(prepared, metric), rtol=0.0)
        else:
            row = _pair_values(prepared, metric)
        if stacked is None:
            stacked = np.empty((len(layered), row.size))
        stacked[index] = row
    if method == "cka":
        norms = np.linalg.norm(stacked, axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(norms > 0, stacked / np.where(norms > 0, norms, 1.0), np.nan)
    return _standardised_rows(stacked)


def layer_similarity_matrix(
    items_a: Items,
    items_b: Items,
    metric: str = "cosine",
    preprocessing: str = "none",
    method: str = "spearman",
) -> np.ndarray:
    """RSA (or linear CKA) between every layer of model A and every layer of model B.

    Parameters
    ----------
    items_a, items_b : Items
        The same word or sentence items in both models (:func:`embexplorer.align.paired_items`),
        with ``vectors`` of shape (n_hidden_states, n_items, dim).
    metric : {"cosine", "euclidean"}
        The item-by-item matrix RSA compares (not used by CKA).
    preprocessing : {"none", "center", "standardize", "remove_top_pcs"}
        Applied to each layer's vectors separately, as on the other pages.
    method : {"spearman", "pearson", "cka"}

    Returns
    -------
    ndarray of shape (n_hidden_states_a, n_hidden_states_b)
        Row i, column j compares layer i of A with layer j of B (0 = embeddings). Equals
        ``rsa.rsa_score(S_a, S_b).spearman`` (or ``.pearson``), or ``rsa.linear_cka(X_a, X_b)``,
        cell by cell; NaN where a layer's values have no spread.

    Notes
    -----
    Each layer's pair vector is ranked (Spearman) and standardised once per model, so all
    L_A x L_B correlations come from one matrix product. CKA uses the flattened, normalised Gram
    matrices of column-centred vectors: <K_a, K_b>_F / (||K_a||_F ||K_b||_F) is linear CKA.

    Examples
    --------
    >>> import numpy as np
    >>> from embexplorer.align import Items
    >>> rng = np.random.default_rng(0)
    >>> def items(vectors):
    ...     n = vectors.shape[1]
    ...     return Items("word", list("abcdef")[:n], np.zeros(n, int), np.arange(n), vectors, [])
    >>> A = rng.standard_normal((3, 6, 4))
    >>> layer_similarity_matrix(items(A), items(A)).diagonal().round(6)
    array([1., 1., 1.])
    """
    _check_layer_settings(metric, preprocessing, method)
    check_paired_items(items_a, items_b)
    vectors_a = check_layered(items_a.vectors, "items_a.vectors")
    vectors_b = check_layered(items_b.vectors, "items_b.vectors")
    if vectors_a.shape[1] != vectors_b.shape[1]:
        raise ValueError(
            f"items_a.vectors has {vectors_a.shape[1]} items while items_b.vectors has "
            f"{vectors_b.shape[1]} (shapes {vectors_a.shape} and {vectors_b.shape})"
        )
    rows_a = _layer_pair_vectors(vectors_a, metric, preprocessing, method)
    rows_b = _layer_pair_vectors(vectors_b, metric, preprocessing, method)
    return np.clip(rows_a @ rows_b.T, -1.0, 1.0)


def best_match(matrix) -> tuple[int, int]:
    """The (layer of A, layer of B) with the highest value; ties go to the earliest cell."""
    array = np.asarray(matrix, dtype=np.float64)
    if array.ndim != 2 or array.size == 0 or not np.isfinite(array).any():
        raise ValueError(
            _("no defined value in a matrix of shape {shape}").format(shape=array.shape)
        )
    flat = int(np.nanargmax(array))
    return flat // array.shape[1], flat % array.shape[1]


# --- per-layer geometry ---------------------------------------------------------------------------


def word_keys(items: Items) -> list[str]:
    """Each item's word as occurrences are matched: case kept for a cased model, lower-cased for
    one whose tokenizer lower-cases (see :func:`embexplorer.align.word_key`)."""
    return [word_key(word or label, items.cased) for word, label in _words(items)]


def same_word_pairs(items: Items) -> np.ndarray:
    """(n_items, n_items) bool: True where two items are the same word (see :func:`word_keys`)."""
    # Compared as integer codes: a million string comparisons took ~0.1 s on 1,000 items.
    codes = np.unique(np.array(word_keys(items), dtype=str), return_inverse=True)[1]
    return codes[:, None] == codes[None, :]


def _words(items: Items) -> list[tuple[str, str]]:
    words = items.words if len(items.words) == items.n_items else [""] * items.n_items
    return list(zip(words, items.labels, strict=True))


def _pair_count(sizes: np.ndarray) -> int:
    """Number of pairs of different items inside groups of these sizes."""
    return int((sizes * (sizes - 1) // 2).sum())


def _squared_norm(sums: np.ndarray) -> float:
    """Sum of squares of every entry (of a vector, or of all rows of a matrix); einsum, not a
    threaded BLAS call, which costs more than it saves on a busy 2-core server."""
    flat = np.ravel(sums)
    return float(np.einsum("i,i->", flat, flat))


@dataclass(frozen=True)
class _ItemGroups:
    """Which items share a sentence, a word, or both, as sparse membership matrices
    (:func:`~embexplorer.geometry.group_membership`): built once per set of items and reused at
    every layer, where each group sum is one sparse product."""

    by_sentence: sparse.csr_matrix
    sentence_sizes: np.ndarray
    by_word: sparse.csr_matrix
    by_sentence_and_word: sparse.csr_matrix
    baseline_pairs: int  # pairs of different words in different sentences

    @classmethod
    def of(cls, sentence: np.ndarray, words) -> _ItemGroups:
        _, word_ids = np.unique(np.asarray(words, dtype=object).astype(str), return_inverse=True)
        by_sentence, sentence_sizes, _ = group_membership(sentence)
        by_word, word_sizes, _ = group_membership(word_ids)
        by_both, both_sizes, _ = group_membership(np.column_stack([sentence, word_ids.ravel()]))
        # Inclusion-exclusion: all pairs, minus those in one sentence, minus those of one word,
        # plus those of one word in one sentence (subtracted twice).
        pairs = (
            _pair_count(np.array([sentence.size]))
            - _pair_count(sentence_sizes)
            - _pair_count(word_sizes)
            + _pair_count(both_sizes)
        )
        return cls(by_sentence, sentence_sizes, by_word, by_both, pairs)


def _anisotropy(units: np.ndarray, sentence_sums: np.ndarray, groups: _ItemGroups) -> float:
    """:func:`contextual_anisotropy` from the unit rows and their sums per sentence.

    The sum of cosines over all pairs inside the groups of one grouping is
    (sum over groups of |group sum|^2 - sum of |u_i|^2) / 2; in the inclusion-exclusion the
    sum of |u_i|^2 is added twice and subtracted twice, so it drops out.
    """
    if groups.baseline_pairs <= 0:
        return float("nan")
    total = (
        _squared_norm(sentence_sums.sum(axis=0))
        - _squared_norm(sentence_sums)
        - _squared_norm(groups.by_word @ units)
        + _squared_norm(groups.by_sentence_and_word @ units)
    ) / 2
    return total / groups.baseline_pairs


def _intra_sentence(sentence_unit_sums: np.ndarray, sentence_sums: np.ndarray, sizes) -> float:
    """:func:`intra_sentence_similarity` from the sums per sentence of the unit rows and of the
    rows: a sentence's cosines with its mean add up to (sum of its unit rows) . (unit mean)."""
    cosine_sums = np.einsum("ij,ij->i", sentence_unit_sums, _unit_rows(sentence_sums))
    kept = sizes >= 2
    per_sentence = np.clip(cosine_sums[kept] / sizes[kept], -1.0, 1.0)
    return float(per_sentence.mean()) if per_sentence.size else float("nan")


def contextual_anisotropy(X, sentence, words) -> float:
    """Mean cosine between items of different words in different sentences (Ethayarajh 2019).

    Parameters
    ----------
    X : array-like of shape (n_items, n_dims)
    sentence : array-like of shape (n_items,)
        The sentence each item comes from.
    words : sequence of str, length n_items
        Each item's word as occurrences are matched (:func:`word_keys`).

    Returns
    -------
    float
        The exact mean over every such pair (Ethayarajh averages a random sample of them; this is
        the value that sample estimates). NaN when there is no such pair.

    Notes
    -----
    Computed in O(n d) from sums of unit vectors, by inclusion-exclusion: all pairs, minus the
    pairs in one sentence, minus the pairs of one word, plus the pairs of one word in one sentence.
    Zero vectors count as cosine 0 with everything.

    Examples
    --------
    >>> X = [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [3.0, 4.0]]
    >>> round(contextual_anisotropy(X, [0, 0, 1, 1], ["a", "b", "a", "c"]), 12)  # (.6 + 0 + .8) / 3
    0.466666666667
    """
    units = _unit_rows(check_vectors(X, min_items=2))
    n = units.shape[0]
    sentence = np.asarray(sentence)
    if sentence.shape != (n,) or len(words) != n:
        raise ValueError(
            f"X has {n} items while sentence has shape {sentence.shape} and words {len(words)} "
            "entries"
        )
    groups = _ItemGroups.of(sentence, words)
    return _anisotropy(units, groups.by_sentence @ units, groups)


def intra_sentence_similarity(X, sentence) -> float:
    """Mean cosine of each item to its sentence's mean vector, averaged over sentences.

    Sentences with a single item are left out (their similarity is 1 by construction); NaN when
    none is left. This is Ethayarajh's (2019) intra-sentence similarity, without the anisotropy
    adjustment.

    Examples
    --------
    >>> intra_sentence_similarity([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]], [0, 0, 1, 1])
    0.8535533905932737
    """
    X = np.asarray(X, dtype=np.float64)
    sentence = np.asarray(sentence)
    if X.ndim != 2 or sentence.shape != (X.shape[0],):
        raise ValueError(
            f"X must be (n_items, n_dims) and sentence (n_items,); got {X.shape} and "
            f"{sentence.shape}"
        )
    # O(n d): each sentence's cosines with its mean from two sparse group sums.
    by_sentence, sizes, _ = group_membership(sentence)
    return _intra_sentence(by_sentence @ _unit_rows(X), by_sentence @ X, sizes)


@dataclass(frozen=True)
class LayerProfile:
    """Per-layer geometry of one model's items; each array has one value per hidden state."""

    preprocessing: str
    anisotropy: np.ndarray
    mean_norm: np.ndarray
    intra_sentence: np.ndarray
    first_pc_share: np.ndarray

    @property
    def layers(self) -> np.ndarray:
        return np.arange(self.anisotropy.size)

    def measure(self, name: str) -> np.ndarray:
        check_choice(name, tuple(LAYER_MEASURES), "layer measure")
        return getattr(self, name)


def layer_profile(items: Items, preprocessing: str = "none") -> LayerProfile:
    """Anisotropy, mean norm, intra-sentence similarity and PC1 share at every layer.

    Parameters
    ----------
    items : Items
        One model's items (at least 2).
    preprocessing : str
        Applied at each layer before measuring (see :func:`embexplorer.geometry.preprocess`).

    Returns
    -------
    LayerProfile

    Notes
    -----
    Anisotropy is the mean cosine between items of different words in different sentences
    (:func:`contextual_anisotropy`, Ethayarajh's baseline; he samples such pairs at random, this
    takes their exact mean); NaN when there is no such pair. Occurrences are matched by
    :func:`word_keys` (case kept for a cased model).

    Each layer is converted to float64 once; its norms and unit rows serve every measure, and the
    sentence and word groups are built once for all layers. For float16 or float32 hidden states
    the PC1 share's scatter matrix is formed in float32 (see
    :func:`embexplorer.geometry.first_pc_share`): about 1e-7 relative from the float64 value.

    References
    ----------
    Ethayarajh, K. (2019). How contextual are contextualized word representations? EMNLP.
    """
    check_choice(preprocessing, PREPROCESSING, "preprocessing")
    layered = check_layered(items.vectors, "items.vectors")
    if layered.shape[1] < 2:
        raise ValueError(
            _("a layer profile needs at least 2 items; got {n}").format(n=layered.shape[1])
        )
    sentence, keys = np.asarray(items.sentence), word_keys(items)
    if sentence.shape != (layered.shape[1],) or len(keys) != layered.shape[1]:
        raise ValueError(
            f"items.vectors has {layered.shape[1]} items while items.sentence has shape "
            f"{sentence.shape} and items.labels {len(keys)} entries"
        )
    groups = _ItemGroups.of(sentence, keys)
    # Hidden states stored as float16 or float32 need no float64 scatter matrix for the PC1 share.
    product_dtype = np.float32 if layered.dtype.itemsize <= 4 else np.float64
    values: dict[str, list[float]] = {name: [] for name in LAYER_MEASURES}
    for layer in layered:
        # Checked once (check_layered); every measure shares the layer's norms and unit rows.
        X = _preprocess(np.asarray(layer, dtype=np.float64), preprocessing)
        norms = _row_norms(X)
        units = _unit_rows(X, norms)
        sentence_unit_sums = groups.by_sentence @ units
        values["anisotropy"].append(_anisotropy(units, sentence_unit_sums, groups))
        values["mean_norm"].append(float(norms.mean()))
        values["intra_sentence"].append(
            _intra_sentence(sentence_unit_sums, groups.by_sentence @ X, groups.sentence_sizes)
        )
        values["first_pc_share"].append(_first_pc_share(X, product_dtype))
    return LayerProfile(
        preprocessing=preprocessing, **{name: np.array(v) for name, v in values.items()}
    )
