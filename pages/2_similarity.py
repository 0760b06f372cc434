"""Similarity: both models' item-by-item matrices side by side, the RSA score and its scatter."""

import numpy as np
import pandas as pd
import streamlit as st

from embexplorer import figures, geometry
from embexplorer.app import tables, widgets
from embexplorer.app.present import (
    HEATMAP_MAX_ITEMS,
    SCATTER_MAX_PAIRS,
    describe_rsa,
    pairs_caption,
    sample_indices,
    sample_pairs,
    score_text,
    shared_token_note,
)
from embexplorer.app.sidebar import open_page
from embexplorer.labels import (
    PREPROCESSING_LABELS,
    RSA_METHOD_LABELS,
    correlation_symbol,
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
    comparison = view.comparison(metric, method, exclude_same)
except ValueError as error:
    message = widgets.escape_markdown(error)
    if not message.startswith("RSA is not defined"):
        st.info(f"Nothing to compare yet: {message}.")
        st.stop()
    # Degenerate input (e.g. one sentence repeated): the same card, every number "not defined",
    # and why.
    card = st.container(border=True)
    labels = ("Spearman ρ", "Pearson r", "p", "Linear CKA")
    for cell, label in zip(card.columns(4), labels, strict=True):
        cell.metric(label, "not defined")
    card.markdown("Every score is **not defined** for these sentences:")
    card.info(message)
    st.stop()

rsa = comparison.rsa
names = (view.infos[0].short_name, view.infos[1].short_name)
symbol = correlation_symbol(method)
undefined = "not defined"
card = st.container(border=True)
control = None
if show_control:
    try:
        with (
            card,
            st.spinner("Running random-weight copies of both models for the chance baseline…"),
        ):
            control = view.control(metric, method, exclude_same)
    except ValueError as error:
        card.caption(f"No random-weight baseline: {widgets.escape_markdown(error)}")
if control is not None:
    card.markdown(
        f"**{symbol} — trained: {score_text(rsa.value)} · random weights: "
        f"{score_text(control.rsa.value)}**",
        help="Random weights: the same score for copies of both models whose weights are random "
        f"(same architectures and tokenizers; weight seeds {control.seeds[0]} and "
        f"{control.seeds[1]}), run on the same sentences. Their linear CKA: "
        f"{widgets.number(control.cka)}.",
    )
cells = card.columns([1, 1, 1.1, 1.8, 1.1])
cells[0].metric("Spearman ρ", f"{rsa.spearman:.3f}" if rsa.defined else undefined)
cells[1].metric("Pearson r", f"{rsa.pearson:.3f}" if rsa.defined else undefined)
cells[2].metric(
    "p (permutation)",
    f"{rsa.p_value:.4f}" if rsa.defined else undefined,
    help=f"One-sided Mantel test: {rsa.permutations:,} random relabellings of the "
    "items of model B; p = (1 + #{r_perm ≥ r}) / (1 + permutations). " + rsa.null,
)
cells[3].metric(
    f"{rsa.ci_level:.0%} CI ({symbol})",
    undefined
    if not rsa.defined
    else "none"
    if rsa.ci_note
    else f"[{rsa.ci_low:.2f}, {rsa.ci_high:.2f}]",
    help=rsa.ci_note or f"Percentile bootstrap over items ({rsa.bootstraps} resamples).",
)
cells[4].metric(
    "Linear CKA",
    widgets.number(comparison.cka),
    help=(
        f"Not defined: {comparison.cka_reason}. "
        if comparison.cka_reason
        else f"Debiased: {widgets.number(comparison.cka_debiased)}. "
    )
    + "Centred kernel alignment of the item vectors; 1 = same geometry up to rotation and scale.",
)
card.caption(pairs_caption(comparison, unit))
if comparison.cka_reason:
    card.caption(f"CKA is not defined: {widgets.escape_markdown(comparison.cka_reason)}.")
card.markdown(describe_rsa(rsa, names, unit, control=None if control is None else control.rsa))
if rsa.defined and rsa.permutations:
    card.caption(rsa.null)
shared = comparison.items_sharing_tokens
if shared:
    st.info(shared_token_note(shared, comparison.labels, names), icon="ℹ️")
widgets.sample_note(view, "RSA, its p-value, CI and CKA")

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
