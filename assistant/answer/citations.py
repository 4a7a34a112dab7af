"""Citations as data: sentences, numbered sources, `[n]` markers parsed back and validated."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.types import Citation, Hit

# Closing quotes/brackets that stay with the sentence they end.
_CLOSERS = re.escape("\"'”’)]」』）")
_BOUNDARY = re.compile(
    rf"[。！？；]+[{_CLOSERS}]*"  # Chinese: always a boundary, spaces or not
    rf"|[.?!]+[{_CLOSERS}]*(?=\s|$)"  # English: only when followed by a space or the end
)
# Tokens after which a period does not end a sentence.
_ABBREVIATIONS = frozenset(
    {
        *("e.g", "i.e", "eg", "ie", "no", "nos", "nr", "fig", "figs", "approx", "vs", "cf"),
        *("ref", "refs", "sec", "art", "eq", "vol", "pp", "p", "dr", "mr", "mrs", "ms", "st"),
        *("incl", "ca", "resp", "tab", "ch", "para", "abb", "al"),
    }
)
# What a sentence consists of when its "." is only the number of a list item ("3.", "Step 4.").
_LIST_NUMBER_ONLY = re.compile(r"\s*(?:\d{1,3}|[a-zA-Z]|step\s+\d{1,3})", re.IGNORECASE)
_NUMBERED_START = re.compile(r"\d{1,3}[.)]\s")
_BULLET = re.compile(r"^\s*[-*•·▪◦]\s+")
# A list item's own mark at a line's start: a number ("3.", "2)", "（1）"), a letter ("a)") or a
# bullet ("- " is how chunk text marks an item without a number).
_ITEM_MARK = re.compile(r"\s*(?:\(?\d{1,3}[.)．、]|[（(]\d{1,3}[)）]|[a-z][.)]\s|[-*•·▪◦]\s)")
_RULE_LINE = re.compile(r"[\s|:+=_*#-]*")
_QUOTE_OPEN, _QUOTE_CLOSE = "<<<", ">>>"

_MARKER = re.compile(
    r"(?P<ws>[ \t]*)[\[【]\s*(?P<body>\d{1,4}(?:\s*(?:[,，、;；]|[-–])\s*\d{1,4})*)\s*[\]】]"
)
_MAX_RANGE = 20
# Markers right after a sentence's end belong to it: "… grease bath. [1] The next …".
_TRAILING_MARKERS = re.compile(rf"(?:{_MARKER.pattern})+")


def is_list_item(line: str) -> bool:
    """Whether a line starts with a list item's mark (numbered, lettered or bulleted)."""
    return bool(_ITEM_MARK.match(line))


def inert_markers(text: str) -> str:
    """Source text with its own bracketed numbers ("[99]", robot code "P[2]") made full-width.

    Quoted into an answer, a source's "[2]" would otherwise read as, and be validated as, one of
    the answer's citations.
    """
    return _MARKER.sub(lambda m: f"{m.group('ws')}［{m.group('body')}］", text)


def split_sentences(text: str) -> list[str]:
    """Split English and Chinese text into sentences, one line at most per sentence.

    Lines (list items, table rows, paragraphs) never run together. Within a line, Chinese
    `。！？；` always end a sentence; English `.?!` only when a space or the line end follows,
    and not after abbreviations ("e.g.", "No. 5"), list numbers ("3. Loosen the bolt"), or
    when the next word starts lower-case or with a digit ("M8. bolts", "max. 250 mm/s").
    Decimals ("0.02 mm") and clause numbers ("5.3.2") have no space after the dot.

    Args:
        text: any text; bullets ("- ") at line starts are dropped.

    Returns:
        The sentences, stripped, in order; empty and rule-only lines dropped.
    """
    out: list[str] = []
    for raw in text.splitlines():
        line = _BULLET.sub("", raw).strip()
        if not line or _RULE_LINE.fullmatch(line):
            continue
        out.extend(_split_line(line))
    return out


