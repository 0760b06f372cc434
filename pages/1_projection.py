"""Projection: both models' items in 2D/3D (PCA, UMAP or t-SNE), side by side or aligned."""

import streamlit as st

from embexplorer import figures
from embexplorer.app import geometry_sections, tables, widgets
from embexplorer.app.present import projection_notice, word_key_note
from embexplorer.app.sidebar import open_page
from embexplorer.i18n import N_, _
from embexplorer.labels import COLOUR_BY_LABELS, PROJECTION_LABELS, formatter

view = open_page(
    N_("Projection"),
    N_(
        "Each point is one item's vector at the chosen layer, projected to 2D/3D; "
        "each model in its own space, or both together after aligning B onto A."
    ),
)

controls = widgets.controls_row()
method = controls.segmented_control(
    _("Method"),
    list(PROJECTION_LABELS),
    key="method",
    required=True,
    format_func=formatter(PROJECTION_LABELS),
    help=_(
        "PCA is linear and exact (axes show explained variance); UMAP and t-SNE keep "
        "neighbourhoods but distort distances. All are seeded, so a rerun gives the same picture."
    ),
)
dims = controls.segmented_control(
    _("Dimensions"), [2, 3], key="dims", required=True, format_func=lambda d: f"{d}D"
)
colour = controls.segmented_control(
    _("Colour by"),
    list(figures.COLOUR_BY),
    key="colour",
    required=True,
    format_func=formatter(COLOUR_BY_LABELS),
)
with controls.container(width="content"):
    st.markdown(_("Show"))
    options = st.container(horizontal=True)
    show_labels = options.checkbox(_("labels"), key="labels")
    show_lines = options.checkbox(
        _("order"), key="lines", help=_("Join each sentence's items in reading order.")
    )
    joint = options.checkbox(
        _("joint"),
        key="joint",
        help=_(
            "Align B onto A (orthogonal Procrustes) and draw both in one space, each shared "
            "item linked."
        ),
    )

items_a, items_b = view.items()
if joint and view.unit == "token":
    st.info(
        _(
            "The joint view links the same item in both models, so it needs words or sentences: "
            "the two tokenizers cut the text into different tokens. Showing side by side."
        )
    )
    joint = False

try:
    if joint:
        result = view.joint_projection(method, dims)
        projections = result.per_model()
    else:
        projections = [view.projection(which, method, dims) for which in (0, 1)]
except ValueError as error:
    st.warning(
        _("This projection cannot be drawn: {error}").format(error=widgets.error_text(error))
    )
    st.stop()

panels = [
    figures.PointSet.from_items(projection, items, view.texts)
    for projection, items in zip(projections, (items_a, items_b), strict=True)
]
titles = [view.panel_title(0), view.panel_title(1)]
coordinates = tuple(projection.coords for projection in projections)
if joint:
    fig = figures.joint_projection_figure(
        panels,
        names=titles,
        colour_by=colour,
        show_labels=show_labels,
        show_lines=show_lines,
        presentation=view.presentation,
    )
    widgets.chart(fig, key="projection_joint")
    st.caption(
        _(
            "B was rotated (and scaled) onto A by orthogonal Procrustes after centring. {scale} "
            "Long links are items the two models place differently."
        ).format(scale=geometry_sections.procrustes_scale(view.procrustes_null()))
    )
else:
    fig = figures.projection_figure(
        panels,
        titles=titles,
        colour_by=colour,
        show_labels=show_labels,
        show_lines=show_lines,
        presentation=view.presentation,
    )
    widgets.chart(fig, key="projection_pair")
    if view.unit != "sentence":
        st.caption(projection_notice(view.infos))
    if method == "pca":
        widgets.pca_fit_note(max(items_a.n_items, items_b.n_items), view.unit)
key_note = word_key_note(panels) if colour == "word" else ""
if key_note:
    st.caption(key_note)

downloads = st.columns(2)
with downloads[0]:
    widgets.download_csv(
        _("Projected coordinates (CSV)"),
        lambda: tables.projection_table(coordinates, (items_a, items_b), view.names),
        "projection.csv",
        key="dl_projection",
    )
with downloads[1]:
    widgets.download_npz(
        _("Item vectors at these layers (NPZ)"),
        lambda: {
            "items": items_a.labels if view.unit != "token" else [],
            "labels_a": items_a.labels,
            "labels_b": items_b.labels,
            "vectors_a": items_a.vectors[view.layers[0]],
            "vectors_b": items_b.vectors[view.layers[1]],
        },
        "item_vectors.npz",
        key="dl_vectors",
    )
