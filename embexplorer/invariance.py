"""What a linear map does to a space: an orthogonal R moves every coordinate but no cosine, so RSA
and CKA cannot tell the spaces apart; a general linear map M changes the cosines too.

The Geometry page shows both on the same vectors, and Procrustes (B rotated onto A) uses the same
fact the other way round: after the best rotation, what is left is what really differs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import check_choice, check_paired_vectors, check_vectors
from .geometry import cosine_similarity_matrix, random_orthogonal
from .rsa import RSA_METHODS, rsa_score

DEFAULT_CONDITION = 100.0  # ratio of the largest to the smallest stretch of the linear map


def random_linear_map(d: int, seed: int | None = 0, condition: float = DEFAULT_CONDITION):
    """A seeded invertible, non-orthogonal (d, d) matrix: rotate, stretch unequally, rotate.

    ``M = R1 diag(s) R2`` with stretches ``s`` spaced geometrically from ``1/sqrt(condition)`` to
    ``sqrt(condition)``, so its condition number is ``condition`` (1 would make it orthogonal).
    """
    if condition < 1:
        raise ValueError(f"condition must be at least 1; got {condition}")
    rng = np.random.default_rng([0 if seed is None else seed, 7])
    first = random_orthogonal(d, seed=int(rng.integers(2**31)))
    second = random_orthogonal(d, seed=int(rng.integers(2**31)))
    stretches = np.geomspace(1 / np.sqrt(condition), np.sqrt(condition), int(d))
    return (first * stretches[None, :]) @ second


SQUASHED_DIRECTIONS = 2  # the demo's M shrinks this many of the data's largest directions


def principal_squash_map(X, k: int = SQUASHED_DIRECTIONS, condition: float = DEFAULT_CONDITION):
    """A non-orthogonal (d, d) map that shrinks the ``k`` directions along which the rows of X
    are largest (top right singular vectors of X, not centred) ``condition`` times and keeps every
    other direction, so its condition number is ``condition``.

    A random stretch barely changes the cosines of anisotropic vectors (they all stay near one
    common direction); shrinking that common direction and the next changes them visibly, as
    mean-centring does.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((10, 4)) + [5.0, 0, 0, 0]
    >>> M = principal_squash_map(X, k=1, condition=100.0)
    >>> round(float(np.linalg.cond(M)), 6)
    100.0
    """
    if condition < 1:
        raise ValueError(f"condition must be at least 1; got {condition}")
    X = check_vectors(X)
    d = X.shape[1]
    k = max(1, min(int(k), d - 1))  # squashing every direction would only rescale (no change)
    _, _, vt = np.linalg.svd(X, full_matrices=False)
    V = vt[:k].T
    return np.eye(d) - (1 - 1 / condition) * (V @ V.T)


@dataclass(frozen=True)
class MapEffect:
    """One linear map applied to model A's vectors, and what changed."""

    name: str
    matrix: np.ndarray
    vectors: np.ndarray
    similarity: np.ndarray
    max_cosine_change: float
    max_coordinate_change: float
    rsa_with_original: float
    rsa_with_b: float


@dataclass(frozen=True)
class InvarianceDemo:
    """Model A's vectors, their cosines and RSA with B, before and after R and after M."""

    vectors: np.ndarray
    similarity: np.ndarray
    rsa_with_b: float
    method: str
    rotation: MapEffect
    linear: MapEffect


def _rsa_value(A: np.ndarray, B: np.ndarray, method: str) -> float:
    return rsa_score(A, B, method=method, permutations=0, bootstraps=0).value


def apply_map(name: str, X, M, similarity_b, method: str = "spearman") -> MapEffect:
    """``X @ M`` and how its cosines, coordinates and RSA with model B compare with ``X``'s."""
    X = check_vectors(X)
    mapped = X @ M
    before = cosine_similarity_matrix(X)
    after = cosine_similarity_matrix(mapped)
    return MapEffect(
        name=name,
        matrix=M,
        vectors=mapped,
        similarity=after,
        max_cosine_change=float(np.max(np.abs(after - before))),
        max_coordinate_change=float(np.max(np.abs(mapped - X))),
        rsa_with_original=_rsa_value(before, after, method),
        rsa_with_b=_rsa_value(after, similarity_b, method),
    )


def invariance_demo(X_a, X_b, seed: int = 0, method: str = "spearman") -> InvarianceDemo:
    """Apply a random orthogonal R and a random non-orthogonal M to ``X_a``; compare with ``X_b``.

    Parameters
    ----------
    X_a : array-like of shape (n_items, d_a)
        Model A's item vectors (as compared: after preprocessing).
    X_b : array-like of shape (n_items, d_b)
        Model B's vectors for the same items; only its cosine matrix is used.
    seed : int
        Seeds both R and M ("new rotation" increments it).
    method : {"spearman", "pearson"}

    Returns
    -------
    InvarianceDemo
        ``rotation.max_cosine_change`` is at floating-point level (about 1e-15) and
        ``rotation.rsa_with_b`` equals ``rsa_with_b``; the linear map
        ``M = S R`` (:func:`principal_squash_map`, then the same R) changes both.
    """
    check_choice(method, RSA_METHODS, "RSA method")
    X_a, X_b = check_paired_vectors(X_a, X_b, min_items=3, names=("X_a", "X_b"))
    similarity_a = cosine_similarity_matrix(X_a)
    similarity_b = cosine_similarity_matrix(X_b)
    d = X_a.shape[1]
    rotation = random_orthogonal(d, seed=seed)
    return InvarianceDemo(
        vectors=X_a,
        similarity=similarity_a,
        rsa_with_b=_rsa_value(similarity_a, similarity_b, method),
        method=method,
        rotation=apply_map("orthogonal R", X_a, rotation, similarity_b, method),
        linear=apply_map(
            "linear map M", X_a, principal_squash_map(X_a) @ rotation, similarity_b, method
        ),
    )
