"""Context: how far apart one word's occurrences in different sentences are, layer by layer."""

import streamlit as st

from embexplorer import contextuality, figures
from embexplorer.app import tables, widgets
from embexplorer.app.sidebar import sidebar
from embexplorer.labels import PREPROCESSING_LABELS

widgets.page_header(
    "Context",
    "A static embedding gives 'bank' one vector everywhere. How different are its occurrences "
    "in each model, at each layer?",
)
view = sidebar()
if view is None:
    st.stop()

names = (view.infos[0].short_name, view.infos[1].short_name)
words_a, words_b = view.items("word")
offered = contextuality.recurring_words(words_a)
if not offered:
    st.info(
        "No word occurs twice in the text. Add sentences that share a word, for example "
        "'bank' in 'the river bank' and 'the bank raised its rates'."
    )
    st.stop()
if st.session_state.get("word") not in offered:
    # A link or an edited text may name a word that is not (or no longer) in the text.
    st.session_state["word"] = contextuality.default_word(offered)
word = st.columns([2, 3])[0].selectbox(
    "Word",
    offered,
    key="word",
    format_func=lambda w: f"{w} ({contextuality.occurrences(words_a, w).size}×)",
    help="Words that occur at least twice in the sentences (matched ignoring case).",
)

profiles = view.context_profiles(word)
indices = profiles[0].indices
sentences = sorted({int(words_a.sentence[i]) for i in indices})
prep_label = PREPROCESSING_LABELS[view.preprocessing]
st.markdown(
    f"**{widgets.escape_markdown(word)}** occurs {indices.size} times in {len(sentences)} "
    f"sentence(s). Preprocessing: {prep_label}."
)

curves = [
    (
        "self-similarity (mean cosine between occurrences)",
        [
            figures.Curve(f"A: {names[0]}", profiles[0].self_similarity, model=0),
            figures.Curve(f"B: {names[1]}", profiles[1].self_similarity, model=1),
            figures.Curve(f"A: {names[0]} baseline", profiles[0].baseline, 0, True),
            figures.Curve(f"B: {names[1]} baseline", profiles[1].baseline, 1, True),
        ],
    ),
    (
        "adjusted: self-similarity minus the baseline",
        [
            figures.Curve(f"A: {names[0]}", profiles[0].adjusted, model=0),
            figures.Curve(f"B: {names[1]}", profiles[1].adjusted, model=1),
        ],
    ),
]
widgets.chart(figures.layer_curves_figure(curves, presentation=view.presentation), key="self_sim")
st.caption(
    "Self-similarity is 1 when every occurrence has the same vector (no context at all). The "
    "baseline (dashed) is the anisotropy at that layer: the mean cosine between *different* "
    "words. Subtracting it (Ethayarajh 2019) asks how much closer the occurrences are to each "
    "other than any two words are."
)

st.markdown(
    f"""
**What to notice**

- At the embedding layer (0) the occurrences differ only by their position embeddings; in
  trained models self-similarity is highest there and falls with depth (Ethayarajh 2019).
- **{widgets.escape_markdown(names[1])}** ({view.infos[1].sees}): in the middle layers the
  occurrences of a word with several senses (*bank* of a river, *bank* with money) separate by
  sense; the same-sense occurrences stay close in the picture below.
- **{widgets.escape_markdown(names[0])}** ({view.infos[0].sees}): an occurrence can only reflect the
  words *before* it. In "The bank raised its interest rates" GPT-2's *bank* has seen only "The",
  so it cannot know which bank is meant; its vector differs from another sentence's *bank*
  only through the left contextuality.
- With random-weight models (the offline stand-ins) none of this emerges: it is learned.
"""
)

st.subheader(
    f"The occurrences among the other words (PCA, layers A {view.layers[0]} · B {view.layers[1]})"
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
    "Each model's words at its sidebar layer, projected by PCA; the occurrences of the word "
    "are coloured by sentence. Move the layer sliders to watch them drift apart."
)

downloads = st.columns(2)
with downloads[0]:
    widgets.download_csv(
        "Self-similarity (CSV)",
        lambda: tables.self_similarity_table(profiles, view.names, word),
        "self_similarity.csv",
        key="dl_selfsim",
    )
with downloads[1]:
    widgets.download_csv(
        "Projection (CSV)",
        lambda: tables.context_points_table(projections, (words_a, words_b), indices, view.names),
        "context_projection.csv",
        key="dl_ctx_proj",
    )
