"""What a page says about a result, and how much of a large set it draws (no Streamlit calls).

:func:`describe_rsa` turns an RSA result into the plain sentences under the score; the sampling
helpers pick what a heatmap or a scatter shows of a corpus (the scores always use every item).
"""

from __future__ import annotations

import numpy as np

from ..figures import keyed_words
from ..labels import correlation_symbol
from ..rsa import RSAResult
from .widgets import escape_markdown, plain_number

HEATMAP_MAX_ITEMS = 150  # above this a heatmap shows an evenly spaced sample of the items
SCATTER_MAX_PAIRS = 20_000


def _strength(size: float) -> str:
    if size >= 0.7:
        return "strong"
    if size >= 0.4:
        return "moderate"
    return "weak" if size >= 0.1 else "hardly any"


def _correlation_sentence(rsa: RSAResult, names: tuple[str, str], unit: str) -> str:
    value, symbol = rsa.value, correlation_symbol(rsa.method)
    strength = _strength(abs(value))
    if strength == "hardly any":
        return (
            f"{symbol} = {value:.2f}: which pairs of {unit}s {names[0]} finds alike says almost "
            f"nothing about which {names[1]} finds alike."
        )
    if value >= 0:
        return (
            f"{symbol} = {value:.2f}, a {strength} agreement: pairs of {unit}s that {names[0]} "
            f"finds alike tend to be alike in {names[1]} too."
        )
    return (
        f"{symbol} = {value:.2f}, a {strength} inverse relation: pairs of {unit}s that "
        f"{names[0]} finds alike tend to be unalike in {names[1]}."
    )


def _control_sentence(rsa: RSAResult, control: RSAResult, unit: str) -> tuple[str, bool]:
    """What the random-weight score says, and whether the trained score is clearly above it
    (above the control's CI, or its value when it has none); clearly below is said too."""
    if not control.defined:
        return (
            f"For random-weight copies of both models the score is not defined ({control.reason}).",
            False,
        )
    symbol = correlation_symbol(rsa.method)
    upper = control.ci_high if np.isfinite(control.ci_high) else control.value
    text = (
        f"Random-weight copies of the same two models give {symbol} = {control.value:.2f} on "
        f"the same {unit}s"
    )
    lower = control.ci_low if np.isfinite(control.ci_low) else control.value
    if rsa.value > upper:
        return f"{text}; the trained models' excess over that is what training added.", True
    if rsa.value < lower:
        return (
            f"{text}, more than the trained models: these agree less than untrained copies "
            "would on the input alone (repeated words, shared prefixes, sentence membership).",
            False,
        )
    return (
        f"{text}, as high within its uncertainty: this agreement comes from the input "
        "(repeated words, shared prefixes, sentence membership), not from what the models learned.",
        False,
    )


def _p_text(p_value: float) -> str:
    """ "= 0.042" or "< 0.001": a p-value in words a student reads, never in e-notation."""
    text = plain_number(p_value)
    return text if text.startswith("<") else f"= {text}"


def describe_rsa(
    rsa: RSAResult, names: tuple[str, str], unit: str, control: RSAResult | None = None
) -> str:
    """A few plain sentences on what the RSA number means, for a reader who is not a statistician.

    States the permutation test's null hypothesis; calls agreement more than chance only when
    repetition cannot explain it: no same-word pairs in the score, and a random-weight
    ``control`` (:func:`control_comparison`) that scores clearly lower.
    """
    if not rsa.defined:
        return f"RSA is not defined here: {rsa.reason}"
    sentences = [_correlation_sentence(rsa, names, unit)]
    repetition = rsa.n_same_word_pairs > 0 and not rsa.same_word_excluded
    above_control = False
    if control is not None:
        text, above_control = _control_sentence(rsa, control, unit)
        sentences.append(text)
    inverse = rsa.value < 0 and _strength(abs(rsa.value)) != "hardly any"
    if rsa.permutations and np.isfinite(rsa.p_value) and inverse:
        # The test is one-sided (agreement): a large p does not mean "no structure" here.
        sentences.append(
            f"The permutation test asks only whether the two models agree more than {unit}s "
            f"paired up at random would (p {_p_text(rsa.p_value)}); an inverse relation is not "
            "agreement, so that p says nothing about it."
        )
    elif rsa.permutations and np.isfinite(rsa.p_value):
        sentences.append(
            f"The permutation test asks how often {unit}s paired up at random between the two "
            f"models score this high: p {_p_text(rsa.p_value)}."
        )
        if rsa.p_value >= 0.05:
            sentences.append("That is compatible with no shared structure at all.")
        elif repetition:
            sentences.append(
                f"But {rsa.n_same_word_pairs:,} pairs are two occurrences of the same word, which "
                "any two models find alike, so a small p does not show that the models learned "
                "the same thing: leave same-word pairs out, and compare with the random-weight "
                "control."
            )
        elif control is None:
            sentences.append(
                "A small p only rules out a random pairing; the random-weight control shows how "
                "much agreement any two models of these architectures get from the input alone."
            )
        elif above_control:
            sentences.append("The agreement is unlikely to be chance and above the control.")
    if rsa.ci_note:
        sentences.append(rsa.ci_note)
    return " ".join(sentences)


