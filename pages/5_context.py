"""Context: how far apart one word's occurrences in different sentences are, layer by layer."""

import streamlit as st

from embexplorer import contextuality, figures
from embexplorer.app import context_text, tables, widgets
from embexplorer.app.sidebar import open_page
from embexplorer.i18n import N_, _
from embexplorer.labels import PREPROCESSING_LABELS, label

escape = widgets.escape_markdown

view = open_page(
    N_("Context"),
    N_(
        "A static embedding gives 'bank' one vector everywhere. How different are its "
        "occurrences in each model, at each layer?"
    ),
)

names = (view.infos[0].short_name, view.infos[1].short_name)
words_a, words_b = view.items("word")
choices = st.columns([2, 3], vertical_alignment="bottom")
skip_first = choices[1].toggle(
    _("Leave out position 0"),
    key="skip_first",
    help=_(
        "Leave out each sentence's first word, as an occurrence and in the baseline: in trained "
        "GPT-2 the first position has an outsized vector, and the first word has no leading "
        "space, so it is a different token from the same word elsewhere."
    ),
)
offered, sentences_of = view.word_menu(skip_first)
if not offered:
    st.info(
        (
            _(
                "No word occurs twice, in two different sentences, (leaving out each sentence's "
                "first word) in both models."
            )
            if skip_first
            else _("No word occurs twice, in two different sentences, in both models.")
        )
        + " "
        + _(
            "Add sentences that share a word, for example 'bank' in 'the river bank' and 'the "
            "bank raised its rates'."
        )
    )
    st.stop()
if st.session_state.get("word") not in offered:
    # A link or an edited text may name a word that is not (or no longer) in the text.
    st.session_state["word"] = contextuality.default_word(offered)


def _word_option(word: str) -> str:
    # Offered words occur in at least two sentences, so the count is always plural.
    return _("{word} ({n} sentences)").format(word=word, n=sentences_of[word])


word = choices[0].selectbox(
    _("Word"),
    offered,
    key="word",
    format_func=_word_option,
    help=_(
        "Words that occur in at least two different sentences in both models (a cased model "
        "matches case; Ethayarajh 2019 uses words with at least {n})."
    ).format(n=contextuality.MIN_CONTEXTS),
)

profiles = view.context_profiles(word, skip_first)
indices = profiles[0].indices
prep_label = label(PREPROCESSING_LABELS, view.preprocessing)
counts = "; ".join(
    _("{name}: {occurrences} occurrences in {sentences} sentences").format(
        name=escape(names[which]), occurrences=p.n_occurrences, sentences=p.n_contexts
    )
    for which, p in enumerate(profiles)
)
st.markdown(
    f"**{escape(word)}** — {counts}. "
    + _("Preprocessing: {preprocessing}.").format(preprocessing=prep_label)
    + (" " + _("Each sentence's first word left out.") if skip_first else "")
)
casing = context_text.casing_note(view.infos, word, words_a.labels)
if casing:
    st.caption(casing)
for warning in dict.fromkeys(p.warning for p in profiles if p.warning):
    st.warning(escape(warning), icon="⚠️")

level = f"{profiles[0].ci_level:.0%}"
curves = [
    (
        _("self-similarity (mean cosine between occurrences in different sentences)"),
        [
            figures.Curve(
                f"A: {names[0]}",
                profiles[0].self_similarity,
                model=0,
                interval=(profiles[0].ci_low, profiles[0].ci_high),
            ),
            figures.Curve(
                f"B: {names[1]}",
                profiles[1].self_similarity,
                model=1,
                interval=(profiles[1].ci_low, profiles[1].ci_high),
            ),
            figures.Curve(
                _("A: {name} baseline").format(name=names[0]), profiles[0].baseline, 0, True
            ),
            figures.Curve(
                _("B: {name} baseline").format(name=names[1]), profiles[1].baseline, 1, True
            ),
        ],
    ),
    (
        _("adjusted: self-similarity minus the baseline"),
        [
            figures.Curve(f"A: {names[0]}", profiles[0].adjusted, model=0),
            figures.Curve(f"B: {names[1]}", profiles[1].adjusted, model=1),
        ],
    ),
]
widgets.chart(figures.layer_curves_figure(curves, presentation=view.presentation), key="self_sim")
st.caption(
    _(
        "As Ethayarajh (2019) defines them: **self-similarity** is the mean cosine between the "
        "word's occurrences in *different* sentences (pairs within one sentence are left out); it "
        "is 1 when every occurrence has the same vector (no context at all). Bars: {level} "
        "bootstrap interval over the occurrences."
    ).format(level=level)
    + " "
    + _(
        "The **baseline** (dashed) is the anisotropy at that layer: the mean cosine between "
        "*different* words in *different* sentences. **Adjusted** = self-similarity − baseline: "
        "how much closer the occurrences are to each other than any two words are."
    )
)

used = view.context_items_used(word, skip_first)
if used < words_a.n_items:
    st.caption(
        _(
            "On this corpus the baseline and the preprocessing use {used:,} of {total:,} words: "
            "every occurrence of the word and whole sentences spread evenly through the text (a "
            "mean over pairs of words; all of them would take seconds per layer)."
        ).format(used=used, total=words_a.n_items)
    )

bullets = context_text.notice_bullets(view.infos, (words_a, words_b), profiles, view.word_tokens())
st.markdown("**" + _("What to notice") + "**\n\n" + "\n".join(f"- {bullet}" for bullet in bullets))

st.subheader(
    _("The occurrences among the other words (PCA, layers A {layer_a} · B {layer_b})").format(
        layer_a=view.layers[0], layer_b=view.layers[1]
    )
)
projections = [view.projection(which, "pca", 2, unit="word") for which in (0, 1)]
panels = [
    figures.PointSet.from_items(projection, side, view.texts)
    for projection, side in zip(projections, (words_a, words_b), strict=True)
]
widgets.chart(
    figures.context_projection_figure(
        panels,
        [view.panel_title(0), view.panel_title(1)],
        indices,
        word,
        presentation=view.presentation,
    ),
    key="context_projection",
)
st.caption(
    (
        _(
            "Each model's words at its sidebar layer, projected by PCA; the occurrences of the "
            "word are coloured by sentence."
        )
        if len(indices) <= figures.MAX_LEGEND_GROUPS
        else _(
            "Each model's words at its sidebar layer, projected by PCA; the {n:,} occurrences of "
            "the word share one colour (hover over one for its sentence)."
        ).format(n=len(indices))
    )
    + " "
    + _("Move the layer sliders to see how far apart each layer puts them.")
)
widgets.pca_fit_note(words_a.n_items, "word")

downloads = st.columns(2)
with downloads[0]:
    widgets.download_csv(
        _("Self-similarity (CSV)"),
        lambda: tables.self_similarity_table(profiles, view.names, word),
        "self_similarity.csv",
        key="dl_selfsim",
    )
with downloads[1]:
    widgets.download_csv(
        _("Projection (CSV)"),
        lambda: tables.context_points_table(projections, (words_a, words_b), indices, view.names),
        "context_projection.csv",
        key="dl_ctx_proj",
    )
