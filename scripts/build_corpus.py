"""Build corpus documents: ``scripts/corpus_src/<dir>/X.<pdf|docx|pptx|jpg>.md`` or ``X.xlsx.yaml``
becomes ``corpora/<dir>/X.<ext>`` plus ``X.<ext>.meta.yaml`` (the front matter, less ``sheets``
and ``scan``). A ``scan`` key in the front matter makes a scanned copy (page images with scan
artefacts, no text layer; fonts from Debian's fonts-noto-cjk).
Rebuilds are byte-identical. ``--check`` writes nothing and exits 1 if an output is missing or older
than its source."""

from __future__ import annotations

import argparse
import io
import re
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import docx
import yaml
from docx.enum.text import WD_BREAK
from docx.oxml.ns import qn
from openpyxl import Workbook
from openpyxl.styles import Font
from pptx import Presentation
from pptx.enum.text import MSO_AUTO_SIZE
from pptx.util import Inches, Pt
from reportlab import platypus as rl
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont

from assistant.types import KINDS, VISIBILITIES
from ingestion.metadata import DOCUMENT_KEYS, LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
SRC_DIR, OUT_DIR = ROOT / "scripts" / "corpus_src", ROOT / "corpora"
ENUMS = {"kind": set(KINDS), "visibility": set(VISIBILITIES), "language": set(LANGUAGES)}
ROLES = {"student", "staff", "teacher", "admin"}
ADMONITION = re.compile(r"\*\*(WARNING|CAUTION|DANGER|NOTE):\*\*\s*(.+)")
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
CJK_FONT, FIXED_DATE, AUTHOR = "STSong-Light", b"2024-01-01T00:00:00Z", "techkb corpus build"
FIXED_TIME = time.gmtime(1704067200)  # 2024-01-01T00:00:00Z, as a PDF date


class SourceError(Exception):
    """A malformed source; the message names the file (and the line where known)."""


@dataclass
class Blk:
    """A parsed block: heading, para, admon (label in ``items[0]``), ol, ul, table, pagebreak."""

    kind: str
    text: str = ""
    level: int = 0
    items: list[str] = field(default_factory=list)
    start: int = 1  # first number of an ``ol``; for a table, 1 until its |---| row is seen
    rows: list[list[str]] = field(default_factory=list)


def check_meta(meta: Any, src: Path, extra: frozenset[str] = frozenset()) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise SourceError(f"{src}: front matter is not a mapping")
    unknown = sorted(set(meta) - DOCUMENT_KEYS - extra)
    errors = [f"unknown keys {unknown}"] if unknown else []
    errors += [f"'{k}' must be set" for k in ("title", "kind") if not str(meta.get(k, "")).strip()]
    errors += [
        f"{k}={meta[k]!r} is not one of {sorted(v)}"
        for k, v in ENUMS.items()
        if k in meta and meta[k] not in v
    ]
    roles = meta.get("allowed_roles", [])
    if not isinstance(roles, list) or not set(roles) <= ROLES:
        errors.append(f"allowed_roles must be a list drawn from {sorted(ROLES)}")
    if errors:
        raise SourceError(f"{src}: front matter: {'; '.join(errors)}")
    return meta


def read_md(src: Path) -> tuple[dict[str, Any], list[Blk]]:
    text = src.read_text(encoding="utf-8")
    if not (m := re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)):
        raise SourceError(f"{src}: missing YAML front matter (--- ... ---)")
    try:
        meta = check_meta(yaml.safe_load(m.group(1)), src, frozenset({"scan"}))
    except yaml.YAMLError as exc:
        raise SourceError(f"{src}: invalid front matter: {exc}") from exc
    return meta, parse_blocks(text[m.end() :].splitlines(), src, m.group(0).count("\n") + 1)


