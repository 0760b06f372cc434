"""The app's pages and its home page: what ``app.py`` runs for every page view.

The home page explains what the app shows and links every view with the visitor's settings.
"""

import streamlit as st

from embexplorer import i18n
from embexplorer.app import caching, widgets
from embexplorer.app.sidebar import sidebar
from embexplorer.app.state import link_params
from embexplorer.i18n import N_, _

# Each view: its address (/projection, ...), its file in pages/, its title and icon; in this order
# in the navigation, after the home page.
VIEW_PAGES = (
    ("lesson", "7_lesson.py", N_("Lesson"), ":material/school:"),
    ("projection", "1_projection.py", N_("Projection"), ":material/scatter_plot:"),
    ("similarity", "2_similarity.py", N_("Similarity & RSA"), ":material/grid_on:"),
    ("layers", "3_layers.py", N_("Layers"), ":material/stacks:"),
    ("geometry", "4_geometry.py", N_("Geometry"), ":material/3d_rotation:"),
    ("context", "5_context.py", N_("Context"), ":material/format_quote:"),
    ("explore", "6_explore.py", N_("Explore"), ":material/travel_explore:"),
)


def define_pages() -> dict[str, st.Page]:
    """The pages, titled in this run's language (the home page links the others)."""
    pages = {
        "home": st.Page(
            lambda: home(pages),
            title=_("Home"),
            icon=":material/home:",
            default=True,
            url_path="home",
        )
    }
    for url_path, file, title, icon in VIEW_PAGES:
        pages[url_path] = st.Page(
            f"pages/{file}", title=i18n._(title), icon=icon, url_path=url_path
        )
    return pages


def home(pages: dict[str, st.Page]) -> None:
    widgets.page_header(
        N_("embexplorer"),
        N_("How GPT-2 and BERT embed the same text: side by side, at any layer."),
    )
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown(
            _(
                "Type sentences in the sidebar. Both models turn every token into a vector at "
                "every layer; this app projects those vectors to 2D/3D, draws item-by-item "
                "similarity heatmaps, and scores how alike the two models' similarity structures "
                "are (RSA)."
            )
            + "\n\n"  # one paragraph per catalogue entry, one element on the page
            + _(
                "**Why they differ.** GPT-2 is *causal*: a token's vector depends only on the "
                "words before it. BERT is *bidirectional*: every vector sees the whole sentence. "
                'So "bank" in *"the bank of the river"* is the same GPT-2 vector as in *"the bank '
                'raised rates"* up to the word "bank", while BERT\'s already differs. Their '
                "tokenizers differ too (GPT-2's byte-level BPE, BERT's WordPiece), so the app "
                "segments the text into words once and pools each model's pieces into the same "
                "items."
            )
        )
        # Formulas on two lines where one would be cut at 1280 px (the right column is narrow).
        st.latex(
            r"\begin{aligned} \text{GPT-2: } h_t &= f(w_1, \dots, w_t) \\"
            r" \text{BERT: } h_t &= f(w_1, \dots, w_T) \end{aligned}"
        )
        params = link_params()
        st.page_link(
            pages["lesson"],
            label=_("Start the lesson: the five ideas behind these views, one step at a time"),
            icon=":material/school:",
            query_params={key: value for key, value in params.items() if key not in ("text", "t")},
        )
        st.markdown(_("**Open a view**"))
        st.page_link(
            pages["projection"],
            label=_("Projection: PCA / UMAP / t-SNE, 2D or 3D"),
            query_params=params,
        )
        st.page_link(
            pages["similarity"],
            label=_("Similarity: heatmaps, RSA score and scatter"),
            query_params=params,
        )
        st.page_link(
            pages["layers"],
            label=_("Layers: every layer of A against every layer of B; geometry by depth"),
            query_params=params,
        )
        st.page_link(
            pages["geometry"],
            label=_("Geometry: PCA spectrum, rotations, Procrustes, rogue dimensions"),
            query_params=params,
        )
        st.page_link(
            pages["context"],
            label=_("Context: one word's occurrences in different sentences, layer by layer"),
            query_params=params,
        )
        st.page_link(
            pages["explore"],
            label=_("Explore: search, neighbours, linked selection, animation, saved views"),
            query_params=params,
        )
    with right:
        st.markdown(_("**The mathematics in one place**"))
        st.caption(_("Cosine similarity (angle only, blind to length)"))
        st.latex(r"\cos(u, v) = \frac{u^\top v}{\lVert u \rVert \, \lVert v \rVert}")
        st.caption(_("Euclidean distance (length matters)"))
        st.latex(
            r"\begin{aligned} d(u, v) &= \lVert u - v \rVert_2 \\"
            r" &= \sqrt{\textstyle\sum_i (u_i - v_i)^2} \end{aligned}"
        )
        st.caption(_("PCA: eigenvectors of the covariance of the centred vectors X"))
        st.latex(
            r"\begin{aligned} \tfrac{1}{n-1} X^\top X \, w_k &= \lambda_k w_k \\ \text{"
            + _("explained")
            + r"}_k &= \lambda_k / \textstyle\sum_j \lambda_j \end{aligned}"
        )
        st.caption(_("RSA: correlate the upper triangles of the two item-by-item matrices"))
        st.latex(r"\text{RSA} = \rho\big(\{S^A_{ij}\}_{i<j},\ \{S^B_{ij}\}_{i<j}\big)")
        st.caption(_("Rotation invariance: an orthogonal R moves coordinates, not cosines"))
        st.latex(
            r"\begin{aligned} R^\top R &= I \\"
            r" \Rightarrow\; \cos(Ru, Rv) &= \cos(u, v) \end{aligned}"
        )
    sidebar()


def run_app() -> None:
    """One page view: the visitor's language, the navigation, then the page it asks for."""
    widgets.use_language()  # before any text: the page titles are in the visitor's language
    pages = define_pages()
    try:
        st.navigation(list(pages.values()), position="sidebar").run()
    finally:
        # The page has been sent (or stopped early): background work that waits for the first view
        # (the UMAP compilation) may now take the CPU.
        caching.first_view_ready()
