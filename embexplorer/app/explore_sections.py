"""The Explore page's sections, one function each: search, linked panels (selection and
isolation), nearest neighbours side by side, layers you can play, a pair through depth, saved
views.

Every number comes from a cached :class:`~.view.View` method; these functions lay out and keep
the page's own state (the selected items, the picked item) in ``st.session_state``.
"""

from __future__ import annotations

import urllib.parse

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from .. import contextuality, figures, neighbours
from ..align import Items, shorten
from ..i18n import N_, _
from ..labels import MODEL_KIND_LABELS, PREPROCESSING_LABELS, UNIT_LABELS, formatter, label
from . import state as link_state
from . import tables, widgets
from .caching import MAX_ANIMATED_HEATMAP_ITEMS
from .present import describe_rsa, sample_indices
from .view import View

PANELS = "explore_panels"  # the linked panels' chart
SELECTED = "explore_selected"  # item indices selected in a panel (box, lasso or click)
SELECTED_OF = "explore_selected_of"  # the items they index (a fingerprint of the item selection)
ISOLATED = "explore_isolated"  # the panels show the selection only
PICKED = "explore_item"  # the item whose neighbours are listed
PANEL_FIG, PANEL_ROWS = "_explore_panel_fig", "_explore_panel_rows"
LAST_QUERY = "_explore_last_query"
MAX_LISTED = 30  # search matches named in the line under the box
SELECTION_MODES = ("points", "box", "lasso")
# Pages a saved view can open on (URL path: file), and their titles.
SAVABLE_PAGES = {
    "explore": "pages/6_explore.py",
    "projection": "pages/1_projection.py",
    "similarity": "pages/2_similarity.py",
    "layers": "pages/3_layers.py",
    "geometry": "pages/4_geometry.py",
    "context": "pages/5_context.py",
}
PAGE_TITLES = {
    "explore": N_("Explore"),
    "projection": N_("Projection"),
    "similarity": N_("Similarity & RSA"),
    "layers": N_("Layers"),
    "geometry": N_("Geometry"),
    "context": N_("Context"),
}


def _say(labels: list[str], indices, limit: int = MAX_LISTED) -> str:
    shown = ", ".join(widgets.escape_markdown(labels[i]) for i in indices[:limit])
    if len(indices) <= limit:
        return shown
    return shown + _(", … and {n} more").format(n=len(indices) - limit)


def model_name(view: View, which: int) -> str:
    """ "A: gpt2 (causal)": a model's letter, name and kind, in the visitor's language."""
    kind = label(MODEL_KIND_LABELS, view.infos[which].kind)
    return f"{'AB'[which]}: {view.short_names[which]} ({kind})"


# --- search ---------------------------------------------------------------------------------------


def search(view: View, labels: list[str], container) -> np.ndarray | None:
    """The search box's matches (None without a query or with a bad expression), listed."""
    query = container[0].text_input(
        _("Search items"),
        key="q",
        placeholder=_("a word, e.g. bank"),
        help=_(
            "Whole words, ignoring case ('bank' finds 'Bank', not 'banks'). With regular "
            "expression: a Python pattern searched anywhere in the item, e.g. ^ban|ed$."
        ),
    )
    container[1].checkbox(_("regular expression"), key="regex")
    if not query.strip():
        return None
    try:
        matches = view.search(query, st.session_state["regex"])
    except ValueError as error:
        st.warning(
            _("Nothing highlighted: {error}.").format(error=widgets.escape_markdown(error)),
            icon="⚠️",
        )
        return None
    if st.session_state.get(LAST_QUERY) != query and matches.size:
        st.session_state[PICKED] = int(matches[0])  # a new search picks its first match
    st.session_state[LAST_QUERY] = query
    if matches.size == 0:
        st.info(_("No item matches “{query}”.").format(query=widgets.escape_markdown(query)))
    else:
        st.markdown(
            _("**{n} of {total} items match**, highlighted in both panels: {items}").format(
                n=matches.size, total=len(labels), items=_say(labels, matches)
            )
        )
    return matches


# --- linked panels --------------------------------------------------------------------------------


