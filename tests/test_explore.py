"""The Explore page (issue 13 in the app): search, neighbours, linked panels, layers you can play,
a pair through depth, saved views; and the helpers behind it."""

import numpy as np
import plotly.graph_objects as go
import pytest
from conftest import charts, plotly_array
from scipy.stats import hypergeom
from test_pages import assert_clean, model_runs, page  # noqa: F401 - model_runs is a fixture

from embexplorer import figures, neighbours
from embexplorer.app import explore_sections as sections
from embexplorer.app import state as link_state

PAGE = "pages/6_explore.py"
TWO_BANKS = "The bank is open today.\nThe bank is closed now.\nA cat sat on the mat."


def explore(**query) -> "page":
    at = page(PAGE)
    at.query_params.update(query)
    return at.run()


def panel_traces(spec: dict, panel: int) -> list[dict]:
    """The marker traces (those with item ids) of panel 0 (A) or 1 (B)."""
    axis = "x" if panel == 0 else "x2"
    return [t for t in spec["data"] if t.get("ids") is not None and t.get("xaxis", "x") == axis]


def lit_items(spec: dict, panel: int) -> set[int]:
    """Item ids a panel shows at full strength (plotly ``selectedpoints``)."""
    lit = set()
    for trace in panel_traces(spec, panel):
        assert "selectedpoints" in trace, "every marker trace carries a highlight"
        assert trace["unselected"]["marker"]["opacity"] == figures.DIMMED_OPACITY
        lit |= {int(trace["ids"][p]) for p in plotly_array(trace["selectedpoints"]).tolist()}
    return lit


def test_explore_page_draws_every_section(request):
    runs = request.getfixturevalue("model_runs")
    at = explore()
    assert_clean(at)
    panels, layers, heatmaps, pair = charts(at)
    assert panel_traces(panels, 0) and panel_traces(panels, 1)
    # Layers you can play: one frame per layer of the deeper model, Play and a slider that
    # animate in the browser
    n_layers = max(4, 3)  # tiny GPT-2: 3 blocks + embeddings; tiny BERT: 2 + embeddings
    assert len(layers["frames"]) == n_layers
    (menu,) = layers["layout"]["updatemenus"]
    assert [b["method"] for b in menu["buttons"]] == ["animate", "animate"]
    assert menu["buttons"][0]["label"].endswith("Play")
    steps = layers["layout"]["sliders"][0]["steps"]
    assert len(steps) == n_layers and {s["method"] for s in steps} == {"animate"}
    caption = " ".join(c.value for c in at.caption)
    assert "orthogonal Procrustes" in caption and "unit size" in caption
    # a pair through depth: both models, defaults are two occurrences of the repeated word
    names = {t["name"] for t in pair["data"]}
    assert any(n.startswith("A: ") for n in names) and any(n.startswith("B: ") for n in names)
    assert "bank (S1) · bank (S2)" in pair["layout"]["annotations"][0]["text"]
    assert len(runs) == 2


@pytest.mark.usefixtures("model_runs")
def test_search_highlights_matches_in_both_panels():
    at = explore()
    at.text_input(key="q").set_value("bank").run()
    assert_clean(at)
    labels = at.selectbox(key=sections.PICKED).options
    expected = {i for i, label in enumerate(labels) if label.startswith("bank")}
    assert len(expected) == 4
    panels, layers, _heatmaps, _pair = charts(at)
    assert lit_items(panels, 0) == lit_items(panels, 1) == expected
    assert lit_items(layers, 0) == expected  # the animation too
    assert any("4 of" in m.value and "match" in m.value for m in at.markdown)
    assert labels[at.selectbox(key=sections.PICKED).value].startswith("bank")  # first match
    assert at.query_params["q"] in ("bank", ["bank"])  # in the link


@pytest.mark.usefixtures("model_runs")
def test_bad_regular_expression_warns():
    at = explore(regex="1", q="(bank")
    assert_clean(at)
    assert any("regular expression" in w.value for w in at.warning)
    assert "selectedpoints" not in panel_traces(charts(at)[0], 0)[0]


@pytest.mark.usefixtures("model_runs")
def test_picking_an_item_lists_its_neighbours_in_both_models():
    at = explore(k="3")
    at.selectbox(key=sections.PICKED).set_value(2).run()
    assert_clean(at)
    tables = at.dataframe
    assert len(tables) == 2
    a, b = (table.value for table in tables)
    assert list(a.columns) == ["rank", "item", "cosine", "in both"] and len(a) == len(b) == 3
    shared = set(a["item"]) & set(b["item"])
    jaccard = len(shared) / (6 - len(shared))
    line = next(m.value for m in at.markdown if "Jaccard@3" in m.value)
    assert f"{jaccard:.2f}" in line
    n_items = len(at.selectbox(key=sections.PICKED).options)
    assert f"{neighbours.chance_jaccard(n_items, 3):.2f} on average" in line
    assert (a["in both"] == "✓").sum() == len(shared)
    assert np.all(np.diff(a["cosine"]) <= 1e-12)  # nearest first


