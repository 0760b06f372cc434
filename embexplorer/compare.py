"""Two models' items at one layer each -> preprocessed vectors, item-by-item matrices, RSA and CKA.

The one path from hidden states to scores, shared by the CLI and the pages, so the numbers a
person sees in the app are the numbers ``python -m embexplorer compare`` prints.
"""

from __future__ import annotations

import dataclasses
import gc
import math
from dataclasses import dataclass

import numpy as np

from ._validation import MIN_ITEMS, check_choice, check_paired_items
from .align import Items, duplicate_sentences, paired_items
from .extract import HiddenStates, extract_hidden_states, release_freed_memory
from .geometry import METRICS, preprocess, similarity_matrix
from .i18n import N_, Message
from .labels import UNIT_LABELS
from .layers import same_word_pairs
from .models import LoadedModel, control_model, resolve_layer
from .rsa import RSA_METHODS, RSAResult, is_constant, linear_cka_both, rsa_score, spread_reason

# Interactive budgets: permutations x pairs and bootstraps x pairs stay near these many values
# (about a second here), so a corpus still gets a p-value and a CI without a long wait.
INTERACTIVE_PERMUTATION_VALUES = 40_000_000
INTERACTIVE_BOOTSTRAP_VALUES = 10_000_000


@dataclass
class Comparison:
    """Everything the Similarity view and the CLI report show for one setting."""

    items_a: Items
    items_b: Items
    layers: tuple[int, int]
    metric: str
    preprocessing: str
    vectors_a: np.ndarray
    vectors_b: np.ndarray
    matrix_a: np.ndarray
    matrix_b: np.ndarray
    rsa: RSAResult
    cka: float
    cka_debiased: float
    cka_reason: str = ""
    duplicate_sentences: tuple[int, ...] = ()

    @property
    def labels(self) -> list[str]:
        return self.items_a.display_labels()

    @property
    def n_duplicate_sentences(self) -> int:
        """Texts that repeated an earlier one exactly and were counted once (no items)."""
        return len(self.duplicate_sentences)

    @property
    def items_sharing_tokens(self) -> list[dict]:
        """The word items that share a model token with another word, and in which model(s):
        ``[{"index", "item", "models": ["A", "B"]}]`` (their vectors are partly another word's)."""
        flags = [
            np.zeros(self.items_a.n_items, dtype=bool)
            if items.shared_token is None
            else items.shared_token
            for items in (self.items_a, self.items_b)
        ]
        return [
            {
                "index": int(index),
                "item": self.items_a.labels[index],
                "models": [tag for tag, flag in zip("AB", flags, strict=True) if flag[index]],
            }
            for index in np.flatnonzero(flags[0] | flags[1])
        ]

    def pair_values(self) -> tuple[np.ndarray, np.ndarray]:
        """Upper-triangle values of both matrices, row by row (the pairs RSA compares)."""
        rows, cols = np.triu_indices(self.items_a.n_items, k=1)
        return self.matrix_a[rows, cols], self.matrix_b[rows, cols]

    def pair_labels(self, pairs: np.ndarray | None = None) -> list[str]:
        """The label of each pair ("bank · river"), in :meth:`pair_values`'s order; only the
        pairs at positions ``pairs`` when given (a corpus's sample has ~500,000 pairs: their
        labels took longer to build than the scatter that shows 20,000 of them)."""
        rows, cols = np.triu_indices(self.items_a.n_items, k=1)
        if pairs is not None:
            rows, cols = rows[pairs], cols[pairs]
        labels = self.labels
        return [f"{labels[i]} · {labels[j]}" for i, j in zip(rows, cols, strict=True)]

    def fit_line(self) -> tuple[float, float] | None:
        """Least-squares slope and intercept of B's values on A's; None when A's are constant."""
        x, y = self.pair_values()
        if not (np.isfinite(x).all() and np.isfinite(y).all()) or is_constant(x):
            return None
        slope, intercept = np.polyfit(x, y, deg=1)
        return float(slope), float(intercept)


