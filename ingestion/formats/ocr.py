"""OCR of page images: RapidOCR (PP-OCRv4 detection and recognition, Chinese and English, as
ONNX models shipped inside the ``rapidocr-onnxruntime`` wheel), then lines rebuilt into
paragraphs, list items, headings and table rows (`ingestion.formats.ocr_layout`).

The engine loads on first use and stays loaded for the life of the parse worker. Nothing is
downloaded: the wheel carries the model files (Apache-2.0, see docs/ocr.md).
"""

from __future__ import annotations

import functools
import logging
import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from assistant.errors import ParseError
from ingestion.formats.base import Piece, normalize_space
from ingestion.formats.ocr_layout import OcrLine, layout_pieces

logger = logging.getLogger(__name__)

OcrMode = Literal["auto", "off", "force"]
PageProgress = Callable[[int, int], None]
"""Called with (pages done, pages to OCR) as each page is recognised."""

# Recognised lines below this score are dropped by the engine: they are mostly specks, stamp
# rims and signature strokes. Kept lines still lower the page's mean confidence.
_MIN_LINE_SCORE = 0.5
# Detected line boxes lower than `_MIN_LINE_PX` are cut from a copy of the page enlarged towards
# `_TARGET_LINE_PX` (at most `_MAX_UPSCALE` times) before recognition. On the demo corpus's
# 200 dpi scan (41 px lines) this put back the spaces lost in "MeridianCNCMachineTools" and
# cost no more recognition time (the recogniser scales every line to 48 px anyway).
_MIN_LINE_PX = 56
_TARGET_LINE_PX = 64
_MAX_UPSCALE = 2.0
# The recogniser's one common confusion in numbers: a letter o/O among two or more digits
# ("5o0", "2,0o0"); a token of digits, separators and o/O only is read as a number. On the
# generated scans of `python -m evals.bench_ocr` this table fixes about one character in 2,000.
_IN_NUMBER = re.compile(r"(?<![\w.,])(?=(?:[oO.,]*\d){2})[\doO]+(?:[.,][\doO]+)*(?![\w])")
_AS_DIGIT = str.maketrans("oO", "00")
# A line sloping more than this against the page's own skew is not body text (stamp, signature).
_MAX_SLANT_DEG = 8.0
# Red minus the larger of green and blue, in the darkest pixels of a line: stamp ink. Black and
# blue ink measure under 25 (also where a stamp overlaps them); the demo corpus's JPEG-compressed
# red stamp text 45-60.
_STAMP_RED = 35
# Below this median line score a page is tried upside down as well.
_UPSIDE_DOWN_SCORE = 0.7
# Pages are rendered or shrunk to at most this long side (a 300 dpi A4 page is 3,508 px).
MAX_SIDE_PX = 3600
# A page wider than this many times its height is padded below before detection.
_MAX_ASPECT = 8


@dataclass(frozen=True)
class OcrOptions:
    """How pages without text are read.

    Attributes:
        mode: ``auto`` (OCR pages without a text layer, and images), ``off`` (never: such
            pages are skipped and a file with nothing else fails), ``force`` (OCR every page,
            ignoring any text layer).
        dpi: resolution at which PDF pages are rendered for OCR.
        min_confidence: a page whose mean recognition confidence is below this is reported
            and not indexed.
        defer: raise `OcrDeferred` instead of running OCR (the ingest runs scans last).
        on_page: progress callback, (pages done, pages to OCR).
    """

    mode: OcrMode = "auto"
    dpi: int = 200
    min_confidence: float = 0.8
    defer: bool = False
    on_page: PageProgress | None = field(default=None, compare=False)


class OcrDeferred(Exception):
    """The file needs OCR of ``pages`` pages and the caller asked to be told first."""

    def __init__(self, pages: int) -> None:
        super().__init__(f"{pages} page(s) to OCR")
        self.pages = pages


@dataclass
class OcrPage:
    """A page's pieces and its mean confidence (over characters); ``chars`` recognised."""

    pieces: list[Piece]
    confidence: float
    chars: int


