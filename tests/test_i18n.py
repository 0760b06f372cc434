"""English and Vietnamese: the catalogue is complete, and a page in Vietnamese shows no English."""

import ast
import json
import re
import string
import threading

import pytest
import streamlit as st
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from conftest import ROOT
from google.protobuf.json_format import MessageToDict
from streamlit.string_util import clean_text
from streamlit.testing.v1 import AppTest

from embexplorer import i18n
from embexplorer.app import lesson
from embexplorer.i18n import L_, N_, _

KEYWORDS = {**DEFAULT_KEYWORDS, "L_": None}
MARKERS = {"_", "N_", "L_", "ngettext"}
# babel.cfg's mapping, read the way `pybabel extract -F babel.cfg` reads it.
METHOD_MAP = [("app.py", "python"), ("pages/**.py", "python"), ("embexplorer/**.py", "python")]


def source_messages() -> dict[str, str]:
    """Every marked text in the source (msgid -> one place it is marked)."""
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        ROOT, METHOD_MAP, keywords=KEYWORDS
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def catalogue(code: str = "vi"):
    with i18n.catalogue_path(code).open("rb") as po_file:
        return read_po(po_file, locale=code)


def test_babel_cfg_lists_the_extracted_sources():
    text = (ROOT / "babel.cfg").read_text()
    for pattern, method in METHOD_MAP:
        assert f"[{method}: {pattern}]" in text


def test_every_marked_text_has_a_translation():
    marked = source_messages()
    assert len(marked) > 5
    # A plural entry's id is (singular, plural); the source is keyed by the singular.
    entries = {
        message.id[0] if isinstance(message.id, tuple) else message.id: message
        for message in catalogue()
        if message.id
    }
    missing = sorted(
        f"{where}: {msgid!r}" for msgid, where in marked.items() if msgid not in entries
    )
    assert not missing, "no catalogue entry (run pybabel update):\n" + "\n".join(missing)
    empty = sorted(
        repr(msgid)
        for msgid, message in entries.items()
        if not all(message.string if isinstance(message.string, tuple) else [message.string])
        or message.fuzzy
    )
    assert not empty, "untranslated or fuzzy:\n" + "\n".join(empty)
    obsolete = sorted(repr(msgid) for msgid in entries if msgid not in marked)
    assert not obsolete, "in the catalogue but no longer in the source:\n" + "\n".join(obsolete)


def _fields(text: str) -> set[str]:
    return {name for _literal, name, _spec, _conv in string.Formatter().parse(text) if name}


def test_translations_keep_every_placeholder_and_emphasis():
    problems = []
    for message in catalogue():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for source in ids:
            for translated in strings:
                try:
                    if _fields(source) != _fields(translated):
                        problems.append(f"{source!r}: placeholders differ in {translated!r}")
                except ValueError as error:  # an unbalanced brace in the translation
                    problems.append(f"{source!r}: {error} in {translated!r}")
                if source.count("**") != translated.count("**"):
                    problems.append(f"{source!r}: bold markers differ in {translated!r}")
    assert not problems, "\n".join(problems)


