"""AppTest for the home page and every page, with the tiny offline models."""

import json
import re

import pytest
import streamlit as st
from conftest import ROOT, charts
from streamlit.testing.v1 import AppTest

import embexplorer.compare
import embexplorer.extract

TIMEOUT = 120  # the first UMAP call compiles numba code


class Runs(list):
    """The trained models' runs; ``controls`` holds the random-weight copies' runs."""

    def __init__(self):
        super().__init__()
        self.controls = []


@pytest.fixture
def model_runs(monkeypatch, tiny_models_env):
    """Counts forward passes the app asks for, with fresh caches for each test."""
    st.cache_resource.clear()
    st.cache_data.clear()
    calls = Runs()
    real = embexplorer.extract.extract_hidden_states

    def counting(loaded, texts, *args, **kwargs):
        runs = calls.controls if "(random weights" in loaded.info.name else calls
        runs.append((loaded.info.name, tuple(texts)))
        return real(loaded, texts, *args, **kwargs)

    monkeypatch.setattr(embexplorer.extract, "extract_hidden_states", counting)
    monkeypatch.setattr(embexplorer.compare, "extract_hidden_states", counting)
    return calls


def page(name: str) -> AppTest:
    return AppTest.from_file(str(ROOT / name), default_timeout=TIMEOUT)


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_home_page(model_runs):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert_clean(at)
    assert at.title[0].value == "embexplorer"
    assert (
        len(at.get("latex")) >= 5
    )  # cosine, Euclidean, PCA, RSA, rotation (+ causal vs bidirectional)
    assert "causal" in at.markdown[0].value and "bidirectional" in at.markdown[0].value


def test_navigation_reaches_every_page(model_runs):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    for path in ("pages/1_projection.py", "pages/2_similarity.py"):
        at.switch_page(path).run()
        assert_clean(at)
        assert charts(at), path


def test_projection_page_draws_both_models(model_runs):
    at = page("pages/1_projection.py").run()
    assert_clean(at)
    (spec,) = charts(at)
    titles = [a["text"] for a in spec["layout"]["annotations"]]
    assert titles[0].startswith("A: ") and titles[1].startswith("B: ")
    assert "causal" in titles[0] and "masked" in titles[1]
    assert spec["layout"]["xaxis"]["title"]["text"].startswith("PC1 (")
    assert len(model_runs) == 2  # one run per model for the text


def test_opening_another_page_first_returns_freed_memory(model_runs, monkeypatch):
    # glibc keeps what a page freed; on a corpus the server's baseline crept up page by page.
    trims = []
    monkeypatch.setattr(embexplorer.extract, "release_freed_memory", lambda: trims.append(1))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.switch_page("pages/1_projection.py").run()
    assert_clean(at)
    before = len(trims)
    assert before >= 1
    at.sidebar.select_slider(key="layer_a").set_value(1).run()
    assert len(trims) == before  # a page's own rerun reuses what it freed
    at.switch_page("pages/2_similarity.py").run()
    assert_clean(at)
    assert len(trims) > before  # another page: what the last one freed goes back
    assert at.session_state["_memory_trimmed_for"] == "Similarity & RSA"


def test_changing_settings_never_reruns_models(model_runs):
    at = page("pages/1_projection.py").run()
    before = charts(at)[0]
    runs = len(model_runs)
    at.sidebar.select_slider(key="layer_a").set_value(1).run()
    assert_clean(at)
    after = charts(at)[0]
    assert after["layout"]["annotations"][0]["text"] != before["layout"]["annotations"][0]["text"]
    assert after["data"] != before["data"]
    at.segmented_control(key="dims").set_value(3).run()
    assert_clean(at)
    assert "scene" in charts(at)[0]["layout"]
    at.sidebar.radio(key="unit").set_value("sentence").run()
    at.sidebar.selectbox(key="prep").set_value("center").run()
    at.segmented_control(key="method").set_value("umap").run()
    assert_clean(at)
    assert "UMAP" in json.dumps(charts(at)[0]["layout"])
    assert len(model_runs) == runs  # no model ran again
    at.sidebar.text_area(key="text").set_value("One new sentence here.\nAnd another one.").run()
    assert_clean(at)
    assert len(model_runs) == runs + 2  # new text: each model runs once