def parse_blocks(lines: list[str], src: Path, offset: int) -> list[Blk]:
    blocks: list[Blk] = []
    para: list[str] = []
    blank = True  # was the previous line blank? (a table after a blank line is a new table)

    def flush() -> None:
        if para:
            txt = " ".join(para)
            adm = ADMONITION.match(txt)
            blocks.append(Blk("admon", adm[2], items=[adm[1]]) if adm else Blk("para", txt))
            para.clear()

    for n, raw in enumerate(lines, offset):
        line, where, last = raw.rstrip(), f"{src}:{n}", blocks[-1] if blocks else None
        after_blank, blank = blank, not line.strip()
        if re.match(r"\s+(\d+\.|[-*])\s", line):
            raise SourceError(f"{where}: nested lists are not supported")
        if not blank and last and last.kind in ("ol", "ul") and not para and raw.startswith("   "):
            last.items[-1] += " " + line.strip()  # indented continuation of a list item
            continue
        if blank or re.match(r"#+\s|\d+\.\s|[-*]\s|\||<!-- pagebreak -->$", line):
            flush()
        if blank:
            continue
        if line == "<!-- pagebreak -->":
            blocks.append(Blk("pagebreak"))
        elif h := re.match(r"(#+)\s+(.+)", line):
            if len(h[1]) > 3:
                raise SourceError(f"{where}: only #, ## and ### headings are supported")
            blocks.append(Blk("heading", h[2].strip(), level=len(h[1])))
        elif li := re.match(r"(?:(\d+)\.|[-*])\s+(.+)", line):
            if last and last.kind == ("ol" if li[1] else "ul"):
                last.items.append(li[2])
            else:
                blocks.append(Blk("ol" if li[1] else "ul", items=[li[2]], start=int(li[1] or 1)))
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not (last and last.kind == "table" and not after_blank):
                blocks.append(Blk("table", rows=[cells]))
            elif all(re.fullmatch(r":?-{3,}:?", c) for c in cells) and len(last.rows) == 1:
                last.start = 0
            elif last.start or len(cells) != len(last.rows[0]):
                raise SourceError(
                    f"{where}: table row has {len(cells)} cells, header has "
                    f"{len(last.rows[0])} (or the |---| row is missing)"
                )
            else:
                last.rows.append(cells)
        elif re.match(r"\s*<[a-zA-Z/!]", line):
            raise SourceError(f"{where}: inline HTML is not supported")
        else:
            para.append(line.strip())
    flush()
    if any(b.kind == "table" and b.start for b in blocks):
        raise SourceError(f"{src}: a table has no |---| separator row")
    return blocks


def units(text: str) -> int:
    """Approximate printed width in Latin characters (a CJK character counts as two)."""
    return len(text) + len(CJK.findall(text))


def inline_runs(text: str) -> list[tuple[str, bool]]:
    """Split ``**bold**`` markup into (text, bold) runs."""
    return [(p, i % 2 == 1) for i, p in enumerate(re.split(r"\*\*(.+?)\*\*", text)) if p]


class OutlinedDoc(rl.SimpleDocTemplate):
    """Adds a PDF outline (bookmark) entry for every heading paragraph."""

    def afterFlowable(self, flowable: Any) -> None:
        if (level := getattr(flowable, "outline_level", None)) is not None:
            self.heading_count = getattr(self, "heading_count", 0) + 1
            key = f"h{self.heading_count}"
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(flowable.getPlainText(), key, level=level)


