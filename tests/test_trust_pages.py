"""AppTest for the numbers a student can trust (issue 10) on the pages: the random-weight baseline,
same-word pairs, repeated sentences, Ethayarajh's definitions on the Context page, the Procrustes
shuffle null; with the tiny offline models."""

import pytest
from conftest import charts
from test_pages import assert_clean, model_runs, page  # noqa: F401

from embexplorer.app import caching

CASED_TEXT = "Bank rates rose today.\nThe bank rose.\nA river bank.\nBank holidays are long."


def opened(path: str, **params) -> object:
    """The page run once with ``params`` in its link, checked for exceptions."""
    at = page(path)
    at.query_params.update(params)
    at.run()
    assert_clean(at)
    return at


def captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def markdown(at) -> str:
    return " ".join(m.value for m in at.markdown)


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_similarity_card_shows_the_control_and_keeps_no_control_model(model_runs):  # noqa: F811
    at = page("pages/2_similarity.py").run()
    assert_clean(at)
    assert at.toggle(key="control_toggle").value  # on by default for a few sentences
    headline = at.markdown[0].value
    assert headline.startswith("**ρ — trained: ") and " · random weights: " in headline
    control = headline.split("random weights: ")[1].strip("*")
    assert f"Random-weight copies of the same two models give ρ = {control}" in markdown(at)
    assert len(model_runs) == 2 and len(model_runs.controls) == 2  # each copy ran once
    # the control copies are never cached: only the two trained models stay loaded
    models = caching.shared_caches().models
    names = (at.session_state["model_a"], at.session_state["model_b"])
    assert len(models) == 2 and all(name in models for name in names)
    # a display change reuses the cached control; another metric scores it again without a run
    at.segmented_control(key="metric").set_value("euclidean").run()
    assert_clean(at)
    assert len(model_runs.controls) == 2 and "random weights: " in at.markdown[0].value


def test_control_toggle_off_runs_no_copy_and_is_kept_in_the_link(model_runs):  # noqa: F811
    at = opened("pages/2_similarity.py", control="off")
    assert not at.toggle(key="control_toggle").value
    assert "random weights: " not in markdown(at) and not model_runs.controls
    at.toggle(key="control_toggle").set_value(True).run()
    assert_clean(at)
    assert at.session_state["control"] == "on" and "random weights: " in markdown(at)
    assert len(model_runs.controls) == 2


def test_control_is_off_by_default_for_a_large_input(model_runs, monkeypatch):  # noqa: F811
    from embexplorer.app import widgets

    monkeypatch.setattr(widgets, "CONTROL_AUTO_MAX_SENTENCES", 3)
    at = page("pages/2_similarity.py").run()  # five default sentences
    assert_clean(at)
    assert not at.toggle(key="control_toggle").value and not model_runs.controls
    assert "Off by default for more than 3 sentences" in captions(at)


def test_same_word_checkbox_changes_the_pairs_compared(model_runs):  # noqa: F811
    at = opened("pages/2_similarity.py", control="off")
    text = captions(at)
    assert "41 words · 820 pairs." in text
    assert "47 of 820 pairs are two occurrences of the same word." in text
    before = metrics(at)["Spearman ρ"]
    at.checkbox(key="exclude_same").check().run()
    assert_clean(at)
    assert "they are left out, so 773 pairs are compared" in captions(at)
    assert metrics(at)["Spearman ρ"] != before
    assert at.query_params["exclude_same"] in (["1"], "1")


def test_thousands_separators_in_items_and_pairs(model_runs):  # noqa: F811
    lines = "\n".join(" ".join(f"w{5 * line + i}" for i in range(5)) for line in range(12))
    at = opened("pages/2_similarity.py", text=lines, control="off")
    assert "60 words · 1,770 pairs." in captions(at)


def test_repeated_sentences_are_counted_once_or_not_defined(model_runs):  # noqa: F811
    at = opened("pages/2_similarity.py", text="cat\ncat\ncat\ncat\ncat")
    (info,) = [i.value for i in at.info]
    assert "not defined" in info and "counted once" in info

    repeated = "The cat sat on the mat.\nThe cat sat on the mat.\nA dog ran home."
    at = opened("pages/2_similarity.py", text=repeated)
    assert "1 sentence (S2) repeats an earlier one exactly and is counted once" in captions(at)
    assert "12 words" in captions(at)  # 6 + 6: the copy adds none