def current_selection(view: View, n_items: int) -> np.ndarray:
    """The items selected in a panel, forgotten when the items themselves change."""
    state = st.session_state
    fingerprint = hash(view.selection.paired().for_items())
    if state.get(SELECTED_OF, fingerprint) != fingerprint:
        state[SELECTED], state[ISOLATED] = [], False
    state[SELECTED_OF] = fingerprint
    chosen = [int(i) for i in state.get(SELECTED, []) if 0 <= int(i) < n_items]
    return np.array(sorted(set(chosen)), dtype=np.int64)


def selection_from_event(state, event, fig: go.Figure, rows: np.ndarray) -> None:
    """Keep a chart's selection event (click, box or lasso, in either panel) as item indices in
    ``state``; one point also becomes the item whose neighbours are listed."""
    try:
        points = list(event["selection"]["points"] or [])
    except (KeyError, TypeError):
        return
    items = rows[figures.selected_items(fig, points)] if points else np.zeros(0, np.int64)
    if items.size == 0 and state.get(ISOLATED):
        return  # a click on empty space keeps the isolated view
    state[SELECTED] = [int(i) for i in items]
    if items.size == 1:
        state[PICKED] = int(items[0])


def _panel_selected() -> None:
    state = st.session_state
    if state.get(PANEL_FIG) is not None:
        selection_from_event(state, state.get(PANELS), state[PANEL_FIG], state[PANEL_ROWS])


def _show_all() -> None:
    st.session_state[SELECTED], st.session_state[ISOLATED] = [], False


def _isolate() -> None:
    st.session_state[ISOLATED] = True


def panels(view: View, items: Items, matches, k: int, overlap: bool) -> np.ndarray:
    """Both models' PCA at their layers, search matches or the selection lit in both; returns
    the items lit (the selection, else the matches)."""
    labels, n_items = items.display_labels(), items.n_items
    selected = current_selection(view, n_items)
    isolated = bool(st.session_state.get(ISOLATED)) and selected.size >= 3
    if isolated:
        result = view.isolated(selected)
        rows, shown, projections = result.keep, result.items, result.projections
    else:
        rows, shown = np.arange(n_items), view.items(view.paired_unit)
        projections = [view.projection(which, "pca", 2, unit=view.paired_unit) for which in (0, 1)]
    point_sets = [
        figures.PointSet.from_items(p, side, view.texts)
        for p, side in zip(projections, shown, strict=True)
    ]
    if overlap:
        fig = figures.overlap_projection_figure(
            point_sets, view.panel_titles, view.neighbour_overlap(k)[rows], k, view.presentation
        )
    else:
        fig = figures.projection_figure(
            point_sets, view.panel_titles, presentation=view.presentation
        )
    st.session_state[PANEL_FIG], st.session_state[PANEL_ROWS] = fig, rows
    lit = selected if selected.size else matches
    if lit is not None:
        # In place: the figure is built anew each run, and a selection event reads only its ids.
        figures.highlight(fig, np.flatnonzero(np.isin(rows, lit)))
    st.plotly_chart(
        widgets.projector_ready(fig),
        width="stretch",
        config=widgets.PLOTLY_CONFIG,
        key=PANELS,
        on_select=_panel_selected,
        selection_mode=SELECTION_MODES,
    )
    st.caption(
        _(
            "PCA of each model's items at its sidebar layer. **Click** a point to list its "
            "neighbours; drag a **box** or **lasso** (chart toolbar) in either panel to select "
            "items: the same items light up in the other panel."
        )
    )
    if not isolated:
        widgets.pca_fit_note(n_items, view.paired_unit)
    if overlap:
        overlap_caption(view.neighbour_overlap(k), k)
    _selection_controls(view, labels, selected, isolated)
    return lit


def overlap_caption(overlap: np.ndarray, k: int) -> None:
    chance = neighbours.chance_jaccard(overlap.size, k)
    st.caption(
        _(
            "Colour: each item's Jaccard@{k}, the share of its {k} nearest neighbours (cosine, "
            "full space) that model A and model B have in common (1 = the same {k}, 0 = none); "
            "mean here {mean:.2f}. Two random neighbour lists among the other {others} items "
            "would give {chance:.2f} on average (chance level): brighter points are where the "
            "two models agree locally."
        ).format(k=k, mean=overlap.mean(), others=overlap.size - 1, chance=chance)
    )


