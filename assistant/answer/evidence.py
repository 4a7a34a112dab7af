"""Shared scoring for the extractive modes: question terms, IDF coverage, retrieval signal.

Coverage is the share of the question's (IDF-weighted) content terms that a text contains:
0 when it shares none of them, 1 when it has all. It is what tells an answerable question from
one the knowledge base says nothing about, whatever the retriever's score scale.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from assistant.answer.citations import split_sentences
from assistant.answer.structure import codes, parse_step, quantities
from assistant.language import CJK, squash
from assistant.store.keyword import camel_parts, tokenize
from assistant.translate import translate_word
from assistant.types import Chunk, Hit, Turn

Embed = Callable[[list[str]], np.ndarray]

_CJK = CJK
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
    "流程 操作 说明 关于 还 也 最大 最小 允许 规定 数值 做 怎么做"
)
# Weights of the last user turns before the question, most recent first.
HISTORY_WEIGHTS = (0.5, 0.25)

_IDENTIFIER = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)+")
_CLAUSE_HEAD = re.compile(r"\d+(?:\.\d+)+\.?\s+\S")
_ENDINGS = (".", "!", "?", "。", "！", "？", "；", ":", "：")

NO_EVIDENCE_EN = "The knowledge base has nothing reliable on this."
NO_EVIDENCE_ZH = "知识库中没有关于此问题的可靠资料。"


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
    r"hv)(?![a-z])",
    re.IGNORECASE,
)
_QUANTITY_ASK = re.compile(
    r"\b(how (much|many|long|often|far|hot|tight|soon)|what (?:[a-z]+ ){0,2}?(torque|pressure|"
    r"temperature|interval|quantity|amount|force|speed|voltage|current|value|limit|timeout|"
    r"time-out|duration|delay|deadline|hardness|"
    r"repeatability|accuracy|tolerance|clearance|backlash|runout|payload|reach|resistance|"
    r"capacity|diameter|length|thickness|weight|mass|flow|frequency|concentration|life))\b"
    r"|多少|多长|多久|几|精度|公差|间隙|跳动|负载|电阻|容量|直径|厚度|寿命|硬度",
    re.IGNORECASE,
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
INTENT_BOOST = 0.25
RANK_BOOST = 0.1


@cache
def _family_tokens(family: str) -> frozenset[str]:
    return frozenset(tokenize(_QUANTITY_WORDS.get(family, "")))


def _quantity_words(text: str) -> frozenset[str]:
    out: frozenset[str] = frozenset()
    for q in quantities(text):
        out |= _family_tokens(q.family)
    return out


@lru_cache(maxsize=1)
def _filler() -> frozenset[str]:
    """Chinese asking words as tokens (English ones are removed as written: `_FILLER_EN_WORD`)."""
    return frozenset(t for w in _FILLER_ZH.split() for t in tokenize(w))


# English asking words as written: "permitted" is filler, "permit" (a hot work permit) is not.
_FILLER_EN_WORD = re.compile(
    r"(?<![\w-])(?:" + "|".join(sorted(map(re.escape, _FILLER_EN.split()), key=len, reverse=True))
    + r")(?![\w-])",
    re.IGNORECASE,
)


def is_chinese(text: str) -> bool:
    """True when the text is mostly Chinese (CJK characters outnumber Latin words)."""
    cjk = len(_CJK.findall(text))
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
        if _CJK.search(term):
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
        if _CJK.search(token):
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


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def retrieval_signal(hits: Sequence[Hit]) -> list[float]:
    """How strongly retrieval backs each hit, in [0, 1].

    With the ranks the hybrid retriever records, a hit found by both dense and keyword search
    near the top scores high; one found only by the dense side (which always returns something,
    however unrelated) at most 0.5. Without ranks, position and relative score stand in.
    """
    if not hits:
        return []
    top = max(h.score for h in hits)

    def prior(rank: int | None) -> float:
        return 0.0 if rank is None else 1.0 / (1.0 + rank / 3.0)

    out = []
    for position, hit in enumerate(hits):
        if hit.dense_rank is None and hit.keyword_rank is None:
            relative = hit.score / top if top > 0 else 0.0
            out.append(0.5 / (1.0 + 0.5 * position) + 0.5 * max(0.0, relative))
        else:
            out.append(0.5 * prior(hit.dense_rank) + 0.5 * prior(hit.keyword_rank))
    return out


def embedding_similarity(
    embed: Embed | None, question: str, texts: Sequence[str], *, chinese: bool = False
) -> list[float | None]:
    """Cosine of the question with each text mapped to [0, 1] (0.3 or less → 0, 0.8 → 1).

    None for every text when there is no embedder, and for Chinese texts (or all, for a
    Chinese question) unless `chinese`: an English embedder's cosines there are noise.
    """
    if embed is None or not texts or (is_chinese(question) and not chinese):
        return [None] * len(texts)
    usable = [k for k, t in enumerate(texts) if chinese or not is_chinese(t)]
    out: list[float | None] = [None] * len(texts)
    if not usable:
        return out
    vectors = np.asarray(embed([question, *(texts[k] for k in usable)]), dtype=np.float32)
    for k, cosine in zip(usable, vectors[1:] @ vectors[0], strict=True):
        out[k] = float(min(1.0, max(0.0, (cosine - 0.3) / 0.5)))
    return out


def blend(lexical: float, similarity: float | None) -> float:
    """Lexical score with embedding similarity mixed in (70/30) where there is one."""
    return lexical if similarity is None else 0.7 * lexical + 0.3 * similarity


def display_title(chunk: Chunk, words: int = 8) -> str:
    """The chunk's document title; for an untitled one (its title is the file name), the
    chunk's opening words: a file stem such as `ibmcld_00691-7371-8668` tells a reader nothing."""
    stem = chunk.source.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if chunk.title and chunk.title != stem:
        return chunk.title
    if is_chinese(chunk.text):
        opening = re.sub(r"\s+", "", chunk.text)[: words * 3]
    else:
        opening = " ".join(chunk.text.split()[:words])
    return f"{opening}…" if opening else chunk.title


