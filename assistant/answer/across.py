"""Reading English sources for a Chinese question: the question put in English words
(`assistant.answer.answerability.english_rendering`), the English sentences read against it
by the cross-encoder, which knows English only."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.answer.answerability import Scorer
from assistant.answer.evidence import Sentence, is_chinese
from assistant.answer.reading import RELEVANCE_POOL, sigmoid
from assistant.store.keyword import tokenize

# The probability counts this much as a sentence's evidence, beside the Chinese sentences'
# term coverage: where a Chinese source states the answer in the question's own words, it
# still leads (chosen on the demo set's tune half: 0.3 to 1.0 gave 15 to 17 Chinese leads
# of 30, 0.4 the most with none lost).
READ_WEIGHT = 0.4


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
