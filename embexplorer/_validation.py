"""Every input check of the package, written once.

Public functions validate their inputs here, at the door, and fail with a ``ValueError`` whose
message states the shapes or lists the valid names (as scikit-learn and rsatoolbox do). The
private kernels behind them take arrays that are already checked and never check again.
"""

from __future__ import annotations

import numpy as np

from .layerstack import LayerStack
from .ondisk import LayersOnDisk

MIN_ITEMS = 3  # 3 items give 3 pairs, the fewest a correlation over pairs can use


def _(message: str) -> str:
    """:func:`embexplorer.i18n._`, imported when called: ``i18n`` itself imports these checks."""
    from .i18n import _ as translate

    return translate(message)


def _unit_name(unit: str) -> str:
    """ "words", "tokens"...: :func:`embexplorer.labels.label` (imported when called, as above)."""
    from .labels import UNIT_LABELS, label

    return label(UNIT_LABELS, unit)


def check_choice(value: str, valid: tuple[str, ...], what: str) -> None:
    """Raise a ValueError listing the valid names when ``value`` is not one of them.

    Examples
    --------
    >>> check_choice("cosine", ("cosine", "euclidean"), "metric")
    >>> check_choice("dot", ("cosine", "euclidean"), "metric")
    Traceback (most recent call last):
    ...
    ValueError: metric must be one of 'cosine', 'euclidean'; got 'dot'
    """
    if value not in valid:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, valid))}; got {value!r}")


def check_count(value: int, name: str) -> int:
    """``value`` as an int, or a ValueError when it is not a non-negative whole number."""
    if int(value) != value or value < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {value!r}")
    return int(value)


def check_level(ci_level: float) -> None:
    """Raise a ValueError unless ``0 < ci_level < 1``."""
    if not 0 < ci_level < 1:
        raise ValueError(f"ci_level must be between 0 and 1 (e.g. 0.95); got {ci_level}")


# --- item vectors ---------------------------------------------------------------------------------


def check_vectors(X, name: str = "X", min_items: int = 1) -> np.ndarray:
    """Return ``X`` as a finite 2-D float64 array, or raise a ValueError that states its shape."""
    array = np.asarray(X, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_items, n_dims); got shape {array.shape}"
        )
    if array.shape[0] < min_items:
        raise ValueError(
            _("{name} needs at least {n} item(s) (rows); got shape {shape}").format(
                name=name, n=min_items, shape=array.shape
            )
        )
    if array.shape[1] < 1:
        raise ValueError(f"{name} needs at least 1 dimension (column); got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values (shape {array.shape})")
    return array


def check_paired_vectors(
    X, Y, min_items: int = 2, names: tuple[str, str] = ("X", "Y")
) -> tuple[np.ndarray, np.ndarray]:
    """Validate two spaces holding the same items (same row count; widths may differ)."""
    name_x, name_y = names
    X = check_vectors(X, name_x, min_items=min_items)
    Y = check_vectors(Y, name_y, min_items=min_items)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"{name_x} and {name_y} must hold the same items: {name_x} has {X.shape[0]} rows "
            f"while {name_y} has {Y.shape[0]} (shapes {X.shape} and {Y.shape})"
        )
    return X, Y


def check_layered(vectors, name: str = "vectors") -> np.ndarray:
    """Item vectors at every layer as a finite array of shape (n_layers, n_items, n_dims).

    A float32 array stays float32 (a corpus's layers weigh hundreds of MB: no float64 copy of all
    of them at once); the per-layer computations convert one layer at a time.
    """
    if isinstance(vectors, LayerStack):  # read one layer at a time, each checked finite then
        return vectors
    if isinstance(vectors, LayersOnDisk):  # read one layer at a time; checked when written
        if not vectors.all_finite:
            raise ValueError(f"{name} contains NaN or infinite values (shape {vectors.shape})")
        return vectors
    array = np.asarray(vectors)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    if array.ndim != 3:
        raise ValueError(
            f"{name} must have shape (n_hidden_states, n_items, n_dims); got shape {array.shape}"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values (shape {array.shape})")
    return array


def check_paired_items(items_a, items_b) -> None:
    """Two models' items (``align.Items``) must be the same items, and enough of them for RSA."""
    if items_a.labels != items_b.labels:
        raise ValueError(
            _(
                "the two models' items differ ({n_a} and {n_b} items); build them with "
                "align.paired_items()"
            ).format(n_a=items_a.n_items, n_b=items_b.n_items)
        )
    if items_a.n_items < MIN_ITEMS:
        raise ValueError(
            _(
                "{n} item(s) ({unit}) is too few: RSA needs at least {min_items} items (3 pairs); "
                "add words or sentences"
            ).format(n=items_a.n_items, unit=_unit_name(items_a.unit), min_items=MIN_ITEMS)
        )


# --- item-by-item matrices ------------------------------------------------------------------------


def check_matrix(M, name: str = "M") -> np.ndarray:
    """Return ``M`` as a finite, square, symmetric float64 array or raise a ValueError."""
    array = np.asarray(M, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise ValueError(
            f"{name} must be a square item-by-item matrix of shape (n_items, n_items); "
            f"got shape {array.shape}"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values (shape {array.shape})")
    if not np.allclose(array, array.T, rtol=1e-7, atol=1e-10):
        raise ValueError(
            f"{name} (shape {array.shape}) is not symmetric; RSA reads only its upper triangle"
        )
    return array


def check_matrix_pair(A, B) -> tuple[np.ndarray, np.ndarray]:
    """Two item-by-item matrices over the same items, at least :data:`MIN_ITEMS` of them."""
    A = check_matrix(A, "A")
    B = check_matrix(B, "B")
    if A.shape != B.shape:
        raise ValueError(
            f"A and B must cover the same items: A has shape {A.shape} while B has shape {B.shape}"
        )
    if A.shape[0] < MIN_ITEMS:
        raise ValueError(
            _("RSA needs at least {n} items (3 pairs); got matrices of shape {shape}").format(
                n=MIN_ITEMS, shape=A.shape
            )
        )
    return A, B
