"""figures: the projection figure's traces, legend and hover for small and large sets."""

from dataclasses import replace

import numpy as np
import pytest

from embexplorer import i18n
from embexplorer.figures import (
    CATEGORICAL_COLOURS,
    MAX_LEGEND_GROUPS,
    OTHER_WORDS_COLOUR,
    WEBGL_THRESHOLD,
    Curve,
    PointSet,
    Style,
    _tick_label_chars,
    context_projection_figure,
    joint_projection_figure,
    keyed_words,
    layer_curves_figure,
    projection_figure,
    spectrum_figure,
)


def point_set(n_sentences: int, per_sentence: int, dims: int = 2, seed: int = 0) -> PointSet:
    """``n_sentences`` sentences of ``per_sentence`` tokens, positions shuffled within each."""
    rng = np.random.default_rng(seed)
    n = n_sentences * per_sentence
    words = [f"w{i}" for i in rng.integers(0, 50 * n_sentences, n)]
    return PointSet(
        coords=rng.standard_normal((n, dims)),
        axis_titles=[f"PC{axis + 1}" for axis in range(dims)],
        labels=["␣" + word for word in words],
        words=words,
        sentence=np.repeat(np.arange(n_sentences), per_sentence),
        position=np.concatenate([rng.permutation(per_sentence) for _ in range(n_sentences)]),
        sentence_texts=[f"text {s}" for s in range(n_sentences)],
    )


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("colour_by", ["sentence", "word", "position"])
def test_a_thousand_sentences_draw_a_bounded_number_of_traces(colour_by, dims):
    panels = [point_set(1000, 20, dims, seed) for seed in (0, 1)]
    fig = projection_figure(panels, ["A", "B"], colour_by=colour_by, show_lines=True)
    # Per panel: one path for all order lines and one trace for all points; by word, one trace
    # per word of the key and one for all other words.
    per_panel = MAX_LEGEND_GROUPS if colour_by == "word" else 1
    assert len(fig.data) == 2 * (1 + per_panel)
    legend = [trace.name for trace in fig.data if trace.showlegend]
    assert len(legend) == (MAX_LEGEND_GROUPS if colour_by == "word" else 0)
    markers = [trace for trace in fig.data if trace.mode == "markers"]
    assert sum(len(trace.x) for trace in markers) == 40_000
    first = panels[0]
    custom = np.concatenate([trace.customdata for trace in markers[:per_panel]])
    ids = np.concatenate([np.asarray(trace.ids, dtype=int) for trace in markers[:per_panel]])
    assert custom.shape == (20_000, 4)
    row = custom[np.flatnonzero(ids == 5)[0]]
    assert list(row) == [first.labels[5], first.words[5], "S1: text 0", str(first.position[5])]


def test_many_sentences_take_colours_from_one_scale_shared_by_the_panels():
    panels = [point_set(30, 4, seed=seed) for seed in (0, 1)]
    fig = projection_figure(panels, ["A", "B"], colour_by="sentence")
    first, second = fig.data
    np.testing.assert_array_equal(first.marker.color, panels[0].sentence + 1)
    assert (first.marker.cmin, first.marker.cmax) == (second.marker.cmin, second.marker.cmax)
    assert (first.marker.cmin, first.marker.cmax) == (1, 30)
    assert first.marker.colorbar.title.text == "sentence"
    assert first.marker.showscale and not second.marker.showscale


