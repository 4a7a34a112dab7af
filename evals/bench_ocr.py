"""OCR benchmark: character error rate and pages/s on generated scans, at 150 and 300 dpi, with
and without scan artefacts.

English pages are set from the open corpus's Markdown texts (``../shared/open-corpus``, skipped
when absent); Chinese pages from its Chinese texts, else from the demo corpus's Chinese
documents. Fonts: Noto Serif CJK from Debian's ``fonts-noto-cjk``. Each page is rendered, OCR'd
through the same code the ingest uses (`ingestion.formats.ocr.read_page`) and its text compared
with what was set. Run::

    python -m evals.bench_ocr [--pages 6] [--json]

The page renderer and the artefacts (rotation, noise, blur, a stamp, a signature) are also what
``scripts/build_corpus.py`` uses for the demo corpus's scanned documents.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OPEN_CORPUS = REPO.parent / "shared" / "open-corpus"
FONT_DIRS = (Path("/usr/share/fonts/opentype/noto"), Path("/usr/share/fonts/noto-cjk"))
SERIF, SANS = "NotoSerifCJK-Regular.ttc", "NotoSansCJK-Regular.ttc"
_SC_INDEX = 2  # Simplified Chinese face in the Noto CJK collections
A4_INCHES = (8.27, 11.69)
_CJK = ("\u3000", "\u9fff")


class FontMissing(RuntimeError):
    """The Noto CJK fonts are not installed (Debian: apt-get install fonts-noto-cjk)."""


def font(size_px: int, *, sans: bool = False) -> Any:
    """Noto Serif (or Sans) CJK SC at ``size_px``: Latin and Chinese in one face.

    Raises:
        FontMissing: fonts-noto-cjk is not installed.
    """
    from PIL import ImageFont

    name = SANS if sans else SERIF
    for folder in FONT_DIRS:
        if (folder / name).is_file():
            return ImageFont.truetype(str(folder / name), size_px, index=_SC_INDEX)
    raise FontMissing(f"{name} not found: install Debian's fonts-noto-cjk")


@dataclass(frozen=True)
class Line:
    """A block to set: ``kind`` heading, para, row (a table row: cells set in columns) or
    pagebreak."""

    kind: str
    text: str


def _is_cjk(ch: str) -> bool:
    return _CJK[0] <= ch <= _CJK[1] or "\uff00" <= ch <= "\uffef"


def _wrap(text: str, face: Any, width: float) -> list[str]:
    """Break ``text`` into lines no wider than ``width``: at spaces, or between CJK characters."""
    lines: list[str] = []
    current = ""
    tokens: list[str] = []
    word = ""
    for ch in text:
        if _is_cjk(ch):
            if word:
                tokens.append(word)
                word = ""
            tokens.append(ch)
        elif ch == " ":
            tokens.append(word + " ")
            word = ""
        else:
            word += ch
    if word:
        tokens.append(word)
    for token in tokens:
        if current and face.getlength((current + token).rstrip()) > width:
            lines.append(current.rstrip())
            current = token.lstrip()
        else:
            current += token
    if current.strip():
        lines.append(current.rstrip())
    return lines


def render_pages(
    blocks: list[Line], dpi: int, *, max_pages: int | None = None
) -> list[tuple[Any, str]]:
    """Set blocks on white A4 pages (11 pt body, 15 pt headings, 25 mm margins).

    Returns:
        (greyscale PIL image, the text set on it: one line per printed line) per page.
    """
    from PIL import Image, ImageDraw

    width, height = round(A4_INCHES[0] * dpi), round(A4_INCHES[1] * dpi)
    margin = round(dpi * 25 / 25.4)
    body = font(round(11 * dpi / 72))
    head = font(round(15 * dpi / 72), sans=True)
    pages: list[tuple[Any, str]] = []
    image = draw = None
    y = 0
    printed: list[str] = []

    def new_page() -> None:
        nonlocal image, draw, y
        if image is not None:
            pages.append((image, "\n".join(printed)))
            printed.clear()
        image = Image.new("L", (width, height), 255)
        draw = ImageDraw.Draw(image)
        y = margin

    new_page()
    for block in blocks:
        if block.kind == "pagebreak":
            if printed:
                new_page()
            continue
        face = head if block.kind == "heading" else body
        step = round(face.size * 1.45)
        if block.kind == "row":
            cells = block.text.split(" | ")
            column = (width - 2 * margin) / max(len(cells), 1)
            if y + step > height - margin:
                new_page()
            shown = []
            for i, cell in enumerate(cells):  # a cell is cut at its column, as the eye sees it
                while cell and face.getlength(cell) > column - face.size:
                    cell = cell[:-1]
                draw.text((margin + i * column, y), cell, font=face, fill=0)  # type: ignore[union-attr]
                shown.append(cell)
            printed.append(" ".join(shown))
            y += step
            continue
        lines = _wrap(block.text, face, width - 2 * margin)
        if block.kind == "heading" and y > margin:
            y += step // 2
        for text in lines:
            if y + step > height - margin:
                if max_pages is not None and len(pages) + 1 >= max_pages:
                    pages.append((image, "\n".join(printed)))
                    return pages
                new_page()
            draw.text((margin, y), text, font=face, fill=0)  # type: ignore[union-attr]
            printed.append(text)
            y += step
        y += step // 3
    pages.append((image, "\n".join(printed)))
    return pages


def _stamp(size: int, text: str, rng: random.Random) -> Any:
    """A red ink stamp: a double ring with text and a star, as on signed-off procedures."""
    from PIL import Image, ImageDraw

    stamp = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(stamp)
    ink = (200, 30, 40, 170)
    w = max(2, size // 40)
    draw.ellipse((w, w, size - w, size - w), outline=ink, width=w)
    draw.ellipse((4 * w, 4 * w, size - 4 * w, size - 4 * w), outline=ink, width=max(1, w // 2))
    face = font(max(10, size // 9), sans=True)
    radius = size / 2 - 7 * w
    chars = list(text)
    for i, ch in enumerate(chars):
        angle = math.radians(200 + i * 140 / max(len(chars) - 1, 1))
        x = size / 2 + radius * math.cos(angle) - face.size / 2
        y = size / 2 + radius * math.sin(angle) - face.size / 2
        draw.text((x, y), ch, font=face, fill=ink)
    cx = cy = size / 2
    star = [
        (
            cx + (size / 7 if k % 2 == 0 else size / 17) * math.cos(math.radians(-90 + k * 36)),
            cy + (size / 7 if k % 2 == 0 else size / 17) * math.sin(math.radians(-90 + k * 36)),
        )
        for k in range(10)
    ]
    draw.polygon(star, fill=ink)
    return stamp.rotate(rng.uniform(-25, 25), resample=Image.Resampling.BICUBIC)


def _signature(draw: Any, x: float, y: float, scale: float, rng: random.Random) -> None:
    """A handwritten-looking flourish in blue ink."""
    points = []
    for k in range(60):
        t = k / 59
        points.append(
            (
                x + scale * (t * 3.2 + 0.25 * math.sin(t * 19 + rng.uniform(0, 0.3))),
                y + scale * (0.35 * math.sin(t * 11 + rng.uniform(0, 0.5)) - 0.2 * t),
            )
        )
    draw.line(points, fill=(30, 40, 140), width=max(2, round(scale / 18)), joint="curve")


def add_artefacts(
    image: Any,
    seed: int,
    *,
    stamp_text: str | None = "QUALITY APPROVED",
    rotate: float | None = None,
    at: float = 0.8,
) -> Any:
    """What a scanner or a phone adds: a stamp and a signature (``stamp_text`` None: neither)
    at ``at`` of the page's height, slight rotation, greyish paper, blur and sensor noise.
    Deterministic for a seed.

    Returns:
        An RGB PIL image.
    """
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed)
    page = image.convert("RGB")
    width, height = page.size
    if stamp_text is not None:
        size = round(width * 0.2)
        stamp = _stamp(size, stamp_text, rng)
        page.paste(stamp, (round(width * 0.66), round(height * at)), stamp)
        _signature(ImageDraw.Draw(page), width * 0.14, height * (at + 0.1), width * 0.05, rng)
    angle = rotate if rotate is not None else rng.choice((-1, 1)) * rng.uniform(0.6, 1.4)
    page = page.rotate(
        angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=(255, 255, 255)
    )
    page = page.filter(ImageFilter.GaussianBlur(radius=max(0.4, width / 2480)))
    pixels = np.asarray(page).astype(np.float32) * (236 / 255) + 8
    noise = np.random.default_rng(seed).normal(0.0, 9.0, pixels.shape[:2])[..., None]
    pixels = np.clip(pixels + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def cer(reference: str, hypothesis: str, *, spaces: bool = True) -> float:
    """Character error rate: edit distance over the reference length, after NFKC and without the
    `` | `` between table cells; line breaks and runs of spaces count as one space (``spaces``,
    for English: a lost space between two words is an error) or not at all (Chinese sets none
    between characters).
    """
    from rapidfuzz.distance import Levenshtein

    def norm(text: str) -> str:  # "|" is the layout's cell separator, not text
        words = unicodedata.normalize("NFKC", text).replace(" | ", " ").split()
        return " ".join(words) if spaces else "".join(words)

    ref = norm(reference)
    return Levenshtein.distance(ref, norm(hypothesis)) / max(len(ref), 1)


def _blocks_of(path: Path) -> list[Line]:
    from ingestion.parse import parse_file

    doc = parse_file(path)
    lines = []
    for block in doc.blocks:
        if block.kind == "heading":
            lines.append(Line("heading", block.text))
        elif block.kind == "table":
            lines.extend(Line("row", row) for row in block.text.splitlines())
        elif block.kind != "code":
            lines.append(Line("para", block.text))
    return lines


def sources(pages: int) -> dict[str, list[Path]]:
    """Texts to set, by language: ``pages`` of each where there are that many."""
    english = sorted((OPEN_CORPUS / "b_enterprise").rglob("*.md"))
    english = [p for p in english if p.stat().st_size > 3000 and p.name != "LICENSE.md"]
    chinese = sorted((OPEN_CORPUS / "zh_enterprise_pagerduty_ir_zh").glob("*.md"))
    if not chinese:
        chinese = [
            p
            for p in sorted((REPO / "corpora").rglob("*.md"))
            if sum(map(_is_cjk, p.read_text(encoding="utf-8"))) > 800
        ]
    return {"en": english[:pages], "zh": chinese[:pages]}


def run(
    pages: int, dpis: tuple[int, ...] = (150, 300), langs: tuple[str, ...] = ("en", "zh")
) -> list[dict[str, Any]]:
    """OCR one page of each source per language, dpi and artefact setting.

    Returns:
        One row per page: lang, dpi, artefacts, source, cer, seconds, confidence.
    """
    import numpy as np

    from ingestion.formats.ocr import _engine, read_page

    _engine()  # loaded once, outside the timings
    rows = []
    for lang, paths in sources(pages).items():
        if lang not in langs:
            continue
        for n, path in enumerate(paths):
            blocks = _blocks_of(path)
            for dpi in dpis:
                image, truth = render_pages(blocks, dpi, max_pages=1)[0]
                for artefacts in (False, True):
                    page = add_artefacts(image, seed=n) if artefacts else image.convert("RGB")
                    started, cpu = time.perf_counter(), time.process_time()
                    result = read_page(np.asarray(page), 1)
                    seconds = time.perf_counter() - started
                    cpu = time.process_time() - cpu
                    text = "\n".join(p.text for p in result.pieces)
                    rows.append(
                        {
                            "lang": lang,
                            "dpi": dpi,
                            "artefacts": artefacts,
                            "source": path.name,
                            "cer": round(cer(truth, text, spaces=lang == "en"), 4),
                            "seconds": round(seconds, 2),
                            "cpu_seconds": round(cpu, 2),
                            "confidence": round(result.confidence, 3),
                        }
                    )
                    print(json.dumps(rows[-1], ensure_ascii=False), file=sys.stderr)
    return rows


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians per (lang, dpi, artefacts): CER, pages/s, confidence."""
    groups: dict[tuple[str, int, bool], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["lang"], row["dpi"], row["artefacts"]), []).append(row)
    return [
        {
            "lang": lang,
            "dpi": dpi,
            "artefacts": artefacts,
            "pages": len(group),
            "median_cer": round(statistics.median(r["cer"] for r in group), 4),
            "max_cer": round(max(r["cer"] for r in group), 4),
            "median_pages_per_s": round(1 / statistics.median(r["seconds"] for r in group), 3),
            "median_cpu_s_per_page": round(statistics.median(r["cpu_seconds"] for r in group), 2),
            "median_confidence": round(statistics.median(r["confidence"] for r in group), 3),
        }
        for (lang, dpi, artefacts), group in sorted(groups.items())
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=6, help="pages per language (one a text)")
    parser.add_argument("--lang", choices=("en", "zh"), action="append", help="only these")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    try:
        rows = run(args.pages, langs=tuple(args.lang or ("en", "zh")))
    except FontMissing as e:
        print(f"bench_ocr: skipped: {e}", file=sys.stderr)
        return 0
    if not rows:
        print("bench_ocr: skipped: no texts found", file=sys.stderr)
        return 0
    summary = summarise(rows)
    if args.json:
        print(json.dumps({"summary": summary, "pages": rows}, ensure_ascii=False))
        return 0
    print(
        "| lang | dpi | artefacts | pages | median CER | max CER | pages/s | CPU s/page "
        "| confidence |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for s in summary:
        print(
            f"| {s['lang']} | {s['dpi']} | {'yes' if s['artefacts'] else 'no'} | {s['pages']} "
            f"| {s['median_cer']:.2%} | {s['max_cer']:.2%} | {s['median_pages_per_s']:.3f} "
            f"| {s['median_cpu_s_per_page']:.1f} | {s['median_confidence']:.3f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
