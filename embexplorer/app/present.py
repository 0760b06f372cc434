"""What a page says about a result, and how much of a large set it draws (no Streamlit calls).

:func:`describe_rsa` turns an RSA result into the plain sentences under the score; the sampling
helpers pick what a heatmap or a scatter shows of a corpus (the scores always use every item).
"""

from __future__ import annotations

import numpy as np

from ..figures import keyed_words
from ..i18n import N_, _, ngettext, translated
from ..labels import UNIT_LABELS, correlation_symbol, label
from ..rsa import RSAResult
from .widgets import escape_markdown, plain_number

HEATMAP_MAX_ITEMS = 150  # above this a heatmap shows an evenly spaced sample of the items
SCATTER_MAX_PAIRS = 20_000


STRENGTH_LABELS = {"strong": N_("strong"), "moderate": N_("moderate"), "weak": N_("weak")}
STRENGTHS = ((0.7, "strong"), (0.4, "moderate"), (0.1, "weak"))  # least |correlation|, name


def _strength(size: float) -> str | None:
    """What a correlation of this size is called (a key of :data:`STRENGTH_LABELS`), or None
    for hardly any."""
    return next((name for least, name in STRENGTHS if size >= least), None)


def _correlation_sentence(rsa: RSAResult, names: tuple[str, str], unit: str) -> str:
    value, symbol = rsa.value, correlation_symbol(rsa.method)
    strength = _strength(abs(value))
    fields = dict(symbol=symbol, value=value, a=names[0], b=names[1], unit=label(UNIT_LABELS, unit))
    if strength is None:
        return _(
            "{symbol} = {value:.2f}: which pairs of {unit} {a} finds alike says almost nothing "
            "about which {b} finds alike."
        ).format(**fields)
    if value >= 0:
        return _(
            "{symbol} = {value:.2f}, a {strength} agreement: pairs of {unit} that {a} finds "
            "alike tend to be alike in {b} too."
        ).format(strength=label(STRENGTH_LABELS, strength), **fields)
    return _(
        "{symbol} = {value:.2f}, a {strength} inverse relation: pairs of {unit} that {a} finds "
        "alike tend to be unalike in {b}."
    ).format(strength=label(STRENGTH_LABELS, strength), **fields)


