"""Rogue dimensions and outsized tokens: the few coordinates and positions that dominate cosines.

A handful of dimensions carry huge values in every GPT-2 vector, so they decide most cosine
similarities (Timkey & van Schijndel 2021); and the first position of a GPT-2 input has a norm many
times the others' (an attention sink; Sun et al. 2024).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .align import Items
from .geometry import check_vectors, per_dimension_cosine_contribution


@dataclass(frozen=True)
class DimensionContributions:
    """The dimensions that add most to the sum of cosines over all pairs of different items.

    Attributes
    ----------
    dims : ndarray of shape (k,)
        Dimension indices, largest absolute contribution first.
    contribution : ndarray of shape (k,)
        ``sum_{j<k} u_ji u_ki`` over unit rows u.
    share : ndarray of shape (k,)
        Contribution over the sum of all |contributions|: 0.5 means the dimension alone moves the
        cosines as much as half of all the dimensions together.
    cosine_sum : float
        Sum of all contributions: the sum of the upper-triangle cosines.
    """

    dims: np.ndarray
    contribution: np.ndarray
    share: np.ndarray
    cosine_sum: float


def top_dimensions(X, k: int = 10) -> DimensionContributions:
    """The ``k`` dimensions with the largest per-dimension cosine contribution (by magnitude).

    Examples
    --------
    >>> result = top_dimensions([[10.0, 1.0, 0.0], [10.0, 0.0, 1.0], [10.0, -1.0, 0.0]], k=2)
    >>> int(result.dims[0]), round(float(result.share[0]), 3)
    (0, 0.997)
    """
    X = check_vectors(X, min_items=2)
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}")
    contribution = per_dimension_cosine_contribution(X)
    magnitude = np.abs(contribution)
    total = magnitude.sum()
    order = np.argsort(-magnitude, kind="stable")[: min(k, contribution.size)]
    order = order[magnitude[order] > 0] if total > 0 else order[:0]
    return DimensionContributions(
        dims=order,
        contribution=contribution[order],
        share=contribution[order] / total if total > 0 else np.zeros(order.size),
        cosine_sum=float(contribution.sum()),
    )


@dataclass(frozen=True)
class NormOutliers:
    """The items with the largest vector norms, and how far above the median they are."""

    indices: np.ndarray
    norms: np.ndarray
    ratio_to_median: np.ndarray
    median: float


def largest_norms(X, k: int = 10) -> NormOutliers:
    """The ``k`` rows with the largest Euclidean norm, largest first.

    Examples
    --------
    >>> largest_norms([[3.0, 4.0], [1.0, 0.0], [0.0, 1.0]], k=1).ratio_to_median.tolist()
    [5.0]
    """
    X = check_vectors(X)
    norms = np.linalg.norm(X, axis=1)
    median = float(np.median(norms))
    order = np.argsort(-norms, kind="stable")[: max(int(k), 0)]
    return NormOutliers(
        indices=order,
        norms=norms[order],
        ratio_to_median=norms[order] / median if median > 0 else np.full(order.size, np.inf),
        median=median,
    )


def keep_items(items: Items, exclude_first: bool) -> np.ndarray:
    """Indices of the items to keep: all, or all but the first position of every sentence."""
    if not exclude_first:
        return np.arange(items.n_items)
    return np.flatnonzero(np.asarray(items.position) != 0)
