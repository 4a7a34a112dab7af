"""Parse one file into a `ParsedDocument`: check it, read it by format, assemble its blocks.

Files are untrusted: every check that can be made cheaply (size, binary content, zip bombs,
encryption, entity declarations) is made before a third-party parser sees the file, so that
the user gets a clear reason. The readers live in `ingestion.formats`. Nothing here or there
uses the network.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from assistant.errors import ParseError
from ingestion.document import Block, BlockKind, ParsedDocument
from ingestion.formats import html, image, office, pdf, rst, text, xml
from ingestion.formats.base import Extracted, Piece, normalize_space, use_bundled_spacy_model
from ingestion.formats.ocr import OcrOptions

__all__ = ["SUPPORTED_SUFFIXES", "parse_file", "use_bundled_spacy_model"]

logger = logging.getLogger(__name__)

# A reader gets the decoded text (text formats) or the path (binary formats), and whether to
# keep hidden text; file readers also get the OCR options.
_TextReader = Callable[[str, bool], Extracted]
_FileReader = Callable[[Path, bool, OcrOptions], Extracted]

_TEXT_READERS: dict[str, _TextReader] = {
    ".md": lambda s, keep: text.read_markdown(s, keep_hidden=keep),
    ".markdown": lambda s, keep: text.read_markdown(s, keep_hidden=keep),
    ".html": lambda s, keep: html.read_html(s, keep_hidden=keep),
    ".htm": lambda s, keep: html.read_html(s, keep_hidden=keep),
    ".rst": lambda s, keep: rst.read_rst(s, keep_hidden=keep),
    ".txt": lambda s, keep: text.read_plain_text(s),
    "": lambda s, keep: text.read_plain_text(s),  # LICENSE, NOTICE, README...
    ".cnxml": lambda s, keep: xml.read_cnxml(s),
    ".xml": lambda s, keep: xml.read_xml(s, keep_hidden=keep),
}
_FILE_READERS: dict[str, _FileReader] = {
    ".pdf": lambda path, keep, ocr: pdf.read_pdf(path, keep_hidden=keep, ocr=ocr),
    ".docx": lambda path, keep, ocr: office.read_docx(path),
    ".pptx": lambda path, keep, ocr: office.read_pptx(path),
    ".xlsx": lambda path, keep, ocr: office.read_xlsx(path),
    **dict.fromkeys(image.IMAGE_SUFFIXES, lambda path, keep, ocr: image.read_image(path, ocr)),
}

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_TEXT_READERS) | frozenset(_FILE_READERS)
"""Lower-case suffixes `parse_file` reads; ``""`` is a file without one, read if it is text."""

_BINARY_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF-", "a PDF"),
    (b"PK\x03\x04", "a zip archive (DOCX, XLSX...)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office document"),
    (b"\x7fELF", "an executable"),
    (b"\x1f\x8b", "gzip data"),
)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_MAX_CONTROL_RATIO = 0.02
_FRONT_MATTER = re.compile(
    r"\A---[ \t]*\r?\n(?:(.*?)\r?\n)?(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL
)
_MAX_FRONT_MATTER = 64 * 1024
# Chunking and embedding run in the ingest process, outside the worker's time limit: about
# 6,000 chunks, some ten minutes of embedding on a laptop CPU. Larger is refused in the worker.
MAX_DOCUMENT_CHARS = 5_000_000
# Han characters and CJK/full-width punctuation: no spaces between them in Chinese or Japanese,
# so a space there is a line break of the source.
_CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_SPACE_IN_CJK = re.compile(rf"(?<=[{_CJK}]) (?=[{_CJK}])")
_KEYWORDS = "WARNING|CAUTION|DANGER|NOTE"
_CAUTION = re.compile(
    rf"\[!(?P<alert>{_KEYWORDS}|IMPORTANT|TIP)\]\s*"  # GitHub alert: > [!WARNING]
    rf"|(?:{_KEYWORDS})(?:\s*/\s*(?:{_KEYWORDS}))*(?:\s*[:：!.—–-]|\s|\Z)"  # WARNING text
    rf"|(?i:{_KEYWORDS})\s*[:：!]"  # Note: text
    r"|(?:警告|注意|危险)(?:\s*[:：!！]|\s|\Z)"
)


def parse_file(
    path: Path,
    *,
    max_bytes: int = 50 * 1024 * 1024,
    keep_hidden_text: bool = False,
    ocr: OcrOptions | None = None,
) -> ParsedDocument:
    """Parse a document file into a title and structural blocks.

    Args:
        path: the file; its suffix picks the format (see `SUPPORTED_SUFFIXES`).
        max_bytes: larger files are refused.
        keep_hidden_text: keep text styled to be invisible instead of dropping it (it is
            flagged either way).
        ocr: how scanned PDF pages and images are read (default: `OcrOptions()`, auto).

    Returns:
        The document: title, blocks in reading order, front matter, hidden-text flag.

    Raises:
        ParseError: the file is empty, too big, of an unsupported type, binary where text is
            expected, corrupt, encrypted, unsafe (zip bomb, entity declarations), without
            text or with more than `MAX_DOCUMENT_CHARS` of it. The message says why but not
            which file: the caller adds the path.
        OcrDeferred: the file needs OCR and ``ocr.defer`` is set.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = ", ".join(sorted(s for s in SUPPORTED_SUFFIXES if s))
        raise ParseError(f"unsupported file type '{suffix}' (supported: {supported})")
    _check_size(path, max_bytes)
    front_matter: dict[str, Any] = {}
    try:
        if suffix in _FILE_READERS:
            extracted = _FILE_READERS[suffix](path, keep_hidden_text, ocr or OcrOptions())
        else:
            content = decode_text(_read_bytes(path))
            if suffix in (".md", ".markdown"):
                front_matter, content = split_front_matter(content)
            extracted = _TEXT_READERS[suffix](content, keep_hidden_text)
    except RecursionError as e:
        raise ParseError("the document is nested too deeply to parse") from e
    blocks = assemble_blocks(extracted.pieces)
    if not blocks:
        raise ParseError("no text found in the document")
    chars = sum(len(b.text) for b in blocks)
    if chars > MAX_DOCUMENT_CHARS:
        raise ParseError(
            f"the document holds {chars / 1e6:.1f} million characters of text, over the "
            f"{MAX_DOCUMENT_CHARS / 1e6:g} million one document may hold"
        )
    title = _choose_title(front_matter, extracted, blocks, path)
    return ParsedDocument(
        title=title,
        blocks=tuple(_strip_title(blocks, title)),
        front_matter=front_matter,
        hidden_text_flagged=extracted.hidden_text,
        ocr_confidence=extracted.ocr_confidence,
        warnings=tuple(extracted.warnings),
    )


