"""Kinds of value a question asks for by name ("what torque", "base oil viscosity", "满分多少分"),
and whether a passage states a value of one: where no passage retrieved for the asker states one,
the question cannot be answered from them (`assistant.answer.scope.check_kinds`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answer.kinds import EVERY, UNIT_IN_HEADER, asks_quantity
from assistant.answer.structure import quantities

# A value given relative to a rating ("120 % of the rated motor torque", "额定转矩的 150 %",
# "2 倍"): it states a value of the kind named right after it (`states_value_of`).
_RELATIVE = re.compile(
    r"\d(?:[\d.,]*\d)?\s*(?:%|×|x|times)\s*(?:of\s+)?(?:the\s+)?(?:rated|nominal|max(?:imum)?)\b"
    r"|额定[^，。；;]{0,10}?\d(?:[\d.]*\d)?\s*[%倍]|\d(?:[\d.]*\d)?\s*倍",
    re.IGNORECASE,
)
_RATING_WORDS = 30  # characters after a relative value read for what it is a share of
_WHY = re.compile(r"^\W*why\b|为什么|为何", re.IGNORECASE)


@dataclass(frozen=True)
class ValueKind:
    """A kind of value a question can ask for by name, and what states one in a passage."""

    name: str
    name_zh: str
    asks: re.Pattern[str]
    families: frozenset[str] = frozenset()  # unit families of `structure.quantities`
    stated: re.Pattern[str] | None = None  # or what else states it

    def states(self, text: str) -> bool:
        if self.stated is not None and self.stated.search(text):
            return True
        if "interval" in self.families and EVERY.search(text):
            return True
        return any(
            q.family in self.families for q in quantities(UNIT_IN_HEADER.sub(r"\2 \1", text))
        )


def _kind(
    name: str, name_zh: str, asks: str, families: str = "", stated: str | None = None
) -> ValueKind:
    return ValueKind(
        name,
        name_zh,
        re.compile(asks, re.IGNORECASE),
        frozenset(families.split()),
        re.compile(stated, re.IGNORECASE) if stated else None,
    )


# The kinds of value whose absence from every passage retrieved refuses a question that asks for
# one: words that name a measure and nothing else (not "life", "accuracy" or "weight", which a
# question also uses of other things, nor lengths and masses, stated in too many ways).
VALUE_KINDS = (
    _kind(
        "torque",
        "扭矩",
        r"\btorque\b|扭矩|力矩|转矩",
        "torque",
        r"\b(?:lbf?[·.\s-]?ft|ft[·.\s-]?lbf?|in[·.\s-]?lbf?)\b",
    ),
    _kind(
        "pressure",
        "压力",
        r"\bpressure\b|压力",
        "pressure",
        r"\d\s?(?:h?Pa|atm|kgf/cm[²2]?|psig?)\b",
    ),
    _kind(
        "temperature",
        "温度",
        r"\b(?:temperature|how hot)\b|温度",
        "temperature",
        r"°\s?F|\d\s?degrees?\b|摄氏|华氏|\d\s?度",
    ),
    # How often: an interval, or a time ("every 30 minutes") or a recurrence in words.
    _kind(
        "interval",
        "周期",
        r"\b(?:interval|how often)\b|周期|(?:多久|多长时间)[^，。？?]{0,6}一次|每隔多久",
        "interval time",
        r"\bevery\s+(?:\d|other|second|third)|每\s*\d",
    ),
    _kind(
        "speed",
        "速度",
        r"\bspeed\b|速度|转速",
        "speed rotation",
        r"°\s?/\s?s|度/秒|deg/s|km/h|\bmph\b|\bfpm\b",
    ),
    _kind(
        "voltage",
        "电压",
        r"\bvoltage\b|电压",
        "voltage",
        r"\d\s?(?:kV|mV|volts?|VAC|VDC)\b",
    ),
    _kind(
        "concentration",
        "浓度",
        r"\bconcentration\b|浓度",
        "concentration",
        r"\d\s?(?:percent|per\s?cent)\b|百分之|°\s?Brix",
    ),
    _kind(
        "viscosity",
        "黏度",
        r"\bviscosit(?:y|ies)\b|粘度|黏度",
        stated=r"\d\s?(?:mm²/s|mm2/s|cst)\b",
    ),
    _kind(
        "electrical power",
        "功率",
        r"\bkva\b|\b(?:rated|motor|spindle|supply|input|connected) power\b"
        r"|\bpower (?:rating|supply|consumption)\b|功率",
        stated=r"\d\s?(?:kva|kw|w|watts?)\b|千瓦",
    ),
    _kind(
        "protection rating",
        "防护等级",
        r"\bIP (?:rating|class|code)\b|\bprotection (?:class|rating|degree)\b|防护等级|IP\s?等级",
        stated=r"\bIP\s?\d{2}\b|\bIPX\d",
    ),
    _kind(
        "marks",
        "分值",
        r"\bhow many (?:points|marks)\b|满分|多少分|几分|占.{0,3}分",
        stated=r"\d\s?(?:分(?!钟|之)|points?\b|marks?\b)",
    ),
)


def asked_value_kinds(question: str) -> list[ValueKind]:
    """The kinds of value (`VALUE_KINDS`) the question asks for by name: a quantity asked
    ("what torque", "多大扭矩", "how often") or a kind only a value answers ("viscosity",
    "kVA", "满分"); none for a question asking why."""
    if _WHY.search(question):
        return []
    named = [k for k in VALUE_KINDS if k.asks.search(question)]
    if not named or asks_quantity(question):
        return named
    return [k for k in named if not k.families]


def states_value_of(kind: ValueKind, text: str) -> bool:
    """Whether a passage states a value of `kind`, or one relative to a rating of it ("120 %
    of the rated motor torque" for a torque, not for a speed)."""
    if kind.states(text):
        return True
    return any(
        kind.asks.search(text[m.start() : m.end() + _RATING_WORDS])
        for m in _RELATIVE.finditer(text)
    )
