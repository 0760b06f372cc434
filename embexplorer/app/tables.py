"""The tables behind the pages' CSV downloads, built from cached results only when clicked.

Column names are English identifiers in every language (data interchange); only texts a person
reads in the page are translated.

pandas is imported with this module, when a page is first imported, not lazily inside a
function: Streamlit checks values against ``sys.modules["pandas"]`` in every session's thread, and
a lazy import running in one session made another see a half-imported pandas ("partially
initialized module 'pandas' has no attribute 'Series'": the classroom load test, 1 of 30).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import geometry, invariance, rogue
from ..align import Items
from ..i18n import _


def spectrum_table(
    spectra: tuple[geometry.PCAResult, geometry.PCAResult],
    names: tuple[str, str],
    layers: tuple[int, int],
) -> pd.DataFrame:
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "component": np.arange(1, s.n_components + 1),
                    "eigenvalue": s.eigenvalues,
                    "explained": s.explained_variance_ratio,
                    "cumulative": np.cumsum(s.explained_variance_ratio),
                }
            ).assign(model=names[which], layer=layers[which])
            for which, s in enumerate(spectra)
        ]
    )


def rotation_coordinates_table(demo: invariance.InvarianceDemo, labels: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item": labels,
            "x_before": demo.vectors[:, 0],
            "y_before": demo.vectors[:, 1],
            "x_after_R": demo.rotation.vectors[:, 0],
            "y_after_R": demo.rotation.vectors[:, 1],
            "x_after_M": demo.linear.vectors[:, 0],
            "y_after_M": demo.linear.vectors[:, 1],
        }
    )


def pair_labels(labels: list[str], rows: np.ndarray, cols: np.ndarray) -> list[str]:
    """ "a · b" for each pair (rows[i], cols[i])."""
    return [f"{labels[i]} · {labels[j]}" for i, j in zip(rows, cols, strict=True)]


def rotation_cosines_table(demo: invariance.InvarianceDemo, labels: list[str]) -> pd.DataFrame:
    rows, cols = np.triu_indices(len(labels), k=1)
    return pd.DataFrame(
        {
            "pair": pair_labels(labels, rows, cols),
            "cosine": demo.similarity[rows, cols],
            "cosine_after_R": demo.rotation.similarity[rows, cols],
            "cosine_after_M": demo.linear.similarity[rows, cols],
        }
    )


def residuals_table(alignment: geometry.ProcrustesResult, labels: list[str]) -> pd.DataFrame:
    order = np.argsort(-alignment.residuals, kind="stable")
    return pd.DataFrame(
        {"item": [labels[i] for i in order], "residual": alignment.residuals[order]}
    )


def rogue_table(
    contributions, names: tuple[str, str], layers: tuple[int, int], exclude_first: bool
) -> pd.DataFrame:
    return pd.concat(
        [
            pd.DataFrame(
                {"dimension": c.dims, "contribution": c.contribution, "share": c.share}
            ).assign(model=names[which], layer=layers[which], exclude_first=exclude_first)
            for which, c in enumerate(contributions)
        ]
    )


def token_label(tokens: Items, index: int) -> str:
    return _("{token} (S{sentence}, pos {position})").format(
        token=tokens.labels[index],
        sentence=tokens.sentence[index] + 1,
        position=tokens.position[index],
    )


def norms_table(
    outliers: tuple[rogue.NormOutliers, rogue.NormOutliers],
    tokens: tuple[Items, Items],
    names: tuple[str, str],
    layers: tuple[int, int],
) -> pd.DataFrame:
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "token": [tokens[which].labels[i] for i in o.indices],
                    "sentence": tokens[which].sentence[o.indices] + 1,
                    "position": tokens[which].position[o.indices],
                    "norm": o.norms,
                    "ratio_to_median": o.ratio_to_median,
                }
            ).assign(model=names[which], layer=layers[which])
            for which, o in enumerate(outliers)
        ]
    )


def preprocessing_cosines_table(
    matrices: list[tuple[int, str, np.ndarray]],
    kept_labels: list[str],
    names: tuple[str, str],
    layers: tuple[int, int],
) -> pd.DataFrame:
    first, second = np.triu_indices(len(kept_labels), k=1)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "item_1": [kept_labels[i] for i in first],
                    "item_2": [kept_labels[j] for j in second],
                    "cosine": cosines[first, second],
                }
            ).assign(model=names[which], layer=layers[which], preprocessing=prep)
            for which, prep, cosines in matrices
        ],
        ignore_index=True,
    )


def projection_table(
    coordinates: tuple[np.ndarray, np.ndarray], items: tuple[Items, Items], names: tuple[str, str]
) -> pd.DataFrame:
    return pd.concat(
        [
            pd.DataFrame(coords, columns=list("xyz"[: coords.shape[1]])).assign(
                model=names[which],
                item=side.labels,
                word=side.words,
                sentence=side.sentence + 1,
                position=side.position,
            )
            for which, (coords, side) in enumerate(zip(coordinates, items, strict=True))
        ],
        ignore_index=True,
    )


def matrix_table(matrix: np.ndarray, labels: list[str]) -> pd.DataFrame:
    return pd.DataFrame(matrix, columns=labels).assign(item=labels)[["item", *labels]]


def layer_matrix_table(matrix: np.ndarray, tick_labels) -> pd.DataFrame:
    frame = pd.DataFrame(matrix, columns=[f"B_{tick}" for tick in tick_labels(matrix.shape[1])])
    frame.insert(0, "layer_A", tick_labels(matrix.shape[0]))
    return frame


def layer_measures_table(profile_sets, names: tuple[str, str], measures) -> pd.DataFrame:
    """Per-layer measures of both models, for each set of profiles (raw, preprocessed)."""
    frame = pd.concat(
        [
            pd.DataFrame({name: profile.measure(name) for name in measures}).assign(
                model=names[which],
                side="AB"[which],
                preprocessing=profile.preprocessing,
                layer=profile.layers,
            )
            for profiles in profile_sets
            for which, profile in enumerate(profiles)
        ],
        ignore_index=True,
    )
    return frame[["model", "side", "preprocessing", "layer", *measures]]


def self_similarity_table(profiles, names: tuple[str, str], word: str) -> pd.DataFrame:
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "layer": profile.layers,
                    "self_similarity": profile.self_similarity,
                    "baseline": profile.baseline,
                    "adjusted": profile.adjusted,
                }
            ).assign(model=names[which], word=word, preprocessing=profile.preprocessing)
            for which, profile in enumerate(profiles)
        ]
    )


def context_points_table(
    projections, items: tuple[Items, Items], occurrences: np.ndarray, names: tuple[str, str]
) -> pd.DataFrame:
    return pd.concat(
        [
            pd.DataFrame(projection.coords, columns=["x", "y"]).assign(
                model=names[which],
                item=side.labels,
                sentence=side.sentence + 1,
                occurrence=np.isin(np.arange(side.n_items), occurrences),
            )
            for which, (projection, side) in enumerate(zip(projections, items, strict=True))
        ]
    )


def neighbour_table(found, labels: list[str], shared: np.ndarray) -> pd.DataFrame:
    """One model's neighbour list for the Explore page: rank, item, cosine, in both lists."""
    return pd.DataFrame(
        {
            "rank": np.arange(1, found.k + 1),
            "item": [labels[i] for i in found.indices],
            "cosine": found.values,
            "in both": ["✓" if i in shared else "" for i in found.indices],
        }
    )