def test_many_words_key_the_most_frequent_and_grey_the_rest():
    """More words than a legend can hold: the most frequent have their own colour and legend
    entry (the same in both panels), every other word is one grey entry that counts them."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)] + ["often"] * 6 + ["twice"] * 2
    order = rng.permutation(len(words))
    points = replace(point_set(1, len(words)), words=[words[i] for i in order])
    other = replace(points, coords=points.coords + 1)
    keyed = keyed_words([points, other])
    assert len(keyed) == MAX_LEGEND_GROUPS - 1
    assert keyed[:2] == ["often", "twice"]
    fig = projection_figure([points, other], ["A", "B"], colour_by="word")
    legend = [trace for trace in fig.data if trace.showlegend]
    assert [trace.name for trace in legend] == [*keyed, "23 other words (grey)"]
    first_panel, second_panel = fig.data[: len(legend)], fig.data[len(legend) :]
    for a, b in zip(first_panel, second_panel, strict=True):
        assert (a.name, a.marker.color, a.marker.symbol) == (
            b.name,
            b.marker.color,
            b.marker.symbol,
        )
    often = legend[0]
    assert {points.words[int(i)] for i in often.ids} == {"often"} and len(often.ids) == 6
    colours = [trace.marker.color for trace in legend[:-1]]
    symbols = [trace.marker.symbol for trace in legend[:-1]]
    assert len(set(zip(colours, symbols, strict=True))) == len(keyed)  # every key distinct
    assert legend[-1].marker.color == OTHER_WORDS_COLOUR and len(legend[-1].ids) == 48 - 6 - 2 - 17


def test_few_words_keep_every_word_in_reading_order():
    points = replace(point_set(1, 5), words=["b", "a", "B", "c", "a"])
    assert keyed_words([points]) == ["b", "a", "c"]
    assert keyed_words([points], limit=None) == ["b", "a", "c"]


def test_many_sentences_share_one_order_path_broken_between_sentences():
    points = point_set(25, 6)
    fig = projection_figure([points], ["A"], colour_by="position", show_lines=True)
    path = fig.data[0]
    assert path.mode == "lines"
    xy = np.column_stack([path.x, path.y])
    pieces = np.split(xy, np.flatnonzero(np.isnan(xy[:, 0])))
    assert len(pieces) == 25
    for sentence, piece in enumerate(pieces):
        piece = piece[~np.isnan(piece[:, 0])]
        members = np.flatnonzero(points.sentence == sentence)
        in_order = members[np.argsort(points.position[members])]
        np.testing.assert_array_equal(piece, points.coords[in_order])


def test_small_sets_keep_one_trace_and_legend_entry_per_group():
    fig = projection_figure(
        [point_set(MAX_LEGEND_GROUPS, 3, seed=seed) for seed in (0, 1)],
        ["A", "B"],
        colour_by="sentence",
        show_lines=True,
    )
    # Per panel: one order line and one marker trace per sentence.
    assert len(fig.data) == 2 * 2 * MAX_LEGEND_GROUPS
    named = [trace.name for trace in fig.data if trace.showlegend]
    assert named == [f"S{s + 1}: text {s}" for s in range(MAX_LEGEND_GROUPS)]
    line = fig.data[1]
    assert line.mode == "lines" and line.line.color == CATEGORICAL_COLOURS[1]


def test_both_panels_share_one_word_key_when_either_has_too_many_words():
    def distinct_words(n_words: int) -> PointSet:
        return replace(point_set(1, n_words), words=[f"w{i}" for i in range(n_words)])

    few, many = distinct_words(MAX_LEGEND_GROUPS), distinct_words(MAX_LEGEND_GROUPS + 1)
    fig = projection_figure([few, few], ["A", "B"], colour_by="word")
    assert len(fig.data) == 2 * MAX_LEGEND_GROUPS
    assert "other words" not in " ".join(trace.name for trace in fig.data)
    mixed = projection_figure([few, many], ["A", "B"], colour_by="word")
    names = [trace.name for trace in mixed.data]
    # One key of 19 words and one entry for the other two in both panels ("few" has one of them).
    assert names[:MAX_LEGEND_GROUPS] == names[MAX_LEGEND_GROUPS:]
    assert names[MAX_LEGEND_GROUPS - 1] == "2 other words (grey)"
    assert [len(mixed.data[i].ids) for i in (MAX_LEGEND_GROUPS - 1, -1)] == [1, 2]


def joint_pair(n_sentences: int = 3, per_sentence: int = 4, dims: int = 2):
    a = point_set(n_sentences, per_sentence, dims)
    return a, replace(a, coords=a.coords + 0.5)


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("colour_by", ["sentence", "word", "position"])
def test_joint_view_colours_like_the_side_by_side_panels(colour_by, dims):
    """The joint view follows "Colour by": A's markers have the side-by-side colours and
    symbols, B's are their hollow versions, and two legend entries say which is which."""
    a, b = joint_pair(dims=dims)
    joint = joint_projection_figure((a, b), ("A: gpt2", "B: bert"), colour_by=colour_by)
    markers = [t for t in joint.data if "markers" in (t.mode or "") and t.ids is not None]
    half = len(markers) // 2
    for filled, hollow in zip(markers[:half], markers[half:], strict=True):
        assert filled.name == hollow.name and filled.legendgroup == hollow.legendgroup
        np.testing.assert_array_equal(filled.marker.color, hollow.marker.color)
        assert hollow.marker.symbol == f"{filled.marker.symbol}-open"
        assert "A: gpt2" in filled.hovertemplate and "B: bert" in hollow.hovertemplate
    if colour_by != "position":
        side = projection_figure([a, b], ["A", "B"], colour_by=colour_by)
        groups = [(t.name, t.marker.color) for t in side.data if t.showlegend]
        assert [(t.name, t.marker.color) for t in markers[:half]] == groups
    keys = [t.name for t in joint.data if t.showlegend and t.ids is None]
    assert keys == ["same item", "A: gpt2 (filled)", "B: bert (hollow)"]


