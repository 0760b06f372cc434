"""A model's hidden states kept in a temporary file and read one layer at a time.

Even as float16, a 1,000-sentence corpus's states weigh ~440 MB per model (13 layers x 22,000
tokens x 768). Held in memory beside both full-size models they took a server to ~2.9 GB, above
what a free hosting tier offers; every page reads one layer (or a sample of rows) at a time anyway.
In a file, the operating system's page cache serves them as fast as memory while there is room
and drops them, not the server, when there is not. The layers are the outer axis, so a layer is
one contiguous read: ~10 ms for 22,000 tokens x 768 float16 from the page cache (2-core machine).
"""

from __future__ import annotations

import math
import tempfile
import threading

import numpy as np

from .layerstack import LayerByLayer, LayerStack, items_key


class _StatesFile:
    """An anonymous temporary file (unlinked at once on POSIX), closed and gone with its last
    reader. Reads and writes take a lock: sessions read concurrently through one file offset."""

    def __init__(self, nbytes: int):
        self.handle = tempfile.TemporaryFile(prefix="embexplorer-states-", buffering=0)
        self.handle.truncate(nbytes)  # sparse until written
        self.lock = threading.Lock()
        self.nonfinite_layers: set[int] = set()

    def read_into(self, buffer: memoryview, offset: int) -> None:
        with self.lock:
            self.handle.seek(offset)
            done = 0
            while done < len(buffer):
                count = self.handle.readinto(buffer[done:])
                if not count:
                    raise OSError(f"hidden states file ended {len(buffer) - done} bytes early")
                done += count

    def write(self, data: memoryview, offset: int) -> None:
        with self.lock:
            self.handle.seek(offset)
            done = 0
            while done < len(data):
                done += self.handle.write(data[done:])


# Rows are read run by run when at most 1 / SPARSE_READ_FRACTION of a layer is asked for; more
# rows read the whole layer at once (one call instead of thousands).
SPARSE_READ_FRACTION = 4


def _all_finite(values: np.ndarray) -> bool:
    if values.dtype == np.float16:  # numpy emulates float16 ufuncs (~10x slower): test the bits
        return not ((values.view(np.uint16) & 0x7C00) == 0x7C00).any()
    return bool(np.isfinite(values).all())


