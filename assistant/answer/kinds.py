"""The kind of answer a question asks for, and the sentences that give it.

"How much", "what torque" ask for a quantity (of one unit family where the question names it),
"which model" for a designation, "why" for a cause and "how to fix" for a remedy. Each ask has
the cue of a sentence that answers it: a number with a unit, a code, a cause or fix phrase.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache

from assistant.answer.names import named_codes
from assistant.answer.structure import codes, quantities
from assistant.store.keyword import tokenize

# Words a quantity answers to: "what torque" is answered by a sentence giving N·m.
_QUANTITY_WORDS = {
    "torque": "torque 扭矩 力矩",
    "pressure": "pressure 压力",
    "temperature": "temperature 温度",
    "interval": "interval frequency timeout 周期 间隔",
    "volume": "quantity amount volume 用量",
    "mass": "quantity amount weight mass 用量",
    "time": "duration time timeout delay 时间 超时",
    "speed": "speed 速度",
    "rotation": "speed rotation 转速",
    "concentration": "content concentration 含量",
    "voltage": "voltage 电压",
}


# Sentences that state a cause or a fix, and the questions that ask for one.
CAUSE_CUE = re.compile(
    r"\b(root cause|caused|cause|because|due to|traced|turned out|was found|were found|"
    r"found that|origin|findings?)\b|原因|导致|由于|造成|引起|查明",
    re.IGNORECASE,
)
FIX_CUE = re.compile(
    r"\b(corrective|countermeasures?|recommend\w*|remed\w*|solutions?|resolv\w*|actions?|"
    r"asked to|fix|fixed|repaired)\b"
    r"|\b(?:was|were|has been|have been|is|are)\s+(?:\w+\s+)?(?:replaced|fixed|repaired|"
    r"adjusted|re-?tightened|changed|corrected|cleaned|reworked|renewed|modified|retrained)\b"
    r"|措施|建议|整改|纠正|对策|更换了|已更换|解决|修复|调整",
    re.IGNORECASE,
)
# A number with a unit: what "how much", "what torque", "how long" questions are answered by.
QUANTITY_CUE = re.compile(
    r"\d[\d,.]*\s*(?:ml|l|g|kg|t|mm|µm|um|m|n·m|nm|n|kn|mpa|bar|pa|°c|℃|h|hours?|min|minutes?|"
    r"s|sec|seconds?|days?|weeks?|months?|years?|%|rpm|min⁻¹|v|a|kw|hz|mm/s|shore|irhd|hrc|hb|°dh|"
    r"hv|千克|公斤|克|毫升|升|分钟|秒|小时|天|周|个月|毫米|微米|伏|牛\s?[·.]?\s?米|转/分)(?![a-z])",
    re.IGNORECASE,
)
_QUANTITY_ASK = re.compile(
    r"\b(how (much|many|long|often|far|hot|tight|soon)|what (?:[a-z]+ ){0,2}?(torque|pressure|"
    r"temperature|interval|quantity|amount|force|speed|voltage|current|value|limit|timeout|"
    r"time-out|duration|delay|deadline|hardness|"
    r"repeatability|accuracy|tolerance|clearance|backlash|runout|payload|reach|resistance|"
    r"capacity|diameter|length|thickness|weight|mass|flow|frequency|concentration|life))\b"
    r"|多少|多长|多久|多大|多高|多重|多快|几|精度|公差|间隙|跳动|负载|电阻|容量|直径|厚度|寿命|硬度",
    re.IGNORECASE,
)
# A question that names a quantity without "how much" or "what <quantity>" asks for it too
# ("What's the top speed in T1?", "Torque for the battery box cover screws", "Do ITSC and
# Huaxin agree on the encoder battery interval?"), unless it asks how, why, when or where.
# Only words that name a measure: backlash, run-out or accuracy are as often what a question
# discusses ("the model answer on separate backlash values").
_QUANTITY_NOUN = re.compile(
    r"\b(torque|pressure|temperature|interval|quantity|amount|speed|voltage|timeout|time-out|"
    r"duration|deadline|payload|resistance|capacity|diameter|thickness|weight|frequency|"
    r"concentration)\b",
    re.IGNORECASE,
)
_OTHER_ASK = re.compile(r"^\W*(how|why|when|where|who|whom|whose)\b", re.IGNORECASE)


def _quantity_asked(question: str) -> bool:
    return bool(_QUANTITY_ASK.search(question)) or (
        bool(_QUANTITY_NOUN.search(question)) and not _OTHER_ASK.search(question)
    )


_INTENTS = (
    (re.compile(r"\b(why|cause[ds]?|reason)\b|为什么|原因|为何", re.IGNORECASE), CAUSE_CUE),
    (
        re.compile(
            r"\b(fix|remed\w*|repair|solve|resolve|corrective|prevent)\b|解决|措施|处理",
            re.IGNORECASE,
        ),
        FIX_CUE,
    ),
)


@cache
def _family_tokens(family: str) -> frozenset[str]:
    return frozenset(tokenize(_QUANTITY_WORDS.get(family, "")))


def quantity_words(text: str) -> frozenset[str]:
    """The words a text's quantities answer to ("torque" for 18 N·m)."""
    out: frozenset[str] = frozenset()
    for q in quantities(text):
        out |= _family_tokens(q.family)
    return out