def test_joint_view(model_runs):
    at = page("pages/1_projection.py").run()
    side_by_side = charts(at)[0]
    at.checkbox(key="joint").check().run()
    assert_clean(at)
    spec = charts(at)[0]
    assert any("Procrustes" in c.value for c in at.caption)
    # Colour by sentence, as side by side: one legend entry per sentence, the same names.
    groups = [t["name"] for t in spec["data"] if t.get("showlegend") and "ids" in t]
    assert groups == [t["name"] for t in side_by_side["data"] if t.get("showlegend")]
    keys = [t["name"] for t in spec["data"] if t.get("showlegend") and "ids" not in t]
    assert keys[0] == "same item" and keys[1].endswith("(filled)") and keys[2].endswith("(hollow)")
    assert not any(t.get("mode") == "lines" and t.get("name") != "same item" for t in spec["data"])
    at.checkbox(key="lines").check().run()
    at.checkbox(key="labels").uncheck().run()
    at.segmented_control(key="colour").set_value("position").run()
    assert_clean(at)
    spec = charts(at)[0]
    paths = [t for t in spec["data"] if t.get("mode") == "lines" and t.get("name") != "same item"]
    assert {t["line"].get("dash") for t in paths} == {None, "dot"}  # A solid, B dotted
    markers = [t for t in spec["data"] if "ids" in t]
    assert [t["mode"] for t in markers] == ["markers", "markers"]
    assert [t["marker"]["symbol"] for t in markers] == ["circle", "circle-open"]


def test_colour_by_word_has_a_legend_and_says_when_it_is_capped(model_runs):
    at = page("pages/1_projection.py")
    at.query_params["colour"] = "word"
    at.run()
    assert_clean(at)
    legend = [t["name"] for t in charts(at)[0]["data"] if t.get("showlegend")]
    assert "bank" in legend and legend[-1].endswith("other words (grey)")
    assert len(legend) == 20
    assert any("most frequent of" in c.value for c in at.caption)
    at.sidebar.text_area(key="text").set_value("the river bank\nthe money bank").run()
    assert_clean(at)
    legend = [t["name"] for t in charts(at)[0]["data"] if t.get("showlegend")]
    assert legend == ["the", "river", "bank", "money"]
    assert not any("most frequent of" in c.value for c in at.caption)


def test_similarity_page(model_runs):
    at = page("pages/2_similarity.py").run()
    assert_clean(at)
    heatmaps, scatter = charts(at)
    assert [trace["type"] for trace in heatmaps["data"]] == ["heatmap", "heatmap"]
    assert heatmaps["layout"]["coloraxis"]["cmid"] == 0
    labels = [m.label for m in at.metric]
    assert {"Spearman ρ", "Pearson r", "p (permutation)", "Linear CKA"} <= set(labels)
    # p's help states its Monte-Carlo error and floor for the permutations actually run
    p_metric = next(m for m in at.metric if m.label == "p (permutation)")
    found = re.search(
        r"With ([\d,]+) permutations this p is known to about ±(\d+\.\d+) .* than (\d+\.\d+)",
        p_metric.help,
    )
    n, p = int(found[1].replace(",", "")), float(p_metric.value)
    assert float(found[2]) == pytest.approx((p * (1 - p) / n) ** 0.5, abs=6e-5)
    assert float(found[3]) == pytest.approx(1 / (1 + n), abs=6e-5)
    assert scatter["data"][0]["name"] == "item pairs"
    at.segmented_control(key="metric").set_value("euclidean").run()
    assert_clean(at)
    assert "coloraxis2" in charts(at)[0]["layout"]
    assert len(model_runs) == 2


def test_dark_theme_heatmaps_have_a_dark_middle(model_runs, monkeypatch):
    from embexplorer.app import widgets
    from embexplorer.figures import DARK_DIVERGING_SCALE

    at = page("pages/2_similarity.py").run()
    light = charts(at)[0]["layout"]["coloraxis"]
    monkeypatch.setattr(widgets, "dark_theme", lambda: True)
    at.run()
    assert_clean(at)
    dark = charts(at)[0]["layout"]["coloraxis"]
    assert [list(stop) for stop in DARK_DIVERGING_SCALE] == dark["colorscale"]
    assert dark["colorscale"] != light["colorscale"] and dark["cmid"] == light["cmid"] == 0


def test_similarity_scores_first_then_the_same_card_with_p_ci_and_baseline(model_runs, monkeypatch):
    """On a corpus the card shows the scores first and is redrawn with the p-value, the CI and
    the random-weight baseline after the rest of the page: the same card in the end."""
    from embexplorer.app import similarity_sections

    at_once = page("pages/2_similarity.py").run()
    assert_clean(at_once)
    st.cache_resource.clear()
    monkeypatch.setattr(similarity_sections, "RESAMPLE_LATER_ITEMS", 3)
    later = page("pages/2_similarity.py").run()
    assert_clean(later)
    assert [(m.label, m.value) for m in later.metric] == [
        (m.label, m.value) for m in at_once.metric
    ]
    assert "…" not in [m.value for m in later.metric]
    assert [md.value for md in later.markdown] == [md.value for md in at_once.markdown]
    assert any("Random-weight copies" in md.value for md in later.markdown)