def test_few_items_give_no_ci(model_runs):  # noqa: F811
    at = opened("pages/2_similarity.py", text="one two three four five", control="off")
    assert metrics(at)["95% CI (ρ)"] == "none"
    assert "No CI: a bootstrap over items needs at least 8 items" in markdown(at)


def test_layers_page_control_matrix(model_runs):  # noqa: F811
    at = page("pages/3_layers.py").run()
    assert_clean(at)
    assert not model_runs.controls  # off by default on this page
    at.toggle(key="layer_control").set_value(True).run()
    assert_clean(at)
    assert len(model_runs.controls) == 2
    matrices = [spec for spec in charts(at) if spec["data"][0]["type"] == "heatmap"]
    assert len(matrices) == 2
    assert any(label.startswith("Random weights: A") for label in metrics(at))


@pytest.fixture
def cased_gpt2_env(monkeypatch, gpt2_real_dir, tiny_bert_dir, model_runs):  # noqa: F811
    """Model A: GPT-2's real (cased) tokenizer with tiny random weights; model B: tiny BERT."""
    monkeypatch.setenv("EMBEXPLORER_MODEL_A", str(gpt2_real_dir))
    monkeypatch.setenv("EMBEXPLORER_MODEL_B", str(tiny_bert_dir))
    return model_runs


def test_context_page_with_a_cased_gpt2_and_mixed_case(cased_gpt2_env):
    at = opened("pages/5_context.py", text=CASED_TEXT, word="Bank")
    offered = {o.split(" (")[0] for o in at.selectbox(key="word").options}
    assert {"Bank", "bank"} <= offered  # two words for GPT-2, both measurable in BERT too
    assert at.session_state["word"] == "Bank"
    text = markdown(at)
    assert "2 occurrences in 2 sentences" in text and "4 occurrences in 4 sentences" in text
    assert "is cased: 'Bank' and 'bank' are different words for it" in captions(at)
    assert any("Ethayarajh" in w.value for w in at.warning)  # fewer than 5 contexts
    # 'Bank' opens S1 and S4 with no leading space: the same token, only position differs
    assert "every occurrence of *Bank* in" in text
    at.selectbox(key="word").set_value("bank").run()
    assert_clean(at)
    assert "every occurrence of *bank* in" in markdown(at)  # '␣bank' twice


def test_context_layer0_text_says_when_the_tokens_differ(cased_gpt2_env):
    text = "bank rates rose.\nThe bank rose.\nRates rose.\nThe rates rose."
    at = opened("pages/5_context.py", text=text, word="bank")
    said = markdown(at)
    # GPT-2: 'bank' opening S1 has no leading space, '␣bank' in S2 has one
    assert "are not all the same tokens: 'bank', '␣bank'" in said
    assert "leading space is a different token" in said
    assert "differ only by their position embeddings" in said  # BERT: one token 'bank'
    # 'Rates' vs 'rates' are two words in GPT-2; in BERT one: offered only as each can measure
    offered = {o.split(" (")[0] for o in at.selectbox(key="word").options}
    assert {"rose", "rates"} <= offered and "Rates" not in offered  # S3 only, in GPT-2


def test_context_skip_first_toggle(cased_gpt2_env):
    at = opened("pages/5_context.py", text=CASED_TEXT, word="Bank")
    at.toggle(key="skip_first").set_value(True).run()
    assert_clean(at)
    offered = {o.split(" (")[0] for o in at.selectbox(key="word").options}
    assert "Bank" not in offered  # both of its occurrences open a sentence
    assert at.session_state["word"] in offered
    assert "first word left out" in markdown(at)
    curves = charts(at)[0]
    assert any(trace.get("error_y", {}).get("array") is not None for trace in curves["data"])


def test_geometry_disparity_beside_its_shuffle_null(model_runs):  # noqa: F811
    at = page("pages/4_geometry.py").run()
    assert_clean(at)
    values = metrics(at)
    assert "±" in values["Item-shuffled pairings"]
    assert "item-shuffled pairings give" in captions(at)
    assert float(values["Largest cosine change (M)"]) > 0.1  # M visibly changes the heatmap


def test_projection_joint_caption_gives_the_shuffle_scale(model_runs):  # noqa: F811
    at = page("pages/1_projection.py").run()
    at.checkbox(key="joint").check().run()
    assert_clean(at)
    assert "item-shuffled pairings give" in captions(at) and "1 = unrelated" not in captions(at)
