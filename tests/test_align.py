import numpy as np
import pytest

from embexplorer.align import (
    build_items,
    duplicate_sentences,
    paired_items,
    segment_words,
    shared_words,
    token_items,
    token_words,
)
from embexplorer.extract import extract_hidden_states


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("The bank raised rates.", ["The", "bank", "raised", "rates", "."]),
        ("I can't, won't!", ["I", "can't", ",", "won't", "!"]),
        ("It costs 2,048 or 3.14 dollars", ["It", "costs", "2,048", "or", "3.14", "dollars"]),
        ("Café naïve résumé", ["Café", "naïve", "résumé"]),
        ("Cafe\u0301 ok", ["Cafe\u0301", "ok"]),  # decomposed accent stays in its word
        ("I ❤️ 👍🏽 this", ["I", "❤️", "👍🏽", "this"]),  # emoji with modifiers: one item
        ("我爱 北京", ["我", "爱", "北", "京"]),  # CJK ideographs: one item each, as BERT
        ("東京タワーに行きました", ["東", "京", "タワーに", "行", "きました"]),  # kana runs stay
        ("서울에 갔다", ["서울에", "갔다"]),  # hangul runs stay
        ("a   b\n\nc\t d", ["a", "b", "c", "d"]),
        ("well-known e-mail", ["well-known", "e-mail"]),
        ("...", [".", ".", "."]),
        ("", []),
        ("zero\u200bwidth", ["zero", "width"]),
    ],
)
def test_segment_words(text, words):
    found = segment_words(text)
    assert [w.text for w in found] == words
    assert all(text[w.start : w.end] == w.text for w in found)


HARD_TEXTS = [
    "The bank raised rates.",
    "We sat on the river bank, didn't we?",
    "It cost 2,048 euros at the café — naïve!",
    "Emoji 😀 and 你好 and   repeated   spaces",
    "Antidisestablishmentarianism\nnewline",
]


@pytest.mark.parametrize(
    "pair", [("tiny_gpt2", "tiny_bert"), ("tiny_gpt2", "minilm"), ("gpt2_real", "minilm")]
)
def test_both_models_give_identical_items(pair, request):
    model_a, model_b = (request.getfixturevalue(name) for name in pair)
    states_a = extract_hidden_states(model_a, HARD_TEXTS)
    states_b = extract_hidden_states(model_b, HARD_TEXTS)
    for unit in ("word", "sentence"):
        items_a, items_b = paired_items(states_a, states_b, unit=unit)
        assert items_a.labels == items_b.labels
        np.testing.assert_array_equal(items_a.sentence, items_b.sentence)
        assert items_a.vectors.shape[:2] == (model_a.info.n_hidden_states, items_a.n_items)
    words, _ = paired_items(states_a, states_b, unit="word")
    expected = [w.text for i, t in enumerate(HARD_TEXTS) for w in segment_words(t, i)]
    assert words.labels == expected  # no word lost for these texts
    assert "2,048" in words.labels and "didn't" in words.labels and "😀" in words.labels


def test_many_piece_word_pools_all_pieces(tiny_gpt2, tiny_bert, minilm):
    text = ["Antidisestablishmentarianism"]
    for loaded in (tiny_gpt2, tiny_bert, minilm):
        states = extract_hidden_states(loaded, text)
        words = segment_words(text[0])
        (members,) = token_words(states, words)
        assert len(members) > 2  # split into many pieces
        layer = states.vectors[-1]
        mean = build_items(states, "word", "mean").vectors[-1, 0]
        # atol: float32 sums in another order differ by ~1e-8 where pieces nearly cancel
        np.testing.assert_allclose(mean, layer[members].mean(axis=0), rtol=1e-6, atol=1e-7)
        first = build_items(states, "word", "first").vectors[-1, 0]
        last = build_items(states, "word", "last").vectors[-1, 0]
        np.testing.assert_array_equal(first, layer[members[0]])
        np.testing.assert_array_equal(last, layer[members[-1]])


def test_special_tokens_never_items(tiny_bert):
    states = extract_hidden_states(tiny_bert, ["bank money"])
    items = build_items(states, "word")
    assert items.labels == ["bank", "money"]
    assert "[CLS]" not in token_items(states).labels
    assert token_items(states, include_special=True).labels[0] == "[CLS]"


def test_token_items_share_the_hidden_states_when_no_token_is_dropped(tiny_gpt2, tiny_bert):
    texts = ["The bank raised rates.", "A river bank."]
    gpt2 = extract_hidden_states(tiny_gpt2, texts)
    assert not gpt2.special.any()  # GPT-2 adds no special tokens: every token is an item
    bert = extract_hidden_states(tiny_bert, texts)
    for states, include_special in ((gpt2, False), (gpt2, True), (bert, True)):
        items = token_items(states, include_special)
        assert np.shares_memory(items.vectors, states.vectors)
        np.testing.assert_array_equal(items.vectors, states.vectors)
    # [CLS] and [SEP] of two sentences leave gaps: the kept tokens must be gathered (a copy).
    items = token_items(bert)
    kept = ~bert.special
    assert not np.shares_memory(items.vectors, bert.vectors)
    np.testing.assert_array_equal(items.vectors, bert.vectors[:, kept, :])
    # One sentence without its [CLS] and [SEP] is one contiguous run: a view again.
    one = extract_hidden_states(tiny_bert, texts[:1])
    items = token_items(one)
    assert items.labels == [t for t, s in zip(one.tokens, one.special, strict=True) if not s]
    assert np.shares_memory(items.vectors, one.vectors)
    np.testing.assert_array_equal(items.vectors, one.vectors[:, ~one.special, :])


