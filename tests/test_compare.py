"""compare: the one path from hidden states to scores; the words under the score; the control."""

import dataclasses
import math

import numpy as np
import pytest

from embexplorer.app.present import describe_rsa
from embexplorer.app.widgets import plain_number
from embexplorer.compare import (
    compare_models,
    control_comparison,
    control_seeds,
    with_resampling,
)
from embexplorer.extract import extract_hidden_states
from embexplorer.rsa import RSAResult

TEXTS = ["The bank raised rates.", "We sat on the river bank.", "She paid the bank."]


def result(value, p=0.001, same=0, excluded=False, ci_high=math.nan, **fields):
    base = dict(
        pearson=value,
        spearman=value,
        method="spearman",
        p_value=p,
        ci_low=math.nan,
        ci_high=ci_high,
        ci_level=0.95,
        n_items=40,
        n_pairs=780,
        permutations=1000,
        bootstraps=0,
        n_same_word_pairs=same,
        same_word_excluded=excluded,
    )
    return RSAResult(**{**base, **fields})


NAMES = ("gpt2", "bert")


def test_describe_never_calls_repetition_unlikely_to_be_chance():
    text = describe_rsa(result(0.22, same=12), NAMES, "word")
    assert "unlikely to be chance" not in text
    assert "12 pairs are two occurrences of the same word" in text
    assert "paired up at random" in text and "control" in text


def test_describe_with_a_control_as_high_points_at_the_input():
    text = describe_rsa(result(0.2), NAMES, "word", control=result(0.19, ci_high=0.25))
    assert "unlikely to be chance" not in text
    assert "ρ = 0.19" in text and "comes from the input" in text


def test_describe_says_unlikely_to_be_chance_only_above_the_control():
    text = describe_rsa(result(0.6), NAMES, "word", control=result(0.1, ci_high=0.2))
    assert "unlikely to be chance and above the control" in text
    assert "what training added" in text
    no_control = describe_rsa(result(0.6), NAMES, "word")
    assert "unlikely to be chance" not in no_control and "random-weight control" in no_control


def test_describe_says_when_the_control_scores_higher():
    text = describe_rsa(result(0.0, p=0.5), NAMES, "word", control=result(0.24, ci_low=0.15))
    assert "more than the trained models" in text and "as high" not in text


@pytest.mark.parametrize("value", [-1.0, -0.85, -0.7, -0.55, -0.4, -0.25, -0.1])
@pytest.mark.parametrize("control", [None, -0.9, 0.0, 0.5])
def test_describe_negative_values_read_as_an_inverse_relation(value, control):
    """Every size of negative correlation, with or without a control: an inverse relation, in
    plain words, never agreement and never "no shared structure" (the test is one-sided)."""
    text = describe_rsa(
        result(value, p=0.999),
        NAMES,
        "word",
        control=None if control is None else result(control, ci_high=control + 0.05),
    )
    first = text.split(": ", 1)
    assert first[0].startswith(f"ρ = {value:.2f}, a ") and "inverse relation" in first[0]
    assert first[1].startswith("pairs of words that gpt2 finds alike tend to be unalike in bert")
    for wrong in (
        "agreement:",
        "alike in bert too",
        "compatible with no shared structure",
        "unlikely to be chance",
        "e-",
    ):
        assert wrong not in text, wrong
    assert "an inverse relation is not agreement" in text
    strength = "strong" if value <= -0.7 else "moderate" if value <= -0.4 else "weak"
    assert f"a {strength} inverse relation" in text


def test_describe_near_zero_says_almost_nothing_whatever_the_sign():
    for value in (-0.09, -0.02, 0.0, 0.02, 0.09):
        text = describe_rsa(result(value, p=0.5), NAMES, "word")
        assert "almost nothing" in text and "inverse" not in text and "agreement" not in text
        assert "compatible with no shared structure" in text


def test_p_values_and_rounding_never_read_in_e_notation():
    assert "p < 0.001" in describe_rsa(result(0.5, p=1e-5), NAMES, "word")
    assert "p = 0.042" in describe_rsa(result(0.5, p=0.042), NAMES, "word")
    assert plain_number(8.9e-16) == "0 (to machine precision, < 1e-12)"
    assert plain_number(-3e-13, zero="0") == "0"
    assert (plain_number(2e-5), plain_number(-2e-5)) == ("< 0.001", "> -0.001")
    assert (plain_number(999.7), plain_number(1234.5), plain_number(0.5)) == (
        "1,000",
        "1,234",
        "0.5",
    )
    assert plain_number(float("nan")) == "not defined"


def test_describe_states_a_missing_ci():
    note = "No CI: a bootstrap over items needs at least 8 items; with 5 ..."
    assert note in describe_rsa(result(0.5, ci_note=note), NAMES, "word")


