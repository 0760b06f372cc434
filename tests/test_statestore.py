"""The on-disk store of hidden states (embexplorer.statestore) and a restarted app that draws its
first page from it without loading a model."""

import json
import os

import numpy as np
import pytest
import streamlit as st
from conftest import ROOT, charts
from streamlit.testing.v1 import AppTest

from embexplorer import statestore
from embexplorer.app import caching
from embexplorer.app.state import DEFAULT_TEXTS
from embexplorer.extract import extract_hidden_states
from embexplorer.models import ModelLoadError
from embexplorer.statestore import StateStore, default_folder, model_fingerprint

TEXTS = ("The bank raised its rates.", "We sat on the river bank.")


def assert_same_states(got, want) -> None:
    assert got.model == want.model and got.texts == want.texts
    assert got.vectors.dtype == want.vectors.dtype
    np.testing.assert_array_equal(got.vectors, want.vectors)
    assert got.tokens == want.tokens and got.truncated == want.truncated
    for field in ("token_ids", "sentence", "position", "offsets", "special"):
        np.testing.assert_array_equal(getattr(got, field), getattr(want, field))
    assert got.warnings == want.warnings
    assert [w.msgid for w in got.warnings] == [w.msgid for w in want.warnings]


def test_states_come_back_exactly_as_they_were_kept(tmp_path, tiny_gpt2, tiny_bert):
    store = StateStore(tmp_path)
    for loaded in (tiny_gpt2, tiny_bert):
        states = extract_hidden_states(loaded, TEXTS, dtype=np.float16)
        assert store.save(loaded.info.name, states)
        assert_same_states(store.load(loaded.info.name, TEXTS, np.float16), states)
    assert len(list(tmp_path.glob("*.npz"))) == 2
    assert not list(tmp_path.glob(".writing-*"))


def test_a_truncated_text_keeps_its_warning(tmp_path, tiny_bert):
    long_text = " ".join(["word"] * (tiny_bert.info.max_length + 20))
    states = extract_hidden_states(tiny_bert, (long_text,), dtype=np.float16)
    assert states.truncated == (True,) and states.warnings
    store = StateStore(tmp_path)
    store.save(tiny_bert.info.name, states)
    assert_same_states(store.load(tiny_bert.info.name, (long_text,), np.float16), states)