def _selection_controls(view: View, labels, selected: np.ndarray, isolated: bool) -> None:
    if selected.size == 0:
        return
    cells = st.columns([6, 2, 2], vertical_alignment="center")
    cells[0].markdown(
        _("**{n} selected:** {items}").format(n=selected.size, items=_say(labels, selected, 12))
    )
    cells[1].button(
        _("Isolate selection"),
        on_click=_isolate,
        disabled=isolated or selected.size < 3,
        help=_("Recompute the PCA and the RSA on the selected items only (at least 3)."),
    )
    cells[2].button(
        _("Show all items"), on_click=_show_all, type="primary" if isolated else "secondary"
    )
    if isolated:
        rsa = view.isolated(selected).comparison.rsa
        st.info(
            _(
                "**Isolated: {n} items.** The pictures are a new PCA of these items only. RSA "
                "over their {pairs} pairs: {rsa}"
            ).format(
                n=selected.size,
                pairs=rsa.n_pairs,
                rsa=describe_rsa(rsa, view.short_names, view.paired_unit),
            ),
            icon="🔎",
        )


# --- nearest neighbours ---------------------------------------------------------------------------


def neighbour_lists(view: View, items: Items, k: int) -> None:
    """Two tables: the picked item's k nearest items in A and in B, shared ones marked."""
    labels, n_items = items.display_labels(), items.n_items
    if st.session_state.get(PICKED) not in range(n_items):
        st.session_state[PICKED] = _default_pair(items)[0]
    item = st.selectbox(
        _("Item"), range(n_items), key=PICKED, format_func=labels.__getitem__,
        help=_("Or click a point in either panel."),
    )  # fmt: skip
    found = view.nearest_neighbours(item, k)
    shared = found.shared
    chance = neighbours.chance_jaccard(n_items, k)
    st.markdown(
        _(
            "**Jaccard@{k} = {jaccard:.2f}**: {shared} of the {k} nearest items of *{item}* are "
            "the same in both models (1 = the same list, 0 = none in common; two random lists "
            "would give {chance:.2f} on average)."
        ).format(
            k=k,
            jaccard=found.jaccard,
            shared=shared.size,
            item=widgets.escape_markdown(labels[item]),
            chance=chance,
        )
    )
    cells = st.columns(2)
    for which, side in enumerate((found.a, found.b)):
        cells[which].markdown(f"**{widgets.escape_markdown(view.panel_title(which))}**")
        cells[which].dataframe(
            tables.neighbour_table(side, labels, shared),
            hide_index=True,
            width="stretch",
            # The table's columns keep their data names; the headers are in the reader's language.
            column_config={
                "rank": st.column_config.NumberColumn(_("rank")),
                "item": st.column_config.TextColumn(_("item")),
                "cosine": st.column_config.NumberColumn(_("cosine"), format="%.3f"),
                "in both": st.column_config.TextColumn(_("in both lists")),
            },
        )
    st.caption(
        _(
            "Nearest by cosine in each model's full space at its layer, not in the picture, "
            "which distorts distances. Preprocessing: {preprocessing}. ✓ = in both lists."
        ).format(preprocessing=label(PREPROCESSING_LABELS, view.preprocessing))
    )


# --- layers you can play --------------------------------------------------------------------------


