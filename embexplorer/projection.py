"""Projections of item vectors to 2D/3D: PCA, UMAP and t-SNE behind one small interface.

Each method is one :class:`Projector` subclass with ``fit_transform(X) -> Projection``; a new
method is one new class plus one entry in :data:`PROJECTORS`. All are deterministic: PCA signs are
fixed (see :func:`embexplorer.geometry.pca`), UMAP and t-SNE are seeded.

umap-learn is imported inside :class:`UMAPProjector` only: importing it loads numba (seconds), and
its first fit compiles (about 13 s), which :func:`warm_up_umap` can do in a background thread.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .geometry import check_choice, check_vectors, pca, procrustes_align


@dataclass(frozen=True)
class Projection:
    """Items placed in a low-dimensional picture.

    Attributes
    ----------
    coords : ndarray of shape (n_items, k), float64
    axis_titles : list of str
        One per axis: "PC1 (42.1 %)" for PCA, "UMAP 1" or "t-SNE 1" otherwise.
    explained_variance_ratio : ndarray of shape (k,) or None
        Only PCA has one.
    method : str
        The :data:`PROJECTORS` key that made it.
    """

    coords: np.ndarray
    axis_titles: list[str]
    explained_variance_ratio: np.ndarray | None
    method: str


class Projector:
    """Shared interface: ``name``, ``n_components`` and ``fit_transform(X) -> Projection``.

    Subclasses set ``name``, ``label`` (for axis titles) and ``min_items``, and implement
    :meth:`_fit_transform`; input checks live here once.
    """

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""

    def __init__(self, n_components: int = 2):
        if int(n_components) != n_components or n_components < 1:
            raise ValueError(f"n_components must be a positive integer; got {n_components!r}")
        self.n_components = int(n_components)

    def min_items(self) -> int:
        """The fewest items this projector can place."""
        # k axes need k + 1 items: centring removes one degree of freedom.
        return self.n_components + 1

    def fit_transform(self, X) -> Projection:
        """Fit on the items ``X`` (n_items, n_dims) and return their coordinates."""
        X = check_vectors(X)
        if X.shape[0] < self.min_items():
            raise ValueError(
                f"{self.label} to {self.n_components}D needs at least {self.min_items()} points; "
                f"have {X.shape[0]} (X has shape {X.shape})"
            )
        return self._fit_transform(X)

    def _fit_transform(self, X: np.ndarray) -> Projection:
        raise NotImplementedError

    def _numbered_axes(self, coords: np.ndarray) -> Projection:
        titles = [f"{self.label} {axis + 1}" for axis in range(self.n_components)]
        return Projection(np.asarray(coords, dtype=np.float64), titles, None, self.name)

    def __repr__(self) -> str:
        settings = ", ".join(f"{key}={value!r}" for key, value in vars(self).items())
        return f"{type(self).__name__}({settings})"


class PCAProjector(Projector):
    """Principal components with fixed signs; axis titles show the explained variance."""

    name = "pca"
    label = "PCA"

    def min_items(self) -> int:
        # k items give k components (as in scikit-learn); the last one has zero variance, since
        # centring removes a degree of freedom, so 3 sentences still draw in 3D (on a plane).
        return max(2, self.n_components)

    def _fit_transform(self, X: np.ndarray) -> Projection:
        if X.shape[1] < self.n_components:
            raise ValueError(
                f"PCA to {self.n_components}D needs at least {self.n_components} dimensions; "
                f"X has shape {X.shape}"
            )
        result = pca(X, self.n_components)
        titles = [
            f"PC{axis + 1} ({100 * ratio:.1f} %)"
            for axis, ratio in enumerate(result.explained_variance_ratio)
        ]
        return Projection(result.coords, titles, result.explained_variance_ratio, self.name)


class UMAPProjector(Projector):
    """UMAP (McInnes et al. 2018), seeded; neighbourhoods are kept, distances are not."""

    name = "umap"
    label = "UMAP"
    # Spectral initialisation solves for n_components + 1 eigenvectors and fails on a handful of
    # points (scipy: "k >= N"); below this many points the random initialisation is used.
    SPECTRAL_MIN_ITEMS: ClassVar[int] = 10

    def __init__(
        self,
        n_components: int = 2,
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        metric: str = "cosine",
        seed: int = 42,
    ):
        super().__init__(n_components)
        if n_neighbors < 2:
            raise ValueError(f"n_neighbors must be at least 2; got {n_neighbors}")
        self.n_neighbors = int(n_neighbors)
        self.min_dist = float(min_dist)
        self.metric = metric
        self.seed = int(seed)

    def min_items(self) -> int:
        # umap-learn fails outright on 2 points and needs room for the embedding's dimensions.
        return self.n_components + 2

    def _fit_transform(self, X: np.ndarray) -> Projection:
        import umap  # slow (numba): imported only when UMAP is used

        enable_umap_disk_cache()
        n = X.shape[0]
        model = umap.UMAP(
            n_components=self.n_components,
            n_neighbors=min(self.n_neighbors, n - 1),
            min_dist=self.min_dist,
            metric=self.metric,
            init="spectral" if n >= self.SPECTRAL_MIN_ITEMS else "random",
            random_state=self.seed,
            # random_state forces one thread anyway; saying so avoids umap's warning about it.
            n_jobs=1,
        )
        return self._numbered_axes(model.fit_transform(X))


class TSNEProjector(Projector):
    """t-SNE (van der Maaten & Hinton 2008) from scikit-learn, seeded, PCA-initialised."""

    name = "tsne"
    label = "t-SNE"

    def __init__(self, n_components: int = 2, perplexity: float = 30.0, seed: int = 42):
        super().__init__(n_components)
        if perplexity <= 0:
            raise ValueError(f"perplexity must be positive; got {perplexity}")
        self.perplexity = float(perplexity)
        self.seed = int(seed)

    def min_items(self) -> int:
        return self.n_components + 2

    def effective_perplexity(self, n_items: int) -> float:
        """Perplexity clipped to (n_items - 1) / 3: scikit-learn needs it below n_items, and an
        effective neighbourhood of about 3 * perplexity points should fit in the data."""
        return max(1.0, min(self.perplexity, (n_items - 1) / 3))

    def _fit_transform(self, X: np.ndarray) -> Projection:
        from sklearn.manifold import TSNE

        model = TSNE(
            n_components=self.n_components,
            perplexity=self.effective_perplexity(X.shape[0]),
            # PCA initialisation needs at least n_components dimensions.
            init="pca" if X.shape[1] >= self.n_components else "random",
            random_state=self.seed,
        )
        return self._numbered_axes(model.fit_transform(X))


PROJECTORS: dict[str, type[Projector]] = {
    "pca": PCAProjector,
    "umap": UMAPProjector,
    "tsne": TSNEProjector,
}


def make_projector(method: str, n_components: int = 2, **settings) -> Projector:
    """The projector named ``method`` ("pca", "umap" or "tsne") with its settings.

    Examples
    --------
    >>> make_projector("pca", 3)
    PCAProjector(n_components=3)
    """
    check_choice(method, tuple(PROJECTORS), "projection method")
    return PROJECTORS[method](n_components, **settings)


def project_pair(X_a, X_b, projector: Projector) -> tuple[Projection, Projection]:
    """Project two models' items, each fitted in its own space (their axes are not comparable)."""
    return projector.fit_transform(X_a), projector.fit_transform(X_b)


