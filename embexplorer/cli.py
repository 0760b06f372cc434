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


def build_parser() -> argparse.ArgumentParser:
    from .models import ENV_MODEL_A, ENV_MODEL_B, default_model_names
    from .rsa import RSA_METHODS

    model_a, model_b = default_model_names()
    parser = _Parser(
        prog="embexplorer",
        description="Compare how two transformer models embed the same sentences.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    compare = commands.add_parser(
        "compare",
        help="RSA and CKA between two models' word or sentence similarity structures",
        description=(
            "Texts come from the arguments (one per sentence), --file (one per line) or stdin. "
            f"Models default to {ENV_MODEL_A} / {ENV_MODEL_B} or gpt2 / bert-base-uncased."
        ),
    )
    add_text_and_model_options(compare, model_a, model_b)
    compare.add_argument(
        "--method",
        choices=RSA_METHODS,
        default="spearman",
        help="correlation the p-value and CI refer to (both are reported)",
    )
    compare.add_argument("--permutations", type=_non_negative, default=10_000)
    compare.add_argument("--bootstraps", type=_non_negative, default=1_000)
    compare.add_argument("--seed", type=int, default=0)
    compare.add_argument(
        "--exclude-same-word",
        action="store_true",
        help="leave pairs of two occurrences of the same word out of RSA, p-value and CI "
        "(the permutations then shuffle whole words)",
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
    add_neighbours_command(commands, model_a, model_b)
    add_context_command(commands, model_a, model_b)
    return parser


def add_text_and_model_options(command: argparse.ArgumentParser, model_a: str, model_b: str):
    """Options every command shares: texts (arguments, --file or stdin), models, layers, items,
    metric, preprocessing and --json."""
    from .align import COMPARABLE_UNITS, POOLINGS
    from .geometry import APP_PREPROCESSING, METRICS

    command.add_argument("texts", nargs="*", metavar="TEXT", help="one sentence per argument")
    command.add_argument("--file", type=Path, help="read sentences from a file, one per line")
    command.add_argument("--model-a", default=model_a, help=f"hub id or folder (default {model_a})")
    command.add_argument("--model-b", default=model_b, help=f"hub id or folder (default {model_b})")
    command.add_argument(
        "--layer-a",
        type=int,
        default=-1,
        help="0 = embeddings; negative from the last (default -1)",
    )
    command.add_argument("--layer-b", type=int, default=-1, help="as --layer-a, for model B")
    command.add_argument("--unit", choices=COMPARABLE_UNITS, default="word")
    command.add_argument("--metric", choices=METRICS, default="cosine")
    command.add_argument("--preprocess", choices=APP_PREPROCESSING, default="none")
    command.add_argument("--pooling", choices=POOLINGS, default="mean", help="sub-word pooling")
    command.add_argument("--json", action="store_true", help="print one JSON object")


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


def load_states(args: argparse.Namespace, stdin) -> tuple[list, list]:
    """Both models' hidden states for the texts, and their infos; warnings go to stderr."""
    _, loaded, states = load_models_and_states(args, stdin)
    return states, [model.info for model in loaded]


def load_models_and_states(args: argparse.Namespace, stdin) -> tuple[list[str], list, list]:
    """The texts, both loaded models and their hidden states; warnings go to stderr."""
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


def compare_from_args(args: argparse.Namespace, stdin, **statistics) -> tuple:
    """The comparison the shared options describe, and both models' infos; ``statistics`` are
    :func:`embexplorer.compare.compare_items`'s RSA settings."""
    states, infos = load_states(args, stdin)
    return _compare_states(states, **_item_settings(args), **statistics), infos


def _item_settings(args: argparse.Namespace) -> dict:
    """The shared options as :func:`embexplorer.compare.compare_models` arguments."""
    return dict(
        unit=args.unit,
        pooling=args.pooling,
        layer_a=args.layer_a,
        layer_b=args.layer_b,
        metric=args.metric,
        preprocessing=args.preprocess,
    )


def _compare_states(states: list, **settings):
    from .compare import compare_models

    try:
        return compare_models(states[0], states[1], **settings)
    except ValueError as error:
        raise UsageError(str(error)) from error


def run_compare(args: argparse.Namespace, stdin, stdout) -> None:
    from .compare import control_comparison

    texts, loaded, states = load_models_and_states(args, stdin)
    infos = [model.info for model in loaded]
    settings = dict(
        **_item_settings(args),
        method=args.method,
        permutations=args.permutations,
        bootstraps=args.bootstraps,
        seed=args.seed,
        exclude_same_word=args.exclude_same_word,
    )
    comparison = _compare_states(states, **settings)
    del states  # the control runs one model at a time; the trained states are not needed
    control = None
    if args.control:
        try:
            control = control_comparison(loaded[0], loaded[1], texts, args.seed, **settings)
        except ValueError as error:
            raise UsageError(str(error)) from error
    if args.export is not None:
        _export(args.export, comparison, infos)
    if args.json:
        json.dump(_as_json(comparison, infos, control), stdout, ensure_ascii=False)
        stdout.write("\n")
    else:
        stdout.write(_report(comparison, infos, control) + "\n")


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
        getattr(args, "run", run_compare)(args, stdin, stdout)
    except UsageError as error:
        print(" ".join(str(error).split()), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("embexplorer: interrupted", file=sys.stderr)
        return 130
    return 0


# --- neighbours -----------------------------------------------------------------------------------


def add_neighbours_command(commands, model_a: str, model_b: str) -> None:
    neighbours = commands.add_parser(
        "neighbours",
        help="one item's nearest neighbours in both models, and their overlap (Jaccard@k)",
        description=(
            "Items as in `compare` (N indexes its --json `items`); neighbours are ranked in the "
            "full space at the chosen layers, never in a projection."
        ),
    )
    add_text_and_model_options(neighbours, model_a, model_b)
    neighbours.add_argument("--item", type=int, required=True, metavar="N", help="item index")
    neighbours.add_argument(
        "--k",
        type=int,
        default=None,
        metavar="K",
        help=f"neighbours per model (default {DEFAULT_NEIGHBOURS}, fewer if there are fewer items)",
    )
    neighbours.set_defaults(run=run_neighbours)


DEFAULT_NEIGHBOURS = 5


def _checked_item_and_k(args: argparse.Namespace, n_items: int, unit: str) -> tuple[int, int]:
    if not -n_items <= args.item < n_items:
        raise UsageError(
            f"--item {args.item} is out of range: there are {n_items} {unit} items "
            f"(0 to {n_items - 1}, or negative from the last)"
        )
    k = min(DEFAULT_NEIGHBOURS, n_items - 1) if args.k is None else args.k
    if not 1 <= k <= n_items - 1:
        raise UsageError(
            f"--k {k} is out of range: {n_items} {unit} items allow 1 to {n_items - 1} neighbours"
        )
    return args.item % n_items, k


def _neighbours_json(result, labels: list[str], comparison, infos) -> dict:
    value_key = "cosine" if result.a.metric == "cosine" else "distance"

    def listed(found) -> list[dict]:
        return [
            {"item": labels[index], "index": int(index), value_key: float(value)}
            for index, value in zip(found.indices, found.values, strict=True)
        ]

    return {
        "item": labels[result.item],
        "index": result.item,
        "k": result.k,
        "metric": result.a.metric,
        "unit": comparison.items_a.unit,
        "models": [info.name for info in infos],
        "layers": list(comparison.layers),
        "preprocessing": comparison.preprocessing,
        "a": listed(result.a),
        "b": listed(result.b),
        "jaccard": result.jaccard,
    }


def _neighbours_report(summary: dict, infos) -> str:
    lines = [
        f"neighbours of {summary['item']!r} (item {summary['index']}), k = {summary['k']}, "
        f"metric {summary['metric']}, preprocessing {summary['preprocessing']}"
    ]
    value_key = "cosine" if summary["metric"] == "cosine" else "distance"
    for tag, info, layer in zip("ab", infos, summary["layers"], strict=True):
        listed = ", ".join(f"{entry['item']} ({entry[value_key]:.3f})" for entry in summary[tag])
        lines.append(f"model {tag.upper()}: {info.short_name}, layer {layer}: {listed}")
    lines.append(f"overlap: Jaccard@{summary['k']} = {summary['jaccard']:.3f}")
    return "\n".join(lines)


def run_neighbours(args: argparse.Namespace, stdin, stdout) -> None:
    from .neighbours import compare_neighbours

    # The same items and vectors as `compare` (and its --export); no resampling needed here.
    comparison, infos = compare_from_args(args, stdin, permutations=0, bootstraps=0)
    labels = comparison.items_a.labels
    item, k = _checked_item_and_k(args, len(labels), comparison.items_a.unit)
    result = compare_neighbours(
        comparison.vectors_a, comparison.vectors_b, item, k, metric=args.metric
    )
    summary = _neighbours_json(result, labels, comparison, infos)
    if args.json:
        json.dump(summary, stdout, ensure_ascii=False)
        stdout.write("\n")
    else:
        stdout.write(_neighbours_report(summary, infos) + "\n")


# --- context --------------------------------------------------------------------------------------


def add_context_command(commands, model_a: str, model_b: str) -> None:
    from .contextuality import MIN_CONTEXTS

    context = commands.add_parser(
        "context",
        help="self-similarity of one word's occurrences, layer by layer (Ethayarajh 2019)",
        description=(
            "Self-similarity: mean cosine between the word's occurrences in different sentences; "
            "anisotropy: mean cosine between different words in different sentences; "
            "adjusted = self_similarity - anisotropy. Texts as for `compare`."
        ),
    )
    context.add_argument("word", help="the word (matched with case in a cased model)")
    add_text_and_model_options(context, model_a, model_b)
    context.set_defaults(layer_a=None, layer_b=None, run=run_context)  # every layer by default
    context.add_argument("--bootstraps", type=_non_negative, default=1_000)
    context.add_argument("--seed", type=int, default=0)
    context.add_argument(
        "--skip-first", action="store_true", help="leave out occurrences at position 0"
    )
    context.add_argument(
        "--min-contexts",
        type=_non_negative,
        default=MIN_CONTEXTS,
        help=f"warn below this many different sentences (default {MIN_CONTEXTS}, as the paper)",
    )


def _context_rows(profile, layer: int | None, n_hidden_states: int, name: str) -> list[dict]:
    from .models import resolve_layer

    rows = profile.layer_rows()
    if layer is None:
        return rows
    return [rows[resolve_layer(layer, n_hidden_states, name)]]


def run_context(args: argparse.Namespace, stdin, stdout) -> None:
    from .align import build_items
    from .contextuality import context_profile

    _, loaded, states = load_models_and_states(args, stdin)
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
