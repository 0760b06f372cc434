"""Geometry: the PCA spectrum, rotation invariance, Procrustes alignment and rogue dimensions."""

import numpy as np
import pandas as pd
import streamlit as st

from embexplorer import figures, geometry, rogue, ui
from embexplorer.compare import sample_indices

ui.page_header(
    "Geometry",
    "The mathematics behind the other views, live on your sentences: how many directions the "
    "vectors use, what a rotation changes and what it cannot, and which dimensions dominate.",
)
view = ui.sidebar()
if view is None:
    st.stop()

names = (view.infos[0].short_name, view.infos[1].short_name)
prep_label = ui.PREPROCESSING_LABELS[view.preprocessing]
items = view.items()
paired_unit = "word" if view.unit == "token" else view.unit
paired = view.items(paired_unit)
if paired[0].n_items < 3:
    st.info("Add words or sentences: this page needs at least 3 items.")
    st.stop()


def vectors(which: int, unit_items=None, keep=None) -> np.ndarray:
    """Model ``which``'s items at its layer, after the sidebar's preprocessing."""
    source = (unit_items or items)[which]
    layer = source.vectors[view.layers[which]]
    return geometry.preprocess(layer if keep is None else layer[keep], view.preprocessing)


# --- 1. PCA spectrum ------------------------------------------------------------------------------

st.subheader("How many directions do the vectors use? (PCA spectrum)")
spectra = [geometry.pca(vectors(which)) for which in (0, 1)]
n90 = [geometry.n_components_for_variance(s.explained_variance_ratio, 0.9) for s in spectra]
log_scale = st.toggle("Log scale for the eigenvalues", key="log_scree")
cells = st.columns(4)
for which, spectrum in enumerate(spectra):
    cells[2 * which].metric(
        f"{'AB'[which]}: components for 90 %",
        f"{n90[which]} of {spectrum.n_components}",
        help="The fewest principal components whose eigenvalues add up to 90 % of the variance.",
    )
    cells[2 * which + 1].metric(
        f"{'AB'[which]}: PC1 explains", f"{spectrum.explained_variance_ratio[0]:.1%}"
    )
ui.chart(
    figures.spectrum_figure(
        [s.eigenvalues for s in spectra],
        [s.explained_variance_ratio for s in spectra],
        [view.panel_title(0), view.panel_title(1)],
        n90,
        log_scale=log_scale,
        presentation=view.presentation,
    ),
    key="spectrum",
)
st.caption(
    f"{len(items[0].labels)} {ui.UNIT_LABELS[view.unit]}, preprocessing {prep_label}. The "
    "eigenvalues are the variances along the principal directions of the centred vectors. "
    "With n items there are at most n - 1 non-zero ones, whatever the width. A steep drop "
    "after the first component is a space dominated by one direction."
)
spectrum_frame = pd.concat(
    [
        pd.DataFrame(
            {
                "component": np.arange(1, s.n_components + 1),
                "eigenvalue": s.eigenvalues,
                "explained": s.explained_variance_ratio,
                "cumulative": np.cumsum(s.explained_variance_ratio),
            }
        ).assign(model=view.names[which], layer=view.layers[which])
        for which, s in enumerate(spectra)
    ]
)
ui.download_csv("Spectrum (CSV)", spectrum_frame, "pca_spectrum.csv", key="dl_spectrum")

# --- 2. Rotation invariance -----------------------------------------------------------------------

st.subheader("A rotation moves every coordinate and no cosine")


def _new_rotation() -> None:
    st.session_state["rot_seed"] = int(st.session_state["rot_seed"]) + 1


