"""What a parser hands to the chunker: a document as an ordered list of structural blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

BlockKind = Literal["heading", "text", "list_item", "table", "code", "caution"]


@dataclass(frozen=True)
class Block:
    """One structural unit of a parsed document.

    Attributes:
        kind: ``heading`` (a title or section heading), ``text`` (a paragraph), ``list_item``
            (one item of a bulleted or numbered list, its number kept in ``text``), ``table``
            (rendered as text rows, one row a line, cells separated by `` | ``), ``code``
            (preformatted text) or ``caution`` (a CAUTION/WARNING/DANGER/NOTE admonition).
        text: clean text, no markup.
        heading_path: the headings above this block, outermost first (for a heading block,
            the headings above it, not itself).
        page: 1-based page number for paged formats (PDF, PPTX slide, XLSX sheet index), else None.
        level: heading depth (1 = top) for heading blocks, else None.
    """

    kind: BlockKind
    text: str
    heading_path: tuple[str, ...] = ()
    page: int | None = None
    level: int | None = None


@dataclass(frozen=True)
class ParsedDocument:
    """A parsed file: its title, its blocks in reading order, and any front-matter metadata.

    ``ocr_confidence`` maps each page read by OCR to its mean recognition confidence (for an
    image, page 1 is the image or its first frame); ``warnings`` name what was left out, such
    as pages below the OCR confidence floor.
    """

    title: str
    blocks: tuple[Block, ...]
    front_matter: dict[str, Any] = field(default_factory=dict)
    hidden_text_flagged: bool = False
    ocr_confidence: dict[int, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
