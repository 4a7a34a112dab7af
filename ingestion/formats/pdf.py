"""PDF: checked with pikepdf, read with ``partition_pdf(strategy="fast")`` (pdfminer); pages
without a usable text layer are rendered with pypdfium2 and OCR'd (`ingestion.formats.ocr`).

unstructured gives PDF Titles no depth, so heading levels are read off their numbering
(``5.3.2 Title`` is level 3); tables, which the fast strategy does not detect, are rebuilt from
the positions of their cells. Hidden text and merged headings are fixed in pdfminer's layout
(`ingestion.formats.pdf_layout`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import ParseError
from ingestion.formats.base import (
    Extracted,
    Piece,
    element_piece,
    normalize_space,
    partition_safely,
    usable_title,
    use_bundled_spacy_model,
)
from ingestion.formats.ocr import MAX_SIDE_PX, OcrDeferred, OcrOptions, read_pages
from ingestion.formats.pdf_layout import layout_fixes

_NUMBERED_HEADING = re.compile(
    r"(?:(?:chapter|section|part)\s+)?(\d{1,2}(?:\.\d{1,3}){0,5})\.?\s+(\S.*)", re.I | re.S
)
_LETTERED_HEADING = re.compile(r"(?:(?:appendix|annex)\s+[A-Z]\b|[A-Z]((?:\.\d{1,3}){1,5}))\.?\s")
_CJK_HEADING = re.compile(r"第[一二三四五六七八九十百零〇\d]+([章部篇节条])")
_PAGE_NUMBER = re.compile(r"(?:page\s*)?[-–]?\s*\d{1,4}\s*[-–]?(?:\s*(?:of|/)\s*\d{1,4})?", re.I)
_UNMAPPED_GLYPH = re.compile(r"\(cid:\d+\)\s*")
_UNMAPPED_BULLET = re.compile(r"\s*\(cid:\d+\)\s")
_SENTENCE_END = ".;,:。；，："
_BULLETS = "•▪‣◦●■–-"
_Box = tuple[float, float, float, float]  # x0, top, x1, bottom (y grows downwards)
_NO_BOX: _Box = (0.0, 0.0, 0.0, 0.0)
_MAX_CELL_CHARS = 160
_MAX_CELL_WORDS = 25
_LIST_MARKER = re.compile(r"(?:\d{1,3}[.)]|[a-z][.)]|[•▪‣◦●■–-])")
# A page with fewer letters and digits than this in its text layer has no usable text (a scan,
# perhaps with a stamped page number); it is OCR'd in ``auto`` mode if it holds an image.
_MIN_TEXT_CHARS = 20


def check_pdf(path: Path) -> str | None:
    """Open the PDF with pikepdf first, for clear messages; return its metadata title.

    Raises:
        ParseError: not a PDF, truncated, damaged, or needs a password to open.
    """
    import pikepdf

    with path.open("rb") as fh:
        if b"%PDF-" not in fh.read(1024):
            raise ParseError("not a PDF file (no %PDF- header)")
        fh.seek(max(0, path.stat().st_size - 2048))
        if b"%%EOF" not in fh.read():
            raise ParseError("the PDF is truncated or damaged (no end-of-file marker)")
    try:
        with pikepdf.open(path) as pdf:
            if len(pdf.pages) == 0:
                raise ParseError("the PDF has no pages")
            title = pdf.docinfo.get("/Title") if pdf.trailer.get("/Info") is not None else None
            return usable_title(str(title)) if title is not None else None
    except pikepdf.PasswordError as e:
        raise ParseError("the PDF is encrypted (password protected)") from e
    except pikepdf.PdfError as e:
        detail = str(e).replace(f"{path}: ", "").replace(str(path), "the file")
        raise ParseError(f"the PDF is damaged and cannot be read ({detail})") from e


def pdf_heading_level(text: str) -> int | None:
    """Heading depth read off numbering: ``5.3.2 Title`` → 3, ``Appendix B`` → 1, ``第二章`` → 1."""
    text = text.strip()
    if not text or len(text) > 120 or len(text.split()) > 15 or text[-1] in _SENTENCE_END:
        return None
    if match := _NUMBERED_HEADING.fullmatch(text):
        rest = match.group(2)
        letters = sum(ch.isalpha() for ch in rest)
        if letters < (3 if rest[0].isascii() else 2) or (rest[0].isascii() and rest[0].islower()):
            return None
        return match.group(1).count(".") + 1
    if match := _LETTERED_HEADING.match(text):
        return match.group(1).count(".") + 1 if match.group(1) else 1
    if match := _CJK_HEADING.match(text):
        return {"节": 2, "条": 3}.get(match.group(1), 1)
    return None


def _looks_like_heading(text: str) -> bool:
    return (
        sum(ch.isalpha() for ch in text) >= 3
        and len(text.split()) <= 12
        and text.rstrip()[-1:] not in _SENTENCE_END
    )


@dataclass
class _Item:
    """A PDF element on its way to a piece, with its box; ``title``: an unnumbered Title."""

    piece: Piece
    box: _Box | None = None
    title: bool = False


def read_pdf(path: Path, *, keep_hidden: bool = False, ocr: OcrOptions | None = None) -> Extracted:
    """A PDF's text, page by page, headings guessed from their numbering; pages without a text
    layer are OCR'd (``ocr.mode`` auto), every page is (force) or none is (off).

    Raises:
        ParseError: see `check_pdf`; also when the PDF has no text (nor OCR'd text above the
            confidence floor).
        OcrDeferred: some pages need OCR and ``ocr.defer`` is set.
    """
    ocr = ocr or OcrOptions()
    title = check_pdf(path)
    pages, scanned = _pages_to_ocr(path, ocr.mode)
    if scanned and ocr.defer:
        raise OcrDeferred(len(scanned))
    pieces: list[Piece] = []
    hidden = False
    if len(scanned) < pages:
        pieces, text_title, hidden = _text_pieces(path, keep_hidden, set(scanned))
        title = title or text_title
    if not pieces and not scanned:
        hint = " (OCR is off: ingestion.ocr)" if ocr.mode == "off" else ""
        raise ParseError(f"the PDF has no extractable text{hint}")
    result = read_pages([(page, _page_renderer(path, page, ocr.dpi)) for page in scanned], ocr)
    if not pieces and not result.pieces:
        detail = "; ".join(result.warnings) or "no text was recognised"
        raise ParseError(f"the PDF has no extractable text and OCR read none ({detail})")
    if result.pieces:
        pieces = sorted([*pieces, *result.pieces], key=lambda p: p.page or 0)  # stable
        if title is None:
            title = next((p.text for p in result.pieces if p.kind == "heading"), None)
    return Extracted(
        pieces,
        title,
        hidden_text=hidden,
        ocr_confidence=result.confidence,
        warnings=result.warnings,
    )


def _pages_to_ocr(path: Path, mode: str) -> tuple[int, list[int]]:
    """The page count and the 1-based pages to OCR.

    Raises:
        ParseError: pdfium cannot open the file.
    """
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as e:
        raise ParseError(f"the PDF is damaged and cannot be read ({e})") from e
    try:
        count = len(pdf)
        if mode == "off":
            return count, []
        if mode == "force":
            return count, list(range(1, count + 1))
        scanned = []
        for index in range(count):
            page = pdf[index]
            text = page.get_textpage().get_text_range()
            # Only a page with a picture on it can hold scanned text: blank pages cost nothing.
            picture = next(page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)), None)
            if sum(ch.isalnum() for ch in text) < _MIN_TEXT_CHARS and picture is not None:
                scanned.append(index + 1)
        return count, scanned
    finally:
        pdf.close()


def _page_renderer(path: Path, page: int, dpi: int) -> Any:
    def render() -> Any:
        import numpy as np
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(path)
        try:
            pdf_page = pdf[page - 1]
            width, height = pdf_page.get_size()  # points
            # capped: a page with a huge media box must not become a pixel bomb
            scale = min(dpi / 72, MAX_SIDE_PX / max(width, height, 1.0))
            image = pdf_page.render(scale=scale).to_pil().convert("RGB")
        except pdfium.PdfiumError as e:
            raise ParseError(f"page {page} cannot be rendered for OCR ({e})") from e
        finally:
            pdf.close()
        return np.asarray(image)

    return render


def _text_pieces(
    path: Path, keep_hidden: bool, skip_pages: set[int]
) -> tuple[list[Piece], str | None, bool]:
    """The pieces of the text layer (pages in ``skip_pages`` left out), a title, hidden text."""
    use_bundled_spacy_model()
    from unstructured.partition.pdf import partition_pdf

    with layout_fixes(keep_hidden) as found:
        elements = partition_safely(
            "PDF", partition_pdf, filename=str(path), strategy="fast", languages=["eng"]
        )
    for el in elements:  # pdfminer writes glyphs without a Unicode mapping as (cid:N)
        if "(cid:" in el.text:
            if _UNMAPPED_BULLET.match(el.text):
                el.category = "ListItem"
            el.text = _UNMAPPED_GLYPH.sub("", el.text)
    elements = [
        el
        for el in elements
        if el.text
        and el.text.strip()
        and not _is_page_number(el)
        and el.metadata.page_number not in skip_pages
    ]
    items = []
    for el in elements:
        page = el.metadata.page_number
        numbered = el.category not in ("ListItem", "Table")
        level = pdf_heading_level(el.text) if numbered else None
        if level is not None:
            items.append(_Item(Piece("heading", normalize_space(el.text), level, page)))
        elif (piece := element_piece(el, page)) is not None:
            items.append(_Item(piece, _box(el), el.category == "Title"))
    # Unnumbered Titles are headings only where nothing is numbered: next to numbered headings
    # they are mostly table cells, captions and running heads.
    by_number = sum(item.piece.kind == "heading" for item in items) >= 2
    pieces = []
    for item in _join_table_cells(items):
        piece = item.piece
        if item.title and not by_number and _looks_like_heading(piece.text):
            piece = Piece("heading", piece.text, level=1, page=piece.page)
        pieces.append(piece)
    title = None  # no metadata title: the first title-like line of page 1
    first = next((i for i in items if i.title and i.piece.page == 1), None)
    if first is not None and _looks_like_heading(first.piece.text):
        title = first.piece.text
    return _merge_list_markers(pieces), title, any(found)


def _merge_list_markers(pieces: list[Piece]) -> list[Piece]:
    """pdfminer sometimes boxes a list item's number apart from its text: join them again."""
    merged: list[Piece] = []
    for piece in pieces:
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and prev.kind == "text"
            and _LIST_MARKER.fullmatch(prev.text)
            and piece.kind in ("text", "list_item")
            and piece.page == prev.page
        ):
            marker = "" if prev.text in _BULLETS else f"{prev.text} "
            merged[-1] = Piece("list_item", marker + piece.text, page=piece.page)
        else:
            merged.append(piece)
    return merged


