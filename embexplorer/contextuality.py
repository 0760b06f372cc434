"""How contextual a model is: the occurrences of one word in different sentences, layer by layer.

A static embedding gives every occurrence of "bank" the same vector (self-similarity 1). A
contextual model gives each occurrence its own vector; how far apart they are, measured against
how alike any two different words are at that layer (the anisotropy baseline), says how much the
context changed them (Ethayarajh 2019).

The definitions are Ethayarajh's: self-similarity is the mean cosine between occurrences in
*different* sentences; the baseline is the mean cosine between different words in different
sentences; occurrences are matched by token identity, so a cased model (GPT-2) keeps "Café" and
"café" apart while an uncased one (BERT uncased) does not; the paper uses words with at least
:data:`MIN_CONTEXTS` contexts (fewer still give a value, flagged by ``few_contexts``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import check_choice, check_layered, check_level
from .align import Items, word_key
from .geometry import PREPROCESSING, _unit_rows, cosine_similarity_matrix, preprocess
from .i18n import _
from .layers import _anisotropy, _ItemGroups, word_keys

DEFAULT_WORD = "bank"
MIN_CONTEXTS = 5  # Ethayarajh (2019) keeps words that occur in at least 5 different contexts


def _is_word(text: str) -> bool:
    return any(character.isalnum() for character in text)


def recurring_words(items: Items, min_contexts: int = 2, skip_first: bool = False) -> list[str]:
    """Words that occur in at least ``min_contexts`` different sentences, most contexts first.

    Words are matched as the model's tokenizer does (:func:`embexplorer.align.word_key`: case
    kept when ``items.cased``, lower-cased otherwise). Punctuation is left out. Ties keep the order
    of first appearance. With ``skip_first`` the first word of each sentence does not count.

    Examples
    --------
    >>> import numpy as np
    >>> labels = ["The", "bank", ".", "the", "Bank", ".", "cat"]
    >>> def items(cased):
    ...     return Items("word", labels, np.array([0, 0, 0, 1, 1, 1, 2]), np.zeros(7, int),
    ...                  np.zeros((1, 7, 2)), labels, cased=cased)
    >>> recurring_words(items(cased=False)), recurring_words(items(cased=True))
    (['the', 'bank'], [])
    """
    counts = sentence_counts(items, skip_first)
    # dicts keep insertion order, and sorted() is stable
    return sorted(
        (word for word, n in counts.items() if n >= min_contexts), key=lambda word: -counts[word]
    )


def sentence_counts(items: Items, skip_first: bool = False) -> dict[str, int]:
    """How many different sentences each word occurs in, by its matching key (see
    :func:`recurring_words`; punctuation left out), in order of first appearance: one pass,
    where counting each word's occurrences apart was O(words x items) on a corpus."""
    contexts: dict[str, set[int]] = {}
    for label, sentence, position in zip(items.labels, items.sentence, items.position, strict=True):
        if _is_word(label) and not (skip_first and position == 0):
            contexts.setdefault(word_key(label, items.cased), set()).add(int(sentence))
    return {word: len(seen) for word, seen in contexts.items()}


def offered_words(
    items_a: Items, items_b: Items, skip_first: bool = False, min_contexts: int = 2
) -> list[str]:
    """The words both models can measure: in at least ``min_contexts`` different sentences in
    each model, as each matches occurrences (case kept in a cased model), in model A's form.

    A cased and an uncased model may disagree: "Bank" in one sentence and "bank" in another are
    one word for BERT uncased and two for GPT-2, so such a word is offered only where both can
    measure it (never an error).

    Examples
    --------
    >>> import numpy as np
    >>> labels = ["The", "bank", "the", "Bank", "a", "bank"]
    >>> def items(cased):
    ...     return Items("word", labels, np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1] * 3),
    ...                  np.zeros((1, 6, 2)), labels, cased=cased)
    >>> offered_words(items(True), items(False)), offered_words(items(False), items(True))
    (['bank'], ['bank'])
    """
    in_b = set(recurring_words(items_b, min_contexts, skip_first))
    return [
        word
        for word in recurring_words(items_a, min_contexts, skip_first)
        if word_key(word, items_b.cased) in in_b
    ]


