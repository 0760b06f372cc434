"""AppTest for the Layers, Geometry and Context pages, with the tiny offline models."""

import re

import numpy as np
from conftest import ROOT, plotly_array
from streamlit.testing.v1 import AppTest
from test_pages import TIMEOUT, assert_clean, charts, model_runs, page  # noqa: F401

from embexplorer.app.widgets import picked_cell


def test_layers_page_matrix_curves_and_picking_layers(model_runs):  # noqa: F811
    at = page("pages/3_layers.py").run()
    assert_clean(at)
    matrix, curves = charts(at)
    heatmap = matrix["data"][0]
    assert heatmap["type"] == "heatmap"
    assert plotly_array(heatmap["z"]).shape == (4, 3)  # tiny GPT-2: 4 hidden states, tiny BERT: 3
    assert len(curves["layout"]["annotations"]) == 4  # four measures
    assert {t["name"].split(" ", 2)[-1] for t in curves["data"]} >= {"raw", "standardise"}
    assert (at.session_state["layer_a"], at.session_state["layer_b"]) == (3, 2)
    best = at.button(key="use_best_layers")
    best.click().run()
    assert_clean(at)
    chosen = (at.session_state["layer_a"], at.session_state["layer_b"])
    assert f"A {chosen[0]} · B {chosen[1]}" in best.label
    assert at.metric[0].label.startswith(f"Selected pair: A {chosen[0]} · B {chosen[1]}")
    # The pair is now the one selected: the button is off and a caption says why.
    assert at.button(key="use_best_layers").disabled
    assert any("best-matching pair is the one selected now" in c.value for c in at.caption)
    at.sidebar.select_slider(key="layer_a").set_value(0 if chosen[0] else 1).run()
    assert not at.button(key="use_best_layers").disabled
    assert not any("best-matching pair is the one selected now" in c.value for c in at.caption)
    at.segmented_control(key="layer_method").set_value("cka").run()
    assert_clean(at)
    assert charts(at)[0]["data"][0]["zmin"] == 0
    at.sidebar.selectbox(key="prep").set_value("center").run()
    assert_clean(at)
    assert len(model_runs) == 2  # every setting reuses the cached hidden states


def test_picked_cell_reads_a_plotly_selection():
    event = {"selection": {"points": [{"x": 2, "y": 1, "curve_number": 1}]}}
    assert picked_cell(event) == (1, 2)
    assert picked_cell({"selection": {"points": []}}) is None
    assert picked_cell(None) is None


def test_geometry_page_rotation_and_rogue_dimensions(model_runs):  # noqa: F811
    at = page("pages/4_geometry.py").run()
    assert_clean(at)
    specs = charts(at)
    assert len(specs) == 7  # spectrum, coordinates, heatmaps, Procrustes, dims, norms, grid
    metrics = {m.label: m.value for m in at.metric}
    # Rounding-sized numbers read as 0, with a plain sentence, never as "8.9e-16".
    assert metrics["Largest cosine change (R)"] == "0"
    assert any("0 (to machine precision, < 1e-12)" in c.value for c in at.caption)
    assert not any(re.search(r"\de-\d", m.value) for m in at.metric)
    assert metrics["RSA with B (ρ), as is"] == metrics["RSA with B (ρ), after R"]
    assert metrics["RSA with B (ρ), after M"] != metrics["RSA with B (ρ), as is"]
    assert float(metrics["Largest cosine change (M)"]) > 0.01
    coordinates = specs[1]["data"][2]["x"]["bdata"]
    at.button[0].click().run()  # new rotation
    assert_clean(at)
    assert at.session_state["rot_seed"] == 1
    assert charts(at)[1]["data"][2]["x"]["bdata"] != coordinates
    at.toggle(key="log_scree").set_value(False).run()
    assert charts(at)[0]["layout"]["yaxis"]["type"] == "linear"
    at.toggle(key="exclude_first").set_value(True).run()
    assert_clean(at)
    assert len(model_runs) == 2


