"""Reading order from recognised lines: rows, paragraphs, list items, headings, table rows."""

from __future__ import annotations

import itertools
import re
import statistics
from dataclasses import dataclass

from ingestion.document import BlockKind
from ingestion.formats.base import Piece

_LIST_MARKER = re.compile(
    r"(?:\d{1,3}[.)、](?!\d)|[(（]\d{1,3}[)）]|[a-z][.)](?=\s)|[•▪‣◦●■–·-](?=\s))\s*\S"
)
# "3.2 Lubrication", "1 Scope", "第二章": numbered like a heading ("1. Drain..." is a step).
_NUMBERED_HEADING = re.compile(
    r"(?:\d{1,2}(?:\.\d{1,3}){1,4}\.?|\d{1,2})\s+\S|第[一二三四五六七八九十\d]+[章节条]"
)
_SENTENCE_END = ".;,:。；，：!?！？"
_INNER_PUNCTUATION = re.compile(r"[，。；！？]|[.;!?] ")
_MAX_HEADING_CHARS = 60


@dataclass(frozen=True)
class OcrLine:
    """One recognised line: axis-aligned box (x0, top, x1, bottom) in pixels, text, score."""

    x0: float
    top: float
    x1: float
    bottom: float
    text: str
    score: float

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


def _rows(lines: list[OcrLine]) -> list[list[OcrLine]]:
    """Group lines whose vertical middles are within half a line height into visual rows."""
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.middle, ln.x0)):
        row = rows[-1] if rows else None
        if row is not None:
            middle = statistics.fmean(ln.middle for ln in row)
            height = statistics.fmean(ln.height for ln in row)
            if abs(line.middle - middle) < 0.5 * min(height, line.height):
                row.append(line)
                continue
        rows.append([line])
    for row in rows:
        row.sort(key=lambda ln: ln.x0)
    return rows


def _cells(row: list[OcrLine], gap: float) -> list[str]:
    """A row's text split where the gap between boxes is wider than ``gap`` pixels."""
    cells = [row[0].text]
    for prev, line in itertools.pairwise(row):
        if line.x0 - prev.x1 > gap:
            cells.append(line.text)
        else:
            cells[-1] = f"{cells[-1]} {line.text}"
    return cells


def _join(left: str, right: str) -> str:
    """Join two lines of a paragraph, undoing a hyphenated line break."""
    if left.endswith("-") and right[:1].islower() and left[-2:-1].isalpha():
        return left[:-1] + right
    return f"{left} {right}"


def layout_pieces(lines: list[OcrLine], page: int | None) -> list[Piece]:
    """Rebuild reading order: rows top to bottom; rows of several separated cells in a run of
    two or more are a table; other rows join into paragraphs until a wider vertical gap, an
    indent, a list marker or a change of text size; a short line set larger than the body, or
    numbered like a heading, is a heading.
    """
    if not lines:
        return []
    body = statistics.median_low(line.height for line in lines)  # the body, not a heading
    rows = _rows(lines)
    gaps = [
        b[0].top - max(line.bottom for line in a)
        for a, b in itertools.pairwise(rows)
        if b[0].top > max(line.bottom for line in a)
    ]
    # Lines of one paragraph sit at the usual spacing; more space above a line starts one.
    spacing = statistics.median(gaps) if gaps else 0.0
    cells = [_cells(row, 1.5 * body) for row in rows]
    left = statistics.median(row[0].x0 for row in rows)
    pieces: list[Piece] = []
    table: list[str] = []
    para: list[str] = []
    prev: list[OcrLine] | None = None

    def flush() -> None:
        if table:
            pieces.append(Piece("table", "\n".join(table), page=page))
            table.clear()
        if para:
            text = para[0]
            for line in para[1:]:
                text = _join(text, line)
            kind: BlockKind = "list_item" if _LIST_MARKER.match(text) else "text"
            pieces.append(Piece(kind, text, page=page))
            para.clear()

    for i, row in enumerate(rows):
        row_cells = cells[i]
        is_table_row = len(row_cells) > 1 and (
            table
            or (i + 1 < len(rows) and len(cells[i + 1]) > 1)
            or (i > 0 and len(cells[i - 1]) > 1)
        )
        if is_table_row:
            if para:
                flush()
            table.append(" | ".join(row_cells))
            prev = row
            continue
        if table:
            flush()
        text = " ".join(row_cells)
        height = max(line.height for line in row)
        if _is_heading(text, height, body):
            flush()
            level = 1 if height > 1.5 * body else 2
            pieces.append(Piece("heading", text, level=level, page=page))
            prev = None
            continue
        x0 = row[0].x0
        if para and prev is not None:
            gap = row[0].top - max(line.bottom for line in prev)
            prev_height = max(line.height for line in prev)
            new_para = (
                gap > spacing + 0.25 * body
                or abs(height - prev_height) > 0.3 * body
                or _LIST_MARKER.match(text) is not None
                or x0 - left > 1.5 * body  # an indented first line starts a paragraph
            )
            if new_para:
                flush()
        para.append(text)
        prev = row
    flush()
    return pieces


def _is_heading(text: str, height: float, body: float) -> bool:
    if (
        len(text) > _MAX_HEADING_CHARS
        or text[-1] in _SENTENCE_END
        or _INNER_PUNCTUATION.search(text)  # a sentence: a taller line crossed by a stamp
        or not any(ch.isalpha() for ch in text)
    ):
        return False
    return (height > 1.15 * body and len(text.split()) <= 10) or (
        _NUMBERED_HEADING.match(text) is not None and len(text.split()) <= 8
    )
