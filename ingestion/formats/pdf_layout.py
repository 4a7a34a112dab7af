"""pdfminer layout fixes applied while unstructured reads a PDF: hidden text, merged headings.

unstructured builds a page's elements from pdfminer's layout in ``_pdfminer_page_elements``;
`layout_fixes` wraps that function for the duration of one parse. It is the one place where the
characters' colours and sizes are visible without a second pdfminer pass.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger(__name__)

# Colour spaces whose components read as grey/RGB/CMYK; in others (Separation...) 1 is ink.
_PROCESS_COLOR_SPACES = frozenset(
    {"DeviceGray", "DeviceRGB", "DeviceCMYK", "CalGray", "CalRGB", "ICCBased"}
)
_MIN_VISIBLE_SIZE = 1.0  # points
_HEADING_SIZE_RATIO = 1.15


def _is_white(color: Any, space: Any) -> bool:
    if getattr(space, "name", "DeviceGray") not in _PROCESS_COLOR_SPACES:
        return False
    parts = color if isinstance(color, tuple | list) else (color,)
    if not parts or not all(isinstance(c, int | float) for c in parts):
        return False
    if len(parts) == 4:  # CMYK: no ink
        return max(parts) <= 0.05
    return len(parts) in (1, 3) and min(parts) >= 0.95


def _layout_items(container: Any) -> Iterator[Any]:
    from pdfminer.layout import LTContainer

    for item in container:
        yield item
        if isinstance(item, LTContainer):
            yield from _layout_items(item)


def _is_hidden(char: Any, backdrops: list[tuple[float, float, float, float]]) -> bool:
    if char.size < _MIN_VISIBLE_SIZE:
        return True
    if not _is_white(char.graphicstate.ncolor, char.graphicstate.ncs):
        return False
    x, y = (char.x0 + char.x1) / 2, (char.y0 + char.y1) / 2
    return not any(x0 <= x <= x1 and y0 <= y <= y1 for x0, y0, x1, y1 in backdrops)


def remove_hidden_chars(layout: Any, *, remove: bool = True) -> bool:
    """Take invisible characters out of a pdfminer page layout; True if any had text.

    White text counts as invisible unless it lies on a non-white filled shape or an image.
    With ``remove=False`` the layout is only inspected.
    """
    from pdfminer.layout import LTChar, LTContainer, LTCurve, LTImage

    items = list(_layout_items(layout))
    backdrops = [
        item.bbox
        for item in items
        if isinstance(item, LTImage)
        or (
            isinstance(item, LTCurve) and item.fill and not _is_white(item.non_stroking_color, None)
        )
    ]
    found = False
    for item in items:
        if not isinstance(item, LTContainer) or not hasattr(item, "_objs"):
            continue
        kept = []
        for child in item._objs:
            if isinstance(child, LTChar) and _is_hidden(child, backdrops):
                found = found or bool(child.get_text().strip())
            else:
                kept.append(child)
        if remove:
            item._objs = kept
    return found


def _line_size(line: Any) -> float:
    from pdfminer.layout import LTChar

    return max((c.size for c in line if isinstance(c, LTChar) and c.get_text().strip()), default=0)


def split_heading_lines(layout: Any) -> None:
    """Give leading lines set larger than the rest of their text box a box of their own.

    pdfminer often groups a heading with the paragraph under it; once merged, unstructured
    cannot tell the heading apart.
    """
    from pdfminer.layout import LTTextBox, LTTextBoxHorizontal

    objs = []
    for item in layout:
        lines = list(item) if isinstance(item, LTTextBoxHorizontal) else []
        sizes = [_line_size(line) for line in lines]
        cut = next(
            (
                k
                for k in range(1, len(lines))
                if min(sizes[:k]) > _HEADING_SIZE_RATIO * max(sizes[k:])
            ),
            0,
        )
        if not cut:
            objs.append(item)
            continue
        for part in (lines[:cut], lines[cut:]):
            box = LTTextBoxHorizontal()
            for line in part:
                box.add(line)
            box.index = item.index if isinstance(item, LTTextBox) else -1
            objs.append(box)
    layout._objs = objs


@contextmanager
def layout_fixes(keep_hidden: bool) -> Iterator[list[bool]]:
    """While unstructured partitions a PDF, run `remove_hidden_chars` and `split_heading_lines`
    on each page layout; yields a list that gets, per page, whether hidden text was seen.

    When unstructured renames the wrapped function, the fixes are skipped (logged) and parsing
    still works.
    """
    from unstructured.partition import pdf as pdf_module

    original = getattr(pdf_module, "_pdfminer_page_elements", None)
    found: list[bool] = []
    if original is None:
        logger.warning("PDF layout fixes (hidden text) unavailable in this unstructured version")
        yield found
        return

    def filtered(page: Any, layout: Any, *args: Any, **kwargs: Any) -> Any:
        found.append(remove_hidden_chars(layout, remove=not keep_hidden))
        split_heading_lines(layout)
        return original(page, layout, *args, **kwargs)

    pdf_module._pdfminer_page_elements = filtered  # type: ignore[assignment]
    try:
        yield found
    finally:
        pdf_module._pdfminer_page_elements = original
