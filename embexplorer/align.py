"""One model-independent word segmentation; model tokens -> words; pooling into items.

GPT-2 (byte-level BPE, the space glued to the next token: "Ġbank") and BERT (WordPiece, "##"
continuations, lower-casing) cut the same text differently. The raw text is segmented once into
words (character spans); each model token belongs to every word its character offsets overlap;
the sub-word vectors of a word are pooled. Both models then give the same ordered items, and their
matrices compare item by item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import regex

from ._validation import check_choice
from .extract import HiddenStates
from .layerstack import LayerStack

UNITS = ("token", "word", "sentence")
COMPARABLE_UNITS = ("word", "sentence")  # the units two models share (tokens are per model)
POOLINGS = ("mean", "first", "last")

# CJK ideographs, the code-point ranges BERT's basic tokenizer puts spaces around
# (``BasicTokenizer._is_chinese_char``): each one is a word of its own. Kana and hangul are not in
# them, so runs of kana or hangul stay one word.
CJK_IDEOGRAPHS = (
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df\U0002a700-\U0002b73f"
    "\U0002b740-\U0002b81f\U0002b820-\U0002ceaf\U0002f800-\U0002fa1f"
)

# A word is a CJK ideograph, or a number with its separators ("2,048", "3.14"), or a run of other
# letters, marks and digits with inner apostrophes or hyphens ("don't", "well-known", accents in
# decomposed form), or else a single grapheme that is none of these (punctuation, an emoji with
# its modifiers: one item each).
_LETTERS = rf"[[\p{{L}}\p{{M}}\p{{N}}_]--[{CJK_IDEOGRAPHS}]]"
WORD_PATTERN = regex.compile(
    rf"[{CJK_IDEOGRAPHS}]"
    r"|\p{N}+(?:[.,:]\p{N}+)*"
    rf"|{_LETTERS}+(?:['’\-]{_LETTERS}+)*"
    r"|(?![\s\p{Cc}\p{Cf}])\X",
    flags=regex.VERSION1,
)


@dataclass(frozen=True)
class Word:
    """A word as written: its text, which sentence, and its character span there."""

    text: str
    sentence: int
    start: int
    end: int


def segment_words(text: str, sentence: int = 0) -> list[Word]:
    """Split raw text into words (character spans), independent of any model.

    Examples
    --------
    >>> [w.text for w in segment_words("I can't pay 2,048 €, sorry!")]
    ['I', "can't", 'pay', '2,048', '€', ',', 'sorry', '!']
    """
    return [
        Word(match.group(), sentence, match.start(), match.end())
        for match in WORD_PATTERN.finditer(text)
    ]


@dataclass
class Items:
    """Ordered items (tokens, words or sentences) with one vector per item at every layer.

    Attributes
    ----------
    unit : str
        ``"token"``, ``"word"`` or ``"sentence"``.
    labels : list of str
        The token, the word as written, or the sentence (shortened).
    sentence : ndarray of shape (n_items,)
        Index of the sentence each item comes from.
    position : ndarray of shape (n_items,)
        Token position in the model input (tokens), word index within the sentence (words),
        0 (sentences).
    vectors : ndarray or LayerStack of shape (n_hidden_states, n_items, hidden_size)
        Every layer's item vectors. Pooled and selected items are a
        :class:`~.layerstack.LayerStack` over the hidden states (a layer is computed when read);
        GPT-2's token items are a view of them. Read a layer with ``vectors[layer]``, a subset
        with ``vectors[:, rows]``; ``np.asarray(vectors)`` computes every layer.
    words : list of str
        For tokens: the word each token belongs to ("" for specials and whitespace); for words and
        sentences, the label.
    cased : bool
        True when the model's tokenizer keeps case (GPT-2: "Café" and "café" are different
        tokens), False when it lower-cases (BERT uncased). Occurrences of a word are matched
        accordingly (:func:`word_key`).
    shared_token : ndarray of shape (n_items,), bool, or None
        For words: True where the word shares a model token with another word (GPT-2's "://"
        or "...", a BERT ``[UNK]`` covering several words), so its vector is partly or wholly
        the other word's. None for tokens and sentences.
    """

    unit: str
    labels: list[str]
    sentence: np.ndarray
    position: np.ndarray
    vectors: np.ndarray | LayerStack
    words: list[str]
    cased: bool = True
    shared_token: np.ndarray | None = None

    @property
    def n_items(self) -> int:
        return len(self.labels)

    def subset(self, index) -> Items:
        """The items at ``index`` (in that order), every field kept in step."""
        index = np.asarray(index, dtype=np.int64)
        return Items(
            unit=self.unit,
            labels=[self.labels[i] for i in index],
            sentence=self.sentence[index],
            position=self.position[index],
            vectors=self.vectors[:, index, :],
            words=[self.words[i] for i in index],
            cased=self.cased,
            shared_token=None if self.shared_token is None else self.shared_token[index],
        )

    def display_labels(self) -> list[str]:
        """Labels made unique: a repeated label gets its sentence number ("bank (S2)")."""
        # Worked out once per Items (a page asks up to six times a rerun; 20,000 words take
        # ~50 ms): the app's items are cached and never modified.
        if "_display_labels" not in self.__dict__:
            self.__dict__["_display_labels"] = self._unique_labels()
        return list(self.__dict__["_display_labels"])

    def _unique_labels(self) -> list[str]:
        counts: dict[str, int] = {}
        for label in self.labels:
            counts[label] = counts.get(label, 0) + 1
        seen: dict[tuple[str, int], int] = {}
        out = []
        for label, sentence in zip(self.labels, self.sentence, strict=True):
            if counts[label] == 1:
                out.append(label)
                continue
            key = (label, int(sentence))
            seen[key] = seen.get(key, 0) + 1
            suffix = f" #{seen[key]}" if seen[key] > 1 else ""
            out.append(f"{label} (S{int(sentence) + 1}{suffix})")
        return out


def token_words(states: HiddenStates, words: list[Word]) -> list[list[int]]:
    """For each word, the indices of the model's tokens whose offsets overlap it (in order).

    A token that spans two words (a merged piece, an ``[UNK]`` covering several characters) belongs
    to both; special tokens and whitespace-only tokens belong to none.
    """
    members: list[list[int]] = [[] for _ in words]
    by_sentence: dict[int, list[int]] = {}
    for index, word in enumerate(words):
        by_sentence.setdefault(word.sentence, []).append(index)
    for sentence, word_indices in by_sentence.items():
        token_indices = np.flatnonzero((states.sentence == sentence) & ~states.special)
        if token_indices.size == 0:
            continue
        starts = states.offsets[token_indices, 0]
        ends = states.offsets[token_indices, 1]
        for word_index in word_indices:
            word = words[word_index]
            overlap = (starts < word.end) & (ends > word.start)
            members[word_index] = token_indices[overlap].tolist()
    return members


def word_key(label: str, cased: bool) -> str:
    """The form occurrences of a word are matched by: as written in a cased model, lower-cased in
    one whose tokenizer lower-cases.

    Examples
    --------
    >>> word_key("Café", cased=True), word_key("Café", cased=False)
    ('Café', 'café')
    """
    return label if cased else label.lower()


def shares_token(members: list[list[int]]) -> np.ndarray:
    """For each word, whether one of its tokens also belongs to another word.

    Examples
    --------
    >>> shares_token([[0], [1, 2], [2], [3]]).tolist()
    [False, True, True, False]
    """
    counts: dict[int, int] = {}
    for tokens in members:
        for token in set(tokens):
            counts[token] = counts.get(token, 0) + 1
    return np.array([any(counts[t] > 1 for t in tokens) for tokens in members], dtype=bool)


def _pool(vectors: np.ndarray, members: list[list[int]], pooling: str) -> LayerStack:
    """Pool token vectors [layers, tokens, dim] into [layers, len(members), dim], computed one
    layer at a time when read (:class:`~.layerstack.LayerStack`: no copy of the states)."""
    if pooling == "mean":
        return LayerStack.means(vectors, members)
    return LayerStack.selection(vectors, [m[0] if pooling == "first" else m[-1] for m in members])


def segment_texts(texts: tuple[str, ...] | list[str]) -> list[Word]:
    """All words of all texts, in order."""
    return [word for index, text in enumerate(texts) for word in segment_words(text, index)]


def shared_words(*states: HiddenStates) -> list[Word]:
    """The words every model has at least one token for, in text order.

    Words are only lost when a model truncated its input or its tokenizer dropped the characters
    (control characters, some zero-width marks); then they are left out for every model alike,
    so the item lists stay identical.
    """
    texts = states[0].texts
    for other in states[1:]:
        if other.texts != texts:
            raise ValueError("the hidden states come from different texts; words cannot be aligned")
    words = segment_texts(texts)
    covered = np.ones(len(words), dtype=bool)
    for model_states in states:
        covered &= np.array([bool(m) for m in token_words(model_states, words)], dtype=bool)
    return [word for word, keep in zip(words, covered, strict=True) if keep]


def _token_vectors(vectors: np.ndarray, index: np.ndarray) -> np.ndarray | LayerStack:
    """``vectors[:, index, :]`` for a sorted ``index``, never a copy: a view when the index is
    one contiguous run (every token kept, or one sentence without its [CLS] and [SEP]), else a
    :class:`~.layerstack.LayerStack` that reads the rows one layer at a time."""
    if index.size == 0 or index[-1] - index[0] + 1 == index.size:
        start = int(index[0]) if index.size else 0
        return vectors[:, start : start + index.size, :]
    return LayerStack.selection(vectors, index)


def token_items(states: HiddenStates, include_special: bool = False) -> Items:
    """Every token as an item (the model's own tokens: not comparable across models).

    When every token is kept (no special tokens, as for GPT-2, or ``include_special=True``) the
    items' vectors are a view of ``states.vectors``, not a copy: a corpus's hidden states are
    held once, not twice. Nothing writes into item vectors in place; callers that need to must
    copy first.
    """
    keep = np.ones(states.n_tokens, dtype=bool) if include_special else ~states.special
    index = np.flatnonzero(keep)
    words = segment_texts(states.texts)
    word_of_token = [""] * states.n_tokens
    for word, members in zip(words, token_words(states, words), strict=True):
        for token in members:
            word_of_token[token] = word_of_token[token] or word.text
    return Items(
        unit="token",
        labels=[states.tokens[i] for i in index],
        sentence=states.sentence[index],
        position=states.position[index],
        vectors=_token_vectors(states.vectors, index),
        words=[word_of_token[i] for i in index],
        cased=not states.model.lowercase,
    )


def word_items(states: HiddenStates, words: list[Word], pooling: str = "mean") -> Items:
    """Pool each word's sub-word token vectors (mean, first or last piece).

    For a causal model the last piece is the only one that has seen the whole word.
    """
    check_choice(pooling, POOLINGS, "pooling")
    members = token_words(states, words)
    missing = [w.text for w, m in zip(words, members, strict=True) if not m]
    if missing:
        raise ValueError(
            f"{states.model.short_name} has no token for the words {missing[:5]}; "
            "use shared_words() to get the words every model covers"
        )
    position = np.zeros(len(words), dtype=np.int64)
    counters: dict[int, int] = {}
    for index, word in enumerate(words):
        position[index] = counters.get(word.sentence, 0)
        counters[word.sentence] = position[index] + 1
    labels = [w.text for w in words]
    return Items(
        unit="word",
        labels=labels,
        sentence=np.array([w.sentence for w in words], dtype=np.int64),
        position=position,
        vectors=_pool(states.vectors, members, pooling),
        words=labels,
        cased=not states.model.lowercase,
        shared_token=shares_token(members),
    )


def shorten(text: str, limit: int = 40) -> str:
    """One line, at most ``limit`` characters, with an ellipsis when cut."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def sentence_items(states: HiddenStates, words: list[Word], pooling: str = "mean") -> Items:
    """Each sentence as the mean of its (pooled) words."""
    per_word = word_items(states, words, pooling)
    sentences = sorted({w.sentence for w in words})
    members = [np.flatnonzero(per_word.sentence == s).tolist() for s in sentences]
    labels = [f"S{s + 1}: {shorten(states.texts[s])}" for s in sentences]
    return Items(
        unit="sentence",
        labels=labels,
        sentence=np.array(sentences, dtype=np.int64),
        position=np.zeros(len(sentences), dtype=np.int64),
        vectors=per_word.vectors.pooled(members),
        words=labels,
        cased=per_word.cased,
    )


def build_items(
    states: HiddenStates,
    unit: str = "word",
    pooling: str = "mean",
    include_special: bool = False,
    words: list[Word] | None = None,
) -> Items:
    """Items of one unit for one model. ``words`` defaults to the words this model covers.

    For a comparison of two models pass ``words=shared_words(states_a, states_b)`` so both get
    the same items; :func:`paired_items` does exactly that.
    """
    check_choice(unit, UNITS, "unit")
    if unit == "token":
        return token_items(states, include_special)
    words = shared_words(states) if words is None else words
    if unit == "word":
        return word_items(states, words, pooling)
    return sentence_items(states, words, pooling)


def duplicate_sentences(texts: tuple[str, ...] | list[str]) -> list[int]:
    """Indices of the texts that repeat an earlier text exactly (after stripping).

    Examples
    --------
    >>> duplicate_sentences(["A cat.", "A dog.", "A cat.", " A cat. "])
    [2, 3]
    """
    seen: set[str] = set()
    repeats = []
    for index, text in enumerate(texts):
        if text.strip() in seen:
            repeats.append(index)
        seen.add(text.strip())
    return repeats


def paired_items(
    states_a: HiddenStates,
    states_b: HiddenStates,
    unit: str = "word",
    pooling: str = "mean",
    drop_duplicate_sentences: bool = False,
) -> tuple[Items, Items]:
    """The same ordered word or sentence items for two models, ready to compare item by item.

    With ``drop_duplicate_sentences`` a text that repeats an earlier one exactly contributes no
    items (it is counted once): its words would otherwise pair with their own copies, which any
    two models find alike (:func:`duplicate_sentences` lists them).
    """
    check_choice(unit, COMPARABLE_UNITS, "unit for a comparison")
    words = shared_words(states_a, states_b)
    if drop_duplicate_sentences:
        repeats = set(duplicate_sentences(states_a.texts))
        words = [word for word in words if word.sentence not in repeats]
    return (
        build_items(states_a, unit, pooling, words=words),
        build_items(states_b, unit, pooling, words=words),
    )


def spread_sample(n_items: int, max_items: int, seed: int = 0) -> np.ndarray:
    """At most ``max_items`` of ``range(n_items)``, spread evenly through the text, seeded.

    A systematic sample: every ``n / max_items``-th item from a seeded random start. Items are in
    text order, so every sentence keeps its share of items (a sample stratified by position in
    the text), and the same seed always picks the same items. All items when there are few.

    Examples
    --------
    >>> spread_sample(10, 4, seed=0).tolist()
    [1, 4, 6, 9]
    >>> spread_sample(3, 4).tolist()
    [0, 1, 2]
    """
    if n_items <= max_items:
        return np.arange(n_items)
    step = n_items / max_items
    start = np.random.default_rng(seed).uniform(0, step)
    return np.floor(start + step * np.arange(max_items)).astype(np.int64)
