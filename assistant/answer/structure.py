"""What structured modes read out of chunk text: numbered steps, cautions, quantities, codes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.answer.citations import inert_markers
from assistant.answer.material import is_task_prompt
from assistant.types import Hit

_ZH_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_STEP = re.compile(
    r"^\s*(?:"
    r"(?P<a>\d{1,2})\s*[.)．、](?![\d.])\s*"  # 1.  2)  1．  1、  (not 5.3 or 0.15)
    r"|step\s*(?P<b>\d{1,2})\s*[:.．：)–-]?\s*"  # Step 3:
    r"|第\s*(?P<c>\d{1,2}|[一二三四五六七八九十]{1,3})\s*步\s*[：:，,、.．]?\s*"  # 第3步
    r"|[（(](?P<d>\d{1,2})[)）]\s*"  # （1）
    r")(?P<text>\S.*)$",
    re.IGNORECASE,
)
_CAUTION = re.compile(
    r"^\s*(?:\*\*)?\s*(?P<kw>WARNING|CAUTION|DANGER|NOTICE|NOTE|警告|注意|危险)"
    r"\s*(?:\*\*)?\s*(?:[:：!！—–-]|\s(?=[A-Z]))",
    re.IGNORECASE,
)

# Unit families: a quantity is only compared with, or swapped for, one of the same family.
_UNITS: tuple[tuple[str, str], ...] = (
    ("speed", r"mm/s|m/s\b|m/min"),
    ("rotation", r"r/min|rpm|min\s?[-−]\s?1|min⁻¹|转/分"),
    ("torque", r"N\s?[·.⋅•-]?\s?m\b|Nm\b|kgf\s?[·.]?\s?cm|牛[·.]?米"),
    ("pressure", r"MPa|kPa|bar\b|psi\b"),
    ("temperature", r"°\s?C|℃"),
    ("concentration", r"ppm|mg/kg|wt\s?%|%"),
    (
        "interval",
        r"operating\s+hours|hours?\b|h\b|(?:运行)?小时|months?\b|个月|years?\b|weeks?\b|days?\b"
        r"|年(?!\s*\d{1,2}\s*月)|周|天",
    ),
    ("volume", r"ml\b|mL\b|litres?\b|liters?\b|L\b|毫升|升"),
    ("mass", r"kg\b|g\b|千克|克"),
    ("length", r"mm\b|µm|μm|毫米|微米"),
    ("time", r"minutes?\b|min\b|seconds?\b|s\b|分钟|秒"),
    ("voltage", r"V\b|伏"),
    ("resistance", r"[MkG]?Ω|[MkG]\s?[Oo]hms?\b|(?:[Mm]ega|[Kk]ilo)?[Oo]hms?\b|兆欧|欧姆?"),
)
# A number as written in the sources: "1,500", "0.15", "12000".
NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_QUANTITY = re.compile(
    rf"(?<![A-Za-z0-9_.,])(?P<value>{NUMBER})(?:\s*(?:–|-|~|～|〜|to|至)\s*(?P<upper>{NUMBER}))?\s*"
    rf"(?P<unit>{'|'.join(f'(?P<{name}>{pattern})' for name, pattern in _UNITS)})"
)
# Codes and part numbers: letters and digits joined by hyphens (SRVO-062, HXG-RV0, HX-MP-201)
# or letters then digits (ALM1021, E7).
_CODE = re.compile(
    r"(?<![A-Za-z0-9_-])(?=[A-Z0-9-]*\d)[A-Z][A-Z0-9]*(?:[-/][A-Z0-9]+)+(?![A-Za-z0-9_-])"
    r"|(?<![A-Za-z0-9_-])[A-Z]{2,}\d{2,}(?![A-Za-z0-9_-])"
)


@dataclass(frozen=True)
class Step:
    """One numbered step of a procedure, with the cautions that stand before it."""

    number: int
    text: str  # without its number
    line: str  # the line as in the source, the quote of its citation
    hit_index: int  # 0-based index into the hits it came from
    cautions: tuple[tuple[str, int], ...] = ()  # (caution text, hit index)
    section: str = ""  # the section of the chunk it is in


@dataclass(frozen=True)
class Quantity:
    """A number with its unit found in a sentence."""

    text: str  # as written, e.g. "8 N·m" or "30–40 °C"
    value: float
    upper: float | None  # the top of a range ("30–40 °C" → 40), else None
    family: str
    start: int
    end: int


def parse_step(line: str) -> tuple[int, str] | None:
    """(number, text) when the line is a numbered step, else None."""
    m = _STEP.match(line)
    if not m:
        return None
    raw = m.group("a") or m.group("b") or m.group("c") or m.group("d")
    return _number(raw), m.group("text").strip()


def _number(raw: str) -> int:
    if raw.isdigit():
        return int(raw)
    if raw == "十":
        return 10
    if raw.startswith("十"):
        return 10 + _ZH_DIGITS.get(raw[1:], 0)
    if "十" in raw:
        tens, _, ones = raw.partition("十")
        return _ZH_DIGITS.get(tens, 1) * 10 + _ZH_DIGITS.get(ones, 0)
    return _ZH_DIGITS.get(raw, 0)


def is_caution(line: str) -> bool:
    """A WARNING / CAUTION / DANGER / NOTE paragraph (or 警告 / 注意 / 危险), bold or not."""
    return bool(_CAUTION.match(line))


def clean_caution(line: str) -> str:
    """The caution without bold markup: "**WARNING:** Lock out" → "WARNING: Lock out"."""
    return re.sub(r"\*\*", "", line).strip()


# Numbered lists that are not steps: aims, scope, references (a lab sheet's "一、实验目的").
_NOT_STEPS = re.compile(
    r"\b(purpose|objectives?|aims?|scope|goals?|references?|contents|learning outcomes)\b"
    r"|目的|目标|范围|参考",
    re.IGNORECASE,
)


def extract_steps(hits: Sequence[Hit], indices: Sequence[int]) -> tuple[list[Step], list[str]]:
    """Numbered steps of the given hits (indices into `hits`), read in chunk order.

    Cautions are attached to the step that follows them. A list that restarts at 1 in the same
    section with only cautions in between is read as the same list continued (a caution between
    steps 4 and 5 can make a converter number step 5 "1."), so steps keep counting.

    Returns:
        The steps in document order, and the cautions no step follows, rendered "text [n]".
    """
    ordered = sorted(indices, key=lambda i: (hits[i].chunk.chunk_index, i))
    steps: list[Step] = []
    pending: list[tuple[str, int]] = []
    seen_lines: set[str] = set()
    offset = 0
    last_raw = 0
    interrupted = False  # a line that is neither step nor caution since the last step
    for i in ordered:
        section = hits[i].chunk.section
        aims = _NOT_STEPS.search(section) is not None
        for raw in hits[i].chunk.text.splitlines():
            line = raw.strip().removeprefix("- ")  # an unnumbered list item's mark
            if not line or line in seen_lines:
                continue
            seen_lines.add(line)
            if is_caution(line):
                pending.append((clean_caution(line), i))
                continue
            # A lab sheet's objectives and review questions are numbered too: no steps.
            parsed = None if aims or is_task_prompt(line, section) else parse_step(line)
            if parsed is None:
                interrupted = True
                continue
            number, text = parsed
            previous = steps[-1] if steps else None
            if previous is None or previous.section != section:
                offset = 0
            elif number <= last_raw:
                offset = 0 if interrupted else previous.number
            last_raw, interrupted = number, False
            steps.append(Step(number + offset, text, line, i, tuple(pending), section))
            pending = []
    return steps, [f"{inert_markers(text)} [{i + 1}]" for text, i in pending]


def quantities(sentence: str) -> list[Quantity]:
    """Numbers with units in a sentence, each with its unit family."""
    out: list[Quantity] = []
    for m in _QUANTITY.finditer(sentence):
        family = next((name for name, _ in _UNITS if m.group(name)), "")
        value = float(m.group("value").replace(",", ""))
        if m.group("unit") == "年" and 1000 <= value < 3000:  # a date ("2023 年"), no interval
            continue
        upper = float(m.group("upper").replace(",", "")) if m.group("upper") else None
        out.append(Quantity(m.group(0).strip(), value, upper, family, m.start(), m.end()))
    return out


def codes(sentence: str) -> list[str]:
    """Alarm codes, part and document numbers in a sentence (SRVO-062, HXG-RV0, ALM1021)."""
    return [m.group(0) for m in _CODE.finditer(sentence)]


def code_shape(code: str) -> str:
    """The family a code belongs to: its leading letters ("SRVO-062" → "SRVO")."""
    m = re.match(r"[A-Z]+", code)
    return m.group(0) if m else ""


def normal_quantity(text: str) -> str:
    """A quantity's text compared loosely: no spaces, one kind of dash and middle dot."""
    compact = re.sub(r"\s+", "", text).replace("–", "-").replace("⋅", "·").lower()
    return re.sub(r"n[.•-]?m$", "n·m", compact)


