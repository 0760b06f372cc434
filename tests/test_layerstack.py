"""LayerStack: items' vectors computed one layer at a time equal the eager arrays."""

import numpy as np
import pytest

from embexplorer.align import build_items, paired_items
from embexplorer.layerstack import LayerStack, mean_weights


@pytest.fixture
def tokens():
    return np.random.default_rng(0).standard_normal((4, 30, 8)).astype(np.float32)


MEMBERS = [[0], [1, 2], [3, 4, 5], [7], [8, 9], [29]]


def eager_means(tokens, members):
    return np.stack(
        [
            [tokens[layer, m].astype(np.float64).mean(axis=0) for m in members]
            for layer in range(tokens.shape[0])
        ]
    )


@pytest.mark.parametrize(
    "dtype, rtol", [(np.float32, 1e-6), (np.float16, 2e-3), (np.float64, 1e-12)]
)
def test_means_selection_and_pooled_equal_the_eager_arrays(tokens, dtype, rtol):
    tokens = tokens.astype(dtype)
    stack = LayerStack.means(tokens, MEMBERS)
    expected = eager_means(tokens, MEMBERS)
    assert stack.shape == expected.shape and stack.dtype == dtype and len(stack) == 4
    np.testing.assert_allclose(np.asarray(stack, dtype=np.float64), expected, rtol=rtol, atol=rtol)
    for layer, values in enumerate(stack):  # iteration, and indexing by layer, give ndarrays
        assert isinstance(values, np.ndarray) and values.dtype == dtype
        np.testing.assert_array_equal(values, stack[layer])
    np.testing.assert_array_equal(stack[1:3], np.asarray(stack)[1:3])
    np.testing.assert_array_equal(stack[-1], np.asarray(stack)[-1])
    rows = np.array([4, 0, 2])
    subset = stack[:, rows]
    assert isinstance(subset, LayerStack) and subset.shape == (4, 3, 8)
    np.testing.assert_array_equal(np.asarray(subset), np.asarray(stack)[:, rows])
    np.testing.assert_array_equal(np.asarray(stack[:, rows, :]), np.asarray(subset))
    mask = np.array([True, False, True, False, False, True])
    np.testing.assert_array_equal(np.asarray(stack[:, mask]), np.asarray(stack)[:, mask])
    np.testing.assert_array_equal(stack[:, 2], np.asarray(stack)[:, 2])  # one item, every layer
    assert stack.astype(np.float64).dtype == np.float64
    picked = LayerStack.selection(tokens, [5, 1, 29])
    np.testing.assert_array_equal(np.asarray(picked), tokens[:, [5, 1, 29]])
    pooled = stack.pooled([[0, 1], [2, 3, 4, 5]])  # a mean of means, from the tokens directly
    np.testing.assert_allclose(
        np.asarray(pooled, dtype=np.float64),
        np.stack([expected[:, [0, 1]].mean(axis=1), expected[:, 2:].mean(axis=1)], axis=1),
        rtol=rtol,
        atol=rtol,
    )


def test_no_items_and_bad_values(tokens):
    empty = LayerStack.means(tokens, [])
    assert empty.shape == (4, 0, 8) and np.asarray(empty).shape == (4, 0, 8)
    assert mean_weights([[1, 2]], 5).toarray().tolist() == [[0, 0.5, 0.5, 0, 0]]
    with pytest.raises(ValueError, match="do not fit"):
        LayerStack(tokens, mean_weights(MEMBERS, 31))
    broken = tokens.copy()
    broken[2, 3, 0] = np.inf
    stack = LayerStack.means(broken, MEMBERS)
    np.testing.assert_array_equal(stack[1], LayerStack.means(tokens, MEMBERS)[1])
    with pytest.raises(ValueError, match="NaN or infinite values at layer 2"):
        stack[2]


def test_items_hold_the_states_not_a_copy(tiny_gpt2, tiny_bert):
    """Word and sentence items, and BERT's token items without [CLS]/[SEP], read the hidden
    states themselves: building them copies no layer."""
    from embexplorer.extract import extract_hidden_states

    texts = ["The bank raised its rates.", "We sat on the river bank."]
    states = [extract_hidden_states(m, texts) for m in (tiny_gpt2, tiny_bert)]
    for unit in ("word", "sentence"):
        for side, items in zip(states, paired_items(*states, unit=unit), strict=True):
            assert isinstance(items.vectors, LayerStack)
            assert items.vectors.tokens is side.vectors
    bert_tokens = build_items(states[1], "token")
    assert isinstance(bert_tokens.vectors, LayerStack)
    np.testing.assert_array_equal(
        np.asarray(bert_tokens.vectors), states[1].vectors[:, ~states[1].special]
    )
    gpt2_tokens = build_items(states[0], "token")  # every token kept: a view
    assert np.shares_memory(gpt2_tokens.vectors, states[0].vectors)