def _is_page_number(el: Any) -> bool:
    """A bare number in the top or bottom margin (numbers in a table's cells are kept)."""
    if not _PAGE_NUMBER.fullmatch(el.text.strip()):
        return False
    box = _box(el)
    height = getattr(getattr(el.metadata.coordinates, "system", None), "height", None)
    if box is None or not height:
        return True
    return box[3] < 0.1 * height or box[1] > 0.9 * height


def _box(el: Any) -> _Box | None:
    points = getattr(el.metadata.coordinates, "points", None)
    if not points:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _is_cell(item: _Item) -> bool:
    text = item.piece.text
    return (
        item.box is not None
        and item.piece.kind == "text"
        and len(text) <= _MAX_CELL_CHARS
        and len(text.split()) <= _MAX_CELL_WORDS
    )


def _join_table_cells(items: list[_Item]) -> list[_Item]:
    """Rebuild tables from runs of short text boxes that line up in rows.

    The fast strategy has no table detection: each cell comes out as its own element, row by
    row or column by column. Within a run of short texts on one page, boxes that overlap
    vertically form a row; two rows or more of several boxes make a table.
    """
    out: list[_Item] = []
    run: list[_Item] = []
    for item in items:
        cell = _is_cell(item)
        if run and (not cell or run[-1].piece.page != item.piece.page):
            out.extend(_table_from_run(run))
            run = []
        (run if cell else out).append(item)
    out.extend(_table_from_run(run))
    return out


def _same_row(a: _Box, b: _Box) -> bool:
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap > 0.5 * min(a[3] - a[1], b[3] - b[1])


def _table_from_run(run: list[_Item]) -> list[_Item]:
    rows: list[list[_Item]] = []
    for item in sorted(run, key=lambda i: (i.box or (0, 0, 0, 0))[1]):
        row = next((r for r in rows if _same_row(r[0].box or _NO_BOX, item.box or _NO_BOX)), None)
        if row is None:
            rows.append([item])
        else:
            row.append(item)
    wide = [i for i, row in enumerate(rows) if len(row) > 1]
    if len(wide) < 2:
        return run
    for row in rows:
        row.sort(key=lambda i: (i.box or _NO_BOX)[0])
    first, last = wide[0], wide[-1]
    lines = [" | ".join(i.piece.text for i in row) for row in rows[first : last + 1]]
    table = _Item(Piece("table", "\n".join(lines), page=run[0].piece.page))
    return [
        *(i for row in rows[:first] for i in row),
        table,
        *(i for row in rows[last + 1 :] for i in row),
    ]
