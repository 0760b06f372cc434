"""Plotly figures from results. No statistics are computed here and nothing imports Streamlit.

Both models are drawn in one figure with two equal panels, so their sizes always match and one
legend (colour and symbol per group) serves both; beyond :data:`MAX_LEGEND_GROUPS` groups a colour
scale replaces the legend. Colours are Okabe-Ito (colour-blind safe, legible on light and dark
backgrounds); groups also differ by marker symbol.
"""

from __future__ import annotations

import functools
import html
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import i18n
from ._validation import check_choice
from .i18n import N_, _
from .labels import LAYER_METHOD_LABELS, label

# Okabe & Ito (2008), without black so that dark mode stays legible.
CATEGORICAL_COLOURS = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#56B4E9",
    "#CC79A7",
    "#F0E442",
    "#999999",
)
# Model A and model B wherever both are drawn: blue circles and vermilion diamonds.
MODEL_COLOURS = (CATEGORICAL_COLOURS[0], CATEGORICAL_COLOURS[3])
MODEL_SYMBOLS = ("circle", "diamond")
SYMBOLS_2D = ("circle", "diamond", "square", "triangle-up", "x", "star", "cross", "triangle-down")
SYMBOLS_3D = (
    "circle",
    "diamond",
    "square",
    "x",
    "cross",
    "circle-open",
    "diamond-open",
    "square-open",
)
# Values centred on 0 (cosine, correlations): RdBu_r, whose white middle is the light page's own
# colour. On a dark page that middle glares, so :func:`for_dark_theme` swaps in Crameri's
# "berlin" (blue, near-black, red; perceptually uniform and colour-blind safe, Crameri et al.
# 2020, sampled from matplotlib's copy), whose middle is the dark page's colour. zmid stays 0.
DIVERGING_SCALE = "RdBu_r"
DARK_DIVERGING_SCALE = (
    (0.0, "#9eb0ff"),
    (0.1, "#62a6e0"),
    (0.2, "#3280a6"),
    (0.3, "#20526a"),
    (0.4, "#112732"),
    (0.5, "#190c09"),
    (0.6, "#371000"),
    (0.7, "#61200b"),
    (0.8, "#964a36"),
    (0.9, "#ca7b71"),
    (1.0, "#ffadad"),
)
COLOUR_BY = ("sentence", "word", "position")
WEBGL_THRESHOLD = 1000  # points per panel above which scatter plots switch to WebGL
MAX_LABELLED_POINTS = 300  # text labels on more points than this are an unreadable blot
# Above this many groups (sentences or words) a legend is unreadable, and one trace per group
# costs seconds and megabytes (1,000 sentences: 2,000 traces, ~12 MB of JSON): each panel then
# draws its points, and its order lines, as one trace.
MAX_LEGEND_GROUPS = 20


@functools.lru_cache(maxsize=1 << 16)
def plain_text(text: str) -> str:
    """Text a user typed, made inert for plotly: its HTML subset is escaped, and a string that
    starts with "$" (plotly would typeset ``$...$`` as LaTeX) gets a zero-width space first."""
    text = html.escape(str(text), quote=False)
    return "\u200b" + text if text.startswith("$") else text


def plain_texts(texts: Sequence[str]) -> list[str]:
    return [plain_text(text) for text in texts]


def wrapped(text: str, width: int) -> str:
    """``text`` in lines of at most ``width`` characters (plotly never wraps a title, and a
    long one runs into its neighbour or off the figure; translations are often longer)."""
    return "<br>".join(textwrap.wrap(text, width)) or text


# In presentation mode: the tallest a single figure gets (a 720-pixel projector keeps about 450
# pixels under the title and the controls), and the size of every text in a figure.
PROJECTOR_HEIGHT = 440
PROJECTOR_FONT_SIZE = 18  # DESIGN.md: about 18 px in figures on a projector


def for_projector(fig: go.Figure, text_colour: str, size: int = PROJECTOR_FONT_SIZE) -> go.Figure:
    """Every text of a figure at projector size and in a strong colour, in place.

    Streamlit's chart theme sets tick, legend and axis-title fonts (12-14 px, a light grey) on
    each axis, which wins over the figure's global font; setting them on every axis, colour bar
    and legend of the figure itself wins over the theme.
    """
    font = dict(size=size, color=text_colour)
    small = dict(size=size - 2, color=text_colour)
    fig.update_layout(font=font, legend_font=small, hoverlabel_font_size=size)
    fig.update_xaxes(tickfont=small, title_font=font)
    fig.update_yaxes(tickfont=small, title_font=font)
    fig.update_scenes(
        xaxis=dict(tickfont=small, title_font=font),
        yaxis=dict(tickfont=small, title_font=font),
        zaxis=dict(tickfont=small, title_font=font),
    )
    fig.update_annotations(font=dict(size=size + 1, color=text_colour))
    fig.update_coloraxes(colorbar=dict(tickfont=small, title_font=small))
    for trace in fig.data:
        # Only scales that are drawn: touching a hidden one's colour bar would draw it.
        marker = getattr(trace, "marker", None)
        if marker is not None and getattr(marker, "showscale", None):
            marker.colorbar.tickfont = small
            marker.colorbar.title.font = small
        if hasattr(trace, "colorbar") and getattr(trace, "showscale", None) is not False:
            trace.colorbar.tickfont = small
            trace.colorbar.title.font = small
        if getattr(trace, "texttemplate", None):  # numbers written in heatmap cells
            trace.textfont.size = size - 4
        mode = getattr(trace, "mode", None) or ""
        if "text" in mode:
            trace.textfont.color = text_colour
    return fig


def for_dark_theme(fig: go.Figure) -> go.Figure:
    """Every :data:`DIVERGING_SCALE` of a figure (colour axes and traces) swapped for
    :data:`DARK_DIVERGING_SCALE`, in place; the range and the midpoint stay as they are."""
    light = go.Heatmap(colorscale=DIVERGING_SCALE).colorscale
    holders = [fig.layout[name] for name in fig.layout if name.startswith("coloraxis")]
    holders += [trace for trace in fig.data if hasattr(trace, "colorscale")]
    holders += [
        trace.marker for trace in fig.data if hasattr(getattr(trace, "marker", None), "colorscale")
    ]
    for holder in holders:
        if holder.colorscale == light:
            holder.colorscale = DARK_DIVERGING_SCALE
    return fig


def _tick_label_chars(values: np.ndarray) -> int:
    """Characters of the widest tick label plotly would write on an axis over ``values``:
    ticks at a round step (1, 2 or 5 times a power of ten, about six of them), written with
    as many decimals as the step needs and a minus sign where negative."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 1
    low, high = float(finite.min()), float(finite.max())
    pad = 0.05 * (high - low) or 1.0  # plotly's autorange leaves a little room
    low, high = low - pad, high + pad
    rough = (high - low) / 6
    power = 10.0 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    ticks = np.arange(math.ceil(low / step), math.floor(high / step) + 1) * step

    def written(tick: float) -> str:
        text = f"{tick:.{decimals}f}"
        if decimals:
            text = text.rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text

    # plotly writes 10,000 and above as "10k", "1.5M": at most five characters and a sign
    return min(max((len(written(tick)) for tick in ticks), default=1), 6)


@dataclass(frozen=True)
class Style:
    """Sizes for screen or projector (``presentation=True`` enlarges fonts, markers, hovers)."""

    presentation: bool = False

    @property
    def font_size(self) -> int:
        return 18 if self.presentation else 13

    @property
    def marker_size(self) -> int:
        return 13 if self.presentation else 8

    @property
    def hover_size(self) -> int:
        return 18 if self.presentation else 13

    @property
    def panel_spacing(self) -> float:
        """The gap between side-by-side panels (a share of the width): at projector size the
        right panel's axis title and ticks need more room, or they print over the left panel."""
        return 0.1 if self.presentation else 0.06

    def panel_titles(self, titles: Sequence[str]) -> list[str]:
        """Titles of side-by-side panels, made inert and wrapped to fit over their panel: at
        1280x720 with the sidebar open a panel is ~400 pixels wide, about 32 characters at
        projector size, and a longer title runs into its neighbour's."""
        width = (64 if self.presentation else 100) // max(len(titles), 1)
        return [wrapped(plain_text(title), width) for title in titles]

    def point_chart_margins(
        self, coords: Sequence[np.ndarray], height: int, legend: bool
    ) -> dict[str, int]:
        """The margins plotly's automargin would give 2D panels of points ``coords`` in
        Chromium: the y-axis's numeric tick labels and title on the left; the x-axis's and,
        with a ``legend``, its two rows below.

        Reserved up front, plotly lays the chart out once. From 10 px margins it laid the chart
        out, pushed them out to fit the labels and the legend, and drew it all again: ~130 ms of
        each redraw on a 2-core machine, a third of a layer step. Where a chart needs more (a
        three-row legend, a wider label than estimated) automargin still widens them.
        Calibrated in Chromium against plotly's own pushes (normal: 71 px for "−10", 128 px
        below; presentation: 88 and 136 px).
        """
        chars = max(_tick_label_chars(points[:, 1]) for points in coords)
        if self.presentation:
            left, digit, axis_block, legend_rows, legend_y = 62, 9.0, 80, 78, 0.24
        else:
            left, digit, axis_block, legend_rows, legend_y = 51, 6.8, 65, 68, 0.16
        top = 60
        bottom = axis_block
        if legend:
            # The legend hangs legend_y plot-heights below the plot: solve for the margin that
            # fits it, b = legend_y * (height - top - b) + rows.
            height = self.drawn_height(height)
            bottom = max(bottom, (legend_y * (height - top) + legend_rows) / (1 + legend_y))
        return dict(l=math.ceil(left + digit * chars) + 2, r=10, t=top, b=math.ceil(bottom) + 2)

    def apply(
        self,
        fig: go.Figure,
        height: int,
        fit_screen: bool = True,
        margins: dict[str, int] | None = None,
    ) -> go.Figure:
        """Fonts, hover, margins and legend; in presentation mode a figure that ``fit_screen``
        is at most :data:`PROJECTOR_HEIGHT` tall, so it fits under the controls at 1280x720.
        ``margins`` start the layout (default 10 px, 60 at the top for titles); automargin
        widens them to fit."""
        fig.update_layout(self.layout(height, fit_screen, margins))
        fig.update_annotations(font_size=self.title_size)
        return fig

    def drawn_height(self, height: int, fit_screen: bool = True) -> int:
        """A figure's height as drawn: in presentation mode one that ``fit_screen`` is at most
        :data:`PROJECTOR_HEIGHT` tall."""
        return min(height, PROJECTOR_HEIGHT) if self.presentation and fit_screen else height

    @property
    def title_size(self) -> int:
        """Panel titles (annotations)."""
        return self.font_size + 2

    def layout(
        self, height: int, fit_screen: bool = True, margins: dict[str, int] | None = None
    ) -> dict:
        """What :meth:`apply` sets on a figure's layout, as a dictionary."""
        return dict(
            font=dict(size=self.font_size),
            hoverlabel=dict(font=dict(size=self.hover_size)),
            height=int(self.drawn_height(height, fit_screen)),
            margin=margins or dict(l=10, r=10, t=60, b=20),
            # Below the x-axis titles, so neither hides the other (projector-size titles sit
            # lower, in a figure at most PROJECTOR_HEIGHT tall).
            legend=dict(
                orientation="h",
                yanchor="top",
                y=-0.24 if self.presentation else -0.16,
                xanchor="left",
                x=0,
            ),
        )


