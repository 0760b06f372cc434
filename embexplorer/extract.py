"""Texts -> every layer's hidden states for every token, with offsets, flags and positions.

One forward pass per batch returns all hidden states (index 0 = embeddings, 1..L = blocks), so
changing the layer, metric or projection afterwards never runs a model again. Padding is on the
right and masked, so a real token's vector is the same whether its text is run alone or in a batch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .i18n import N_, Message
from .models import LoadedModel, ModelInfo
from .ondisk import LayersOnDisk

# Shown instead of whitespace in token strings, so "Ġbank" reads "␣bank" and a newline is visible.
_VISIBLE_WHITESPACE = str.maketrans({" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"})


class ExtractionCancelled(RuntimeError):
    """The progress callback asked to stop."""


@dataclass
class HiddenStates:
    """Every hidden state of every token of a list of texts, for one model.

    All texts' tokens are concatenated along the token axis; ``sentence`` says which text each
    token belongs to. Padding is never stored. Special tokens are stored and flagged.

    Attributes
    ----------
    model : ModelInfo
    texts : tuple of str
        The texts as given (offsets index into these).
    vectors : ndarray or LayersOnDisk of shape (n_hidden_states, n_tokens, hidden_size)
        float32, or the ``dtype`` :func:`extract_hidden_states` was given (the app keeps float16);
        a :class:`~.ondisk.LayersOnDisk` when they were bigger than its ``spill_mb``.
    tokens : list of str
        Readable token strings ("␣bank" for GPT-2's "Ġbank", "##ing" for WordPiece).
    token_ids : ndarray of shape (n_tokens,)
    sentence : ndarray of shape (n_tokens,)
        Index of the text each token comes from.
    position : ndarray of shape (n_tokens,)
        Position of the token in its model input (0 = first, special tokens included).
    offsets : ndarray of shape (n_tokens, 2)
        Character span ``[start, end)`` in its text; special tokens have ``(0, 0)``.
    special : ndarray of shape (n_tokens,), bool
    truncated : tuple of bool
        Per text: True when it was longer than the model's maximum and was cut.
    warnings : list of str
        English strings that show in the reader's language (:class:`~.i18n.Message`).
    """

    model: ModelInfo
    texts: tuple[str, ...]
    vectors: np.ndarray
    tokens: list[str]
    token_ids: np.ndarray
    sentence: np.ndarray
    position: np.ndarray
    offsets: np.ndarray
    special: np.ndarray
    truncated: tuple[bool, ...]
    warnings: list[str] = field(default_factory=list)

    @property
    def n_hidden_states(self) -> int:
        return self.vectors.shape[0]

    @property
    def n_tokens(self) -> int:
        return self.vectors.shape[1]

    def layer(self, index: int) -> np.ndarray:
        """Vectors of all tokens at one hidden state (negative counts from the last)."""
        from .models import resolve_layer

        return self.vectors[resolve_layer(index, self.n_hidden_states, self.model.short_name)]

    def texts_slice(self, start: int, stop: int) -> HiddenStates:
        """The hidden states of texts ``start:stop`` only, as if they had been run alone (their
        own copy of the vectors, or a window on the same file when they are on disk; sentence
        numbers and warnings count from ``start``)."""
        tokens = np.flatnonzero((self.sentence >= start) & (self.sentence < stop))
        first, end = (tokens[0], tokens[-1] + 1) if tokens.size else (0, 0)
        truncated = list(self.truncated[start:stop])
        return HiddenStates(
            model=self.model,
            texts=self.texts[start:stop],
            vectors=self.vectors[:, first:end]
            if isinstance(self.vectors, LayersOnDisk)
            else self.vectors[:, first:end].copy(),
            tokens=self.tokens[first:end],
            token_ids=self.token_ids[first:end].copy(),
            sentence=self.sentence[first:end] - start,
            position=self.position[first:end].copy(),
            offsets=self.offsets[first:end].copy(),
            special=self.special[first:end].copy(),
            truncated=tuple(truncated),
            warnings=truncation_warnings(truncated, self.model),
        )


def concatenate_states(
    parts: Sequence[HiddenStates], spill_mb: float | None = None
) -> HiddenStates:
    """One model's hidden states of several runs as one run of all their texts, in order.

    Padding is masked, so a text's vectors do not depend on what it was run with: the result
    equals running all the texts at once, up to float rounding (as :meth:`~HiddenStates.
    texts_slice` does the other way). With :meth:`~HiddenStates.texts_slice` this assembles a
    new text from the states of sentences already run, so only new sentences need the model.

    Parameters
    ----------
    parts : sequence of HiddenStates
        At least one, all of the same model and hidden-state shape.
    spill_mb : float, optional
        As in :func:`extract_hidden_states`: a result bigger than this goes to a temporary
        file, written one part and layer at a time (parts on disk are read the same way).

    Returns
    -------
    HiddenStates
    """
    if not parts:
        raise ValueError("no hidden states to concatenate")
    first = parts[0]
    for index, part in enumerate(parts[1:], start=2):
        if part.model != first.model or part.vectors.shape[::2] != first.vectors.shape[::2]:
            raise ValueError(
                f"part {index} holds {part.model.short_name}'s states of shape "
                f"{part.vectors.shape}; part 1 {first.model.short_name}'s of shape "
                f"{first.vectors.shape}"
            )
    text_offsets = np.cumsum([0] + [len(part.texts) for part in parts[:-1]])
    truncated = [cut for part in parts for cut in part.truncated]
    n_layers, _, dim = first.vectors.shape
    vectors = _allocate(
        (n_layers, sum(part.n_tokens for part in parts), dim), first.vectors.dtype, spill_mb
    )
    start = 0
    for part in parts:
        if isinstance(vectors, LayersOnDisk):
            for layer in range(n_layers):
                vectors.write_layer(layer, start, part.vectors[layer])
        else:
            vectors[:, start : start + part.n_tokens] = np.asarray(part.vectors)
        start += part.n_tokens
    return HiddenStates(
        model=first.model,
        texts=tuple(text for part in parts for text in part.texts),
        vectors=vectors,
        tokens=[token for part in parts for token in part.tokens],
        token_ids=np.concatenate([part.token_ids for part in parts]),
        sentence=np.concatenate(
            [part.sentence + offset for part, offset in zip(parts, text_offsets, strict=True)]
        ),
        position=np.concatenate([part.position for part in parts]),
        offsets=np.concatenate([part.offsets for part in parts]),
        special=np.concatenate([part.special for part in parts]),
        truncated=tuple(truncated),
        warnings=truncation_warnings(truncated, first.model),
    )


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return {char: byte for byte, char in bytes_to_unicode().items()}


def _is_byte_level(tokenizer) -> bool:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    decoder = getattr(backend, "decoder", None)
    return type(decoder).__name__ == "ByteLevel"


def readable_token(token: str, byte_level: bool) -> str:
    """A token string as a person reads it.

    Byte-level BPE stores bytes as printable stand-ins ("Ġ" for a space); they are decoded back to
    text, whitespace is made visible, and a piece of a multi-byte character is shown as its bytes
    (``<E4>``) because on its own it is not a character.
    """
    if byte_level:
        decoder = _byte_decoder()
        if all(char in decoder for char in token):
            raw = bytes(decoder[char] for char in token)
            try:
                token = raw.decode("utf-8")
            except UnicodeDecodeError:
                return "".join(f"<{byte:02X}>" for byte in raw)
    return token.translate(_VISIBLE_WHITESPACE)


def _validate_texts(texts: Sequence[str]) -> tuple[str, ...]:
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not one string")
    texts = tuple(texts)
    if not texts:
        raise ValueError(Message(N_("no text given: enter at least one sentence")))
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text {index + 1} is {type(text).__name__}, not str")
        if not text.strip():
            raise ValueError(Message(N_("text {number} is empty"), number=index + 1))
    return texts


def _encode(loaded: LoadedModel, texts: Sequence[str]) -> tuple[list[dict], list[bool]]:
    """Tokenise with truncation at the model's maximum; report which texts were cut."""
    encoded = loaded.tokenizer(
        list(texts),
        truncation=True,
        max_length=loaded.info.max_length,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        padding=False,
    )
    # Overflow rows repeat a sample index; the first row of each sample is the truncated text.
    sample_of_row = encoded["overflow_to_sample_mapping"]
    rows: list[dict | None] = [None] * len(texts)
    truncated = [False] * len(texts)
    for row, sample in enumerate(sample_of_row):
        if rows[sample] is None:
            rows[sample] = {
                key: encoded[key][row]
                for key in ("input_ids", "offset_mapping", "special_tokens_mask")
            }
        else:
            truncated[sample] = True
    return rows, truncated  # type: ignore[return-value]


def token_counts(loaded: LoadedModel, texts: Sequence[str]) -> list[int]:
    """Tokens per text as the model will see them (special tokens included, after truncation).

    Tokenising is cheap next to a forward pass, so a server can check its token budget first.
    """
    texts = _validate_texts(texts)
    with loaded.lock:
        rows, _ = _encode(loaded, texts)
    return [len(row["input_ids"]) for row in rows]


def _forward(loaded: LoadedModel, rows: list[dict], dtype=np.float32) -> list[np.ndarray]:
    """One padded forward pass; per row, hidden states [n_hidden_states, n_tokens, dim] as
    ``dtype`` (each row a copy, so the padded batch is freed with the pass)."""
    import torch

    lengths = [len(row["input_ids"]) for row in rows]
    width = max(lengths)
    pad_id = loaded.tokenizer.pad_token_id
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for index, row in enumerate(rows):
        input_ids[index, : lengths[index]] = torch.tensor(row["input_ids"], dtype=torch.long)
        attention_mask[index, : lengths[index]] = 1
    device = loaded.info.device
    with torch.inference_mode():
        output = loaded.model(
            input_ids=input_ids.to(device),
            attention_mask=attention_mask.to(device),
            output_hidden_states=True,
        )
        stacked = torch.stack(output.hidden_states).float().cpu().numpy()
    del output
    return [stacked[:, index, :length, :].astype(dtype) for index, length in enumerate(lengths)]


def truncation_warnings(truncated: list[bool], info: ModelInfo) -> list[Message]:
    """One warning for all truncated texts (a corpus must not produce a wall of them), in the
    language of whoever reads it (the hidden states are cached for every visitor)."""
    cut = [index + 1 for index, was_cut in enumerate(truncated) if was_cut]
    if not cut:
        return []
    listed = ", ".join(map(str, cut[:5]))
    if len(cut) > 5:
        listed = Message(N_("{listed} and {more:,} more"), listed=listed, more=len(cut) - 5)
    if len(cut) == 1:
        text = N_(
            "text {listed} was longer than {model}'s maximum of {max_tokens} tokens and was "
            "truncated; words after the cut are left out."
        )
    else:
        text = N_(
            "texts {listed} were longer than {model}'s maximum of {max_tokens} tokens and were "
            "truncated; words after the cut are left out."
        )
    return [Message(text, listed=listed, model=info.short_name, max_tokens=info.max_length)]


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    library = ctypes.CDLL(name) if name else None
    return getattr(library, "malloc_trim", None)


def release_freed_memory() -> None:
    """Hand the heap memory freed by a model run back to the operating system.

    glibc keeps freed memory for reuse, so a server's footprint only grows: measured here, building,
    running and dropping random-weight copies of both full-size models left ~460 MB resident that
    nothing used, and a corpus run ~200 MB. ``malloc_trim`` returns it (a few milliseconds). Does
    nothing where the C library has no ``malloc_trim`` (macOS, musl).
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _allocate(shape: tuple[int, int, int], dtype, spill_mb: float | None):
    """Room for every hidden state: an array, or a temporary file above ``spill_mb``."""
    if spill_mb is not None and np.prod(shape) * np.dtype(dtype).itemsize > spill_mb * 2**20:
        return LayersOnDisk(shape, dtype)
    return np.empty(shape, dtype)


def extract_hidden_states(
    loaded: LoadedModel,
    texts: Sequence[str],
    batch_size: int = 16,
    progress: Callable[[int, int], bool | None] | None = None,
    dtype=np.float32,
    spill_mb: float | None = None,
) -> HiddenStates:
    """Run a model over texts and keep every hidden state of every token.

    Parameters
    ----------
    loaded : LoadedModel
    texts : sequence of str
        One text per item (a sentence, usually). Blank texts are an error.
    batch_size : int
        Texts per forward pass. Texts are batched in order of length so padding stays small.
    progress : callable, optional
        Called as ``progress(done_texts, total_texts)`` after each batch; returning ``False``
        cancels with :class:`ExtractionCancelled`.
    dtype : numpy float dtype, default float32
        How the hidden states are stored. The model always computes in float32; ``np.float16``
        halves the memory of a corpus's states (13 layers x 768 floats per token) at about 3
        significant digits (relative error <= 2**-11), enough for every picture and score, but
        then a token's vector alone and in a batch agree to float16 rounding, not to 1e-6.
    spill_mb : float, optional
        States that would weigh more than this many MB are kept in a temporary file
        (:class:`~.ondisk.LayersOnDisk`, read one layer at a time) instead of in memory.

    Returns
    -------
    HiddenStates

    Notes
    -----
    The tokenizer and model are used under ``loaded.lock``: fast tokenizers are not thread-safe.
    """
    texts = _validate_texts(texts)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    with loaded.lock:
        rows, truncated = _encode(loaded, texts)
        byte_level = _is_byte_level(loaded.tokenizer)
        token_strings = [loaded.tokenizer.convert_ids_to_tokens(row["input_ids"]) for row in rows]
        order = sorted(range(len(texts)), key=lambda index: len(rows[index]["input_ids"]))
        lengths = [len(row["input_ids"]) for row in rows]
        starts = np.concatenate([[0], np.cumsum(lengths)])
        # Filled batch by batch: concatenating per-text arrays at the end would hold the states
        # twice at the peak (a 1,000-sentence corpus: gigabytes).
        vectors: np.ndarray | None = None
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            for index, states in zip(
                batch, _forward(loaded, [rows[i] for i in batch], dtype), strict=True
            ):
                if vectors is None:
                    vectors = _allocate(
                        (states.shape[0], starts[-1], states.shape[2]), dtype, spill_mb
                    )
                vectors[:, starts[index] : starts[index + 1]] = states
            if (
                progress is not None
                and progress(min(start + batch_size, len(order)), len(order)) is False
            ):
                raise ExtractionCancelled(
                    Message(
                        N_("cancelled after {done:,} of {total:,} texts"),
                        done=start + len(batch),
                        total=len(order),
                    )
                )

    release_freed_memory()  # the forward passes' activations
    warnings = truncation_warnings(truncated, loaded.info)
    return HiddenStates(
        model=loaded.info,
        texts=texts,
        vectors=vectors,
        tokens=[readable_token(t, byte_level) for strings in token_strings for t in strings],
        token_ids=np.concatenate([np.asarray(row["input_ids"], dtype=np.int64) for row in rows]),
        sentence=np.repeat(np.arange(len(texts)), lengths),
        position=np.concatenate([np.arange(length) for length in lengths]),
        offsets=np.concatenate(
            [np.asarray(row["offset_mapping"], dtype=np.int64).reshape(-1, 2) for row in rows]
        ),
        special=np.concatenate(
            [np.asarray(row["special_tokens_mask"], dtype=bool) for row in rows]
        ),
        truncated=tuple(truncated),
        warnings=warnings,
    )
