"""Candidate sentences of the hits: each chunk cut into sentences, table rows restated with
their header, questions and exercise prompts left out, each sentence with where it sits (its
hit, its position and line in the chunk) and what it leans on or leads into."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.answer.citations import split_sentences
from assistant.answer.kinds import quantity_words
from assistant.answer.material import is_task_prompt, kept_from_students
from assistant.answer.structure import NUMBER, parse_step
from assistant.store.keyword import tokenize
from assistant.types import Hit

_CLAUSE_HEAD = re.compile(r"\d+(?:\.\d+)+\.?\s+\S")
_ENDINGS = (".", "!", "?", "。", "！", "？", "；", ":", "：")


@dataclass(frozen=True)
class Sentence:
    """A candidate sentence of a hit, with where it sits in the chunk."""

    text: str
    hit_index: int  # 0-based index into the hits
    position: int  # order of the sentence in its chunk
    line: int  # line of the chunk it is on
    tokens: frozenset[str]  # its words, plus what its quantities answer to ("torque" for N·m)
    words: frozenset[str]  # its words only: what redundancy is judged on
    is_step: bool
    lead_in: bool  # ends with a colon: introduces what follows
    asked: str = ""  # the question opening its paragraph, where it comes right after it
    row_key: str | None = None  # a table row's first cell (what it is about); None: no row


def _is_heading(text: str) -> bool:
    """A clause heading run into its text ("5.3.2 Reducer lubrication.")."""
    return bool(_CLAUSE_HEAD.match(text)) and len(text.split()) <= 6


_ROW_MARK = "\x00row:"  # then the row's first cell, _KEY_END and the row restated
_KEY_END = "\x00"
# Words a sentence needs to be read as the answer to the question opening its paragraph.
_ANSWER_WORDS = 5
_RULE = re.compile(r"^[\s|:\-]+$")


def table_rows_as_text(lines: Sequence[str]) -> list[str]:
    """Table rows (`a | b | c`) restated with their header, so that a row reads on its own.

    "J1 | RV-80 | 1,050 ml" under "Axis | Reducer | Quantity" becomes
    "Axis: J1; Reducer: RV-80; Quantity: 1,050 ml" (marked, so it is not split further).
    Lines that are not table rows pass through; the header row itself is dropped.
    """
    out: list[str] = []
    header: list[str] | None = None
    for line in lines:
        cells = [c.strip() for c in line.split(" | ")] if " | " in line else None
        if cells is None or len(cells) < 2:
            header = None
            out.append(line)
            continue
        if _RULE.match(line):
            continue
        if header is None or len(cells) != len(header):
            header = cells
            continue
        out.append(_ROW_MARK + cells[_first(header)] + _KEY_END + _row_prose(header, cells))
    return out


# A first column headed only "Item" or "Parameter" holds what its row is about, one headed "No."
# or "序号" a running number; a second headed "Value" holds nothing but the value.
_ROW_LABELS = frozenset(
    {"item", "items", "parameter", "property", "characteristic", "项目", "参数"}
)
_ROW_NUMBERS = frozenset({"no", "no.", "#", "序号", "编号"})
_VALUES = frozenset({"value", "values", "数值", "值"})


# A column's unit in its header, over a bare number or range: "Tightening torque (N·m): 145" of a
# row restated with its header is shown as "Tightening torque: 145 N·m" (`with_units`).
_HEADER_UNIT = re.compile(
    r"(^|; |\. )([^:;()（）]{1,60}?)\s*[(（]([^()（）]{1,12})[)）]: "
    r"([~≈±<>≤≥]?\s*\d(?:[\d.,]*\d)?(?:\s*(?:–|-|~|～|to|至)\s*\d(?:[\d.,]*\d)?)?)"
    r"(?=;|\.(?:\s|$)|$)"
)


def with_units(text: str) -> str:
    """A restated table row as a reader expects it: each header's unit after its value."""
    return _HEADER_UNIT.sub(lambda m: f"{m[1]}{m[2]}: {m[4]} {m[3]}", text)


def _first(header: Sequence[str]) -> int:
    """The column a row's key is in: the second where the first holds running numbers."""
    return int(len(header) > 2 and header[0].strip().lower() in _ROW_NUMBERS)