def test_context_page_defaults_to_bank_and_follows_the_link(model_runs):  # noqa: F811
    at = page("pages/5_context.py").run()
    assert_clean(at)
    assert at.session_state["word"] == "bank"
    assert {"bank", "river", "the"} <= {o.split(" (")[0] for o in at.selectbox(key="word").options}
    curves, projection = charts(at)
    assert plotly_array(curves["data"][0]["x"]).tolist() == [0, 1, 2, 3]  # tiny GPT-2's layers
    occurrences = [t for t in projection["data"] if t["name"].startswith("bank in S")]
    assert len(occurrences) == 2 * 4  # four occurrences in each model's panel
    at.selectbox(key="word").set_value("river").run()
    assert_clean(at)
    assert "river" in at.markdown[0].value

    linked = page("pages/5_context.py")
    linked.query_params.update({"word": "no-such-word", "present": "1"})
    linked.run()
    assert_clean(linked)
    assert linked.session_state["word"] == "bank"
    assert charts(linked)[0]["layout"]["font"]["size"] == 18


def test_context_page_without_a_repeated_word_explains(model_runs):  # noqa: F811
    at = page("pages/5_context.py")
    at.query_params["text"] = "One cat.\nTwo dogs."
    at.run()
    assert_clean(at)
    assert any("No word occurs twice" in i.value for i in at.info)


def test_navigation_reaches_the_new_pages(model_runs):  # noqa: F811
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert_clean(at)
    for path in ("pages/3_layers.py", "pages/4_geometry.py", "pages/5_context.py"):
        at.switch_page(path).run()
        assert_clean(at)
        assert charts(at), path


def test_geometry_display_settings_recompute_nothing(model_runs, monkeypatch):  # noqa: F811
    """A display setting (log scale) or a plain rerun runs no PCA, Procrustes, rotation demo,
    rogue-dimension or n x n cosine computation again: they are cached per selection."""
    from embexplorer import geometry, invariance, rogue

    calls = []

    def counting(module, name):
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            calls.append(name)
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    for module, name in (
        (geometry, "pca"),
        (geometry, "procrustes_align"),
        (geometry, "cosine_similarity_matrix"),
        (invariance, "invariance_demo"),
        (rogue, "top_dimensions"),
        (rogue, "largest_norms"),
    ):
        counting(module, name)
    at = page("pages/4_geometry.py").run()
    assert_clean(at)
    assert {"pca", "procrustes_align", "invariance_demo", "top_dimensions"} <= set(calls)
    calls.clear()
    at.run()
    at.toggle(key="log_scree").set_value(False).run()
    assert_clean(at)
    assert charts(at)[0]["layout"]["yaxis"]["type"] == "linear"
    assert calls == []
    at.toggle(key="exclude_first").set_value(True).run()
    assert "top_dimensions" in calls  # a setting the numbers depend on does recompute


def test_geometry_on_a_corpus_runs_only_the_open_tab(model_runs, monkeypatch):  # noqa: F811
    """Above ALL_TABS_MAX_ITEMS items only the open tab's section computes; opening another tab
    (a rerun) computes that one, with its heading and chart."""
    from embexplorer import geometry, invariance
    from embexplorer.app import geometry_sections

    monkeypatch.setattr(geometry_sections, "ALL_TABS_MAX_ITEMS", 5)
    calls = []
    for module, name in ((geometry, "pca"), (geometry, "procrustes_align")):
        real = getattr(module, name)
        monkeypatch.setattr(
            module,
            name,
            lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k),
        )
    at = page("pages/4_geometry.py").run()
    assert_clean(at)
    assert "pca" in calls and "procrustes_align" not in calls
    assert [h.value for h in at.subheader] == [
        "How many directions do the vectors use? (PCA spectrum)"
    ]
    assert len(charts(at)) == 1
    procrustes = next(t.label for t in at.tabs if "Procrustes" in t.label)
    at.session_state["geometry_tab"] = procrustes
    at.run()
    assert_clean(at)
    assert "procrustes_align" in calls
    assert [h.value for h in at.subheader] == ["Procrustes: rotate B onto A, and see what is left"]
    assert charts(at)
    monkeypatch.setattr(invariance, "invariance_demo", None)  # the rotation tab stays closed
    at.run()
    assert_clean(at)


def test_context_on_a_corpus_measures_the_word_against_a_stated_sample(model_runs, monkeypatch):  # noqa: F811
    """Above MAX_PROFILE_ITEMS the Context page says its baseline uses a sample of the words."""
    from embexplorer.app import caching

    monkeypatch.setattr(caching, "MAX_PROFILE_ITEMS", 30)
    at = page("pages/5_context.py")
    at.query_params["text"] = "\n".join(f"The bank number {i} raised its rates." for i in range(8))
    at.run()
    assert_clean(at)
    notes = [c.value for c in at.caption if c.value.startswith("On this corpus the baseline")]
    assert notes and notes[0].split(":")[0].endswith("of 64 words"), notes


