"""Which model, how it is loaded (hub id or local folder), its kind and its limits.

A model is named by a Hugging Face hub id (``gpt2``) or a local folder. ``EMBEXPLORER_MODEL_A`` and
``EMBEXPLORER_MODEL_B`` replace the defaults everywhere (CLI, app, benchmark). Remote code is never
trusted. Loading never waits on a hub that cannot be reached: the local cache is tried first, and a
download is only attempted when the hub answers within a few seconds.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .i18n import N_, Message

DEFAULT_MODEL_A = "gpt2"
DEFAULT_MODEL_B = "bert-base-uncased"
ENV_MODEL_A = "EMBEXPLORER_MODEL_A"
ENV_MODEL_B = "EMBEXPLORER_MODEL_B"

# Approximate first-run download sizes of the defaults (safetensors weights + tokenizer files).
DOWNLOAD_SIZES_MB = {"gpt2": 550, "bert-base-uncased": 440, "distilgpt2": 350}

_HUB_HOST = "huggingface.co"
_GENERIC_FOLDER_NAMES = {"model", "models", "checkpoint", "final", "weights", "hf"}
_HUB_PROBE_TIMEOUT_S = 3.0


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says which and how to provide it.

    Its message is a :class:`~.i18n.Message`: a load may run in another thread (the warm-up) or
    for another visitor, and ``str(error)`` still speaks the reader's language.
    """


def default_model_names() -> tuple[str, str]:
    """Model A and model B: the environment variables if set, else ``gpt2`` and ``bert-base-uncased``."""
    model_a = os.environ.get(ENV_MODEL_A, "").strip() or DEFAULT_MODEL_A
    model_b = os.environ.get(ENV_MODEL_B, "").strip() or DEFAULT_MODEL_B
    return model_a, model_b


@dataclass(frozen=True)
class ModelInfo:
    """What a loaded model is: enough to label a panel and to check a layer index.

    ``n_layers`` counts the transformer blocks; there are ``n_layers + 1`` hidden states because
    index 0 is the embedding layer. ``lowercase`` is True when the tokenizer lower-cases its input
    (BERT uncased), so "Café" and "café" are the same tokens; False for a cased model (GPT-2).
    """

    name: str
    model_type: str
    kind: str
    n_layers: int
    hidden_size: int
    max_length: int
    device: str
    lowercase: bool = False

    @property
    def n_hidden_states(self) -> int:
        return self.n_layers + 1

    @property
    def short_name(self) -> str:
        """The hub id, or a local folder's name (with its parent's when the name is generic)."""
        path = Path(self.name)
        if not path.is_dir():
            return self.name
        if path.name.lower() in _GENERIC_FOLDER_NAMES:
            return f"{path.parent.name}/{path.name}"
        return path.name

    @property
    def sees(self) -> str:
        """One phrase on what context a token's vector can depend on."""
        if self.kind == "causal":
            return "left context only (causal)"
        return "the whole sentence (bidirectional)"

    def describe(self) -> str:
        return (
            f"{self.short_name}: {self.model_type}, {self.kind}, {self.n_layers} layers "
            f"(+ embeddings), width {self.hidden_size}, max {self.max_length} tokens"
        )


@dataclass
class LoadedModel:
    """A tokenizer and model ready for inference, with the lock that serialises their use.

    Fast tokenizers are not thread-safe ("Already borrowed") and one model run at a time keeps
    memory bounded, so every use of ``tokenizer`` or ``model`` happens under ``lock``.
    """

    info: ModelInfo
    tokenizer: Any
    model: Any
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def resolve_layer(layer: int, n_hidden_states: int, model_name: str = "model") -> int:
    """Turn a possibly negative layer index into 0..n_hidden_states-1, or raise ``ValueError``."""
    resolved = layer + n_hidden_states if layer < 0 else layer
    if not 0 <= resolved < n_hidden_states:
        raise ValueError(
            Message(
                N_(
                    "layer {layer} is out of range for {model}: it has {n} hidden states "
                    "(0 = embeddings .. {last}; negative counts from the last)"
                ),
                layer=layer,
                model=model_name,
                n=n_hidden_states,
                last=n_hidden_states - 1,
            )
        )
    return resolved


