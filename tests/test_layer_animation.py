"""Layers you can play: aligned projections at every layer, the animated figure, pair curves,
overlap colouring and linked highlighting."""

import json

import numpy as np
import plotly.graph_objects as go
import pytest
from scipy.linalg import orthogonal_procrustes

from embexplorer import figures
from embexplorer.figures import (
    CATEGORICAL_COLOURS,
    OVERLAP_COLOURBAR_TITLE,
    PointSet,
    highlight,
    layer_animation_figure,
    linked_selectedpoints,
    overlap_projection_figure,
    pair_depth_figure,
    selected_items,
)
from embexplorer.geometry import random_orthogonal
from embexplorer.projection import PCAProjector, layer_aligned_projections


def drifting_layers(n_layers=6, n_items=40, d=10, step=0.15, seed=0):
    """Items that drift a little per layer, each layer also rotated at random and rescaled."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n_items, d)) * np.linspace(3, 0.5, d)
    layers = []
    for layer in range(n_layers):
        base = base + step * rng.standard_normal(base.shape)
        layers.append((1 + layer) ** 2 * base @ random_orthogonal(d, seed=layer))
    return np.array(layers)


# --- aligned projections --------------------------------------------------------------------------


def test_a_pure_rotation_between_layers_gives_identical_pictures():
    rng = np.random.default_rng(1)
    layer = rng.standard_normal((30, 8)) * np.arange(8, 0, -1)
    turned = [layer @ random_orthogonal(8, seed=s) + rng.standard_normal(8) for s in range(4)]
    result = layer_aligned_projections([layer, *turned], preprocessing="center")
    for frame in result.coords[1:]:
        np.testing.assert_allclose(frame, result.coords[0], atol=1e-9)
    np.testing.assert_allclose(result.disparities, 0, atol=1e-15)
    np.testing.assert_allclose(result.scales, result.scales[0])


def test_the_first_layer_is_its_own_pca_picture_centred_and_scaled():
    vectors = drifting_layers()
    result = layer_aligned_projections(vectors)
    pca = PCAProjector(2).fit_transform(vectors[0])
    centred = pca.coords - pca.coords.mean(axis=0)
    np.testing.assert_allclose(result.coords[0], centred / result.scales[0], atol=1e-9)
    np.testing.assert_allclose(result.explained_variance_ratio[0], pca.explained_variance_ratio)
    assert result.coords.shape == (6, 40, 2) and result.n_layers == 6
    # Unit RMS radius in every layer, whatever the norms.
    np.testing.assert_allclose(np.mean(np.sum(result.coords**2, axis=2), axis=1), 1.0)
    assert result.scales[-1] > 20 * result.scales[0]


@pytest.mark.parametrize("dims", [2, 3])
def test_aligned_frames_are_closer_to_their_neighbours_than_unaligned_ones(dims):
    vectors = drifting_layers()
    result = layer_aligned_projections(vectors, dims=dims)
    unaligned = [PCAProjector(dims).fit_transform(layer).coords for layer in vectors]
    unaligned = [frame / np.sqrt(np.mean(np.sum(frame**2, axis=1))) for frame in unaligned]
    for layer in range(1, len(vectors)):
        aligned_step = np.linalg.norm(result.coords[layer] - result.coords[layer - 1])
        raw_step = np.linalg.norm(unaligned[layer] - unaligned[layer - 1])
        assert aligned_step <= raw_step + 1e-12
        # No rotation does better than the one found (it is the Procrustes optimum).
        rotation, _ = orthogonal_procrustes(unaligned[layer], result.coords[layer - 1])
        best = np.linalg.norm(unaligned[layer] @ rotation - result.coords[layer - 1])
        assert aligned_step == pytest.approx(best, rel=1e-9)
    assert np.mean(result.disparities[1:]) < 0.1


def test_alignment_only_turns_each_layer():
    vectors = drifting_layers(seed=3)
    result = layer_aligned_projections(vectors, preprocessing="standardize")
    for layer, frame in enumerate(result.coords):
        own = PCAProjector(2).fit_transform(
            (vectors[layer] - vectors[layer].mean(0)) / vectors[layer].std(0)
        )
        distances = np.linalg.norm(frame[:, None] - frame[None], axis=2)
        own_distances = np.linalg.norm(own.coords[:, None] - own.coords[None], axis=2)
        np.testing.assert_allclose(distances * result.scales[layer], own_distances, atol=1e-9)


def test_bad_layer_vectors_state_their_shape():
    with pytest.raises(ValueError, match=r"\(n_layers, n_items, n_dims\); got shape \(5, 3\)"):
        layer_aligned_projections(np.ones((5, 3)))
    with pytest.raises(ValueError, match="dims must be 2 or 3; got 4"):
        layer_aligned_projections(np.ones((2, 5, 6)), dims=4)
    with pytest.raises(
        ValueError, match=r"PCA to 3D needs at least 3 items and 3 dimensions; .*\(2, 2, 6\)"
    ):
        layer_aligned_projections(np.ones((2, 2, 6)), dims=3)


# --- the animated figure --------------------------------------------------------------------------


def animation(n_items=30, n_layers=(5, 5), dims=2, groups=None):
    frames_a = layer_aligned_projections(drifting_layers(n_layers[0], n_items, seed=4), dims=dims)
    frames_b = layer_aligned_projections(drifting_layers(n_layers[1], n_items, seed=5), dims=dims)
    labels = [f"w{i}" for i in range(n_items)]
    return (
        frames_a,
        frames_b,
        layer_animation_figure(frames_a, frames_b, labels, ["gpt2", "bert"], groups=groups),
    )


def test_one_frame_per_layer_with_slider_and_play_pause_in_the_browser():
    frames_a, frames_b, fig = animation(groups=["S1"] * 15 + ["S2"] * 15)
    assert [frame.name for frame in fig.frames] == ["0", "1", "2", "3", "4"]
    # Two groups per panel: four marker traces, each updated by every frame.
    assert len(fig.data) == 4 and all(list(frame.traces) == [0, 1, 2, 3] for frame in fig.frames)
    members = np.arange(15, 30)
    np.testing.assert_allclose(fig.frames[3].data[1].x, frames_a.coords[3, members, 0], atol=1e-6)
    np.testing.assert_allclose(fig.frames[3].data[3].y, frames_b.coords[3, members, 1], atol=1e-6)
    play, pause = fig.layout.updatemenus[0].buttons
    assert play.method == pause.method == "animate"
    assert play.args[0] is None and play.args[1]["fromcurrent"]
    assert list(pause.args[0]) == [None]
    slider = fig.layout.sliders[0]
    assert [list(step.args[0]) for step in slider.steps] == [[str(f)] for f in range(5)]
    assert all(step.method == "animate" for step in slider.steps)
    assert slider.steps[2].label == "2"
    # Nothing calls back to the server: plotly animate only.
    assert "relayout" not in json.dumps(fig.layout.updatemenus[0].to_plotly_json())


def test_axes_are_fixed_over_all_frames():
    frames_a, frames_b, fig = animation()
    for axis, frames in (("xaxis", frames_a), ("xaxis2", frames_b)):
        low, high = fig.layout[axis].range
        assert fig.layout[axis].autorange is False
        assert low <= frames.coords[:, :, 0].min() and high >= frames.coords[:, :, 0].max()
    low, high = fig.layout.yaxis2.range
    assert low <= frames_b.coords[:, :, 1].min() and high >= frames_b.coords[:, :, 1].max()


def test_hover_names_every_point_and_group():
    _, _, fig = animation(groups=["S1"] * 15 + ["S2"] * 15)
    trace = fig.data[1]
    assert trace.customdata[0].tolist() == ["w15", "S2"]
    assert "%{customdata[0]}" in trace.hovertemplate
    assert list(trace.ids) == [str(i) for i in range(15, 30)]


def test_models_with_different_depths_share_the_slider_by_relative_depth():
    _, _, fig = animation(n_layers=(5, 3))
    assert len(fig.frames) == 5
    assert [step.label for step in fig.layout.sliders[0].steps] == [
        "A 0 · B 0",
        "A 1 · B 0",
        "A 2 · B 1",
        "A 3 · B 2",
        "A 4 · B 2",
    ]


def test_webgl_above_the_threshold_and_3d_scenes():
    _, _, fig = animation(n_items=figures.WEBGL_THRESHOLD + 1)
    assert all(isinstance(trace, go.Scattergl) for trace in fig.data)
    assert fig.layout.updatemenus[0].buttons[0].args[1]["frame"]["redraw"] is True
    _, _, small = animation()
    assert all(isinstance(trace, go.Scatter) for trace in small.data)
    _, _, cube = animation(dims=3)
    assert all(isinstance(trace, go.Scatter3d) for trace in cube.data)
    assert len(cube.frames[0].data[0].z) == 30
    assert cube.layout.scene.xaxis.autorange is False and cube.layout.scene2.zaxis.range


def test_many_groups_go_in_one_trace_per_panel():
    _, _, fig = animation(groups=[f"S{i}" for i in range(30)])
    assert len(fig.data) == 2 and not any(trace.showlegend for trace in fig.data)


def test_bad_frames_are_refused():
    frames_a, frames_b, _ = animation()
    with pytest.raises(ValueError, match=r"frames hold 30 items but 29 labels were given"):
        layer_animation_figure(frames_a, frames_b, ["x"] * 29, ["A", "B"])
    with pytest.raises(ValueError, match=r"frames_b has 20 items"):
        layer_animation_figure(frames_a, frames_b.coords[:, :20], ["x"] * 30, ["A", "B"])


# --- a pair through depth -------------------------------------------------------------------------


def test_pair_depth_figure_uses_the_model_colours():
    fig = pair_depth_figure(
        np.linspace(0.2, 0.9, 13),
        np.linspace(0.5, 0.1, 13),
        ["gpt2", "bert"],
        "bank (S1) · bank (S2)",
    )
    first, second = fig.data
    assert (first.line.color, second.line.color) == (CATEGORICAL_COLOURS[0], CATEGORICAL_COLOURS[3])
    assert (first.name, second.name) == ("gpt2", "bert")
    assert list(first.x) == list(range(13))
    assert "bank (S1) · bank (S2)" in fig.layout.annotations[0].text
    assert fig.layout.yaxis.title.text == "cosine"


# --- overlap colouring, selection and highlighting ------------------------------------------------


def point_set(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return PointSet(
        coords=rng.standard_normal((n, 2)),
        axis_titles=["PC1", "PC2"],
        labels=[f"w{i}" for i in range(n)],
        words=[f"w{i}" for i in range(n)],
        sentence=np.repeat([0, 1], n // 2),
        position=np.tile(np.arange(n // 2), 2),
        sentence_texts=["one", "two"],
    )


def test_overlap_colouring():
    overlap = np.linspace(0, 1, 12)
    fig = overlap_projection_figure([point_set(), point_set(seed=1)], ["A", "B"], overlap, k=5)
    first, second = fig.data
    np.testing.assert_allclose(first.marker.color, overlap)
    assert (first.marker.cmin, first.marker.cmax) == (0, 1)
    assert first.marker.colorscale == second.marker.colorscale
    assert first.marker.showscale and not second.marker.showscale
    assert first.marker.colorbar.title.text == OVERLAP_COLOURBAR_TITLE.format(k=5)
    assert "A–B neighbour overlap (Jaccard@5)" == first.marker.colorbar.title.text
    assert first.customdata[3][-1] == pytest.approx(overlap[3])
    with pytest.raises(ValueError, match=r"overlap has 11 values for 12 items"):
        overlap_projection_figure([point_set()], ["A"], overlap[:11], k=5)


def test_a_selection_in_one_panel_selects_the_same_items_in_the_other():
    fig = figures.projection_figure([point_set(), point_set(seed=1)], ["A", "B"])
    # Two sentence groups per panel: traces 0, 1 (A) and 2, 3 (B).
    clicked = [{"curve_number": 1, "point_index": 2}, {"curve_number": 0, "point_number": 0}]
    items = selected_items(fig, clicked)
    assert items.tolist() == [0, 8]
    assert linked_selectedpoints(fig, items) == [[0], [2], [0], [2]]
    highlight(fig, items)
    assert [list(trace.selectedpoints) for trace in fig.data] == [[0], [2], [0], [2]]
    assert fig.data[0].unselected.marker.opacity < 0.5
    untouched = figures.projection_figure([point_set(), point_set(seed=1)], ["A", "B"])
    highlight(untouched, None)  # no selection: nothing changes
    assert all(trace.selectedpoints is None for trace in untouched.data)
    highlight(untouched, [])  # a search without matches dims everything
    assert [list(trace.selectedpoints) for trace in untouched.data] == [[], [], [], []]


def test_highlight_works_on_the_animation_and_dims_everything_else_in_3d():
    _, _, fig = animation(dims=3)
    highlight(fig, [3, 4])
    sizes = np.asarray(fig.data[0].marker.size)
    assert sizes[3] == sizes[4] > 2 * sizes[0]
    assert np.asarray(fig.data[1].marker.size)[3] > np.asarray(fig.data[1].marker.size)[0]
    _, _, flat = animation()
    highlight(flat, [3, 4])
    assert list(flat.data[0].selectedpoints) == [3, 4]
    assert list(flat.data[1].selectedpoints) == [3, 4]


def test_a_pca_fitted_on_spread_items_draws_every_item_close_to_the_full_fit():
    rng = np.random.default_rng(5)
    spread = np.array([10.0, 6.0] + [1.0] * 8)  # a clear top plane, as in a model's layers
    vectors = np.array(
        [rng.standard_normal((400, 10)) * spread * (1 + layer) for layer in range(3)]
    )
    full = layer_aligned_projections(vectors)
    fitted = layer_aligned_projections(vectors, max_fit_items=100)
    assert fitted.coords.shape == full.coords.shape == (3, 400, 2)
    for layer in range(3):  # the same picture, up to a turn, within the fit's sampling error
        turn, _ = orthogonal_procrustes(fitted.coords[layer], full.coords[layer])
        error = fitted.coords[layer] @ turn - full.coords[layer]
        assert np.sqrt(np.mean(np.sum(error**2, axis=1))) < 0.1  # of a unit RMS radius
    np.testing.assert_allclose(
        fitted.explained_variance_ratio, full.explained_variance_ratio, atol=0.1
    )
    same = layer_aligned_projections(vectors, max_fit_items=400)  # no fewer items: the full fit
    np.testing.assert_array_equal(same.coords, full.coords)
    with pytest.raises(ValueError, match="max_fit_items"):
        layer_aligned_projections(vectors, max_fit_items=1)
