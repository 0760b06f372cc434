"""The guided lesson: five steps, each a short text, its formula and a live chart.

Every step has its own prepared sentences; :func:`step_view` turns the sidebar's view (models,
layers, pooling, preprocessing) into a view of those sentences, so every number comes from the
same cached computations as the full pages. A sentence about the models is said only when the
loaded models' numbers make it true.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import streamlit as st

from .. import contextuality, figures, geometry
from ..i18n import N_, _
from ..labels import METRIC_LABELS, MODEL_KIND_LABELS, correlation_symbol, formatter, label
from . import widgets
from .explore_sections import PAGE_TITLES, SAVABLE_PAGES, model_name
from .state import LESSON_STEPS
from .view import View

CHART_HEIGHT = 430  # px: the step's chart fits beside its text on a 1280x720 projector
EXACT = 1e-6  # a cosine this close to 1 is "exactly 1" (floating-point rounding only)


@dataclass(frozen=True)
class Step:
    """One step: its title, sentences, formula, drawing function, and the full page it opens.

    ``name`` keys its title and text in :data:`STEP_TITLES` and :data:`STEP_TEXTS` (catalogue
    texts, shown in the visitor's language by :attr:`title` and :attr:`text`). The sentences
    stay English: they are what the English models read.
    """

    name: str
    texts: tuple[str, ...]
    # LaTeX, symbols only: KaTeX's fonts lack most Vietnamese letters, so the words that say
    # what a symbol is go to the step's notation (:data:`STEP_NOTATION`, Markdown)
    latex: str
    # draws the chart; model-specific sentences go to ``aside`` (the text column); returns extra
    # settings for the full page's link
    draw: Callable[[View, object], dict | None]
    page: str  # a key of SAVABLE_PAGES: the full page that shows more

    @property
    def title(self) -> str:
        return label(STEP_TITLES, self.name)

    @property
    def text(self) -> str:
        return label(STEP_TEXTS, self.name)  # 2-4 sentences, true for any two models

    @property
    def notation(self) -> str:
        """What the formula's symbols are, in the visitor's language ("" when they need no
        words)."""
        if self.name not in STEP_NOTATION:
            return ""
        return label(STEP_NOTATION, self.name).format(**NOTATION_SYMBOLS)


def step_view(view: View, texts: tuple[str, ...]) -> View:
    """The sidebar's models, layers, pooling and preprocessing on the step's own sentences, with
    words as items (the lesson compares the same words in both models)."""
    selection = replace(view.selection, texts=tuple(texts), unit="word", special=False)
    return replace(view, selection=selection, warnings=())


def _chart(fig, key: str, fit: bool = True) -> None:
    if fit:
        fig.update_layout(height=min(fig.layout.height or CHART_HEIGHT, CHART_HEIGHT))
    widgets.chart(fig, key=key)


def _short_titles(view: View) -> list[str]:
    """Panel titles short enough for two panels in the lesson's narrower chart column."""
    return [
        _("{model} ({kind}) · layer {layer}").format(
            model="AB"[w], kind=label(MODEL_KIND_LABELS, view.infos[w].kind), layer=view.layers[w]
        )
        for w in (0, 1)
    ]


def causal_sentences(view: View, curves) -> list[str]:
    """What the curves of the two "bank"s show, said only where it is true for these models."""
    said = []
    for which, (info, curve) in enumerate(zip(view.infos, curves, strict=True)):
        name = f"**{'AB'[which]}** ({info.short_name}, {label(MODEL_KIND_LABELS, info.kind)})"
        below = np.flatnonzero(curve < 1 - EXACT)
        if info.kind == "causal" and below.size == 0:
            said.append(
                _(
                    "{model}: 1 at every layer (the same vector): it sees only the words up to "
                    "'bank', the same in both sentences."
                ).format(model=name)
            )
        elif info.kind != "causal" and below.size:
            said.append(
                _("{model}: below 1 from layer {layer} on: it sees each whole sentence.").format(
                    model=name, layer=below[0]
                )
            )
    return said


def causal_step(view: View, aside) -> None:
    items = view.items("word")[0]
    first, second = contextuality.occurrences(items, "bank")[:2]
    curves = view.pair_curves(int(first), int(second))
    names = [model_name(view, which) for which in (0, 1)]
    labels = items.display_labels()
    for sentence in causal_sentences(view, curves):
        aside.markdown(f"- {sentence}")
    _chart(
        figures.pair_depth_figure(
            *curves, names, f"{labels[first]} · {labels[second]}", view.presentation
        ),
        key="lesson_causal",
    )


def distance_step(view: View, aside) -> dict[str, str]:
    metric = st.segmented_control(
        _("Measure"),
        ["cosine", "euclidean"],
        key="lesson_metric",
        default="cosine",
        required=True,
        format_func=formatter(METRIC_LABELS),
    )
    comparison = view.comparison(metric, st.session_state.get("rsa", "spearman"))
    _chart(
        figures.heatmap_pair_figure(
            comparison.matrix_a,
            comparison.matrix_b,
            comparison.labels,
            _short_titles(view),
            metric=metric,
            presentation=view.presentation,
        ),
        key="lesson_heatmaps",
    )
    return {"metric": metric}


def pca_step(view: View, aside) -> None:
    spectra = view.spectra()
    n90 = [geometry.n_components_for_variance(s.explained_variance_ratio, 0.9) for s in spectra]
    _chart(
        figures.spectrum_figure(
            [s.eigenvalues for s in spectra],
            [s.explained_variance_ratio for s in spectra],
            [model_name(view, which) for which in (0, 1)],
            n90,
            presentation=view.presentation,
        ),
        key="lesson_spectrum",
        fit=False,  # its legend needs the figure's own height
    )


def rsa_step(view: View, aside) -> None:
    method = st.session_state.get("rsa", "spearman")
    comparison = view.comparison("cosine", method)
    values_a, values_b = comparison.pair_values()
    st.metric(
        _("RSA ({symbol}) of these {n} pairs").format(
            symbol=correlation_symbol(method), n=comparison.rsa.n_pairs
        ),
        widgets.number(comparison.rsa.value),
    )
    _chart(
        figures.rsa_scatter_figure(
            values_a,
            values_b,
            comparison.pair_labels(),
            comparison.fit_line(),
            axis_titles=(_("cosine in A"), _("cosine in B")),
            presentation=view.presentation,
        ),
        key="lesson_rsa",
    )


def rotation_step(view: View, aside) -> None:
    demo = view.invariance(0, st.session_state.get("rsa", "spearman"))
    change = demo.rotation.max_cosine_change
    cells = st.columns(2)
    cells[0].metric(
        _("Largest coordinate move"), widgets.plain_number(demo.rotation.max_coordinate_change)
    )
    cells[1].metric(
        _("Largest cosine change"),
        widgets.plain_number(change, zero="0"),
        help=_("max |cos(xR, yR) - cos(x, y)| over all pairs of items: {change}").format(
            change=_("floating-point rounding only") if change < EXACT else f"{change:.3g}"
        ),
    )
    labels = view.items("word")[0].display_labels()
    _chart(
        figures.displacement_figure(
            [
                (
                    _("{model}: before and after R").format(model=model_name(view, 0)),
                    demo.vectors,
                    demo.rotation.vectors,
                )
            ],
            labels,
            presentation=view.presentation,
        ),
        key="lesson_rotation",
    )


STEP_TITLES = {
    "causal": N_("Causal vs bidirectional attention"),
    "distance": N_("Cosine vs Euclidean distance"),
    "pca": N_("The PCA eigenproblem"),
    "rsa": N_("RSA: correlating two similarity matrices"),
    "rotation": N_("Rotation invariance"),
}
STEP_TEXTS = {
    "causal": N_(
        "A causal model (GPT-2) builds each word's vector from that word and the words before "
        "it; a bidirectional one (BERT) from the whole sentence. So in two sentences that begin "
        "alike, a causal model gives the shared words the same vector until the sentences "
        "diverge, while a bidirectional one can already tell them apart."
    ),
    "distance": N_(
        "Cosine similarity compares directions only: two vectors pointing the same way score 1, "
        "whatever their lengths. Euclidean distance also counts length, so a vector much longer "
        "than the others is far from all of them. The same words can look alike by one measure "
        "and apart by the other."
    ),
    "pca": N_(
        "PCA centres the vectors and finds the directions along which they vary most: the "
        "eigenvectors of their covariance matrix. Each eigenvalue is the variance along its "
        "direction, so its share of the sum is the variance that component explains. A steep "
        "drop after the first one is a space dominated by one direction."
    ),
    "rsa": N_(
        "The two models' vectors live in different spaces, so they cannot be compared "
        "coordinate by coordinate. RSA compares what can be: each model's similarity of every "
        "pair of items. It correlates the two matrices' upper triangles, one point per pair."
    ),
    "rotation": N_(
        "A rotation R (RᵀR = I) keeps every length and angle: each coordinate moves, every "
        "cosine stays. So a model whose space is a rotated copy of another's is, for cosine, "
        "RSA and nearest neighbours, the same model."
    ),
}
# Under the formula: its symbols in words. The symbols themselves are inline LaTeX, kept out of
# the catalogue texts.
STEP_NOTATION = {
    "causal": N_(
        "{h_causal}: a causal model, each word sees the words up to itself; {h_bidirectional}: "
        "a bidirectional model, each word sees all {T} words of the sentence."
    ),
    "pca": N_(
        "{X}: the centred vectors, one row per item; {lambda_k}, {w_k}: the {k}-th eigenvalue "
        "and eigenvector; {r_k}: the share of the variance that component {k} explains."
    ),
}
NOTATION_SYMBOLS = {
    "h_causal": r"$h_t^{\rightarrow}$",
    "h_bidirectional": r"$h_t^{\leftrightarrow}$",
    "T": "$T$",
    "X": "$X$",
    "lambda_k": r"$\lambda_k$",
    "w_k": "$w_k$",
    "k": "$k$",
    "r_k": "$r_k$",
}
BANK = ("The bank raised its rates.", "We sat on the river bank.", "She paid cash at the bank.")
STEPS = (
    Step(
        "causal",
        ("The bank of the river", "The bank of England"),
        r"\begin{gathered}h_t^{\rightarrow} = f(w_1, \dots, w_t) \\"
        r"h_t^{\leftrightarrow} = f(w_1, \dots, w_T)\end{gathered}",
        causal_step,
        "explore",
    ),
    Step(
        "distance",
        BANK,
        # one short line each: the text column of a 1280x720 projector is ~390 px wide
        r"\begin{aligned}\cos(u, v) &= \frac{u^\top v}{\lVert u \rVert \, \lVert v \rVert} \\"
        r"d(u, v) &= \lVert u - v \rVert_2 \\ &= \sqrt{\textstyle\sum_i (u_i - v_i)^2}"
        r"\end{aligned}",
        distance_step,
        "similarity",
    ),
    Step(
        "pca",
        BANK + ("A cat sat on the warm mat.", "The dog slept by the door."),
        r"\begin{gathered}\Sigma = \tfrac{1}{n} X^\top X, \quad \Sigma w_k = \lambda_k w_k \\ "
        r"r_k = \lambda_k / \textstyle\sum_j \lambda_j\end{gathered}",
        pca_step,
        "geometry",
    ),
    Step(
        "rsa",
        BANK + ("A cat sat on the warm mat.",),
        r"\text{RSA} = \rho\big(\{S^A_{ij}\}_{i<j},\ \{S^B_{ij}\}_{i<j}\big)",
        rsa_step,
        "similarity",
    ),
    Step(
        "rotation",
        BANK,
        r"\begin{gathered}R^\top R = I \;\Rightarrow\; \lVert Ru \rVert = \lVert u \rVert \\"
        r"\begin{aligned}\cos(Ru, Rv) &= \frac{u^\top R^\top R v}"
        r"{\lVert Ru \rVert \, \lVert Rv \rVert} \\"
        r"&= \frac{u^\top v}{\lVert u \rVert \, \lVert v \rVert} = \cos(u, v)"
        r"\end{aligned}\end{gathered}",
        rotation_step,
        "geometry",
    ),
)


def full_page(step: Step) -> tuple[str, str]:
    """The step's full page: its script path (for ``st.page_link``) and its title."""
    return SAVABLE_PAGES[step.page], label(PAGE_TITLES, step.page)


def step_params(step: Step, params: dict[str, str], extra: dict | None) -> dict[str, str]:
    """The link to the step's full page: the session's settings with the step's sentences (and
    what the step chose, e.g. the measure)."""
    params = {key: value for key, value in params.items() if key not in ("t", "step")}
    return {**params, **(extra or {}), "text": "\n".join(step.texts)}


assert len(STEPS) == LESSON_STEPS  # the link's ``step`` accepts 1..LESSON_STEPS