@functools.cache
def _engine() -> Any:
    """The RapidOCR engine, loaded once per process.

    Raises:
        ParseError: rapidocr-onnxruntime is not installed.
    """
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as e:
        raise ParseError(
            "OCR needs rapidocr-onnxruntime (pip install --no-deps rapidocr-onnxruntime==1.4.4 "
            "pyclipper shapely; `make install` does it)"
        ) from e
    logging.getLogger("RapidOCR").setLevel(logging.WARNING)
    return RapidOCR()


def recognise(image: Any) -> list[OcrLine]:
    """Run detection and recognition on an RGB uint8 array; a page that reads badly is tried
    again upside down (a sheet fed the wrong way round).

    RapidOCR's per-line direction classifier is not used: on clean pages it turns some upright
    lines over, which then read as noise and are dropped (whole lines lost).

    Raises:
        ParseError: the engine is missing or fails on this image.
    """
    lines = _recognise(image)
    if lines and statistics.median(line.score for line in lines) < _UPSIDE_DOWN_SCORE:
        import numpy as np

        turned = _recognise(np.ascontiguousarray(image[::-1, ::-1]))
        if _mean_score(turned) > _mean_score(lines):
            return turned
    return lines


def _mean_score(lines: list[OcrLine]) -> float:
    chars = sum(len(line.text) for line in lines)
    return sum(line.score * len(line.text) for line in lines) / chars if chars else 0.0


def _fix_digits(text: str) -> str:
    """Read o/O as 0 inside a number: "5o0" → "500", "2,0o0 h" → "2,000 h" (see `_IN_NUMBER`)."""
    return _IN_NUMBER.sub(lambda m: m.group().translate(_AS_DIGIT), text)


