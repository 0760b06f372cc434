"""The guided lesson page (issue 12, item 4), with the tiny offline models."""

import urllib.parse

import pytest
from conftest import ROOT, charts
from streamlit.testing.v1 import AppTest
from test_pages import TIMEOUT, assert_clean, model_runs  # noqa: F401 - model_runs is a fixture

from embexplorer.app import lesson

CAUSAL_CLAIM = "1 at every layer (the same vector)"


def lesson_page(step: int | None = None) -> AppTest:
    """The lesson through app.py's navigation (its links name the other pages)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if step is not None:
        at.query_params["step"] = str(step)
    at.run()
    return at.switch_page("pages/7_lesson.py").run()


def shown_text(at: AppTest) -> str:
    return "\n".join(element.value for element in at.markdown)


def step_of(at: AppTest) -> int:
    return int(at.session_state["step"])


def link_query(at: AppTest) -> tuple[str, dict[str, list[str]]]:
    """The "Open this in the full page" link: its page and its settings."""
    (link,) = [e for e in at.get("page_link") if "full page" in e.proto.label]
    return link.proto.page, urllib.parse.parse_qs(link.proto.query_string)


@pytest.mark.usefixtures("model_runs")
@pytest.mark.parametrize("step", range(1, len(lesson.STEPS) + 1))
def test_every_step_draws_its_chart(step):
    at = lesson_page(step)
    assert_clean(at)
    assert step_of(at) == step
    assert charts(at), step
    assert at.get("latex")
    assert f"Step {step} of {len(lesson.STEPS)}" in at.get("progress")[0].proto.text
    page, query = link_query(at)
    assert query["text"] == ["\n".join(lesson.STEPS[step - 1].texts)]


@pytest.mark.usefixtures("model_runs")
def test_next_and_previous_move_the_step_and_the_link():
    at = lesson_page()
    assert step_of(at) == 1
    assert at.button(key="lesson_previous").disabled
    at.button(key="lesson_next").click().run()
    assert_clean(at)
    assert step_of(at) == 2
    assert at.query_params["step"] in ("2", ["2"])
    at.button(key="lesson_next").click().run()
    at.button(key="lesson_previous").click().run()
    assert step_of(at) == 2
    assert charts(at)
    assert "text" not in at.query_params  # the lesson's sentences stay out of the sidebar
    assert at.session_state["text"] != "\n".join(lesson.STEPS[1].texts)


@pytest.mark.usefixtures("model_runs")
def test_home_page_starts_the_lesson():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert_clean(at)
    (link,) = [e for e in at.get("page_link") if e.proto.label.startswith("Start the lesson")]
    assert link.proto.page == "lesson"


@pytest.mark.usefixtures("model_runs")
def test_causal_claim_when_true():
    at = lesson_page(1)
    assert_clean(at)
    assert CAUSAL_CLAIM in shown_text(at)  # the tiny GPT-2 is causal: the two "bank"s agree
    page, query = link_query(at)
    assert page == "explore"
    assert query["text"] == ["The bank of the river\nThe bank of England"]


@pytest.mark.usefixtures("model_runs")
def test_no_causal_claim_for_two_bidirectional_models(monkeypatch, tiny_bert_dir):
    monkeypatch.setenv("EMBEXPLORER_MODEL_A", str(tiny_bert_dir))
    monkeypatch.setenv("EMBEXPLORER_MODEL_B", str(tiny_bert_dir))
    at = lesson_page(1)
    assert_clean(at)
    assert charts(at)
    assert CAUSAL_CLAIM not in shown_text(at)


@pytest.mark.usefixtures("model_runs")
def test_distance_link_carries_the_measure():
    at = lesson_page(2)
    at.segmented_control(key="lesson_metric").set_value("euclidean").run()
    assert_clean(at)
    page, query = link_query(at)
    assert page == "similarity" and query["metric"] == ["euclidean"]