def test_other_texts_dtypes_and_changed_model_files_miss(tmp_path, tiny_gpt2, tiny_bert_dir):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(tiny_bert_dir, folder)
    from embexplorer.models import load_model

    loaded = load_model(str(folder))
    store = StateStore(tmp_path / "store")
    states = extract_hidden_states(loaded, TEXTS, dtype=np.float16)
    store.save(str(folder), states)
    assert store.load(str(folder), TEXTS, np.float16) is not None
    assert store.load(str(folder), TEXTS[:1], np.float16) is None
    assert store.load(str(folder), TEXTS, np.float32) is None
    assert store.load(tiny_gpt2.info.name, TEXTS, np.float16) is None  # another model
    weights = next(path for path in folder.iterdir() if path.suffix == ".safetensors")
    status = weights.stat()
    os.utime(weights, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
    assert store.load(str(folder), TEXTS, np.float16) is None  # new weights: computed again


def test_entries_above_the_entry_budget_are_not_kept(tmp_path, tiny_gpt2):
    states = extract_hidden_states(tiny_gpt2, TEXTS, dtype=np.float16)
    store = StateStore(tmp_path, entry_max_mb=states.vectors.nbytes / 2**20 / 2)
    assert not store.save(tiny_gpt2.info.name, states)
    assert not list(tmp_path.iterdir())


def test_the_least_recently_used_entries_go_first(tmp_path, tiny_gpt2):
    name = tiny_gpt2.info.name
    runs = [extract_hidden_states(tiny_gpt2, (text,), dtype=np.float16) for text in TEXTS]
    runs.append(extract_hidden_states(tiny_gpt2, ("A third one.",), dtype=np.float16))
    first = StateStore(tmp_path)
    first.save(name, runs[0])
    first.save(name, runs[1])
    sizes = sorted(path.stat().st_size for path in tmp_path.glob("*.npz"))
    for age, path in enumerate(sorted(tmp_path.glob("*.npz"), key=os.path.getmtime)):
        os.utime(path, ns=(0, 10**18 + age * 10**9))  # apart by a second, in order
    assert first.load(name, runs[0].texts, np.float16) is not None  # used: now the most recent
    # Room for two entries: the third one pushes out the least recently used (run 1's).
    bounded = StateStore(tmp_path, max_mb=(sizes[0] + sizes[1] + 2_000) / 2**20)
    assert bounded.save(name, runs[2])
    assert bounded.load(name, runs[1].texts, np.float16) is None
    assert bounded.load(name, runs[0].texts, np.float16) is not None
    assert bounded.load(name, runs[2].texts, np.float16) is not None


def test_a_damaged_entry_is_dropped_and_computed_again(tmp_path, tiny_gpt2):
    store = StateStore(tmp_path)
    store.save(tiny_gpt2.info.name, extract_hidden_states(tiny_gpt2, TEXTS, dtype=np.float16))
    (entry,) = tmp_path.glob("*.npz")
    entry.write_bytes(entry.read_bytes()[:200])
    assert store.load(tiny_gpt2.info.name, TEXTS, np.float16) is None
    assert not entry.exists()


def test_an_unwritable_folder_leaves_the_store_silent(tmp_path, tiny_gpt2):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    store = StateStore(blocked / "states")
    states = extract_hidden_states(tiny_gpt2, TEXTS, dtype=np.float16)
    assert not store.save(tiny_gpt2.info.name, states)
    assert store.load(tiny_gpt2.info.name, TEXTS, np.float16) is None


def test_the_folder_follows_the_environment(tmp_path):
    assert default_folder({"EMBEXPLORER_STATES_DIR": "off"}) is None
    assert default_folder({"EMBEXPLORER_STATES_DIR": str(tmp_path)}) == tmp_path
    found = default_folder({"XDG_CACHE_HOME": str(tmp_path)})
    assert found == tmp_path / "embexplorer" / "states"


def test_a_hub_id_is_known_by_its_cached_revision(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    assert model_fingerprint("gpt2") is None  # not downloaded
    repo = tmp_path / "models--openai--gpt2"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123\n")
    assert model_fingerprint("openai/gpt2") is None  # the revision's files are missing
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    assert json.loads(model_fingerprint("openai/gpt2")) == ["openai/gpt2", "abc123"]
    (repo / "refs" / "main").write_text("def456")
    (repo / "snapshots" / "def456").mkdir()
    assert json.loads(model_fingerprint("openai/gpt2"))[1] == "def456"


# --- a restarted app ---------------------------------------------------------------------------


@pytest.fixture
def store_on(monkeypatch, tmp_path, tiny_models_env):
    monkeypatch.setenv(statestore.ENV_STATES_DIR, str(tmp_path / "states"))
    st.cache_resource.clear()
    yield tmp_path / "states"
    st.cache_resource.clear()


def restart_without_models(monkeypatch) -> list[str]:
    """A new server: empty caches, and any model load is recorded (and fails)."""
    st.cache_resource.clear()
    asked = []

    def no_model(name, *args, **kwargs):
        asked.append(name)
        raise ModelLoadError("the model is still loading")

    monkeypatch.setattr(caching, "load_model", no_model)
    return asked


def test_a_restarted_app_draws_its_first_page_without_a_model(monkeypatch, store_on):
    page = ROOT / "pages" / "1_projection.py"
    first = AppTest.from_file(str(page), default_timeout=120).run()
    assert not first.exception
    assert len(list(store_on.glob("*.npz"))) == 2  # both models' states of the default text
    asked = restart_without_models(monkeypatch)
    again = AppTest.from_file(str(page), default_timeout=120).run()
    assert not again.exception and not again.error, [e.value for e in again.error]
    assert asked == []
    assert charts(again) == charts(first)
    slider = again.sidebar.select_slider(key="layer_a")
    assert slider.options == [str(o) for o in first.sidebar.select_slider(key="layer_a").options]
    # A new sentence needs the model: the page asks for it and says it could not load it.
    again.sidebar.text_area(key="text").set_value("\n".join(DEFAULT_TEXTS) + "\nA new one.").run()
    assert asked and any("could not be loaded" in e.value for e in again.error)


def test_a_hosted_demo_keeps_only_the_default_sentences(monkeypatch, store_on):
    monkeypatch.setenv("EMBEXPLORER_HOSTED", "1")
    monkeypatch.setenv(
        "EMBEXPLORER_ALLOWED_MODELS",
        ",".join((os.environ["EMBEXPLORER_MODEL_A"], os.environ["EMBEXPLORER_MODEL_B"])),
    )
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "pages" / "1_projection.py"), default_timeout=120).run()
    assert not at.exception
    assert len(list(store_on.glob("*.npz"))) == 2
    at.sidebar.text_area(key="text").set_value("A visitor's own sentence.\nAnd another.").run()
    assert not at.exception and charts(at)
    assert len(list(store_on.glob("*.npz"))) == 2  # nothing a visitor typed


def test_an_unreadable_model_folder_is_not_stored(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")

    def refuse(self):
        raise PermissionError("no access")

    monkeypatch.setattr(type(folder), "iterdir", refuse)
    assert model_fingerprint(str(folder)) is None
    assert not StateStore(tmp_path / "states").has(str(folder), TEXTS, np.float16)