def _run_engine(engine: Any, image: Any) -> list[tuple[Any, str, float]]:
    """Detection on the page as it is, recognition on line images cut from an enlarged copy
    when the lines are small: the recogniser reads lines 48 px high, and lines stretched from,
    say, 30 px lose their narrow spaces ("Spindledrawbarcheck") and mix up 0 and o. Only the
    cut-outs are enlarged, so detection costs no more.

    Uses RapidOCR's steps (``text_det``, ``get_crop_img_list``, ``text_rec``) rather than its
    one-call API, which detects and cuts on the same image; the version is pinned (1.4.4).

    Returns:
        (box corners in page pixels, text, score) per line, scores below `_MIN_LINE_SCORE`
        dropped.
    """
    import cv2
    import numpy as np

    height, width = image.shape[:2]
    if width > _MAX_ASPECT * height:  # a strip (one line of text): detection wants some height
        pad = np.full((width // _MAX_ASPECT - height, width, 3), 255, dtype=image.dtype)
        image = np.concatenate([image, pad])
    boxes, _ = engine.text_det(image)
    if boxes is None or len(boxes) == 0:
        return []
    boxes = [np.asarray(b, dtype=np.float32) for b in engine.sorted_boxes(boxes)]
    heights = sorted(_quad_size(b)[1] for b in boxes)  # along the box: pages can be askew
    median = heights[len(heights) // 2]
    factor = min(_MAX_UPSCALE, _TARGET_LINE_PX / max(median, 1.0))
    source = image
    if median < _MIN_LINE_PX and factor > 1.05:
        source = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    else:
        factor = 1.0
    crops = engine.get_crop_img_list(source, [b * factor for b in boxes])
    results, _ = engine.text_rec(crops)
    return [
        (box, str(result[0]), float(result[1]))
        for box, result in zip(boxes, results, strict=True)
        if float(result[1]) >= _MIN_LINE_SCORE
    ]


def _recognise(image: Any) -> list[OcrLine]:
    import numpy as np

    try:
        result = _run_engine(_engine(), image)
    except MemoryError:
        raise
    except Exception as e:  # onnxruntime and OpenCV raise their own exception types
        raise ParseError(f"OCR failed ({type(e).__name__}: {e})") from e
    found = []
    for points, text, score in result:
        text = _fix_digits(normalize_space(str(text)))
        quad = np.asarray(points, dtype=np.float64)
        if text and quad.shape == (4, 2) and not _is_stamp_ink(image, quad):
            found.append((quad, text, float(score)))
    return _straighten(found)


def _angle(quad: Any) -> float:
    """The slope of a line box's top edge, in degrees."""
    dx, dy = quad[1] - quad[0]
    return math.degrees(math.atan2(dy, dx))


def _straighten(found: list[tuple[Any, str, float]]) -> list[OcrLine]:
    """Line boxes in the page's own frame: the page's skew (the median slope of its long lines)
    turned back, and lines at an angle to it (text around a stamp, handwriting) dropped.

    Without this a long line on a page scanned 1° askew is 20 px taller than it is, and line
    heights no longer tell headings from body text.
    """
    if not found:
        return []
    long = [_angle(q) for q, _, _ in found if _quad_size(q)[0] > 3 * _quad_size(q)[1]]
    skew = statistics.median(long) if long else 0.0
    cos, sin = math.cos(math.radians(-skew)), math.sin(math.radians(-skew))
    lines = []
    for quad, text, score in found:
        if abs(_angle(quad) - skew) > _MAX_SLANT_DEG and _quad_size(quad)[0] > _quad_size(quad)[1]:
            continue
        xs = quad[:, 0] * cos - quad[:, 1] * sin
        ys = quad[:, 0] * sin + quad[:, 1] * cos
        lines.append(OcrLine(xs.min(), ys.min(), xs.max(), ys.max(), text, score))
    return lines


def _quad_size(quad: Any) -> tuple[float, float]:
    """(width, height) of a line box along its own edges."""
    import numpy as np

    width = (np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2
    height = (np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
    return float(width), float(height)


def _is_stamp_ink(image: Any, quad: Any) -> bool:
    """Whether a line is printed in red ink (a company stamp, 公章): its darkest pixels are red.

    Such text names the stamping office, not the content, and lands in the middle of other lines.
    """
    import numpy as np

    x0, y0 = np.floor(quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
    crop = image[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)]
    if crop.ndim != 3 or crop.shape[2] < 3 or crop.size == 0:
        return False
    pixels = crop.reshape(-1, crop.shape[2])[:, :3].astype(np.int16)
    darkness = pixels.sum(axis=1)
    ink = pixels[darkness <= np.percentile(darkness, 15)]
    red, green, blue = ink.mean(axis=0)
    return bool(red - max(green, blue) > _STAMP_RED)


def read_page(image: Any, page: int | None) -> OcrPage:
    """OCR one page image and rebuild its layout into pieces."""
    lines = recognise(image)
    chars = sum(len(line.text) for line in lines)
    return OcrPage(layout_pieces(lines, page), _mean_score(lines), chars)


@dataclass
class OcrResult:
    """The pages kept (at or above the confidence floor): their pieces and mean confidence, and
    one warning per page that was not kept."""

    pieces: list[Piece] = field(default_factory=list)
    confidence: dict[int, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def read_pages(pages: list[tuple[int, Callable[[], Any]]], options: OcrOptions) -> OcrResult:
    """OCR pages one at a time, reporting progress; each page is rendered only when its turn
    comes, so one page's image is in memory at a time.

    Args:
        pages: (page number, function returning the page's RGB uint8 array).
        options: the confidence floor and the progress callback.

    Raises:
        ParseError: a page cannot be rendered or recognised.
    """
    out = OcrResult()
    for done, (page, render) in enumerate(pages, start=1):
        result = read_page(render(), page)
        if options.on_page is not None:
            options.on_page(done, len(pages))
        if not result.chars:
            continue
        if result.confidence < options.min_confidence:
            out.warnings.append(
                f"page {page}: OCR confidence {result.confidence:.2f} is below the "
                f"{options.min_confidence:.2f} floor; not indexed"
            )
            continue
        out.pieces.extend(result.pieces)
        out.confidence[page] = round(result.confidence, 4)
    return out