def _row_prose(header: Sequence[str], cells: Sequence[str]) -> str:
    """One table row as a sentence: "Consumption: about 0.35 litres per shift." under
    "Item | Value", "Drawbar force — Before: 16 kN; After: 18 kN." under "Item | Before |
    After", "Axis: J1; Reducer: RV-80; Quantity: 1,050 ml." under "Axis | Reducer | Quantity";
    a running number column is left out."""
    header, cells = header[_first(header) :], cells[_first(header) :]
    pairs = [(h, v) for h, v in zip(header, cells, strict=True) if v]
    labelled = header[0].strip().lower() in _ROW_LABELS and len(pairs) > 1
    if labelled and cells[0] and pairs[0][1] == cells[0]:
        rest = pairs[1:]
        if len(rest) == 1 and rest[0][0].strip().lower() in _VALUES:
            return _ended(f"{cells[0]}: {rest[0][1]}")
        return _ended(f"{cells[0]} — " + "; ".join(f"{h}: {v}" for h, v in rest))
    return _ended("; ".join(f"{h}: {v}" for h, v in pairs))


def _ended(text: str) -> str:
    return text if text.endswith((".", "。", "!", "?", "！", "？")) else text + "."


# Columns aligned with runs of spaces: console output ("NAME   STATUS   AGE"), not a sentence.
_ALIGNED = re.compile(r"\S {2,}\S+ {2,}\S+ {2,}\S")


# A sentence that leans on the one before it ("… covers CNY 265,000 of this amount.",
# "It is replaced …", "该值…"): quoted alone it does not say what it is about.
_REFERS_BACK = re.compile(
    r"^\s*(?:it|its|they|their|these|those|such|therefore|thus|hence)\b"
    r"|\b(?:this|these|those|such)\s+(?!is\b|was\b|are\b)[a-z]+"
    r"|^\s*(?:该|此|其|这些|这个|这种|上述|以上|它)",
    re.IGNORECASE,
)


def refers_back(text: str) -> bool:
    """True when the sentence needs the one before it to be understood."""
    return bool(_REFERS_BACK.search(text))


def collect_sentences(hits: Sequence[Hit], min_tokens: int = 3) -> list[Sentence]:
    """Candidate sentences of all hits; repeats of a sentence seen in a better hit dropped."""
    seen: set[str] = set()
    out: list[Sentence] = []
    for i, hit in enumerate(hits):
        position = 0
        instructor = kept_from_students(hit.chunk)
        for line_no, line in enumerate(table_rows_as_text(hit.chunk.text.splitlines())):
            opening = ""  # the paragraph's first sentence, where it asks
            row_key = None
            if line.startswith(_ROW_MARK):
                row_key, line = line.removeprefix(_ROW_MARK).split(_KEY_END, 1)
            pieces = [line] if row_key is not None else split_sentences(line)
            for k, text in enumerate(pieces):
                key = re.sub(r"\W+", "", text.lower())
                words = frozenset(tokenize(text))
                tokens = words | quantity_words(text)
                ended = text.rstrip().endswith(_ENDINGS)
                short = len(tokens) < min_tokens and not (ended and len(tokens) >= 2)
                # A sentence that asks (an exercise prompt, 思考题, a forum question) states
                # no fact: it is never quoted as one.
                asks = text.rstrip(" )）\"”'").endswith(("?", "？")) or is_task_prompt(
                    text, hit.chunk.section, instructor
                )
                position += 1  # counted when skipped too: neighbours are real neighbours
                if k == 0 and text.rstrip(" )）\"”'").endswith(("?", "？")):
                    opening = text.strip()
                if key in seen or short or asks or text.count(" | ") >= 2 or _ALIGNED.search(text):
                    continue
                seen.add(key)
                out.append(
                    Sentence(
                        text=text,
                        hit_index=i,
                        position=position,
                        line=line_no,
                        tokens=tokens,
                        words=words,
                        is_step=parse_step(text) is not None,
                        lead_in=text.rstrip().endswith((":", "：")) or _is_heading(text),
                        # A FAQ's or a why-chain's answer says something ("Well, I have a
                        # couple." after a forum post's question does not).
                        asked=opening if k == 1 and len(words) >= _ANSWER_WORDS else "",
                        row_key=row_key,
                    )
                )
    return out


# A worked step: a calculation ending in its result ("Counts per joint degree = 1,048,576 × 121
# / 360 = 352,438 counts per degree.").
_WORKED = re.compile(r"=[^=]*\d[^=]*$")
_NUMBER = re.compile(NUMBER)  # as the sources write one: "1,048,576", "0.15"


def works_out(s: Sentence, nxt: Sentence | None) -> bool:
    """Whether `nxt`, the sentence after `s` in its chunk, works out a value from what `s`
    states: a worked example's givens ("a 20-bit encoder … and the reducer ratio is 121:1")
    read as about the question better than the step that computes what it asks, which must
    follow them."""
    if nxt is None or not _WORKED.search(nxt.text.rstrip(". ")):
        return False
    return bool(set(_NUMBER.findall(s.text)) & set(_NUMBER.findall(nxt.text.split("=")[1])))