def test_marked_texts_are_literals():
    """``_(f"...")`` or ``_(variable)`` puts nothing (or one filled-in copy) in the catalogue."""
    offenders = []
    files = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
    files += sorted((ROOT / "embexplorer").rglob("*.py"))
    files.remove(ROOT / "embexplorer" / "i18n.py")  # where the markers translate what they get
    files.remove(ROOT / "embexplorer" / "labels.py")  # label(): the N_-marked names of its dicts
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id not in MARKERS:
                continue
            literal_args = 2 if node.func.id == "ngettext" else 1
            args = node.args[:literal_args]
            if len(args) < literal_args or not all(
                isinstance(arg, ast.Constant) and isinstance(arg.value, str) for arg in args
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, "translate literal texts only:\n" + "\n".join(offenders)


def test_language_belongs_to_each_thread():
    seen = {}

    def visitor(code):
        i18n.set_language(code)
        seen[code] = _("Layers")

    threads = [threading.Thread(target=visitor, args=(code,)) for code in ("vi", "en")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"vi": "Các lớp", "en": "Layers"}
    assert i18n.current_language() == "en"  # this thread was never switched


def test_marking_helpers():
    assert N_("Layers") == "Layers"  # marked only
    spinner = L_("Layers")
    with i18n.language("vi"):
        assert clean_text(spinner) == "Các lớp"  # how Streamlit reads a cache spinner's text
    assert clean_text(spinner) == "Layers"
    with pytest.raises(ValueError, match="language must be one of"):
        i18n.set_language("fr")


# --- a page in Vietnamese shows no English ------------------------------------------------------

# Words that English text can hardly do without and Vietnamese (even without its diacritics) never
# uses. The sentences typed below avoid them, so any hit is the app's own text, untranslated.
ENGLISH_WORDS = frozenset(
    "the and of is are with this that which from for each every what how your you its was were "
    "has have will into only both when where there their these those "
    # and the app's own nouns, which Vietnamese says in its own words ("token", "cosine", "RSA"
    # and "PCA" stay as they are in Vietnamese, so they are not here)
    "layer layers item items word words tokens sentence sentences similarity distance random "
    "weights model models sampled colour download share link page score pair pairs".split()
)
# Proto fields that are not read as text: ids, icons, a page link's target and query string, and
# the share link (a URL, shown as code); and what a visitor typed (a model's name, the sentences).
NOT_READ_KEYS = {"id", "formId", "icon", "type", "scriptHash", "page", "queryString", "codeText"}
TYPED_BY_VISITOR = {"TextInput", "TextArea"}
# Identifiers a visitor has to type as they are (environment variables such as EMBEXPLORER_MODEL_A).
IDENTIFIER = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
PLOTLY_TEXT_KEYS = {"text", "name", "hovertemplate", "ticktext", "hovertext", "texttemplate"}
SENTENCES = "Cats chase mice.\nDogs chase cats.\nBirds eat seeds.\nMice eat seeds."
PAGES = [
    "app.py",
    "pages/7_lesson.py",
    "pages/1_projection.py",
    "pages/2_similarity.py",
    "pages/3_layers.py",
    "pages/4_geometry.py",
    "pages/5_context.py",
    "pages/6_explore.py",
]


def _plotly_texts(node, out: list[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in PLOTLY_TEXT_KEYS and isinstance(value, str):
                out.append(value)
            elif key in PLOTLY_TEXT_KEYS and isinstance(value, list):
                out.extend(v for v in value if isinstance(v, str))
            else:
                _plotly_texts(value, out)
    elif isinstance(node, list):
        for value in node:
            _plotly_texts(value, out)


def _strings(node, out: list[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "spec" and isinstance(value, str):  # a plotly figure's JSON
                _plotly_texts(json.loads(value), out)
            elif key == "columns" and isinstance(value, str):  # a table's column config JSON
                config = json.loads(value)  # keyed by the data's column names: headers only
                out.extend(str(column.get("label", "")) for column in config.values())
            elif key not in NOT_READ_KEYS:
                _strings(value, out)
    elif isinstance(node, list):
        for value in node:
            _strings(value, out)
    elif isinstance(node, str):
        out.append(node)


def page_texts(at: AppTest) -> list[str]:
    """Every text the page sends to the browser: elements, widgets (labels, options, help) and
    the texts inside its figures."""
    out: list[str] = []
    stack = [at._tree]
    while stack:
        node = stack.pop()
        proto = getattr(node, "proto", None)
        if proto is not None and type(proto).__name__ == "Html":
            # Only what the browser shows of it: not its styles, scripts or tags.
            shown = re.sub(r"<(script|style)\b.*?</\1>", "", proto.body, flags=re.S)
            out.append(re.sub(r"<[^>]+>", "", shown))
        elif proto is not None:
            fields = MessageToDict(proto)
            if type(proto).__name__ in TYPED_BY_VISITOR:
                fields.pop("value", None)
            _strings(fields, out)
        children = getattr(node, "children", None)
        if children:
            stack.extend(children.values())
    return out


# The lesson's prepared sentences are what the (English) models read, quoted as data.
LESSON_SENTENCES = sorted({text for step in lesson.STEPS for text in step.texts}, key=len)[::-1]


def english_in(texts: list[str]) -> list[str]:
    hits = []
    for text in texts:
        for sentence in LESSON_SENTENCES:
            text = text.replace(sentence, "")
        words = {word.lower() for word in re.findall(r"[A-Za-z]+", IDENTIFIER.sub("", text))}
        if words & ENGLISH_WORDS:
            hits.append(text if len(text) < 200 else text[:200] + "…")
    return sorted(set(hits))


@pytest.mark.parametrize("path", PAGES)
def test_page_in_vietnamese_shows_no_english(path, tiny_models_env):
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update({"lang": "vi", "text": SENTENCES, "word": "chase"})
    at.run()
    if path != "app.py":
        at.switch_page(path).run()
    assert not at.exception, [e.value for e in at.exception]
    texts = page_texts(at)
    assert any("Ngôn ngữ" in text for text in texts)  # the sidebar's language switch is drawn
    hits = english_in(texts)
    assert not hits, f"{len(hits)} English texts on {path} in Vietnamese:\n" + "\n".join(hits)