@dataclass(frozen=True)
class PointSet:
    """What a projection panel draws: coordinates and, per point, what the hover shows."""

    coords: np.ndarray  # (n, 2 or 3)
    axis_titles: Sequence[str]
    labels: Sequence[str]  # token or word
    words: Sequence[str]
    sentence: np.ndarray  # (n,) sentence index
    position: np.ndarray  # (n,) position in the sentence
    sentence_texts: Sequence[str]  # shortened text per sentence index

    @classmethod
    def from_items(cls, projection, items, texts: Sequence[str]) -> PointSet:
        """One panel: a projection (``projection.Projection``) of items (``align.Items``), with each
        sentence's text shortened for the hover."""
        from .align import shorten

        return cls(
            coords=projection.coords,
            axis_titles=projection.axis_titles,
            labels=items.labels,
            words=items.words,
            sentence=items.sentence,
            position=items.position,
            sentence_texts=[shorten(text) for text in texts],
        )


def _word_group(word: str) -> str:
    return word.lower() or _("(special)")


def keyed_words(panels: Sequence[PointSet], limit: int | None = MAX_LEGEND_GROUPS) -> list[str]:
    """The words (lower-cased) that "Colour by word" gives their own colour and legend entry.

    Every word, in reading order, when there are at most ``limit`` (or ``limit`` is None);
    otherwise the ``limit - 1`` with the most points
    in all panels together (ties in reading order), and the rest share one grey "other words"
    entry: a legend of hundreds of words is unreadable, and cycled colours without one say
    nothing.
    """
    counts: dict[str, int] = {}
    for points in panels:
        for word in points.words:
            group = _word_group(word)
            counts[group] = counts.get(group, 0) + 1
    if limit is None or len(counts) <= limit:
        return list(counts)
    return sorted(counts, key=counts.__getitem__, reverse=True)[: limit - 1]


def _groups(points: PointSet, colour_by: str) -> list[tuple[str, np.ndarray]]:
    if colour_by == "sentence":
        return [
            (f"S{s + 1}: {points.sentence_texts[s]}", np.flatnonzero(points.sentence == s))
            for s in np.unique(points.sentence)
        ]
    return [(_("position"), np.arange(len(points.labels)))]


def _word_groups(
    points: PointSet, keyed: Sequence[str]
) -> tuple[list[tuple[str, np.ndarray]], np.ndarray]:
    """One group per keyed word (in ``keyed`` order, so every panel colours a word alike), and
    the points of every other word."""
    words = np.array([_word_group(word) for word in points.words], dtype=object)
    groups = [(word, np.flatnonzero(words == word)) for word in keyed]
    others = np.flatnonzero(~np.isin(words, np.array(list(keyed), dtype=object)))
    return groups, others


def _n_groups(points: PointSet, colour_by: str) -> int:
    """How many legend entries :func:`_groups` would make, without making them."""
    if colour_by == "sentence":
        return int(np.unique(points.sentence).size)
    return 1


def _hover(points: PointSet, index: np.ndarray) -> tuple[np.ndarray, str]:
    """Per point: its label, word, sentence and position, as numpy strings (see
    :func:`_with_point_texts`), and the hover template that shows them."""
    index = np.asarray(index, dtype=np.int64)
    sentence_names = np.array(
        [f"S{s + 1}: {text}" for s, text in enumerate(points.sentence_texts)], dtype=object
    )
    custom = (
        np.column_stack(
            [
                np.array([points.labels[i] for i in index], dtype=str),
                np.array([points.words[i] or "—" for i in index], dtype=str),
                sentence_names[np.asarray(points.sentence)[index]].astype(str),
                np.asarray(points.position)[index].astype(np.int64).astype(str),
            ]
        )
        if len(index)
        else np.empty((0, 4), dtype=str)
    )
    template = (
        "<b>%{customdata[0]}</b><br>"
        + _("word: {word}").format(word="%{customdata[1]}")
        + "<br>%{customdata[2]}<br>"
        + _("position {position}").format(position="%{customdata[3]}")
        + "<extra></extra>"
    )
    return custom, template


def _scatter(dims: int, n_points: int, **kwargs):
    if dims == 3:
        return go.Scatter3d(**kwargs)
    return (go.Scattergl if n_points > WEBGL_THRESHOLD else go.Scatter)(**kwargs)


# Plotly turns every array of text into an array of Python objects, which it then copies and
# serialises one element at a time: for Projection's two 20,000-point panels that was ~1 s of
# every layer change on a 2-core server (validating the traces, then Streamlit's `to_dict` and
# `to_json`). A panel's per-point texts (hover fields, item ids) are made here from strings only:
# they join their validated trace afterwards as numpy strings, and a PointFigure hands them to
# `to_json` as they are (one `tolist` each). The JSON is the same.
class PointFigure(go.Figure):
    """A figure whose traces may carry per-point texts as numpy string arrays
    (:func:`_with_point_texts`): ``to_dict`` keeps them so, where plotly's would make them arrays
    of objects."""

    def to_dict(self) -> dict:
        result = super().to_dict()
        for trace, props in zip(result["data"], self._data, strict=True):
            for name, value in props.items():
                if isinstance(value, np.ndarray) and value.dtype.kind == "U":
                    trace[name] = value
        return result


def _with_point_texts(trace, **texts):
    """``trace`` (validated) with per-point ``texts`` added, as numpy string arrays, unvalidated.
    It keeps them only in a figure made by :func:`_assembled` (``add_trace`` validates again)."""
    props = trace.to_plotly_json()
    props.update({name: np.asarray(values, dtype=str) for name, values in texts.items()})
    return type(trace)(props, _validate=False)


def _on_subplot(trace, column: int, dims: int):
    """``trace`` on the ``column``-th panel of a one-row :func:`make_subplots` grid."""
    suffix = "" if column == 1 else str(column)
    if dims == 3:
        trace.update(scene=f"scene{suffix}")
    else:
        trace.update(xaxis=f"x{suffix}", yaxis=f"y{suffix}")
    return trace


def _assembled(layout_figure: go.Figure, traces: Sequence) -> PointFigure:
    """A figure with ``layout_figure``'s (validated) layout and ``traces`` as they are, so the
    per-point texts of :func:`_with_point_texts` stay numpy strings; whatever is changed in it
    afterwards is validated again."""
    fig = PointFigure(data=list(traces), layout=layout_figure.layout, _validate=False)
    fig._validate = fig.layout._validate = True
    return fig


def _xyz(coords: np.ndarray) -> dict:
    axes = dict(x=coords[:, 0], y=coords[:, 1])
    if coords.shape[1] == 3:
        axes["z"] = coords[:, 2]
    return axes