def answer_choices(sentence: str, others: Sequence[str]) -> list[tuple[str, list[str]]]:
    """(right answer, distractors) pairs for a sentence: its quantities first, then its codes.

    Distractors are values of the same unit family (or codes of the same shape) found in the
    other sentences; when fewer than two exist, the value doubled, halved and × 1.5 fill in.
    """
    out: list[tuple[str, list[str]]] = []
    for q in quantities(sentence):
        wrong: list[str] = []
        seen = {normal_quantity(q.text)}
        for other in others:
            for oq in quantities(other):
                key = normal_quantity(oq.text)
                same = (oq.value, oq.upper) == (q.value, q.upper)
                if oq.family == q.family and key not in seen and not same:
                    seen.add(key)
                    wrong.append(oq.text)
        out.append((q.text, wrong if len(wrong) >= 2 else wrong + _variants(q, seen)))
    for code in codes(sentence):
        shape = code_shape(code)
        pool = {c for o in others for c in codes(o) if code_shape(c) == shape and c != code}
        out.append((code, sorted(pool)))
    return out


def _variants(q: Quantity, seen: set[str]) -> list[str]:
    """Wrong values of the same unit when the hits hold too few: doubled, halved, × 1.5."""
    number = re.match(r"[\d.,]+", q.text)
    if number is None or q.upper is not None:
        return []
    unit = q.text[number.end() :]
    out = []
    for factor in (2.0, 0.5, 1.5):
        value = q.value * factor
        text = f"{value:g}{unit}" if value < 1000 else f"{value:,.0f}{unit}"
        if normal_quantity(text) not in seen:
            seen.add(normal_quantity(text))
            out.append(text)
    return out
