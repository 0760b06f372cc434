"""What a page shows, as one frozen, hashable value: the cache key of every cached computation.

A :class:`Selection` names both models, the texts, the items (unit, pooling, special tokens), the
layers and the preprocessing. Streamlit hashes a dataclass by its fields, so two sessions with the
same selection share every cached result, and a computation that does not depend on a field is
given a selection with that field normalised away (see :meth:`Selection.for_items`), so changing
it reuses the result.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Selection:
    """Models, texts, items, layers and preprocessing: everything a computation depends on.

    Attributes
    ----------
    names : (str, str)
        Model A's and model B's hub id or folder.
    texts : tuple of str
        The sentences, after the server's limits.
    layers : (int, int) or None
        Model A's and model B's hidden state (0 = embeddings); None for a result computed over
        every hidden state.
    unit : {"token", "word", "sentence"}
    pooling : {"mean", "first", "last"}
    preprocessing : {"none", "center", "standardize"}
    special : bool
        Keep special tokens ([CLS], [SEP]) as items (tokens only).
    """

    names: tuple[str, str]
    texts: tuple[str, ...]
    layers: tuple[int, int] | None = None
    unit: str = "word"
    pooling: str = "mean"
    preprocessing: str = "none"
    special: bool = False

    def cache_key(self) -> tuple:
        """What Streamlit's caches hash instead of the selection: every field, the texts as one
        digest. Hashed field by field, a dataclass is deep-copied and its texts hashed one
        string at a time: 13 ms for 1,000 sentences, paid by each of a rerun's dozens of cached
        calls. ``repr`` of a tuple of strings is unambiguous, so equal digests mean equal texts
        (but for an MD5 collision)."""
        return tuple(
            hashlib.md5(repr(self.texts).encode(), usedforsecurity=False).hexdigest()
            if field.name == "texts"
            else getattr(self, field.name)
            for field in fields(self)
        )

    @property
    def paired_unit(self) -> str:
        """The unit both models share: tokens cannot be paired across two tokenizers, so words."""
        return "word" if self.unit == "token" else self.unit

    def paired(self) -> Selection:
        """The same selection with items both models share (words instead of tokens)."""
        return replace(self, unit=self.paired_unit, special=False)

    def for_items(self, unit: str | None = None) -> Selection:
        """Only what the items depend on: the layers and preprocessing normalised away, and
        special tokens only for tokens (words and sentences never include them)."""
        unit = unit or self.unit
        return replace(
            self,
            unit=unit,
            layers=None,
            preprocessing="none",
            special=self.special and unit == "token",
        )

    def at_layers(self, unit: str | None = None) -> Selection:
        """Items of ``unit`` at this selection's layers and preprocessing."""
        return replace(self.for_items(unit), layers=self.layers, preprocessing=self.preprocessing)

    def all_layers(self, unit: str | None = None) -> Selection:
        """Items of ``unit`` with this preprocessing, for a result over every layer."""
        return replace(self.for_items(unit), preprocessing=self.preprocessing)