# In the joint view model B's markers are hollow versions of A's; in 3D only these have one.
HOLLOWABLE_SYMBOLS_3D = ("circle", "diamond", "square")
OTHER_WORDS_COLOUR = "rgba(153,153,153,0.45)"


@dataclass(frozen=True)
class _Drawing:
    """How one set of points is drawn: in a panel of its own, or in the joint view as model A
    (filled markers, solid order lines) or model B (hollow markers, dotted order lines)."""

    dims: int
    style: Style
    first: bool  # legend entries and colour bars are drawn once, with the first set
    joint_model: int | None = None  # 0 or 1 in the joint view
    model_name: str = ""  # named in the hover in the joint view

    @property
    def hollow(self) -> bool:
        return self.joint_model == 1

    @property
    def symbols(self) -> tuple[str, ...]:
        if self.dims == 2:
            return SYMBOLS_2D
        return SYMBOLS_3D if self.joint_model is None else HOLLOWABLE_SYMBOLS_3D

    def symbol(self, symbol: str) -> str:
        return f"{symbol}-open" if self.hollow else symbol

    def outline(self) -> dict:
        """Size and outline of the markers of a group colour (a hollow marker is its outline)."""
        size = self.style.marker_size if self.dims == 2 else max(self.style.marker_size - 3, 3)
        if self.dims == 3:
            return dict(size=size, line=None)
        if self.hollow:
            return dict(size=size, line=dict(width=1.5))
        return dict(size=size, line=dict(width=0.5, color="rgba(40,40,40,0.6)"))


def _outlined(dims: int, style: Style) -> dict:
    """Size and outline of the markers of a group colour."""
    return _Drawing(dims, style, first=True).outline()