class LayersOnDisk(LayerByLayer):
    """An array-like of shape (n_layers, n_tokens, dim) whose values live in a temporary file.

    Parameters
    ----------
    shape : (n_layers, n_tokens, dim)
    dtype : numpy float dtype

    Notes
    -----
    Filled with ``array[:, start:stop] = values`` (values of shape (n_layers, stop - start, dim)).
    Read with ``array[layer]`` (an ndarray of that layer, the only read that touches the file),
    iteration (the layers in order), ``array[:, start:stop]`` (a window on the same file, no
    copy), ``array[:, rows]`` (a :class:`~.layerstack.LayerStack` of those token rows, read
    when a layer is asked for) and ``array[first:last]`` (those layers, as an ndarray).
    Anything else, ``np.asarray(array)``, ``copy()`` and pickling build the whole array in
    memory. Non-finite values are noted when written, so readers need not scan every layer.
    """

    def __init__(self, shape: tuple[int, int, int], dtype=np.float32):
        self._dtype = np.dtype(dtype)
        self._full = tuple(int(n) for n in shape)
        if len(self._full) != 3:
            raise ValueError(f"shape must be (n_layers, n_tokens, dim), got {shape}")
        self._file = _StatesFile(math.prod(self._full) * self._dtype.itemsize)
        self._start, self._stop = 0, self._full[1]

    def _window(self, start: int, stop: int) -> LayersOnDisk:
        view = object.__new__(LayersOnDisk)
        view._dtype, view._full, view._file = self._dtype, self._full, self._file
        view._start, view._stop = self._start + start, self._start + stop
        return view

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self._full[0], self._stop - self._start, self._full[2])

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self._dtype.itemsize

    @property
    def all_finite(self) -> bool:
        return not self._file.nonfinite_layers

    def _offset(self, layer: int, token: int) -> int:
        return (layer * self._full[1] + token) * self._full[2] * self._dtype.itemsize

    def layer(self, index: int) -> np.ndarray:
        """One layer's vectors, shape (n_tokens, dim), read from the file into a new array."""
        index = range(len(self))[index]  # negative counts from the last; IndexError past the end
        out = np.empty(self.shape[1:], dtype=self._dtype)
        if out.size:
            self._file.read_into(memoryview(out).cast("B"), self._offset(index, self._start))
        return out

    def layer_rows(self, index: int, rows: np.ndarray) -> np.ndarray:
        """``self[index][rows]`` for sorted, distinct ``rows``, reading only those rows when they
        are few (a sample of whole sentences is a few long runs of tokens; a tenth of a layer
        read in runs costs a tenth of reading it all)."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size * SPARSE_READ_FRACTION > self.shape[1]:
            return self.layer(index)[rows]
        index = range(len(self))[index]
        out = np.empty((rows.size, self.shape[2]), dtype=self._dtype)
        starts = np.flatnonzero(np.diff(rows, prepend=-2) != 1)  # where each run of rows begins
        ends = np.append(starts[1:], rows.size)
        row_bytes = self.shape[2] * self._dtype.itemsize
        view = memoryview(out).cast("B")
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            self._file.read_into(
                view[start * row_bytes : end * row_bytes],
                self._offset(index, self._start + int(rows[start])),
            )
        return out

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self.layer(int(key))
        if isinstance(key, slice):
            return self._layers(key)
        rows = _token_key(key)
        if isinstance(rows, slice):
            start, stop, _ = rows.indices(self.shape[1])
            return self._window(start, max(start, stop))
        if rows is not None:
            return LayerStack.selection(self, rows)
        return np.asarray(self)[key]

    def __setitem__(self, key, values) -> None:
        rows = _token_key(key)
        if not isinstance(rows, slice):
            raise TypeError("LayersOnDisk is written as array[:, start:stop] = values")
        start, stop, _ = rows.indices(self.shape[1])
        values = np.asarray(values)
        if values.shape != (len(self), max(0, stop - start), self.shape[2]):
            raise ValueError(f"values of shape {values.shape} do not fit [:, {start}:{stop}]")
        for index in range(len(self)):
            self.write_layer(index, start, values[index])

    def write_layer(self, index: int, start: int, values) -> None:
        """Write rows ``start:start + len(values)`` of layer ``index`` (values: (n, dim))."""
        layer = np.ascontiguousarray(values, dtype=self._dtype)
        if layer.ndim != 2 or layer.shape[1] != self.shape[2] or start + len(layer) > self.shape[1]:
            raise ValueError(f"rows of shape {layer.shape} do not fit at token {start}")
        if not _all_finite(layer):
            self._file.nonfinite_layers.add(index)
        if layer.size:
            self._file.write(memoryview(layer).cast("B"), self._offset(index, self._start + start))

    def copy(self) -> np.ndarray:
        return np.asarray(self)

    def __reduce__(self):
        return (np.asarray, (np.asarray(self),))


def _token_key(key):
    """``key``'s token index when it reads ``[:, tokens]`` or ``[:, tokens, :]`` (a step-1
    slice, or 1-d integer rows, or a 1-d mask turned into rows); else None."""
    tokens = items_key(key)
    if tokens is None:
        return None
    if isinstance(tokens, slice):
        return tokens if tokens.step in (None, 1) else None
    rows = np.asarray(tokens)
    if rows.ndim != 1:
        return None
    if rows.dtype == bool:
        return np.flatnonzero(rows)
    return rows.astype(np.int64) if np.issubdtype(rows.dtype, np.integer) or not rows.size else None
