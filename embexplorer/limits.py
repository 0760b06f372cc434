"""Limits that protect a server, and the hosted mode's model allowlist.

Everything is read from environment variables, so a host sets them once for all sessions and no
query string can change them:

``EMBEXPLORER_HOSTED``            ``1`` for a public demo: allowlisted models only, stricter limits
``EMBEXPLORER_ALLOWED_MODELS``    comma-separated hub ids (or folders the host chose) for hosted mode
``EMBEXPLORER_MAX_SENTENCES``     sentences per request
``EMBEXPLORER_MAX_CHARACTERS``    characters per request
``EMBEXPLORER_MAX_TOKENS``        tokens per model per request (all sentences together)
``EMBEXPLORER_CACHE_MB``          memory for cached hidden states, all sessions together
``EMBEXPLORER_GROUP_TEXTS``       most texts of several sessions' queued requests run together in one
                                 model run (default 64; 1: every request on its own)
``EMBEXPLORER_SPILL_MB``          one model's hidden states above this size are kept in a temporary
                                 file, read a layer at a time (default 64; 0: always)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .i18n import N_, Message

DEFAULT_ALLOWED_MODELS = (
    "gpt2",
    "distilgpt2",
    "bert-base-uncased",
    "bert-base-cased",
    "distilbert-base-uncased",
    "roberta-base",
)

# (local, hosted) defaults. 20,000 tokens is ~1,000 sentences of 20 tokens (~750 of 25-27);
# all 13 layers of 768 float16 values keep about 0.4 GB per model for that, which is why the cache
# has a memory budget.
_DEFAULTS = {
    "max_sentences": (2_000, 50),
    "max_characters": (200_000, 5_000),
    "max_tokens": (20_000, 1_000),
    "cache_mb": (3_000, 1_000),
    # Requests queued while a model is busy run together, up to 64 texts: on 2 CPU cores at low
    # load a class of 30 saw its last chart after 38.6 s against 70.7 s one request at a time,
    # with 1.71 against 2.96 CPU s per visitor (BENCHMARKS.md, classroom_grouping).
    "group_texts": (64, 64),
    # A 200-sentence corpus's states weigh ~90 MB per model, a 1,000-sentence one's ~440 MB: in
    # memory the latter put the server's anonymous memory at ~2 GB; in a file, at ~1 GB
    # (BENCHMARKS.md, corpus_pages).
    "spill_mb": (64, 64),
}
_MINIMUM = {"spill_mb": 0}


class ModelNotAllowed(ValueError):
    """Hosted mode: the model is not on the allowlist."""


@dataclass(frozen=True)
class Limits:
    hosted: bool
    allowed_models: tuple[str, ...]
    max_sentences: int
    max_characters: int
    max_tokens: int
    cache_mb: int
    group_texts: int = 64
    spill_mb: int = 64

    def check_model(self, name: str) -> None:
        """In hosted mode only allowlisted names pass (exactly; no paths, no other hub ids)."""
        if self.hosted and name not in self.allowed_models:
            raise ModelNotAllowed(
                Message(
                    N_(
                        "this hosted demo only offers {models}; other models and local folders "
                        "are disabled here"
                    ),
                    models=", ".join(self.allowed_models),
                )
            )


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _whole_number(env: Mapping[str, str], key: str, default: int, minimum: int = 1) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise ValueError(f"{key} must be a whole number, got {raw!r}") from error
    if value < minimum:
        raise ValueError(f"{key} must be at least {minimum}, got {value}")
    return value


def load_limits(env: Mapping[str, str] | None = None) -> Limits:
    """The limits in force, from the environment (``os.environ`` by default)."""
    env = os.environ if env is None else env
    hosted = _flag(env.get("EMBEXPLORER_HOSTED"))
    allowed = (
        tuple(
            name.strip()
            for name in env.get("EMBEXPLORER_ALLOWED_MODELS", "").split(",")
            if name.strip()
        )
        or DEFAULT_ALLOWED_MODELS
    )
    pick = 1 if hosted else 0
    values = {
        key: _whole_number(env, f"EMBEXPLORER_{key.upper()}", defaults[pick], _MINIMUM.get(key, 1))
        for key, defaults in _DEFAULTS.items()
    }
    return Limits(hosted=hosted, allowed_models=allowed, **values)


def sentences_within_budget(counts: list[list[int]], max_tokens: int) -> int:
    """How many leading sentences fit ``max_tokens`` for every model (``counts[model][sentence]``).

    Examples
    --------
    >>> sentences_within_budget([[5, 5, 5], [6, 6, 6]], max_tokens=12)
    2
    """
    keep = len(counts[0]) if counts else 0
    for per_sentence in counts:
        total = 0
        for index, count in enumerate(per_sentence):
            total += count
            if total > max_tokens:
                keep = min(keep, index)
                break
    return keep
