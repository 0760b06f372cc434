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
# On a corpus each section costs seconds, so only the open tab runs (switching tabs reruns the
# page); a small input runs every tab at once, so switching shows its content at once.
run_every_tab = paired[0].n_items <= geometry_sections.ALL_TABS_MAX_ITEMS
tabs = st.tabs(list(sections), key="geometry_tab", on_change="rerun")
for tab, (heading, section) in zip(tabs, sections.values(), strict=True):
    if run_every_tab or tab.open:
        with tab:
            st.subheader(heading)
            section(view, labels)