@pytest.mark.usefixtures("model_runs")
def test_selection_in_a_highlights_b():
    at = explore()
    fig, rows = at.session_state[sections.PANEL_FIG], at.session_state[sections.PANEL_ROWS]
    first_a = next(n for n, t in enumerate(fig.data) if t.ids is not None)
    event = {
        "selection": {
            "points": [
                {"curve_number": first_a, "point_index": 0},
                {"curve_number": first_a, "point_index": 1},
            ]
        }
    }
    state = {}
    sections.selection_from_event(state, event, fig, rows)
    chosen = {int(fig.data[first_a].ids[p]) for p in (0, 1)}
    assert set(state[sections.SELECTED]) == chosen
    at.session_state[sections.SELECTED] = state[sections.SELECTED]  # as the callback would
    at.run()
    assert_clean(at)
    panels = charts(at)[0]
    assert lit_items(panels, 0) == lit_items(panels, 1) == chosen
    # one clicked point also picks the item whose neighbours are listed
    sections.selection_from_event(
        state, {"selection": {"points": [{"curve_number": first_a, "point_index": 2}]}}, fig, rows
    )
    assert state[sections.PICKED] == int(fig.data[first_a].ids[2])


@pytest.mark.usefixtures("model_runs")
def test_isolate_selection_and_back():
    at = explore()
    at.session_state[sections.SELECTED] = [0, 1, 2, 3, 5]
    at.run()
    n_all = sum(len(t["ids"]) for t in panel_traces(charts(at)[0], 0))
    at.button[[b.label for b in at.button].index("Isolate selection")].click().run()
    assert_clean(at)
    assert sum(len(t["ids"]) for t in panel_traces(charts(at)[0], 0)) == 5 < n_all
    assert any("Isolated: 5 items" in i.value and "pairs" in i.value for i in at.info)
    at.button[[b.label for b in at.button].index("Show all items")].click().run()
    assert_clean(at)
    assert sum(len(t["ids"]) for t in panel_traces(charts(at)[0], 0)) == n_all
    assert not at.session_state[sections.SELECTED]


@pytest.mark.usefixtures("model_runs")
def test_overlap_colouring_states_its_chance_level():
    at = explore(overlap="1", k="4")
    assert_clean(at)
    marker = panel_traces(charts(at)[0], 0)[0]["marker"]
    assert marker["cmin"] == 0 and marker["cmax"] == 1
    n_items = len(at.selectbox(key=sections.PICKED).options)
    caption = next(c.value for c in at.caption if "chance level" in c.value)
    assert f"would give {neighbours.chance_jaccard(n_items, 4):.2f}" in caption


@pytest.mark.usefixtures("model_runs")
def test_pair_through_depth_says_causal_identity_only_when_true():
    at = explore(text=TWO_BANKS)
    assert_clean(at)
    pair = charts(at)[-1]
    curve_a = plotly_array(next(t for t in pair["data"] if t["name"].startswith("A: "))["y"])
    assert np.allclose(curve_a, 1.0)  # same words before "bank": same GPT-2 vector
    assert any("cosine exactly 1 at every layer" in c.value for c in at.caption)
    at = explore()  # "The bank raised ..." against "We had a picnic on the river bank."
    assert not any("cosine exactly 1 at every layer" in c.value for c in at.caption)


@pytest.mark.usefixtures("model_runs")
def test_saved_views_round_trip_through_the_link():
    at = explore(q="bank", k="3")
    at.text_input(key="view_name").input("1. banks")  # a form: sent with its submit button
    at.selectbox(key="view_page").set_value("projection")
    next(b for b in at.button if b.label == "Save view").click().run()
    assert_clean(at)
    encoded = at.session_state["views"]
    (view,) = link_state.decode_views(encoded)
    assert (view.name, view.page, view.params["q"], view.params["k"]) == (
        "1. banks",
        "projection",
        "bank",
        "3",
    )
    assert "views" not in view.params and "text" not in view.params  # the default sentences
    assert at.query_params["views"] in (encoded, [encoded])
    links = [m.value for m in at.markdown if "1\\. banks" in m.value]
    assert links and "/projection?" in links[0] and "views=" in links[0]
    # a new visitor with the link sees the list and can open the view
    at = explore(views=encoded)
    assert_clean(at)
    assert any("1\\. banks" in m.value for m in at.markdown)
    at.text_input(key="q").set_value("cat").run()
    at.text_area(key="text").set_value("Another text entirely.").run()
    next(b for b in at.button if b.label == "Open").click().run()
    assert at.session_state["q"] == "bank" and at.session_state["k"] == 3
    assert at.session_state["text"] == link_state.url_fields()["text"].default


def test_saved_views_encoding():
    views = [
        link_state.SavedView(f"step {n}", "explore", {"text": "the bank\nthe river", "k": str(n)})
        for n in range(12)
    ]
    encoded = link_state.encode_views(views)
    assert set(encoded) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert len(encoded) < 400  # the repeated text costs little
    decoded = link_state.decode_views(encoded)
    assert decoded == views[: link_state.MAX_SAVED_VIEWS]
    for garbage in ("", "!!!", "eJzLSM3JyQcABiwCFQ", encoded[:-5]):
        assert link_state.decode_views(garbage) == []
    assert views[0].link("http://host", "abc") == (
        "http://host/explore?text=the+bank%0Athe+river&k=0&views=abc"
    )


