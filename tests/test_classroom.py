"""A classroom at once: several visitors on one served app, each with their own sentences."""

import pytest
from conftest import ROOT

from embexplorer.loadtest import SessionResult, run_classroom, session_texts, session_words
from embexplorer.testing import offline_app_env, start_app, stop_app, wait_until_healthy


def test_every_visitor_has_own_marker_words():
    words = [session_words(index) for index in range(60)]
    assert len({w for pair in words for w in pair[:1]}) == 60  # distinct animals per visitor
    for index, (animal, place) in enumerate(words):
        assert all(animal in text for text in session_texts(index))
        assert all(place in text for text in session_texts(index))


def test_a_chart_with_another_visitors_words_is_a_problem():
    mine, theirs = session_words(0), session_words(1)
    right = SessionResult(0, finished_s=1.0, charts=[f'{{"text": ["{mine[0]}", "{mine[1]}"]}}'])
    swapped = SessionResult(0, finished_s=1.0, charts=[f'{{"text": ["{theirs[0]}"]}}'])
    failed = SessionResult(0, finished_s=1.0, errors=["exception ValueError: boom"])
    assert right.problems([0, 1]) == []
    # Whole words only: visitor 4's "emu" is not in visitor 11's "lemur".
    assert "emu" in session_words(4) and "lemur" in session_words(11)
    lemur = SessionResult(11, finished_s=1.0, charts=[f'{{"text": {list(session_words(11))}}}'])
    assert lemur.problems([4, 11]) == []
    assert any("sessions [1]" in p for p in swapped.problems([0, 1]))
    assert any("lacks its own words" in p for p in swapped.problems([0, 1]))
    assert any("boom" in p for p in failed.problems([0, 1]))
    assert any("no chart" in p for p in failed.problems([0, 1]))


@pytest.fixture(scope="module")
def served_app(tmp_path_factory, tiny_gpt2_dir, tiny_bert_dir):
    env = offline_app_env(tiny_gpt2_dir, tiny_bert_dir)
    log_path = tmp_path_factory.mktemp("classroom") / "streamlit.log"
    with log_path.open("w") as log:
        process, url = start_app(ROOT, env, log)
        try:
            wait_until_healthy(url, process, timeout=90)
            yield process, url
        finally:
            stop_app(process)


@pytest.mark.slow
def test_four_visitors_at_once_each_see_their_own_chart(served_app):
    process, url = served_app
    result = run_classroom(url, process.pid, n_sessions=4, timeout=240)
    assert result.problems() == []
    assert result.last_chart_s is not None
    assert result.server_cpu_s > 0
    assert result.peak_rss_mb > 0


def test_a_queued_visitor_is_told_how_many_requests_are_ahead():
    from embexplorer.app.sidebar import queue_message
    from embexplorer.loadtest import WAITING_MARK

    assert queue_message(1).startswith("1 request ahead of you")
    assert queue_message(3).startswith("3 requests ahead of you")
    assert WAITING_MARK in queue_message(2)  # what the load test counts as a queue note
