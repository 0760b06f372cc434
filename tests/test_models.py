import time
from pathlib import Path

import numpy as np
import pytest

from embexplorer.models import (
    DEFAULT_MODEL_A,
    DEFAULT_MODEL_B,
    ModelLoadError,
    default_model_names,
    load_model,
    resolve_layer,
)


def test_defaults_and_env_override(monkeypatch):
    monkeypatch.delenv("EMBEXPLORER_MODEL_A", raising=False)
    monkeypatch.delenv("EMBEXPLORER_MODEL_B", raising=False)
    assert (
        default_model_names() == (DEFAULT_MODEL_A, DEFAULT_MODEL_B) == ("gpt2", "bert-base-uncased")
    )
    monkeypatch.setenv("EMBEXPLORER_MODEL_A", "/models/a")
    monkeypatch.setenv("EMBEXPLORER_MODEL_B", " distilbert-base-uncased ")
    assert default_model_names() == ("/models/a", "distilbert-base-uncased")


def test_tiny_models_report_kind_and_shape(tiny_gpt2, tiny_bert):
    assert (tiny_gpt2.info.kind, tiny_gpt2.info.n_layers, tiny_gpt2.info.hidden_size) == (
        "causal",
        3,
        32,
    )
    assert (tiny_bert.info.kind, tiny_bert.info.n_layers, tiny_bert.info.hidden_size) == (
        "masked",
        2,
        32,
    )
    assert tiny_gpt2.info.n_hidden_states == 4
    assert tiny_gpt2.info.max_length == 64
    assert not tiny_gpt2.model.training and not tiny_bert.model.training
    assert tiny_gpt2.tokenizer.pad_token is not None  # GPT-2 gets its end-of-text token as padding


def test_real_minilm_checkpoint(minilm):
    info = minilm.info
    assert (info.model_type, info.kind, info.n_layers, info.hidden_size, info.max_length) == (
        "bert",
        "masked",
        6,
        384,
        512,
    )
    assert "6 layers" in info.describe()


def test_unknown_hub_id_fails_fast_with_guidance():
    start = time.perf_counter()
    with pytest.raises(ModelLoadError) as error:
        load_model("no-such-org/no-such-model-xyz")
    assert time.perf_counter() - start < 15  # no 50-second retry loop
    message = str(error.value)
    assert "no-such-org/no-such-model-xyz" in message
    assert "local folder" in message and "EMBEXPLORER_MODEL_A" in message


@pytest.mark.parametrize("name", ["/definitely/not/here", "./missing-model-folder", ""])
def test_missing_paths_fail_with_message(name):
    with pytest.raises(ModelLoadError, match="folder|model"):
        load_model(name)


def test_broken_folder_is_reported(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="could not be loaded"):
        load_model(str(tmp_path))


def test_resolve_layer():
    assert resolve_layer(-1, 13) == 12
    assert resolve_layer(0, 13) == 0
    assert resolve_layer(-13, 13) == 0
    for bad in (13, -14):
        with pytest.raises(ValueError, match="out of range"):
            resolve_layer(bad, 13, "gpt2")


def test_control_model_is_a_seeded_random_copy_from_the_config(tiny_gpt2, gpt2_real):
    import torch

    from embexplorer.models import control_model

    for loaded in (tiny_gpt2, gpt2_real):
        state = torch.random.get_rng_state()
        first, again, other = (control_model(loaded, seed) for seed in (1, 1, 2))
        assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched
        assert first.tokenizer is loaded.tokenizer and first.lock is loaded.lock
        assert first.info.n_layers == loaded.info.n_layers and "random weights" in first.info.name
        weights = [dict(m.model.named_parameters()) for m in (loaded, first, again, other)]
        name = next(n for n in weights[0] if n.endswith("attn.c_attn.weight"))
        assert torch.equal(weights[1][name], weights[2][name])  # same seed, same weights
        assert not torch.equal(weights[1][name], weights[3][name])  # other seed, other weights
        assert not torch.equal(weights[0][name], weights[1][name])  # not the trained weights
        assert not first.model.training


def _resident_kb(loaded) -> int:
    """Resident kB of this process's mappings that hold the model's weights (other tests may
    have mapped the same file again, for their own copy of the model)."""
    pointers = [tensor.untyped_storage().data_ptr() for tensor in loaded.model.parameters()]
    total, inside = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if len(fields) >= 5 and "-" in fields[0] and not fields[0].endswith(":"):
                low, high = (int(bound, 16) for bound in fields[0].split("-"))
                inside = any(low <= pointer < high for pointer in pointers)
            elif inside and fields[0] == "Rss:":
                total += int(fields[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="Linux's /proc/self/smaps")
def test_released_weight_pages_come_back_unchanged(minilm_dir):
    """A memory-mapped model's weights leave the resident set and the next run reads them back:
    the same hidden states to the bit."""
    from embexplorer.extract import extract_hidden_states
    from embexplorer.models import release_weight_pages

    loaded = load_model(str(minilm_dir))
    texts = ("The bank raised rates.", "We sat on the river bank.")
    before = extract_hidden_states(loaded, texts)
    resident = _resident_kb(loaded)
    assert resident > 20_000  # the forward pass touched most of MiniLM's ~90 MB

    with loaded.lock:  # a run in progress: nothing is released under it
        assert release_weight_pages(loaded) == 0
    released = release_weight_pages(loaded)
    assert released > 20 * 2**20
    assert _resident_kb(loaded) < resident // 10
    after = extract_hidden_states(loaded, texts)
    for layer in range(before.n_hidden_states):
        np.testing.assert_array_equal(after.layer(layer), before.layer(layer))


def test_weights_in_the_process_own_memory_are_never_released(tiny_gpt2):
    """Weights built or copied in memory (not a mapped file) are left alone: dropping them would
    zero them."""
    import copy

    from embexplorer.extract import extract_hidden_states
    from embexplorer.models import LoadedModel, release_weight_pages

    in_memory = LoadedModel(tiny_gpt2.info, tiny_gpt2.tokenizer, copy.deepcopy(tiny_gpt2.model))
    before = extract_hidden_states(in_memory, ("a cat sat",))
    assert release_weight_pages(in_memory) == 0
    after = extract_hidden_states(in_memory, ("a cat sat",))
    np.testing.assert_array_equal(after.layer(1), before.layer(1))