def asks_quantity(question: str) -> bool:
    """Whether the question asks for a quantity ("how much", "what torque", "多少")."""
    return _quantity_asked(question)


def intent_cues(question: str) -> list[re.Pattern[str]]:
    """The cues of sentences that give what the question asks for: a cause for "why", a fix
    for "how to fix" (none for other questions)."""
    return [cue for ask, cue in _INTENTS if ask.search(question)]


# Questions that ask for a model, type or part designation, or for an alarm (its code): each
# answered by a code ("Which alarm appears when the encoder battery is low?" by E-3065 BLAL).
_MODEL_ASK = re.compile(
    r"型号|牌号|什么报警|哪个报警|报警号|报警代码|批号|哪个批次|哪一批|哪个版本|哪些版本"
    r"|\b(?:which|what) (?:model|type|part number|designation|alarm|error code|alarm code|"
    r"fault code)\b"
    # "which oil seal lot", "which HXC-5 firmware versions": a lot, batch or version asked
    # is named by its code, after up to two words saying what of.
    r"|\bwhich (?:[\w-]+ ){0,2}?(?:lot|batch|serial number|versions?|firmware|kit)\b"
    r"|\b(?:model|part|type) (?:number|no\.?|designation)\b",
    re.IGNORECASE,
)


# Questions that ask how a value is worked out: answered by a formula ("S = K × T + C"), not by
# one worked result ("S = 1600 × 0.446 + 128 = 842 mm").
_FORMULA_ASK = re.compile(
    r"\bhow (?:do|does|can|should|would|to) (?:\w+ )?(?:work out|calculate|compute|convert)\b"
    r"|\bhow (?:is|are|was|were) [^?]{1,60}?(?:calculated|computed|worked out|derived)\b"
    r"|\b(?:formula|equation)\b|怎么计算|如何计算|怎样计算|怎么算|计算公式|公式",
    re.IGNORECASE,
)
# What follows an "=" up to the next one or the end of the clause, and the symbols in it that
# are neither units nor joining words: a formula's right side names at least one.
_RIGHT_SIDE = re.compile(r"=\s*([^=:;]+?)(?=\s*=|[:;]|,\s|\.\s|\.?$)")
_SYMBOL = re.compile(r"(?<![\w.,])[^\W\d_][\w]*")
_UNIT_WORDS = (
    "mm cm m km µm um nm s ms min h hz khz n kn mpa kpa pa bar kg g mg l ml v mv a ma w kw rpm "
    "k x °c c° per for and or the of with at to in on by from as is are"
)
_UNIT_SYMBOLS = frozenset(_UNIT_WORDS.split())
# A unit that is a product, after its number ("18 N·m"): no operator of a formula.
_UNIT_PRODUCT = re.compile(r"(?<=\d)\s?[A-Za-z]{1,3}·[A-Za-z]{1,3}\b")
# What a formula's right side applies: arithmetic, a bracket, a fraction bar.
_OPERATOR = re.compile(r"[×·*/÷+−()\[\]√^]|(?<=\s)-(?=\s)")


def asks_formula(question: str) -> bool:
    """Whether the question asks how a value is worked out ("How is BPFO calculated?")."""
    return bool(_FORMULA_ASK.search(question))