def default_word(words: list[str], preferred: str = DEFAULT_WORD) -> str | None:
    """``preferred`` (or its lower-case form) when it is offered, else the first offered word,
    else None."""
    for candidate in (preferred, preferred.lower()):
        if candidate in words:
            return candidate
    return words[0] if words else None


def occurrences(items: Items, word: str, skip_first: bool = False) -> np.ndarray:
    """Indices of the items that are occurrences of ``word``, in text order.

    Matched by :func:`embexplorer.align.word_key` (exact in a cased model, ignoring case in an
    uncased one). With ``skip_first`` an occurrence at position 0 (the first word of its
    sentence) is left out.
    """
    target = word_key(word.strip(), items.cased)
    keys = word_keys(items)
    return np.array(
        [
            index
            for index, key in enumerate(keys)
            if key == target and not (skip_first and items.position[index] == 0)
        ],
        dtype=np.int64,
    )


def _different_sentence_pairs(sentence) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the pairs (i < j) whose rows come from different sentences."""
    sentence = np.asarray(sentence)
    rows, cols = np.triu_indices(sentence.size, k=1)
    keep = sentence[rows] != sentence[cols]
    return rows[keep], cols[keep]


def self_similarity(X, sentence=None) -> float:
    """Mean cosine between a word's occurrences in different sentences (Ethayarajh 2019).

    Parameters
    ----------
    X : array-like of shape (n_occurrences, n_dims)
    sentence : array-like of shape (n_occurrences,), optional
        The sentence of each occurrence; pairs from the same sentence are left out. Without it
        every pair of different rows counts.

    Examples
    --------
    >>> round(self_similarity([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]]), 12)
    1.0
    >>> self_similarity([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], sentence=[0, 0, 1])
    0.0
    """
    X = np.asarray(X, dtype=np.float64)
    sentence = np.arange(X.shape[0]) if sentence is None else np.asarray(sentence)
    if X.ndim != 2 or sentence.shape != (X.shape[0],):
        raise ValueError(
            f"X must be (n_occurrences, n_dims) and sentence (n_occurrences,); got {X.shape} "
            f"and {sentence.shape}"
        )
    rows, cols = _different_sentence_pairs(sentence)
    if rows.size == 0:
        raise ValueError(
            _(
                "self-similarity needs at least 2 occurrences in different sentences; got "
                "{n} in {n_sentences} sentence(s)"
            ).format(n=X.shape[0], n_sentences=np.unique(sentence).size)
        )
    return float(cosine_similarity_matrix(X)[rows, cols].mean())


def _bootstrap_self_similarity(
    similarity: np.ndarray, sentence: np.ndarray, bootstraps: int, rng: np.random.Generator
) -> np.ndarray:
    """Self-similarity of ``bootstraps`` resamples (with replacement) of the occurrences.

    ``similarity`` is the occurrences' cosine matrix; a pair of copies of one occurrence has one
    sentence and so never counts. NaN for a resample with no pair from different sentences.
    """
    k = sentence.size
    samples = rng.integers(0, k, size=(bootstraps, k))
    # A resample is its multiplicities c: its pairs of different sentences sum to c^T S' c / 2,
    # S' the cosines with same-sentence pairs (and the diagonal) zeroed. O(bootstraps k^2) time
    # in two matrix products and O(bootstraps k) memory, not a (bootstraps, k^2 / 2) gather: a
    # frequent word of a corpus has hundreds of occurrences.
    multiplicity = np.bincount(
        (samples + k * np.arange(bootstraps)[:, None]).ravel(), minlength=bootstraps * k
    ).reshape(bootstraps, k)
    multiplicity = multiplicity.astype(np.float64)
    different = sentence[:, None] != sentence[None, :]
    totals = np.einsum(
        "bi,bi->b", multiplicity @ np.where(different, similarity, 0.0), multiplicity
    )
    totals /= 2
    counts = np.einsum("bi,bi->b", multiplicity @ different.astype(np.float64), multiplicity) / 2
    counts = np.rint(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)


@dataclass(frozen=True)
class ContextProfile:
    """One word's occurrences in one model, at every layer.

    Attributes
    ----------
    word : str
        The word as matched (lower-cased for an uncased model).
    indices : ndarray
        The occurrences' item indices.
    self_similarity : ndarray of shape (n_hidden_states,)
        Mean cosine between occurrences in different sentences.
    baseline : ndarray of shape (n_hidden_states,)
        Anisotropy: mean cosine between different words in different sentences at that layer.
    preprocessing : str
    ci_low, ci_high : ndarray of shape (n_hidden_states,)
        Percentile bootstrap interval of ``self_similarity`` over occurrences (NaN when
        ``bootstraps`` was 0).
    n_contexts : int
        How many different sentences the occurrences come from.
    min_contexts : int
        Below this many contexts the value is shown with a warning (``few_contexts``).
    skip_first : bool
        Whether occurrences (and baseline items) at position 0 were left out.
    cased : bool
        Whether occurrences were matched with case (a cased model).
    ci_level : float
    """

    word: str
    indices: np.ndarray
    self_similarity: np.ndarray
    baseline: np.ndarray
    preprocessing: str
    ci_low: np.ndarray
    ci_high: np.ndarray
    n_contexts: int
    min_contexts: int = MIN_CONTEXTS
    skip_first: bool = False
    cased: bool = True
    ci_level: float = 0.95

    @property
    def adjusted(self) -> np.ndarray:
        """Self-similarity minus the anisotropy baseline (Ethayarajh 2019, section 3.4)."""
        return self.self_similarity - self.baseline

    @property
    def layers(self) -> np.ndarray:
        return np.arange(self.self_similarity.size)

    @property
    def n_occurrences(self) -> int:
        return int(self.indices.size)

    @property
    def few_contexts(self) -> bool:
        """True when the word has fewer contexts than ``min_contexts`` (Ethayarajh uses >= 5)."""
        return self.n_contexts < self.min_contexts

    @property
    def warning(self) -> str:
        """A sentence for the reader when the word has few contexts, else ""."""
        if not self.few_contexts:
            return ""
        return _(
            "{word!r} occurs in only {n} different sentence(s); Ethayarajh (2019) uses words "
            "with at least {min_contexts}, so this value is uncertain."
        ).format(word=self.word, n=self.n_contexts, min_contexts=self.min_contexts)

    def layer_rows(self) -> list[dict]:
        """One dictionary per layer: layer, self_similarity, anisotropy, adjusted, the CI and
        n_occurrences (None for NaN)."""

        def value(array: np.ndarray, layer: int):
            return float(array[layer]) if np.isfinite(array[layer]) else None

        return [
            {
                "layer": int(layer),
                "self_similarity": value(self.self_similarity, layer),
                "anisotropy": value(self.baseline, layer),
                "adjusted": value(self.adjusted, layer),
                "ci_low": value(self.ci_low, layer),
                "ci_high": value(self.ci_high, layer),
                "n_occurrences": self.n_occurrences,
            }
            for layer in self.layers
        ]

    def to_dict(self) -> dict:
        """JSON-safe summary with one row per layer (:meth:`layer_rows`)."""
        return {
            "word": self.word,
            "n_occurrences": self.n_occurrences,
            "n_contexts": self.n_contexts,
            "min_contexts": self.min_contexts,
            "few_contexts": self.few_contexts,
            "warning": self.warning,
            "skip_first": self.skip_first,
            "cased": self.cased,
            "preprocessing": self.preprocessing,
            "ci_level": self.ci_level,
            "layers": self.layer_rows(),
        }


def context_profile(
    items: Items,
    word: str,
    preprocessing: str = "none",
    skip_first: bool = False,
    min_contexts: int = MIN_CONTEXTS,
    bootstraps: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
) -> ContextProfile:
    """Self-similarity of ``word``, its bootstrap interval and the anisotropy baseline at every
    layer, as Ethayarajh (2019) defines them.

    Parameters
    ----------
    items : Items
        One model's word items (all occurrences of all words).
    word : str
        Matched as the model's tokenizer would (case kept when ``items.cased``); must occur in at
        least 2 different sentences.
    preprocessing : str
        Applied to all items of a layer before measuring.
    skip_first : bool, default False
        Leave out items at position 0 (first word of a sentence), both occurrences and baseline:
        in GPT-2 the first position has an outsized vector, and the first word has no leading
        space, so it is a different token from the same word elsewhere.
    min_contexts : int, default 5
        Fewer different sentences than this still give a value, with ``few_contexts`` set.
    bootstraps : int, default 1000
        Resamples of the occurrences for the percentile interval; 0 skips it.
    ci_level : float, default 0.95
    seed : int, default 0

    Returns
    -------
    ContextProfile

    Raises
    ------
    ValueError
        When the word does not occur in 2 different sentences (after ``skip_first``).

    References
    ----------
    Ethayarajh, K. (2019). How contextual are contextualized word representations? Comparing the
    geometry of BERT, ELMo, and GPT-2 embeddings. EMNLP.
    """
    check_choice(preprocessing, PREPROCESSING, "preprocessing")
    check_level(ci_level)
    layered = check_layered(items.vectors, "items.vectors")
    indices = occurrences(items, word, skip_first)
    sentence = items.sentence[indices]
    n_contexts = int(np.unique(sentence).size)
    if n_contexts < 2:
        occurs = _("{word!r} occurs {n} time(s) in {n_sentences} sentence(s)").format(
            word=word, n=indices.size, n_sentences=n_contexts
        )
        if skip_first:
            occurs += " " + _("(position 0 left out)")
        raise ValueError(
            _(
                "{occurs}; self-similarity needs occurrences in at least 2 different sentences"
            ).format(occurs=occurs)
        )
    kept = np.flatnonzero(items.position != 0) if skip_first else np.arange(items.n_items)
    every_key = word_keys(items)  # once: per kept item it would be O(n^2) on a corpus
    keys = [every_key[i] for i in kept]
    rng = np.random.default_rng(seed)
    tail = 100 * (1 - ci_level) / 2
    # The baseline's groups (sentences, words) once for every layer: contextual_anisotropy
    # rebuilt them for each layer, seconds on a corpus's ~20,000 words.
    groups = _ItemGroups.of(items.sentence[kept], keys)
    similarity, baseline, low, high = [], [], [], []
    for layer in layered:
        X = preprocess(layer, preprocessing)
        similarity.append(self_similarity(X[indices], sentence))
        units = _unit_rows(X[kept])
        baseline.append(_anisotropy(units, groups.by_sentence @ units, groups))
        estimates = _bootstrap_self_similarity(
            cosine_similarity_matrix(X[indices]), sentence, bootstraps, rng
        )
        estimates = estimates[np.isfinite(estimates)]
        bounds = np.percentile(estimates, [tail, 100 - tail]) if estimates.size else [np.nan] * 2
        low.append(bounds[0])
        high.append(bounds[1])
    return ContextProfile(
        word=word_key(word.strip(), items.cased),
        indices=indices,
        self_similarity=np.array(similarity),
        baseline=np.array(baseline),
        preprocessing=preprocessing,
        ci_low=np.array(low, dtype=np.float64),
        ci_high=np.array(high, dtype=np.float64),
        n_contexts=n_contexts,
        min_contexts=min_contexts,
        skip_first=skip_first,
        cased=items.cased,
        ci_level=ci_level,
    )