def sample_indices(n_items: int, max_items: int) -> np.ndarray:
    """At most ``max_items`` evenly spaced indices of ``range(n_items)``, in order (all if fewer).

    Used to draw a readable heatmap of a large set; the statistics still use every item.
    """
    if n_items <= max_items:
        return np.arange(n_items)
    return np.unique(np.linspace(0, n_items - 1, max_items).round().astype(np.int64))


def sample_pairs(n_pairs: int, max_pairs: int, seed: int = 0) -> np.ndarray:
    """At most ``max_pairs`` pair indices (sorted, seeded) for a scatter that stays responsive."""
    if n_pairs <= max_pairs:
        return np.arange(n_pairs)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_pairs, size=max_pairs, replace=False))


def pairs_caption(comparison, unit: str) -> str:
    """Items and pairs of a comparison (thousands separated), the same-word pairs among them and
    the repeated sentences counted once, in one or a few plain sentences.

    ``comparison`` is a :class:`embexplorer.compare.Comparison`.
    """
    rsa = comparison.rsa
    parts = [f"{rsa.n_items:,} {unit}s · {rsa.n_pairs:,} pairs."]
    if rsa.n_same_word_pairs:
        same = (
            f"{rsa.n_same_word_pairs:,} of {rsa.n_pairs:,} pairs are two occurrences of the same "
            "word"
        )
        if rsa.same_word_excluded:
            same += f"; they are left out, so {rsa.n_pairs_compared:,} pairs are compared"
        parts.append(same + ".")
    repeats = comparison.duplicate_sentences
    if repeats:
        listed = ", ".join(f"S{index + 1}" for index in repeats[:10])
        more = f" and {len(repeats) - 10:,} more" if len(repeats) > 10 else ""
        parts.append(
            f"{len(repeats):,} sentence(s) ({listed}{more}) repeat an earlier one exactly and are "
            "counted once: their copies would pair every word with itself."
        )
    return " ".join(parts)


def shared_token_note(shared: list[dict], labels: list[str], names: tuple[str, str]) -> str:
    """The note listing the words that share one model token (or one [UNK]) with another word.

    ``shared`` is :attr:`embexplorer.compare.Comparison.items_sharing_tokens`.
    """
    shown = [
        f"**{escape_markdown(labels[entry['index']])}** "
        f"({', '.join(names['AB'.index(tag)] for tag in entry['models'])})"
        for entry in shared[:15]
    ]
    more = f", and {len(shared) - 15:,} more" if len(shared) > 15 else ""
    return (
        f"{len(shared):,} word(s) share a model token with another word (one token such as "
        "'://' or '...' spanning two words, or one [UNK] covering several), so part or all of "
        f"their vector is the other word's: {', '.join(shown)}{more}."
    )


def projection_notice(infos) -> str:
    """The Projection page's "what to notice", true for any sentences: what a causal model's
    vectors can depend on is said only for a model that is causal (``ModelInfo.kind``)."""
    causal = [info.short_name for info in infos if info.kind == "causal"]
    if causal:
        names = " and ".join(escape_markdown(name) for name in dict.fromkeys(causal))
        context = (
            f"{names} is causal: a word's vector depends only on the words before it, so with "
            "**order** on its path runs through context it has already seen, and two sentences "
            "that start with the same word give that word the same vector whatever follows."
        )
    else:
        context = (
            "Both models are bidirectional: every word's vector depends on the whole sentence, "
            "the words after it included."
        )
    return (
        f"What to notice: {context} In trained GPT-2 the raw layers are dominated by a few huge "
        "dimensions: try mean-centring."
    )


def word_key_note(panels) -> str:
    """When "Colour by word" has more words than its legend holds: which ones have a colour.

    ``panels`` are the figure's :class:`embexplorer.figures.PointSet` objects; "" when every word
    has its own colour.
    """
    keyed, every_word = keyed_words(panels), keyed_words(panels, limit=None)
    if len(keyed) == len(every_word):
        return ""
    return (
        f"Colour by word: the {len(keyed)} most frequent of {len(every_word):,} words have their "
        f"own colour and legend entry; the other {len(every_word) - len(keyed):,} are grey "
        "(hover over a point to see its word)."
    )


def score_text(value: float, spec: str = ".2f") -> str:
    """A score for display: "not defined" for NaN, and never "-0.00" for a value that rounds
    to zero.

    Examples
    --------
    >>> score_text(-0.001), score_text(0.238), score_text(float("nan"))
    ('0.00', '0.24', 'not defined')
    """
    if not np.isfinite(value):
        return "not defined"
    text = format(value, spec)
    return text[1:] if text.startswith("-") and float(text) == 0 else text