def model_kind(config: Any) -> str:
    """``causal`` (left-to-right, GPT-2), ``masked`` (bidirectional MLM, BERT) or ``encoder``."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    if getattr(config, "is_encoder_decoder", False):
        return "encoder"
    # BERT also has a causal-LM head class, so the masked-LM check comes first.
    if config.model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return "masked"
    if config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return "causal"
    return "encoder"


def _max_length(config: Any, tokenizer: Any) -> int:
    limits = [
        getattr(config, name, None)
        for name in ("max_position_embeddings", "n_positions", "max_seq_len")
    ]
    limits.append(getattr(tokenizer, "model_max_length", None))
    # Tokenizers without a limit report a sentinel around 1e30.
    usable = [int(v) for v in limits if isinstance(v, int) and 0 < v < 1_000_000]
    return min(usable) if usable else 512


def tokenizer_lowercases(tokenizer: Any) -> bool:
    """Whether a (fast) tokenizer lower-cases text before cutting it, read from its normalizer."""
    normalizer = getattr(getattr(tokenizer, "backend_tokenizer", None), "normalizer", None)
    if normalizer is None:
        return bool(getattr(tokenizer, "do_lower_case", False))
    return normalizer.normalize_str("A") == "a"


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _hub_reachable() -> bool:
    try:
        with socket.create_connection((_HUB_HOST, 443), timeout=_HUB_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def _how_to_provide(name: str) -> Message:
    return Message(
        N_(
            "To use it offline, put the model in a local folder (tokenizer + config + weights, "
            "e.g. saved with save_pretrained) and give that path instead of {name!r}, or download "
            "it once into the Hugging Face cache on a connected machine; set {env_a} / {env_b} to "
            "change the defaults."
        ),
        name=name,
        env_a=ENV_MODEL_A,
        env_b=ENV_MODEL_B,
    )


def _from_pretrained(name: str, local_only: bool) -> tuple[Any, Any]:
    from transformers import AutoModel, AutoTokenizer

    kwargs = dict(local_files_only=local_only, trust_remote_code=False)
    tokenizer = AutoTokenizer.from_pretrained(name, **kwargs)
    model = AutoModel.from_pretrained(name, **kwargs)
    return tokenizer, model


def _load_files(name: str) -> tuple[Any, Any]:
    """Local folder, then the local cache, then (only if the hub answers) a download."""
    is_folder = Path(name).expanduser().is_dir()
    if Path(name).expanduser().exists() and not is_folder:
        raise ModelLoadError(
            Message(
                N_("model {name!r} is a file; give the folder that holds its files."), name=name
            )
        )
    # Hub ids are "name" or "owner/name"; anything else can only be a path.
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1
    try:
        return _from_pretrained(str(Path(name).expanduser()) if is_folder else name, True)
    except Exception as local_error:  # noqa: BLE001 - transformers raises many kinds here
        if is_folder:
            raise ModelLoadError(
                Message(
                    N_("model folder {name!r} could not be loaded: {why}"),
                    name=name,
                    why=_first_line(local_error),
                )
            ) from local_error
        if looks_like_path:
            raise ModelLoadError(
                Message(
                    N_("model {name!r} is neither a folder on this machine nor a hub id. {how}"),
                    name=name,
                    how=_how_to_provide(name),
                )
            ) from local_error
        if _offline() or not _hub_reachable():
            why = (
                Message(N_("HF_HUB_OFFLINE is set"))
                if _offline()
                else Message(N_("the Hugging Face hub is unreachable"))
            )
            raise ModelLoadError(
                Message(
                    N_("model {name!r} is not in the local Hugging Face cache and {why}. {how}"),
                    name=name,
                    why=why,
                    how=_how_to_provide(name),
                )
            ) from local_error
    try:
        return _from_pretrained(name, False)
    except Exception as error:  # noqa: BLE001
        raise ModelLoadError(
            Message(
                N_("model {name!r} could not be downloaded: {why}. {how}"),
                name=name,
                why=_first_line(error),
                how=_how_to_provide(name),
            )
        ) from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def load_model(name: str, device: str | None = None) -> LoadedModel:
    """Load a tokenizer and model by hub id or local folder, ready for inference.

    Parameters
    ----------
    name : str
        Hub id (``"gpt2"``) or a local folder written by ``save_pretrained``.
    device : str, optional
        ``"cuda"`` when available, else ``"cpu"``, unless given.

    Returns
    -------
    LoadedModel

    Raises
    ------
    ModelLoadError
        Within seconds, with the model's name and how to provide it, when it cannot be loaded
        (offline and not cached, unknown id, broken folder, slow tokenizer only).
    """
    import torch

    name = str(name).strip()
    if not name:
        raise ModelLoadError(
            Message(N_("no model name given: use a hub id such as 'gpt2' or a local folder."))
        )
    tokenizer, model = _load_files(name)
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(
            Message(
                N_(
                    "model {name!r} has no fast tokenizer; character offsets (needed to align "
                    "words) come only from fast tokenizers."
                ),
                name=name,
            )
        )
    if tokenizer.pad_token is None:
        # GPT-2 has no padding token; its end-of-text token pads, and the attention mask keeps
        # padding out of every real token's vector.
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    tokenizer.padding_side = "right"
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    model.eval()
    config = model.config
    n_layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
    hidden = getattr(config, "hidden_size", None) or getattr(config, "n_embd", None)
    info = ModelInfo(
        name=name,
        model_type=config.model_type,
        kind=model_kind(config),
        n_layers=int(n_layers),
        hidden_size=int(hidden),
        max_length=_max_length(config, tokenizer),
        device=str(device),
        lowercase=tokenizer_lowercases(tokenizer),
    )
    return LoadedModel(info=info, tokenizer=tokenizer, model=model)


def control_model(loaded: LoadedModel, seed: int = 0) -> LoadedModel:
    """A random-weight copy of a model: the chance baseline for its scores.

    Same architecture (built from ``loaded.model.config`` alone: nothing is downloaded) and the
    same tokenizer; the weights come from the architecture's own initialiser under
    ``torch.manual_seed(seed)``, without touching the global random state. Give the two models
    of a comparison different seeds. The copy shares ``loaded``'s tokenizer and therefore its lock.

    Parameters
    ----------
    loaded : LoadedModel
    seed : int

    Returns
    -------
    LoadedModel
        Named ``"<name> (random weights, seed N)"``; the caller decides how long to keep it (it
        takes as much memory as the trained model).
    """
    import dataclasses

    import torch
    from transformers import AutoModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModel.from_config(loaded.model.config)
    model.to(loaded.info.device)
    model.eval()
    info = dataclasses.replace(
        loaded.info, name=f"{loaded.info.name} (random weights, seed {seed})"
    )
    return LoadedModel(info=info, tokenizer=loaded.tokenizer, model=model, lock=loaded.lock)


# --- memory ------------------------------------------------------------------------------------

_MADV_DONTNEED = 4  # Linux's value (asm-generic/mman-common.h)


def _unchanged_file_mappings() -> list[tuple[int, int]]:
    """``(start, end)`` of this process's memory-mapped files none of whose pages were written
    (no anonymous, copy-on-write pages): what is dropped from them is read again from the file.
    Empty where ``/proc/self/smaps`` cannot be read (not Linux)."""
    mappings: list[list] = []
    try:
        with open("/proc/self/smaps") as smaps:
            for line in smaps:
                fields = line.split()
                if len(fields) >= 6 and "-" in fields[0] and fields[5].startswith("/"):
                    start, end = (int(bound, 16) for bound in fields[0].split("-"))
                    mappings.append([start, end, True])
                elif len(fields) >= 5 and "-" in fields[0] and not fields[0].endswith(":"):
                    mappings.append([0, 0, False])  # anonymous or special: never touched
                elif fields and fields[0] == "Anonymous:" and mappings and int(fields[1]):
                    mappings[-1][2] = False
    except OSError:
        return []
    return [(start, end) for start, end, unchanged in mappings if unchanged and end > start]


def release_weight_pages(loaded: LoadedModel) -> int:
    """Drop the model's weights from this process's resident memory where they are pages of a
    memory-mapped weights file that nothing has written; returns the bytes of weights released
    (resident or not).

    transformers maps safetensors files into memory, so the weights a forward pass touched
    (~650 MB for GPT-2 and BERT base) stay in the process's resident set between runs, while
    pages show and compute. ``madvise(MADV_DONTNEED)`` unmaps such pages: the kernel's page cache
    keeps them, and the next forward pass maps them back (measured: +0.08 s on the next run of
    both models, against 0.33 s). Only whole pages inside a mapped file with no written pages
    are released, never memory of the process's own. Skipped while the model runs, and where
    the platform has no ``madvise`` or ``/proc/self/smaps``.
    """
    import ctypes
    import ctypes.util

    libc_name = ctypes.util.find_library("c")
    madvise = getattr(ctypes.CDLL(libc_name), "madvise", None) if libc_name else None
    if madvise is None or not loaded.lock.acquire(blocking=False):
        return 0
    try:
        files = _unchanged_file_mappings()
        page = os.sysconf("SC_PAGE_SIZE")
        released = 0
        tensors = [*loaded.model.parameters(), *loaded.model.buffers()]
        storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
        for pointer, n_bytes in storages.items():
            start, end = -(-pointer // page) * page, (pointer + n_bytes) // page * page
            inside = any(low <= start and end <= high for low, high in files)
            if end > start and inside:
                if (
                    madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), _MADV_DONTNEED)
                    == 0
                ):
                    released += end - start
        return released
    finally:
        loaded.lock.release()
