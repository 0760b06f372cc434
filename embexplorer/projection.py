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

from ._validation import check_layered
from .geometry import check_choice, check_vectors, pca, procrustes_align
from .i18n import _
from .layerstack import LayerByLayer


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
                _(
                    "{method} to {dims}D needs at least {n} points; have {have} (X has shape "
                    "{shape})"
                ).format(
                    method=self.label,
                    dims=self.n_components,
                    n=self.min_items(),
                    have=X.shape[0],
                    shape=X.shape,
                )
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

    def __init__(self, n_components: int = 2, max_fit_items: int | None = None):
        """``max_fit_items``: above this many items the axes are fitted on that many, spread
        evenly through them (:func:`fit_rows`), and every item is placed on them: on a corpus's
        20,000 words the full covariance took most of a layer change, and the top directions of
        3,000 spread items are the same picture. The explained variances are the sample's."""
        super().__init__(n_components)
        if max_fit_items is not None and max_fit_items < self.min_items():
            raise ValueError(f"max_fit_items must be at least {self.min_items()}")
        self.max_fit_items = max_fit_items

    def min_items(self) -> int:
        # k items give k components (as in scikit-learn); the last one has zero variance, since
        # centring removes a degree of freedom, so 3 sentences still draw in 3D (on a plane).
        return max(2, self.n_components)

    def _fit_transform(self, X: np.ndarray) -> Projection:
        if X.shape[1] < self.n_components:
            raise ValueError(
                _("PCA to {dims}D needs at least {dims} dimensions; X has shape {shape}").format(
                    dims=self.n_components, shape=X.shape
                )
            )
        fit = fit_rows(X.shape[0], self.max_fit_items)
        if fit is None:
            result = pca(X, self.n_components)
            coords = result.coords
        else:
            result = pca(X[fit], self.n_components, with_coords=False)
            # Centred on all items, as a full fit's are; centring the product is the same as
            # centring X first, without an n x d temporary (130 MB for a corpus's words).
            coords = X @ result.components.T
            coords -= coords.mean(axis=0)
        titles = [
            f"PC{axis + 1} ({100 * ratio:.1f} %)"
            for axis, ratio in enumerate(result.explained_variance_ratio)
        ]
        return Projection(coords, titles, result.explained_variance_ratio, self.name)


def fit_rows(n_items: int, max_fit_items: int | None) -> np.ndarray | None:
    """The rows a PCA is fitted on: None (all) up to ``max_fit_items``, else that many spread
    evenly from the first to the last (in a corpus, sentences from all through the text)."""
    if max_fit_items is None or n_items <= max_fit_items:
        return None
    return np.linspace(0, n_items - 1, max_fit_items).round().astype(np.int64)


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
    PCAProjector(n_components=3, max_fit_items=None)
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

    def per_model(self) -> tuple[Projection, Projection]:
        """A's and B's points as two :class:`Projection` objects that share one space."""
        return tuple(
            Projection(coords, self.axis_titles, self.explained_variance_ratio, self.method)
            for coords in (self.coords_a, self.coords_b)
        )


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


# --- every layer, aligned layer to layer ----------------------------------------------------------


@dataclass(frozen=True)
class LayerProjections:
    """PCA pictures of the same items at every layer, each turned to match the previous one.

    Attributes
    ----------
    coords : ndarray of shape (n_layers, n_items, dims), float64
        Layer by layer; centred, scaled to unit RMS radius (see ``scales``) and rotated (or
        reflected) onto the previous layer's picture.
    explained_variance_ratio : ndarray of shape (n_layers, dims)
        Each layer's PCA ratios (a rotation within the plane keeps their sum, which is the share
        of the layer's variance the picture shows).
    scales : ndarray of shape (n_layers,)
        The RMS distance of each layer's PCA coordinates from their centre, divided out of
        ``coords`` (0 where every item is at the same point; nothing is divided there).
    disparities : ndarray of shape (n_layers,)
        Procrustes disparity of each layer against the previous one after alignment
        (0 = same shape; 0 for layer 0): how much the picture really changes, not how it turns.
    preprocessing : str
    """

    coords: np.ndarray
    explained_variance_ratio: np.ndarray
    scales: np.ndarray
    disparities: np.ndarray
    preprocessing: str

    @property
    def n_layers(self) -> int:
        return self.coords.shape[0]

    @property
    def axis_titles(self) -> list[str]:
        return [f"aligned PC axis {axis + 1}" for axis in range(self.coords.shape[2])]


