"""projection: PCA / UMAP / t-SNE projectors behind one interface, deterministic."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT
from sklearn.decomposition import PCA

from embexplorer.geometry import random_orthogonal
from embexplorer.projection import (
    PROJECTORS,
    PCAProjector,
    Projection,
    Projector,
    TSNEProjector,
    UMAPProjector,
    joint_projection,
    make_projector,
    project_pair,
    warm_up_umap,
)


@pytest.fixture
def vectors():
    rng = np.random.default_rng(0)
    return rng.standard_normal((30, 10)) * np.linspace(4, 1, 10)


def sklearn_pca_coords(X, n_components, like):
    """scikit-learn's PCA coordinates, each column's sign matched to ``like``."""
    reference = PCA(n_components).fit_transform(X)
    return reference * np.sign(np.sum(reference * like, axis=0))


def test_pca_projection_has_variance_titles_and_matches_sklearn(vectors):
    projection = PCAProjector(3).fit_transform(vectors)
    assert isinstance(projection, Projection)
    assert projection.coords.shape == (30, 3) and projection.coords.dtype == np.float64
    assert projection.method == "pca"
    ratios = PCA(3).fit(vectors).explained_variance_ratio_
    np.testing.assert_allclose(projection.explained_variance_ratio, ratios, rtol=1e-10)
    assert projection.axis_titles[0] == f"PC1 ({100 * ratios[0]:.1f} %)"
    assert len(projection.axis_titles) == 3
    reference = sklearn_pca_coords(vectors, 3, like=projection.coords)
    np.testing.assert_allclose(projection.coords, reference, atol=1e-9)


def test_pca_projection_refuses_too_few_items_or_dimensions(vectors):
    on_a_plane = PCAProjector(3).fit_transform(vectors[:3])
    np.testing.assert_allclose(on_a_plane.coords[:, 2], 0.0, atol=1e-12)
    assert on_a_plane.axis_titles[2] == "PC3 (0.0 %)"
    with pytest.raises(ValueError, match="PCA to 3D needs at least 3 points; have 2"):
        PCAProjector(3).fit_transform(vectors[:2])
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        PCAProjector(3).fit_transform(vectors[:, :2])


def test_make_projector_checks_the_name_and_passes_settings():
    assert set(PROJECTORS) == {"pca", "umap", "tsne"}
    projector = make_projector("tsne", 3, perplexity=5.0)
    assert isinstance(projector, TSNEProjector) and isinstance(projector, Projector)
    assert (projector.n_components, projector.perplexity, projector.name) == (3, 5.0, "tsne")
    with pytest.raises(ValueError, match="'pca', 'umap', 'tsne'"):
        make_projector("mds", 2)
    with pytest.raises(ValueError, match="positive integer"):
        make_projector("pca", 0)


def test_project_pair_fits_each_space_on_its_own(vectors):
    other = vectors[:, :6] * 10.0
    first, second = project_pair(vectors, other, PCAProjector(2))
    for projection, X in ((first, vectors), (second, other)):
        reference = sklearn_pca_coords(X, 2, like=projection.coords)
        np.testing.assert_allclose(projection.coords, reference, atol=1e-9)


def test_joint_projection_of_a_rotated_copy_overlaps(vectors):
    rotated = vectors @ random_orthogonal(10, seed=3) + 5.0
    joint = joint_projection(vectors, rotated, PCAProjector(2))
    assert joint.coords_a.shape == joint.coords_b.shape == (30, 2)
    np.testing.assert_allclose(joint.coords_a, joint.coords_b, atol=1e-9)
    assert joint.disparity == pytest.approx(0.0, abs=1e-20)
    assert joint.axis_titles[0].startswith("PC1")


def test_tsne_is_deterministic_and_clips_perplexity(vectors):
    projector = TSNEProjector(2, perplexity=30, seed=1)
    assert projector.effective_perplexity(30) < 30
    first = projector.fit_transform(vectors)
    np.testing.assert_array_equal(first.coords, projector.fit_transform(vectors).coords)
    assert first.axis_titles == ["t-SNE 1", "t-SNE 2"]
    assert first.explained_variance_ratio is None
    assert TSNEProjector(2).fit_transform(vectors[:4]).coords.shape == (4, 2)
    with pytest.raises(ValueError, match="needs at least 4 points; have 3"):
        TSNEProjector(2).fit_transform(vectors[:3])


def test_umap_refuses_tiny_inputs_before_importing_umap(vectors):
    with pytest.raises(ValueError, match="UMAP to 2D needs at least 4 points; have 3"):
        UMAPProjector(2).fit_transform(vectors[:3])
    # In a fresh process (this one may have imported umap already): refused, and umap not loaded.
    script = (
        "import sys\n"
        "import numpy as np\n"
        "from embexplorer.projection import UMAPProjector\n"
        "try:\n"
        "    UMAPProjector(2).fit_transform(np.ones((3, 5)))\n"
        "except ValueError as error:\n"
        "    print(error)\n"
        "print('umap' in sys.modules)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    message, umap_imported = run.stdout.strip().splitlines()
    assert message.startswith("UMAP to 2D needs at least 4 points; have 3")
    assert umap_imported == "False"


@pytest.mark.slow
def test_umap_is_deterministic_and_works_for_small_inputs(vectors):
    warm_up_umap()  # compiles numba once (~13 s); the fits below are then quick
    projector = UMAPProjector(2, n_neighbors=15, seed=7)
    first = projector.fit_transform(vectors)
    np.testing.assert_array_equal(first.coords, projector.fit_transform(vectors).coords)
    assert first.coords.shape == (30, 2) and np.isfinite(first.coords).all()
    assert first.axis_titles == ["UMAP 1", "UMAP 2"] and first.method == "umap"
    small = UMAPProjector(3).fit_transform(vectors[:5])  # n_neighbors clipped, random init
    assert small.coords.shape == (5, 3) and np.isfinite(small.coords).all()


def test_pca_fitted_on_a_spread_sample_places_every_item_on_the_sample_axes():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((500, 12)) * np.r_[8.0, 5.0, np.ones(10)] + 3.0
    full = PCAProjector(2).fit_transform(X)
    assert PCAProjector(2, max_fit_items=500).fit_transform(X).coords.tolist() == (
        full.coords.tolist()
    )  # as many items as the cap: fitted on all, the same result
    sampled = PCAProjector(2, max_fit_items=60).fit_transform(X)
    rows = np.linspace(0, 499, 60).round().astype(int)
    reference = PCA(2).fit(X[rows])  # sklearn on exactly those rows
    assert sampled.coords.shape == (500, 2)
    np.testing.assert_allclose(
        sampled.explained_variance_ratio, reference.explained_variance_ratio_, rtol=1e-9
    )
    placed = reference.transform(X)
    placed -= placed.mean(axis=0)
    for axis in range(2):  # equal up to each axis's sign
        sign = np.sign(placed[:, axis] @ sampled.coords[:, axis])
        np.testing.assert_allclose(sampled.coords[:, axis], sign * placed[:, axis], atol=1e-9)
    np.testing.assert_allclose(sampled.coords.mean(axis=0), 0.0, atol=1e-12)
    # With a clear gap between the top variances, the sample's axes are the full fit's.
    for axis in range(2):
        cosine = abs(np.corrcoef(sampled.coords[:, axis], full.coords[:, axis])[0, 1])
        assert cosine > 0.99
    with pytest.raises(ValueError, match="max_fit_items"):
        PCAProjector(3, max_fit_items=2)