def build_pdf(meta: dict[str, Any], blocks: list[Blk], out: Path) -> None:
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
        pdfmetrics.registerFontFamily(
            CJK_FONT, normal=CJK_FONT, bold=CJK_FONT, italic=CJK_FONT, boldItalic=CJK_FONT
        )
    ss = getSampleStyleSheet()
    ss.add(
        ParagraphStyle(
            "Admon",
            parent=ss["BodyText"],
            borderWidth=0.6,
            borderPadding=4,
            borderColor=colors.darkred,
            backColor=colors.HexColor("#FFF4E5"),
            spaceBefore=8,
            spaceAfter=8,
        )
    )
    ss.add(ParagraphStyle("Cell", parent=ss["BodyText"], fontSize=8.5, leading=10.5))
    cache: dict[tuple[str, bool], ParagraphStyle] = {}

    def para(text: str, style: str) -> rl.Paragraph:
        cjk = bool(CJK.search(text))
        if (style, cjk) not in cache:
            cache[(style, cjk)] = (
                ParagraphStyle(f"{style}-cjk", parent=ss[style], wordWrap="CJK", fontName=CJK_FONT)
                if cjk
                else ss[style]
            )
        body = "".join(f"<b>{escape(t)}</b>" if b else escape(t) for t, b in inline_runs(text))
        return rl.Paragraph(body, cache[(style, cjk)])

    title = meta["title"]

    def footer(canv: Any, doc: Any) -> None:
        canv.saveState()
        canv.setFont(CJK_FONT if CJK.search(title) else "Helvetica", 8)
        canv.drawString(20 * mm, 10 * mm, title)
        canv.drawRightString(A4[0] - 20 * mm, 10 * mm, f"Page {doc.page}")
        canv.restoreState()

    story: list[Any] = []
    outline = -1
    for b in blocks:
        if b.kind == "heading":
            story.append(p := para(b.text, f"Heading{b.level}"))
            outline = p.outline_level = min(b.level - 1, outline + 1)  # type: ignore[attr-defined]
        elif b.kind in ("para", "admon"):
            story.append(
                para(f"**{b.items[0]}:** {b.text}", "Admon")
                if b.kind == "admon"
                else para(b.text, "BodyText")
            )
        elif b.kind in ("ol", "ul"):
            kw = (
                {"bulletType": "1", "start": b.start, "bulletFormat": "%s."}
                if b.kind == "ol"
                else {"bulletType": "bullet", "start": "\u2022"}
            )
            story.append(
                rl.ListFlowable(
                    [rl.ListItem(para(t, "BodyText")) for t in b.items],
                    leftIndent=18,
                    bulletFontSize=9,
                    **kw,
                )
            )
            story.append(rl.Spacer(1, 4))
        elif b.kind == "table":
            cols = [[units(r[i]) for r in b.rows] for i in range(len(b.rows[0]))]
            floor = [
                5.2 * min(20, max(units(w) for r in b.rows for w in r[i].split() or [""])) + 12
                for i in range(len(cols))
            ]  # room for the longest word, in points
            want = [min(max(c), 60) + 4 for c in cols]
            widths = [
                f + max(0.0, A4[0] - 40 * mm - sum(floor)) * w / sum(want)
                for f, w in zip(floor, want, strict=True)
            ]
            widths = [w * min(1.0, (A4[0] - 40 * mm) / sum(widths)) for w in widths]
            data = [
                [para(f"**{c}**" if i == 0 and c else c, "Cell") for c in row]
                for i, row in enumerate(b.rows)
            ]
            tbl = rl.Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
            tbl.setStyle(
                rl.TableStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE4EE")),
                    ]
                )
            )
            story += [rl.Spacer(1, 4), tbl, rl.Spacer(1, 6)]
        elif b.kind == "pagebreak":
            story.append(rl.PageBreak())
    doc = OutlinedDoc(
        str(out),
        pagesize=A4,
        title=title,
        author=AUTHOR,
        subject=meta["kind"],
        invariant=1,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)