def _check_size(path: Path, max_bytes: int) -> None:
    try:
        stat = path.stat()
    except OSError as e:
        raise ParseError(f"cannot read the file ({e.strerror})") from e
    if not path.is_file():
        raise ParseError("not a regular file")
    if stat.st_size == 0:
        raise ParseError("the file is empty")
    if stat.st_size > max_bytes:
        raise ParseError(
            f"the file is {stat.st_size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit"
        )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ParseError(f"cannot read the file ({e.strerror})") from e


def decode_text(data: bytes) -> str:
    """Decode a text file: UTF-8 (or UTF-16 with a BOM, or a detected legacy encoding).

    Raises:
        ParseError: the bytes are binary (a known file signature, NUL bytes, control characters).
    """
    for signature, what in _BINARY_SIGNATURES:
        if data.startswith(signature):
            raise ParseError(f"binary content where text was expected (looks like {what})")
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            text = data.decode("utf-16")
        elif b"\x00" in data:
            raise ParseError("binary content where text was expected (NUL bytes)")
        else:
            text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = _decode_legacy(data)
    controls = len(_CONTROL_CHARS.findall(text))
    if controls > _MAX_CONTROL_RATIO * len(text):
        raise ParseError(
            f"binary content where text was expected ({controls / len(text):.0%} control chars)"
        )
    return text