def _control_sentence(rsa: RSAResult, control: RSAResult, unit: str) -> tuple[str, bool]:
    """What the random-weight score says, and whether the trained score is clearly above it
    (above the control's CI, or its value when it has none); clearly below is said too."""
    if not control.defined:
        return (
            _(
                "For random-weight copies of both models the score is not defined ({reason})."
            ).format(reason=translated(control.reason)),
            False,
        )
    fields = dict(
        symbol=correlation_symbol(rsa.method), value=control.value, unit=label(UNIT_LABELS, unit)
    )
    upper = control.ci_high if np.isfinite(control.ci_high) else control.value
    lower = control.ci_low if np.isfinite(control.ci_low) else control.value
    if rsa.value > upper:
        return (
            _(
                "Random-weight copies of the same two models give {symbol} = {value:.2f} on the "
                "same {unit}; the trained models' excess over that is what training added."
            ).format(**fields),
            True,
        )
    if rsa.value < lower:
        return (
            _(
                "Random-weight copies of the same two models give {symbol} = {value:.2f} on the "
                "same {unit}, more than the trained models: these agree less than untrained "
                "copies would on the input alone (repeated words, shared prefixes, sentence "
                "membership)."
            ).format(**fields),
            False,
        )
    return (
        _(
            "Random-weight copies of the same two models give {symbol} = {value:.2f} on the same "
            "{unit}, as high within its uncertainty: this agreement comes from the input "
            "(repeated words, shared prefixes, sentence membership), not from what the models "
            "learned."
        ).format(**fields),
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
        return _("RSA is not defined here: {reason}").format(reason=translated(rsa.reason))
    sentences = [_correlation_sentence(rsa, names, unit)]
    repetition = rsa.n_same_word_pairs > 0 and not rsa.same_word_excluded
    above_control = False
    if control is not None:
        text, above_control = _control_sentence(rsa, control, unit)
        sentences.append(text)
    inverse = rsa.value < 0 and _strength(abs(rsa.value)) is not None
    if rsa.permutations and np.isfinite(rsa.p_value) and inverse:
        # The test is one-sided (agreement): a large p does not mean "no structure" here.
        sentences.append(
            _(
                "The permutation test asks only whether the two models agree more than {unit} "
                "paired up at random would (p {p}); an inverse relation is not agreement, so that "
                "p says nothing about it."
            ).format(unit=label(UNIT_LABELS, unit), p=_p_text(rsa.p_value))
        )
    elif rsa.permutations and np.isfinite(rsa.p_value):
        sentences.append(
            _(
                "The permutation test asks how often {unit} paired up at random between the two "
                "models score this high: p {p}."
            ).format(unit=label(UNIT_LABELS, unit), p=_p_text(rsa.p_value))
        )
        if rsa.p_value >= 0.05:
            sentences.append(_("That is compatible with no shared structure at all."))
        elif repetition:
            sentences.append(
                _(
                    "But {n:,} pairs are two occurrences of the same word, which any two models "
                    "find alike, so a small p does not show that the models learned the same "
                    "thing: leave same-word pairs out, and compare with the random-weight control."
                ).format(n=rsa.n_same_word_pairs)
            )
        elif control is None:
            sentences.append(
                _(
                    "A small p only rules out a random pairing; the random-weight control shows "
                    "how much agreement any two models of these architectures get from the input "
                    "alone."
                )
            )
        elif above_control:
            sentences.append(_("The agreement is unlikely to be chance and above the control."))
    if rsa.ci_note:
        sentences.append(translated(rsa.ci_note))
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
    parts = [
        _("{n:,} {unit} · {pairs:,} pairs.").format(
            n=rsa.n_items, unit=label(UNIT_LABELS, unit), pairs=rsa.n_pairs
        )
    ]
    if rsa.n_same_word_pairs and rsa.same_word_excluded:
        parts.append(
            _(
                "{same:,} of {pairs:,} pairs are two occurrences of the same word; they are left "
                "out, so {compared:,} pairs are compared."
            ).format(same=rsa.n_same_word_pairs, pairs=rsa.n_pairs, compared=rsa.n_pairs_compared)
        )
    elif rsa.n_same_word_pairs:
        parts.append(
            _("{same:,} of {pairs:,} pairs are two occurrences of the same word.").format(
                same=rsa.n_same_word_pairs, pairs=rsa.n_pairs
            )
        )
    repeats = comparison.duplicate_sentences
    if repeats:
        listed = ", ".join(f"S{index + 1}" for index in repeats[:10])
        if len(repeats) > 10:
            listed = _("{listed} and {more:,} more").format(listed=listed, more=len(repeats) - 10)
        parts.append(
            ngettext(
                "{n:,} sentence ({listed}) repeats an earlier one exactly and is counted once: "
                "its copies would pair every word with itself.",
                "{n:,} sentences ({listed}) repeat an earlier one exactly and are counted once: "
                "their copies would pair every word with itself.",
                len(repeats),
            ).format(n=len(repeats), listed=listed)
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
    listed = ", ".join(shown)
    if len(shared) > 15:
        listed = _("{listed} and {more:,} more").format(listed=listed, more=len(shared) - 15)
    return ngettext(
        "{n:,} word shares a model token with another word (one token such as '://' or '...' "
        "spanning two words, or one [UNK] covering several), so part or all of its vector is "
        "the other word's: {listed}.",
        "{n:,} words share a model token with another word (one token such as '://' or '...' "
        "spanning two words, or one [UNK] covering several), so part or all of their vector is "
        "the other word's: {listed}.",
        len(shared),
    ).format(n=len(shared), listed=listed)


def projection_notice(infos) -> str:
    """The Projection page's "what to notice", true for any sentences: what a causal model's
    vectors can depend on is said only for a model that is causal (``ModelInfo.kind``)."""
    causal = [info.short_name for info in infos if info.kind == "causal"]
    if causal:
        names = [escape_markdown(name) for name in dict.fromkeys(causal)]
        names = names[0] if len(names) == 1 else _("{a} and {b}").format(a=names[0], b=names[1])
        context = _(
            "{names} is causal: a word's vector depends only on the words before it, so with "
            "**order** on its path runs through context it has already seen, and two sentences "
            "that start with the same word give that word the same vector whatever follows."
        ).format(names=names)
    else:
        context = _(
            "Both models are bidirectional: every word's vector depends on the whole sentence, "
            "the words after it included."
        )
    return _(
        "What to notice: {context} In trained GPT-2 the raw layers are dominated by a few huge "
        "dimensions: try mean-centring."
    ).format(context=context)


def word_key_note(panels) -> str:
    """When "Colour by word" has more words than its legend holds: which ones have a colour.

    ``panels`` are the figure's :class:`embexplorer.figures.PointSet` objects; "" when every word
    has its own colour.
    """
    keyed, every_word = keyed_words(panels), keyed_words(panels, limit=None)
    if len(keyed) == len(every_word):
        return ""
    return _(
        "Colour by word: the {keyed} most frequent of {total:,} words have their own colour and "
        "legend entry; the other {grey:,} are grey (hover over a point to see its word)."
    ).format(keyed=len(keyed), total=len(every_word), grey=len(every_word) - len(keyed))


def score_text(value: float, spec: str = ".2f") -> str:
    """A score for display: "not defined" for NaN, and never "-0.00" for a value that rounds
    to zero.

    Examples
    --------
    >>> score_text(-0.001), score_text(0.238), score_text(float("nan"))
    ('0.00', '0.24', 'not defined')
    """
    if not np.isfinite(value):
        return _("not defined")
    text = format(value, spec)
    return text[1:] if text.startswith("-") and float(text) == 0 else text
