"""Plotly figures from results. No statistics are computed here and nothing imports Streamlit.

Both models are drawn in one figure with two equal panels, so their sizes always match and one
legend (colour and symbol per group) serves both. Colours are Okabe-Ito (colour-blind safe,
legible on light and dark backgrounds); groups also differ by marker symbol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

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
COLOUR_BY = ("sentence", "word", "position")
WEBGL_THRESHOLD = 1000  # points per panel above which scatter plots switch to WebGL
MAX_LABELLED_POINTS = 300  # text labels on more points than this are an unreadable blot


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

    def apply(self, fig: go.Figure, height: int) -> go.Figure:
        fig.update_layout(
            font=dict(size=self.font_size),
            hoverlabel=dict(font_size=self.hover_size),
            height=int(height * (1.15 if self.presentation else 1.0)),
            margin=dict(l=10, r=10, t=60, b=20),
            # Below the x-axis titles, so neither hides the other.
            legend=dict(orientation="h", yanchor="top", y=-0.16, xanchor="left", x=0),
        )
        fig.update_annotations(font_size=self.font_size + 2)
        return fig


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


def _groups(points: PointSet, colour_by: str) -> list[tuple[str, np.ndarray]]:
    if colour_by == "sentence":
        return [
            (f"S{s + 1}: {points.sentence_texts[s]}", np.flatnonzero(points.sentence == s))
            for s in np.unique(points.sentence)
        ]
    if colour_by == "word":
        order: dict[str, list[int]] = {}
        for index, word in enumerate(points.words):
            order.setdefault(word.lower() or "(special)", []).append(index)
        return [(word, np.array(members)) for word, members in order.items()]
    return [("position", np.arange(len(points.labels)))]


def _hover(points: PointSet, index: np.ndarray) -> tuple[np.ndarray, str]:
    custom = np.array(
        [
            [
                points.labels[i],
                points.words[i] or "—",
                f"S{points.sentence[i] + 1}: {points.sentence_texts[points.sentence[i]]}",
                int(points.position[i]),
            ]
            for i in index
        ],
        dtype=object,
    ).reshape(len(index), 4)
    template = (
        "<b>%{customdata[0]}</b><br>word: %{customdata[1]}<br>%{customdata[2]}"
        "<br>position %{customdata[3]}<extra></extra>"
    )
    return custom, template


def _scatter(dims: int, n_points: int, **kwargs):
    if dims == 3:
        return go.Scatter3d(**kwargs)
    return (go.Scattergl if n_points > WEBGL_THRESHOLD else go.Scatter)(**kwargs)


def _xyz(coords: np.ndarray) -> dict:
    axes = dict(x=coords[:, 0], y=coords[:, 1])
    if coords.shape[1] == 3:
        axes["z"] = coords[:, 2]
    return axes


def _panel_traces(
    points: PointSet,
    colour_by: str,
    style: Style,
    show_labels: bool,
    show_lines: bool,
    first_panel: bool,
) -> list:
    dims = points.coords.shape[1]
    symbols = SYMBOLS_3D if dims == 3 else SYMBOLS_2D
    n = len(points.labels)
    show_labels = show_labels and n <= MAX_LABELLED_POINTS
    traces = []
    if show_lines:
        for s in np.unique(points.sentence):
            members = np.flatnonzero(points.sentence == s)
            members = members[np.argsort(points.position[members], kind="stable")]
            colour = CATEGORICAL_COLOURS[int(s) % len(CATEGORICAL_COLOURS)]
            traces.append(
                _scatter(
                    dims,
                    n,
                    **_xyz(points.coords[members]),
                    mode="lines",
                    line=dict(color=colour, width=2),
                    opacity=0.45,
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=f"line{s}",
                )
            )
    for number, (name, members) in enumerate(_groups(points, colour_by)):
        custom, template = _hover(points, members)
        if colour_by == "position":
            marker = dict(
                color=points.position[members],
                colorscale="Viridis",
                showscale=first_panel,
                colorbar=dict(title="position", len=0.8),
                size=style.marker_size,
            )
        else:
            marker = dict(
                color=CATEGORICAL_COLOURS[number % len(CATEGORICAL_COLOURS)],
                symbol=symbols[(number // len(CATEGORICAL_COLOURS) + number) % len(symbols)],
                size=style.marker_size if dims == 2 else max(style.marker_size - 3, 3),
                line=dict(width=0.5, color="rgba(40,40,40,0.6)") if dims == 2 else None,
            )
        traces.append(
            _scatter(
                dims,
                n,
                **_xyz(points.coords[members]),
                mode="markers+text" if show_labels else "markers",
                text=[points.labels[i] for i in members] if show_labels else None,
                textposition="top center",
                textfont=dict(size=style.font_size - 2),
                marker=marker,
                customdata=custom,
                hovertemplate=template,
                name=name,
                legendgroup=name,
                showlegend=first_panel and colour_by != "position",
            )
        )
    return traces


def projection_figure(
    panels: Sequence[PointSet],
    titles: Sequence[str],
    colour_by: str = "sentence",
    show_labels: bool = False,
    show_lines: bool = False,
    presentation: bool = False,
) -> go.Figure:
    """Two (or more) projections side by side, in equal panels with a shared legend."""
    if colour_by not in COLOUR_BY:
        raise ValueError(f"colour_by must be one of {', '.join(COLOUR_BY)}; got {colour_by!r}")
    dims = panels[0].coords.shape[1]
    kind = "scene" if dims == 3 else "xy"
    fig = make_subplots(
        rows=1,
        cols=len(panels),
        subplot_titles=list(titles),
        specs=[[{"type": kind}] * len(panels)],
        horizontal_spacing=0.06,
    )
    style = Style(presentation)
    for column, points in enumerate(panels, start=1):
        for trace in _panel_traces(points, colour_by, style, show_labels, show_lines, column == 1):
            fig.add_trace(trace, row=1, col=column)
        titles_xyz = list(points.axis_titles)
        if dims == 3:
            scene = "scene" if column == 1 else f"scene{column}"
            fig.update_layout(
                {
                    scene: dict(
                        xaxis_title=titles_xyz[0],
                        yaxis_title=titles_xyz[1],
                        zaxis_title=titles_xyz[2],
                        aspectmode="cube",
                    )
                }
            )
        else:
            fig.update_xaxes(title_text=titles_xyz[0], zeroline=False, row=1, col=column)
            fig.update_yaxes(title_text=titles_xyz[1], zeroline=False, row=1, col=column)
    return style.apply(fig, height=620 if dims == 3 else 560)


def joint_projection_figure(
    coords_a: np.ndarray,
    coords_b: np.ndarray,
    labels: Sequence[str],
    names: tuple[str, str],
    axis_titles: Sequence[str],
    presentation: bool = False,
) -> go.Figure:
    """Both models in one space (B Procrustes-aligned onto A), each item's two points linked."""
    style = Style(presentation)
    dims = coords_a.shape[1]
    n = len(labels)
    fig = go.Figure()
    # One line trace with None gaps draws every link at once.
    link = np.full((3 * n, dims), np.nan)
    link[0::3], link[1::3] = coords_a, coords_b
    fig.add_trace(
        _scatter(
            dims,
            n,
            **_xyz(link),
            mode="lines",
            line=dict(color="rgba(128,128,128,0.55)", width=1.5),
            hoverinfo="skip",
            name="same item",
        )
    )
    for coords, name, colour, symbol in (
        (coords_a, names[0], CATEGORICAL_COLOURS[0], "circle"),
        (coords_b, names[1], CATEGORICAL_COLOURS[3], "diamond"),
    ):
        fig.add_trace(
            _scatter(
                dims,
                n,
                **_xyz(coords),
                mode="markers+text" if n <= 60 else "markers",
                text=list(labels) if n <= 60 else None,
                textposition="top center",
                textfont=dict(size=style.font_size - 2),
                marker=dict(color=colour, symbol=symbol, size=style.marker_size),
                customdata=np.asarray(labels, dtype=object),
                hovertemplate=f"<b>%{{customdata}}</b><br>{name}<extra></extra>",
                name=name,
            )
        )
    if dims == 3:
        fig.update_layout(
            scene=dict(
                xaxis_title=axis_titles[0], yaxis_title=axis_titles[1], zaxis_title=axis_titles[2]
            )
        )
    else:
        fig.update_xaxes(title_text=axis_titles[0], zeroline=False)
        fig.update_yaxes(title_text=axis_titles[1], zeroline=False)
    return style.apply(fig, height=620)


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
    n = len(labels)
    fig = make_subplots(rows=1, cols=2, subplot_titles=list(titles), horizontal_spacing=0.12)
    cosine = metric == "cosine"
    quantity = "cosine" if cosine else "distance"
    for column, matrix in enumerate((matrix_a, matrix_b), start=1):
        fig.add_trace(
            go.Heatmap(
                z=matrix,
                x=list(labels),
                y=list(labels),
                coloraxis="coloraxis" if (cosine or column == 1) else "coloraxis2",
                hovertemplate=f"%{{y}} · %{{x}}<br>{quantity} %{{z:.3f}}<extra></extra>",
                xgap=1 if n <= 40 else 0,
                ygap=1 if n <= 40 else 0,
            ),
            row=1,
            col=column,
        )
    if cosine:
        fig.update_layout(
            coloraxis=dict(colorscale="RdBu_r", cmin=-1, cmax=1, cmid=0, colorbar_title="cosine")
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
            name="item pairs",
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
                name="least-squares fit",
                hoverinfo="skip",
            )
        )
    fig.update_xaxes(title_text=axis_titles[0])
    fig.update_yaxes(title_text=axis_titles[1])
    return style.apply(fig, height=480)
