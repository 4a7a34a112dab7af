"""HTML: clean it for unstructured (boilerplate, hidden text, list numbers, admonitions), then read.

Inline styles decide visibility; stylesheets and classes are not applied (a ``.hidden`` class
rule in a ``<style>`` block is not seen).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assistant.errors import ParseError
from ingestion.formats.base import (
    CAUTION_TYPES,
    Extracted,
    depth_pieces,
    normalize_space,
    partition_safely,
    reject_entity_declarations,
    use_bundled_spacy_model,
)

_BOILERPLATE_TAGS = ("nav", "footer", "script", "style", "noscript", "template", "iframe")
_BOILERPLATE_ROLES = frozenset({"navigation", "contentinfo", "search"})
_WHITE = frozenset({"#fff", "#ffffff", "#ffff", "#ffffffff", "white", "rgb(255,255,255)"})


@dataclass(frozen=True)
class CleanHtml:
    """Cleaned HTML, whether invisible text was found in it, and its ``<title>`` if any."""

    html: str
    hidden_text: bool
    title: str | None


def clean_html(
    markup: str, *, keep_hidden: bool = False, fix_tree: Callable[[Any], None] | None = None
) -> CleanHtml:
    """Prepare HTML for unstructured: drop boilerplate and invisible text, number ordered lists.

    Also turns admonition boxes (docutils ``.. warning::``, Python-Markdown ``!!! warning``)
    into a paragraph starting with the admonition keyword, so that it is recognised as a caution.

    Args:
        markup: an HTML document or fragment.
        keep_hidden: keep invisible text (it is still reported in ``hidden_text``).
        fix_tree: called with the parsed tree before admonitions are flattened (the rST
            reader removes markup docutils left uninterpreted).

    Raises:
        ParseError: the markup declares entities.
    """
    from lxml import etree
    from lxml import html as lxml_html

    reject_entity_declarations(markup, "the HTML")
    markup = re.sub(r"^\s*<\?xml[^>]*\?>", "", markup)  # lxml refuses str with an encoding decl
    if not markup.strip():
        return CleanHtml("", False, None)
    parser = lxml_html.HTMLParser(no_network=True)
    try:
        root = lxml_html.document_fromstring(markup, parser=parser)
    except (etree.ParserError, ValueError) as e:
        raise ParseError(f"the HTML could not be parsed: {e}") from e
    if any(err.type_name == "ERR_RESOURCE_LIMIT" for err in parser.error_log):
        # libxml2 silently drops everything nested deeper than its limit (255 levels).
        raise ParseError("the HTML is nested too deeply to parse (over 255 levels)")
    title = root.findtext(".//title")
    for el in list(root.iter(etree.Comment, etree.ProcessingInstruction)):
        drop_element(el)
    for el in [e for e in root.iter() if isinstance(e.tag, str) and _is_boilerplate(e)]:
        drop_element(el)
    hidden = [e for e in root.iter() if isinstance(e.tag, str) and _is_invisible(e)]
    found_hidden = any(normalize_space(" ".join(e.itertext())) for e in hidden)
    if not keep_hidden:
        for el in hidden:
            drop_element(el)
    for el in list(root.iter()):
        if not isinstance(el.tag, str):
            continue
        if el.tag == "ol":
            _number_list(el)
        elif el.tag in ("figure", "figcaption"):
            el.tag = "div"  # unstructured drops figures whole, captions included
        elif el.tag == "img":
            drop_element(el)
    if fix_tree is not None:
        fix_tree(root)
    for el in [e for e in root.iter() if isinstance(e.tag, str) and _admonition_type(e)]:
        _flatten_admonition(el, _admonition_type(el) or "")
    out = lxml_html.tostring(root, encoding="unicode")
    return CleanHtml(out, found_hidden, normalize_space(title) if title else None)


def drop_element(el: Any) -> None:
    """Remove an element but keep the text that follows it."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    prev = el.getprevious()
    if tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def classes_of(el: Any) -> set[str]:
    return set((el.get("class") or "").lower().split())


def _is_boilerplate(el: Any) -> bool:
    if el.tag in _BOILERPLATE_TAGS:
        return True
    if (el.get("role") or "").lower() in _BOILERPLATE_ROLES:
        return True
    classes = classes_of(el)
    if classes & {"toc", "system-message", "system-messages", "skip-link"}:
        return True
    return (el.get("id") or "").lower() in {"toc", "rfc.toc", "table-of-contents"}


