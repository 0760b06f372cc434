"""figures: the projection figure's traces, legend and hover for small and large sets."""

from dataclasses import replace

import numpy as np
import pytest

from embexplorer import i18n
from embexplorer.figures import (
    CATEGORICAL_COLOURS,
    MAX_LEGEND_GROUPS,
    Curve,
    PointSet,
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
    # Per panel: one path for all order lines and one trace for all points.
    assert len(fig.data) == 4
    assert not any(trace.showlegend for trace in fig.data)
    markers = [trace for trace in fig.data if trace.mode == "markers"]
    assert [len(trace.x) for trace in markers] == [20_000, 20_000]
    custom = markers[0].customdata
    assert custom.shape == (20_000, 4)
    first = panels[0]
    assert list(custom[5]) == [
        first.labels[5],
        first.words[5],
        "S1: text 0",
        int(first.position[5]),
    ]


def test_many_sentences_take_colours_from_one_scale_shared_by_the_panels():
    panels = [point_set(30, 4, seed=seed) for seed in (0, 1)]
    fig = projection_figure(panels, ["A", "B"], colour_by="sentence")
    first, second = fig.data
    np.testing.assert_array_equal(first.marker.color, panels[0].sentence + 1)
    assert (first.marker.cmin, first.marker.cmax) == (second.marker.cmin, second.marker.cmax)
    assert (first.marker.cmin, first.marker.cmax) == (1, 30)
    assert first.marker.colorbar.title.text == "sentence"
    assert first.marker.showscale and not second.marker.showscale


def test_many_words_cycle_through_the_categorical_colours():
    points = point_set(2, 30)
    fig = projection_figure([points, points], ["A", "B"], colour_by="word")
    marker = fig.data[0].marker
    first_seen = list(dict.fromkeys(points.words))
    expected = [first_seen.index(word) % len(CATEGORICAL_COLOURS) for word in points.words]
    np.testing.assert_array_equal(marker.color, expected)
    # The stepped scale maps colour number i onto CATEGORICAL_COLOURS[i].
    steps = marker.colorscale
    count = len(CATEGORICAL_COLOURS)
    for number, colour in enumerate(CATEGORICAL_COLOURS):
        where = (number - marker.cmin) / (marker.cmax - marker.cmin)
        assert where == pytest.approx((number + 0.5) / count)
        assert steps[2 * number] == (number / count, colour)
        assert steps[2 * number + 1] == ((number + 1) / count, colour)


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


def test_both_panels_merge_when_either_has_too_many_groups():
    def distinct_words(n_words: int) -> PointSet:
        return replace(point_set(1, n_words), words=[f"w{i}" for i in range(n_words)])

    few, many = distinct_words(MAX_LEGEND_GROUPS), distinct_words(MAX_LEGEND_GROUPS + 1)
    fig = projection_figure([few, few], ["A", "B"], colour_by="word")
    assert len(fig.data) == 2 * MAX_LEGEND_GROUPS
    assert len(projection_figure([few, many], ["A", "B"], colour_by="word").data) == 2


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