def test_link_restores_settings(model_runs):
    at = page("pages/1_projection.py")
    at.query_params.update(
        {
            "text": "the bank\nthe river bank\nmoney in the bank",
            "layer_a": "1",
            "layer_b": "0",
            "unit": "sentence",
            "prep": "standardize",
            "dims": "3",
            "colour": "position",
            "labels": "0",
            "present": "1",
        }
    )
    at.run()
    assert_clean(at)
    state = at.session_state
    assert (state["layer_a"], state["layer_b"], state["unit"], state["prep"], state["dims"]) == (
        1,
        0,
        "sentence",
        "standardize",
        3,
    )
    assert state["text"].splitlines()[1] == "the river bank"
    spec = charts(at)[0]
    assert "scene" in spec["layout"] and spec["layout"]["font"]["size"] == 18
    assert "embeddings" in spec["layout"]["annotations"][1]["text"]
    # the app writes every setting back into the query string, so the link can be copied
    assert at.query_params["layer_a"] == ["1"] or at.query_params["layer_a"] == "1"


def test_invalid_query_values_fall_back_to_defaults(model_runs):
    at = page("pages/2_similarity.py")
    at.query_params.update(
        {"layer_a": "99", "unit": "paragraph", "metric": "<script>", "dims": "x"}
    )
    at.run()
    assert_clean(at)
    assert at.session_state["unit"] == "word" and at.session_state["metric"] == "cosine"
    assert at.session_state["layer_a"] == 3  # out of range: clamped to the last layer


def test_unloadable_model_reports_and_app_keeps_working(model_runs, tiny_models_env):
    at = page("pages/2_similarity.py")
    at.query_params["model_a"] = "/no/such/model-folder"
    at.run()
    assert_clean(at)
    assert any("could not be loaded" in e.value for e in at.error)
    assert not charts(at)
    at.text_input(key="model_a").set_value(str(tiny_models_env[0])).run()  # fix it in the sidebar
    assert_clean(at)
    assert not at.error and len(charts(at)) == 2


def test_too_few_items_explains(model_runs):
    at = page("pages/2_similarity.py")
    at.query_params["text"] = "Hello"
    at.run()
    assert_clean(at)
    assert any("too few" in i.value for i in at.info)


def test_blank_text_explains(model_runs):
    at = page("pages/1_projection.py")
    at.query_params["text"] = "   "
    at.run()
    assert_clean(at)
    assert any("at least one sentence" in i.value for i in at.info)


