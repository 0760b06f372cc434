"""A page's handle on what the sidebar settled: every computation a page needs, cached.

Each method turns the view's :class:`~.selection.Selection` into the key its result depends on and
calls the matching cached function in :mod:`.caching`, so a page only lays out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import streamlit as st

from .. import align, compare, geometry, invariance, neighbours, projection, rogue
from .. import contextuality as word_context
from ..i18n import _
from ..labels import MODEL_KIND_LABELS, PROJECTION_LABELS, label
from ..layers import LayerProfile
from ..models import ModelInfo
from . import caching
from .selection import Selection


@dataclass(frozen=True)
class View:
    """The selection (models, texts, items, layers, preprocessing), the models' facts, and the
    display settings of the sidebar."""

    selection: Selection
    infos: tuple[ModelInfo, ModelInfo]
    presentation: bool
    warnings: tuple[str, ...]

    # The selection's fields, as pages read them.
    texts = property(lambda self: self.selection.texts)
    names = property(lambda self: self.selection.names)
    layers = property(lambda self: self.selection.layers)
    unit = property(lambda self: self.selection.unit)
    pooling = property(lambda self: self.selection.pooling)
    preprocessing = property(lambda self: self.selection.preprocessing)
    special = property(lambda self: self.selection.special)
    paired_unit = property(lambda self: self.selection.paired_unit)

    @property
    def short_names(self) -> tuple[str, str]:
        return self.infos[0].short_name, self.infos[1].short_name

    @property
    def panel_titles(self) -> list[str]:
        return [self.panel_title(0), self.panel_title(1)]

    def panel_title(self, which: int) -> str:
        info, layer = self.infos[which], self.layers[which]
        where = (
            _("embeddings")
            if layer == 0
            else _("layer {layer}/{n}").format(layer=layer, n=info.n_layers)
        )
        kind = label(MODEL_KIND_LABELS, info.kind)
        return f"{'AB'[which]}: {info.short_name} ({kind}) · {where}"

    def items(self, unit: str | None = None) -> tuple[align.Items, align.Items]:
        return caching.items_of(self.selection.for_items(unit))

    # Projection page

    def projection(
        self, which: int, method: str, dims: int, unit: str | None = None
    ) -> projection.Projection:
        """One model's items at its layer, projected on their own."""
        if method == "umap":
            caching.wait_for_umap_warm_up()
        if method == "pca":
            return caching.cached_projection(self.selection.at_layers(unit), which, method, dims)
        # UMAP and t-SNE place every point among its neighbours: seconds to minutes for a corpus.
        # (A spinner appears only after half a second, so a cached view shows none.)
        n_points = self.items(unit)[which].n_items
        with st.spinner(
            _(
                "{method} of model {slot}'s {n:,} points: it places each point among its nearest "
                "neighbours, which takes a while for many points…"
            ).format(method=label(PROJECTION_LABELS, method), slot="AB"[which], n=n_points),
            show_time=True,
        ):
            return caching.cached_projection(self.selection.at_layers(unit), which, method, dims)

    def joint_projection(self, method: str, dims: int) -> projection.JointProjection:
        """B Procrustes-aligned onto A, both projected together (words or sentences only)."""
        if method == "umap":
            caching.wait_for_umap_warm_up()
        return caching.cached_joint(self.selection.at_layers(), method, dims)

    # Similarity page

    def scores(
        self, metric: str, method: str, exclude_same_word: bool = False
    ) -> compare.Comparison:
        """:meth:`comparison` without the RSA p-value and CI (quick: shown first)."""
        return caching.cached_scores(
            self.selection.paired().at_layers(), metric, method, exclude_same_word
        )

    def comparison(
        self, metric: str, method: str, exclude_same_word: bool = False
    ) -> compare.Comparison:
        """Both models' matrices, RSA and CKA over the shared items at the sidebar's layers
        (a sentence repeated exactly counts once)."""
        return caching.cached_comparison(
            self.selection.paired().at_layers(), metric, method, exclude_same_word
        )

    def control(
        self, metric: str, method: str, exclude_same_word: bool = False
    ) -> compare.ControlResult:
        """The same scores for random-weight copies of both models (runs each copy once, one
        at a time; only their hidden states are cached)."""
        return caching.cached_control(
            self.selection.paired().at_layers(), metric, method, exclude_same_word
        )

    # Layers page

    def layer_matrix(self, metric: str, method: str) -> np.ndarray:
        """RSA or CKA between every layer of A and every layer of B (shared items)."""
        return caching.cached_layer_matrix(self.selection.paired().all_layers(), metric, method)

    def profiled_items(self) -> tuple[int, int]:
        """How many of model A's items the per-layer curves use, and how many there are."""
        items = self.items()[0]
        return caching.whole_sentence_index(items, caching.MAX_PROFILE_ITEMS).size, items.n_items

    def control_layer_matrix(self, metric: str, method: str) -> np.ndarray:
        """:meth:`layer_matrix` for random-weight copies of both models."""
        return caching.cached_control_layer_matrix(
            self.selection.paired().all_layers(), metric, method
        )

    def layer_profiles(self, preprocessing: str) -> tuple[LayerProfile, LayerProfile]:
        """Per-layer anisotropy, norm, intra-sentence similarity and PC1 share, both models."""
        selection = replace(self.selection.for_items(), preprocessing=preprocessing)
        return caching.cached_layer_profiles(selection)

    # Context page

    def word_menu(self, skip_first: bool = False) -> tuple[list[str], dict[str, int]]:
        """The words the Context page offers, and in how many sentences model A has each."""
        return caching.cached_word_menu(self.selection.for_items("word"), skip_first)

    def context_profiles(
        self, word: str, skip_first: bool = False
    ) -> tuple[word_context.ContextProfile, word_context.ContextProfile]:
        """Self-similarity of ``word``'s occurrences at every layer, both models (Ethayarajh's
        definitions; ``skip_first`` leaves out each sentence's first word)."""
        return caching.cached_context_profiles(self.selection.all_layers("word"), word, skip_first)

    def context_items_used(self, word: str, skip_first: bool = False) -> int:
        """How many word items the Context page's baseline uses (all, or a corpus's sample)."""
        items = self.items("word")[0]
        keep = caching.context_sample(items, word, skip_first)
        return items.n_items if keep is None else keep.size

    def word_tokens(self) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
        """Per model, the tokens of each shared word item (readable strings)."""
        return caching.cached_word_tokens(self.selection.for_items("word"))

    # Geometry page

    def spectra(self) -> tuple[geometry.PCAResult, geometry.PCAResult]:
        return caching.cached_spectra(self.selection.at_layers())

    def invariance(self, seed: int, method: str) -> invariance.InvarianceDemo:
        """A random rotation and a random linear map applied to A's shared items at its layer."""
        return caching.cached_invariance(self.selection.paired().at_layers(), seed, method)

    def procrustes(self) -> geometry.ProcrustesResult:
        return caching.cached_procrustes(self.selection.paired().at_layers())

    def procrustes_null(self) -> geometry.ProcrustesNull:
        """The disparity beside its value for item-shuffled pairings of the same vectors."""
        return caching.cached_procrustes_null(self.selection.paired().at_layers())

    def rogue_dimensions(self, exclude_first: bool) -> caching.RogueDimensions:
        return caching.cached_rogue_dimensions(self.selection.paired().at_layers(), exclude_first)

    def token_norms(self) -> tuple[rogue.NormOutliers, rogue.NormOutliers]:
        return caching.cached_token_norms(self.selection.at_layers("token"))

    def preprocessing_grid(self, exclude_first: bool, shown: np.ndarray) -> list[np.ndarray]:
        """Cosine heatmaps of the kept shared items, raw / centred / standardised, both models."""
        return caching.cached_preprocessing_grid(
            self.selection.paired().at_layers(), exclude_first, tuple(int(i) for i in shown)
        )

    def preprocessing_cosines(
        self, exclude_first: bool, shown: np.ndarray
    ) -> list[tuple[int, str, np.ndarray]]:
        """The matrices behind :meth:`preprocessing_grid`, for a download (not cached)."""
        selection = self.selection.paired().at_layers()
        keeps = caching.cached_rogue_dimensions(selection, exclude_first).keeps
        return caching.preprocessing_cosines(selection, keeps, shown)

    def compared_index(self) -> np.ndarray:
        """Which shared items the n x n statistics use: all, or a spread sample of a corpus."""
        return caching.paired_sample(self.selection.paired().for_items())[0]

    # Explore page (shared items: words instead of tokens)

    def search(self, query: str, regex: bool) -> np.ndarray:
        """The shared items whose label matches ``query`` (ValueError for a bad expression)."""
        return neighbours.search_items(self.items(self.paired_unit)[0].labels, query, regex)

    def nearest_neighbours(self, item: int, k: int) -> neighbours.NeighbourComparison:
        """One shared item's k nearest items by cosine, in A and in B at their layers."""
        return caching.cached_neighbours(self.selection.paired().at_layers(), item, k)

    def neighbour_overlap(self, k: int) -> np.ndarray:
        """Every shared item's Jaccard@k between its neighbours in A and in B."""
        return caching.cached_neighbour_overlap(self.selection.paired().at_layers(), k)

    def layer_projections(self) -> tuple[projection.LayerProjections, ...]:
        """Both models' animated shared items (:meth:`animated_items`) at every layer, PCA
        aligned layer to layer."""
        selection = self.selection.paired().all_layers()
        return tuple(caching.cached_layer_projections(selection, which) for which in (0, 1))

    def animated_items(self) -> np.ndarray:
        """Which shared items the layer animation draws (all, or whole sentences of a corpus)."""
        return caching.animated_index(self.selection.paired().all_layers())

    def layer_heatmaps(self, shown) -> tuple[np.ndarray, np.ndarray]:
        """Both models' cosines among the ``shown`` shared items at every layer."""
        shown = tuple(int(i) for i in shown)
        return caching.cached_layer_heatmaps(self.selection.paired().all_layers(), shown)

    def pair_curves(self, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Cosine of shared items ``i`` and ``j`` at every layer, both models."""
        return caching.cached_pair_curves(self.selection.paired().all_layers(), i, j)

    def isolated(self, keep) -> caching.IsolatedSelection:
        """PCA and RSA of the selected shared items only (at least three)."""
        keep = tuple(sorted(int(i) for i in keep))
        return caching.cached_isolated(self.selection.paired().at_layers(), keep)