def layer_animation(view: View, items: Items, lit) -> None:
    frames = view.layer_projections()
    drawn = view.animated_items()
    labels = items.display_labels()
    deeper = 0 if frames[0].n_layers >= frames[1].n_layers else 1
    fig = figures.layer_animation_figure(
        frames[0],
        frames[1],
        [labels[i] for i in drawn],
        [model_name(view, w) for w in (0, 1)],
        groups=[f"S{s + 1}: {shorten(view.texts[s], 30)}" for s in items.sentence[drawn]],
        presentation=view.presentation,
        start=view.layers[deeper],
    )
    figures.highlight(fig, None if lit is None else np.flatnonzero(np.isin(drawn, lit)))
    widgets.chart(fig, key="explore_layers")
    if drawn.size < items.n_items:
        st.caption(
            _(
                "The animation draws {used:,} of {total:,} {unit}: whole sentences spread evenly "
                "through the text, so that every frame stays light in the browser; the panels "
                "above and the neighbour lists use all of them."
            ).format(
                used=drawn.size, total=items.n_items, unit=label(UNIT_LABELS, view.paired_unit)
            )
        )
    scales = [
        _("{model} {low:.3g} to {high:.3g}").format(
            model="AB"[w], low=f.scales.min(), high=f.scales.max()
        )
        for w, f in enumerate(frames)
    ]
    st.caption(
        _(
            "Press **▶ Play** or drag the slider: the layers change in your browser, with no "
            "round trip to the server. Each layer is its own PCA, turned onto the previous layer "
            "by orthogonal Procrustes (rotation or reflection only), so the picture does not "
            "spin or flip, and scaled to unit size (RMS radius 1), because vectors grow with "
            "depth; the factors divided out range {scales}. Neither step changes a shape, an "
            "angle or a neighbour."
        ).format(scales=", ".join(scales))
    )


def heatmap_animation(view: View, items: Items) -> None:
    """Both models' cosine heatmaps through depth, played in the browser (a sample of a corpus)."""
    shown = sample_indices(items.n_items, MAX_ANIMATED_HEATMAP_ITEMS)
    matrices = view.layer_heatmaps(shown)
    labels = items.display_labels()
    deeper = 0 if len(matrices[0]) >= len(matrices[1]) else 1
    fig = figures.heatmap_animation_figure(
        *matrices,
        [labels[i] for i in shown],
        [model_name(view, w) for w in (0, 1)],
        presentation=view.presentation,
        start=view.layers[deeper],
    )
    widgets.chart(fig, key="explore_heatmaps")
    caption = _(
        "The same cosine heatmaps as the Similarity page, at every layer: **▶ Play** or the "
        "slider change layer in your browser. Preprocessing: {preprocessing}, over all items of "
        "each layer."
    ).format(preprocessing=label(PREPROCESSING_LABELS, view.preprocessing))
    if len(shown) < items.n_items:
        caption += " " + _(
            "{n:,} items are too many to animate: {shown} evenly spaced ones are shown."
        ).format(n=items.n_items, shown=len(shown))
    st.caption(caption)


# --- a pair through depth -------------------------------------------------------------------------


def _default_pair(items: Items) -> tuple[int, int]:
    """Two occurrences of the most repeated word ("bank (S1)", "bank (S2)"), else items 0, 1."""
    if items.unit == "word":
        word = contextuality.default_word(contextuality.recurring_words(items))
        if word is not None:
            first, second = contextuality.occurrences(items, word)[:2]
            return int(first), int(second)
    return 0, 1


def pair_through_depth(view: View, items: Items) -> None:
    labels, n_items = items.display_labels(), items.n_items
    keys = ("pair_i", "pair_j")
    if any(st.session_state.get(key) not in range(n_items) for key in keys):
        # Only when a choice is missing: finding the most repeated word reads every label.
        for key, default in zip(keys, _default_pair(items), strict=True):
            if st.session_state.get(key) not in range(n_items):
                st.session_state[key] = default
    cells = st.columns(2)
    chosen = []
    for which, key in enumerate(keys):
        chosen.append(
            cells[which].selectbox(
                _("First item") if which == 0 else _("Second item"),
                range(n_items),
                key=key,
                format_func=labels.__getitem__,
            )
        )
    i, j = chosen
    if i == j:
        st.info(_("Choose two different items."))
        return
    curves = view.pair_curves(i, j)
    baselines = [profile.anisotropy for profile in view.layer_profiles(view.preprocessing)]
    names = [model_name(view, w) for w in (0, 1)]
    pair = f"{labels[i]} · {labels[j]}"
    widgets.chart(
        figures.pair_depth_figure(*curves, names, pair, view.presentation, baselines),
        key="explore_pair",
    )
    st.caption(pair_caption(view, items, i, j, curves))


