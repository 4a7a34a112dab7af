"""Scans read by OCR: image-only PDFs, mixed PDFs and images become cited documents; hostile
images are reported and the worker goes on."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from assistant.errors import ParseError, ValidationError
from assistant.settings import load_settings
from assistant.store import KnowledgeStore
from assistant.types import Identity
from ingestion.formats.ocr import OcrOptions
from ingestion.formats.ocr_layout import OcrLine, layout_pieces
from ingestion.parse import SUPPORTED_SUFFIXES, parse_file
from ingestion.worker import ParseWorker
from tests.factories import ingest_into

STAFF = Identity(user=None, org="acme", role="staff")


def _text_image(
    lines: list[str], *, size: int = 30, width: int = 1400, heading: str | None = None
) -> Any:
    """A white page with the lines set in Pillow's own scalable font (no font package needed),
    under a heading set twice as large when one is given."""
    from PIL import Image, ImageDraw, ImageFont

    face = ImageFont.load_default(size=size)
    step = round(size * 1.6)
    top = 40 + (2 * step if heading else 0)
    image = Image.new("RGB", (width, top + 40 + step * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    if heading:
        draw.text((60, 40), heading, font=ImageFont.load_default(size=size * 2), fill="black")
    for i, line in enumerate(lines):
        draw.text((60, top + i * step), line, font=face, fill="black")
    return image


def _scanned_pdf(path: Path, pages: list[list[str]]) -> Path:
    """An image-only PDF; each page's first line is set as its heading."""
    images = [_text_image(lines[1:], heading=lines[0]) for lines in pages]
    images[0].save(path, "PDF", resolution=150, save_all=True, append_images=images[1:])
    return path