def test_sampled_context_profile_is_the_profile_of_the_sample(monkeypatch):
    """Every occurrence of the word plus whole sentences: the profile equals context_profile on
    exactly those items, and its occurrences index all items."""
    from embexplorer import contextuality
    from embexplorer.align import Items
    from embexplorer.app import caching

    monkeypatch.setattr(caching, "MAX_PROFILE_ITEMS", 30)
    words = [w for i in range(10) for w in ("the", "bank", f"n{i}", "rose", "today", ".")]
    words[3 * 6 + 4] = "bank"  # twice in sentence 3: both occurrences stay
    sentence = np.repeat(np.arange(10), 6)
    vectors = np.random.default_rng(0).standard_normal((3, 60, 8)).astype(np.float16)
    items = Items("word", words, sentence, np.tile(np.arange(6), 10), vectors, words)
    keep = caching.context_sample(items, "bank")
    occurrences = contextuality.occurrences(items, "bank")
    assert occurrences.size == 11 and set(occurrences) <= set(keep) and keep.size < 60
    assert set(np.unique(sentence[keep])) >= set(sentence[caching.whole_sentence_index(items, 30)])
    for preprocessing in ("none", "center"):
        profile = caching.sampled_context_profile(items, "bank", preprocessing)
        direct = contextuality.context_profile(items.subset(keep), "bank", preprocessing)
        np.testing.assert_array_equal(profile.indices, occurrences)
        np.testing.assert_allclose(profile.baseline, direct.baseline)
        np.testing.assert_allclose(profile.self_similarity, direct.self_similarity)
    monkeypatch.setattr(caching, "MAX_PROFILE_ITEMS", 60)
    assert caching.context_sample(items, "bank") is None  # few items: all of them


def test_corpus_statistics_use_a_stated_spread_sample(model_runs, monkeypatch):  # noqa: F811
    """Above MAX_PAIRED_ITEMS items, RSA, the layer matrix and the rotation demo run on a seeded
    sample spread through the text, and each page says how many of how many items it used."""
    from embexplorer.app import caching

    monkeypatch.setattr(caching, "MAX_PAIRED_ITEMS", 12)
    monkeypatch.setattr(caching, "MAX_PROFILE_ITEMS", 30)
    text = "\n".join(f"The bank number {i} raised its rates again." for i in range(8))
    for path, what in (
        ("pages/2_similarity.py", "RSA, its p-value, CI and CKA"),
        ("pages/3_layers.py", "The layer-by-layer matrix"),
        ("pages/4_geometry.py", "This demo"),
    ):
        at = page(path)
        at.query_params["text"] = text
        at.run()
        assert_clean(at)
        notes = [c.value for c in at.caption if "seeded sample spread evenly" in c.value]
        assert notes and notes[0].startswith(f"{what} on 12 of "), notes
        if path == "pages/3_layers.py":  # the per-layer curves: whole sentences, ~30 items
            assert any("27 of 72: whole sentences" in c.value for c in at.caption)
        if path == "pages/2_similarity.py":
            assert any(c.value.startswith("12 words · 66 pairs") for c in at.caption)


def test_pca_pictures_of_a_corpus_are_fitted_on_a_stated_sample(model_runs, monkeypatch):  # noqa: F811
    """Above MAX_PROJECTION_FIT_ITEMS items a PCA picture's axes are fitted on a spread sample,
    every item is drawn, and the page says so."""
    from embexplorer.app import caching

    monkeypatch.setattr(caching, "MAX_PROJECTION_FIT_ITEMS", 20)
    text = "\n".join(f"The bank number {i} raised its rates again." for i in range(8))
    for path, unit in (
        ("pages/1_projection.py", "words"),
        ("pages/5_context.py", "words"),
        ("pages/6_explore.py", "words"),
    ):
        at = page(path)
        at.query_params["text"] = text
        at.run()
        assert_clean(at)
        notes = [c.value for c in at.caption if c.value.startswith("The PCA axes are fitted on")]
        assert len(notes) == 1 and "on 20 of the " in notes[0] and unit in notes[0], notes
        assert int(re.search(r"of the (\d+)", notes[0]).group(1)) > 20