def states_formula(text: str) -> bool:
    """Whether a sentence gives a formula: an "=" whose right side applies an operator and
    names a symbol other than a unit ("F = p × A", "C = 8 × (d − 14)"), not only numbers
    ("BPFO = 10 × 100 × 0.881") nor a result the sentence goes on from ("= 44.0 Hz and BSF")."""
    for m in _RIGHT_SIDE.finditer(text):
        right = _UNIT_PRODUCT.sub(" ", m.group(1))
        if not _OPERATOR.search(right):
            continue
        found = (w.rstrip("²³¹⁰⁻") for w in _SYMBOL.findall(right))
        symbols = [w for w in found if w.lower() not in _UNIT_SYMBOLS]
        if symbols:
            return True
    return False


def answer_type(question: str, names: Sequence[str]) -> Callable[[str, str], bool] | None:
    """What a sentence (of a document with this title) must contain to answer the question:
    a formula, a quantity, a designation other than the asked one and the document's own, or
    None."""
    if _FORMULA_ASK.search(question):
        return lambda text, _title: states_formula(text)
    if _MODEL_ASK.search(question):
        asked = {n.lower() for n in names}

        def designates(text: str, title: str) -> bool:
            # Codes of the document itself and of its relatives (DH-IR-204 of DH-IR-204-L1)
            # name documents, not the designation asked for.
            known = asked | {c.lower() for c in named_codes(title)}

            def new(code: str) -> bool:
                code = code.lower()
                return not any(code.startswith(k) or k.startswith(code) for k in known)

            return any(new(c) for c in [*named_codes(text), *codes(text)])

        return designates
    if _quantity_asked(question):
        families = _asked_families(question)
        if families:  # "what repeatability": a length, not the payload's 20 kg

            def states(text: str, _title: str) -> bool:
                found = quantities(UNIT_IN_HEADER.sub(r"\2 \1", text))
                if any(q.family in families for q in found):
                    return True
                return "interval" in families and bool(EVERY.search(text))

            return states
        return lambda text, _title: bool(QUANTITY_CUE.search(text))
    return None


# An interval in words, without a number: "monthly", "every shift", "每班".
EVERY = re.compile(
    r"\b(?:hourly|daily|weekly|fortnightly|monthly|quarterly|yearly|annually|"
    r"(?:every|each|once an?|twice an?) (?:shift|day|week|month|quarter|year))\b"
    r"|每(?:班|天|日|周|月|季度?|年)",
    re.IGNORECASE,
)
# A table row restated with its header: "Tightening torque (N·m): 18" states 18 N·m.
UNIT_IN_HEADER = re.compile(r"\(([^()]{1,12})\):\s*(\d[\d,]*(?:\.\d+)?)")
# Words that ask for a quantity of one unit family (see `structure.quantities`).
_ASKED_FAMILY = (
    (re.compile(r"\btorque\b|扭矩|力矩", re.I), ("torque",)),
    (re.compile(r"\bpressure\b|压力", re.I), ("pressure",)),
    (re.compile(r"\b(temperature|how hot)\b|温度", re.I), ("temperature",)),
    # How often something recurs is answered by an interval ("every 12 months"), not by how
    # long a step may take ("within 3 minutes"); how long or how soon by either.
    (
        re.compile(
            r"\b(interval|how often)\b|周期|(?:多久|多长时间)[^，。？?]{0,6}一次|每隔多久", re.I
        ),
        ("interval",),
    ),
    (
        re.compile(
            r"\b(how soon|life|timeout|time-out|duration|delay|deadline)\b|寿命|超时|时限", re.I
        ),
        ("interval", "time"),
    ),
    (re.compile(r"\bspeed\b|速度|转速", re.I), ("speed", "rotation")),
    (re.compile(r"\bvoltage\b|电压", re.I), ("voltage",)),
    (re.compile(r"\bconcentration\b|浓度", re.I), ("concentration",)),
    (
        re.compile(
            r"\b(repeatability|accuracy|tolerance|clearance|backlash|runout|reach|diameter|"
            r"thickness|how far)\b|精度|公差|间隙|跳动|直径|厚度",
            re.I,
        ),
        ("length",),
    ),
    (re.compile(r"\b(payload|weight|mass)\b|负载|重量|质量", re.I), ("mass",)),
)


def _asked_families(question: str) -> frozenset[str]:
    """Unit families the question asks for by name; empty when it names none (any quantity)."""
    return frozenset(f for ask, families in _ASKED_FAMILY if ask.search(question) for f in families)


def asked_quantity_words(question: str) -> frozenset[str]:
    """The words (tokens) a quantity the question asks for by name answers to: a heading "2
    Interval" is named for "how often …", "Tightening torques" for "what torque …"."""
    return frozenset().union(*(_family_tokens(f) for f in _asked_families(question)))
