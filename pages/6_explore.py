"""Explore: search, nearest neighbours in both models, linked panels, layers you can play, a
pair through depth, and saved views."""

import streamlit as st

from embexplorer.app import explore_sections as sections
from embexplorer.app import widgets
from embexplorer.app.sidebar import open_page
from embexplorer.app.state import MAX_NEIGHBOURS
from embexplorer.i18n import N_, _

sections.open_requested_view()  # "Open" on a saved view of another page: go there first
view = open_page(
    N_("Explore"),
    N_(
        "Find items in both models at once: search, select, compare their nearest neighbours, "
        "and follow them through the layers."
    ),
)

widgets.paired_unit_notice(view.unit)
items = view.items(view.paired_unit)[0]
if items.n_items < 3:
    st.info(
        _("Only {n} item(s): exploring needs at least 3. Add a sentence.").format(n=items.n_items)
    )
    st.stop()

controls = st.columns([3, 2.4, 2.2, 4.6], vertical_alignment="bottom", gap="small")
largest_k = min(MAX_NEIGHBOURS, items.n_items - 1)
st.session_state["k"] = min(int(st.session_state["k"]), largest_k)
k = controls[2].slider(
    _("Neighbours (k)"),
    1,
    largest_k,
    key="k",
    help=_("How many nearest items to list, and to compare between the models."),
)
overlap = controls[3].toggle(
    _("Colour by A–B neighbour overlap"),
    key="overlap",
    help=_("Colour every point by how many of its k nearest neighbours the two models share."),
)
matches = sections.search(view, items.display_labels(), controls)

try:
    lit = sections.panels(view, items, matches, k, overlap)
except ValueError as error:
    st.warning(_("These items cannot be drawn: {error}").format(error=error))
    st.stop()

st.subheader(_("Nearest neighbours, side by side"))
sections.neighbour_lists(view, items, k)

st.subheader(_("Layers you can play"))
sections.layer_animation(view, items, lit)

st.subheader(_("Heatmaps you can play"))
sections.heatmap_animation(view, items)

st.subheader(_("Follow a pair through depth"))
sections.pair_through_depth(view, items)

st.subheader(_("Saved views"))
sections.saved_views()
