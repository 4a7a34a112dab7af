"""Tables in answers and source cards, free of Gradio.

A table chunk is stored as rows of cells (``G3 | Straightness of Z-axis motion | 0.010 mm``)
and the extractive answerer quotes one row as a sentence of ``header: cell`` pairs
(``Test: G3; Object: Straightness of Z-axis motion; Tolerance: 0.010 mm.``). Here the rows of a
source card become an HTML table with the quoted row marked, and consecutive quoted rows of
one table in an answer become a Markdown table again.
"""

from __future__ import annotations

import html
import re

_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")
# One quoted row: two or more `header: cell` pairs joined by "; ", its citation markers after.
_ROW_SENTENCE = re.compile(
    r"(?P<row>[^:;.\n\[\]]{1,40}: [^;\n\[\]]+?(?:; [^:;.\n\[\]]{1,40}: [^;\n\[\]]+?)+)\.?"
    r"[ \t]*(?P<marks>(?:\[\d{1,4}(?:\s*,\s*\d{1,4})*\])+)"
)


def is_table_line(line: str) -> bool:
    """A line of table cells: ``a | b | c``, with or without outer bars."""
    inner = line.strip().strip("|")
    return " | " in inner or (line.strip().startswith("|") and "|" in inner)


def cells(line: str) -> list[str]:
    """The cells of a Markdown table row."""
    return [c.strip() for c in line.strip().strip("|").split("|")]


def quoted_cells(quote: str) -> list[str]:
    """The cell values of a quoted row (``header: cell; header: cell``), [] for prose."""
    pairs = [p.partition(": ") for p in quote.strip().rstrip(".").split("; ")]
    if len(pairs) < 2 or any(not sep for _, sep, _ in pairs):
        return []
    return [value.strip() for _, _, value in pairs]


def table_html(rows: list[str], quote: str) -> str:
    """Markdown table rows as a safe HTML table; the row `quote` names is marked."""
    body = [r for r in rows if not _RULE.match(r.strip())]
    if not body:
        return ""
    head, *rest = body
    wanted = quoted_cells(quote)
    header = "".join(f"<th>{html.escape(c)}</th>" for c in cells(head))
    lines = [f'<table class="techkb-table"><thead><tr>{header}</tr></thead><tbody>']
    for row in rest:
        values = cells(row)
        quoted = bool(wanted) and [v.rstrip(".") for v in values] == wanted
        inner = "".join(
            f"<td><mark>{html.escape(v)}</mark></td>" if quoted else f"<td>{html.escape(v)}</td>"
            for v in values
        )
        mark = ' class="techkb-quoted"' if quoted else ""
        lines.append(f"<tr{mark}>{inner}</tr>")
    lines.append("</tbody></table>")
    return "".join(lines)


def split_tables(text: str) -> list[tuple[bool, str]]:
    """A chunk's text as (is_table, text) pieces, in order: a table is two or more lines of
    cells, as many in each; anything else is text."""
    lines = text.splitlines(keepends=True)
    pieces: list[tuple[bool, str]] = []
    i = 0
    while i < len(lines):
        j = i
        if is_table_line(lines[i]):
            width = len(cells(lines[i]))
            while j + 1 < len(lines) and (
                _RULE.match(lines[j + 1].strip())
                or (is_table_line(lines[j + 1]) and len(cells(lines[j + 1])) == width)
            ):
                j += 1
        table = j > i
        piece = "".join(lines[i : j + 1])
        if pieces and pieces[-1][0] == table and not table:
            pieces[-1] = (False, pieces[-1][1] + piece)
        else:
            pieces.append((table, piece))
        i = j + 1
    return pieces


def _escape_cell(value: str) -> str:
    return value.replace("|", "\\|").strip()


def answer_tables(answer: str) -> str:
    """Turn runs of two or more quoted rows with the same headers into a Markdown table; each
    row keeps its citation markers in a last column. Anything else stays as written."""
    out: list[str] = []
    run: list[tuple[list[str], list[str], str, str]] = []  # (headers, values, markers, as written)
    position = 0

    def flush() -> None:
        if len(run) >= 2:
            headers = run[0][0]
            table = ["| " + " | ".join(_escape_cell(h) for h in headers) + " |  |"]
            table.append("|" + " --- |" * (len(headers) + 1))
            for _, values, marks, _ in run:
                table.append("| " + " | ".join(_escape_cell(v) for v in values) + f" | {marks} |")
            out.append("\n\n" + "\n".join(table) + "\n\n")
        else:
            out.extend(written for *_, written in run)
        run.clear()

    for match in _ROW_SENTENCE.finditer(answer):
        between = answer[position : match.start()]
        pairs = [p.partition(": ") for p in match.group("row").split("; ")]
        headers = [h.strip() for h, _, _ in pairs]
        values = [v.strip() for _, _, v in pairs]
        if between.strip() or not run or run[0][0] != headers:
            flush()
            out.append(between)
        run.append((headers, values, match.group("marks"), match.group(0)))
        position = match.end()
    flush()
    out.append(answer[position:])
    return "".join(out).strip("\n") if out else answer