@pytest.mark.parametrize(
    "path, downloads",
    [
        ("pages/1_projection.py", 2),
        ("pages/2_similarity.py", 3),
        ("pages/3_layers.py", 2),
        ("pages/4_geometry.py", 7),
        ("pages/5_context.py", 2),
    ],
)
def test_downloads_are_built_only_when_clicked(model_runs, monkeypatch, path, downloads):
    """Every download is a callable (nothing is built on a rerun); called, it gives the file."""
    import io

    import numpy as np
    import pandas as pd

    offered = []
    real = st.download_button

    def recording(label, data, *args, **kwargs):
        offered.append((label, data, kwargs.get("file_name", "")))
        return real(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", recording)
    at = page(path).run()
    assert_clean(at)
    assert len(offered) == downloads
    for label, data, file_name in offered:
        assert callable(data), label
        content = data()
        if file_name.endswith(".csv"):
            table = pd.read_csv(io.BytesIO(content))
            assert len(table) > 0 and len(table.columns) >= 2, label
        else:
            arrays = np.load(io.BytesIO(content))
            assert arrays["vectors_a"].shape[0] == len(arrays["labels_a"]), label


def share_box_text(at: AppTest) -> str:
    """The link in the share box, opened (a rerun) if it is closed."""
    from embexplorer.app.sidebar import SHARE_OPEN_KEY

    if not at.session_state[SHARE_OPEN_KEY]:
        at.session_state[SHARE_OPEN_KEY] = True
        at.run()
        assert_clean(at)
    (code,) = [c for c in at.sidebar.code]
    return code.value


def test_link_holds_only_what_differs_from_the_defaults(model_runs):
    at = page("pages/1_projection.py").run()
    assert_clean(at)
    assert dict(at.query_params) == {}  # nothing differs: a plain link
    at.sidebar.select_slider(key="layer_a").set_value(1).run()
    assert set(at.query_params) == {"layer_a"}
    assert share_box_text(at).endswith("?layer_a=1")


def test_long_text_travels_under_a_short_id(model_runs):
    corpus = "\n".join(f"Sentence {i} is about a bank and a river." for i in range(80))
    at = page("pages/1_projection.py")
    at.query_params["text"] = corpus
    at.run()
    assert_clean(at)
    assert "text" not in at.query_params
    key = at.query_params["t"]
    key = key[0] if isinstance(key, list) else key
    assert len(key) == 12 and len(share_box_text(at)) < 200

    opened = page("pages/2_similarity.py")  # a student opens the link in a new session
    opened.query_params["t"] = key
    opened.run()
    assert_clean(opened)
    assert opened.session_state["text"] == corpus

    expired = page("pages/2_similarity.py")
    expired.query_params["t"] = "AAAAAAAAAAAA"
    expired.run()
    assert_clean(expired)
    assert any("no longer on this server" in w.value for w in expired.warning)
    assert expired.session_state["text"].startswith("The bank raised")


def test_local_model_folders_never_enter_a_link(model_runs, tiny_models_env):
    at = page("pages/1_projection.py")
    at.query_params["model_b"] = str(tiny_models_env[0])  # a folder, not the default
    at.run()
    assert_clean(at)
    assert "model_b" not in at.query_params
    assert str(tiny_models_env[0]) not in share_box_text(at)
    assert any("Model B is a folder on this machine" in c.value for c in at.sidebar.caption)


def test_pages_import_pandas_with_their_modules_not_lazily():
    # Streamlit checks values against sys.modules["pandas"] in every session's thread; a lazy
    # import in one session let another see a half-imported pandas (the classroom load test:
    # "partially initialized module 'pandas' has no attribute 'Series'", 1 visitor of 30).
    import subprocess
    import sys

    script = "import sys\nimport embexplorer.app.tables\nprint('pandas' in sys.modules)\n"
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == "True"


def test_model_weights_leave_memory_for_a_corpus_only(model_runs, monkeypatch):
    """After a corpus run and when its visitor opens another page, the weights' mapped pages are
    released (sidebar.release_model_weight_pages); a few typed sentences keep them."""
    from embexplorer.app import sidebar

    releases = []
    monkeypatch.setattr(sidebar, "release_model_weight_pages", lambda: releases.append(1) or 0)
    at = page("pages/1_projection.py")
    at.query_params["text"] = "A cat sat.\nThe bank closed."
    at.run()
    assert_clean(at)
    assert not releases
    corpus = "\n".join(
        f"Sentence number {i} is here." for i in range(sidebar.PROGRESS_MIN_SENTENCES)
    )
    at = page("app.py")  # the home page runs the models too
    at.query_params["text"] = corpus
    at.run()
    assert_clean(at)
    assert len(releases) == 1  # the corpus ran
    for opened, path in enumerate(("pages/1_projection.py", "pages/2_similarity.py"), start=2):
        at.switch_page(path).run()
        assert_clean(at)
        assert len(releases) == opened  # its visitor opened another page
    fresh = page("pages/3_layers.py")  # a new visitor's link to the (cached) corpus
    fresh.query_params["text"] = corpus
    fresh.run()
    assert_clean(fresh)
    assert len(releases) == 4


def test_a_corpus_run_releases_the_idle_models_weights(model_runs, monkeypatch, tiny_models_env):
    """Before a model runs on a corpus the other loaded models' weights leave memory; a few
    sentences release nothing."""
    from embexplorer.app import caching

    released = []
    monkeypatch.setattr(
        caching, "release_weight_pages", lambda loaded: released.append(loaded) or 0
    )
    name_a, name_b = (str(path) for path in tiny_models_env)
    model_b = caching.cached_model(name_b)
    caching.cached_states(name_a, ("A cat sat.", "The bank closed."))
    assert released == []
    corpus = tuple(f"Sentence number {i} is here." for i in range(caching.CORPUS_SENTENCES))
    caching.cached_states(name_a, corpus)
    assert released == [model_b]


def test_a_random_weight_copy_is_built_after_the_weights_leave_memory(
    model_runs, monkeypatch, tiny_models_env
):
    from embexplorer.app import caching

    released = []
    monkeypatch.setattr(
        caching, "release_weight_pages", lambda loaded: released.append(loaded) or 0
    )
    name_a = str(tiny_models_env[0])
    model_a = caching.cached_model(name_a)
    caching.cached_control_states(name_a, ("A cat sat.", "The bank closed."), 0)
    assert released == [model_a]


def test_the_share_box_writes_its_link_once_opened(model_runs):
    """Closed, the share box sends no code block (a new visitor's browser would load Streamlit's
    syntax highlighter for it before the chart); opened (a rerun), it holds the page's link."""
    from embexplorer.app.sidebar import SHARE_OPEN_KEY

    at = page("pages/1_projection.py").run()
    assert_clean(at)
    assert not at.get("code") and at.session_state[SHARE_OPEN_KEY] is False
    at.sidebar.select_slider(key="layer_b").set_value(0).run()
    assert not at.get("code")
    assert share_box_text(at).endswith("?layer_b=0")
    assert len(model_runs) == 2  # opening the box ran no model
