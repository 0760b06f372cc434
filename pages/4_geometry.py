"""Geometry: the PCA spectrum, rotation invariance, Procrustes alignment and rogue dimensions."""

import streamlit as st

from embexplorer.app import geometry_sections
from embexplorer.app.sidebar import open_page
from embexplorer.i18n import N_, _

view = open_page(
    N_("Geometry"),
    N_(
        "The mathematics behind the other views, live on your sentences: how many directions the "
        "vectors use, what a rotation changes and what it cannot, and which dimensions dominate."
    ),
)

paired = view.items(view.paired_unit)
if paired[0].n_items < 3:
    st.info(_("Add words or sentences: this page needs at least 3 items."))
    st.stop()
labels = paired[0].display_labels()

sections = {
    "1 · " + _("PCA spectrum"): (
        _("How many directions do the vectors use? (PCA spectrum)"),
        geometry_sections.spectrum,
    ),
    "2 · " + _("Rotations"): (
        _("A rotation moves every coordinate and no cosine"),
        geometry_sections.rotation,
    ),
    "3 · " + _("Procrustes"): (
        _("Procrustes: rotate B onto A, and see what is left"),
        geometry_sections.procrustes,
    ),
    "4 · " + _("Rogue dimensions"): (
        _("Rogue dimensions and outsized tokens"),
        geometry_sections.rogue_dimensions,
    ),
}
for tab, (heading, section) in zip(st.tabs(list(sections)), sections.values(), strict=True):
    with tab:
        st.subheader(heading)
        section(view, labels)