def _style(el: Any) -> dict[str, str]:
    decls: dict[str, str] = {}
    for decl in (el.get("style") or "").split(";"):
        name, sep, value = decl.partition(":")
        if sep:
            value = value.replace("!important", "").strip().lower()
            decls[name.strip().lower()] = re.sub(r"\s*([(),])\s*", r"\1", value)
    return decls


def _is_zero(value: str) -> bool:
    match = re.fullmatch(r"([0-9]*\.?[0-9]+)(px|pt|em|rem|%|vw|vh)?", value)
    return match is not None and float(match.group(1)) == 0.0


def _background(el: Any) -> str:
    node = el
    while node is not None:
        style = _style(node)
        for key in ("background-color", "background"):
            if key in style:
                value = style[key]
                return value.split()[0] if key == "background" and value else value
        node = node.getparent()
    return "white"


def _same_color(a: str, b: str) -> bool:
    return a == b or (a in _WHITE and b in _WHITE)


def _is_invisible(el: Any) -> bool:
    """Styled so that a reader cannot see it (inline styles only; stylesheets are not applied)."""
    if el.get("hidden") is not None:
        return True
    style = _style(el)
    if not style:
        return False
    if style.get("display") == "none" or style.get("visibility") in ("hidden", "collapse"):
        return True
    if _is_zero(style.get("font-size", "1")) or _is_zero(style.get("opacity", "1")):
        return True
    color = style.get("color")
    return color is not None and _same_color(color, _background(el))


def _first_text_holder(el: Any) -> Any:
    """The element whose leading text is the first text of ``el`` (descending through wrappers)."""
    node = el
    while not (node.text or "").strip() and len(node) and isinstance(node[0].tag, str):
        node = node[0]
    return node


def _number_list(ol: Any) -> None:
    """Write item numbers into the text: unstructured drops the numbering of ``<ol>``."""
    try:
        number = int(ol.get("start") or 1)
    except ValueError:
        number = 1
    style = ol.get("type") or "1"
    for li in ol:
        if li.tag != "li":
            continue
        label = chr(ord(style) + number - 1) if style in "aA" and 0 < number <= 26 else number
        holder = _first_text_holder(li)
        if not normalize_space("".join(li.itertext())).startswith(f"{label}."):
            holder.text = f"{label}. {(holder.text or '').lstrip()}"
        number += 1


def _admonition_type(el: Any) -> str | None:
    if el.tag not in ("div", "aside", "section"):
        return None
    classes = classes_of(el)
    if "admonition" not in classes and el.tag != "aside":
        return None
    for cls in classes:
        if cls in CAUTION_TYPES:
            return cls
    return None


def _flatten_admonition(el: Any, kind: str) -> None:
    """``<div class="admonition warning"><p class="admonition-title">`` → ``WARNING: ...``."""
    keyword = CAUTION_TYPES[kind]
    title_el = next((c for c in el if "admonition-title" in classes_of(c)), None)
    title = normalize_space(" ".join(title_el.itertext())) if title_el is not None else ""
    if title_el is not None:
        drop_element(title_el)
    colon = "：" if not keyword.isascii() else ": "
    prefix = keyword + colon
    if title and title.casefold() not in (kind, keyword.casefold()):
        prefix += f"{title}. " if keyword.isascii() else f"{title}。"
    body = next((c for c in el if isinstance(c.tag, str)), None)
    if body is None:
        el.text = prefix + (el.text or "")
        return
    holder = _first_text_holder(body)
    holder.text = prefix + (holder.text or "").lstrip()


def read_html_elements(cleaned: CleanHtml, what: str) -> list[Any]:
    """unstructured's elements of cleaned HTML."""
    use_bundled_spacy_model()
    from unstructured.partition.html import partition_html

    if not cleaned.html:
        return []
    return partition_safely(what, partition_html, text=cleaned.html)


def read_html(text: str, *, keep_hidden: bool = False) -> Extracted:
    """HTML through ``partition_html``, after `clean_html`; its ``<title>`` is the meta title."""
    cleaned = clean_html(text, keep_hidden=keep_hidden)
    elements = read_html_elements(cleaned, "HTML")
    return Extracted(depth_pieces(elements), cleaned.title, hidden_text=cleaned.hidden_text)
