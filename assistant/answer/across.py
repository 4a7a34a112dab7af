"""Reading across languages with a cross-encoder that knows English only: English sources for a
Chinese question, read against the question put in English words
(`assistant.answer.answerability.english_rendering`); Chinese sources for an English question,
read as their English glosses (`assistant.translate.glossed`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assistant.answer.answerability import Scorer
from assistant.answer.evidence import Scored, is_chinese, jaccard
from assistant.answer.names import contributors_named
from assistant.answer.reading import (
    CLEAR_LOGITS,
    RELEVANCE_POOL,
    SUPPORT_MIN_LOGIT,
    Pick,
    question_parts_of,
    sigmoid,
)
from assistant.answer.sentences import Sentence
from assistant.language import CJK
from assistant.store.keyword import tokenize
from assistant.translate import glossed
from assistant.types import Hit

# The probability counts this much as a sentence's evidence, beside the Chinese sentences'
# term coverage: where a Chinese source states the answer in the question's own words, it
# still leads (chosen on the demo set's tune half: 0.3 to 1.0 gave 15 to 17 Chinese leads
# of 30, 0.4 the most with none lost).
READ_WEIGHT = 0.4
# A gloss reads worse than the sentence it glosses would: Chinese sentences read as glosses
# answer an English question instead of its English picks when they read at most this many
# logits below them (the one margin measured, `reading.CLEAR_LOGITS`).
GLOSS_HANDICAP = CLEAR_LOGITS


def read_across(
    relevance: Scorer, english: str, sentences: Sequence[Sentence]
) -> list[float | None]:
    """The cross-encoder's probability that each English sentence answers a Chinese question,
    read as its `english_rendering`: the `RELEVANCE_POOL` English sentences sharing most of
    its words are read.

    Returns:
        One value per sentence: the probability times `READ_WEIGHT`, or None for a sentence
        not read (Chinese, outside the pool, or no rendering).
    """
    out: list[float | None] = [None] * len(sentences)
    english_at = [k for k, s in enumerate(sentences) if not is_chinese(s.text)]
    if not english or not english_at:
        return out
    wanted = set(tokenize(english))
    english_at.sort(
        key=lambda k: (
            -len(wanted & sentences[k].tokens),
            sentences[k].hit_index,
            sentences[k].position,
        )
    )
    pool = english_at[:RELEVANCE_POOL]
    # Each sentence alone: after its title (as English questions' sentences are read), every
    # sentence of a document about the question's words scores alike against a rendering
    # that is little more than those words.
    logits = relevance.score(english, [sentences[k].text for k in pool])
    for k, logit in zip(pool, logits, strict=True):
        out[k] = READ_WEIGHT * sigmoid(float(logit))
    return out


def read_chinese(
    relevance: Scorer,
    question: str,
    query: str,
    usable: Sequence[Scored],
    hits: Sequence[Hit],
    *,
    n: int,
    redundancy: float,
) -> list[Pick]:
    """The Chinese sentences among `usable` that the cross-encoder reads as answering the
    English `query` best in their English glosses, at most `n`, none `redundancy`-similar to
    one before: for an English question whose English sentences it reads as not answering (a
    Jiangnan work instruction written in Chinese had been answered from an English course's
    typical air pressure). [] without Chinese sentences."""
    chinese = [x for x in usable if is_chinese(x.sentence.text)][:RELEVANCE_POOL]
    if not chinese:
        return []
    # Glossed once, read against the question and against each of its parts.
    texts = Glossing.over(relevance, question, hits).read([x.sentence.text for x in chinese])
    logits = [float(v) for v in relevance.score(query, texts)]
    # A question that asks two things ("what torque do the plugs get, and how hot may the
    # reducer be?") is answered part by part first, as English sentences are
    # (`reading.select_by_relevance`): each part's best sentence that answers it.
    order: list[int] = []
    for part in question_parts_of(question, query):
        part_logits = [float(v) for v in relevance.score(part, texts)]
        best = max(range(len(chinese)), key=lambda i: part_logits[i])
        if part_logits[best] >= SUPPORT_MIN_LOGIT and best not in order:
            order.append(best)
    order += sorted((i for i in range(len(chinese)) if i not in order), key=lambda i: -logits[i])
    chosen: list[Pick] = []
    for i in order:
        words = set(chinese[i].sentence.words)
        if len(chosen) == n:
            break
        if not any(jaccard(words, set(p.s.words)) >= redundancy for p in chosen):
            chosen.append(Pick(chinese[i], logit=logits[i]))
    return chosen


def better_read(english: list[Pick], chinese: list[Pick]) -> list[Pick]:
    """`chinese` picks (`read_chinese`) where the best of them reads at most `GLOSS_HANDICAP`
    below the best of the `english` ones, else `english`: a sentence a course states in
    English, read poorly ("squeeze it in panic"), is not given up for a grease lab's Chinese
    step on the same switch."""
    if not chinese:
        return english
    read = [p.logit for p in english if p.logit is not None]
    best = max((p.logit for p in chinese if p.logit is not None), default=None)
    if not read or best is None or best >= max(read) - GLOSS_HANDICAP:
        return chinese
    return english


def with_chinese_read(
    relevance: Scorer,
    question: str,
    query: str,
    usable: Sequence[Scored],
    hits: Sequence[Hit],
    picks: list[Pick],
    *,
    n: int,
    redundancy: float,
) -> list[Pick]:
    """An English question's `picks`, or Chinese sentences read as their glosses instead
    (`read_chinese`): where the model reads none of the picks as answering, those that read
    nearly as well (`better_read`); and where the question names contributors
    (`names.contributors_named`) none of the picks is from, their own Chinese sentences that it
    reads as answering (logit at least `SUPPORT_MIN_LOGIT`) — the user asked about that
    source's document, whose glosses read worse than another contributor's English ("In
    Donghai's J2 grease lab, how long is the venting run …?" had been answered with Huaxin's
    purge run, not the lab's "15 分钟, −30°～+30°")."""

    def chinese(among: Sequence[Scored]) -> list[Pick]:
        return read_chinese(relevance, question, query, among, hits, n=n, redundancy=redundancy)

    if all(p.logit is None or p.logit < SUPPORT_MIN_LOGIT for p in picks):
        picks = better_read(picks, chinese(usable))
    named = contributors_named(question, {h.chunk.contributor for h in hits})

    def theirs(s: Sentence) -> bool:
        return hits[s.hit_index].chunk.contributor in named

    if not named or any(theirs(p.s) for p in picks if not p.context):
        return picks
    own = chinese([x for x in usable if theirs(x.sentence) and is_chinese(x.sentence.text)])
    best = max((p.logit for p in own if p.logit is not None), default=None)
    return own if best is not None and best >= SUPPORT_MIN_LOGIT else picks


@dataclass(frozen=True)
class Glossing:
    """The cross-encoder reading Chinese passages as their English glosses (`glossed`, each
    word in the sense the English `question` or `sources` use), English ones as they are."""

    scorer: Scorer
    question: str
    sources: tuple[str, ...]

    @classmethod
    def over(cls, scorer: Scorer, question: str, hits: Sequence[Hit]) -> Glossing:
        """Glossing in the senses of `question` and of the English chunks among `hits`."""
        return cls(
            scorer, question, tuple(h.chunk.text for h in hits if not is_chinese(h.chunk.text))
        )

    def read(self, passages: Sequence[str]) -> list[str]:
        """The passages as the cross-encoder reads them: Chinese ones as their glosses."""
        at = [k for k, p in enumerate(passages) if CJK.search(p)]
        texts = list(passages)
        glosses = glossed(self.question, [texts[k] for k in at], self.sources)
        for k, gloss in zip(at, glosses, strict=True):
            texts[k] = gloss
        return texts

    def score(self, query: str, passages: Sequence[str], batch_size: int = 16) -> np.ndarray:
        return self.scorer.score(query, self.read(passages), batch_size)
