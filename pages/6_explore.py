"""Explore: search, nearest neighbours in both models, linked panels, layers you can play, a
pair through depth, and saved views."""

import streamlit as st

from embexplorer.app import explore_sections as sections
from embexplorer.app import widgets
from embexplorer.app.sidebar import open_page
from embexplorer.app.state import MAX_NEIGHBOURS

sections.open_requested_view()  # "Open" on a saved view of another page: go there first
view = open_page(
    "Explore",
    "Find items in both models at once: search, select, compare their nearest neighbours, "
    "and follow them through the layers.",
)

widgets.paired_unit_notice(view.unit)
items = view.items(view.paired_unit)[0]
if items.n_items < 3:
    st.info(f"Only {items.n_items} item(s): exploring needs at least 3. Add a sentence.")
    st.stop()

controls = st.columns([3, 2.4, 2.2, 4.6], vertical_alignment="bottom", gap="small")
largest_k = min(MAX_NEIGHBOURS, items.n_items - 1)
st.session_state["k"] = min(int(st.session_state["k"]), largest_k)
k = controls[2].slider(
    "Neighbours (k)",
    1,
    largest_k,
    key="k",
    help="How many nearest items to list, and to compare between the models.",
)
overlap = controls[3].toggle(
    "Colour by A–B neighbour overlap",
    key="overlap",
    help="Colour every point by how many of its k nearest neighbours the two models share.",
)
matches = sections.search(view, items.display_labels(), controls)

try:
    lit = sections.panels(view, items, matches, k, overlap)
except ValueError as error:
    st.warning(f"These items cannot be drawn: {error}")
    st.stop()

st.subheader("Nearest neighbours, side by side")
sections.neighbour_lists(view, items, k)

st.subheader("Layers you can play")
sections.layer_animation(view, items, lit)

st.subheader("Heatmaps you can play")
sections.heatmap_animation(view, items)

st.subheader("Follow a pair through depth")
sections.pair_through_depth(view, items)

st.subheader("Saved views")
sections.saved_views()
