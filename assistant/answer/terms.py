"""What a question is about: its content terms and their weights, and how much of them a text has.

Coverage is the share of the question's (IDF-weighted) content terms that a text contains:
0 when it shares none of them, 1 when it has all. It is what tells an answerable question from
one the knowledge base says nothing about, whatever the retriever's score scale. Chinese terms
are matched across languages through CC-CEDICT glosses (`translated_alternatives`,
`glossed_tokens`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from functools import lru_cache

from assistant.language import CJK
from assistant.store.keyword import camel_parts, tokenize
from assistant.translate import translate_word
from assistant.types import Turn

# Words of how a question is asked, not of what it is about: absent from sources by nature.
_FILLER_EN = (
    "tell me about explain describe please much many need needs use used using know want give "
    "list show find correct right proper way ways my we our us i me any exactly kind type often "
    "long whether would could might must make create generate write exercise exercises quiz "
    "question questions student students class teacher teachers step steps procedure "
    "procedures instruction instructions help also again there get got one ones maximum "
    "minimum allowed permitted recommended specified value values go goes going went put does "
    "apply applies soon "
    "s"
)
_FILLER_ZH = (
    "什么 怎么 怎样 如何 多少 哪些 哪个 哪里 为什么 是否 请问 请 告诉 我 我们 应该 需要 "
    "可以 一下 吗 呢 吧 的 了 是 在 和 与 及 时 要 有 个 这 那 哪 么 几 多 少 会 能 对 把 "
    "被 从 到 用 为 中 呀 啊 一个 进行 时候 练习 习题 题目 学生 编写 生成 制作 步骤 规程 "
    "流程 操作 说明 关于 还 也 最大 最小 允许 规定 数值 做 怎么做 "
    "一般 通常 往往 常常 大概 大约"
)
# Weights of the last user turns before the question, most recent first.
HISTORY_WEIGHTS = (0.5, 0.25)

_IDENTIFIER = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)+")


@lru_cache(maxsize=1)
def _filler() -> frozenset[str]:
    """Chinese asking words as tokens (English ones are removed as written: `_FILLER_EN_WORD`)."""
    return frozenset(t for w in _FILLER_ZH.split() for t in tokenize(w))


# English asking words as written: "permitted" is filler, "permit" (a hot work permit) is not.
_FILLER_EN_WORD = re.compile(
    r"(?<![\w-])(?:"
    + "|".join(sorted(map(re.escape, _FILLER_EN.split()), key=len, reverse=True))
    + r")(?![\w-])",
    re.IGNORECASE,
)


def is_chinese(text: str) -> bool:
    """True when the text is mostly Chinese (CJK characters outnumber Latin words)."""
    cjk = len(CJK.findall(text))
    latin = len(re.findall(r"[A-Za-z]{2,}", text))
    return cjk > 0 and cjk >= latin


def content_tokens(text: str) -> list[str]:
    """`tokenize` without the words of asking ("tell me", "how much", "请问")."""
    filler = _filler()
    return [t for t in tokenize(_FILLER_EN_WORD.sub(" ", text)) if t not in filler]


# "How does slow start work?": the closing verb asks how, it is not what the question is about.
_HOW_IT_WORKS = re.compile(
    r"^(\s*how\s+(?:do|does|did|can|will|would|should)\s.+?)\s+(?:work|works|function|operate)"
    r"\s*[?？]*\s*$",
    re.IGNORECASE,
)


def _term_weights(text: str, weight: float) -> dict[str, float]:
    """Content terms of a text; bare numbers and the parts of an identifier count less.

    "HX-R20" yields `hx-r20`, `hx` and `r20`: the whole carries the weight, the parts 0.3 of
    it, so one identifier does not count three times (CamelCase names alike). A bare number
    ("2022") is weak evidence.
    """
    text = _HOW_IT_WORKS.sub(r"\1", text)
    parts: set[str] = set()
    for ident in _IDENTIFIER.findall(text.lower()):
        for piece in re.split(r"[._-]", ident):
            parts.update(tokenize(piece))
    for word in re.findall(r"[A-Za-z0-9]+", text):  # "KubePodCrashLooping": kube, pod, ...
        for piece in camel_parts(word):
            parts.update(tokenize(piece))
    out: dict[str, float] = {}
    for term in content_tokens(text):
        factor = 0.3 if term in parts else 0.5 if term.isdigit() else 1.0
        out[term] = max(out.get(term, 0.0), weight * factor)
    return out


def query_terms(question: str, history: Sequence[Turn] = ()) -> dict[str, float]:
    """Content terms of the question (weight 1) and of the last user turns (weighted less)."""
    weights = _term_weights(question, 1.0)
    earlier = [t.content for t in history if t.role == "user" and t.content.strip()]
    if earlier and earlier[-1].strip() == question.strip():
        earlier = earlier[:-1]  # the history may already hold the question itself
    for weight, text in zip(HISTORY_WEIGHTS, reversed(earlier), strict=False):
        for term, w in _term_weights(text, weight).items():
            weights[term] = max(weights.get(term, 0.0), w)
    return weights


# Share of a Chinese term's weight that an English sentence earns by containing a translation
# of it (dictionary glosses are ambiguous: a match is weaker evidence than the term itself).
TRANSLATED_TERM_WEIGHT = 0.5
# Translation is tried only below this evidence (the answerer's default refusal threshold).
TRANSLATE_BELOW = 0.35


def translated_alternatives(terms: Iterable[str]) -> dict[str, frozenset[str]]:
    """English tokens (stemmed, as `tokenize` makes them) that translate each Chinese term.

    Identifiers and English terms get none: they match across languages as they are.
    """
    out: dict[str, frozenset[str]] = {}
    for term in terms:
        if CJK.search(term):
            english = frozenset(tokenize(" ".join(translate_word(term))))
            if english:
                out[term] = english
    return out


@lru_cache(maxsize=65536)
def _gloss_tokens(word: str) -> frozenset[str]:
    return frozenset(tokenize(" ".join(translate_word(word))))


def glossed_tokens(tokens: Iterable[str]) -> frozenset[str]:
    """English tokens that translate the Chinese tokens of a text (CC-CEDICT glosses).

    The other direction of `translated_alternatives`: an English question's terms are looked
    for among a Chinese sentence's glosses.
    """
    out: set[str] = set()
    for token in tokens:
        if CJK.search(token):
            out |= _gloss_tokens(token)
    return frozenset(out)


def idf_weights(terms: Iterable[str], docs: Sequence[set[str]]) -> dict[str, float]:
    """BM25 IDF of each term over `docs`; a term in no doc counts as found in one (rare)."""
    n = len(docs)
    out: dict[str, float] = {}
    for term in terms:
        df = max(1, sum(1 for d in docs if term in d))
        out[term] = math.log(1.0 + (n - df + 0.5) / (df + 0.5)) if n else 1.0
    return out


def coverage(
    terms: dict[str, float],
    idf: dict[str, float],
    tokens: AbstractSet[str],
    alternatives: Mapping[str, frozenset[str]] | None = None,
    alternative_weight: float = TRANSLATED_TERM_WEIGHT,
    glossed: frozenset[str] = frozenset(),
) -> float:
    """IDF- and weight-weighted share of `terms` found in `tokens`, in [0, 1].

    A term absent from `tokens` whose `alternatives` (its translations) are there, or that is
    among the `glossed` translations of the text, counts `alternative_weight` of itself.
    """
    total = sum(w * idf.get(t, 1.0) for t, w in terms.items())
    if total <= 0:
        return 0.0
    found = 0.0
    for t, w in terms.items():
        if t in tokens:
            found += w * idf.get(t, 1.0)
        elif t in glossed or (
            alternatives and not alternatives.get(t, frozenset()).isdisjoint(tokens)
        ):
            found += alternative_weight * w * idf.get(t, 1.0)
    return found / total


# Where a question asks a second thing: "How is BPFO calculated, and what value did ...?",
# "When does the alarm come up? How long do I have?", "实验要转多久？J2 轴在什么范围内动？".
_SECOND_QUESTION = re.compile(
    r"[?？；;]\s*(?=\S)|,?\s+and\s+(?=(?:(?:at|in|for|to|with|by|on|from|under)\s+)?"
    r"(?:how|what|when|where|which|who|why|is|are|was|were|"
    r"does|do|did|can|could|should|may|must|will|would)\b)",
    re.IGNORECASE,
)
# A part shorter than this is not a question of its own ("…, and why?").
_PART_WORDS = 3
_PART_CJK = 4


# A question that compares two things asks about each: "How accurate is fixture mastering
# compared to lining up the witness marks?", "…what limit should I teach, ITSC's or Meridian's?".
_COMPARED = re.compile(
    r"^(?P<head>.*\b(?:is|are|was|were)\s+)(?P<a>[^,?]+?)\s+"
    r"(?:compared (?:to|with)|versus|vs\.?)\s+(?P<b>[^,?]+?)\s*\??$",
    re.IGNORECASE,
)
_EITHER = re.compile(
    r"^(?P<head>[^?]*?),\s*(?P<a>[^,?]{1,40}?)\s+or\s+(?P<b>[^,?]{1,40}?)\s*\??$",
    re.IGNORECASE,
)

# "What is the difference between A and B?", "How does A differ from B?": what each one is.
_DIFFERENCE = re.compile(
    r"^(?:what(?:'s|\s+is|\s+are)\s+)?(?:the\s+)?(?:main\s+)?differences?\s+between\s+"
    r"(?P<a>[^,?]+?)\s+and\s+(?P<b>[^,?]+?)\s*\??$"
    r"|^how\s+(?:does|do|is|are)\s+(?P<a2>[^,?]+?)\s+differ(?:ent)?\s+from\s+(?P<b2>[^,?]+?)\s*\??$",
    re.IGNORECASE,
)

_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_NAMED = re.compile(r"^[A-Za-z][A-Za-z0-9]")

# Each alternative of `_EITHER` names a thing (at most four words, not a clause of its own:
# "…, is B the average of them or the biggest one?" asks which one holds, not about each).
_NAMES_A_THING = re.compile(
    r"^(?!(?:is|are|was|were|do|does|did|can|should|will|would|it|they|the)\b)"
    r"\S+(?:\s+\S+){0,3}$",
    re.IGNORECASE,
)


def _stands_alone(part: str) -> bool:
    """Whether a part is long enough to be a question of its own."""
    return len(re.findall(r"[A-Za-z0-9]+", part)) >= _PART_WORDS or len(CJK.findall(part)) >= (
        _PART_CJK
    )


def _compared_parts(question: str) -> list[str]:
    """The two questions a comparison asks, the second with the other thing compared."""
    m = _COMPARED.match(question)
    if m is not None:
        return [f"{m['head']}{m['a']}?", f"{m['head']}{m['b']}?"]
    m = _DIFFERENCE.match(question)
    if m is not None:
        a, b = (m["a"], m["b"]) if m["a"] else (m["a2"], m["b2"])
        if " " not in a and " " in b:  # "RV and harmonic reducers": both are reducers
            a = f"{a} {b.rsplit(' ', 1)[1]}"
        # Each side names a thing ("the 2016 and 2021 editions" compares editions, which
        # `editions` sets side by side).
        if all(_NAMED.search(_ARTICLE.sub("", side)) for side in (a, b)):
            return [f"What is {a}?", f"What is {b}?"]
    m = _EITHER.match(question)
    if (
        m is not None
        and _stands_alone(m["head"])
        and all(_NAMES_A_THING.match(m[side]) for side in ("a", "b"))
    ):
        return [f"{m['head']}, {m['a']}?", f"{m['head']}, {m['b']}?"]
    return []


# "What is X?", the part of a difference asked about one side (`_compared_parts`).
_WHAT_IS = re.compile(r"^What is (?P<term>.+)\?$")
# A definition names its term within its first words, then says what it is: "3.3 reversal
# value of an axis, B: …", "Outer race defect: BPFO = …", "T1 (manual reduced speed): …",
# "A relief valve is …". Clause numbers before it are skipped.
_DEFINES_WITHIN = 8
_CLAUSE_NUMBER = re.compile(r"^\s*\d+(?:\.\d+)*\s+")
_DEFINING = re.compile(r":|=|\b(?:is|are|means|refers to)\b", re.IGNORECASE)
# What qualifies the term after it names no other thing: "reversal value of an axis, B".
_QUALIFIER = re.compile(r",|\(|\bof\b", re.IGNORECASE)


def defines(sentence: str, part: str) -> bool:
    """Whether `sentence` defines what the part "What is X?" asks about: within its first
    words, before a colon, "=", "is" or "means", it names X (with what qualifies it after)."""
    m = _WHAT_IS.match(part.strip())
    if m is None:
        return False
    term = set(content_tokens(m["term"]))
    head = _CLAUSE_NUMBER.sub("", sentence)
    marker = _DEFINING.search(head)
    if not term or marker is None:
        return False
    named = _QUALIFIER.split(head[: marker.start()])[0]
    tokens = content_tokens(named)
    # The term ends what is named ("pressure relief valve" names a relief valve; "backlash
    # compensation" is not backlash).
    return len(named.split()) <= _DEFINES_WITHIN and set(tokens[-len(term) :]) == term


def question_parts(question: str) -> list[str]:
    """The separate questions a question asks, in order; `[question]` when it asks one."""
    text = question.strip()
    compared = _compared_parts(text)
    if compared:
        return compared
    parts = [p.strip(" ,，、") for p in _SECOND_QUESTION.split(text)]
    parts = [p for p in parts if _stands_alone(p)]
    return parts if len(parts) >= 2 else [question]


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