def nearest_topics(hits: Sequence[Hit], limit: int = 3) -> list[str]:
    """Up to `limit` distinct document titles (with their section) among the hits."""
    seen: set[str] = set()
    topics: list[str] = []
    for hit in hits:
        c = hit.chunk
        if c.doc_id in seen:
            continue
        seen.add(c.doc_id)
        title = display_title(c)
        section = c.section.split(" > ")[-1] if c.section else ""
        topics.append(f"{title} ({section})" if section and section != c.title else title)
        if len(topics) == limit:
            break
    return topics


def refusal_text(question: str, hits: Sequence[Hit], lead: str | None = None) -> str:
    """Say the knowledge base has nothing reliable, in the question's language, plus topics."""
    zh = is_chinese(question)
    text = lead or (NO_EVIDENCE_ZH if zh else NO_EVIDENCE_EN)
    topics = nearest_topics(hits)
    if topics:
        text += (
            f"相关主题：{'；'.join(topics)}。"
            if zh
            else (f" Nearest topics it covers: {'; '.join(topics)}.")
        )
    return text


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


@dataclass(frozen=True)
class Scored:
    """A sentence with its relevance to the question."""

    sentence: Sentence
    score: float  # for ranking: support plus the hit's retrieval signal
    support: float  # how much of the question the sentence (in its chunk) covers, in [0, 1]
    match: float  # the sentence's own share of support: its coverage (and similarity)
    lexical: float  # support from question terms alone: what evidence is judged on
    sibling: bool = False  # about a sibling of a code the question names: never quoted


@dataclass(frozen=True)
class Scoring:
    """Every candidate sentence scored, best first, and the evidence for answering at all."""

    ranked: list[Scored]
    evidence: float
    signals: list[float]


def _is_heading(text: str) -> bool:
    """A clause heading run into its text ("5.3.2 Reducer lubrication.")."""
    return bool(_CLAUSE_HEAD.match(text)) and len(text.split()) <= 6


_ROW_KEY = re.compile(r"^[^:;]{1,40}: ([^;]{1,60});[^;]*;")
_ROW_MARK = "\x00row:"
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
        pairs = [f"{h}: {v}" for h, v in zip(header, cells, strict=True) if v]
        out.append(_ROW_MARK + "; ".join(pairs) + ".")
    return out


# Columns aligned with runs of spaces: console output ("NAME   STATUS   AGE"), not a sentence.
_ALIGNED = re.compile(r"\S {2,}\S+ {2,}\S+ {2,}\S")