seed_cells = st.columns([2, 2, 6], vertical_alignment="bottom")
seed = seed_cells[0].number_input("Rotation seed", min_value=0, step=1, key="rot_seed")
seed_cells[1].button("New rotation", on_click=_new_rotation, icon=":material/autorenew:")
method = st.session_state["rsa"]
demo = view.invariance(int(seed), method, paired_unit)
labels = paired[0].display_labels()
drawn = sample_indices(len(labels), ui.HEATMAP_MAX_ITEMS)  # heatmaps only; numbers use all
cells = st.columns(6)
cells[0].metric(
    "Coordinate change (R)",
    f"{demo.rotation.max_coordinate_change:.3g}",
    help="max |x R - x| over all items and dimensions",
)
cells[1].metric(
    "Largest cosine change (R)",
    f"{demo.rotation.max_cosine_change:.1e}",
    help="max |cos(xR, yR) - cos(x, y)| over all pairs: floating-point rounding only.",
)
symbol = "ρ" if method == "spearman" else "r"
cells[2].metric(
    f"RSA with B ({symbol}), as is",
    f"{demo.rsa_with_b:.6f}",
    help="RSA between model A's and model B's cosine matrices (the Similarity page's RSA method).",
)
cells[3].metric(f"RSA with B ({symbol}), after R", f"{demo.rotation.rsa_with_b:.6f}")
cells[4].metric(
    "Largest cosine change (M)",
    f"{demo.linear.max_cosine_change:.3f}",
    help="M stretches some directions 100 times more than others, so angles change.",
)
cells[5].metric(f"RSA with B ({symbol}), after M", f"{demo.linear.rsa_with_b:.6f}")
ui.chart(
    figures.displacement_figure(
        [
            ("orthogonal R: every point moves", demo.vectors, demo.rotation.vectors),
            ("non-orthogonal M: points move and stretch", demo.vectors, demo.linear.vectors),
        ],
        labels,
        presentation=view.presentation,
    ),
    key="rotation_coords",
)
ui.chart(
    figures.heatmap_grid_figure(
        [
            m[np.ix_(drawn, drawn)]
            for m in (demo.similarity, demo.rotation.similarity, demo.linear.similarity)
        ],
        [labels[i] for i in drawn],
        [
            f"A as is (RSA with B {demo.rsa_with_b:.3f})",
            f"after R (RSA {demo.rotation.rsa_with_b:.3f})",
            f"after M (RSA {demo.linear.rsa_with_b:.3f})",
        ],
        presentation=view.presentation,
    ),
    key="rotation_heatmaps",
)
st.caption(
    f"Model A ({names[0]}, layer {view.layers[0]}, preprocessing {prep_label}) in its first two "
    "dimensions, "
    "before and after a random orthogonal matrix R (seeded) and a random non-orthogonal M. "
    "R^T R = I keeps every length and angle, so the cosine heatmap and the RSA score cannot "
    "change: a model's coordinates mean nothing on their own, only their relations do. That is "
    "why two models can be compared at all. M changes angles, and the heatmap with them."
)
rotation_frame = pd.DataFrame(
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
rows, cols = np.triu_indices(len(labels), k=1)
pair_frame = pd.DataFrame(
    {
        "pair": [f"{labels[i]} · {labels[j]}" for i, j in zip(rows, cols, strict=True)],
        "cosine": demo.similarity[rows, cols],
        "cosine_after_R": demo.rotation.similarity[rows, cols],
        "cosine_after_M": demo.linear.similarity[rows, cols],
    }
)
downloads = st.columns(2)
with downloads[0]:
    ui.download_csv("Coordinates (CSV)", rotation_frame, "rotation_coords.csv", key="dl_rot")
with downloads[1]:
    ui.download_csv("Cosines (CSV)", pair_frame, "rotation_cosines.csv", key="dl_rot_cos")

# --- 3. Procrustes --------------------------------------------------------------------------------

st.subheader("Procrustes: rotate B onto A, and see what is left")
alignment = geometry.procrustes_align(vectors(0, paired), vectors(1, paired), scale=True)
order = np.argsort(-alignment.residuals, kind="stable")
shown = order[: min(15, order.size)]
cells = st.columns([1, 3])
cells[0].metric(
    "Disparity",
    f"{alignment.disparity:.3f}",
    help="Sum of squared residuals over the sum of squares of centred A: 0 = the same shape "
    "up to rotation and scale, 1 = nothing in common.",
)
cells[0].caption(
    f"Both centred; B ({view.infos[1].hidden_size} wide) "
    + (
        "zero-padded to A's width"
        if view.infos[1].hidden_size < view.infos[0].hidden_size
        else "and A compared in the wider width"
        if view.infos[1].hidden_size != view.infos[0].hidden_size
        else "and A have the same width"
    )
    + f"; scale factor {alignment.scale:.3g}."
)
with cells[1]:
    ui.chart(
        figures.ranked_bar_figure(
            [
                (
                    "items the two models place most differently",
                    [labels[i] for i in shown],
                    alignment.residuals[shown],
                )
            ],
            "distance left after aligning B onto A",
            presentation=view.presentation,
        ),
        key="procrustes",
    )
ui.download_csv(
    "Residuals (CSV)",
    pd.DataFrame({"item": [labels[i] for i in order], "residual": alignment.residuals[order]}),
    "procrustes_residuals.csv",
    key="dl_procrustes",
)

# --- 4. Rogue dimensions --------------------------------------------------------------------------

st.subheader("Rogue dimensions and outsized tokens")
exclude_first = st.toggle(
    "Leave out the first position of every sentence",
    key="exclude_first",
    help="GPT-2's first token has a norm many times the others' (it soaks up attention); "
    "for words this leaves out each sentence's first word.",
)
keeps = [rogue.keep_items(side, exclude_first) for side in paired]
if min(keep.size for keep in keeps) < 3:
    st.info("Fewer than 3 items are left without the first positions; add sentences.")
    st.stop()
contributions = [
    rogue.top_dimensions(vectors(which, paired, keeps[which]), k=10) for which in (0, 1)
]
ui.chart(
    figures.ranked_bar_figure(
        [
            (view.panel_title(which), [f"dim {d}" for d in c.dims], c.share)
            for which, c in enumerate(contributions)
        ],
        "share of all dimensions' contributions to the cosines",
        presentation=view.presentation,
        percent=True,
    ),
    key="rogue_dims",
)
st.caption(
    "Each dimension i adds u_i v_i / (‖u‖ ‖v‖) to the cosine of a pair; summed over all pairs, "
    "a few dimensions with a large share decide most similarities (Timkey & van Schijndel "
    f"2021). Preprocessing {prep_label}: standardising gives every dimension the same variance."
)

tokens = view.items("token")
outliers = [
    rogue.largest_norms(side.vectors[view.layers[which]], k=8) for which, side in enumerate(tokens)
]


def token_label(side, index: int) -> str:
    return f"{side.labels[index]} (S{side.sentence[index] + 1}, pos {side.position[index]})"


ui.chart(
    figures.ranked_bar_figure(
        [
            (
                f"{view.panel_title(which)} · median {o.median:.3g}",
                [token_label(tokens[which], i) for i in o.indices],
                o.norms,
            )
            for which, o in enumerate(outliers)
        ],
        "vector norm (raw)",
        presentation=view.presentation,
    ),
    key="token_norms",
)
st.caption(
    "The tokens with the largest raw vectors at each model's layer, with their sentence and "
    "position. In a trained GPT-2 the first position dwarfs the rest (an 'attention sink'); "
    "cosines with such a vector are decided by its few huge dimensions."
)

grid, titles, grid_frames = [], [], []
kept_labels = [labels[i] for i in keeps[0]]
drawn_kept = sample_indices(len(kept_labels), ui.HEATMAP_MAX_ITEMS)
first, second = np.triu_indices(len(kept_labels), k=1)
for which in (0, 1):
    layer = paired[which].vectors[view.layers[which]][keeps[which]]
    for prep in ("none", "center", "standardize"):
        cosines = geometry.cosine_similarity_matrix(geometry.preprocess(layer, prep))
        grid.append(cosines[np.ix_(drawn_kept, drawn_kept)])
        titles.append(f"{'AB'[which]} ({names[which]}) · {ui.PREPROCESSING_LABELS[prep]}")
        grid_frames.append(
            pd.DataFrame(
                {
                    "item_1": [kept_labels[i] for i in first],
                    "item_2": [kept_labels[j] for j in second],
                    "cosine": cosines[first, second],
                }
            ).assign(model=view.names[which], layer=view.layers[which], preprocessing=prep)
        )
ui.chart(
    figures.heatmap_grid_figure(
        grid, [kept_labels[i] for i in drawn_kept], titles, presentation=view.presentation
    ),
    key="rogue_heatmaps",
)
st.caption(
    f"The same cosine heatmap of the {paired_unit}s raw, mean-centred and standardised, whatever "
    "the sidebar's preprocessing. Anisotropic raw vectors make every cell red; centring removes "
    "the shared direction, and standardising also tames the rogue dimensions."
)
rogue_frame = pd.concat(
    [
        pd.DataFrame(
            {"dimension": c.dims, "contribution": c.contribution, "share": c.share}
        ).assign(model=view.names[which], layer=view.layers[which], exclude_first=exclude_first)
        for which, c in enumerate(contributions)
    ]
)
norm_frame = pd.concat(
    [
        pd.DataFrame(
            {
                "token": [tokens[which].labels[i] for i in o.indices],
                "sentence": tokens[which].sentence[o.indices] + 1,
                "position": tokens[which].position[o.indices],
                "norm": o.norms,
                "ratio_to_median": o.ratio_to_median,
            }
        ).assign(model=view.names[which], layer=view.layers[which])
        for which, o in enumerate(outliers)
    ]
)
downloads = st.columns(3)
with downloads[0]:
    ui.download_csv("Top dimensions (CSV)", rogue_frame, "rogue_dimensions.csv", key="dl_rogue")
with downloads[1]:
    ui.download_csv("Largest norms (CSV)", norm_frame, "token_norms.csv", key="dl_norms")
with downloads[2]:
    ui.download_csv(
        "Cosines raw / centred / standardised (CSV)",
        pd.concat(grid_frames, ignore_index=True),
        "cosines_by_preprocessing.csv",
        key="dl_rogue_cosines",
    )