def build_scan(meta: dict[str, Any], blocks: list[Blk], out: Path) -> None:
    """A scanned copy: the blocks set on A4 pages, then rotated, blurred and speckled, with a
    stamp and a signature under the text of the last page; a PDF of page images (no text
    layer) or one JPEG. ``meta["scan"]`` holds ``seed``, ``stamp`` (its text), ``rotate``
    (degrees) and ``dpi``."""
    from evals.bench_ocr import Line, add_artefacts, render_pages

    scan = meta.pop("scan")
    if not isinstance(scan, dict) or set(scan) - {"seed", "stamp", "rotate", "dpi"}:
        raise SourceError("scan: a mapping of seed, stamp, rotate, dpi")
    dpi = int(scan.get("dpi", 200 if out.suffix == ".pdf" else 150))
    lines: list[Line] = []
    for b in blocks:
        if b.kind in ("heading", "para", "pagebreak"):
            lines.append(Line(b.kind, b.text))
        elif b.kind == "admon":
            lines.append(Line("para", f"{b.items[0]}: {b.text}"))
        elif b.kind in ("ol", "ul"):
            marks = [f"{b.start + i}." if b.kind == "ol" else "•" for i in range(len(b.items))]
            lines += [Line("para", f"{m} {item}") for m, item in zip(marks, b.items, strict=True)]
        elif b.kind == "table":
            lines += [Line("row", " | ".join(row)) for row in b.rows]
    pages = render_pages(lines, dpi)
    if out.suffix != ".pdf" and len(pages) > 1:
        raise SourceError(f"{out.name}: a scanned image is one page; the text needs {len(pages)}")
    images = []
    for n, (page, text) in enumerate(pages):
        last = n == len(pages) - 1
        # The stamp goes under the last line of text, where a signature block would be.
        at = min(0.8, 0.12 + len(text.splitlines()) * 1.45 * 11 / 72 / 11.69)
        images.append(
            add_artefacts(
                page,
                int(scan.get("seed", 0)) + n,
                stamp_text=str(scan.get("stamp", "APPROVED")) if last else None,
                rotate=float(scan.get("rotate", 0.8)) * (1 if n % 2 == 0 else -1),
                at=at,
            )
        )
    if out.suffix == ".pdf":
        images[0].save(
            out,
            "PDF",
            resolution=dpi,
            save_all=True,
            append_images=images[1:],
            quality=60,
            creationDate=FIXED_TIME,
            modDate=FIXED_TIME,
            title=meta["title"],
            author=AUTHOR,
        )
    else:
        images[0].save(out, "JPEG", quality=70, dpi=(dpi, dpi), optimize=True)


def build_docx(meta: dict[str, Any], blocks: list[Blk], out: Path) -> None:
    doc = docx.Document()
    props = doc.core_properties
    props.title, props.author, props.revision = meta["title"], AUTHOR, 1
    props.language = meta.get("language", "en")
    if meta.get("language") == "zh":
        doc.styles["Normal"].element.get_or_add_rPr().get_or_add_rFonts().set(
            qn("w:eastAsia"), "SimSun"
        )
    numbering = doc.part.numbering_part.element
    base_num = doc.styles["List Number"].element.pPr.numPr.numId.val
    abstract_id = numbering.num_having_numId(base_num).abstractNumId.val

    def add_runs(p: Any, text: str) -> None:
        for t, bold in inline_runs(text):
            p.add_run(t).bold = bold or None

    for b in blocks:
        if b.kind == "heading":
            add_runs(doc.add_heading(level=b.level), b.text)
        elif b.kind in ("para", "admon"):
            add_runs(
                doc.add_paragraph(), f"**{b.items[0]}:** {b.text}" if b.kind == "admon" else b.text
            )
        elif b.kind == "ul":
            for t in b.items:
                add_runs(doc.add_paragraph(style="List Bullet"), t)
        elif b.kind == "ol":
            num = numbering.add_num(abstract_id)  # its own numbering instance, from b.start
            num.add_lvlOverride(ilvl=0).add_startOverride(b.start)
            for t in b.items:
                p = doc.add_paragraph(style="List Number")
                num_pr = p._p.get_or_add_pPr().get_or_add_numPr()
                num_pr.get_or_add_ilvl().val, num_pr.get_or_add_numId().val = 0, num.numId
                add_runs(p, t)
        elif b.kind == "table":
            tbl = doc.add_table(rows=len(b.rows), cols=len(b.rows[0]), style="Table Grid")
            for r, row in enumerate(b.rows):
                for c, val in enumerate(row):
                    add_runs(tbl.cell(r, c).paragraphs[0], f"**{val}**" if r == 0 and val else val)
            tr_pr = tbl.rows[0]._tr.get_or_add_trPr()  # repeat the header row on each page
            tr_pr.append(tr_pr.makeelement(qn("w:tblHeader"), {}))
            doc.add_paragraph()
        elif b.kind == "pagebreak":
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    doc.save(str(out))