def test_joint_view_draws_labels_and_order_only_when_asked():
    a, b = joint_pair()
    plain = joint_projection_figure((a, b), ("A", "B"))
    assert all("text" not in (t.mode or "") for t in plain.data)
    assert all(t.mode != "lines" or t.name == "same item" for t in plain.data)
    shown = joint_projection_figure((a, b), ("A", "B"), show_labels=True, show_lines=True)
    labelled = [t for t in shown.data if t.mode == "markers+text"]
    assert sorted(label for t in labelled for label in t.text) == sorted(a.labels + b.labels)
    paths = [t for t in shown.data if t.mode == "lines" and t.name != "same item"]
    assert len(paths) == 2 * 3  # one per sentence and model
    assert {t.line.dash for t in paths[:3]} == {None} and {t.line.dash for t in paths[3:]} == {
        "dot"
    }
    in_order = np.flatnonzero(a.sentence == 0)
    in_order = in_order[np.argsort(a.position[in_order])]
    np.testing.assert_array_equal(np.column_stack([paths[0].x, paths[0].y]), a.coords[in_order])


def test_joint_view_needs_the_same_items_in_both_sets():
    a, _ = joint_pair()
    with pytest.raises(ValueError, match="same items"):
        joint_projection_figure((a, point_set(2, 2)), ("A", "B"))


def _spectrum(presentation: bool = False):
    values = np.array([4.0, 2.0, 1.0, 0.5])
    ratios = values / values.sum()
    return spectrum_figure(
        [values, values], [ratios, ratios], ["A", "B"], [3, 3], False, presentation
    )


def test_figure_texts_are_in_the_language_current_when_it_is_drawn():
    english = _spectrum()
    with i18n.language("vi"):
        vietnamese = _spectrum()
        hover = projection_figure([point_set(2, 3)], ["A"]).data[0].hovertemplate
    assert english.layout.xaxis.title.text == "principal component"
    assert vietnamese.layout.xaxis.title.text == "thành phần chính"
    assert [a.text for a in vietnamese.layout.annotations][:2] == [
        "trị riêng (biểu đồ scree)",
        "phương sai được giải thích tích luỹ",
    ]
    # Plotly's own placeholders survive the translation.
    assert "từ: %{customdata[1]}" in hover and "vị trí %{customdata[3]}" in hover


def test_long_panel_titles_wrap_to_their_panel_and_short_ones_stay_whole():
    curve = Curve("A", np.arange(3.0))
    long_title = "self-similarity (mean cosine between occurrences in different sentences)"
    fig = layer_curves_figure([(long_title, [curve]), ("short", [curve])], columns=2)
    titles = [annotation.text for annotation in fig.layout.annotations]
    assert titles[1] == "short"
    lines = titles[0].split("<br>")
    assert len(lines) == 2 and max(map(len, lines)) <= 50
    assert " ".join(lines) == long_title


def test_presentation_legend_sits_below_the_larger_axis_titles():
    assert _spectrum(presentation=True).layout.legend.y < _spectrum().layout.legend.y


def _luminance(hex_colour: str) -> float:
    red, green, blue = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def test_dark_theme_swaps_every_diverging_scale_and_keeps_zero_in_the_middle():
    from embexplorer.figures import (
        DARK_DIVERGING_SCALE,
        for_dark_theme,
        heatmap_grid_figure,
        heatmap_pair_figure,
        layer_matrix_figure,
    )

    matrix = np.eye(3)
    pair = for_dark_theme(heatmap_pair_figure(matrix, matrix, list("abc"), ["A", "B"]))
    grid = for_dark_theme(heatmap_grid_figure([matrix, matrix], list("abc"), ["x", "y"]))
    layers = for_dark_theme(layer_matrix_figure(np.eye(3), ("a", "b"), method="spearman"))
    for axis in (pair.layout.coloraxis, grid.layout.coloraxis):
        assert axis.colorscale == DARK_DIVERGING_SCALE and axis.cmid == 0
    assert layers.data[0].colorscale == DARK_DIVERGING_SCALE
    # The middle (a cosine of 0) is near-black, the ends light: blue and red, as on light pages.
    middle = dict(DARK_DIVERGING_SCALE)[0.5]
    assert _luminance(middle) < 0.06
    low, high = DARK_DIVERGING_SCALE[0][1], DARK_DIVERGING_SCALE[-1][1]
    assert _luminance(low) > 0.5 and _luminance(high) > 0.5
    assert int(low[5:7], 16) > int(low[1:3], 16) and int(high[1:3], 16) > int(high[5:7], 16)
    # Other scales (Euclidean distances, CKA) are sequential and stay.
    distances = for_dark_theme(
        heatmap_pair_figure(matrix, matrix, list("abc"), ["A", "B"], metric="euclidean")
    )
    assert distances.layout.coloraxis.colorscale != DARK_DIVERGING_SCALE
    cka = for_dark_theme(layer_matrix_figure(np.eye(3), ("a", "b"), method="cka"))
    assert cka.data[0].colorscale != DARK_DIVERGING_SCALE


