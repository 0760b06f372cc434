"""Layers: every layer of A against every layer of B, and each model's geometry layer by layer."""

import numpy as np
import streamlit as st

from embexplorer import figures
from embexplorer.align import duplicate_sentences
from embexplorer.app import layers_sections, tables, widgets
from embexplorer.app.sidebar import open_page
from embexplorer.i18n import N_, _
from embexplorer.labels import (
    LAYER_METHOD_LABELS,
    METRIC_LABELS,
    PREPROCESSING_LABELS,
    UNIT_LABELS,
    formatter,
    label,
)
from embexplorer.layers import LAYER_MEASURES, LAYER_METHODS, best_match

view = open_page(
    N_("Layers"),
    N_(
        "Which layer of one model organises the words most like which layer of the other, and "
        "how each model's space changes shape with depth."
    ),
)

names = (view.infos[0].short_name, view.infos[1].short_name)
st.subheader(_("Layer-by-layer match"))
controls = widgets.controls_row()
method = controls.segmented_control(
    _("Compare layers by"),
    list(LAYER_METHODS),
    key="layer_method",
    required=True,
    format_func=formatter(LAYER_METHOD_LABELS),
    help=_(
        "RSA correlates the two item-by-item matrices (upper triangles); linear CKA compares "
        "the centred vectors' Gram matrices (Kornblith et al. 2019). RSA on cosine (or Euclidean) "
        "matrices and CKA are unchanged by rotating a model's vectors; standardising per "
        "dimension, if chosen in the sidebar, is not rotation-invariant, so it can change them."
    ),
)
metric = widgets.metric_control(
    controls,
    disabled=method == "cka",
    help=_("The item-by-item matrix RSA compares (CKA uses the vectors themselves)."),
)
left, right = st.columns([3, 2], gap="large")
show_control = right.toggle(
    _("Show the random-weight baseline"),
    key="layer_control",
    help=_(
        "The same matrix for copies of both models with random weights (same architectures and "
        "tokenizers), run once each on the same sentences: what any two such models share from "
        "the input alone (repeated words, shared prefixes, sentence membership)."
    ),
)
unit = view.paired_unit
widgets.paired_unit_notice(view.unit)

try:
    matrix = view.layer_matrix(metric, method)
except ValueError as error:
    st.info(_("Nothing to compare yet: {error}.").format(error=widgets.escape_markdown(error)))
    st.stop()

control = None
if show_control:
    try:
        with st.spinner(_("Running random-weight copies of both models for the chance baseline…")):
            control = view.control_layer_matrix(metric, method)
    except ValueError as error:
        st.caption(
            _("No random-weight baseline: {error}").format(error=widgets.escape_markdown(error))
        )

fig = figures.layer_matrix_figure(
    matrix, names, method=method, selected=view.layers, presentation=view.presentation
)
with left:
    widgets.layer_picker_chart(fig, key="layer_matrix")
with right:
    best = best_match(matrix) if np.isfinite(matrix).any() else None
    method_label = label(LAYER_METHOD_LABELS, method)
    layers = dict(layer_a=view.layers[0], layer_b=view.layers[1])
    st.metric(
        _("Selected pair: A {layer_a} · B {layer_b}").format(**layers),
        widgets.number(matrix[view.layers]),
        help=_("{method} between layer {layer_a} of A and layer {layer_b} of B.").format(
            method=method_label, **layers
        ),
    )
    if control is not None:
        st.metric(
            _("Random weights: A {layer_a} · B {layer_b}").format(**layers),
            widgets.number(control[view.layers]),
            help=_("The same cell for random-weight copies of both models."),
        )
    st.markdown(
        _(
            "**Click a cell** to use its two layers on every page (the sidebar sliders follow). "
            "Rows are the layers of A, columns the layers of B; 'emb' is the embedding layer."
        )
    )
    if best is not None:
        # A click on the pair already selected would change nothing: say so instead.
        shown = tuple(best) == tuple(view.layers)
        st.button(
            _("Use the best-matching pair: A {layer_a} · B {layer_b} ({value:.2f})").format(
                layer_a=best[0], layer_b=best[1], value=matrix[best]
            ),
            on_click=widgets.use_layers,
            args=best,
            key="use_best_layers",
            icon=":material/target:",
            disabled=shown,
        )
        if shown:
            st.caption(
                _(
                    "The best-matching pair is the one selected now: every page already uses "
                    "layer {layer_a} of A and layer {layer_b} of B."
                ).format(layer_a=best[0], layer_b=best[1])
            )
    settings = dict(
        method=method_label,
        n=view.compared_index().size,
        unit=label(UNIT_LABELS, unit),
        preprocessing=label(PREPROCESSING_LABELS, view.preprocessing),
        metric=label(METRIC_LABELS, metric),
    )
    st.caption(
        (
            _("{method} over {n:,} {unit}")
            + (
                " " + _("(exact repeats of a sentence counted once)")
                if duplicate_sentences(view.texts)
                else ""
            )
            + "; "
            + _("preprocessing {preprocessing}")
            + ("" if method == "cka" else ", " + _("{metric} matrices"))
            + ". "
        ).format(**settings)
        + _(
            "What to notice: in trained models the brightest band shows which depths of the two "
            "models organise the words most alike; compare with the random-weight baseline, which "
            "shows how much of a cell the input alone explains."
        )
    )
if control is not None:
    st.markdown(_("**The same matrix for random-weight copies of both models**"))
    widgets.chart(
        figures.layer_matrix_figure(
            control, names, method=method, selected=view.layers, presentation=view.presentation
        ),
        key="layer_matrix_control",
    )
    st.caption(
        _(
            "Same architectures, tokenizers, sentences and settings, random weights (seeded). "
            "Where a cell above is no higher than here, the two models agree only as much as any "
            "two untrained models of these architectures would."
        )
    )

widgets.sample_note(view, _("The layer-by-layer matrix"))
st.subheader(_("How each model's space changes with depth"))
raw, prepared = layers_sections.depth_curves(view, names)

downloads = st.columns(2)
with downloads[0]:
    widgets.download_csv(
        _("Layer matrix (CSV)"),
        lambda: tables.layer_matrix_table(matrix, figures.layer_tick_labels),
        f"layer_matrix_{method}.csv",
        key="dl_layer_matrix",
    )
with downloads[1]:
    widgets.download_csv(
        _("Per-layer measures (CSV)"),
        lambda: tables.layer_measures_table((raw, prepared), view.names, list(LAYER_MEASURES)),
        "layer_measures.csv",
        key="dl_layer_curves",
    )