def build_pptx(meta: dict[str, Any], blocks: list[Blk], out: Path) -> None:
    if not blocks or blocks[0].kind != "heading" or blocks[0].level != 1:
        raise SourceError("a PPTX source must start with a '#' title")
    prs = Presentation()
    props = prs.core_properties
    props.title, props.author, props.last_modified_by, props.revision = (
        meta["title"],
        AUTHOR,
        AUTHOR,
        1,
    )
    slides: list[tuple[str, list[Blk]]] = [(blocks[0].text, [])]
    for b in blocks[1:]:
        if b.kind == "heading" and b.level <= 2:
            slides.append((b.text, []))
        elif b.kind != "pagebreak":
            slides[-1][1].append(b)
    first = prs.slides.add_slide(prs.slide_layouts[0])
    first.shapes.title.text = slides[0][0]
    intro = [x.text.replace("**", "") for x in slides[0][1] if x.kind == "para"]
    first.placeholders[1].text = intro[0] if intro else str(meta.get("edition", ""))
    for heading, body in slides[1:]:
        lines: list[tuple[str, int]] = []
        for b in body:
            if b.kind in ("para", "heading", "admon"):
                lines.append(
                    (
                        f"**{b.items[0]}:** {b.text}"
                        if b.kind == "admon"
                        else f"**{b.text}**"
                        if b.kind == "heading"
                        else b.text,
                        0,
                    )
                )
            elif b.kind in ("ol", "ul"):
                lines += [
                    (f"{b.start + i}. {t}" if b.kind == "ol" else t, 1)
                    for i, t in enumerate(b.items)
                ]
        tables = [b for b in body if b.kind == "table"]
        slide = prs.slides.add_slide(prs.slide_layouts[5 if tables else 1])
        slide.shapes.title.text = heading
        top = Inches(1.5)
        if lines:
            height = Inches(0.35 * min(len(lines), 6) + 0.2) if tables else Inches(5.5)
            frame = (
                slide.shapes.add_textbox(Inches(0.5), top, Inches(9), height)
                if tables
                else slide.placeholders[1]
            ).text_frame
            frame.word_wrap, frame.auto_size = True, MSO_AUTO_SIZE.TEXT_TO_FIT_SHAPE
            chars = sum(units(t) for t, _ in lines) + 40 * len(lines)  # a line costs ~40 chars
            size = Pt(12 if tables or chars > 900 else 14 if chars > 550 else 18)
            for i, (text, level) in enumerate(lines):
                p = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
                p.level = level
                for t, bold in inline_runs(text):
                    run = p.add_run()
                    run.text, run.font.bold, run.font.size = t, bold or None, size
            top += height
        for tb in tables:
            shape = slide.shapes.add_table(
                len(tb.rows),
                len(tb.rows[0]),
                Inches(0.5),
                top,
                Inches(9),
                Inches(0.3 * len(tb.rows)),
            )
            for r, row in enumerate(tb.rows):
                for c, val in enumerate(row):
                    cell = shape.table.cell(r, c)
                    cell.text = val.replace("**", "")
                    if val:
                        cell.text_frame.paragraphs[0].runs[0].font.size = Pt(11)
            top += Inches(0.3 * len(tb.rows) + 0.2)
    prs.save(str(out))