def compare_items(
    items_a: Items,
    items_b: Items,
    layer_a: int = -1,
    layer_b: int = -1,
    metric: str = "cosine",
    preprocessing: str = "none",
    method: str = "spearman",
    permutations: int = 1000,
    bootstraps: int = 1000,
    seed: int = 0,
    exclude_same_word: bool = False,
) -> Comparison:
    """Compare the same items in two models' spaces.

    Pairs of two occurrences of the same word (in either model's sense of "same": see
    :func:`embexplorer.layers.same_word_pairs`) are alike in any two models; they are counted
    (``rsa.n_same_word_pairs``) and, with ``exclude_same_word``, left out of the RSA score, its
    p-value and its CI.

    Raises
    ------
    ValueError
        When the items differ, a layer is out of range, a name is unknown, or there are fewer
        than three items.
    """
    check_choice(metric, METRICS, "metric")
    check_choice(method, RSA_METHODS, "RSA method")
    check_paired_items(items_a, items_b)
    layers = (
        resolve_layer(layer_a, items_a.vectors.shape[0], "model A"),
        resolve_layer(layer_b, items_b.vectors.shape[0], "model B"),
    )
    raw_a, raw_b = items_a.vectors[layers[0]], items_b.vectors[layers[1]]
    # Checked before preprocessing: centring one vector plus noise leaves only the noise.
    noise = spread_reason(raw_a, raw_b)
    vectors_a = preprocess(raw_a, preprocessing)
    vectors_b = preprocess(raw_b, preprocessing)
    matrix_a = similarity_matrix(vectors_a, metric)
    matrix_b = similarity_matrix(vectors_b, metric)
    rsa = rsa_score(
        matrix_a,
        matrix_b,
        method=method,
        permutations=0,
        bootstraps=0,
        same_word=_same_word(items_a, items_b),
        exclude_same_word=exclude_same_word,
    )
    if noise:
        nan = math.nan
        rsa = dataclasses.replace(
            rsa, pearson=nan, spearman=nan, p_value=nan, ci_low=nan, ci_high=nan, reason=noise
        )
    cka, cka_debiased = (math.nan, math.nan) if noise else linear_cka_both(vectors_a, vectors_b)
    comparison = Comparison(
        items_a=items_a,
        items_b=items_b,
        layers=layers,
        metric=metric,
        preprocessing=preprocessing,
        vectors_a=vectors_a,
        vectors_b=vectors_b,
        matrix_a=matrix_a,
        matrix_b=matrix_b,
        rsa=rsa,
        cka=cka,
        cka_debiased=cka_debiased,
        cka_reason=noise,
    )
    if permutations == 0 and bootstraps == 0:
        return comparison
    return with_resampling(comparison, permutations, bootstraps, seed, exclude_same_word)


def _same_word(items_a: Items, items_b: Items) -> np.ndarray:
    return same_word_pairs(items_a) | same_word_pairs(items_b)


def with_resampling(
    comparison: Comparison,
    permutations: int,
    bootstraps: int,
    seed: int = 0,
    exclude_same_word: bool = False,
) -> Comparison:
    """The same comparison with its RSA permutation p-value and bootstrap CI.

    ``compare_items(..., permutations=0, bootstraps=0)`` gives the scores at once; this adds the
    resampling, the slow part on a corpus's 1,000 items (a page shows the scores first). The
    result equals ``compare_items`` called with these counts.
    """
    rsa = comparison.rsa
    if comparison.cka_reason:  # noise only: nothing to resample (every score is NaN)
        rsa = dataclasses.replace(rsa, permutations=permutations, bootstraps=bootstraps)
    else:
        rsa = rsa_score(
            comparison.matrix_a,
            comparison.matrix_b,
            method=rsa.method,
            permutations=permutations,
            bootstraps=bootstraps,
            seed=seed,
            same_word=_same_word(comparison.items_a, comparison.items_b),
            exclude_same_word=exclude_same_word,
        )
    return dataclasses.replace(comparison, rsa=rsa)


def compare_models(
    states_a: HiddenStates,
    states_b: HiddenStates,
    unit: str = "word",
    pooling: str = "mean",
    drop_duplicate_sentences: bool = True,
    **settings,
) -> Comparison:
    """:func:`paired_items` then :func:`compare_items`.

    A text that repeats an earlier one exactly is counted once (its copies would pair every word
    with itself); the comparison lists the dropped texts in ``duplicate_sentences``.
    """
    items_a, items_b = paired_items(
        states_a,
        states_b,
        unit=unit,
        pooling=pooling,
        drop_duplicate_sentences=drop_duplicate_sentences,
    )
    repeats = tuple(duplicate_sentences(states_a.texts)) if drop_duplicate_sentences else ()
    check_distinct_items(states_a.texts, repeats, items_a)
    comparison = compare_items(items_a, items_b, **settings)
    comparison.duplicate_sentences = repeats
    return comparison


def check_distinct_items(texts, repeats, items: Items) -> None:
    """Raise when the texts left once exact repeats (``repeats``) are counted once give too few
    items for RSA, saying that the repeats are why.

    Raises
    ------
    ValueError
    """
    if repeats and items.n_items < MIN_ITEMS:
        distinct = len(texts) - len(repeats)
        # A Message: its English text is how the Similarity page recognises this case, and
        # the page shows it in the visitor's language.
        raise ValueError(
            Message(
                N_(
                    "RSA is not defined: the {n_texts} texts hold {distinct} distinct sentence(s) "
                    "(exact repeats are counted once), which give {n} item(s) ({unit}); RSA needs "
                    "at least {min_items}"
                ),
                n_texts=len(texts),
                distinct=distinct,
                n=items.n_items,
                unit=Message(UNIT_LABELS[items.unit]),
                min_items=MIN_ITEMS,
            )
        )


# --- the chance baseline: random-weight copies of both models -------------------------------------


def control_seeds(seed: int = 0) -> tuple[int, int]:
    """Weight seeds of the two control models: different for A and B, fixed by ``seed``.

    Never 0, the seed the offline stand-ins are built with, so a stand-in's control is not the
    stand-in itself.

    Examples
    --------
    >>> control_seeds(0), control_seeds(1)
    ((1, 2), (3, 4))
    """
    return 2 * seed + 1, 2 * seed + 2


