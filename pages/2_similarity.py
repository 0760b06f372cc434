"""Similarity: both models' item-by-item matrices side by side, the RSA score and its scatter."""

import numpy as np
import pandas as pd
import streamlit as st

from embexplorer import figures, geometry
from embexplorer.app import similarity_sections, tables, widgets
from embexplorer.app.present import (
    HEATMAP_MAX_ITEMS,
    SCATTER_MAX_PAIRS,
    sample_indices,
    sample_pairs,
)
from embexplorer.app.sidebar import open_page
from embexplorer.labels import (
    PREPROCESSING_LABELS,
    RSA_METHOD_LABELS,
)
from embexplorer.rsa import RSA_METHODS

view = open_page(
    "Similarity & RSA",
    "Every cell compares two items within one model. RSA then asks: do the two models "
    "find the same pairs alike?",
)

controls = widgets.controls_row()
metric = widgets.metric_control(controls)
method = controls.segmented_control(
    "RSA correlation",
    list(RSA_METHODS),
    key="rsa",
    required=True,
    format_func=RSA_METHOD_LABELS.get,
    help="Spearman compares ranks (robust to the very different scales of the two models); "
    "Pearson compares values.",
)
options = controls.container(width="content")
show_control = widgets.control_toggle(options, len(view.texts))
exclude_same = options.checkbox(
    "Leave out pairs of the same word",
    key="exclude_same",
    help="Two occurrences of one word ('bank' in two sentences) are alike in any two models, "
    "trained or not. Leaving their pairs out asks whether the models agree on different words; "
    "the p-value then shuffles whole words.",
)
unit = view.paired_unit
widgets.paired_unit_notice(view.unit)

try:
    comparison = view.scores(metric, method, exclude_same)
except ValueError as error:
    message = widgets.escape_markdown(error)
    if not message.startswith("RSA is not defined"):
        st.info(f"Nothing to compare yet: {message}.")
        st.stop()
    similarity_sections.undefined_card(message)
    st.stop()

names = (view.infos[0].short_name, view.infos[1].short_name)
# A corpus's permutation test and CI take seconds: its scores come first, they come last.
later = similarity_sections.resample_later(comparison)
card = st.empty()
if later:
    with card.container():
        waiting = similarity_sections.score_card(
            view, comparison, metric, method, None, "", unit, names, pending=True
        )
else:
    comparison = view.comparison(metric, method, exclude_same)
    control = similarity_sections.baseline(view, metric, method, exclude_same, show_control)
    with card.container():
        similarity_sections.score_card(view, comparison, metric, method, *control, unit, names)

if metric == "cosine" and view.preprocessing == "none":
    for which, vectors in enumerate((comparison.vectors_a, comparison.vectors_b)):
        mean_cosine = geometry.anisotropy(vectors)
        if mean_cosine > 0.9:
            st.info(
                f"Model {'AB'[which]}'s cosines are all close to 1 (mean between different "
                f"items {mean_cosine:.2f}): a common direction and a few 'rogue' dimensions "
                "with huge values dominate every vector (anisotropy). Choose **mean-centre** "
                "or **standardise** in the sidebar to see the structure underneath."
            )

labels = comparison.labels
shown = sample_indices(len(labels), HEATMAP_MAX_ITEMS)
fig = figures.heatmap_pair_figure(
    comparison.matrix_a[np.ix_(shown, shown)],
    comparison.matrix_b[np.ix_(shown, shown)],
    [labels[i] for i in shown],
    titles=[view.panel_title(0), view.panel_title(1)],
    metric=metric,
    presentation=view.presentation,
)
widgets.chart(fig, key="heatmaps")
st.caption(
    f"Preprocessing: {PREPROCESSING_LABELS[view.preprocessing]}. "
    + (
        "Cosine uses one scale centred on 0 in both panels."
        if metric == "cosine"
        else "Distances differ in scale between models, so each panel has its own colour scale."
    )
    + (
        f" {len(labels):,} items are too many to read: the heatmaps show {len(shown)} evenly "
        "spaced ones; the scores above use all of them."
        if len(shown) < len(labels)
        else ""
    )
)

values_a, values_b, pair_labels = comparison.pair_values()
quantity = "cosine" if metric == "cosine" else "distance"
drawn = sample_pairs(len(values_a), SCATTER_MAX_PAIRS)
scatter = figures.rsa_scatter_figure(
    values_a[drawn],
    values_b[drawn],
    [pair_labels[i] for i in drawn],
    comparison.fit_line(),
    axis_titles=(f"{quantity} in A ({names[0]})", f"{quantity} in B ({names[1]})"),
    presentation=view.presentation,
)
st.subheader("Each pair of items in both models")
widgets.chart(scatter, key="rsa_scatter")
if len(drawn) < len(values_a):
    st.caption(
        f"{len(drawn):,} of {len(values_a):,} pairs drawn (a random sample); the line and the "
        "scores use all pairs."
    )

downloads = st.columns(3)
for column, (tag, matrix) in zip(
    downloads[:2], (("A", comparison.matrix_a), ("B", comparison.matrix_b)), strict=True
):
    with column:
        widgets.download_csv(
            f"Matrix {tag} (CSV)",
            lambda matrix=matrix: tables.matrix_table(matrix, labels),
            f"similarity_{tag}.csv",
            key=f"dl_matrix_{tag}",
        )
with downloads[2]:
    widgets.download_csv(
        "Pairs (CSV)",
        lambda: pd.DataFrame(
            {"pair": pair_labels, f"{quantity}_A": values_a, f"{quantity}_B": values_b}
        ),
        "pairs.csv",
        key="dl_pairs",
    )

if later:  # the card again, with its p-value, CI and the random-weight baseline
    with (
        waiting if waiting is not None else st.container(),
        st.spinner(similarity_sections.resampling_spinner(comparison)),
    ):
        comparison = view.comparison(metric, method, exclude_same)
        control = similarity_sections.baseline(view, metric, method, exclude_same, show_control)
    with card.container():
        similarity_sections.score_card(view, comparison, metric, method, *control, unit, names)
