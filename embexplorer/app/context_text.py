"""What the Context page says about one word: each sentence computed from the chosen word and
sentences, so it is true for any input (no Streamlit calls).

A claim about the current input ("the occurrences have the same tokens") is made only when it was
checked; a finding about trained models (Ethayarajh 2019) is phrased as one.
"""

from __future__ import annotations

import numpy as np

from ..align import Items
from ..contextuality import ContextProfile
from ..i18n import _
from ..models import ModelInfo
from .widgets import escape_markdown

# Two occurrences whose vectors differ by less than this (relative to their norm) at every layer
# are the same vector up to batching noise.
SAME_VECTOR_RTOL = 1e-5


def _quoted(text: str) -> str:
    return f"'{escape_markdown(text)}'"


def casing_note(infos: tuple[ModelInfo, ModelInfo], word: str, labels: list[str]) -> str:
    """How each model matches the word's occurrences: with case (GPT-2) or without (BERT
    uncased); the forms of the word that occur in the sentences, when there are several."""
    forms = sorted({label for label in labels if label.lower() == word.lower()})
    cased = [info for info in infos if not info.lowercase]
    uncased = [info for info in infos if info.lowercase]
    pair = forms[:2] if len(forms) > 1 else [word[:1].upper() + word[1:], word.lower()]
    if pair[0] == pair[1]:
        return ""  # no letter case in this word (digits, CJK...)
    parts = []
    for info in cased:
        parts.append(
            _("{model} is cased: {form} and {other_form} are different words for it.").format(
                model=escape_markdown(info.short_name),
                form=_quoted(pair[0]),
                other_form=_quoted(pair[1]),
            )
        )
    for info in uncased:
        parts.append(
            _("{model} lower-cases its input, so they are one word for it.").format(
                model=escape_markdown(info.short_name)
            )
        )
    if len(forms) > 1 and cased and uncased:
        occur = (
            _(
                "In your sentences {forms} both occur, so the two models measure different sets of "
                "occurrences."
            )
            if len(forms) == 2
            else _(
                "In your sentences {forms} all occur, so the two models measure different "
                "sets of occurrences."
            )
        )
        parts.append(occur.format(forms=", ".join(_quoted(form) for form in forms)))
    parts.append(_("Occurrences are matched by token identity, as Ethayarajh (2019) does."))
    return " ".join(parts)


def _token_text(tokens: tuple[str, ...]) -> str:
    return "+".join(tokens)


def layer0_sentence(info: ModelInfo, word: str, occurrence_tokens: list[tuple[str, ...]]) -> str:
    """What the occurrences of ``word`` differ by at the embedding layer, from their tokens."""
    name = escape_markdown(info.short_name)
    distinct = list(dict.fromkeys(occurrence_tokens))
    if len(distinct) == 1:
        same = (
            _(
                "At layer 0 (embeddings) every occurrence of *{word}* in {model} is the same "
                "token ({tokens}), so their vectors differ only by their position embeddings."
            )
            if len(distinct[0]) == 1
            else _(
                "At layer 0 (embeddings) every occurrence of *{word}* in {model} is the same "
                "tokens ({tokens}), so their vectors differ only by their position embeddings."
            )
        )
        return same.format(
            word=escape_markdown(word), model=name, tokens=_quoted(_token_text(distinct[0]))
        )
    reasons = []
    bare = {_token_text(t).replace("␣", "").replace("##", "") for t in distinct}
    if len(bare) < len(distinct):
        reasons.append(_("the word with and without a leading space is a different token"))
    if len({form.lower() for form in bare}) < len(bare):
        reasons.append(_("the model is cased"))
    because = f" ({'; '.join(reasons)})" if reasons else ""
    return _(
        "At layer 0 (embeddings) the occurrences of *{word}* in {model} are not all the same "
        "tokens: {tokens}{because}. So they differ by more than their position embeddings."
    ).format(
        word=escape_markdown(word),
        model=name,
        tokens=", ".join(_quoted(_token_text(t)) for t in distinct),
        because=because,
    )


def trend_sentence(info: ModelInfo, profile: ContextProfile) -> str:
    """How self-similarity changes from the embeddings to the last layer in these sentences."""
    values, adjusted = profile.self_similarity, profile.adjusted
    last = values.size - 1
    if not (np.isfinite(values[0]) and np.isfinite(values[last])):
        return ""
    if values[last] < values[0] - 0.02:
        sentence = _(
            "In your sentences {model}'s self-similarity falls from {first:.2f} at layer 0 to "
            "{final:.2f} at layer {last} (adjusted: {adjusted_first:.2f} to {adjusted_final:.2f})."
        )
    elif values[last] > values[0] + 0.02:
        sentence = _(
            "In your sentences {model}'s self-similarity rises from {first:.2f} at layer 0 to "
            "{final:.2f} at layer {last} (adjusted: {adjusted_first:.2f} to {adjusted_final:.2f})."
        )
    else:
        sentence = _(
            "In your sentences {model}'s self-similarity barely changes from {first:.2f} at layer "
            "0 to {final:.2f} at layer {last} (adjusted: {adjusted_first:.2f} to "
            "{adjusted_final:.2f})."
        )
    return sentence.format(
        model=escape_markdown(info.short_name),
        first=values[0],
        final=values[last],
        last=last,
        adjusted_first=adjusted[0],
        adjusted_final=adjusted[last],
    )