def _decode_legacy(data: bytes) -> str:
    """Text that is not UTF-8: GB18030 if it reads as Chinese, else charset detection.

    Detection cannot tell the single-byte European code pages apart on short texts, so any of
    them is read as Windows-1252, the one such files most often are.
    """
    from charset_normalizer import from_bytes

    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        pass
    else:
        wide = [ch for ch in text if ord(ch) > 0x7F]
        if wide and sum("\u3400" <= ch <= "\u9fff" for ch in wide) / len(wide) > 0.8:
            return text
    best = from_bytes(data).best()
    if best is None:
        raise ParseError("binary content where text was expected (not UTF-8 or any known text)")
    encoding = best.encoding
    if re.fullmatch(r"cp125\d|latin_1|iso8859_\d+|mac_\w+", encoding):
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            pass
    logger.info("text is not UTF-8; decoded as %s", encoding)
    return str(best)


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Separate YAML front matter (``---`` lines at the very top) from a Markdown body.

    Raises:
        ParseError: the front matter is over 64 KB, not YAML, or not a mapping. It may set
            who can see the document, so it is refused rather than ignored.
    """
    import yaml

    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    raw, body = match.group(1) or "", text[match.end() :]
    if len(raw) > _MAX_FRONT_MATTER:
        raise ParseError("the front matter is larger than 64 KB")
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" (line {where.line + 2})" if where is not None else ""
        raise ParseError(f"the front matter is not valid YAML{line}") from e
    if data is None:
        return {}, body
    if not isinstance(data, dict):
        raise ParseError("the front matter is not a YAML mapping of keys to values")
    return {str(key): value for key, value in data.items()}, body


def _caution(text: str) -> tuple[BlockKind, str]:
    match = _CAUTION.match(text)
    if not match:
        return "text", text
    alert = match.group("alert")
    if alert:
        text = f"{alert}: {text[match.end() :]}".strip()
        return ("text" if alert in ("IMPORTANT", "TIP") else "caution"), text
    return "caution", text


def assemble_blocks(pieces: list[Piece]) -> list[Block]:
    """Clean the pieces' text, find cautions, and give every block its heading path."""
    stack: list[tuple[int, str]] = []
    blocks: list[Block] = []
    for piece in pieces:
        kind = piece.kind
        if kind in ("code", "table"):
            text = "\n".join(line.rstrip() for line in piece.text.strip("\n").splitlines())
        else:
            text = normalize_space(piece.text)
        if not text.strip() or (kind != "code" and not any(ch.isalnum() for ch in text)):
            continue  # rules and decorations ("=====", "* * *") carry no text
        if kind == "heading":
            text = _SPACE_IN_CJK.sub("", text)
            level = max(1, piece.level or 1)
            while stack and stack[-1][0] >= level:
                stack.pop()
            path = piece.path if piece.path is not None else tuple(t for _, t in stack)
            stack.append((level, text))
            blocks.append(Block("heading", text, path, piece.page, level))
            continue
        if kind == "text":
            kind, text = _caution(text)  # before joining CJK: "注意 检查" is a caution
        if kind not in ("code", "table"):
            text = _SPACE_IN_CJK.sub("", text)
        path = piece.path if piece.path is not None else tuple(t for _, t in stack)
        blocks.append(Block(kind, text, path, piece.page))
    return blocks


def _choose_title(
    front_matter: dict[str, Any], extracted: Extracted, blocks: list[Block], path: Path
) -> str:
    declared = front_matter.get("title")
    if isinstance(declared, str | int | float) and normalize_space(str(declared)):
        return normalize_space(str(declared))
    if extracted.meta_title:
        return extracted.meta_title
    if extracted.title_from_headings:
        heading = next((b for b in blocks if b.kind == "heading"), None)
        if heading is not None and heading.level == 1:  # a first "## Section" names no document
            return heading.text
    return path.stem


def _comparable(text: str) -> str:
    """The words of a text, case and punctuation aside: "HX-MP-201: Grease" → "hx mp 201 grease".

    Word boundaries count: the heading "KubePodCrashLooping" is not the title "Kube Pod Crash
    Looping", and dropping it would lose the name people search for.
    """
    return " ".join(re.findall(r"[^\W_]+", text.casefold()))


def _strip_title(blocks: list[Block], title: str) -> list[Block]:
    """Drop the title from heading paths when the title is the document's only top heading."""
    tops = [b for b in blocks if b.kind == "heading" and b.level == 1]
    if len(tops) != 1:
        return blocks
    top, wanted = tops[0].text, _comparable(title)
    found = _comparable(top)
    if (
        not found
        or not wanted
        or (f" {found} " not in f" {wanted} " and f" {wanted} " not in f" {found} ")
    ):
        return blocks
    return [
        replace(b, heading_path=b.heading_path[1:]) if b.heading_path[:1] == (top,) else b
        for b in blocks
    ]
