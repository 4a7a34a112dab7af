"""Office Open XML (DOCX, PPTX, XLSX): zip checked first, then read with unstructured.

Python's zipfile never inflates an entry past its declared size, so checking the declared sizes
bounds what the partitioners can be made to decompress.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

from assistant.errors import ParseError
from ingestion.formats.base import (
    Extracted,
    Piece,
    depth_pieces,
    element_piece,
    normalize_space,
    partition_safely,
    usable_title,
    use_bundled_spacy_model,
)
from ingestion.formats.xml import parse_xml

logger = logging.getLogger(__name__)

_MAX_UNCOMPRESSED = 200 * 1024 * 1024
_MAX_RATIO = 100
_MAX_ENTRIES = 10_000
# Below this size a high compression ratio is harmless (a few repetitive XML parts).
_MIN_SIZE_FOR_RATIO = 1024 * 1024
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def check_office_zip(path: Path, label: str, main_part: str) -> str | None:
    """Refuse what is not a sane OOXML zip before unstructured opens it; return its core title.

    Raises:
        ParseError: not a zip, encrypted, a zip bomb, DTD/entity declarations in a part.
    """
    with path.open("rb") as fh:
        if fh.read(8) == _OLE_MAGIC:
            raise ParseError(
                f"not a valid {label} (zip) file: it is password-protected or a legacy Office file"
            )
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ParseError(f"not a valid {label} (zip) file") from e
    with archive:
        infos = archive.infolist()
        total = sum(i.file_size for i in infos)
        packed = sum(i.compress_size for i in infos) or 1
        if len(infos) > _MAX_ENTRIES:
            raise ParseError(f"the {label} holds {len(infos)} zip entries, refused as a zip bomb")
        if total > _MAX_UNCOMPRESSED:
            raise ParseError(
                f"the {label} would unpack to {total / 2**20:.0f} MiB (limit "
                f"{_MAX_UNCOMPRESSED / 2**20:.0f} MiB), refused as a zip bomb"
            )
        if total > _MIN_SIZE_FOR_RATIO and total / packed > _MAX_RATIO:
            raise ParseError(
                f"the {label} is compressed {total / packed:.0f}:1 (limit {_MAX_RATIO}:1), "
                "refused as a zip bomb"
            )
        names = {i.filename for i in infos}
        if main_part not in names:
            raise ParseError(f"not a valid {label} file (no {main_part} inside the zip)")
        try:
            for info in infos:
                if info.filename.endswith((".xml", ".rels")):
                    with archive.open(info) as part:
                        head = part.read(64 * 1024)
                    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                        raise ParseError(f"the {label} part {info.filename} declares a DTD")
            core = archive.read("docProps/core.xml") if "docProps/core.xml" in names else b""
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as e:
            raise ParseError(f"the {label} zip is damaged or encrypted ({e})") from e
    return _core_title(core)


def _core_title(core: bytes) -> str | None:
    if not core:
        return None
    try:
        root = parse_xml(core.decode("utf-8", errors="replace"))
    except ParseError:
        logger.debug("unreadable docProps/core.xml ignored", exc_info=True)
        return None
    title = root.findtext("{http://purl.org/dc/elements/1.1/}title")
    return usable_title(title)


def read_docx(path: Path) -> Extracted:
    title = check_office_zip(path, "DOCX", "word/document.xml")
    use_bundled_spacy_model()
    from unstructured.partition.docx import partition_docx

    elements = partition_safely("DOCX", partition_docx, filename=str(path))
    return Extracted(depth_pieces(elements), title)


def _slide_bullets(path: Path) -> set[tuple[int, str]]:
    """(slide number, text) of the paragraphs in slides' body placeholders that hold two or
    more: a slide's body is a bulleted list (the template's bullets, which unstructured does
    not see unless a paragraph sets its own). Empty when python-pptx cannot read the deck
    (unstructured has read it already: its paragraphs then stay paragraphs)."""
    from pptx import Presentation
    from pptx.enum.shapes import PP_PLACEHOLDER

    body = {PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT}
    out: set[tuple[int, str]] = set()
    try:
        for number, slide in enumerate(Presentation(str(path)).slides, 1):
            for shape in slide.placeholders:
                if shape.placeholder_format.type not in body or not shape.has_text_frame:
                    continue
                texts = [normalize_space(p.text) for p in shape.text_frame.paragraphs]
                texts = [t for t in texts if t]
                if len(texts) >= 2:
                    out.update((number, t) for t in texts)
    except MemoryError:
        raise
    except Exception as e:  # python-pptx raises many unrelated exception types
        logger.warning("%s: slide bullets not read (%s)", path.name, type(e).__name__)
        return set()
    return out


def read_pptx(path: Path) -> Extracted:
    """Slides: the slide title is a level-1 heading over the rest of its slide, the paragraphs
    of a body placeholder are list items; page = slide."""
    title = check_office_zip(path, "PPTX", "ppt/presentation.xml")
    use_bundled_spacy_model()
    from unstructured.partition.pptx import partition_pptx

    elements = partition_safely("PPTX", partition_pptx, filename=str(path))
    bullets = _slide_bullets(path)
    pieces: list[Piece] = []
    slide, slide_title = None, None
    for el in elements:
        page = el.metadata.page_number
        if page != slide:
            slide, slide_title = page, None
        if el.category == "Title" and slide_title is None and not el.metadata.category_depth:
            slide_title = normalize_space(el.text)
            if slide_title:
                pieces.append(Piece("heading", slide_title, level=1, page=page, path=()))
                continue
        piece = element_piece(el, page)
        if piece is not None:
            piece.path = (slide_title,) if slide_title else ()
            if piece.kind == "text" and (page, piece.text) in bullets:
                piece.kind = "list_item"
            pieces.append(piece)
    return Extracted(pieces, title)


def read_xlsx(path: Path) -> Extracted:
    """Workbooks: one heading per sheet, its tables as rows; page = sheet index."""
    title = check_office_zip(path, "XLSX", "xl/workbook.xml")
    use_bundled_spacy_model()
    from unstructured.partition.xlsx import partition_xlsx

    elements = partition_safely("XLSX", partition_xlsx, filename=str(path), find_subtable=False)
    pieces: list[Piece] = []
    sheet = None
    name = ""
    for el in elements:
        page = el.metadata.page_number
        if page != sheet:
            sheet = page
            name = normalize_space(el.metadata.page_name or "") or f"Sheet {page}"
            pieces.append(Piece("heading", name, level=1, page=page, path=()))
        piece = element_piece(el, page)
        if piece is not None:
            piece.path = (name,)
            pieces.append(piece)
    return Extracted(pieces, title, title_from_headings=False)