def _categorical_marker(
    number: int, dims: int, style: Style, drawing: _Drawing | None = None
) -> dict:
    """Colour and symbol of group ``number`` (one trace per group): colours cycle, then symbols
    (with as many symbols as colours, each group also steps to the next symbol)."""
    drawing = drawing or _Drawing(dims, style, first=True)
    symbols, colours = drawing.symbols, len(CATEGORICAL_COLOURS)
    step = number if len(symbols) == colours else 0
    return dict(
        color=CATEGORICAL_COLOURS[number % colours],
        symbol=drawing.symbol(symbols[(number // colours + step) % len(symbols)]),
        **drawing.outline(),
    )


def _cycled_colours_marker(numbers: np.ndarray, dims: int, style: Style) -> dict:
    """Per-point group numbers coloured through the categorical colours, cycling, in one trace.

    The colours come from a stepped colour scale over ``number % len(CATEGORICAL_COLOURS)``:
    plotly checks a list of colour names one string at a time (about 1 s for 40,000 points),
    an array of numbers at once.
    """
    count = len(CATEGORICAL_COLOURS)
    steps = [
        (edge, colour)
        for index, colour in enumerate(CATEGORICAL_COLOURS)
        for edge in (index / count, (index + 1) / count)
    ]
    return dict(
        color=np.asarray(numbers) % count,
        colorscale=steps,
        cmin=-0.5,
        cmax=count - 0.5,
        showscale=False,
        **_outlined(dims, style),
    )


def _scale_marker(values: np.ndarray, title: str, drawing: _Drawing, **bounds):
    """Colour from a continuous scale, with one colour bar (on the first panel)."""
    marker = dict(
        color=values,
        colorscale="Viridis",
        **bounds,
        showscale=drawing.first,
        colorbar=dict(title=title, len=0.8),
        size=drawing.style.marker_size,
    )
    if drawing.joint_model is not None:
        marker.update(symbol=drawing.symbol("circle"), **drawing.outline())
    return marker


def _marker_traces(
    points: PointSet, options: _Options, drawing: _Drawing
) -> list[tuple[str, np.ndarray, dict, bool]]:
    """(name, member points, marker, in the legend) for each marker trace of one panel.

    By word: one trace per word of the key (:func:`keyed_words`) and one grey trace for every
    other word. By sentence, ``merged`` (too many sentences for a legend) puts all points in one
    trace coloured from a continuous scale (the same range in every panel, with a colour bar).
    """
    colour_by, everyone = options.colour_by, np.arange(len(points.labels))
    if colour_by == "position":
        return [
            (_("position"), everyone, _scale_marker(points.position, _("position"), drawing), False)
        ]
    if colour_by == "sentence" and options.merged:
        numbers = np.asarray(points.sentence) + 1
        bounds = dict(cmin=1, cmax=len(points.sentence_texts))
        marker = _scale_marker(numbers, _("sentence"), drawing, **bounds)
        return [(_("sentences"), everyone, marker, False)]
    others = np.array([], dtype=np.int64)
    if colour_by == "word":
        groups, others = _word_groups(points, options.keyed)
    else:
        groups = _groups(points, colour_by)
    traces = [
        (name, members, _categorical_marker(number, drawing.dims, drawing.style, drawing), True)
        for number, (name, members) in enumerate(groups)
    ]
    if others.size:
        marker = dict(
            color=OTHER_WORDS_COLOUR,
            symbol=drawing.symbol("circle"),
            size=max(drawing.style.marker_size - 2, 3),
        )
        traces.append((options.other_words, others, marker, True))
    return [
        (name, members, marker, legend and drawing.first)
        for name, members, marker, legend in traces
    ]


def _sentence_paths(points: PointSet, merged: bool) -> list[tuple[str, np.ndarray, str, int]]:
    """(legend group, coordinates, colour, width) of each order line: one per sentence in its
    categorical colour, or, when ``merged``, all sentences in one grey path broken by NaN rows."""
    if merged:
        order = np.lexsort((points.position, points.sentence))
        breaks = np.flatnonzero(np.diff(np.asarray(points.sentence)[order])) + 1
        coords = np.insert(points.coords[order].astype(np.float64), breaks, np.nan, axis=0)
        return [("lines", coords, "#888888", 1)]
    paths = []
    for s in np.unique(points.sentence):
        members = np.flatnonzero(points.sentence == s)
        members = members[np.argsort(points.position[members], kind="stable")]
        colour = CATEGORICAL_COLOURS[int(s) % len(CATEGORICAL_COLOURS)]
        paths.append((f"line{s}", points.coords[members], colour, 2))
    return paths


@dataclass(frozen=True)
class _Options:
    """The Projection page's settings, decided once for every set of points in a figure."""

    colour_by: str
    show_labels: bool
    show_lines: bool
    merged: bool  # too many sentences for one trace each (colour scale instead of a legend)
    merged_lines: bool
    keyed: tuple[str, ...]  # words with their own colour (colour by word)
    other_words: str  # the legend entry of all other words

    @classmethod
    def decide(cls, panels, colour_by, show_labels, show_lines) -> _Options:
        check_choice(colour_by, COLOUR_BY, "colour_by")
        # Decided once for all panels, so both models' points always look alike.
        merged = max(_n_groups(points, colour_by) for points in panels) > MAX_LEGEND_GROUPS
        merged_lines = max(_n_groups(points, "sentence") for points in panels) > MAX_LEGEND_GROUPS
        keyed, other_words = (), ""
        if colour_by == "word":
            keyed = tuple(keyed_words(panels))
            n_others = len(keyed_words(panels, limit=None)) - len(keyed)
            if n_others:
                other_words = f"{n_others:,} other word{'s' if n_others > 1 else ''} (grey)"
        return cls(colour_by, show_labels, show_lines, merged, merged_lines, keyed, other_words)


def _plain_points(points: PointSet) -> PointSet:
    return replace(
        points,
        labels=plain_texts(points.labels),
        words=plain_texts(points.words),
        sentence_texts=plain_texts(points.sentence_texts),
    )


def _panel_traces(points: PointSet, options: _Options, drawing: _Drawing) -> list:
    dims = points.coords.shape[1]
    n = len(points.labels)
    show_labels = options.show_labels and n <= MAX_LABELLED_POINTS
    traces = []
    if options.show_lines:
        for group, coords, colour, width in _sentence_paths(points, options.merged_lines):
            traces.append(
                _scatter(
                    dims,
                    n,
                    **_xyz(coords),
                    mode="lines",
                    line=dict(color=colour, width=width, dash="dot" if drawing.hollow else None),
                    opacity=0.45,
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=group,
                )
            )
    for name, members, marker, in_legend in _marker_traces(points, options, drawing):
        custom, template = _hover(points, members)
        if drawing.model_name:
            template = template.replace("<extra>", f"<br>{drawing.model_name}<extra>")
        trace = _scatter(
            dims,
            n,
            **_xyz(points.coords[members]),
            mode="markers+text" if show_labels else "markers",
            text=[points.labels[i] for i in members] if show_labels else None,
            textposition="top center",
            textfont=dict(size=drawing.style.font_size - 2),
            marker=marker,
            hovertemplate=template,
            name=name,
            legendgroup=name,
            showlegend=in_legend,
        )
        traces.append(_with_point_texts(trace, customdata=custom, ids=_item_ids(members)))
    return traces


def _side_by_side_layout(
    titles: Sequence[str], axis_titles: Sequence[Sequence[str]], dims: int, style: Style
) -> dict:
    """The layout of ``make_subplots(rows=1, cols=len(titles), subplot_titles=titles,
    horizontal_spacing=style.panel_spacing)`` with 2D panels ("xy") or 3D scenes, each panel's
    axis titles and ``style``'s title size, written as one dictionary.

    Built by ``make_subplots`` and updated axis by axis, plotly validated every step: ~40 ms of
    each projection figure, a tenth of a layer step in the browser. The figure validates this
    once.
    """
    n, spacing = len(titles), style.panel_spacing
    width = (1 - spacing * (n - 1)) / n
    layout: dict = {"annotations": []}
    for column, (title, names) in enumerate(zip(titles, axis_titles, strict=True)):
        start = column * (width + spacing)
        domain = [start, min(start + width, 1.0)]
        suffix = "" if column == 0 else str(column + 1)
        if dims == 3:
            layout[f"scene{suffix}"] = dict(
                domain=dict(x=domain, y=[0.0, 1.0]),
                xaxis=dict(title=dict(text=names[0])),
                yaxis=dict(title=dict(text=names[1])),
                zaxis=dict(title=dict(text=names[2])),
                aspectmode="cube",
            )
        else:
            for axis, anchor_to, extent, name in (
                ("x", "y", domain, names[0]),
                ("y", "x", [0.0, 1.0], names[1]),
            ):
                layout[f"{axis}axis{suffix}"] = dict(
                    anchor=f"{anchor_to}{suffix}",
                    domain=extent,
                    title=dict(text=name),
                    zeroline=False,
                )
        layout["annotations"].append(
            dict(
                text=title,
                x=(domain[0] + domain[1]) / 2,
                y=1.0,
                xref="paper",
                yref="paper",
                xanchor="center",
                yanchor="bottom",
                showarrow=False,
                font=dict(size=style.title_size),
            )
        )
    return layout


def projection_figure(
    panels: Sequence[PointSet],
    titles: Sequence[str],
    colour_by: str = "sentence",
    show_labels: bool = False,
    show_lines: bool = False,
    presentation: bool = False,
) -> go.Figure:
    """Two (or more) projections side by side, in equal panels with a shared legend.

    Up to :data:`MAX_LEGEND_GROUPS` sentences or words, each group is one trace with a legend
    entry (colour and symbol) and each sentence's order line its own colour. Beyond that, by
    sentence, each panel draws all its points as one trace coloured from a continuous scale over
    the sentence number, with a colour bar "sentence", and the order lines become one grey path
    per panel, broken between sentences; by word, the most frequent words (:func:`keyed_words`)
    keep their own colour and legend entry and all other words are one grey trace. Hover always
    names the token, its word, its sentence and its position.
    """
    options = _Options.decide(panels, colour_by, show_labels, show_lines)
    panels = [_plain_points(points) for points in panels]
    style = Style(presentation)
    dims = panels[0].coords.shape[1]
    traces = []
    for column, points in enumerate(panels, start=1):
        drawing = _Drawing(dims, style, first=column == 1)
        traces += [_on_subplot(t, column, dims) for t in _panel_traces(points, options, drawing)]
    layout = _side_by_side_layout(
        style.panel_titles(titles), [points.axis_titles for points in panels], dims, style
    )
    height = 620 if dims == 3 else 560
    margins = None
    if dims == 2:
        legend = any(trace.showlegend for trace in traces)
        margins = style.point_chart_margins([p.coords for p in panels], height, legend)
    layout.update(style.layout(height, margins=margins))
    return _assembled(go.Figure(layout=layout), traces)


def joint_projection_figure(
    panels: Sequence[PointSet],
    names: tuple[str, str],
    colour_by: str = "sentence",
    show_labels: bool = False,
    show_lines: bool = False,
    presentation: bool = False,
) -> go.Figure:
    """Both models in one space (B Procrustes-aligned onto A), each item's two points linked.

    ``panels`` are A's and B's points (the same items in the same order, coordinates from one
    joint projection). Colour, legend, labels and order lines follow the settings as in
    :func:`projection_figure`; model A's markers are filled with solid order lines, model B's
    hollow with dotted ones, and two legend entries say which is which.
    """
    if len(panels) != 2 or len(panels[0].labels) != len(panels[1].labels):
        raise ValueError(
            "the joint view needs two point sets of the same items; got "
            f"{[len(points.labels) for points in panels]} points"
        )
    options = _Options.decide(panels, colour_by, show_labels, show_lines)
    panels = [_plain_points(points) for points in panels]
    names = tuple(plain_texts(names))
    style = Style(presentation)
    coords_a, coords_b = (points.coords for points in panels)
    dims, n = coords_a.shape[1], coords_a.shape[0]
    fig = go.Figure()
    # One line trace with None gaps draws every link at once.
    link = np.full((3 * n, dims), np.nan)
    link[0::3], link[1::3] = coords_a, coords_b
    traces = [
        _scatter(
            dims,
            n,
            **_xyz(link),
            mode="lines",
            line=dict(color="rgba(128,128,128,0.55)", width=1.5),
            hoverinfo="skip",
            name=_("same item"),
            showlegend=True,
        )
    ]
    for model, (points, name) in enumerate(zip(panels, names, strict=True)):
        drawing = _Drawing(dims, style, first=model == 0, joint_model=model, model_name=name)
        traces += _panel_traces(points, options, drawing)
        fill = "filled" if model == 0 else "hollow"
        traces.append(
            _scatter(
                dims,
                n,
                **_xyz(np.full((1, dims), np.nan)),
                mode="markers",
                marker=dict(color="#777777", symbol=drawing.symbol("circle"), **drawing.outline()),
                name=f"{name} ({fill})",
                hoverinfo="skip",
                showlegend=True,
            )
        )
    axis_titles = list(panels[0].axis_titles)
    if dims == 3:
        fig.update_layout(
            scene=dict(
                xaxis_title=axis_titles[0], yaxis_title=axis_titles[1], zaxis_title=axis_titles[2]
            )
        )
    else:
        fig.update_xaxes(title_text=axis_titles[0], zeroline=False)
        fig.update_yaxes(title_text=axis_titles[1], zeroline=False)
    height, margins = 620, None
    if dims == 2:  # the legend always names the two models
        margins = style.point_chart_margins([coords_a, coords_b], height, legend=True)
    return _assembled(style.apply(fig, height=height, margins=margins), traces)


def heatmap_pair_figure(
    matrix_a: np.ndarray,
    matrix_b: np.ndarray,
    labels: Sequence[str],
    titles: Sequence[str],
    metric: str = "cosine",
    presentation: bool = False,
) -> go.Figure:
    """The two item-by-item matrices side by side, rows and columns in the same item order.

    Cosine shares one diverging scale centred on 0 over [-1, 1], so equal colours mean equal
    similarity in both panels; Euclidean distances differ in scale between models, so each panel
    gets its own sequential scale.
    """
    style = Style(presentation)
    labels, titles = plain_texts(labels), plain_texts(titles)
    n = len(labels)
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.12)
    cosine = metric == "cosine"
    quantity = _("cosine") if cosine else _("distance")
    for column, matrix in enumerate((matrix_a, matrix_b), start=1):
        fig.add_trace(
            go.Heatmap(
                z=matrix,
                x=list(labels),
                y=list(labels),
                coloraxis="coloraxis" if (cosine or column == 1) else "coloraxis2",
                hovertemplate="%{y} · %{x}<br>"
                + _("{quantity} {value}").format(quantity=quantity, value="%{z:.3f}")
                + "<extra></extra>",
                xgap=1 if n <= 40 else 0,
                ygap=1 if n <= 40 else 0,
            ),
            row=1,
            col=column,
        )
    if cosine:
        fig.update_layout(
            coloraxis=dict(
                colorscale=DIVERGING_SCALE, cmin=-1, cmax=1, cmid=0, colorbar_title=_("cosine")
            )
        )
    else:
        fig.update_layout(
            coloraxis=dict(colorscale="Viridis", colorbar=dict(title="A", x=0.44, len=0.9)),
            coloraxis2=dict(colorscale="Viridis", colorbar=dict(title="B", x=1.0, len=0.9)),
        )
    show_ticks = n <= 60
    fig.update_xaxes(showticklabels=show_ticks, tickangle=-60, tickfont_size=style.font_size - 3)
    fig.update_yaxes(
        autorange="reversed", showticklabels=show_ticks, tickfont_size=style.font_size - 3
    )
    return style.apply(fig, height=max(480, min(900, 220 + 13 * n)))


def rsa_scatter_figure(
    values_a: np.ndarray,
    values_b: np.ndarray,
    pair_labels: Sequence[str],
    fit: tuple[float, float] | None,
    axis_titles: tuple[str, str],
    presentation: bool = False,
) -> go.Figure:
    """One point per pair of items: x = its similarity in A, y = in B, with the least-squares line."""
    style = Style(presentation)
    pair_labels, axis_titles = plain_texts(pair_labels), tuple(plain_texts(axis_titles))
    n = len(values_a)
    fig = go.Figure(
        _scatter(
            2,
            n,
            x=values_a,
            y=values_b,
            mode="markers",
            marker=dict(
                color=CATEGORICAL_COLOURS[0],
                size=max(style.marker_size - 2, 4),
                opacity=0.7 if n < 2000 else 0.35,
            ),
            customdata=np.asarray(pair_labels, dtype=object),
            hovertemplate="%{customdata}<br>A %{x:.3f} · B %{y:.3f}<extra></extra>",
            name=_("item pairs"),
        )
    )
    if fit is not None:
        slope, intercept = fit
        xs = np.array([np.min(values_a), np.max(values_a)])
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=slope * xs + intercept,
                mode="lines",
                line=dict(color=CATEGORICAL_COLOURS[3], width=3),
                name=_("least-squares fit"),
                hoverinfo="skip",
            )
        )
    fig.update_xaxes(title_text=axis_titles[0])
    fig.update_yaxes(title_text=axis_titles[1])
    return style.apply(fig, height=480)