def _png_bytes(width: int, height: int, rows: bytes | None = None) -> bytes:
    """A greyscale PNG written by hand: a header claiming ``width`` x ``height`` and, unless
    ``rows`` is given, all-zero rows compressed in slices (a decompression bomb, small on disk)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    if rows is None:
        packer = zlib.compressobj(9)
        row = b"\x00" * (width + 1)
        parts = [packer.compress(row * 1000) for _ in range(height // 1000)]
        parts += [packer.compress(row * (height % 1000)), packer.flush()]
        rows = b"".join(parts)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "acme").mkdir(parents=True)
    return root


def _ask(home: Path, question: str, embedder: Any) -> Any:
    from assistant.registry import build_assistant

    settings = load_settings({"paths": {"home": home}}, environ={})
    store = KnowledgeStore(home)
    try:
        return build_assistant(settings, store, embedder).ask(question, identity=STAFF)
    finally:
        store.close()


# --- layout -------------------------------------------------------------------------------------


def _line(x0: float, top: float, text: str, height: float = 30, width: float = 0) -> OcrLine:
    return OcrLine(x0, top, x0 + (width or 14 * len(text)), top + height, text, 0.95)


def test_lines_become_headings_paragraphs_steps_and_table_rows() -> None:
    lines = [
        _line(100, 100, "3.2 Coolant check", height=44),
        _line(100, 170, "Check the coolant every shift. The con-"),
        _line(100, 204, "centration must stay between 6 and 8 percent."),
        _line(100, 270, "1. Take a sample from the tank."),
        _line(100, 304, "2. Read it with the refractometer."),
        _line(100, 370, "Item", width=80),
        _line(600, 370, "Limit", width=80),
        _line(100, 404, "Concentration", width=180),
        _line(600, 404, "6-8 %", width=80),
        _line(100, 470, "Record the value in the log."),
    ]
    pieces = layout_pieces(list(reversed(lines)), page=4)  # reading order is rebuilt
    assert [(p.kind, p.text) for p in pieces] == [
        ("heading", "3.2 Coolant check"),
        (
            "text",
            "Check the coolant every shift. The concentration must stay between 6 and 8 percent.",
        ),
        ("list_item", "1. Take a sample from the tank."),
        ("list_item", "2. Read it with the refractometer."),
        ("table", "Item | Limit\nConcentration | 6-8 %"),
        ("text", "Record the value in the log."),
    ]
    assert {p.page for p in pieces} == {4}


# --- images and PDFs ----------------------------------------------------------------------------


def test_image_only_pdf_and_png_are_ingested_and_cited_by_page(
    tmp_path: Path, embedder: Any
) -> None:
    root = _root(tmp_path)
    _scanned_pdf(  # sections over chunk_min_tokens, so that each page is a chunk of its own
        root / "acme" / "press-manual.pdf",
        [
            [
                "Safety rules",
                "Read the safety rules before any work on the press and keep this manual near it.",
                "Switch off the main motor, lock the isolator and bleed the hydraulic circuit.",
                "Wear safety glasses and gloves; never reach under a raised ram without blocks.",
            ],
            [
                "Accumulator check",
                "Precharge the HP-40 accumulator with nitrogen to 90 bar before the first start.",
                "Check the precharge every six months with the gauge set and the circuit bled.",
                "Never fill an accumulator with oxygen or compressed air: it can explode.",
            ],
        ],
    )
    _text_image(
        ["Nameplate of the hydraulic pump PV-7", "Maximum pressure 280 bar, flow 63 l/min."]
    ).save(root / "acme" / "nameplate.png")
    report = ingest_into(tmp_path / "home", root, embedder)
    assert report.failed == [], report.failed
    assert report.added == 2

    answer = _ask(
        tmp_path / "home", "What precharge pressure does the HP-40 accumulator need?", embedder
    )
    assert not answer.refused, answer.answer
    assert "90 bar" in answer.answer
    cited = [c for c in answer.citations if c.source == "acme/press-manual.pdf"]
    assert cited and "p. 2" in cited[0].locator

    answer = _ask(tmp_path / "home", "What is the maximum pressure of the PV-7 pump?", embedder)
    assert not answer.refused, answer.answer
    assert "280 bar" in answer.answer
    assert any(c.source == "acme/nameplate.png" and "p. 1" in c.locator for c in answer.citations)

    store = KnowledgeStore(tmp_path / "home")
    try:
        chunks = [c for _, c in store.catalog.iter_chunks()]
    finally:
        store.close()
    scanned = [c for c in chunks if c.source == "acme/press-manual.pdf"]
    assert {c.page for c in scanned} == {1, 2}
    assert all(c.ocr_confidence is not None and c.ocr_confidence > 0.8 for c in chunks)


def test_mixed_pdf_reads_the_text_layer_and_ocrs_only_the_scanned_page(tmp_path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    scan = tmp_path / "scan.png"
    _text_image(["Scanned annex: torque the cover bolts to 25 N·m."]).save(scan)
    path = tmp_path / "mixed.pdf"
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.drawString(72, 760, "Typed page: the gearbox holds 4.5 litres of ISO VG 220 oil.")
    pdf.showPage()
    pdf.drawImage(str(scan), 40, 600, width=520, preserveAspectRatio=True)
    pdf.showPage()
    pdf.save()

    doc = parse_file(path)
    by_page = {b.page: b.text for b in doc.blocks}
    assert "4.5 litres" in by_page[1]
    assert "25 N" in by_page[2]
    assert set(doc.ocr_confidence) == {2}  # page 1 came from its text layer

    with pytest.raises(ParseError, match="OCR is off"):
        parse_file(
            _scanned_pdf(tmp_path / "only.pdf", [["Nothing but pixels here."]]),
            ocr=OcrOptions(mode="off"),
        )
    forced = parse_file(path, ocr=OcrOptions(mode="force"))
    assert set(forced.ocr_confidence) == {1, 2}
    assert "4.5 litres" in forced.blocks[0].text


def test_pages_below_the_confidence_floor_are_reported_not_indexed(
    tmp_path: Path, embedder: Any
) -> None:
    root = _root(tmp_path)
    _scanned_pdf(
        root / "acme" / "faint.pdf", [["Slide rails", "Grease the slide rails every week."]]
    )
    report = ingest_into(tmp_path / "home", root, embedder, ocr_min_confidence=1.0)
    assert report.added == 0
    [failure] = report.failed
    assert failure["source"] == "acme/faint.pdf"
    assert (
        "page 1: OCR confidence" in failure["error"] and "below the 1.00 floor" in failure["error"]
    )


def test_chinese_scan_is_read(tmp_path: Path) -> None:
    from evals.bench_ocr import FontMissing, Line, add_artefacts, render_pages

    try:
        page, _ = render_pages(
            [
                Line("heading", "液压站点检"),
                Line("para", "液压油温度不得超过六十摄氏度，油位低于下限时停机加油。"),
            ],
            150,
        )[0]
    except FontMissing as e:
        pytest.skip(str(e))
    page = add_artefacts(page.crop((0, 0, page.width, 500)), seed=3, stamp_text=None)
    page.save(tmp_path / "photo.jpg", quality=80)
    text = "\n".join(b.text for b in parse_file(tmp_path / "photo.jpg").blocks)
    assert "液压油温度不得超过六十摄氏度" in text


# --- hostile images -----------------------------------------------------------------------------


def test_hostile_images_are_reported_and_the_worker_goes_on(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    _text_image(["Spare fuse 6.3 A slow-blow."]).save(good)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_bytes(9000, 9000))  # 81 million pixels from a file of some 80 KB
    wide = tmp_path / "wide.png"
    wide.write_bytes(_png_bytes(50_000, 2, zlib.compress(b"\x00" * 2 * 50_001)))
    truncated = tmp_path / "truncated.png"
    buffer = io.BytesIO()
    _text_image(["This line is cut off."]).save(buffer, "PNG")
    truncated.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    cut_jpeg = tmp_path / "cut.jpg"
    buffer = io.BytesIO()
    _text_image(["So is this one."]).save(buffer, "JPEG")
    cut_jpeg.write_bytes(buffer.getvalue()[:2000])
    expected = {
        bomb: "million pixels",
        wide: "a side over 20000",
        truncated: "truncated or damaged",
        cut_jpeg: "truncated or damaged",
    }
    with ParseWorker(timeout_s=120, memory_mb=4096, max_bytes=1 << 30) as worker:
        for path, reason in expected.items():
            worker.submit(path)
            with pytest.raises(ParseError, match=reason):
                worker.result()
        worker.submit(good)
        assert "6.3 A" in "\n".join(b.text for b in worker.result().blocks)


def test_images_are_supported_and_uploads_are_content_checked() -> None:
    from ui.uploads import sniff

    assert {".png", ".jpg", ".jpeg", ".tif", ".tiff"} <= SUPPORTED_SUFFIXES
    png = _png_bytes(2, 2, zlib.compress(b"\x00\x00\x00" * 2))
    sniff("plate.png", png, SUPPORTED_SUFFIXES)
    sniff("scan.tiff", b"II*\x00" + b"\x00" * 20, SUPPORTED_SUFFIXES)
    with pytest.raises(ValidationError, match=r"not a \.jpg image"):
        sniff("photo.jpg", png, SUPPORTED_SUFFIXES)


def test_multi_page_tiff_pages_keep_their_numbers(tmp_path: Path) -> None:
    pages = [
        _text_image(["First sheet: inspect the belt."]),
        _text_image(["Second sheet: torque 12 N·m."]),
    ]
    path = tmp_path / "fax.tiff"
    pages[0].save(path, save_all=True, append_images=pages[1:], compression="tiff_deflate")
    doc = parse_file(path)
    assert [b.page for b in doc.blocks] == [1, 2]
    assert "12 N" in doc.blocks[1].text


# --- the demo corpus's scans ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "org", "source", "fact"),
    [
        (
            "How much sag should the MVC-850 chip conveyor drive chain have?",
            "meridian-cnc",
            "meridian-cnc/bulletins/mc-sb-2018-07-chip-conveyor-chain-tension.pdf",
            "10 to 15 mm",
        ),
        (
            "储气罐安全阀的整定压力是多少？",
            "jiangnan-precision",
            "jiangnan-precision/records/jn-wi-a-007-compressed-air-daily-check.jpg",
            "0.88兆帕",
        ),
    ],
)
def test_demo_scans_answer_in_both_languages(
    demo_store_home: Path, embedder: Any, question: str, org: str, source: str, fact: str
) -> None:
    from assistant.registry import build_assistant

    settings = load_settings({"paths": {"home": demo_store_home}}, environ={})
    store = KnowledgeStore(demo_store_home)
    try:
        answer = build_assistant(settings, store, embedder).ask(
            question, identity=Identity(user=None, org=org, role="staff")
        )
    finally:
        store.close()
    assert not answer.refused, answer.answer
    assert fact in answer.answer
    assert any(c.source == source for c in answer.citations)
