"""Layers: every layer of A against every layer of B, and each model's geometry layer by layer."""

import numpy as np
import streamlit as st

from embexplorer import figures
from embexplorer.align import duplicate_sentences
from embexplorer.app import layers_sections, tables, widgets
from embexplorer.app.sidebar import open_page
from embexplorer.labels import PREPROCESSING_LABELS
from embexplorer.layers import LAYER_MEASURES, LAYER_METHODS, best_match

view = open_page(
    "Layers",
    "Which layer of one model organises the words most like which layer of the other, and how "
    "each model's space changes shape with depth.",
)

names = (view.infos[0].short_name, view.infos[1].short_name)
st.subheader("Layer-by-layer match")
controls = widgets.controls_row()
method = controls.segmented_control(
    "Compare layers by",
    list(LAYER_METHODS),
    key="layer_method",
    required=True,
    format_func=figures.LAYER_METHOD_LABELS.get,
    help="RSA correlates the two item-by-item matrices (upper triangles); linear CKA compares "
    "the centred vectors' Gram matrices (Kornblith et al. 2019). RSA on cosine (or Euclidean) "
    "matrices and CKA are unchanged by rotating a model's vectors; standardising per dimension, "
    "if chosen in the sidebar, is not rotation-invariant, so it can change them.",
)
metric = widgets.metric_control(
    controls,
    disabled=method == "cka",
    help="The item-by-item matrix RSA compares (CKA uses the vectors themselves).",
)
left, right = st.columns([3, 2], gap="large")
show_control = right.toggle(
    "Show the random-weight baseline",
    key="layer_control",
    help="The same matrix for copies of both models with random weights (same architectures and "
    "tokenizers), run once each on the same sentences: what any two such models share from the "
    "input alone (repeated words, shared prefixes, sentence membership).",
)
unit = view.paired_unit
widgets.paired_unit_notice(view.unit)

try:
    matrix = view.layer_matrix(metric, method)
except ValueError as error:
    st.info(f"Nothing to compare yet: {widgets.escape_markdown(error)}.")
    st.stop()

control = None
if show_control:
    try:
        with st.spinner("Running random-weight copies of both models for the chance baseline…"):
            control = view.control_layer_matrix(metric, method)
    except ValueError as error:
        st.caption(f"No random-weight baseline: {widgets.escape_markdown(error)}")

fig = figures.layer_matrix_figure(
    matrix, names, method=method, selected=view.layers, presentation=view.presentation
)
with left:
    widgets.layer_picker_chart(fig, key="layer_matrix")
with right:
    best = best_match(matrix) if np.isfinite(matrix).any() else None
    label = figures.LAYER_METHOD_LABELS[method]
    st.metric(
        f"Selected pair: A {view.layers[0]} · B {view.layers[1]}",
        f"{matrix[view.layers]:.3f}" if np.isfinite(matrix[view.layers]) else "not defined",
        help=f"{label} between layer {view.layers[0]} of A and layer {view.layers[1]} of B.",
    )
    if control is not None:
        st.metric(
            f"Random weights: A {view.layers[0]} · B {view.layers[1]}",
            widgets.number(control[view.layers]),
            help="The same cell for random-weight copies of both models.",
        )
    st.markdown(
        "**Click a cell** to use its two layers on every page (the sidebar sliders follow). "
        "Rows are the layers of A, columns the layers of B; 'emb' is the embedding layer."
    )
    if best is not None:
        st.button(
            f"Use the best-matching pair: A {best[0]} · B {best[1]} ({matrix[best]:.2f})",
            on_click=widgets.use_layers,
            args=best,
            key="use_best_layers",
            icon=":material/target:",
        )
    st.caption(
        f"{label} over {view.compared_index().size:,} {unit}s"
        + (" (exact repeats of a sentence counted once)" if duplicate_sentences(view.texts) else "")
        + "; preprocessing "
        f"{PREPROCESSING_LABELS[view.preprocessing]}"
        + ("" if method == "cka" else f", {metric} matrices")
        + ". What to notice: in trained models the brightest band shows which depths of the two "
        "models organise the words most alike; compare with the random-weight baseline, which "
        "shows how much of a cell the input alone explains."
    )
if control is not None:
    st.markdown("**The same matrix for random-weight copies of both models**")
    widgets.chart(
        figures.layer_matrix_figure(
            control, names, method=method, selected=view.layers, presentation=view.presentation
        ),
        key="layer_matrix_control",
    )
    st.caption(
        "Same architectures, tokenizers, sentences and settings, random weights (seeded). Where a "
        "cell above is no higher than here, the two models agree only as much as any two "
        "untrained models of these architectures would."
    )

widgets.sample_note(view, "The layer-by-layer matrix")
st.subheader("How each model's space changes with depth")
raw, prepared = layers_sections.depth_curves(view, names)

downloads = st.columns(2)
with downloads[0]:
    widgets.download_csv(
        "Layer matrix (CSV)",
        lambda: tables.layer_matrix_table(matrix, figures.layer_tick_labels),
        f"layer_matrix_{method}.csv",
        key="dl_layer_matrix",
    )
with downloads[1]:
    widgets.download_csv(
        "Per-layer measures (CSV)",
        lambda: tables.layer_measures_table((raw, prepared), view.names, list(LAYER_MEASURES)),
        "layer_measures.csv",
        key="dl_layer_curves",
    )
