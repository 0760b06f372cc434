"""Two models' items at one layer each -> preprocessed vectors, item-by-item matrices, RSA and CKA.

The one path from hidden states to scores, shared by the CLI and the pages, so the numbers a
person sees in the app are the numbers ``python -m embexplorer compare`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import check_choice, check_paired_items
from .align import Items, paired_items
from .extract import HiddenStates
from .geometry import METRICS, preprocess, similarity_matrix
from .labels import correlation_symbol
from .models import resolve_layer
from .rsa import RSA_METHODS, RSAResult, linear_cka, rsa_score

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

    @property
    def labels(self) -> list[str]:
        return self.items_a.display_labels()

    def pair_values(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Upper-triangle values of both matrices and the pair each comes from ("bank · river")."""
        rows, cols = np.triu_indices(self.items_a.n_items, k=1)
        labels = self.labels
        pairs = [f"{labels[i]} · {labels[j]}" for i, j in zip(rows, cols, strict=True)]
        return self.matrix_a[rows, cols], self.matrix_b[rows, cols], pairs

    def fit_line(self) -> tuple[float, float] | None:
        """Least-squares slope and intercept of B's values on A's; None when A's are constant."""
        x, y, _ = self.pair_values()
        if np.ptp(x) == 0 or not (np.isfinite(x).all() and np.isfinite(y).all()):
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
) -> Comparison:
    """Compare the same items in two models' spaces.

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
    vectors_a = preprocess(items_a.vectors[layers[0]], preprocessing)
    vectors_b = preprocess(items_b.vectors[layers[1]], preprocessing)
    matrix_a = similarity_matrix(vectors_a, metric)
    matrix_b = similarity_matrix(vectors_b, metric)
    return Comparison(
        items_a=items_a,
        items_b=items_b,
        layers=layers,
        metric=metric,
        preprocessing=preprocessing,
        vectors_a=vectors_a,
        vectors_b=vectors_b,
        matrix_a=matrix_a,
        matrix_b=matrix_b,
        rsa=rsa_score(
            matrix_a,
            matrix_b,
            method=method,
            permutations=permutations,
            bootstraps=bootstraps,
            seed=seed,
        ),
        cka=float(linear_cka(vectors_a, vectors_b)),
        cka_debiased=float(linear_cka(vectors_a, vectors_b, debiased=True)),
    )


def compare_models(
    states_a: HiddenStates,
    states_b: HiddenStates,
    unit: str = "word",
    pooling: str = "mean",
    **settings,
) -> Comparison:
    """:func:`paired_items` then :func:`compare_items`."""
    items_a, items_b = paired_items(states_a, states_b, unit=unit, pooling=pooling)
    return compare_items(items_a, items_b, **settings)


def describe_rsa(rsa: RSAResult, names: tuple[str, str], unit: str) -> str:
    """One plain sentence on what the RSA number means, for a reader who is not a statistician."""
    if not rsa.defined:
        return f"RSA is not defined here: {rsa.reason}"
    value = rsa.spearman if rsa.method == "spearman" else rsa.pearson
    symbol = correlation_symbol(rsa.method)
    size = abs(value)
    strength = (
        "strongly"
        if size >= 0.7
        else "moderately"
        if size >= 0.4
        else "weakly"
        if size >= 0.1
        else "hardly"
    )
    direction = "" if value >= 0 else " (inversely)"
    sentence = (
        f"{symbol} = {value:.2f}: pairs of {unit}s that {names[0]} finds alike are {strength} "
        f"alike in {names[1]} too{direction}."
    )
    if rsa.permutations and np.isfinite(rsa.p_value):
        chance = (
            "unlikely to be chance"
            if rsa.p_value < 0.05
            else "compatible with chance (no evidence of shared structure)"
        )
        sentence += (
            f" Shuffling the {unit}s of one model {rsa.permutations:,} times gives a value this "
            f"high with p = {rsa.p_value:.3g}: {chance}."
        )
    return sentence


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


def sample_indices(n_items: int, max_items: int) -> np.ndarray:
    """At most ``max_items`` evenly spaced indices of ``range(n_items)``, in order (all if fewer).

    Used to draw a readable heatmap of a large set; the statistics still use every item.
    """
    if n_items <= max_items:
        return np.arange(n_items)
    return np.unique(np.linspace(0, n_items - 1, max_items).round().astype(np.int64))


def sample_pairs(n_pairs: int, max_pairs: int, seed: int = 0) -> np.ndarray:
    """At most ``max_pairs`` pair indices (sorted, seeded) for a scatter that stays responsive."""
    if n_pairs <= max_pairs:
        return np.arange(n_pairs)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_pairs, size=max_pairs, replace=False))