@dataclass(frozen=True)
class ControlResult:
    """The same comparison for random-weight copies of both models (the chance baseline).

    Attributes
    ----------
    seed : int
        The control seed; model A's copy has weights seed ``seeds[0]``, B's ``seeds[1]``.
    seeds : tuple of int
    rsa : RSAResult
    cka, cka_debiased : float
    """

    seed: int
    seeds: tuple[int, int]
    rsa: RSAResult
    cka: float
    cka_debiased: float

    def to_dict(self) -> dict:
        """The control's scores for JSON: spearman, pearson, p_value, CI, seeds, CKA (NaN -> None)."""
        rsa = self.rsa.to_dict()
        keys = ("spearman", "pearson", "p_value", "ci_low", "ci_high", "method", "defined")
        data = {key: rsa[key] for key in keys}
        data.update(
            reason=rsa["reason"],
            n_same_word_pairs=rsa["n_same_word_pairs"],
            seed=self.seed,
            seeds=list(self.seeds),
            weights="random (each architecture's own initialiser)",
            cka=float(self.cka) if np.isfinite(self.cka) else None,
            cka_debiased=float(self.cka_debiased) if np.isfinite(self.cka_debiased) else None,
        )
        return data


def control_comparison(
    loaded_a: LoadedModel,
    loaded_b: LoadedModel,
    texts: list[str] | tuple[str, ...],
    control_seed: int = 0,
    unit: str = "word",
    pooling: str = "mean",
    **settings,
) -> ControlResult:
    """The comparison of random-weight copies of both models on the same texts, scored the same.

    Two models agree on some structure for free: repeated words, shared prefixes, sentence
    membership. Copies with random weights (:func:`embexplorer.models.control_model`, seeds from
    :func:`control_seeds`) show how much: the trained models' score means something only by its
    distance from this one. Each copy is built, run and released in turn, so at most one is in
    memory; the caller caches the result if it wants to.

    Parameters
    ----------
    loaded_a, loaded_b : LoadedModel
        The trained models; their configs and tokenizers are reused, their weights are not.
    texts : sequence of str
    control_seed : int
        Picks the weight seeds (:func:`control_seeds`).
    unit, pooling, **settings
        As for :func:`compare_models` (layers, metric, preprocessing, method, permutations,
        bootstraps, seed of the statistics, exclude_same_word).
    """
    states = [
        control_states(loaded, which, texts, control_seed)
        for which, loaded in enumerate((loaded_a, loaded_b))
    ]
    return control_from_states(states[0], states[1], control_seed, unit, pooling, **settings)


def control_states(
    loaded: LoadedModel,
    which: int,
    texts: list[str] | tuple[str, ...],
    control_seed: int = 0,
    dtype=np.float32,
    spill_mb: float | None = None,
) -> HiddenStates:
    """Hidden states of the random-weight copy of model ``which`` (0 = A, 1 = B) on ``texts``.

    The copy (weights seed ``control_seeds(control_seed)[which]``) is built, run and released
    before this returns: only its hidden states are kept, so a caller may cache them without
    keeping a second model in memory. ``dtype`` and ``spill_mb`` as in
    :func:`extract_hidden_states`.
    """
    control = control_model(loaded, control_seeds(control_seed)[which])
    try:
        return extract_hidden_states(control, list(texts), dtype=dtype, spill_mb=spill_mb)
    finally:
        del control
        # The copy's modules may sit in reference cycles; collected here only, as a full
        # collection costs ~0.3 s in the app, too much after every typed sentence's model run.
        gc.collect()
        release_freed_memory()  # the copy's weights, ~500 MB for a full-size model


def control_from_states(
    states_a: HiddenStates,
    states_b: HiddenStates,
    control_seed: int = 0,
    unit: str = "word",
    pooling: str = "mean",
    **settings,
) -> ControlResult:
    """The control's scores from the random-weight copies' hidden states
    (:func:`control_states`), compared as :func:`compare_models` compares the trained ones."""
    comparison = compare_models(states_a, states_b, unit=unit, pooling=pooling, **settings)
    return ControlResult(
        seed=control_seed,
        seeds=control_seeds(control_seed),
        rsa=comparison.rsa,
        cka=comparison.cka,
        cka_debiased=comparison.cka_debiased,
    )


# --- words for the reader -------------------------------------------------------------------------


def interactive_resamples(n_items: int, most: int, budget: int, least: int = 100) -> int:
    """Permutations (or bootstraps) for an interactive view: ``most`` for small sets, fewer for
    large ones so ``resamples x pairs`` stays within ``budget``, never fewer than ``least``.

    Examples
    --------
    >>> interactive_resamples(50, most=2000, budget=40_000_000)
    2000
    >>> interactive_resamples(1000, most=2000, budget=40_000_000)
    100
    """
    n_pairs = max(n_items * (n_items - 1) // 2, 1)
    return int(min(most, max(least, budget // n_pairs)))