def collect_sentences(hits: Sequence[Hit], min_tokens: int = 3) -> list[Sentence]:
    """Candidate sentences of all hits; repeats of a sentence seen in a better hit dropped."""
    seen: set[str] = set()
    out: list[Sentence] = []
    for i, hit in enumerate(hits):
        position = 0
        for line_no, line in enumerate(table_rows_as_text(hit.chunk.text.splitlines())):
            for text in [line] if line.startswith(_ROW_MARK) else split_sentences(line):
                text = text.removeprefix(_ROW_MARK)
                key = re.sub(r"\W+", "", text.lower())
                words = frozenset(tokenize(text))
                tokens = words | _quantity_words(text)
                ended = text.rstrip().endswith(_ENDINGS)
                short = len(tokens) < min_tokens and not (ended and len(tokens) >= 2)
                # A sentence that asks (an exercise prompt, 思考题, a forum question) states
                # no fact: it is never quoted as one.
                asks = text.rstrip(" )）\"”'").endswith(("?", "？"))
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
                    )
                )
                position += 1
    return out


def score_sentences(
    question: str,
    hits: Sequence[Hit],
    sentences: Sequence[Sentence],
    *,
    history: Sequence[Turn] = (),
    embed: Embed | None = None,
    embed_chinese: bool = False,
    translated_weight: float = TRANSLATED_TERM_WEIGHT,
) -> Scoring:
    """Score sentences against the question (and, weighted less, the last user turns).

    own = IDF-weighted coverage of the question terms by the sentence, terms found only in its
    title, section or contributor counting half (+0.25 when it states a cause or fix the
    question asks for); an English question's term found only among a Chinese sentence's
    dictionary glosses (CC-CEDICT) counts `translated_weight` of itself; for a Chinese question
    whose evidence is below `TRANSLATE_BELOW`, scored again with a Chinese term that an English
    sentence has only in translation counting `translated_weight` (0 turns translation off
    both ways), kept if its evidence is higher;
    lexical = 0.65 × own + 0.35 × coverage by the whole chunk;
    match and support = own and lexical blended 70/30 with embedding similarity, if any;
    a sentence naming a sibling of a code the question names (the DH-R20 for the HX-R20) keeps
    `SIBLING_FACTOR` of its lexical, match and support (whole documents titled for a sibling
    are left out before: `about_what_was_asked`);
    score = 0.8 × support + 0.2 × the hit's retrieval signal;
    evidence = 0.8 × best lexical + 0.2 × best retrieval signal,
    where a question asking for a quantity (of the unit family it names, if any: a length for
    "what repeatability") or a model designation takes its best lexical from sentences that
    state one (else `UNTYPED_EVIDENCE` of the best). Embeddings rank sentences
    but do not decide refusals: similar topic is not an answer.
    """
    signals = retrieval_signal(hits)
    terms = query_terms(question, history)
    if not sentences or not terms:
        return Scoring([], 0.0, signals)
    idf = idf_weights(terms, [set(s.tokens) for s in sentences])
    # Who contributed a chunk is part of what it is about: "Donghai's lab", "at Jiangnan".
    heads = [
        set(tokenize(f"{h.chunk.title}\n{h.chunk.section}\n{h.chunk.contributor}")) for h in hits
    ]
    texts = [heads[i] | set(tokenize(h.chunk.text)) for i, h in enumerate(hits)]
    similarity = embedding_similarity(
        embed, question, [s.text for s in sentences], chinese=embed_chinese
    )
    intents = [cue for ask, cue in _INTENTS if ask.search(question)]
    names = named_codes(question)
    wants = _answer_type(question, names)
    asks_quantity = bool(_QUANTITY_ASK.search(question))
    camel_names = long_camel_names(question)

    chinese_hit = [
        bool(_CJK.search(f"{h.chunk.title}{h.chunk.section}{h.chunk.text}")) for h in hits
    ]
    # Whether each sentence states the kind of answer asked for (None: no kind asked).
    kinds = [
        None if wants is None else wants(s.text, hits[s.hit_index].chunk.title) for s in sentences
    ]

    def rank(alts: Mapping[str, frozenset[str]], gloss: bool = False) -> Scoring:
        def cover(tokens: set[str] | frozenset[str], hit: int) -> float:
            glossed = glossed_tokens(tokens) if gloss and chinese_hit[hit] else frozenset()
            return coverage(terms, idf, tokens, alts, translated_weight, glossed)

        chunk_cov = [cover(t, i) for i, t in enumerate(texts)]
        ranked = []
        typed = []  # lexical support of the sentences that state the kind asked for
        for s, sim, kind in zip(sentences, similarity, kinds, strict=True):
            own = cover(s.tokens, s.hit_index)
            own += 0.5 * cover(heads[s.hit_index] - s.tokens, s.hit_index)
            if any(cue.search(s.text) for cue in intents):
                own = min(1.0, own + INTENT_BOOST)
            # Ranking only, never evidence: the kind of answer asked for (a quantity for a "how
            # much" question), and the table row the question names (its first cell) rather
            # than one that mentions it.
            prefer = 0.0
            if kind or (asks_quantity and QUANTITY_CUE.search(s.text)):
                prefer += RANK_BOOST
            row_key = _ROW_KEY.match(s.text)
            if row_key and set(tokenize(row_key.group(1))) & set(terms):
                prefer += RANK_BOOST
            lexical = 0.65 * own + 0.35 * chunk_cov[s.hit_index]
            if sim is not None and is_chinese(s.text) != is_chinese(question):
                # Across languages no term can match: the multilingual similarity is evidence.
                lexical = max(lexical, CROSS_LANGUAGE_FACTOR * sim)
            support, match = blend(lexical, sim), blend(own, sim)
            sibling = bool(sibling_conflicts(names, s.text))
            if sibling:
                # About the DH-R20 when the question asks about the HX-R20: not evidence.
                lexical, support, match = (SIBLING_FACTOR * v for v in (lexical, support, match))
            score = 0.8 * support + 0.2 * signals[s.hit_index] + prefer
            ranked.append(Scored(s, score, support, match, lexical, sibling))
            # "How much", "what model": a sentence without a number (or a code) does not answer,
            # nor does one in a chunk that never names the alert or function asked about.
            if kind and camel_names <= texts[s.hit_index]:
                typed.append(lexical)
        ranked.sort(key=lambda x: (-x.score, x.sentence.hit_index, x.sentence.position))
        best = max(x.lexical for x in ranked)
        if wants is not None:
            best = max(max(typed, default=0.0), UNTYPED_EVIDENCE * best)
        evidence = 0.8 * best + 0.2 * max(signals)
        if missing_identifiers(question, hits):
            evidence *= MISSING_IDENTIFIER_PENALTY
        return Scoring(ranked, evidence, signals)

    gloss = translated_weight > 0 and not is_chinese(question)
    scoring = rank({}, gloss=gloss)
    if translated_weight <= 0 or scoring.evidence >= TRANSLATE_BELOW:
        return scoring
    # Only to rescue a refusal: an answer the question's own terms support keeps its sentences.
    if is_chinese(question):
        alts = translated_alternatives(terms)
        translated = rank(alts) if alts else scoring
    else:
        return scoring
    return translated if translated.evidence > scoring.evidence else scoring