@pytest.mark.parametrize("n_occurrences", [3, MAX_LEGEND_GROUPS, MAX_LEGEND_GROUPS + 1, 400])
def test_context_projection_has_a_legend_entry_per_occurrence_only_when_few(n_occurrences):
    panels = [point_set(200, 10, 2, seed) for seed in (0, 1)]
    rng = np.random.default_rng(n_occurrences)
    occurrences = np.sort(rng.choice(2000, n_occurrences, replace=False))
    fig = context_projection_figure(panels, ["A", "B"], occurrences, "bank")
    few = n_occurrences <= MAX_LEGEND_GROUPS
    assert len(fig.data) == 2 * (1 + (n_occurrences if few else 1))
    others, *lit = fig.data[: len(fig.data) // 2]
    assert others.type == ("scattergl" if 2000 - n_occurrences > WEBGL_THRESHOLD else "scatter")
    assert len(others.x) == 2000 - n_occurrences
    assert sum(len(trace.x) for trace in lit) == n_occurrences
    drawn = np.concatenate([trace.x for trace in lit])
    np.testing.assert_array_equal(drawn, panels[0].coords[occurrences, 0])
    legend = [trace.name for trace in fig.data if trace.showlegend]
    assert len(legend) == 1 + (n_occurrences if few else 1)
    if few:
        assert legend[1] == f"bank in S{panels[0].sentence[occurrences[0]] + 1}: text " + str(
            panels[0].sentence[occurrences[0]]
        )
    else:
        assert legend[1] == f"bank: {n_occurrences} occurrences (hover for the sentence)"
        # Each shared-trace point still names its own sentence on hover.
        sentence = panels[0].sentence[occurrences[7]]
        assert lit[0].customdata[7][2] == f"S{sentence + 1}: text {sentence}"


def test_figures_serialise_alike_with_orjson_and_the_standard_library():
    # plotly picks orjson when it is installed (requirements.txt: it halves a corpus panel's
    # serialisation); the browser must get the same figure either way, NaN cells included.
    import json

    import plotly.io as pio

    pytest.importorskip("orjson")
    figs = [
        projection_figure([point_set(60, 25), point_set(60, 25, seed=1)], ["A", "B"]),
        layer_curves_figure([("cosine", [Curve("A raw", np.array([0.1, np.nan, 0.3]))])]),
    ]
    for fig in figs:
        fast, standard = (
            json.loads(pio.to_json(fig, validate=False, engine=engine))
            for engine in ("orjson", "json")
        )
        assert fast == standard


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("n_sentences", [4, 1000])
def test_point_figures_send_what_plotly_itself_would(n_sentences, dims):
    """Projection figures keep their per-point texts as numpy strings (a layer change on a corpus
    would otherwise spend ~1 s in plotly): Streamlit's path through them (``to_dict``, then
    ``to_json``) must give the JSON of the same figure validated by plotly, subplots included."""
    import json

    import plotly.graph_objects as go
    import plotly.io as pio
    import plotly.tools

    from embexplorer.figures import overlap_projection_figure

    panels = [point_set(n_sentences, 12, dims, seed) for seed in (0, 1)]
    overlap = np.linspace(0, 1, len(panels[0].labels))
    joint = joint_projection_figure(panels, ("A", "B"), show_lines=True)
    for fig in (
        projection_figure(panels, ["A", "B"], show_lines=True, presentation=True),
        joint,
        overlap_projection_figure(panels, ["A", "B"], overlap, k=5),
    ):
        markers = [trace for trace in fig.data if trace.ids is not None]
        assert markers and all(trace.customdata.dtype.kind in "UO" for trace in markers)
        sent = plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True)
        ours = json.loads(pio.to_json(sent, validate=False))
        validated = go.Figure(fig.to_plotly_json())
        assert json.loads(pio.to_json(validated, validate=False)) == ours
        if dims == 2 and fig is not joint:
            assert {trace["xaxis"] for trace in ours["data"]} == {"x", "x2"}
        # Changes made after the figure is built are validated as usual.
        with pytest.raises(ValueError):
            fig.update_layout(not_a_property=1)