def test_identical_texts_noise_is_not_defined_and_duplicates_count_once(tiny_gpt2, tiny_bert):
    texts = ["cat"] * 5
    states = [extract_hidden_states(m, texts) for m in (tiny_gpt2, tiny_bert)]
    kept = compare_models(*states, drop_duplicate_sentences=False, permutations=50)
    assert not kept.rsa.defined and math.isnan(kept.rsa.spearman)
    assert "model" in kept.rsa.reason and ("noise" in kept.rsa.reason)
    assert math.isnan(kept.cka) and kept.cka_reason
    centred = compare_models(*states, drop_duplicate_sentences=False, preprocessing="center")
    assert not centred.rsa.defined  # centring must not turn the noise into a score
    with pytest.raises(ValueError, match="not defined.*repeats are counted once"):
        compare_models(*states)


def test_repeated_sentence_gives_the_same_score_as_once(tiny_gpt2, tiny_bert):
    scores = []
    for copies in (1, 2, 3):
        texts = [TEXTS[0]] * copies + TEXTS[1:]
        states = [extract_hidden_states(m, texts) for m in (tiny_gpt2, tiny_bert)]
        comparison = compare_models(*states, permutations=200, bootstraps=0)
        assert comparison.n_duplicate_sentences == copies - 1
        scores.append((comparison.rsa.spearman, comparison.rsa.p_value))
    assert scores[0] == scores[1] == scores[2]


@pytest.mark.parametrize("exclude_same_word", [False, True])
def test_resampling_added_later_equals_resampling_at_once(tiny_gpt2, tiny_bert, exclude_same_word):
    """The Similarity page shows the scores first and adds p and CI afterwards: same numbers."""
    texts = [*TEXTS, "The bank by the river was closed.", "Rates at the bank rose again."]
    states = [extract_hidden_states(m, texts) for m in (tiny_gpt2, tiny_bert)]
    settings = dict(preprocessing="center", exclude_same_word=exclude_same_word)
    at_once = compare_models(*states, permutations=300, bootstraps=200, **settings)
    scores_first = compare_models(*states, permutations=0, bootstraps=0, **settings)
    assert math.isnan(scores_first.rsa.p_value) and math.isnan(scores_first.rsa.ci_low)
    assert scores_first.rsa.spearman == at_once.rsa.spearman
    later = with_resampling(scores_first, 300, 200, exclude_same_word=exclude_same_word)
    assert later.rsa == at_once.rsa and math.isfinite(later.rsa.p_value)
    np.testing.assert_array_equal(later.matrix_a, at_once.matrix_a)


def test_pair_labels_of_drawn_pairs_match_the_pair_values(tiny_gpt2, tiny_bert):
    """The scatter labels only the pairs it draws: each label is its value's pair."""
    states = [extract_hidden_states(m, TEXTS) for m in (tiny_gpt2, tiny_bert)]
    comparison = compare_models(*states, permutations=0, bootstraps=0)
    values_a, values_b = comparison.pair_values()
    labels, n = comparison.labels, comparison.items_a.n_items
    every = comparison.pair_labels()
    assert len(every) == values_a.size == values_b.size == n * (n - 1) // 2
    drawn = np.array([0, 4, values_a.size - 1])
    assert comparison.pair_labels(drawn) == [every[k] for k in drawn]
    rows, cols = np.triu_indices(n, k=1)
    for k in drawn:
        i, j = rows[k], cols[k]
        assert every[k] == f"{labels[i]} · {labels[j]}"
        assert (values_a[k], values_b[k]) == (comparison.matrix_a[i, j], comparison.matrix_b[i, j])
    slope, intercept = comparison.fit_line()
    assert (slope, intercept) == pytest.approx(tuple(np.polyfit(values_a, values_b, deg=1)))


def test_control_comparison_scores_random_copies_the_same_way(gpt2_real, minilm):
    settings = dict(permutations=100, bootstraps=0, exclude_same_word=True)
    control = control_comparison(gpt2_real, minilm, TEXTS, control_seed=3, **settings)
    again = control_comparison(gpt2_real, minilm, TEXTS, control_seed=3, **settings)
    assert control.seeds == control_seeds(3) and control.seeds[0] != control.seeds[1]
    assert control.rsa.spearman == again.rsa.spearman  # seeded: reproducible
    trained = compare_models(
        *(extract_hidden_states(m, TEXTS) for m in (gpt2_real, minilm)), **settings
    )
    assert control.rsa.n_items == trained.rsa.n_items
    assert control.rsa.same_word_excluded and control.rsa.spearman != trained.rsa.spearman
    data = control.to_dict()
    assert {"spearman", "pearson", "p_value", "seed", "seeds"} <= set(data)
    assert data["seed"] == 3


def test_comparison_flags_items_sharing_tokens(gpt2_real, minilm):
    texts = ["See http://x.org now", "The end..."]
    comparison = compare_models(
        *(extract_hidden_states(m, texts) for m in (gpt2_real, minilm)), permutations=0
    )
    shared = {entry["item"]: entry["models"] for entry in comparison.items_sharing_tokens}
    assert shared[":"] == ["A"] and shared["/"] == ["A"]
    assert "See" not in shared and "end" not in shared
    assert dataclasses.is_dataclass(comparison)
    assert np.isfinite(comparison.rsa.spearman)
