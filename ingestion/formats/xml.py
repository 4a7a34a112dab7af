"""XML: OpenStax CNXML modules mapped element by element; other XML read generically.

Parsed with lxml without entity resolution, network access or DTD loading, at libxml2's default
size and depth limits (``huge_tree`` off); entity declarations are refused outright.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from assistant.errors import ParseError
from ingestion.document import BlockKind
from ingestion.formats.base import (
    CAUTION_TYPES,
    Extracted,
    Piece,
    normalize_space,
    reject_entity_declarations,
)

if TYPE_CHECKING:
    from lxml import etree

_CNXML_NS = "http://cnx.rice.edu/cnxml"
_XHTML_NS = "http://www.w3.org/1999/xhtml"


def read_cnxml(text: str) -> Extracted:
    """A CNXML module: title, sections (nested headings), paragraphs, lists, tables, notes."""
    return CnxmlReader().read(parse_xml(text))


def read_xml(text: str, *, keep_hidden: bool = False) -> Extracted:
    """Any XML: CNXML and XHTML by their namespace, the rest by `xml_pieces`."""
    root = parse_xml(text)
    if root.tag == f"{{{_CNXML_NS}}}document":
        return CnxmlReader().read(root)
    if root.tag == f"{{{_XHTML_NS}}}html":
        from ingestion.formats.html import read_html

        return read_html(text, keep_hidden=keep_hidden)
    return xml_pieces(root)


def parse_xml(text: str) -> etree._Element:
    """Parse untrusted XML: no entity expansion, no network, no DTD loading, default size caps.

    Raises:
        ParseError: entities are declared or the XML is not well-formed.
    """
    from lxml import etree

    reject_entity_declarations(text, "the XML")
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(text, parser)
    except etree.XMLSyntaxError as e:
        raise ParseError(f"not well-formed XML: {e}") from e
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise ParseError("the XML declares entities, refused as unsafe")
    return root


def local_name(el: Any) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def inline_text(el: Any) -> str:
    return normalize_space("".join(_inline_parts(el)))


def _inline_parts(el: Any) -> Iterator[str]:
    if el.text:
        yield el.text
    for child in el:
        name = local_name(child)
        if name in ("newline", "space"):
            yield " "
        elif name not in ("metadata", "media", "image"):
            yield from _inline_parts(child)
        if child.tail:
            yield child.tail


def _has_direct_text(el: Any) -> bool:
    return bool((el.text or "").strip()) or any((c.tail or "").strip() for c in el)


_CNXML_SKIP = frozenset({"metadata", "media", "image", "iframe", "object", "download", "label"})
_CNXML_SCOPES = frozenset(
    {"section", "note", "example", "exercise", "problem", "solution", "commentary", "figure",
     "subfigure", "glossary", "rule", "proof"}
)  # fmt: skip
_CNXML_BLOCKS = frozenset(
    {"list", "table", "figure", "note", "media", "preformat", "equation", "example", "exercise"}
)


class CnxmlReader:
    """Walks an OpenStax CNXML module into pieces with explicit heading paths."""

    def __init__(self) -> None:
        self.pieces: list[Piece] = []
        self.path: list[str] = []

    def read(self, root: Any) -> Extracted:
        title_el = _child(root, "title")
        if title_el is None:
            metadata = _child(root, "metadata")
            title_el = _child(metadata, "title") if metadata is not None else None
        title = inline_text(title_el) if title_el is not None else ""
        if title:
            self._heading(title)
        content = _child(root, "content")
        self._children(content if content is not None else root)
        return Extracted(self.pieces, meta_title=title or None)

    def _add(self, kind: BlockKind, text: str) -> None:
        if text.strip():
            self.pieces.append(Piece(kind, text, path=tuple(self.path)))

    def _heading(self, title: str) -> None:
        self.pieces.append(Piece("heading", title, level=len(self.path) + 1, path=tuple(self.path)))
        self.path.append(title)

    def _children(self, el: Any) -> None:
        for child in el:
            self._block(child)

    def _block(self, el: Any) -> None:
        name = local_name(el)
        if not name or name in _CNXML_SKIP or name == "title":
            return
        if name in _CNXML_SCOPES:
            self._scope(el, name)
        elif name in ("para", "quote", "caption", "statement"):
            self._mixed(el, "text")
        elif name == "list":
            self._list(el)
        elif name == "table":
            self._table(el)
        elif name == "equation":
            self._add("text", inline_text(el))
        elif name in ("code", "preformat"):
            self._add("code", "".join(el.itertext()).strip("\n"))
        elif name == "definition":
            term, meanings = _child(el, "term"), [c for c in el if local_name(c) == "meaning"]
            head = inline_text(term) if term is not None else ""
            self._add("text", f"{head}: " + " ".join(inline_text(m) for m in meanings))
        elif _has_direct_text(el):
            self._mixed(el, "text")
        else:
            self._children(el)

    def _scope(self, el: Any, name: str) -> None:
        title_el = _child(el, "title")
        title = inline_text(title_el) if title_el is not None else ""
        note_type = (el.get("type") or el.get("class") or "").lower().split()
        caution = next((CAUTION_TYPES[t] for t in note_type if t in CAUTION_TYPES), None)
        if name == "note" and caution:
            start = len(self.pieces)
            self._children(el)
            first = next((p for p in self.pieces[start:] if p.kind == "text"), None)
            prefix = f"{caution}: " + (f"{title}. " if title else "")
            if first is None:
                self._add("text", prefix.strip())
            else:
                first.text = prefix + first.text
            return
        if title:
            self._heading(title)
        self._children(el)
        if title:
            self.path.pop()

    def _mixed(self, el: Any, kind: BlockKind, number: str = "") -> None:
        """Text with blocks (lists, equations...) inside it: text runs around each block."""
        parts: list[str] = [el.text or ""]
        first = True

        def flush() -> None:
            nonlocal first
            text = normalize_space("".join(parts))
            if text:
                self._add(kind if first else "text", f"{number}{text}" if first else text)
                first = False
            parts.clear()

        for child in el:
            name = local_name(child)
            block = name in _CNXML_BLOCKS or (
                name in ("code", "quote") and child.get("display") == "block"
            )
            if block:
                flush()
                self._block(child)
            elif name in ("newline", "space"):
                parts.append(" ")
            elif name not in _CNXML_SKIP:
                parts.append("".join(_inline_parts(child)))
            parts.append(child.tail or "")
        flush()

    def _list(self, el: Any) -> None:
        title = _child(el, "title")
        if title is not None:
            self._add("text", inline_text(title))
        enumerated = (el.get("list-type") or "").lower() == "enumerated"
        try:
            number = int(el.get("start-value") or 1)
        except ValueError:
            number = 1
        for item in el:
            if local_name(item) != "item":
                continue
            self._mixed(item, "list_item", f"{number}. " if enumerated else "")
            number += 1

    def _table(self, el: Any) -> None:
        for child in el:
            if local_name(child) in ("title", "caption"):
                self._add("text", inline_text(child))
        rows = []
        for row in el.iter():
            if local_name(row) not in ("row", "tr"):
                continue
            cells = [inline_text(c) for c in row if local_name(c) in ("entry", "td", "th")]
            if any(cells):
                rows.append(" | ".join(cells).strip())
        self._add("table", "\n".join(rows))


def _child(el: Any, name: str) -> Any:
    return next((c for c in el if local_name(c) == name), None)


_XML_TITLES = frozenset({"title", "head", "heading"})


def xml_pieces(root: Any) -> Extracted:
    """Generic XML: each element with its own text becomes a paragraph, titles become headings.

    An element's title is a ``title`` (or ``head``/``heading``) child, or the title inside its
    ``metadata`` child; of metadata, only titles are kept. A document that is only titles (an
    outline such as OpenStax ``collection.xml``) becomes a list of those titles.
    """
    pieces: list[Piece] = []

    def walk(el: Any, path: tuple[str, ...]) -> None:
        title_el = next((c for c in el if local_name(c) in _XML_TITLES), None)
        metadata = _child(el, "metadata")
        if title_el is None and metadata is not None:
            title_el = next((c for c in metadata if local_name(c) in _XML_TITLES), None)
        title = inline_text(title_el) if title_el is not None else ""
        if title:
            pieces.append(Piece("heading", title, level=len(path) + 1, path=path))
            path = (*path, title)
        for child in el:
            if child is title_el or local_name(child) in ("metadata", ""):
                continue
            if _has_direct_text(child):
                pieces.append(Piece("text", inline_text(child), path=path))
            else:
                walk(child, path)

    if _has_direct_text(root) and not len(root):
        pieces.append(Piece("text", inline_text(root), path=()))
    else:
        walk(root, ())
    headings = [p for p in pieces if p.kind == "heading"]
    if headings and len(headings) == len(pieces) and len(headings) > 1:
        top = headings[0]
        outline = [Piece("list_item", p.text, path=(top.text,)) for p in headings[1:]]
        pieces = [top, *outline]
    return Extracted(pieces, meta_title=headings[0].text if headings else None)
