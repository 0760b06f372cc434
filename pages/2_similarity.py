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
from embexplorer.i18n import N_, _
from embexplorer.labels import PREPROCESSING_LABELS, RSA_METHOD_LABELS, formatter, label
from embexplorer.rsa import RSA_METHODS

view = open_page(
    N_("Similarity & RSA"),
    N_(
        "Every cell compares two items within one model. RSA then asks: do the two models "
        "find the same pairs alike?"
    ),
)

controls = widgets.controls_row()
metric = widgets.metric_control(controls)
method = controls.segmented_control(
    _("RSA correlation"),
    list(RSA_METHODS),
    key="rsa",
    required=True,
    format_func=formatter(RSA_METHOD_LABELS),
    help=_(
        "Spearman compares ranks (robust to the very different scales of the two models); "
        "Pearson compares values."
    ),
)
options = controls.container(width="content")
show_control = widgets.control_toggle(options, len(view.texts))
exclude_same = options.checkbox(
    _("Leave out pairs of the same word"),
    key="exclude_same",
    help=_(
        "Two occurrences of one word ('bank' in two sentences) are alike in any two models, "
        "trained or not. Leaving their pairs out asks whether the models agree on different "
        "words; the p-value then shuffles whole words."
    ),
)
unit = view.paired_unit
widgets.paired_unit_notice(view.unit)

try:
    comparison = view.scores(metric, method, exclude_same)
except ValueError as error:
    message = widgets.error_text(error)
    reason = error.args[0] if error.args else ""
    # Recognised by its English text, which a core Message keeps whatever the visitor's language.
    if not (isinstance(reason, str) and reason.startswith("RSA is not defined")):
        st.info(_("Nothing to compare yet: {message}.").format(message=message))
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
                _(
                    "Model {slot}'s cosines are all close to 1 (mean between different items "
                    "{mean:.2f}): a common direction and a few 'rogue' dimensions with huge "
                    "values dominate every vector (anisotropy). Choose **{centre}** or "
                    "**{standardise}** in the sidebar to see the structure underneath."
                ).format(
                    slot="AB"[which],
                    mean=mean_cosine,
                    centre=label(PREPROCESSING_LABELS, "center"),
                    standardise=label(PREPROCESSING_LABELS, "standardize"),
                )
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
notes = [
    _("Preprocessing: {prep}.").format(prep=label(PREPROCESSING_LABELS, view.preprocessing)),
    _("Cosine uses one scale centred on 0 in both panels.")
    if metric == "cosine"
    else _("Distances differ in scale between models, so each panel has its own colour scale."),
]
if len(shown) < len(labels):
    notes.append(
        _(
            "{n:,} items are too many to read: the heatmaps show {shown} evenly spaced ones; the "
            "scores above use all of them."
        ).format(n=len(labels), shown=len(shown))
    )
st.caption(" ".join(notes))

values_a, values_b = comparison.pair_values()
quantity = "cosine" if metric == "cosine" else "distance"
drawn = sample_pairs(len(values_a), SCATTER_MAX_PAIRS)
scatter = figures.rsa_scatter_figure(
    values_a[drawn],
    values_b[drawn],
    comparison.pair_labels(drawn),
    comparison.fit_line(),
    axis_titles=tuple(
        (
            _("cosine in {slot} ({name})")
            if metric == "cosine"
            else _("distance in {slot} ({name})")
        ).format(slot=slot, name=name)
        for slot, name in zip("AB", names, strict=True)
    ),
    presentation=view.presentation,
)
st.subheader(_("Each pair of items in both models"))
widgets.chart(scatter, key="rsa_scatter")
if len(drawn) < len(values_a):
    st.caption(
        _(
            "{drawn:,} of {total:,} pairs drawn (a random sample); the line and the scores use "
            "all pairs."
        ).format(drawn=len(drawn), total=len(values_a))
    )

downloads = st.columns(3)
for column, (tag, matrix) in zip(
    downloads[:2], (("A", comparison.matrix_a), ("B", comparison.matrix_b)), strict=True
):
    with column:
        widgets.download_csv(
            _("Matrix {slot} (CSV)").format(slot=tag),
            lambda matrix=matrix: tables.matrix_table(matrix, labels),
            f"similarity_{tag}.csv",
            key=f"dl_matrix_{tag}",
        )
with downloads[2]:
    widgets.download_csv(
        _("Pairs (CSV)"),
        lambda comparison=comparison: pd.DataFrame(
            {
                "pair": comparison.pair_labels(),
                f"{quantity}_A": values_a,
                f"{quantity}_B": values_b,
            }
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