def _same_vector_pairs(items: Items, indices: np.ndarray) -> list[tuple[int, int]]:
    """Pairs of occurrences (item indices) whose vectors are equal at every layer."""
    vectors = items.vectors[:, indices, :].astype(np.float64)
    norms = np.linalg.norm(vectors, axis=-1)  # (layers, occurrences)
    # Candidates from the first layer's Gram matrix (all pairs at once: a frequent word in a
    # corpus has hundreds of occurrences). Its rounding moves a distance by ~1e-8 of a norm, far
    # below the candidates' threshold, so no equal pair is missed; each is then checked exactly.
    first, first_norms = vectors[0], norms[0]
    squared = first_norms[:, None] ** 2 + first_norms[None, :] ** 2 - 2 * first @ first.T
    near = np.sqrt(np.maximum(squared, 0)) <= 1e-3 * first_norms[:, None] + 1e-9
    pairs = []
    for a, b in zip(*np.nonzero(np.triu(near, k=1)), strict=True):
        difference = np.linalg.norm(vectors[:, a] - vectors[:, b], axis=-1)
        if np.all(difference <= SAME_VECTOR_RTOL * (norms[:, a] + 1e-12)):
            pairs.append((int(indices[a]), int(indices[b])))
    return pairs


def context_sentence(info: ModelInfo, items: Items, profile: ContextProfile) -> str:
    """What context an occurrence can use in this model, with an example from these sentences."""
    name = escape_markdown(info.short_name)
    word = escape_markdown(profile.word)
    if info.kind != "causal":
        return _(
            "**{model}** (bidirectional): every occurrence also uses the words after it. In a "
            "trained BERT the occurrences of a word with several senses (a river bank, a money "
            "bank) move apart by sense in the middle and upper layers; see below whether yours do."
        ).format(model=name)
    indices = profile.indices
    earliest = int(indices[np.argmin(items.position[indices])])
    sentence, position = int(items.sentence[earliest]), int(items.position[earliest])
    if position == 0:
        example = _(
            "the *{word}* of S{number} is its sentence's first word: it has seen nothing before "
            "it, so it cannot reflect which sense is meant"
        ).format(word=word, number=sentence + 1)
    else:
        before = [
            items.labels[i]
            for i in np.flatnonzero((items.sentence == sentence) & (items.position < position))
        ]
        example = _("the *{word}* of S{number} has seen only {words}").format(
            word=word, number=sentence + 1, words=_quoted(" ".join(before[-6:]))
        ) + (" " + _("(and more before)") if len(before) > 6 else "")
    text = _(
        "**{model}** (causal): an occurrence reflects only the words before it; here {example}."
    ).format(model=name, example=example)
    same = _same_vector_pairs(items, indices)
    if same:
        listed = ", ".join(
            _("S{first} and S{second}").format(
                first=int(items.sentence[a]) + 1, second=int(items.sentence[b]) + 1
            )
            for a, b in same[:4]
        )
        text += " " + _(
            "The occurrences in {sentences} get the same vector at every layer: the same tokens "
            "up to and including the word, which a causal model cannot tell apart."
        ).format(sentences=listed)
    return text


def notice_bullets(
    infos: tuple[ModelInfo, ModelInfo],
    items: tuple[Items, Items],
    profiles: tuple[ContextProfile, ContextProfile],
    tokens: tuple[list[tuple[str, ...]], list[tuple[str, ...]]],
) -> list[str]:
    """The "What to notice" bullets for one word, each checked on the current sentences (or
    phrased as a finding about trained models)."""
    bullets = []
    for which in (0, 1):
        occurrence_tokens = [tokens[which][i] for i in profiles[which].indices]
        bullets.append(layer0_sentence(infos[which], profiles[which].word, occurrence_tokens))
    trends = [trend_sentence(infos[which], profiles[which]) for which in (0, 1)]
    bullets.append(
        " ".join(
            [
                *(t for t in trends if t),
                _(
                    "In trained GPT-2 and BERT self-similarity is highest at the embeddings and "
                    "falls with depth, most in the upper layers (Ethayarajh 2019); random-weight "
                    "models (like the offline test stand-ins) show no such learned trend."
                ),
            ]
        )
    )
    bullets.extend(
        context_sentence(infos[which], items[which], profiles[which]) for which in (0, 1)
    )
    return bullets