@pytest.mark.usefixtures("model_runs")
def test_link_restores_explore_settings():
    at = explore(q="cat", regex="0", k="7", overlap="1")
    assert_clean(at)
    state = at.session_state
    assert (state["q"], state["regex"], state["k"], state["overlap"]) == ("cat", False, 7, True)


@pytest.mark.usefixtures("model_runs")
def test_tokens_fall_back_to_words():
    at = explore(unit="token")
    assert_clean(at)
    assert any("cannot be compared one to one" in i.value for i in at.info)
    assert len(charts(at)) == 4  # panels, layers, heatmaps, pair


# --- the helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n_items, k", [(6, 5), (30, 5), (200, 10), (12, 1)])
def test_chance_jaccard_is_the_mean_over_random_lists(n_items, k):
    exact = neighbours.chance_jaccard(n_items, k)
    shared = np.arange(k + 1)
    assert exact == pytest.approx(
        np.sum(hypergeom(n_items - 1, k, k).pmf(shared) * shared / (2 * k - shared))
    )
    rng = np.random.default_rng(0)
    draws = [
        len(set(rng.choice(n_items - 1, k, replace=False)) & set(rng.choice(n_items - 1, k, False)))
        for _ in range(4000)
    ]
    simulated = np.mean([s / (2 * k - s) for s in draws])
    assert exact == pytest.approx(simulated, abs=0.02)
    with pytest.raises(ValueError, match="k must be"):
        neighbours.chance_jaccard(n_items, n_items)


def test_same_left_context():
    from embexplorer.align import Items

    labels = ["The", "bank", "is", "open", "The", "bank", "closed", "A", "bank"]
    items = Items(
        "word",
        labels,
        np.array([0, 0, 0, 0, 1, 1, 1, 2, 2]),
        np.array([0, 1, 2, 3, 0, 1, 2, 0, 1]),
        np.zeros((1, 9, 2)),
        labels,
    )
    assert neighbours.same_left_context(items, 1, 5)  # "The bank" / "The bank"
    assert not neighbours.same_left_context(items, 1, 8)  # "The bank" / "A bank"
    assert not neighbours.same_left_context(items, 3, 6)  # "open" / "closed"
    assert not neighbours.same_left_context(items, 1, 1)


def test_highlight_marks_the_same_items_in_every_panel():
    fig = go.Figure(
        [
            go.Scatter(x=[0, 1, 2], y=[0, 1, 2], ids=["0", "2", "4"], xaxis="x"),
            go.Scatter(x=[0, 1, 2], y=[0, 1, 2], ids=["4", "0", "2"], xaxis="x2"),
        ]
    )
    figures.highlight(fig, [4])
    assert [list(t.selectedpoints) for t in fig.data] == [[2], [0]]


@pytest.mark.usefixtures("model_runs")
def test_heatmaps_play_through_every_layer():
    """Both models' cosine heatmaps at every layer, as frames the browser plays."""
    at = explore()
    assert_clean(at)
    (spec,) = [c for c in charts(at) if c["data"] and c["data"][0]["type"] == "heatmap"]
    assert len(spec["frames"]) == 4  # tiny GPT-2's 4 hidden states (the deeper model)
    assert spec["layout"]["updatemenus"][0]["buttons"][0]["method"] == "animate"
    assert len(spec["layout"]["sliders"][0]["steps"]) == 4
    first = spec["frames"][0]["data"][0]["z"]
    last = spec["frames"][-1]["data"][0]["z"]
    assert plotly_array(first).shape == plotly_array(last).shape
    assert not np.allclose(plotly_array(first), plotly_array(last))  # layers differ


@pytest.mark.usefixtures("model_runs")
def test_a_corpus_animation_draws_whole_sentences_and_says_so(monkeypatch):
    """Above MAX_ANIMATED_ITEMS the animation draws whole sentences spread through the text (the
    panels keep every item), says how many, and still lights the search matches it draws."""
    from embexplorer.app import caching

    monkeypatch.setattr(caching, "MAX_ANIMATED_ITEMS", 12)
    text = "\n".join(f"The bank number {i} raised its rates again." for i in range(8))
    at = explore(text=text)
    at.text_input(key="q").set_value("rates").run()
    assert_clean(at)
    panels, layers, _heatmaps, _pair = charts(at)
    n_items = sum(len(plotly_array(t["x"])) for t in panel_traces(panels, 0))
    drawn = sum(len(plotly_array(t["x"])) for t in panel_traces(layers, 0))
    assert n_items == 72 and drawn == 18  # 2 of 8 sentences of 9 words
    assert any(c.value.startswith("The animation draws 18 of 72 words") for c in at.caption)
    assert len(lit_items(layers, 0)) == 2  # "rates" once in each drawn sentence
    assert len(lit_items(panels, 0)) == 8
