"""Every setting of every page in the page's address, so a copied link reproduces the view.

Widget keys double as query-string names. The link is read once per session (the first run), and
written back after every run; between pages the values live in ``st.session_state``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.parse
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from .. import align, geometry
from ..cache import BoundedCache
from ..contextuality import DEFAULT_WORD
from ..figures import COLOUR_BY
from ..i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, Message
from ..labels import PREPROCESSING_LABELS, PROJECTION_LABELS
from ..layers import LAYER_METHODS
from ..limits import load_limits
from ..models import default_model_names
from ..rsa import RSA_METHODS

DEFAULT_TEXTS = (
    "The bank raised its interest rates.",
    "We had a picnic on the river bank.",
    "She deposited the money at the bank.",
    "The river flooded the bank after the storm.",
    "A cat sat on the warm mat.",
)
# Texts longer than this stay out of the link (browsers and proxies cap URL length): the server
# keeps them under a short id (``t=...``) for a week, and the link carries the id.
MAX_TEXT_IN_URL = 2_000
SHARED_TEXT_KEY = "t"
SHARED_TEXT_DAYS = 7
SHARED_TEXT_ENTRIES = 500  # the store's bound (oldest dropped first): texts only, no visitor data
MODEL_KEYS = ("model_a", "model_b")
LINK_NOTES_KEY = "_link_notes"
# A default that depends on the model ("the last layer" is -1 in a link): what it is right now.
RESOLVED_DEFAULTS_KEY = "_resolved_defaults"


class SharedTexts:
    """Long texts kept by the server under a short id, bounded and expiring, for links.

    The id is a hash of the text, so the same text always gets the same id and nothing about
    who typed it is stored. Kept in memory: a restarted server has forgotten them, and a visitor
    whose link names a forgotten id is told so.
    """

    def __init__(self, max_entries: int = SHARED_TEXT_ENTRIES, days: float = SHARED_TEXT_DAYS):
        self._texts = BoundedCache(max_entries=max_entries)
        self._lifetime_s = days * 86_400

    @staticmethod
    def id_of(text: str) -> str:
        digest = hashlib.sha256(text.encode("utf-8")).digest()
        return base64.urlsafe_b64encode(digest[:9]).decode("ascii")  # 12 characters

    def put(self, text: str) -> str:
        key = self.id_of(text)
        self._texts.get_or_compute(key, lambda: (text, time.time()))
        return key

    def get(self, key: str) -> str | None:
        found, entry = self._texts.lookup(key)
        if not found or time.time() - entry[1] > self._lifetime_s:
            return None
        return entry[0]


@st.cache_resource(show_spinner=False)
def shared_texts() -> SharedTexts:
    return SharedTexts()


def is_local_folder(name: str) -> bool:
    """A model given as a folder on this machine (a link must not show it: it names the
    machine's files, and nobody else can open it)."""
    name = str(name).strip()
    return name.startswith(("/", "./", "../", "~", "\\")) or Path(name).expanduser().is_dir()


MAX_NEIGHBOURS = 20  # the Explore page's k slider goes this far (fewer with few items)
LESSON_STEPS = 5  # the Lesson page's steps (embexplorer.app.lesson.STEPS)
MAX_SAVED_VIEWS = 10  # saved views kept in the link
MAX_VIEWS_IN_URL = 6_000  # characters of the encoded list; a longer list is refused


@dataclass(frozen=True)
class UrlField:
    """One setting kept in the query string: how to read it back and its default."""

    default: Any
    choices: tuple | None = None

    def parse(self, raw: str) -> Any:
        """The value from a query-string entry, or None when it is not valid for this field."""
        if isinstance(self.default, bool):
            return {"1": True, "true": True, "0": False, "false": False}.get(raw.lower())
        if isinstance(self.default, int):
            try:
                value = int(raw)
            except ValueError:
                return None
        else:
            value = raw
        if self.choices is not None and value not in self.choices:
            return None
        return value

    @staticmethod
    def encode(value: Any) -> str:
        if isinstance(value, bool):
            return "1" if value else "0"
        return str(value)


def url_fields() -> dict[str, UrlField]:
    """Every setting of every page, by its widget key (which is also its query-string name)."""
    model_a, model_b = default_model_names()
    limits = load_limits()
    allowed = limits.allowed_models if limits.hosted else None
    return {
        "text": UrlField("\n".join(DEFAULT_TEXTS)),
        "model_a": UrlField(model_a, allowed),
        "model_b": UrlField(model_b, allowed),
        "layer_a": UrlField(-1),
        "layer_b": UrlField(-1),
        "unit": UrlField("word", tuple(align.UNITS)),
        "prep": UrlField("none", tuple(PREPROCESSING_LABELS)),
        "pooling": UrlField("mean", tuple(align.POOLINGS)),
        "special": UrlField(False),
        "present": UrlField(False),
        "lang": UrlField(DEFAULT_LANGUAGE, tuple(LANGUAGES)),
        # Projection page
        "method": UrlField("pca", tuple(PROJECTION_LABELS)),
        "dims": UrlField(2, (2, 3)),
        "colour": UrlField("sentence", COLOUR_BY),
        "labels": UrlField(True),
        "lines": UrlField(False),
        "joint": UrlField(False),
        # Similarity page
        "metric": UrlField("cosine", geometry.METRICS),
        "rsa": UrlField("spearman", RSA_METHODS),
        "control": UrlField("auto", ("auto", "on", "off")),
        "exclude_same": UrlField(False),
        # Layers / Geometry / Context pages
        "layer_method": UrlField("spearman", LAYER_METHODS),
        "log_scree": UrlField(True),
        "rot_seed": UrlField(0),
        "exclude_first": UrlField(False),
        "word": UrlField(DEFAULT_WORD),
        # Explore page
        "q": UrlField(""),
        "regex": UrlField(False),
        "k": UrlField(5, tuple(range(1, MAX_NEIGHBOURS + 1))),
        "overlap": UrlField(False),
        "views": UrlField(""),
        "skip_first": UrlField(False),
        "layer_control": UrlField(False),
        # Lesson page
        "step": UrlField(1, tuple(range(1, LESSON_STEPS + 1))),
    }


IGNORED_KEY = "_ignored_link_settings"


def restore_state() -> None:
    """Seed widget state from the link once per session, then keep it across page switches.

    The names of link settings that are not valid here are kept for :func:`ignored_settings`.
    """
    fields = url_fields()
    state = st.session_state
    if not state.get("_url_applied"):
        state["_url_applied"] = True
        ignored = []
        for key, raw in st.query_params.items():
            field = fields.get(key)
            value = field.parse(raw) if field else None
            if value is not None:
                state[key] = value
            elif field is not None:
                ignored.append(key)
        state[IGNORED_KEY] = ignored
        _restore_shared_text(state)
    for key, field in fields.items():
        # Re-assigning a widget's value keeps it when another page is opened (Streamlit drops
        # state of widgets that were not drawn in the previous run).
        state[key] = state[key] if key in state else field.default


def ignored_settings() -> list[str]:
    """The link settings that were not valid here (said once, on the first page shown)."""
    return st.session_state.pop(IGNORED_KEY, [])


def _restore_shared_text(state) -> None:
    """A link's ``t=<id>``: the long text the server kept for it, or a note that it is gone."""
    key = st.query_params.get(SHARED_TEXT_KEY)
    if not key or "text" in st.query_params:
        return
    text = shared_texts().get(key)
    if text is None:
        # A Message, translated when shown: this runs before the visitor's language is set.
        state.setdefault(LINK_NOTES_KEY, []).append(
            Message(
                N_(
                    "The sentences of this link are no longer on this server (it keeps long "
                    "texts for {days} days, and forgets them when it restarts), so the default "
                    "sentences are shown. Ask for the text file, or a new link."
                ),
                days=SHARED_TEXT_DAYS,
            )
        )
    else:
        state["text"] = text


def set_resolved_default(key: str, value) -> None:
    """Record what a model-dependent default (the last layer, -1) is for the current model."""
    st.session_state.setdefault(RESOLVED_DEFAULTS_KEY, {})[key] = value


def link_notes() -> list[str]:
    """What the link could not restore (said once)."""
    return st.session_state.pop(LINK_NOTES_KEY, [])


def link_params() -> dict[str, str]:
    """The settings that differ from the defaults, as query parameters.

    A local model folder never goes into a link; a text too long for a link is kept by the
    server under a short id (``t=...``).
    """
    state = st.session_state
    resolved = state.get(RESOLVED_DEFAULTS_KEY, {})
    params = {}
    for key, field in url_fields().items():
        if key not in state or state[key] in (field.default, resolved.get(key)):
            continue
        if key in MODEL_KEYS and is_local_folder(state[key]):
            continue
        params[key] = UrlField.encode(state[key])
    if len(params.get("text", "")) > MAX_TEXT_IN_URL:
        params[SHARED_TEXT_KEY] = shared_texts().put(params.pop("text"))
    return params


def local_models_left_out() -> list[str]:
    """The model slots ("A", "B") whose local folder the link leaves out."""
    state = st.session_state
    return [
        key[-1].upper()
        for key in MODEL_KEYS
        if state.get(key) != url_fields()[key].default and is_local_folder(state.get(key, ""))
    ]


def write_url() -> None:
    st.query_params.from_dict(link_params())


def share_link() -> str:
    """The full link to this view: the page's URL plus every setting."""
    base = st.context.url or ""
    query = urllib.parse.urlencode(link_params())
    return f"{base}?{query}" if query else base


# --- saved views (a named list of links, kept in the link itself) ---------------------------------


@dataclass(frozen=True)
class SavedView:
    """A named view: the page's URL path and the settings that differ from the defaults (the
    text always, when it fits in a link)."""

    name: str
    page: str
    params: dict

    def link(self, base: str = "", views: str = "") -> str:
        """``base/page?settings`` (``views`` appended, so the link carries the whole list)."""
        params = {**self.params, **({"views": views} if views else {})}
        return f"{base.rstrip('/')}/{self.page}?{urllib.parse.urlencode(params)}"


def view_params(params: dict[str, str]) -> dict[str, str]:
    """The settings of a link worth saving: those that differ from their defaults, and the text."""
    fields = url_fields()
    return {
        key: value
        for key, value in params.items()
        if key in fields
        and key != "views"
        and (key == "text" or value != UrlField.encode(fields[key].default))
    }


def encode_views(views: list[SavedView]) -> str:
    """The list as one short query value: JSON, zlib-compressed (a text repeated in every view
    costs little), base64url without padding. Empty for no views."""
    if not views:
        return ""
    data = json.dumps([[v.name, v.page, v.params] for v in views], separators=(",", ":"))
    packed = base64.urlsafe_b64encode(zlib.compress(data.encode("utf-8"), 9))
    return packed.decode("ascii").rstrip("=")


def decode_views(encoded: str) -> list[SavedView]:
    """The list from :func:`encode_views`; an empty list for anything that does not decode
    (a hand-edited or truncated link), never an error. At most :data:`MAX_SAVED_VIEWS`."""
    if not encoded:
        return []
    try:
        packed = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        rows = json.loads(zlib.decompress(packed, bufsize=2**16).decode("utf-8"))
        views = [
            SavedView(str(name), str(page), {str(k): str(v) for k, v in params.items()})
            for name, page, params in rows
        ]
    except (ValueError, TypeError, AttributeError, zlib.error):
        return []
    return views[:MAX_SAVED_VIEWS]


def apply_view(view: SavedView) -> None:
    """Put a saved view's settings into the session (callback: before any widget is drawn);
    a setting it does not name goes back to its default (the link holds only what differs)."""
    state = st.session_state
    for key, field in url_fields().items():
        if key == "views" and key not in view.params:
            continue
        value = field.parse(view.params[key]) if key in view.params else None
        state[key] = field.default if value is None else value
    if SHARED_TEXT_KEY in view.params:  # a long text, kept by the server under its id
        state["text"] = shared_texts().get(view.params[SHARED_TEXT_KEY]) or state["text"]