def check_layer_vectors(vectors, name: str = "vectors") -> np.ndarray:
    """``vectors`` as a finite float array of shape (n_layers, n_items, n_dims), or a ValueError
    that states its shape. Float16 and float32 stay as they are (no float64 copy of every layer
    of a corpus at once); callers convert one layer at a time."""
    array = vectors if isinstance(vectors, LayerByLayer) else np.asarray(vectors)
    if array.ndim != 3 or 0 in array.shape:
        raise ValueError(
            f"{name} must be a non-empty 3-D array of shape (n_layers, n_items, n_dims); "
            f"got shape {array.shape}"
        )
    return check_layered(array, name)


def layer_aligned_projections(
    vectors, preprocessing: str = "none", dims: int = 2, max_fit_items: int | None = None
) -> LayerProjections:
    """The PCA projection at every layer, aligned layer to layer so the picture does not spin.

    Parameters
    ----------
    vectors : array-like of shape (n_layers, n_items, n_dims)
        Every layer's item vectors (``Items.vectors``); n_items >= max(2, dims).
    preprocessing : {"none", "center", "standardize", "remove_top_pcs"}, default "none"
        Applied to each layer's items before its PCA.
    dims : {2, 3}, default 2
    max_fit_items : int, optional
        Fit each layer's PCA on at most this many items, evenly spaced through the list, and
        project every item with it (all items by default). Each PCA costs n_items x n_dims^2:
        on a corpus's ~11,000 tokens x 768 dimensions x 13 layers x 2 models that was the
        Explore page's whole first view; the top two directions of a few thousand items spread
        through the text are those of all of them to plotting accuracy.

    Returns
    -------
    LayerProjections

    Notes
    -----
    Each layer gets its own PCA (its own best plane); the first layer's picture is kept as it is
    and every next one is turned onto the one before by orthogonal Procrustes
    (``scipy.linalg.orthogonal_procrustes`` on the centred coordinates: rotation or reflection, no
    shear). Without it, PCA's arbitrary axis order, signs and in-plane rotation make consecutive
    layers jump, spin or mirror even when the items barely move.

    Each layer is also scaled to unit RMS radius before alignment. This is the one departure from
    "rotation only", made on purpose: hidden-state norms grow by orders of magnitude with depth
    (GPT-2's last layers), so on fixed axes the early layers would shrink to a dot. A uniform
    scale per layer changes no shape, angle or neighbour; ``scales`` keeps the factors so a page
    can report them.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> layer = rng.standard_normal((20, 5))
    >>> turned = layer @ np.linalg.qr(rng.standard_normal((5, 5)))[0]
    >>> result = layer_aligned_projections([layer, 10 * turned])
    >>> bool(np.allclose(result.coords[0], result.coords[1]))
    True
    """
    from scipy.linalg import orthogonal_procrustes

    from .geometry import preprocess

    vectors = check_layer_vectors(vectors)
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3; got {dims!r}")
    n_layers, n_items, n_dims = vectors.shape
    if n_items < PCAProjector(dims).min_items() or n_dims < dims:
        raise ValueError(
            _(
                "PCA to {dims}D needs at least {n} items and {dims} dimensions; vectors have "
                "shape {shape}"
            ).format(dims=dims, n=PCAProjector(dims).min_items(), shape=vectors.shape)
        )
    if max_fit_items is not None and max_fit_items < PCAProjector(dims).min_items():
        raise ValueError(f"max_fit_items must be at least {PCAProjector(dims).min_items()}")
    fit = fit_rows(n_items, max_fit_items)
    coords = np.empty((n_layers, n_items, dims))
    ratios = np.empty((n_layers, dims))
    scales = np.zeros(n_layers)
    disparities = np.zeros(n_layers)
    for layer in range(n_layers):
        prepared = preprocess(vectors[layer], preprocessing)
        # Only `dims` components are needed: the d x d covariance route is several times faster
        # than a full SVD of (n_items, d) when n_items is near d (1,000 x 768: 0.1 s against 1 s).
        if fit is None:
            projection = pca(prepared, dims, solver="covariance")
            picture = projection.coords
        else:
            projection = pca(prepared[fit], dims, solver="covariance", with_coords=False)
            picture = prepared @ projection.components.T  # centred next: no n x d temporary
        picture = picture - picture.mean(axis=0)
        scales[layer] = np.sqrt(np.mean(np.sum(picture**2, axis=1)))
        if scales[layer] > 0:
            picture = picture / scales[layer]
        if layer > 0:
            rotation, _singular_sum = orthogonal_procrustes(picture, coords[layer - 1])
            picture = picture @ rotation
            disparities[layer] = np.sum((picture - coords[layer - 1]) ** 2) / max(
                np.sum(coords[layer - 1] ** 2), np.finfo(float).tiny
            )
        coords[layer] = picture
        ratios[layer] = projection.explained_variance_ratio
    return LayerProjections(coords, ratios, scales, disparities, preprocessing)
