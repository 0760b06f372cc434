"""Hidden states kept on disk from one server start to the next, keyed by the model's files.

A fresh server spends ~9-10 s of one core importing torch and transformers and loading both
full-size models (imports hold the GIL, so a second core does not help), before it can run a
single sentence. A restarted server that finds the states of the page's text here draws its first
chart without them, while the models load in the background for the next new sentence. Like the
Hugging Face cache next to it, the store lives under the user's cache folder and only speeds
things up: an entry that is missing, stale or unreadable is computed again.

An entry is one model's states of one text, as the app keeps them (float16), in an ``.npz`` with
no pickled objects. Its key hashes the texts with everything the numbers depend on: the model's
files (a local folder's names, sizes and modification times; a hub id's cached revision), the
torch and transformers versions, and this format. Entries above ``entry_max_mb`` are not kept
(a corpus: hundreds of MB), and the least recently used go first above ``max_mb`` in all.

``EMBEXPLORER_STATES_DIR`` names the folder, or turns the store ``off``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

from .extract import HiddenStates, truncation_warnings
from .models import ModelInfo

ENV_STATES_DIR = "EMBEXPLORER_STATES_DIR"
FORMAT_VERSION = 1
# The five default sentences weigh ~0.7 MB per full-size model, a typed text of ten sentences
# ~1.5 MB: a few hundred texts fit in the default budget.
ENTRY_MAX_MB = 16
STORE_MAX_MB = 256


def default_folder(env=None) -> Path | None:
    """The store's folder: ``EMBEXPLORER_STATES_DIR``, else ``embexplorer/states`` in the user's
    cache folder (``XDG_CACHE_HOME`` or ``~/.cache``); None when the variable says ``off``."""
    env = os.environ if env is None else env
    chosen = env.get(ENV_STATES_DIR, "").strip()
    if chosen.lower() in ("off", "0", "none", "false"):
        return None
    if chosen:
        return Path(chosen).expanduser()
    cache = env.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache"
    return Path(cache) / "embexplorer" / "states"


@lru_cache(maxsize=1)
def _library_versions() -> tuple[str, ...]:
    """The versions the numbers depend on, from the installed packages' metadata (importing
    the libraries would cost seconds)."""
    found = []
    for package in ("torch", "transformers"):
        try:
            found.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            found.append(f"{package} missing")
    return tuple(found)


def model_fingerprint(name: str) -> str | None:
    """What identifies a model's weights and tokenizer without loading them: a local folder's
    files (names, sizes, modification times), or the revision of a hub id in the local Hugging
    Face cache. None when neither is found (a hub id not downloaded yet)."""
    folder = Path(name).expanduser()
    if folder.is_dir():
        try:
            files = sorted(path for path in folder.iterdir() if path.is_file())
            described = [
                (path.name, path.stat().st_size, path.stat().st_mtime_ns) for path in files
            ]
        except OSError:  # unreadable: not stored (the model load says why)
            return None
        return json.dumps([str(folder.resolve()), described])
    from huggingface_hub import constants

    repo = Path(constants.HF_HUB_CACHE) / f"models--{name.replace('/', '--')}"
    try:
        revision = (repo / "refs" / "main").read_text().strip()
    except OSError:
        return None
    if not (repo / "snapshots" / revision).is_dir():
        return None
    return json.dumps([name, revision])


class StateStore:
    """A folder of hidden states, at most ``max_mb`` in all and ``entry_max_mb`` per entry."""

    def __init__(
        self, folder: Path, max_mb: float = STORE_MAX_MB, entry_max_mb: float = ENTRY_MAX_MB
    ):
        self.folder = Path(folder)
        self.max_bytes = int(max_mb * 2**20)
        self.entry_max_bytes = int(entry_max_mb * 2**20)

    def _path(self, name: str, texts: tuple[str, ...], dtype) -> Path | None:
        fingerprint = model_fingerprint(name)
        if fingerprint is None:
            return None
        key = json.dumps(
            [FORMAT_VERSION, name, fingerprint, _library_versions(), np.dtype(dtype).str, texts]
        )
        return self.folder / f"{hashlib.sha256(key.encode('utf-8')).hexdigest()}.npz"

    def has(self, name: str, texts: tuple[str, ...], dtype) -> bool:
        """Whether the states of ``texts`` by ``name`` as ``dtype`` are stored (unread)."""
        path = self._path(name, tuple(texts), dtype)
        return path is not None and path.is_file()

    def load(self, name: str, texts: tuple[str, ...], dtype) -> HiddenStates | None:
        """The states of ``texts`` by model ``name`` as ``dtype``, or None when not stored."""
        path = self._path(name, tuple(texts), dtype)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                states = _from_arrays(data)
            if states.texts != tuple(texts):  # (a hash collision: never seen)
                return None
            os.utime(path)  # recently used: the last to be dropped
            return states
        except Exception:  # noqa: BLE001 - a damaged entry (zip, array, JSON) is computed again
            path.unlink(missing_ok=True)
            return None

    def save(self, name: str, states: HiddenStates) -> bool:
        """Keep ``states`` (of model ``name``); False when it is too big or cannot be written."""
        vectors = states.vectors
        if not isinstance(vectors, np.ndarray) or vectors.nbytes > self.entry_max_bytes:
            return False
        path = self._path(name, states.texts, vectors.dtype)
        if path is None:
            return False
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # Written aside, then renamed: another server reading the folder never sees half.
            handle, written = tempfile.mkstemp(dir=self.folder, prefix=".writing-", suffix=".npz")
        except OSError:  # a read-only or full disk: the app works without the store
            return False
        try:
            with os.fdopen(handle, "wb") as file:
                np.savez(file, **_to_arrays(states))
            os.replace(written, path)
        except OSError:
            Path(written).unlink(missing_ok=True)
            return False
        self._prune()
        return True

    def _prune(self) -> None:
        """Drop the least recently used entries until the folder is within ``max_bytes``."""
        entries = []
        for path in self.folder.glob("*.npz"):
            try:
                status = path.stat()
            except OSError:
                continue
            entries.append((status.st_mtime_ns, status.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size


def _to_arrays(states: HiddenStates) -> dict[str, np.ndarray]:
    return {
        "info": np.array(json.dumps(asdict(states.model))),
        "texts": np.array(states.texts, dtype=str),
        "vectors": states.vectors,
        "tokens": np.array(states.tokens, dtype=str),
        "token_ids": states.token_ids,
        "sentence": states.sentence,
        "position": states.position,
        "offsets": states.offsets.reshape(-1, 2),
        "special": states.special,
        "truncated": np.array(states.truncated, dtype=bool),
    }


def _from_arrays(data) -> HiddenStates:
    info = ModelInfo(**json.loads(str(data["info"])))
    truncated = [bool(cut) for cut in data["truncated"]]
    return HiddenStates(
        model=info,
        texts=tuple(str(text) for text in data["texts"]),
        vectors=data["vectors"],
        tokens=[str(token) for token in data["tokens"]],
        token_ids=data["token_ids"],
        sentence=data["sentence"],
        position=data["position"],
        offsets=data["offsets"],
        special=data["special"],
        truncated=tuple(truncated),
        warnings=truncation_warnings(truncated, info),
    )
