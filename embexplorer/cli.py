"""``python -m embexplorer compare``: two models, the same sentences, one RSA score.

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
    from .align import COMPARABLE_UNITS, POOLINGS
    from .geometry import APP_PREPROCESSING, METRICS
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
    compare.add_argument("texts", nargs="*", metavar="TEXT", help="one sentence per argument")
    compare.add_argument("--file", type=Path, help="read sentences from a file, one per line")
    compare.add_argument("--model-a", default=model_a, help=f"hub id or folder (default {model_a})")
    compare.add_argument("--model-b", default=model_b, help=f"hub id or folder (default {model_b})")
    compare.add_argument(
        "--layer-a",
        type=int,
        default=-1,
        help="0 = embeddings; negative from the last (default -1)",
    )
    compare.add_argument("--layer-b", type=int, default=-1, help="as --layer-a, for model B")
    compare.add_argument("--unit", choices=COMPARABLE_UNITS, default="word")
    compare.add_argument("--metric", choices=METRICS, default="cosine")
    compare.add_argument("--preprocess", choices=APP_PREPROCESSING, default="none")
    compare.add_argument("--pooling", choices=POOLINGS, default="mean", help="sub-word pooling")
    compare.add_argument(
        "--method",
        choices=RSA_METHODS,
        default="spearman",
        help="correlation the p-value and CI refer to (both are reported)",
    )
    compare.add_argument("--permutations", type=_non_negative, default=10_000)
    compare.add_argument("--bootstraps", type=_non_negative, default=1_000)
    compare.add_argument("--seed", type=int, default=0)
    compare.add_argument("--json", action="store_true", help="print one JSON object")
    compare.add_argument(
        "--export",
        type=Path,
        metavar="FILE.npz",
        help="save both models' item vectors, the items and the matrices",
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


def _report(comparison, infos) -> str:
    rsa = comparison.rsa
    lines = [
        f"{comparison.items_a.n_items} {comparison.items_a.unit} items, {rsa.n_pairs} pairs; "
        f"metric {comparison.metric}, preprocessing {comparison.preprocessing}",
    ]
    for tag, info, layer in zip("AB", infos, comparison.layers, strict=True):
        lines.append(
            f"model {tag}: {info.short_name} ({info.kind}), layer {layer} of {info.n_layers}"
        )
    if rsa.defined:
        lines.append(f"RSA: Spearman rho = {rsa.spearman:.3f}, Pearson r = {rsa.pearson:.3f}")
        if rsa.permutations:
            lines.append(
                f"     p = {rsa.p_value:.4g} ({rsa.method}, {rsa.permutations} item permutations, one-sided)"
            )
        if rsa.bootstraps:
            lines.append(
                f"     {rsa.ci_level:.0%} bootstrap CI of {rsa.method}: [{rsa.ci_low:.3f}, {rsa.ci_high:.3f}]"
            )
    else:
        lines.append(f"RSA: not defined: {rsa.reason}")
    lines.append(f"CKA: linear {comparison.cka:.3f} (debiased {comparison.cka_debiased:.3f})")
    return "\n".join(lines)


def _finite_or_none(value: float):
    return float(value) if np.isfinite(value) else None


def _as_json(comparison, infos) -> dict:
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


def run_compare(args: argparse.Namespace, stdin, stdout) -> None:
    import transformers

    from .compare import compare_models
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
    infos = [model.info for model in loaded]
    try:
        comparison = compare_models(
            states[0],
            states[1],
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
        )
    except ValueError as error:
        raise UsageError(str(error)) from error
    if args.export is not None:
        _export(args.export, comparison, infos)
    if args.json:
        json.dump(_as_json(comparison, infos), stdout, ensure_ascii=False)
        stdout.write("\n")
    else:
        stdout.write(_report(comparison, infos) + "\n")


def main(argv: Sequence[str] | None = None, stdin=None, stdout=None) -> int:
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    try:
        args = build_parser().parse_args(argv)
        run_compare(args, stdin, stdout)
    except UsageError as error:
        print(" ".join(str(error).split()), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("embexplorer: interrupted", file=sys.stderr)
        return 130
    return 0