def long_camel_names(text: str) -> set[str]:
    """The tokens of names of three or more joined words in a text ("KubeNodeNotReady",
    "etcdNoLeader"): alerts, functions, classes, one thing each."""
    return {
        tokenize(word)[0]
        for word in re.findall(r"[A-Za-z][A-Za-z0-9]*", text)
        if len(camel_parts(word)) >= 3
    }


# Questions that ask for a model, type or part designation: answered by a code.
_MODEL_ASK = re.compile(
    r"型号|牌号|\b(?:which|what) (?:model|type|part number|designation)\b"
    r"|\b(?:model|part|type) (?:number|no\.?|designation)\b",
    re.IGNORECASE,
)
# Share of the best sentence's evidence kept when no sentence has the kind of answer asked for.
UNTYPED_EVIDENCE = 0.3


def _answer_type(question: str, names: Sequence[str]) -> Callable[[str, str], bool] | None:
    """What a sentence (of a document with this title) must contain to answer the question:
    a quantity, a designation other than the asked one and the document's own, or None."""
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
    if _QUANTITY_ASK.search(question):
        families = _asked_families(question)
        if families:  # "what repeatability": a length, not the payload's 20 kg
            return lambda text, _title: any(
                q.family in families for q in quantities(_UNIT_IN_HEADER.sub(r"\2 \1", text))
            )
        return lambda text, _title: bool(QUANTITY_CUE.search(text))
    return None