# Margins reserved for plotly's automargin (issue 11: a layer step drew the chart twice).


@pytest.mark.parametrize(
    ("low", "high", "chars"),
    [(-13, 10, 3), (0, 1, 3), (-0.06, 0.05, 5), (-250, 1800, 4), (-3, 3, 2), (5, 5, 3)],
)
def test_tick_label_width_follows_the_round_ticks(low, high, chars):
    # -13..10: ticks every 5, "-10" widest; 0..1: every 0.2, "0.2"; -0.06..0.05: every 0.02,
    # "-0.06"; -250..1800: every 500, "-500"; -3..3: every 1, "-3"; one value 5: 4 to 6
    # every 0.5, "4.5".
    assert _tick_label_chars(np.array([low, high], dtype=float)) == chars


def test_point_charts_reserve_room_for_their_labels_and_legend():
    narrow = replace(point_set(5, 10), coords=np.ones((50, 2)))
    wide = replace(narrow, coords=np.column_stack([np.zeros(50), np.linspace(-0.06, 0.05, 50)]))
    for presentation in (False, True):
        style = Style(presentation)
        few = style.point_chart_margins([narrow.coords], 560, legend=True)
        many = style.point_chart_margins([wide.coords], 560, legend=True)
        assert many["l"] > few["l"]  # "-0.06" is wider than "1"
        assert style.point_chart_margins([narrow.coords], 560, legend=False)["b"] < few["b"]
    normal, projected = (
        Style(p).point_chart_margins([narrow.coords], 560, True) for p in (False, True)
    )
    assert projected["l"] > normal["l"] and projected["b"] > normal["b"]  # larger fonts
    fig = projection_figure([narrow, narrow], ["A", "B"])
    assert fig.layout.margin.l == Style().point_chart_margins([narrow.coords], 560, True)["l"]
    flat = projection_figure([point_set(5, 10, dims=3)] * 2, ["A", "B"])
    assert (flat.layout.margin.l, flat.layout.margin.b) == (10, 20)  # 3D scenes push nothing


@pytest.mark.parametrize("presentation", [False, True])
@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("n_panels", [1, 2, 3])
def test_projection_layout_is_make_subplots_layout(n_panels, dims, presentation):
    """The side-by-side layout written as one dictionary is plotly's own: make_subplots, each
    panel's axis titles, then the style, as the figure was built before."""
    from plotly.subplots import make_subplots

    panels = [point_set(3, 4, dims, seed) for seed in range(n_panels)]
    titles = [f"{name}: model · layer 3/12" for name in "ABC"[:n_panels]]
    fig = projection_figure(panels, titles, presentation=presentation)
    style = Style(presentation)
    reference = make_subplots(
        rows=1,
        cols=n_panels,
        subplot_titles=style.panel_titles(titles),
        specs=[[{"type": "scene" if dims == 3 else "xy"}] * n_panels],
        horizontal_spacing=style.panel_spacing,
    )
    for column, points in enumerate(panels, start=1):
        names = list(points.axis_titles)
        if dims == 3:
            scene = "scene" if column == 1 else f"scene{column}"
            reference.update_layout(
                {
                    scene: dict(
                        xaxis_title=names[0],
                        yaxis_title=names[1],
                        zaxis_title=names[2],
                        aspectmode="cube",
                    )
                }
            )
        else:
            reference.update_xaxes(title_text=names[0], zeroline=False, row=1, col=column)
            reference.update_yaxes(title_text=names[1], zeroline=False, row=1, col=column)
    margins = fig.layout.margin.to_plotly_json()
    style.apply(reference, height=620 if dims == 3 else 560, margins=margins)

    def rounded(value):
        if isinstance(value, dict):
            return {key: rounded(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [rounded(item) for item in value]
        return round(value, 12) if isinstance(value, float) else value

    assert rounded(fig.layout.to_plotly_json()) == rounded(reference.layout.to_plotly_json())
