"""Whether a sentence's range or limit holds the value a question states.

"The grease sample has 1,500 mg/kg iron. Is that normal?" is answered by the row whose range
holds 1,500 mg/kg (1,000–3,000 mg/kg: halve the sampling interval), not by the row "below
1,000 mg/kg: normal", which shares as many words. A technician who reads the second is told a
worn reducer is fine. Ranges ("1,000–3,000 mg/kg", "1000～3000 mg/kg") and one-sided limits
("below 1,000 mg/kg", "高于 3000 mg/kg", "≤ 0.2 mm") are compared with the question's value
of the same unit family (`assistant.answer.structure.quantities`).
"""

from __future__ import annotations

import re

from assistant.answer.structure import NUMBER, Quantity, quantities

# A limit word just before a quantity ("below 1,000 mg/kg", "高于 3000") or just after it
# ("1.0 mm/s or less", "1000 mg/kg 以下"): the side of it that the sentence is about.
_BELOW = re.compile(
    r"(?<![A-Za-z])(?:below|under|less than|lower than|smaller than|up to|not more than"
    r"|no more than|(?:not|never) exceed(?:ing)?|at most"
    r"|maximum|max\.?|≤|<|低于|小于|不大于|不超过|不高于|最多|最大)\s*$",
    re.IGNORECASE,
)
_ABOVE = re.compile(
    r"(?<![A-Za-z])(?:above|over|more than|higher than|greater than|larger than|exceeds?|exceeding"
    r"|at least"
    r"|minimum|min\.?|≥|>|高于|大于|超过|不小于|不低于|至少|最少)\s*$",
    re.IGNORECASE,
)
# (A short qualifier may stand between: "1.0 mm/s RMS or less".)
_BELOW_AFTER = re.compile(
    r"^\s*(?:(?:[A-Za-z]{1,5}\s+)?or (?:less|lower|below|fewer)\b|以下|以内|及以下|或以下)", re.I
)
_ABOVE_AFTER = re.compile(
    r"^\s*(?:(?:[A-Za-z]{1,5}\s+)?or (?:more|higher|above|greater)\b|以上|及以上|或以上)", re.I
)
# "between 1000 and 2000 mm": the lower end before "and", the quantity the upper one.
_BETWEEN = re.compile(rf"between\s+({NUMBER})\s*(?:[^\s\d]{{1,6}}\s+)?and\s*$", re.IGNORECASE)
_LOOK_BACK = 32  # characters before (and after) a quantity read for its limit word


def stated_values(question: str) -> list[Quantity]:
    """The single values (not ranges) with units that the question states."""
    return [q for q in quantities(question) if q.upper is None]


def _holds(sentence: str, q: Quantity, value: float) -> bool | None:
    """Whether the range or limit `q` of `sentence` holds `value` (None: `q` is neither)."""
    if q.upper is not None:
        return q.value <= value <= q.upper
    before = sentence[max(0, q.start - _LOOK_BACK) : q.start]
    between = _BETWEEN.search(before)
    if between:
        return float(between.group(1).replace(",", "")) <= value <= q.value
    after = sentence[q.end : q.end + _LOOK_BACK]
    if _BELOW.search(before) or _BELOW_AFTER.search(after):
        return value <= q.value
    if _ABOVE.search(before) or _ABOVE_AFTER.search(after):
        return value >= q.value
    return None


def holds_value(stated: list[Quantity], sentence: str) -> bool | None:
    """True when a range or limit of `sentence` holds one of the `stated` values (of the same
    unit family), False when it has such ranges or limits and none holds one, None when
    nothing is stated or the sentence has no range or limit of a stated value's family."""
    if not stated:
        return None
    verdicts = [
        held
        for q in quantities(sentence)
        for v in stated
        if q.family == v.family and (held := _holds(sentence, q, v.value)) is not None
    ]
    return any(verdicts) if verdicts else None