# A table row restated with its header: "Tightening torque (N·m): 18" states 18 N·m.
_UNIT_IN_HEADER = re.compile(r"\(([^()]{1,12})\):\s*(\d[\d,]*(?:\.\d+)?)")
# Words that ask for a quantity of one unit family (see `structure.quantities`).
_ASKED_FAMILY = (
    (re.compile(r"\btorque\b|扭矩|力矩", re.I), ("torque",)),
    (re.compile(r"\bpressure\b|压力", re.I), ("pressure",)),
    (re.compile(r"\b(temperature|how hot)\b|温度", re.I), ("temperature",)),
    (
        re.compile(
            r"\b(interval|how often|how soon|life|timeout|time-out|duration|delay|deadline)\b"
            r"|周期|寿命|超时|时限",
            re.I,
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


# How much a cross-language sentence's similarity counts as lexical evidence.
CROSS_LANGUAGE_FACTOR = 1.2
# Model numbers, document codes, part numbers: "HX-R35", "MVC-1100", "M20", "ECN-2024-031".
_NAMED = re.compile(r"(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
MISSING_IDENTIFIER_PENALTY = 0.5
# Codes of two or more parts ("HX-R20", "JN-WI-C-011"), wherever they stand, Chinese text too.
_CODE = re.compile(r"(?<![A-Za-z0-9-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+")
# A year that names an edition: "101:2026", "the 2026 edition", "2026 版".
_EDITION_YEAR = re.compile(
    r":((?:19|20)\d{2})(?!\d)"
    r"|(?<!\d)((?:19|20)\d{2})\s*(?:年版|版|edition|version|revision|issue)"
    r"|(?:edition|version|revision|issue)\s+(?:of\s+)?((?:19|20)\d{2})(?!\d)",
    re.IGNORECASE,
)
# A sentence, or a whole document by its title, about a sibling of what the question names
# (the DH-R20 when it asks about the HX-R20, HX-MP-201 when it asks about HX-MP-202) counts
# this much of itself.
SIBLING_FACTOR = 0.3


def missing_identifiers(question: str, hits: Sequence[Hit]) -> list[str]:
    """Codes the question names that no retrieved text mentions.

    A question about the HX-R35 answered from HX-R20 documents is not answered: a named
    model, document or part that the evidence never mentions means the evidence is about
    something else, however similar.
    """
    names = {m.group(0) for m in _NAMED.finditer(question) if len(m.group(0)) >= 2}
    names |= set(_YEAR.findall(question))  # "the 2026 edition" when sources stop at 2021
    if not names:
        return []
    corpus = squash(" ".join(f"{h.chunk.title} {h.chunk.section} {h.chunk.text}" for h in hits))
    return sorted(n for n in names if squash(n) not in corpus)


def named_codes(text: str) -> list[str]:
    """The multi-part codes a text names, upper-cased, in order, without repeats."""
    return list(dict.fromkeys(m.group(0).upper() for m in _CODE.finditer(text)))


def edition_years(text: str) -> list[str]:
    """Years the text names as an edition ("ITSC-RS 101:2026", "the 2026 edition")."""
    return list(dict.fromkeys(y for m in _EDITION_YEAR.finditer(text) for y in m.groups() if y))


def _shape(part: str) -> str:
    return re.sub(r"[a-z]+", "a", re.sub(r"\d+", "9", part))


def are_siblings(a: str, b: str) -> bool:
    """Two codes of one family differing in one part: HX-R20 / DH-R20, HX-MP-201 / HX-MP-202."""
    pa, pb = a.lower().split("-"), b.lower().split("-")
    if len(pa) != len(pb) or pa == pb:
        return False
    if [_shape(p) for p in pa] != [_shape(p) for p in pb]:
        return False
    return sum(x != y for x, y in zip(pa, pb, strict=True)) == 1


def sibling_conflicts(names: Sequence[str], text: str) -> list[tuple[str, str]]:
    """(asked, named instead): codes of `text` that are siblings of an asked code it lacks."""
    if not names:
        return []
    own = named_codes(text)
    squashed = squash(text)
    return [
        (name, other)
        for name in names
        if squash(name) not in squashed
        for other in own
        if are_siblings(name, other)
    ]


def about_what_was_asked(question: str, hits: list[Hit]) -> list[Hit]:
    """The hits without documents whose title names a sibling of a code the question names
    (the HX-R20 manual for a question about the DH-R20): no answerer should read them as
    sources on the thing asked about."""
    names = named_codes(question)
    if not names:
        return hits
    return [h for h in hits if not sibling_conflicts(names, h.chunk.title)]