def _split_line(line: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(line):
        if match.start() < start:
            continue  # inside the markers taken by the sentence before
        if _ends_sentence(line, start, match):
            trailing = _TRAILING_MARKERS.match(line, match.end())
            end = trailing.end() if trailing else match.end()
            piece = line[start:end].strip()
            if piece:
                pieces.append(piece)
            start = end
    rest = line[start:].strip()
    if rest:
        pieces.append(rest)
    return pieces


def _ends_sentence(line: str, start: int, match: re.Match[str]) -> bool:
    punct = match.group(0)
    if punct[0] in "。！？；":
        return True
    after = line[match.end() :].lstrip()
    if not after:
        return True
    nxt = after[0]
    if nxt.islower():
        return False
    if not punct.startswith("."):
        return True
    before = line[start : match.start()]
    if _LIST_NUMBER_ONLY.fullmatch(before):
        return False
    last_word = before.rsplit(None, 1)[-1] if before.strip() else ""
    if last_word.lower().lstrip("(") in _ABBREVIATIONS:
        return False
    if nxt.isdigit():
        return bool(_NUMBERED_START.match(after))
    return True


def number_sources(hits: Sequence[Hit]) -> list[Hit]:
    """The hits as numbered for an answerer: `[n]` is `result[n - 1]`; repeated chunks dropped."""
    seen: set[str] = set()
    out: list[Hit] = []
    for hit in hits:
        if hit.chunk.chunk_id not in seen:
            seen.add(hit.chunk.chunk_id)
            out.append(hit)
    return out


def format_sources_for_prompt(hits: Sequence[Hit]) -> str:
    """Numbered source blocks for an LLM prompt, each text fenced as quoted data.

    Each block is ``[n] title — locator — contributor`` then ``<<<text>>>``. Fence markers
    inside a text are defused so a document cannot close its quote and speak as instructions.
    """
    blocks = []
    for n, hit in enumerate(number_sources(hits), start=1):
        c = hit.chunk
        head = " — ".join(part for part in (c.title, c.locator, c.contributor) if part)
        body = c.text.replace(_QUOTE_OPEN, "< < <").replace(_QUOTE_CLOSE, "> > >")
        blocks.append(f"[{n}] {head}\n{_QUOTE_OPEN}{body}{_QUOTE_CLOSE}")
    return "\n\n".join(blocks)


def _marker_numbers(body: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*[,，、;；]\s*", body):
        bounds = re.split(r"\s*[-–]\s*", part)
        if len(bounds) == 2:
            lo, hi = int(bounds[0]), int(bounds[1])
            if lo <= hi <= lo + _MAX_RANGE:
                numbers.extend(range(lo, hi + 1))
            else:
                numbers.extend((lo, hi))
        else:
            numbers.extend(int(b) for b in bounds)
    return numbers


def parse_citations(text: str) -> list[int]:
    """Citation numbers in order of first use: `[1]`, `[2, 3]`, `[2][3]`, `[2-4]`, `【1】`."""
    seen: list[int] = []
    for match in _MARKER.finditer(text):
        for n in _marker_numbers(match.group("body")):
            if n not in seen:
                seen.append(n)
    return seen


def validate_citations(text: str, hits: Sequence[Hit]) -> tuple[str, list[int]]:
    """Drop citation numbers that match no hit (1-based index into `hits`).

    Args:
        text: an answer with `[n]` markers.
        hits: the retrieved, visible hits the numbers refer to.

    Returns:
        The text with invalid numbers removed (a marker left empty disappears with the space
        before it) and the valid numbers used, in order of first use.
    """
    used: list[int] = []

    def fix(match: re.Match[str]) -> str:
        numbers = _marker_numbers(match.group("body"))
        valid = [n for n in numbers if 1 <= n <= len(hits)]
        for n in valid:
            if n not in used:
                used.append(n)
        if not valid:
            return ""
        if valid == numbers:
            return match.group(0)
        return f"{match.group('ws')}[{', '.join(str(n) for n in dict.fromkeys(valid))}]"

    cleaned = _MARKER.sub(fix, text)
    return cleaned, used


def build_citation(n: int, hit: Hit, quote: str) -> Citation:
    """The citation `[n]` of `hit`, quoting the sentence it supports."""
    c = hit.chunk
    return Citation(
        n=n,
        source=c.source,
        doc_id=c.doc_id,
        chunk_id=c.chunk_id,
        title=c.title,
        locator=c.locator,
        contributor=c.contributor,
        quote=quote,
    )
