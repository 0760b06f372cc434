from pathlib import Path

import numpy as np
import pytest

from embexplorer.extract import ExtractionCancelled, extract_hidden_states, readable_token

TEXTS = ["The bank raised rates.", "We sat on the river bank and watched the boats."]


def test_shapes_and_flags(tiny_gpt2, tiny_bert):
    for loaded in (tiny_gpt2, tiny_bert):
        states = extract_hidden_states(loaded, TEXTS)
        n = states.n_tokens
        assert states.vectors.shape == (loaded.info.n_hidden_states, n, loaded.info.hidden_size)
        assert states.vectors.dtype == np.float32
        assert len(states.tokens) == n == len(states.sentence) == len(states.offsets)
        assert set(states.sentence.tolist()) == {0, 1}
        assert states.position[states.sentence == 1][0] == 0
        assert states.truncated == (False, False)
    bert = extract_hidden_states(tiny_bert, TEXTS)
    assert [bert.tokens[i] for i in np.flatnonzero(bert.special)] == ["[CLS]", "[SEP]"] * 2
    gpt = extract_hidden_states(tiny_gpt2, TEXTS)
    assert not gpt.special.any()  # GPT-2 adds no special tokens
    assert gpt.tokens[1] == "␣bank"  # "Ġbank" made readable


def test_layer_zero_is_embedding_layer(tiny_bert):
    import torch

    states = extract_hidden_states(tiny_bert, ["bank"])
    ids = tiny_bert.tokenizer(["bank"], return_tensors="pt")
    with torch.inference_mode():
        out = tiny_bert.model(**ids, output_hidden_states=True)
    np.testing.assert_allclose(states.vectors[0], out.hidden_states[0][0].numpy(), atol=1e-6)
    np.testing.assert_allclose(states.layer(-1), out.last_hidden_state[0].numpy(), atol=1e-6)


@pytest.mark.parametrize("model", ["tiny_gpt2", "tiny_bert", "minilm"])
def test_padding_never_changes_a_real_token(model, request):
    loaded = request.getfixturevalue(model)
    short = "A bank."
    alone = extract_hidden_states(loaded, [short])
    batched = extract_hidden_states(
        loaded, [short, "A much longer sentence about the river bank and money."]
    )
    in_batch = batched.vectors[:, batched.sentence == 0]
    np.testing.assert_allclose(in_batch, alone.vectors, atol=2e-5, rtol=1e-5)


def test_batch_size_does_not_change_results(tiny_gpt2):
    texts = TEXTS + ["A cat sat on the mat.", "Paris is the capital of France."]
    one = extract_hidden_states(tiny_gpt2, texts, batch_size=1)
    all_at_once = extract_hidden_states(tiny_gpt2, texts, batch_size=8)
    np.testing.assert_allclose(one.vectors, all_at_once.vectors, atol=2e-5)
    assert one.tokens == all_at_once.tokens


def test_causal_model_ignores_right_context(tiny_gpt2, tiny_bert):
    """GPT-2's h_t depends on w_1..w_t only; BERT's on the whole sentence."""
    a = extract_hidden_states(tiny_gpt2, ["the bank raised rates", "the bank of the river"])
    first_a = a.vectors[-1, a.sentence == 0][:2]
    first_b = a.vectors[-1, a.sentence == 1][:2]
    np.testing.assert_allclose(first_a, first_b, atol=1e-5)  # "the bank" identical
    b = extract_hidden_states(tiny_bert, ["the bank raised rates", "the bank of the river"])
    word_a = b.vectors[-1, b.sentence == 0][2]
    word_b = b.vectors[-1, b.sentence == 1][2]
    assert np.abs(word_a - word_b).max() > 1e-3  # "bank" sees its right context


def test_truncation_warns(tiny_bert):
    states = extract_hidden_states(tiny_bert, ["word " * 200, "short one"])
    assert states.truncated == (True, False)
    assert (states.sentence == 0).sum() == tiny_bert.info.max_length
    assert states.warnings == [
        f"text 1 was longer than {tiny_bert.info.short_name}'s maximum of 64 tokens and was "
        "truncated; words after the cut are left out."
    ]
    many = extract_hidden_states(tiny_bert, ["word " * 100] * 7)
    assert len(many.warnings) == 1 and "texts 1, 2, 3, 4, 5 and 2 more were" in many.warnings[0]


def test_progress_and_cancel(tiny_gpt2):
    calls = []
    extract_hidden_states(
        tiny_gpt2, TEXTS * 3, batch_size=2, progress=lambda d, t: calls.append((d, t))
    )
    assert calls[-1] == (6, 6) and len(calls) == 3
    with pytest.raises(ExtractionCancelled):
        extract_hidden_states(tiny_gpt2, TEXTS * 3, batch_size=2, progress=lambda d, t: False)


@pytest.mark.parametrize("texts", [[], ["ok", "   "], [""]])
def test_blank_input_rejected(tiny_gpt2, texts):
    with pytest.raises(ValueError):
        extract_hidden_states(tiny_gpt2, texts)


def test_readable_token():
    assert readable_token("Ġbank", byte_level=True) == "␣bank"
    assert readable_token("Ċ", byte_level=True) == "↵"
    assert readable_token("Ã©", byte_level=True) == "é"
    assert readable_token("Ã", byte_level=True) == "<C3>"  # half of "é"
    assert readable_token("##ing", byte_level=False) == "##ing"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_release_freed_memory_returns_the_freed_heap():
    """Freed small allocations stay in glibc's heap (RSS does not fall) until release."""
    from embexplorer.extract import _malloc_trim, release_freed_memory

    if _malloc_trim() is None:
        pytest.skip("this C library has no malloc_trim")

    def rss_mb() -> float:
        status = Path("/proc/self/status").read_text()
        return (
            int(next(ln for ln in status.splitlines() if ln.startswith("VmRSS:")).split()[1]) / 1024
        )

    chunks = [np.ones(8_000) for _ in range(25_000)]  # 64 KB each (below the mmap threshold)
    held = rss_mb()
    keep = chunks[-1]  # the heap's top stays in use, so only a trim inside the heap frees memory
    del chunks
    release_freed_memory()
    assert held - rss_mb() > 1_000, (held, rss_mb())
    assert keep.sum() == 8_000
