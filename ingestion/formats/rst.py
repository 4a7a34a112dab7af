"""reStructuredText: docutils renders it to HTML (offline, no file access), read as HTML.

Sphinx documents use roles and directives docutils does not know (``:ref:``, ``:numref:``,
``.. literalinclude::``); they are registered as plain-text fallbacks so that neither their raw
markup nor docutils' error messages reach the text.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from assistant.errors import ParseError
from ingestion.formats.base import Extracted, depth_pieces, normalize_space
from ingestion.formats.html import classes_of, clean_html, read_html_elements

_LITERAL_TAGS = frozenset({"pre", "code", "tt", "kbd", "samp", "script", "style"})
_RST_ROLE = re.compile(r"(?<![\w`]):((?:[A-Za-z][\w+.-]*:)?[A-Za-z][\w+.-]*):`")
_RST_DIRECTIVE = re.compile(r"^\s*\.\.\s+([\w][\w:.+-]*)\s*::", re.MULTILINE)
# Sphinx directives whose content or arguments are not prose (file names, index terms...).
_RST_DROPPED_DIRECTIVES = frozenset(
    {
        "toctree", "literalinclude", "index", "highlight", "tabularcolumns", "graphviz",
        "digraph", "graph", "mermaid", "plantuml", "autosummary", "automodule", "autoclass",
        "autofunction", "automethod", "autoattribute", "currentmodule", "module", "program",
        "default-role", "sectionauthor", "codeauthor", "moduleauthor",
    }
)  # fmt: skip
_RST_LEFTOVER_ROLE = re.compile(r":(?:[A-Za-z][\w+.-]*:)?[A-Za-z][\w+.-]*:`([^`]*)`")
_RST_SETTINGS = {
    "report_level": 5,
    "halt_level": 5,
    "file_insertion_enabled": False,
    "raw_enabled": False,
    "_disable_config": True,  # never read docutils.conf files from the working directory
    "embed_stylesheet": False,
    "stylesheet_path": "",
    "syntax_highlight": "none",
    "input_encoding": "unicode",
    "output_encoding": "unicode",
    "warning_stream": False,
    "math_output": "LaTeX",  # the formula's source reads better as text than MathML's tokens
}


def role_display_text(text: str) -> str:
    """What a Sphinx cross-reference shows: ``Title <target>`` → Title, ``~a.b.c`` → c."""
    match = re.fullmatch(r"(.*?)\s*<([^<>]*)>\s*", text, re.DOTALL)
    if match:
        text = match.group(1) if match.group(1).strip() else match.group(2)
    text = text.lstrip("!")
    if text.startswith("~"):
        text = text[1:].rsplit(".", 1)[-1]
    return normalize_space(text.replace("%s", ""))


def strip_rst_markup(text: str) -> str:
    """Strip rST markup docutils left uninterpreted: roles, ``|substitutions|``, `` `links`_ ``."""
    text = _RST_LEFTOVER_ROLE.sub(lambda m: role_display_text(m.group(1)), text)
    text = re.sub(r"`([^`]+)`_{1,2}(?!\w)", lambda m: role_display_text(m.group(1)), text)
    return re.sub(r"(?<![\w|])\|(\S(?:[^|\n]*\S)?)\|(?![\w|])", r"\1", text)


def _is_literal(el: Any) -> bool:
    return any(
        a.tag in _LITERAL_TAGS or classes_of(a) & {"literal", "math"}
        for a in (el, *el.iterancestors())
    )


def fix_docutils_html(root: Any) -> None:
    """Clean what docutils (at report level 5) leaves verbatim in its HTML, code excepted."""
    for el in list(root.iter()):
        if not isinstance(el.tag, str):
            continue
        if "problematic" in classes_of(el):
            el.text, el[:] = strip_rst_markup(" ".join(el.itertext())).replace("`", ""), []
            continue
        if el.text and not _is_literal(el):
            el.text = strip_rst_markup(el.text)
        parent = el.getparent()
        if el.tail and parent is not None and not _is_literal(parent):
            el.tail = strip_rst_markup(el.tail)


def _plain_text_role(
    name: str,
    rawtext: str,
    text: str,
    lineno: int,
    inliner: Any,
    options: dict[str, Any] | None = None,
    content: list[str] | None = None,
) -> tuple[list[Any], list[Any]]:
    from docutils import nodes, utils

    return [nodes.Text(role_display_text(utils.unescape(text)))], []


class _AnyOption(dict[str, Any]):
    """An option spec that accepts every option name (docutils needs a non-empty mapping)."""

    def __missing__(self, key: str) -> Any:
        from docutils.parsers.rst import directives

        return directives.unchanged


@functools.cache
def _directive_classes() -> tuple[type, type]:
    from docutils import nodes
    from docutils.parsers.rst import Directive, directives

    class ContentDirective(Directive):
        """An unknown directive: its body is kept as ordinary rST, its arguments dropped."""

        has_content = True
        optional_arguments = 1
        final_argument_whitespace = True
        option_spec = _AnyOption({"class": directives.class_option})

        def run(self) -> list[Any]:
            node = nodes.container()
            if self.content:
                self.state.nested_parse(self.content, self.content_offset, node)
            return [node]

    class DroppedDirective(ContentDirective):
        """An unknown directive whose body is not prose: it produces nothing."""

        def run(self) -> list[Any]:
            return []

    return ContentDirective, DroppedDirective


def _register_rst_fallbacks(source: str) -> None:
    """Make roles and directives docutils does not know (Sphinx's) render as plain text.

    docutils would otherwise print the raw markup (``:ref:`x```) into the page. Registration is
    process-wide, as docutils' registries are; only names unknown to docutils are registered.
    """
    from docutils import frontend, utils
    from docutils.parsers.rst import Parser, directives, languages, roles

    language = languages.get_language("en")
    settings = frontend.get_default_settings(Parser)
    settings.report_level, settings.halt_level, settings.warning_stream = 5, 5, False
    probe = utils.new_document("<probe>", settings)
    for name in set(_RST_ROLE.findall(source)):
        if roles.role(name, language, 0, probe.reporter)[0] is None:
            roles.register_local_role(name, _plain_text_role)
    content_cls, dropped_cls = _directive_classes()
    for name in set(_RST_DIRECTIVE.findall(source)):
        if directives.directive(name, language, probe)[0] is None:
            cls = dropped_cls if name.lower() in _RST_DROPPED_DIRECTIVES else content_cls
            directives.register_directive(name, cls)


def rst_to_html(source: str) -> str:
    """Convert reStructuredText to HTML with docutils, offline and without file access.

    Raises:
        ParseError: docutils failed on the document.
    """
    from docutils.core import publish_string
    from docutils.utils import SystemMessage

    _register_rst_fallbacks(source)
    try:
        out = publish_string(source, writer="html5", settings_overrides=dict(_RST_SETTINGS))
    except (SystemMessage, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
        raise ParseError(f"the reStructuredText could not be converted: {e}") from e
    return out if isinstance(out, str) else out.decode("utf-8")


def read_rst(text: str, *, keep_hidden: bool = False) -> Extracted:
    """reStructuredText: docutils to HTML, then as HTML; section titles become headings."""
    cleaned = clean_html(rst_to_html(text), keep_hidden=keep_hidden, fix_tree=fix_docutils_html)
    elements = read_html_elements(cleaned, "reStructuredText")
    return Extracted(depth_pieces(elements), hidden_text=cleaned.hidden_text)