def test_sentence_item_is_mean_of_words(tiny_gpt2):
    states = extract_hidden_states(tiny_gpt2, ["The bank raised rates.", "A river bank."])
    words = build_items(states, "word")
    sentences = build_items(states, "sentence")
    assert sentences.labels[0].startswith("S1: The bank")
    np.testing.assert_allclose(
        sentences.vectors[:, 1],
        np.asarray(words.vectors)[:, words.sentence == 1].mean(axis=1),
        rtol=1e-6,
        atol=1e-7,  # float32 sums in another order, where the words nearly cancel
    )


def test_truncated_words_dropped_for_both(tiny_gpt2, tiny_bert):
    texts = ["bank " * 80, "river bank"]
    states_a = extract_hidden_states(tiny_gpt2, texts)
    states_b = extract_hidden_states(tiny_bert, texts)
    words = shared_words(states_a, states_b)
    items_a, items_b = paired_items(states_a, states_b)
    assert items_a.labels == items_b.labels == [w.text for w in words]
    assert sum(1 for w in words if w.sentence == 0) <= 62  # BERT keeps 64 - 2 specials
    assert [w.text for w in words if w.sentence == 1] == ["river", "bank"]


def test_display_labels_disambiguate_repeats(tiny_gpt2):
    states = extract_hidden_states(tiny_gpt2, ["the bank", "the river bank bank"])
    labels = build_items(states, "word").display_labels()
    assert labels == ["the (S1)", "bank (S1)", "the (S2)", "river", "bank (S2)", "bank (S2 #2)"]


def test_bad_choices_list_valid_options(tiny_gpt2):
    states = extract_hidden_states(tiny_gpt2, ["a bank"])
    with pytest.raises(ValueError, match="'token', 'word', 'sentence'"):
        build_items(states, "paragraph")
    with pytest.raises(ValueError, match="'mean', 'first', 'last'"):
        build_items(states, "word", pooling="max")
    with pytest.raises(ValueError, match="different texts"):
        shared_words(states, extract_hidden_states(tiny_gpt2, ["other"]))


# --- GPT-2's real tokenizer, shared tokens, CJK, duplicates (issue 10) ------------------------------


def test_gpt2_real_tokenizer_tokenizes_as_gpt2(gpt2_real):
    tokenizer = gpt2_real.tokenizer
    assert tokenizer("Hello world")["input_ids"] == [15496, 995]
    assert len(tokenizer) == 50257
    assert gpt2_real.info.lowercase is False
    states = extract_hidden_states(gpt2_real, ["The bank raised rates."])
    assert states.tokens == ["The", "␣bank", "␣raised", "␣rates", "."]


def test_lowercase_flag_comes_from_the_tokenizer(gpt2_real, minilm, tiny_bert):
    assert not gpt2_real.info.lowercase
    assert minilm.info.lowercase and tiny_bert.info.lowercase
    for loaded, cased in ((gpt2_real, True), (minilm, False)):
        states = extract_hidden_states(loaded, ["Café café"])
        assert build_items(states, "word").cased is cased


def test_words_sharing_one_token_are_flagged(gpt2_real, minilm):
    texts = ["See http://example.org now...", "Wait?! x😀y ok"]
    states_a = extract_hidden_states(gpt2_real, texts)
    states_b = extract_hidden_states(minilm, texts)
    items_a, items_b = paired_items(states_a, states_b)
    flagged_a = {items_a.labels[i] for i in np.flatnonzero(items_a.shared_token)}
    flagged_b = {items_b.labels[i] for i in np.flatnonzero(items_b.shared_token)}
    assert {":", "/"} <= flagged_a  # GPT-2's "://" spans three words
    assert "See" not in flagged_a and "now" not in flagged_a
    assert {"x", "😀", "y"} <= flagged_b  # one [UNK] covers "x😀y"
    assert "ok" not in flagged_b


def test_cjk_text_gives_one_item_per_ideograph(gpt2_real, minilm):
    texts = ["我爱北京", "東京タワー"]
    items_a, items_b = paired_items(
        extract_hidden_states(gpt2_real, texts), extract_hidden_states(minilm, texts)
    )
    assert items_a.labels == items_b.labels == ["我", "爱", "北", "京", "東", "京", "タワー"]


def test_duplicate_sentences_are_counted_once(tiny_gpt2, tiny_bert):
    texts = ["The bank raised rates.", "A river bank.", "The bank raised rates."]
    assert duplicate_sentences(texts) == [2]
    states = [extract_hidden_states(m, texts) for m in (tiny_gpt2, tiny_bert)]
    kept, _ = paired_items(*states, drop_duplicate_sentences=True)
    every, _ = paired_items(*states)
    assert kept.n_items == every.n_items - 5 and 2 not in kept.sentence.tolist()
