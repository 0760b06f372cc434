"""``python -m embexplorer compare``: two models, the same sentences, one RSA score;
``python -m embexplorer context WORD``: one word's self-similarity in both models, layer by layer.

Errors (no text, too few items, unknown model, layer out of range) exit with status 2 and one
line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input: reported as one line on stderr with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        raise UsageError(f"{self.prog}: {message}")


def _add_shared_options(parser: argparse.ArgumentParser, all_layers_default: bool) -> None:
    """Texts, models, layers, preprocessing, pooling, seed and --json: the same for every command."""
    from .align import POOLINGS
    from .geometry import APP_PREPROCESSING
    from .models import default_model_names

    model_a, model_b = default_model_names()
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="one sentence per argument")
    parser.add_argument("--file", type=Path, help="read sentences from a file, one per line")
    parser.add_argument("--model-a", default=model_a, help=f"hub id or folder (default {model_a})")
    parser.add_argument("--model-b", default=model_b, help=f"hub id or folder (default {model_b})")
    parser.add_argument(
        "--layer-a",
        type=int,
        default=None if all_layers_default else -1,
        help="0 = embeddings; negative from the last "
        + ("(default: every layer)" if all_layers_default else "(default -1)"),
    )
    parser.add_argument("--layer-b", type=int, default=parser.get_default("layer_a"))
    parser.add_argument("--preprocess", choices=APP_PREPROCESSING, default="none")
    parser.add_argument("--pooling", choices=POOLINGS, default="mean", help="sub-word pooling")
    parser.add_argument("--bootstraps", type=_non_negative, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def build_parser() -> argparse.ArgumentParser:
    from .align import COMPARABLE_UNITS
    from .contextuality import MIN_CONTEXTS
    from .geometry import METRICS
    from .models import ENV_MODEL_A, ENV_MODEL_B
    from .rsa import RSA_METHODS

    parser = _Parser(
        prog="embexplorer",
        description="Compare how two transformer models embed the same sentences.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sources = (
        "Texts come from the arguments (one per sentence), --file (one per line) or stdin. "
        f"Models default to {ENV_MODEL_A} / {ENV_MODEL_B} or gpt2 / bert-base-uncased."
    )
    compare = commands.add_parser(
        "compare",
        help="RSA and CKA between two models' word or sentence similarity structures",
        description=sources,
    )
    _add_shared_options(compare, all_layers_default=False)
    compare.add_argument("--unit", choices=COMPARABLE_UNITS, default="word")
    compare.add_argument("--metric", choices=METRICS, default="cosine")
    compare.add_argument(
        "--method",
        choices=RSA_METHODS,
        default="spearman",
        help="correlation the p-value and CI refer to (both are reported)",
    )
    compare.add_argument("--permutations", type=_non_negative, default=10_000)
    compare.add_argument(
        "--exclude-same-word",
        action="store_true",
        help="leave pairs of two occurrences of the same word out of RSA, p-value and CI",
    )
    compare.add_argument(
        "--control",
        action="store_true",
        help="also score random-weight copies of both models (the chance baseline; "
        "built from the configs, nothing downloaded)",
    )
    compare.add_argument(
        "--export",
        type=Path,
        metavar="FILE.npz",
        help="save both models' item vectors, the items and the matrices",
    )
    context = commands.add_parser(
        "context",
        help="self-similarity of one word's occurrences, layer by layer (Ethayarajh 2019)",
        description=sources
        + " Self-similarity: mean cosine between the word's occurrences in different sentences; "
        "anisotropy: mean cosine between different words in different sentences; "
        "adjusted = self_similarity - anisotropy.",
    )
    context.add_argument("word", help="the word (matched with case in a cased model)")
    _add_shared_options(context, all_layers_default=True)
    context.add_argument(
        "--skip-first", action="store_true", help="leave out occurrences at position 0"
    )
    context.add_argument(
        "--min-contexts",
        type=_non_negative,
        default=MIN_CONTEXTS,
        help=f"warn below this many different sentences (default {MIN_CONTEXTS}, as the paper)",
    )
    return parser


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def read_texts(args: argparse.Namespace, stdin) -> list[str]:
    """Sentences from the arguments, the file, or stdin (one per line); blank lines dropped."""
    if args.texts:
        lines = list(args.texts)
    elif args.file is not None:
        try:
            lines = args.file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"cannot read {args.file}: {error}") from error
    elif stdin is not None and not stdin.isatty():
        lines = stdin.read().splitlines()
    else:
        lines = []
    texts = [line.strip() for line in lines if line.strip()]
    if not texts:
        raise UsageError("no text given: pass sentences as arguments, with --file, or on stdin")
    return texts


def _report(comparison, infos, control=None) -> str:
    rsa = comparison.rsa
    lines = [
        f"{comparison.items_a.n_items} {comparison.items_a.unit} items, {rsa.n_pairs} pairs; "
        f"metric {comparison.metric}, preprocessing {comparison.preprocessing}",
    ]
    for tag, info, layer in zip("AB", infos, comparison.layers, strict=True):
        lines.append(
            f"model {tag}: {info.short_name} ({info.kind}), layer {layer} of {info.n_layers}"
        )
    if comparison.n_duplicate_sentences:
        lines.append(
            f"{comparison.n_duplicate_sentences} repeated sentence(s) counted once: "
            + ", ".join(f"S{i + 1}" for i in comparison.duplicate_sentences)
        )
    lines.append(
        f"{rsa.n_same_word_pairs} pairs are two occurrences of the same word"
        + (" (left out of RSA)" if rsa.same_word_excluded else "")
    )
    shared = comparison.items_sharing_tokens
    if shared:
        lines.append(
            f"{len(shared)} items share a token with another word: "
            + ", ".join(repr(entry["item"]) for entry in shared[:10])
        )
    if rsa.defined:
        lines.append(f"RSA: Spearman rho = {rsa.spearman:.3f}, Pearson r = {rsa.pearson:.3f}")
        if rsa.permutations:
            lines.append(
                f"     p = {rsa.p_value:.4g} ({rsa.method}, {rsa.permutations} item permutations, one-sided)"
            )
            lines.append(f"     {rsa.null}")
        if rsa.bootstraps and np.isfinite(rsa.ci_low):
            lines.append(
                f"     {rsa.ci_level:.0%} bootstrap CI of {rsa.method}: [{rsa.ci_low:.3f}, {rsa.ci_high:.3f}]"
            )
        if rsa.ci_note:
            lines.append(f"     {rsa.ci_note}")
    else:
        lines.append(f"RSA: not defined: {rsa.reason}")
    if control is not None:
        lines.append(_control_line(control))
    if comparison.cka_reason:
        lines.append(f"CKA: not defined: {comparison.cka_reason}")
    else:
        lines.append(f"CKA: linear {comparison.cka:.3f} (debiased {comparison.cka_debiased:.3f})")
    return "\n".join(lines)


def _control_line(control) -> str:
    rsa = control.rsa
    head = f"control (random weights, seeds {control.seeds[0]}/{control.seeds[1]}):"
    if not rsa.defined:
        return f"{head} RSA not defined: {rsa.reason}"
    p = f", p = {rsa.p_value:.4g}" if np.isfinite(rsa.p_value) else ""
    return f"{head} Spearman rho = {rsa.spearman:.3f}, Pearson r = {rsa.pearson:.3f}{p}"


def _finite_or_none(value: float):
    return float(value) if np.isfinite(value) else None


def _as_json(comparison, infos, control=None) -> dict:
    def matrix(values: np.ndarray) -> list[list[float | None]]:
        return [[_finite_or_none(v) for v in row] for row in values]

    return {
        "items": comparison.items_a.labels,
        "sentence": comparison.items_a.sentence.tolist(),
        "unit": comparison.items_a.unit,
        "models": [info.name for info in infos],
        "kinds": [info.kind for info in infos],
        "layers": list(comparison.layers),
        "metric": comparison.metric,
        "preprocessing": comparison.preprocessing,
        "similarity": [matrix(comparison.matrix_a), matrix(comparison.matrix_b)],
        "rsa": comparison.rsa.to_dict(),
        "cka": _finite_or_none(comparison.cka),
        "cka_debiased": _finite_or_none(comparison.cka_debiased),
        "cka_reason": comparison.cka_reason,
        "duplicate_sentences": list(comparison.duplicate_sentences),
        "n_duplicate_sentences": comparison.n_duplicate_sentences,
        "items_sharing_tokens": comparison.items_sharing_tokens,
        "control": None if control is None else control.to_dict(),
    }


def _export(path: Path, comparison, infos) -> None:
    try:
        np.savez_compressed(
            path,
            items=np.array(comparison.items_a.labels),
            sentence=comparison.items_a.sentence,
            models=np.array([info.name for info in infos]),
            layers=np.array(comparison.layers),
            vectors_a=comparison.vectors_a,
            vectors_b=comparison.vectors_b,
            similarity_a=comparison.matrix_a,
            similarity_b=comparison.matrix_b,
        )
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error}") from error


def _load_and_extract(args: argparse.Namespace, stdin):
    """Texts, both loaded models and their hidden states; warnings go to stderr."""
    import transformers

    from .extract import extract_hidden_states
    from .models import ModelLoadError, load_model

    texts = read_texts(args, stdin)
    # stderr is for warnings and the one-line error; no download or loading progress bars.
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        loaded = [load_model(args.model_a), load_model(args.model_b)]
    except ModelLoadError as error:
        raise UsageError(str(error)) from error
    states = [extract_hidden_states(model, texts) for model in loaded]
    for warning in states[0].warnings + states[1].warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return texts, loaded, states


def run_compare(args: argparse.Namespace, stdin, stdout) -> None:
    from .compare import compare_models, control_comparison

    texts, loaded, states = _load_and_extract(args, stdin)
    infos = [model.info for model in loaded]
    settings = dict(
        unit=args.unit,
        pooling=args.pooling,
        layer_a=args.layer_a,
        layer_b=args.layer_b,
        metric=args.metric,
        preprocessing=args.preprocess,
        method=args.method,
        permutations=args.permutations,
        bootstraps=args.bootstraps,
        seed=args.seed,
        exclude_same_word=args.exclude_same_word,
    )
    try:
        comparison = compare_models(states[0], states[1], **settings)
        del states
        control = (
            control_comparison(loaded[0], loaded[1], texts, control_seed=args.seed, **settings)
            if args.control
            else None
        )
    except ValueError as error:
        raise UsageError(str(error)) from error
    if args.export is not None:
        _export(args.export, comparison, infos)
    if args.json:
        json.dump(_as_json(comparison, infos, control), stdout, ensure_ascii=False)
        stdout.write("\n")
    else:
        stdout.write(_report(comparison, infos, control) + "\n")


def _context_rows(profile, layer: int | None, n_hidden_states: int, name: str) -> list[dict]:
    from .models import resolve_layer

    rows = profile.layer_rows()
    if layer is None:
        return rows
    return [rows[resolve_layer(layer, n_hidden_states, name)]]


def run_context(args: argparse.Namespace, stdin, stdout) -> None:
    from .align import build_items
    from .contextuality import context_profile

    _, loaded, states = _load_and_extract(args, stdin)
    result: dict = {"word": args.word}
    lines = []
    for tag, model, model_states, layer in zip(
        "ab", loaded, states, (args.layer_a, args.layer_b), strict=True
    ):
        items = build_items(model_states, "word", args.pooling)
        name = f"model {tag.upper()}"
        try:
            profile = context_profile(
                items,
                args.word,
                args.preprocess,
                skip_first=args.skip_first,
                min_contexts=args.min_contexts,
                bootstraps=args.bootstraps,
                seed=args.seed,
            )
            rows = _context_rows(profile, layer, items.vectors.shape[0], name)
        except ValueError as error:
            raise UsageError(f"{name} ({model.info.short_name}): {error}") from error
        result[tag] = rows
        details = profile.to_dict()
        details.pop("layers")
        result[f"{tag}_details"] = details
        if profile.warning:
            print(f"warning: {name}: {profile.warning}", file=sys.stderr)
        lines.append(
            f"model {tag.upper()}: {model.info.short_name}, {profile.word!r}: "
            f"{profile.n_occurrences} occurrences in {profile.n_contexts} sentences"
        )
        lines.extend(
            f"  layer {row['layer']:>2}: self-similarity {_fmt(row['self_similarity'])} "
            f"[{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}], anisotropy "
            f"{_fmt(row['anisotropy'])}, adjusted {_fmt(row['adjusted'])}"
            for row in rows
        )
    if args.json:
        json.dump(result, stdout, ensure_ascii=False)
        stdout.write("\n")
    else:
        stdout.write("\n".join(lines) + "\n")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse, letting sentences follow options too (``context bank --json "A bank." ...``)."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    unknown = [extra for extra in extras if extra.startswith("-")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.texts = [*args.texts, *extras]
    return args


def main(argv: Sequence[str] | None = None, stdin=None, stdout=None) -> int:
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    try:
        args = _parse(argv)
        run = run_context if args.command == "context" else run_compare
        run(args, stdin, stdout)
    except UsageError as error:
        print(" ".join(str(error).split()), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("embexplorer: interrupted", file=sys.stderr)
        return 130
    return 0
