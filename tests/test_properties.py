"""Property-based tests: alignment on random text, RSA and similarity on random matrices."""

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from embexplorer.align import paired_items, segment_words, shared_words
from embexplorer.extract import extract_hidden_states
from embexplorer.geometry import similarity_matrix
from embexplorer.rsa import rsa_score

# Any Unicode except surrogates (not encodable), with many spaces and punctuation.
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),
    min_size=1,
    max_size=80,
)
SLOW = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SLOW
@given(texts=st.lists(TEXT, min_size=1, max_size=3))
def test_alignment_on_random_text(tiny_gpt2, tiny_bert, texts):
    texts = [text for text in texts if text.strip()]
    assume(texts)
    states_a = extract_hidden_states(tiny_gpt2, texts)
    states_b = extract_hidden_states(tiny_bert, texts)
    items_a, items_b = paired_items(states_a, states_b)
    assert items_a.labels == items_b.labels
    assert np.isfinite(items_a.vectors).all() and np.isfinite(items_b.vectors).all()
    for word in shared_words(states_a, states_b):
        assert texts[word.sentence][word.start : word.end] == word.text
        assert word.text.strip() == word.text and word.text


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_segmentation_spans_are_exact_and_ordered(text):
    words = segment_words(text)
    ends = [0]
    for word in words:
        assert text[word.start : word.end] == word.text
        assert word.start >= ends[-1]
        ends.append(word.end)


def symmetric(n):
    return arrays(np.float64, (n, n), elements=st.floats(-1e3, 1e3, allow_nan=False)).map(
        lambda m: (m + m.T) / 2
    )


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(3, 12))
def test_rsa_on_random_matrices_stays_in_range(data, n):
    a, b = data.draw(symmetric(n)), data.draw(symmetric(n))
    result = rsa_score(a, b, permutations=50, bootstraps=30)
    assert result.n_pairs == n * (n - 1) // 2
    if result.defined:
        assert -1 - 1e-9 <= result.pearson <= 1 + 1e-9
        assert -1 - 1e-9 <= result.spearman <= 1 + 1e-9
        assert 0 < result.p_value <= 1
    else:
        assert result.reason and np.isnan(result.pearson)


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 10), st.integers(1, 6)),
        elements=st.floats(-1e6, 1e6, allow_nan=False),
    )
)
def test_similarity_matrices_are_symmetric_and_bounded(vectors):
    cosine = similarity_matrix(vectors, "cosine")
    distance = similarity_matrix(vectors, "euclidean")
    assert np.allclose(cosine, cosine.T) and np.allclose(distance, distance.T)
    assert (np.abs(cosine) <= 1 + 1e-9).all() and (distance >= 0).all()
    assert np.isfinite(cosine).all() and np.isfinite(distance).all()
