"""Images (PNG, JPEG, TIFF with one page or many): checked, then OCR'd page by page.

An image is untrusted like any file: its header is read first and an image too large to
decode safely (a decompression bomb, a side over `MAX_IMAGE_SIDE_PX`) is refused before any pixel is
decoded; a truncated or damaged file is a clear error, not a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.errors import ParseError
from ingestion.formats.base import Extracted
from ingestion.formats.ocr import MAX_SIDE_PX, OcrDeferred, OcrOptions, read_pages

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
_FORMATS = {"PNG", "JPEG", "MPO", "TIFF"}
# A 600 dpi A3 scan is about 7,000 x 9,900 pixels; a side beyond this is no page.
MAX_IMAGE_SIDE_PX = 20_000
MAX_PIXELS = 80_000_000  # about 240 MB decoded as RGB
MAX_FRAMES = 2_000


def _open(path: Path) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path)
    except Image.DecompressionBombError as e:
        raise ParseError(f"the image is too large to decode safely ({e})") from e
    except UnidentifiedImageError as e:
        raise ParseError("not an image PIL can read (unknown or damaged format)") from e
    except OSError as e:
        raise ParseError(f"the image cannot be read ({e})") from e
    if image.format not in _FORMATS:
        image.close()
        raise ParseError(f"unsupported image format {image.format} (PNG, JPEG, TIFF)")
    return image


def _check_size(size: tuple[int, int], where: str) -> None:
    width, height = size
    if max(width, height) > MAX_IMAGE_SIDE_PX:
        raise ParseError(
            f"{where} is {width} x {height} pixels; a side over {MAX_IMAGE_SIDE_PX} is refused "
            "(a decompression bomb or no document page)"
        )
    if width * height > MAX_PIXELS:
        raise ParseError(
            f"{where} is {width} x {height} pixels, over the {MAX_PIXELS / 1e6:g} million "
            "pixels an image may have (a decompression bomb?)"
        )


def count_frames(path: Path) -> int:
    """Pages of an image after its header checks.

    Raises:
        ParseError: not a supported image, or too large (see `MAX_IMAGE_SIDE_PX`, `MAX_PIXELS`).
    """
    with _open(path) as image:
        _check_size(image.size, "the image")
        frames = int(getattr(image, "n_frames", 1))
    if frames > MAX_FRAMES:
        raise ParseError(f"the image has {frames} pages, over the {MAX_FRAMES} allowed")
    return frames


def _frame_reader(path: Path, index: int, frames: int) -> Callable[[], Any]:
    def render() -> Any:
        import numpy as np
        from PIL import Image, ImageOps

        where = f"page {index + 1}" if frames > 1 else "the image"
        with _open(path) as image:
            try:
                image.seek(index)
                _check_size(image.size, where)
                image.load()
                picture = ImageOps.exif_transpose(image).convert("RGB")
            except Image.DecompressionBombError as e:
                raise ParseError(f"{where} is too large to decode safely ({e})") from e
            except (OSError, ValueError, SyntaxError) as e:
                raise ParseError(f"{where} is truncated or damaged ({e})") from e
        if max(picture.size) > MAX_SIDE_PX:  # more pixels only cost time
            picture.thumbnail((MAX_SIDE_PX, MAX_SIDE_PX))
        return np.asarray(picture)

    return render


def read_image(path: Path, options: OcrOptions) -> Extracted:
    """An image's text by OCR, one piece list per frame (page) in order.

    Raises:
        ParseError: OCR is off, the image is unsafe or damaged, or no page's text passes the
            confidence floor.
        OcrDeferred: ``options.defer`` is set (the caller runs OCR later).
    """
    if options.mode == "off":
        raise ParseError("an image is read only by OCR, which is off (ingestion.ocr: off)")
    frames = count_frames(path)
    if options.defer:
        raise OcrDeferred(frames)
    result = read_pages([(i + 1, _frame_reader(path, i, frames)) for i in range(frames)], options)
    if not result.pieces:
        detail = "; ".join(result.warnings) or "no text was recognised"
        raise ParseError(f"no text found in the image ({detail})")
    return Extracted(
        result.pieces,
        ocr_confidence=result.confidence,
        warnings=result.warnings,
    )