@dataclass(frozen=True)
class JointProjection:
    """Both models' items in one picture, after aligning B onto A.

    Attributes
    ----------
    coords_a, coords_b : ndarray of shape (n_items, k)
        Row i of each is the same item.
    axis_titles : list of str
    explained_variance_ratio : ndarray of shape (k,) or None
    method : str
    disparity : float
        Procrustes disparity of B onto A (0 = same shape up to rotation and scale).
    residuals : ndarray of shape (n_items,)
        Per-item distance between A and aligned B, in the full (not projected) space.
    """

    coords_a: np.ndarray
    coords_b: np.ndarray
    axis_titles: list[str]
    explained_variance_ratio: np.ndarray | None
    method: str
    disparity: float
    residuals: np.ndarray


def joint_projection(X_a, X_b, projector: Projector) -> JointProjection:
    """Align B onto A (orthogonal Procrustes with scale), then project both sets in one fit.

    Parameters
    ----------
    X_a : array-like of shape (n_items, d_a)
    X_b : array-like of shape (n_items, d_b)
        The same items as X_a, in the same order; widths may differ (see
        :func:`embexplorer.geometry.procrustes_align`).
    projector : Projector

    Returns
    -------
    JointProjection
    """
    alignment = procrustes_align(X_a, X_b, scale=True)
    X_a = check_vectors(X_a, "X_a")
    both = projector.fit_transform(np.vstack([X_a, alignment.aligned]))
    n = X_a.shape[0]
    return JointProjection(
        coords_a=both.coords[:n],
        coords_b=both.coords[n:],
        axis_titles=both.axis_titles,
        explained_variance_ratio=both.explained_variance_ratio,
        method=both.method,
        disparity=alignment.disparity,
        residuals=alignment.residuals,
    )


_UMAP_JIT_MODULES = ("umap_", "layouts", "utils", "distances", "sparse", "spectral")


@functools.cache
def enable_umap_disk_cache() -> int:
    """Let numba keep umap-learn's compiled functions on disk, as it already does for pynndescent.

    umap-learn compiles ~100 functions with numba but without ``cache=True``, so every new process
    spent ~10 s compiling them again before its first UMAP. With the disk cache on, a server's
    first start compiles once and every later start loads the code in a fraction of a second.
    Numba stores it next to umap's sources, or under ``NUMBA_CACHE_DIR`` when that is set; a
    function numba cannot cache is left as it is. Returns how many functions were switched over.
    """
    import importlib

    from numba.core.registry import CPUDispatcher

    switched = 0
    for name in _UMAP_JIT_MODULES:
        module = importlib.import_module(f"umap.{name}")
        for value in list(vars(module).values()):
            if isinstance(value, CPUDispatcher) and type(value._cache).__name__ == "NullCache":
                try:
                    value.enable_caching()
                except Exception:  # noqa: BLE001 - numba refuses some functions; they stay in memory
                    continue
                switched += 1
    return switched


def warm_up_umap(seed: int = 0) -> None:
    """Run a tiny UMAP fit so numba compiles its code now (call it in a background thread)."""
    points = np.random.default_rng(seed).standard_normal((30, 8))
    UMAPProjector(n_components=2).fit_transform(points)