def pair_caption(view: View, items: Items, i: int, j: int, curves) -> str:
    text = _(
        "Cosine of the two items at every layer (0 = embeddings); dashed: the mean cosine of any "
        "two items at that layer, the level a pair reaches for nothing. A causal model (GPT-2) "
        "builds a word's vector from the words before it only; a bidirectional one (BERT) from "
        "the whole sentence."
    )
    same_left = neighbours.same_left_context(items, i, j)
    for which, info in enumerate(view.infos):
        if info.kind == "causal" and same_left and np.allclose(curves[which], 1.0, atol=1e-6):
            text += " " + _(
                "Here both occurrences follow the same words, so {model} (causal) gives them the "
                "same vector: cosine exactly 1 at every layer, whatever comes after."
            ).format(model=info.short_name)
    return text


# --- saved views ----------------------------------------------------------------------------------


def _save_view() -> None:
    state = st.session_state
    views = link_state.decode_views(state.get("views", ""))
    name = " ".join(str(state.get("view_name", "")).split()) or _("View {n}").format(
        n=len(views) + 1
    )
    params = link_state.view_params(link_state.link_params())
    views = (views + [link_state.SavedView(name[:60], state["view_page"], params)])[
        -link_state.MAX_SAVED_VIEWS :
    ]
    encoded = link_state.encode_views(views)
    if len(encoded) > link_state.MAX_VIEWS_IN_URL:
        state["_views_error"] = _("The list is too long for a link: remove a view first.")
        return
    state["views"] = encoded


def _remove_view(index: int) -> None:
    views = link_state.decode_views(st.session_state.get("views", ""))
    st.session_state["views"] = link_state.encode_views(views[:index] + views[index + 1 :])


def _open_view(view: link_state.SavedView) -> None:
    link_state.apply_view(view)
    st.session_state["_explore_goto"] = view.page


def open_requested_view() -> None:
    """After **Open** on a saved view of another page: go there (its settings are applied)."""
    goto = st.session_state.pop("_explore_goto", None)
    if goto in SAVABLE_PAGES and goto != "explore":
        st.switch_page(SAVABLE_PAGES[goto])


def _app_base() -> str:
    parts = urllib.parse.urlsplit(st.context.url or "")
    path = parts.path.rsplit("/", 1)[0] if parts.path.count("/") > 1 else ""
    return f"{parts.scheme}://{parts.netloc}{path}" if parts.netloc else ""


def saved_views() -> None:
    """Name the current view; the list lives in the link (``views``), one link per view."""
    state = st.session_state
    with st.form("save_view", clear_on_submit=True, border=False):
        cells = st.columns([4, 3, 2], vertical_alignment="bottom")
        cells[0].text_input(
            _("Name this view"), key="view_name", placeholder=_("e.g. 1. bank, layer 6")
        )
        cells[1].selectbox(
            _("Opens on"),
            list(SAVABLE_PAGES),
            key="view_page",
            format_func=formatter(PAGE_TITLES),
        )
        cells[2].form_submit_button(_("Save view"), on_click=_save_view)
    if error := state.pop("_views_error", None):
        st.warning(error)
    views = link_state.decode_views(state.get("views", ""))
    if not views:
        st.caption(
            _(
                "No saved views yet. Each saved view keeps every setting and the page; up to "
                "{n}, all kept in this page's link, so a link prepared before class carries the "
                "whole sequence."
            ).format(n=link_state.MAX_SAVED_VIEWS)
        )
        return
    base, encoded = _app_base(), state["views"]
    for index, view in enumerate(views):
        cells = st.columns([6, 1, 1], vertical_alignment="center")
        cells[0].markdown(
            f"{index + 1}. [{widgets.escape_markdown(view.name)}]({view.link(base, encoded)}) "
            f"· {label(PAGE_TITLES, view.page)}"
        )
        cells[1].button(_("Open"), key=f"open_view_{index}", on_click=_open_view, args=(view,))
        cells[2].button(
            _("Remove"), key=f"remove_view_{index}", on_click=_remove_view, args=(index,)
        )
    st.caption(
        _(
            "Each name is a link to that view carrying the whole list (share it, or open it in a "
            "new tab); **Open** applies it here. The list is in this page's link too."
        )
    )
