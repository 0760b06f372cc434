"""How contextual a model is: the occurrences of one word in different sentences, layer by layer.

A static embedding gives every occurrence of "bank" the same vector (self-similarity 1). A
contextual model gives each occurrence its own vector; how far apart they are, measured against
how alike any two different words are at that layer (the anisotropy baseline), says how much the
context changed them (Ethayarajh 2019).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import check_choice, check_layered
from .align import Items
from .geometry import PREPROCESSING, anisotropy, cosine_similarity_matrix, preprocess
from .layers import same_word_pairs
from .rsa import upper_triangle

DEFAULT_WORD = "bank"


def _is_word(text: str) -> bool:
    return any(character.isalnum() for character in text)


def recurring_words(items: Items, min_occurrences: int = 2) -> list[str]:
    """Words (lower-cased) that occur at least ``min_occurrences`` times, most frequent first.

    Punctuation is left out. Ties keep the order of first appearance.

    Examples
    --------
    >>> import numpy as np
    >>> labels = ["The", "bank", ".", "the", "Bank", ".", "cat"]
    >>> items = Items("word", labels, np.array([0, 0, 0, 1, 1, 1, 2]), np.zeros(7, int),
    ...               np.zeros((1, 7, 2)), labels)
    >>> recurring_words(items)
    ['the', 'bank']
    """
    counts: dict[str, int] = {}
    for label in items.labels:
        if _is_word(label):
            counts[label.lower()] = counts.get(label.lower(), 0) + 1
    # dicts keep insertion order, and sorted() is stable
    return sorted(
        (word for word, count in counts.items() if count >= min_occurrences),
        key=lambda word: -counts[word],
    )


def default_word(words: list[str], preferred: str = DEFAULT_WORD) -> str | None:
    """``preferred`` when it is offered, else the first offered word, else None."""
    if preferred.lower() in words:
        return preferred.lower()
    return words[0] if words else None


def occurrences(items: Items, word: str) -> np.ndarray:
    """Indices of the items whose label is ``word`` (case-insensitive), in text order."""
    target = word.strip().lower()
    return np.array(
        [index for index, label in enumerate(items.labels) if label.lower() == target],
        dtype=np.int64,
    )


def self_similarity(X) -> float:
    """Mean cosine between every pair of different rows (a word's occurrences); needs >= 2 rows.

    Examples
    --------
    >>> round(self_similarity([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]]), 12)
    1.0
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(
            f"self-similarity needs at least 2 occurrences as rows of a 2-D array; got {X.shape}"
        )
    if X.shape[0] == 2:
        return float(cosine_similarity_matrix(X)[0, 1])
    return float(upper_triangle(cosine_similarity_matrix(X)).mean())


@dataclass(frozen=True)
class ContextProfile:
    """One word's occurrences in one model, at every layer.

    Attributes
    ----------
    word : str
    indices : ndarray
        The occurrences' item indices.
    self_similarity : ndarray of shape (n_hidden_states,)
        Mean cosine between the occurrences.
    baseline : ndarray of shape (n_hidden_states,)
        Anisotropy: mean cosine between items of different words at that layer.
    preprocessing : str
    """

    word: str
    indices: np.ndarray
    self_similarity: np.ndarray
    baseline: np.ndarray
    preprocessing: str

    @property
    def adjusted(self) -> np.ndarray:
        """Self-similarity minus the anisotropy baseline (Ethayarajh 2019, section 3.4)."""
        return self.self_similarity - self.baseline

    @property
    def layers(self) -> np.ndarray:
        return np.arange(self.self_similarity.size)


def context_profile(items: Items, word: str, preprocessing: str = "none") -> ContextProfile:
    """Self-similarity of ``word`` and the anisotropy baseline at every layer.

    Parameters
    ----------
    items : Items
        One model's word items (all occurrences of all words).
    word : str
        Matched case-insensitively against the item labels; must occur at least twice.
    preprocessing : str
        Applied to all items of a layer before measuring.

    Returns
    -------
    ContextProfile

    References
    ----------
    Ethayarajh, K. (2019). How contextual are contextualized word representations? Comparing the
    geometry of BERT, ELMo, and GPT-2 embeddings. EMNLP.
    """
    check_choice(preprocessing, PREPROCESSING, "preprocessing")
    layered = check_layered(items.vectors, "items.vectors")
    indices = occurrences(items, word)
    if indices.size < 2:
        raise ValueError(
            f"{word!r} occurs {indices.size} time(s) in the text; self-similarity needs at least 2"
        )
    same = same_word_pairs(items)
    has_baseline = bool((~same).any())
    similarity, baseline = [], []
    for layer in layered:
        X = preprocess(layer, preprocessing)
        similarity.append(self_similarity(X[indices]))
        baseline.append(anisotropy(X, exclude_pairs=same) if has_baseline else np.nan)
    return ContextProfile(
        word=word.strip().lower(),
        indices=indices,
        self_similarity=np.array(similarity),
        baseline=np.array(baseline),
        preprocessing=preprocessing,
    )