def build_xlsx(meta: dict[str, Any], sheets: Any, out: Path, src: Path) -> None:
    if not isinstance(sheets, list) or not sheets:
        raise SourceError(f"{src}: 'sheets' must be a non-empty list")
    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.title, wb.properties.creator = meta["title"], AUTHOR
    for sh in sheets:
        if not (
            isinstance(sh, dict)
            and isinstance(sh.get("name"), str)
            and isinstance(sh.get("rows"), list)
            and sh["rows"]
        ):
            raise SourceError(f"{src}: each sheet needs a 'name' and non-empty 'rows'")
        ws = wb.create_sheet(sh["name"][:31])
        width = len(sh["rows"][0]) if isinstance(sh["rows"][0], list) else 0
        for i, row in enumerate(sh["rows"], 1):
            if not isinstance(row, list) or len(row) != width:
                raise SourceError(
                    f"{src}: sheet {sh['name']!r} row {i} must be a list of the "
                    f"header's {width} cells"
                )
            ws.append(row)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
        for col in ws.columns:
            longest = max(len(str(c.value)) if c.value is not None else 0 for c in col)
            ws.column_dimensions[col[0].column_letter].width = min(max(longest + 2, 8), 60)
    wb.save(str(out))


def normalize_zip(path: Path) -> None:
    """Rewrite an OOXML package with fixed timestamps so that rebuilds are byte-identical."""
    with zipfile.ZipFile(path) as zin:
        entries = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + FIXED_DATE, data
                )
            zout.writestr(
                zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)),
                data,
                compress_type=zipfile.ZIP_DEFLATED,
            )
    path.write_bytes(buf.getvalue())


def targets() -> list[tuple[Path, Path]]:
    """(source, output) pairs for every source under scripts/corpus_src, sorted by path."""
    pairs = []
    for src in sorted(SRC_DIR.rglob("*")):
        m = re.fullmatch(r"(.+\.(?:pdf|docx|pptx|jpg))\.md|(.+\.xlsx)\.yaml", src.name)
        if m and src.is_file():
            pairs.append((src, OUT_DIR / src.parent.relative_to(SRC_DIR) / (m[1] or m[2])))
    return pairs


def build(src: Path, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".xlsx":  # YAML source: the meta keys and 'sheets' at the top level
        try:
            data = yaml.safe_load(src.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise SourceError(f"{src}: invalid YAML: {exc}") from exc
        meta = {
            k: v for k, v in check_meta(data, src, frozenset({"sheets"})).items() if k != "sheets"
        }
        build_xlsx(meta, data.get("sheets"), out, src)
    else:
        meta, blocks = read_md(src)
        if "scan" in meta:  # a scanned copy: page images only, read back by OCR
            build_scan(meta, blocks, out)
        elif out.suffix == ".jpg":
            raise SourceError(f"{src}: an image source needs 'scan' in its front matter")
        else:
            builders = {".pdf": build_pdf, ".docx": build_docx, ".pptx": build_pptx}
            builders[out.suffix](meta, blocks, out)
    if out.suffix in (".docx", ".pptx", ".xlsx"):
        normalize_zip(out)
    sidecar = out.with_name(out.name + ".meta.yaml")
    sidecar.write_text(yaml.safe_dump(meta, allow_unicode=True, sort_keys=False), "utf-8")
    print(f"wrote {out.relative_to(ROOT)} and {sidecar.name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build corpora/ documents from corpus_src/.")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if any output is missing or older than its source",
    )
    args = parser.parse_args(argv)
    pairs = targets()
    if args.check:
        stale = [
            out
            for src, out in pairs
            if not all(
                f.exists() and f.stat().st_mtime >= src.stat().st_mtime
                for f in (out, out.with_name(out.name + ".meta.yaml"))
            )
        ]
        for out in stale:
            print(f"missing or older than its source: {out.relative_to(ROOT)}")
        print(f"{len(pairs)} sources checked, {len(stale)} outputs out of date")
        return 1 if stale else 0
    for src, out in pairs:
        try:
            build(src, out)
        except (SourceError, ValueError, KeyError, TypeError) as exc:
            if out.parent.is_dir() and not any(out.parent.iterdir()):
                out.parent.rmdir()  # do not leave an empty folder for a failed source
            msg = str(exc) if str(src) in str(exc) else f"{src}: {exc}"
            print(f"error: {msg}", file=sys.stderr)
            return 2
    print(f"{len(pairs)} documents built")
    return 0


if __name__ == "__main__":
    sys.exit(main())