# --- Layers, Geometry and Context pages -----------------------------------------------------------


def layer_tick_labels(n_hidden_states: int) -> list[str]:
    """Tick labels for layers: "emb" for the embedding layer, then the block numbers."""
    return ["emb", *map(str, range(1, n_hidden_states))]


def layer_matrix_figure(
    matrix: np.ndarray,
    names: tuple[str, str],
    method: str = "spearman",
    selected: tuple[int, int] | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Every layer of A (rows) against every layer of B (columns); the selected pair outlined.

    An invisible marker sits on every cell so that a click selects it (plotly heatmaps cannot be
    selected); its ``customdata`` is ``[layer_a, layer_b]``.
    """
    style = Style(presentation)
    names = tuple(plain_texts(names))
    rows, cols = matrix.shape
    method_label = label(LAYER_METHOD_LABELS, method)
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=list(range(cols)),
            y=list(range(rows)),
            colorscale=DIVERGING_SCALE if method != "cka" else "Viridis",
            zmin=-1 if method != "cka" else 0,
            zmax=1,
            zmid=0 if method != "cka" else None,
            colorbar=dict(title=method_label.split(" (")[0]),
            text=np.vectorize(lambda v: "" if not np.isfinite(v) else f"{v:.2f}")(matrix),
            texttemplate="%{text}" if rows * cols <= 400 else None,
            textfont=dict(size=style.font_size - 4),
            hoverinfo="skip",
            xgap=1,
            ygap=1,
        )
    )
    grid_a, grid_b = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    fig.add_trace(
        go.Scatter(
            x=grid_b.ravel(),
            y=grid_a.ravel(),
            mode="markers",
            marker=dict(symbol="square", size=style.marker_size * 3, opacity=0.001, color="#000"),
            customdata=np.stack([grid_a.ravel(), grid_b.ravel()], axis=1),
            hovertemplate=_("A layer {layer_a} · B layer {layer_b}").format(
                layer_a="%{y}", layer_b="%{x}"
            )
            + f"<br>{method_label} %{{text}}<extra></extra>",
            text=[f"{v:.3f}" for v in matrix.ravel()],
            showlegend=False,
            name="cells",
        )
    )
    if selected is not None:
        fig.add_shape(
            type="rect",
            x0=selected[1] - 0.5,
            x1=selected[1] + 0.5,
            y0=selected[0] - 0.5,
            y1=selected[0] + 0.5,
            line=dict(color="#F0E442", width=4),
        )
    fig.update_xaxes(
        title_text=_("layer of B: {name}").format(name=names[1]),
        tickvals=list(range(cols)),
        ticktext=layer_tick_labels(cols),
        showgrid=False,
        zeroline=False,
    )
    fig.update_yaxes(
        title_text=_("layer of A: {name}").format(name=names[0]),
        tickvals=list(range(rows)),
        ticktext=layer_tick_labels(rows),
        autorange="reversed",
        showgrid=False,
        zeroline=False,
    )
    fig.update_layout(clickmode="event+select", dragmode=False)
    return style.apply(fig, height=max(420, min(760, 150 + 42 * rows)))


@dataclass(frozen=True)
class Curve:
    """One line of a per-layer chart: a model (colour) and a variant (dash)."""

    name: str
    values: np.ndarray
    model: int = 0
    dashed: bool = False
    interval: tuple[np.ndarray, np.ndarray] | None = None  # (low, high): drawn as error bars


def _error_bars(curve: Curve, colour: str) -> dict | None:
    """Plotly error bars from a curve's (low, high) interval; None without one."""
    if curve.interval is None:
        return None
    values = np.asarray(curve.values, dtype=np.float64)
    low, high = (np.asarray(bound, dtype=np.float64) for bound in curve.interval)
    return dict(
        type="data",
        symmetric=False,
        array=np.nan_to_num(np.clip(high - values, 0, None)),
        arrayminus=np.nan_to_num(np.clip(values - low, 0, None)),
        color=colour,
        thickness=1.5,
        width=4,
    )


def layer_curves_figure(
    panels: Sequence[tuple[str, Sequence[Curve]]],
    columns: int = 2,
    presentation: bool = False,
) -> go.Figure:
    """Small multiples: one panel per measure, x = layer (0 = embeddings), one line per curve.

    Model A is blue circles, model B vermilion diamonds; dashed lines are a variant (e.g. after
    preprocessing). The legend is shared.
    """
    style = Style(presentation)
    rows = -(-len(panels) // columns)
    fig = make_subplots(
        rows=rows,
        cols=columns,
        # About 100 characters span a figure at 1280 pixels: one panel's share of them per line.
        subplot_titles=[wrapped(plain_text(title), 100 // columns) for title, _ in panels],
        horizontal_spacing=0.08,
        vertical_spacing=0.16 if rows > 1 else 0.1,
    )
    shown: set[str] = set()
    for number, (_title, curves) in enumerate(panels):
        row, col = number // columns + 1, number % columns + 1
        for curve in curves:
            colour = MODEL_COLOURS[0 if curve.model == 0 else 1]
            name = plain_text(curve.name)
            fig.add_trace(
                go.Scatter(
                    x=np.arange(len(curve.values)),
                    y=curve.values,
                    mode="lines+markers",
                    line=dict(color=colour, width=2.5, dash="dash" if curve.dashed else "solid"),
                    marker=dict(
                        color=colour,
                        size=style.marker_size - 2,
                        symbol=MODEL_SYMBOLS[0 if curve.model == 0 else 1],
                    ),
                    name=name,
                    legendgroup=name,
                    showlegend=name not in shown,
                    hovertemplate=f"{name}<br>"
                    + _("layer {layer}: {value}").format(layer="%{x}", value="%{y:.3f}")
                    + "<extra></extra>",
                    error_y=_error_bars(curve, colour),
                ),
                row=row,
                col=col,
            )
            shown.add(name)
    fig.update_xaxes(title_text=_("layer (0 = embeddings)"), dtick=1 if rows else None)
    height = 330 * rows + 120
    fig = style.apply(fig, height=height)
    fig.update_layout(legend=dict(y=-0.08 if rows > 1 else -0.2))
    return fig


def spectrum_figure(
    eigenvalues: Sequence[np.ndarray],
    ratios: Sequence[np.ndarray],
    names: Sequence[str],
    n_for_90: Sequence[int],
    log_scale: bool = True,
    presentation: bool = False,
) -> go.Figure:
    """Scree (eigenvalues per component) and cumulative explained variance, both models.

    On a log scale, components with (numerically) zero variance are left out of the scree.
    """
    style = Style(presentation)
    names = plain_texts(names)
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=[_("eigenvalues (scree)"), _("cumulative explained variance")],
        horizontal_spacing=0.1,
    )
    for which, (values, ratio, name, n90) in enumerate(
        zip(eigenvalues, ratios, names, n_for_90, strict=True)
    ):
        colour = MODEL_COLOURS[0 if which == 0 else 1]
        symbol = MODEL_SYMBOLS[0 if which == 0 else 1]
        components = np.arange(1, len(values) + 1)
        keep = values > values.max() * 1e-12 if log_scale and values.size else slice(None)
        fig.add_trace(
            go.Scatter(
                x=components[keep],
                y=values[keep],
                mode="lines+markers",
                line=dict(color=colour, width=2),
                marker=dict(color=colour, symbol=symbol, size=style.marker_size - 2),
                name=name,
                legendgroup=name,
                hovertemplate=_("PC{number}: eigenvalue {value}").format(
                    number="%{x}", value="%{y:.4g}"
                )
                + f"<extra>{name}</extra>",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=components,
                y=np.cumsum(ratio),
                mode="lines+markers",
                line=dict(color=colour, width=2),
                marker=dict(color=colour, symbol=symbol, size=style.marker_size - 2),
                name=name,
                legendgroup=name,
                showlegend=False,
                hovertemplate=_("first {n} PCs: {share}").format(n="%{x}", share="%{y:.1%}")
                + f"<extra>{name}</extra>",
            ),
            row=1,
            col=2,
        )
        fig.add_vline(x=n90, line=dict(color=colour, dash="dot", width=2), row=1, col=2)
        fig.add_annotation(
            x=n90,
            y=0.06 + 0.12 * which,
            text=" " + _("{n} PCs for 90 %").format(n=n90),
            showarrow=False,
            xanchor="left",
            font=dict(color=colour, size=style.font_size - 1),
            row=1,
            col=2,
        )
    fig.add_hline(y=0.9, line=dict(color="#999999", dash="dash"), row=1, col=2)
    fig.update_yaxes(
        type="log" if log_scale else "linear",
        dtick=1 if log_scale else None,
        exponentformat="power",
        title_text=_("eigenvalue"),
        row=1,
        col=1,
    )
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02], title_text=_("explained"), row=1, col=2)
    fig.update_xaxes(title_text=_("principal component"))
    return style.apply(fig, height=440)


def heatmap_grid_figure(
    matrices: Sequence[np.ndarray],
    labels: Sequence[str],
    titles: Sequence[str],
    columns: int = 3,
    presentation: bool = False,
) -> go.Figure:
    """Cosine matrices over the same items in a grid, on one diverging scale centred on 0."""
    style = Style(presentation)
    labels, titles = plain_texts(labels), plain_texts(titles)
    n = len(labels)
    rows = -(-len(matrices) // columns)
    fig = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=titles,
        horizontal_spacing=0.05,
        vertical_spacing=0.12 if rows > 1 else 0.08,
    )
    for number, matrix in enumerate(matrices):
        fig.add_trace(
            go.Heatmap(
                z=matrix,
                x=labels,
                y=labels,
                coloraxis="coloraxis",
                hovertemplate="%{y} · %{x}<br>"
                + _("cosine {value}").format(value="%{z:.4f}")
                + "<extra></extra>",
            ),
            row=number // columns + 1,
            col=number % columns + 1,
        )
    fig.update_layout(
        coloraxis=dict(
            colorscale=DIVERGING_SCALE, cmin=-1, cmax=1, cmid=0, colorbar_title=_("cosine")
        )
    )
    show_ticks = n <= 50
    fig.update_xaxes(showticklabels=False, tickangle=-60, tickfont_size=style.font_size - 5)
    fig.update_yaxes(autorange="reversed", showticklabels=False, tickfont_size=style.font_size - 5)
    # Labels once per row and once per column, so no panel's labels run into its neighbour.
    for row in range(1, rows + 1):
        fig.update_yaxes(showticklabels=show_ticks, row=row, col=1)
    for col in range(1, columns + 1):
        fig.update_xaxes(showticklabels=show_ticks, row=rows, col=col)
    return style.apply(fig, height=rows * max(340, min(500, 150 + 8 * n)) + 40, fit_screen=False)


def displacement_figure(
    panels: Sequence[tuple[str, np.ndarray, np.ndarray]],
    labels: Sequence[str],
    axis_titles: tuple[str, str] | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Coordinates before (circles) and after (diamonds) a map, each item's two points linked;
    the axes are "dimension 1" and "dimension 2" unless ``axis_titles`` names them."""
    style = Style(presentation)
    axis_titles = axis_titles or (_("dimension 1"), _("dimension 2"))
    labels = plain_texts(labels)
    fig = make_subplots(
        rows=1,
        cols=len(panels),
        subplot_titles=[plain_text(title) for title, _, _ in panels],
        horizontal_spacing=0.08,
    )
    for column, (_title, before, after) in enumerate(panels, start=1):
        n = before.shape[0]
        link = np.full((3 * n, 2), np.nan)
        link[0::3], link[1::3] = before[:, :2], after[:, :2]
        fig.add_trace(
            go.Scatter(
                x=link[:, 0],
                y=link[:, 1],
                mode="lines",
                line=dict(color="rgba(128,128,128,0.5)", width=1.2),
                hoverinfo="skip",
                name=_("same item"),
                legendgroup="link",
                showlegend=column == 1,
            ),
            row=1,
            col=column,
        )
        for coords, name, colour, symbol in (
            (before, _("before"), CATEGORICAL_COLOURS[0], "circle"),
            (after, _("after"), CATEGORICAL_COLOURS[3], "diamond"),
        ):
            fig.add_trace(
                go.Scatter(
                    x=coords[:, 0],
                    y=coords[:, 1],
                    mode="markers",
                    marker=dict(color=colour, symbol=symbol, size=style.marker_size),
                    customdata=np.asarray(labels, dtype=object),
                    hovertemplate=f"<b>%{{customdata}}</b> ({name})<br>(%{{x:.3g}}, %{{y:.3g}})"
                    "<extra></extra>",
                    name=name,
                    legendgroup=name,
                    showlegend=column == 1,
                ),
                row=1,
                col=column,
            )
        fig.update_xaxes(title_text=axis_titles[0], row=1, col=column)
        fig.update_yaxes(title_text=axis_titles[1], row=1, col=column)
    return style.apply(fig, height=460)


def ranked_bar_figure(
    panels: Sequence[tuple[str, Sequence[str], np.ndarray]],
    value_title: str,
    presentation: bool = False,
    percent: bool = False,
) -> go.Figure:
    """Horizontal bars, largest at the top, one panel per model (or one panel)."""
    style = Style(presentation)
    fig = make_subplots(
        rows=1,
        cols=len(panels),
        subplot_titles=[plain_text(title) for title, _, _ in panels],
        horizontal_spacing=0.18 if len(panels) > 1 else 0.1,
    )
    longest = 1
    for column, (_title, bar_labels, values) in enumerate(panels, start=1):
        bar_labels = plain_texts(bar_labels)
        longest = max([longest, *map(len, bar_labels)])
        colour = MODEL_COLOURS[0 if column == 1 else 1]
        fig.add_trace(
            go.Bar(
                x=values,
                y=bar_labels,
                orientation="h",
                marker_color=colour,
                hovertemplate="%{y}: %{x:" + (".1%" if percent else ".4g") + "}<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=column,
        )
    fig.update_yaxes(autorange="reversed", type="category", tickfont_size=style.font_size - 2)
    fig.update_xaxes(title_text=value_title, tickformat=".1~%" if percent else None)
    n = max((len(values) for _, _, values in panels), default=1)
    return style.apply(fig, height=max(320, 120 + 26 * n))


def context_projection_figure(
    panels: Sequence[PointSet],
    titles: Sequence[str],
    highlight: np.ndarray,
    word: str,
    presentation: bool = False,
) -> go.Figure:
    """All items in grey, the occurrences of one word coloured by sentence and labelled.

    Up to :data:`MAX_LEGEND_GROUPS` occurrences each get a trace, a colour and a legend entry;
    more (a frequent word in a corpus) share one trace in one colour, unlabelled, each naming
    its sentence on hover: hundreds of legend entries are unreadable, and each trace costs
    plotly milliseconds to build. Above :data:`WEBGL_THRESHOLD` points a panel is WebGL.
    """
    style = Style(presentation)
    fig = make_subplots(
        rows=1,
        cols=len(panels),
        subplot_titles=style.panel_titles(titles),
        horizontal_spacing=style.panel_spacing,
    )
    highlight = np.asarray(highlight, dtype=np.int64)
    one_trace = len(highlight) > MAX_LEGEND_GROUPS
    for column, points in enumerate(panels, start=1):
        points = _plain_points(points)
        n = len(points.labels)
        others = np.setdiff1d(np.arange(n), highlight)
        labelled = len(others) <= 80
        custom, template = _hover(points, others)
        fig.add_trace(
            _scatter(
                2,
                n,
                x=points.coords[others, 0],
                y=points.coords[others, 1],
                mode="markers+text" if labelled else "markers",
                text=[points.labels[i] for i in others] if labelled else None,
                textposition="top center",
                textfont=dict(size=style.font_size - 4, color="#999999"),
                marker=dict(color="#BBBBBB", size=style.marker_size - 2),
                customdata=custom,
                hovertemplate=template,
                name=_("other words"),
                legendgroup="other",
                showlegend=column == 1,
            ),
            row=1,
            col=column,
        )
        if one_trace:
            custom, template = _hover(points, highlight)
            name = _("{word}: {n} occurrences (hover for the sentence)").format(
                word=plain_text(word), n=len(highlight)
            )
            fig.add_trace(
                _scatter(
                    2,
                    n,
                    x=points.coords[highlight, 0],
                    y=points.coords[highlight, 1],
                    mode="markers",
                    marker=dict(
                        color=CATEGORICAL_COLOURS[0],
                        size=style.marker_size + 2,
                        line=dict(width=1, color="rgba(40,40,40,0.8)"),
                    ),
                    customdata=custom,
                    hovertemplate=template,
                    name=name,
                    legendgroup="occurrences",
                    showlegend=column == 1,
                ),
                row=1,
                col=column,
            )
        for index in [] if one_trace else highlight:
            sentence = int(points.sentence[index])
            colour = CATEGORICAL_COLOURS[sentence % len(CATEGORICAL_COLOURS)]
            name = _("{word} in S{number}: {sentence}").format(
                word=plain_text(word), number=sentence + 1, sentence=points.sentence_texts[sentence]
            )
            fig.add_trace(
                go.Scatter(
                    x=points.coords[[index], 0],
                    y=points.coords[[index], 1],
                    mode="markers+text",
                    text=[f"{points.words[index] or points.labels[index]} S{sentence + 1}"],
                    textposition="top center",
                    textfont=dict(size=style.font_size - 1, color=colour),
                    marker=dict(
                        color=colour,
                        size=style.marker_size + 6,
                        symbol=SYMBOLS_2D[sentence % len(SYMBOLS_2D)],
                        line=dict(width=1, color="rgba(40,40,40,0.8)"),
                    ),
                    hovertemplate=f"<b>{name}</b><extra></extra>",
                    name=name,
                    legendgroup=name,
                    showlegend=column == 1,
                ),
                row=1,
                col=column,
            )
        fig.update_xaxes(title_text=points.axis_titles[0], zeroline=False, row=1, col=column)
        fig.update_yaxes(title_text=points.axis_titles[1], zeroline=False, row=1, col=column)
    return style.apply(fig, height=560)


# --- item ids, selection and highlighting ---------------------------------------------------------
# Every marker trace of a projection figure names its points by item index in ``ids`` (plotly's
# per-point identity, also used to keep points constant through an animation), so a selection
# made in one panel maps to the same items in every panel without knowing how traces were split.

DIMMED_OPACITY = 0.15


def _item_ids(members: np.ndarray) -> np.ndarray:
    return np.asarray(members, dtype=np.int64).astype(str)


def selected_items(fig: go.Figure, points: Sequence[dict]) -> np.ndarray:
    """Item indices of the points a user selected, from ``st.plotly_chart``'s selection event.

    Parameters
    ----------
    fig : go.Figure
        The figure that was drawn (its marker traces carry item ``ids``).
    points : sequence of dict
        ``event.selection["points"]``: each with ``curve_number`` and ``point_index`` (or
        ``point_number``), whichever panel the click, box or lasso was in.

    Returns
    -------
    ndarray of int64, sorted, without repeats; points of traces without ids (lines) are ignored.
    """
    items = set()
    for point in points:
        trace = fig.data[int(point["curve_number"])]
        index = point.get("point_index", point.get("point_number"))
        if trace.ids is not None and index is not None:
            items.add(int(trace.ids[int(index)]))
    return np.array(sorted(items), dtype=np.int64)


def linked_selectedpoints(fig: go.Figure, indices) -> list[list[int] | None]:
    """Per trace, the positions of the given items in it (plotly's ``selectedpoints``).

    Items are the same in both models' panels (word and sentence units), so a selection in one
    panel selects the same items in the other. Traces without item ids (order lines) get None.
    """
    wanted = {int(index) for index in np.asarray(indices, dtype=np.int64).ravel()}
    return [
        None
        if trace.ids is None
        else [position for position, name in enumerate(trace.ids) if int(name) in wanted]
        for trace in fig.data
    ]


def highlight(fig: go.Figure, indices, dimmed_opacity: float = DIMMED_OPACITY) -> go.Figure:
    """Show the given items in every panel at full strength and dim all the others.

    For search results and linked selections. 2D traces use plotly's ``selectedpoints`` (which
    the browser keeps through an animation's frames); 3D traces cannot, so their selected
    markers are drawn larger and the others smaller. ``indices=None`` leaves the figure as it is;
    an empty selection dims everything. Changes ``fig`` in place (pass a copy of a cached figure)
    and returns it.
    """
    if indices is None:
        return fig
    for trace, positions in zip(fig.data, linked_selectedpoints(fig, indices), strict=True):
        if positions is None:
            continue
        if isinstance(trace, go.Scatter3d):
            size = np.full(len(trace.ids), float(np.max(trace.marker.size or 6)))
            chosen = np.isin(np.arange(len(size)), positions)
            trace.marker.size = np.where(chosen, size * 1.6, size * 0.5)
        else:
            trace.selectedpoints = positions
            trace.selected = dict(marker=dict(opacity=1.0))
            trace.unselected = dict(marker=dict(opacity=dimmed_opacity))
    return fig


# --- neighbour-overlap colouring ------------------------------------------------------------------

OVERLAP_COLOURBAR_TITLE = N_("A–B neighbour overlap (Jaccard@{k})")


def overlap_projection_figure(
    panels: Sequence[PointSet],
    titles: Sequence[str],
    overlap: np.ndarray,
    k: int,
    presentation: bool = False,
) -> go.Figure:
    """Projection panels with every point coloured by its own A-vs-B neighbour overlap.

    ``overlap`` is :func:`embexplorer.neighbours.neighbour_overlap` (one value in [0, 1] per
    item, the same items in every panel): Viridis (colour-blind safe) from 0 to 1, one colour bar
    titled :data:`OVERLAP_COLOURBAR_TITLE`, and the value in every hover. Layout, hover and item
    ids are :func:`projection_figure`'s.
    """
    overlap = np.asarray(overlap, dtype=np.float64)
    n_items = len(panels[0].labels)
    if overlap.shape != (n_items,):
        raise ValueError(
            f"overlap has {overlap.size} values for {n_items} items; expected shape ({n_items},), "
            f"got {overlap.shape}"
        )
    fig = projection_figure(panels, titles, colour_by="position", presentation=presentation)
    title = i18n._(OVERLAP_COLOURBAR_TITLE).format(k=k)
    overlap_hover = _("overlap (Jaccard@{k}) {value}").format(k=k, value="%{customdata[4]:.2f}")
    for trace in fig.data:
        if trace.ids is None:
            continue
        members = np.array([int(name) for name in trace.ids])
        trace.marker.update(color=overlap[members], cmin=0.0, cmax=1.0, colorbar_title_text=title)
        # An object column: the overlap stays a number for the hover's ".2f".
        trace.customdata = np.column_stack([trace.customdata.astype(object), overlap[members]])
        trace.hovertemplate = trace.hovertemplate.replace("<extra>", f"<br>{overlap_hover}<extra>")
    return fig


# --- a pair of items through depth ----------------------------------------------------------------


def pair_depth_figure(
    curve_a: np.ndarray,
    curve_b: np.ndarray,
    names: Sequence[str],
    pair_label: str,
    presentation: bool = False,
    baselines: Sequence[np.ndarray] | None = None,
) -> go.Figure:
    """The cosine of one pair of items at every layer, model A and model B on one chart.

    ``curve_a``/``curve_b`` come from :func:`embexplorer.neighbours.pair_cosine_by_layer`;
    x = layer (0 = embeddings), y = cosine on a fixed [-1, 1] axis, colours and markers as in
    every per-layer chart (A blue circles, B vermilion diamonds). ``baselines`` (one curve per
    model, e.g. the mean cosine between any two items at each layer) are drawn dashed.
    """
    curves = [
        Curve(name, np.asarray(values, dtype=np.float64), model=model)
        for model, (name, values) in enumerate(zip(names, (curve_a, curve_b), strict=True))
    ]
    for model, (name, values) in enumerate(zip(names, baselines or (), strict=False)):
        curves.append(
            Curve(
                _("{model}: any two items (mean)").format(model=name),
                np.asarray(values, float),
                model,
                dashed=True,
            )
        )
    fig = layer_curves_figure(
        [(_("cosine of {pair}").format(pair=pair_label), curves)],
        columns=1,
        presentation=presentation,
    )
    fig.update_yaxes(title_text=_("cosine"), range=[-1.05, 1.05], zeroline=True)
    return fig


# --- layers you can play --------------------------------------------------------------------------

FRAME_DURATION_MS = 700  # per layer when playing
TRANSITION_MS = 350  # points glide between layers (SVG only; WebGL and 3D jump)


def _frame_stack(frames, name: str) -> np.ndarray:
    coords = np.asarray(getattr(frames, "coords", frames), dtype=np.float64)
    if coords.ndim != 3 or coords.shape[2] not in (2, 3) or 0 in coords.shape:
        raise ValueError(
            f"{name} must have shape (n_layers, n_items, 2 or 3); got shape {coords.shape}"
        )
    return coords


def _depth_map(n_frames: int, n_layers: int) -> list[int]:
    """The layer each slider position shows, by relative depth, for a model with ``n_layers``."""
    return [round(f * (n_layers - 1) / max(n_frames - 1, 1)) for f in range(n_frames)]


def _fixed_range(values: np.ndarray) -> list[float]:
    low, high = float(values.min()), float(values.max())
    pad = 0.05 * (high - low) or 0.5
    return [low - pad, high + pad]


def _animation_groups(groups, n_items: int, dims: int, style: Style) -> list:
    """(name, members, marker, in legend) per trace of one panel, as in :func:`_marker_traces`."""
    if groups is None:
        return [(_("items"), np.arange(n_items), _categorical_marker(0, dims, style), False)]
    order: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        order.setdefault(group, []).append(index)
    if len(order) > MAX_LEGEND_GROUPS:
        numbers = np.empty(n_items, dtype=np.int64)
        for number, members in enumerate(order.values()):
            numbers[members] = number
        marker = _cycled_colours_marker(numbers, dims, style)
        return [(_("items"), np.arange(n_items), marker, False)]
    return [
        (name, np.array(members), _categorical_marker(number, dims, style), True)
        for number, (name, members) in enumerate(order.items())
    ]


def _animation_controls(labels: list[str], start: int, redraw: bool) -> dict:
    """A Play/Pause pair and a layer slider, all plotly ``animate`` calls (no server)."""
    playing = {
        "frame": {"duration": FRAME_DURATION_MS, "redraw": redraw},
        "transition": {"duration": 0 if redraw else TRANSITION_MS, "easing": "cubic-in-out"},
        "fromcurrent": True,
        "mode": "immediate",
    }
    jump = {"frame": {"duration": 0, "redraw": redraw}, "transition": {"duration": 0}}
    return dict(
        updatemenus=[
            dict(
                type="buttons",
                direction="left",
                showactive=False,
                x=0,
                xanchor="left",
                y=-0.12,
                yanchor="top",
                pad=dict(r=10, t=10),
                buttons=[
                    dict(label="▶ " + _("Play"), method="animate", args=[None, playing]),
                    dict(
                        label="❚❚ " + _("Pause"),
                        method="animate",
                        args=[[None], {**jump, "mode": "immediate"}],
                    ),
                ],
            )
        ],
        sliders=[
            dict(
                active=start,
                # Right of the Play / Pause buttons (as long as "❚❚ Tạm dừng"), so its current
                # value is clear of them.
                x=0.26,
                len=0.74,
                y=-0.08,
                yanchor="top",
                currentvalue=dict(prefix=_("layer") + " ", visible=True),
                steps=[
                    dict(
                        label=label,
                        method="animate",
                        args=[[str(frame)], {**jump, "mode": "immediate"}],
                    )
                    for frame, label in enumerate(labels)
                ],
            )
        ],
    )


def layer_animation_figure(
    frames_a,
    frames_b,
    labels: Sequence[str],
    titles: Sequence[str],
    groups: Sequence[str] | None = None,
    presentation: bool = False,
    start: int = 0,
) -> go.Figure:
    """Both models' projections at every layer in one figure, played in the browser.

    Parameters
    ----------
    frames_a, frames_b : LayerProjections or array-like of shape (n_layers, n_items, 2 or 3)
        From :func:`embexplorer.projection.layer_aligned_projections`; the same items, the same
        ``dims``. The models may differ in depth: the slider then has as many positions as the
        deeper model has layers and the other shows the layer at the same relative depth
        (labels "A 3 · B 2").
    labels : sequence of str
        One per item, for the hover.
    titles : sequence of str
        The two panel titles (model names).
    groups : sequence of str, optional
        One group name per item (e.g. its sentence): colour and symbol per group with a legend,
        or cycled colours in one trace beyond :data:`MAX_LEGEND_GROUPS` groups.
    presentation : bool, default False
    start : int, default 0
        The slider position shown first (e.g. the page's current layer).

    Returns
    -------
    go.Figure
        ``frames`` one per slider position (named "0", "1", ...), each updating only the
        points' coordinates; a Play/Pause pair and a slider of plotly ``animate`` calls, so
        changing layer never goes back to the server. Axis ranges are fixed from all frames, so
        points move and axes do not. Markers carry item ``ids`` (see :func:`highlight`).
        Scattergl beyond :data:`WEBGL_THRESHOLD` points per panel (2D).
    """
    stacks = [_frame_stack(frames_a, "frames_a"), _frame_stack(frames_b, "frames_b")]
    n_items, dims = stacks[0].shape[1:]
    if stacks[1].shape[1:] != (n_items, dims):
        raise ValueError(
            f"frames_a and frames_b must hold the same items in the same dims: frames_a has "
            f"{n_items} items in {dims}D, frames_b has {stacks[1].shape[1]} items in "
            f"{stacks[1].shape[2]}D (shapes {stacks[0].shape} and {stacks[1].shape})"
        )
    if len(labels) != n_items or (groups is not None and len(groups) != n_items):
        raise ValueError(
            f"frames hold {n_items} items but {len(labels)} labels"
            + ("" if groups is None else f" and {len(groups)} groups")
            + " were given"
        )
    style = Style(presentation)
    labels = plain_texts(labels)
    groups = None if groups is None else plain_texts(groups)
    n_frames = max(len(stack) for stack in stacks)
    depths = [_depth_map(n_frames, len(stack)) for stack in stacks]
    start = int(np.clip(start, 0, n_frames - 1))
    stacks = [stack.astype(np.float32) for stack in stacks]  # half the JSON, ample for a picture
    traces = _animation_groups(groups, n_items, dims, style)
    custom = np.array(
        [[label, group] for label, group in zip(labels, groups or [""] * n_items, strict=True)],
        dtype=object,
    )
    template = (
        "<b>%{customdata[0]}</b>" + ("<br>%{customdata[1]}" if groups else "") + "<extra></extra>"
    )
    kind = "scene" if dims == 3 else "xy"
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=style.panel_titles(titles),
        specs=[[{"type": kind}] * 2],
        horizontal_spacing=style.panel_spacing,
    )
    for panel, (stack, depth) in enumerate(zip(stacks, depths, strict=True)):
        for name, members, marker, in_legend in traces:
            fig.add_trace(
                _scatter(
                    dims,
                    n_items,
                    **_xyz(stack[depth[start]][members]),
                    mode="markers",
                    marker=marker,
                    ids=_item_ids(members),
                    customdata=custom[members],
                    hovertemplate=template,
                    name=name,
                    legendgroup=name,
                    showlegend=in_legend and panel == 0,
                ),
                row=1,
                col=panel + 1,
            )
        ranges = [_fixed_range(stack[:, :, axis]) for axis in range(dims)]
        if dims == 3:
            axes = {
                f"{axis}axis": dict(range=r, autorange=False)
                for axis, r in zip("xyz", ranges, strict=True)
            }
            fig.update_layout(
                {"scene" if panel == 0 else "scene2": dict(**axes, aspectmode="cube")}
            )
        else:
            fig.update_xaxes(range=ranges[0], autorange=False, zeroline=False, row=1, col=panel + 1)
            fig.update_yaxes(range=ranges[1], autorange=False, zeroline=False, row=1, col=panel + 1)
    fig.frames = [
        go.Frame(
            name=str(frame),
            data=[
                _scatter(dims, n_items, **_xyz(stack[depth[frame]][members]))
                for stack, depth in zip(stacks, depths, strict=True)
                for _, members, _, _ in traces
            ],
            traces=list(range(2 * len(traces))),
        )
        for frame in range(n_frames)
    ]
    same_depth = depths[0] == depths[1]
    slider_labels = [
        str(depths[0][frame]) if same_depth else f"A {depths[0][frame]} · B {depths[1][frame]}"
        for frame in range(n_frames)
    ]
    redraw = dims == 3 or n_items > WEBGL_THRESHOLD
    fig.update_layout(**_animation_controls(slider_labels, start, redraw))
    fig = style.apply(fig, height=620)
    # Below the plots: the slider (its ticks and labels), then the legend, clear of each other.
    fig.update_layout(margin=dict(b=200), legend=dict(y=-0.36, yanchor="top"))
    return fig


def heatmap_animation_figure(
    matrices_a: np.ndarray,
    matrices_b: np.ndarray,
    labels: Sequence[str],
    titles: Sequence[str],
    presentation: bool = False,
    start: int = 0,
) -> go.Figure:
    """Both models' cosine heatmaps at every layer in one figure, with a layer slider and Play
    that run in the browser (plotly frames, no server round trip).

    Parameters
    ----------
    matrices_a, matrices_b : array-like of shape (n_layers, n_items, n_items)
        Each model's item-by-item cosines at every layer (the same items; depths may differ: the
        slider pairs layers by relative depth, as :func:`layer_animation_figure` does).
    labels : sequence of str
    titles : two str
    start : int
        The slider position shown first.

    Notes
    -----
    One shared diverging scale over [-1, 1] centred on 0, as :func:`heatmap_pair_figure`, so a
    colour means the same cosine in both panels and at every layer. Values are sent as float32.
    """
    stacks = [np.asarray(m, dtype=np.float32) for m in (matrices_a, matrices_b)]
    n = len(labels)
    for name, stack in zip(("matrices_a", "matrices_b"), stacks, strict=True):
        if stack.ndim != 3 or stack.shape[1:] != (n, n):
            raise ValueError(
                f"{name} must have shape (n_layers, {n}, {n}) for {n} labels; got {stack.shape}"
            )
    n_frames = max(len(stack) for stack in stacks)
    depths = [_depth_map(n_frames, len(stack)) for stack in stacks]
    start = int(np.clip(start, 0, n_frames - 1))
    fig = heatmap_pair_figure(
        stacks[0][depths[0][start]],
        stacks[1][depths[1][start]],
        labels,
        titles,
        metric="cosine",
        presentation=presentation,
    )
    fig.frames = [
        go.Frame(
            name=str(frame),
            data=[
                go.Heatmap(z=stack[depth[frame]])
                for stack, depth in zip(stacks, depths, strict=True)
            ],
            traces=[0, 1],
        )
        for frame in range(n_frames)
    ]
    same_depth = depths[0] == depths[1]
    slider_labels = [
        str(depths[0][frame]) if same_depth else f"A {depths[0][frame]} · B {depths[1][frame]}"
        for frame in range(n_frames)
    ]
    fig.update_layout(**_animation_controls(slider_labels, start, redraw=True))
    fig.update_layout(margin=dict(b=170))
    return fig
