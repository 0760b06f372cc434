"""Items' vectors at every layer, computed from the hidden states one layer at a time when read.

Word, sentence and token items are weighted sums of a model's token states (a word: the mean of
its sub-word tokens; a sentence: the mean of its words; a token item: one token). Holding every
layer of them as an array copied the hidden states once more: on a 1,000-sentence corpus both
models' word items weighed ~800 MB of float16 beside ~870 MB of hidden states. A
:class:`LayerStack` keeps only the sparse (items x tokens) weight matrix and the states it reads
(not a copy), and computes a layer when it is read: about 0.1 s for 20,000 words x 768 dims, most
of it converting float16 (measured on this 2-core machine).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from scipy import sparse


class LayerByLayer:
    """An array-like of shape (n_layers, n_items, dim) that makes one layer at a time, when read.

    Subclasses give ``shape``, ``dtype`` and ``layer(index)``; ``stack[layer]`` (an int) gives
    that layer as an ndarray, iterating gives the layers in order, a slice of layers gives an
    ndarray of those layers, and ``np.asarray(stack)`` builds every layer.
    """

    ndim = 3

    def layer(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def __len__(self) -> int:
        return self.shape[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self.layer(index) for index in range(len(self)))

    def _layers(self, key: slice) -> np.ndarray:
        layers = range(len(self))[key]
        out = np.empty((len(layers), *self.shape[1:]), dtype=self.dtype)
        for position, index in enumerate(layers):
            out[position] = self.layer(index)
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self._layers(slice(None))
        return out if dtype is None else out.astype(dtype, copy=False)

    def astype(self, dtype, copy: bool = True) -> np.ndarray:
        return self.__array__(dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype})"


class LayerStack(LayerByLayer):
    """``weights @ tokens[layer]`` for every layer: an array-like of shape (n_layers, n_items, dim).

    Parameters
    ----------
    tokens : ndarray of shape (n_layers, n_tokens, dim)
        A model's hidden states (held, never copied or written).
    weights : sparse matrix of shape (n_items, n_tokens)
        Each item's weight on each token (a row of 1 / n for a mean, a single 1 for a token).

    Notes
    -----
    ``stack[layer]`` (an int) gives that layer as an ndarray in ``tokens``' dtype; iterating gives
    the layers in order; ``stack[:, rows]`` (or ``stack[:, rows, :]``) gives the stack of those
    items, still lazy; a slice of layers gives an ndarray of those layers. Anything else, and
    ``np.asarray(stack)``, computes every layer. float16 states are summed in float32 (the result
    is rounded to float16 anyway), others in float64, as the eager pooling did.
    """

    def __init__(self, tokens: np.ndarray, weights):
        weights = sparse.csr_matrix(weights)
        if tokens.ndim != 3 or weights.shape[1] != tokens.shape[1]:
            raise ValueError(
                f"weights of shape {weights.shape} do not fit token states of shape {tokens.shape}"
            )
        self.tokens = tokens
        work = np.float32 if tokens.dtype == np.float16 else np.float64
        self.weights = weights.astype(work)
        # A layer reads (and converts) only the token rows some item uses: a sample of 3,000
        # words need not convert all 24,000 tokens of a corpus at every layer.
        used = np.unique(self.weights.indices)
        self._rows = used if used.size < tokens.shape[1] else slice(None)
        self._compact = self.weights[:, used] if used.size < tokens.shape[1] else self.weights

    @classmethod
    def selection(cls, tokens: np.ndarray, rows: Sequence[int] | np.ndarray) -> LayerStack:
        """The stack of the tokens ``rows`` (in that order)."""
        rows = np.asarray(rows, dtype=np.int64)
        ones = np.ones(rows.size)
        return cls(
            tokens,
            sparse.csr_matrix(
                (ones, (np.arange(rows.size), rows)), shape=(rows.size, tokens.shape[1])
            ),
        )

    @classmethod
    def means(cls, tokens: np.ndarray, members: Sequence[Sequence[int]]) -> LayerStack:
        """The stack of each member list's mean token (every list non-empty)."""
        return cls(tokens, mean_weights(members, tokens.shape[1]))

    def pooled(self, members: Sequence[Sequence[int]]) -> LayerStack:
        """The stack of each member list's mean item of this stack (a mean of means)."""
        return LayerStack(self.tokens, mean_weights(members, self.shape[1]) @ self.weights)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.tokens.shape[0], self.weights.shape[0], self.tokens.shape[2])

    @property
    def dtype(self) -> np.dtype:
        return self.tokens.dtype

    def layer(self, index: int) -> np.ndarray:
        """One layer's item vectors, shape (n_items, dim)."""
        if isinstance(self._rows, slice):
            tokens = self.tokens[index]
        elif hasattr(self.tokens, "layer_rows"):  # on disk: read only the rows used
            tokens = self.tokens.layer_rows(index, self._rows)
        else:
            tokens = self.tokens[index][self._rows]
        tokens = tokens.astype(self.weights.dtype, copy=False)
        out = np.asarray(self._compact @ tokens)
        # Checked before rounding back: numpy's float16 ufuncs are emulated, ~10x slower. Means
        # of float16 values stay within float16's range.
        if not np.isfinite(out).all():
            raise ValueError(f"vectors contain NaN or infinite values at layer {index}")
        return out.astype(self.tokens.dtype, copy=False)

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self.layer(int(key))
        if isinstance(key, slice):
            return self._layers(key)
        items = items_key(key)
        if items is not None:
            return LayerStack(self.tokens, self.weights[items])
        return np.asarray(self)[key]


def items_key(key):
    """``key``'s index on the middle axis when it reads ``[:, items]`` or ``[:, items, :]`` (a
    slice, rows or a mask; not one int); else None."""
    if (
        isinstance(key, tuple)
        and len(key) in (2, 3)
        and all(isinstance(k, slice) and k == slice(None) for k in key[::2])
        and not isinstance(key[1], (int, np.integer))
    ):
        return key[1]
    return None


def mean_weights(members: Sequence[Sequence[int]], n_columns: int) -> sparse.csr_matrix:
    """The (len(members) x n_columns) matrix whose row i averages the columns ``members[i]``."""
    sizes = np.array([len(m) for m in members], dtype=np.int64)
    return sparse.csr_matrix(
        (
            np.repeat(1.0 / np.maximum(sizes, 1), sizes),
            (
                np.repeat(np.arange(len(members)), sizes),
                np.concatenate([np.asarray(m, dtype=np.int64) for m in members])
                if len(members)
                else np.zeros(0, dtype=np.int64),
            ),
        ),
        shape=(len(members), n_columns),
    )
