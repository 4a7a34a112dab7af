"""Citation metrics (ALCE-style): precision and recall against gold sources, and support.

Support asks, for every answer sentence that cites `[n]`, whether a cited chunk backs it. Without
a judge that is decided by two signals: lexical containment (the share of the sentence's content
tokens found in the chunk) and embedding similarity (the best cosine between the sentence and
the chunk's sentences). A sentence is supported when either signal clears its threshold.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.answer.citations import parse_citations, split_sentences
from assistant.store.keyword import tokenize

Embed = Callable[[Sequence[str]], np.ndarray]
# A sentence counts as supported at or above either threshold (chosen by reading answers of the
# demo set: lexical 0.6 means most content words are in the chunk; cosine 0.7 is a paraphrase).
LEXICAL_THRESHOLD = 0.6
SEMANTIC_THRESHOLD = 0.7
_MARKERS = re.compile(r"\s*[\[【]\s*\d{1,4}(?:\s*(?:[,，、;；]|[-–])\s*\d{1,4})*\s*[\]】]")


def citation_precision_recall(
    cited_sources: Sequence[str], gold_sources: Sequence[str]
) -> tuple[float, float]:
    """Share of cited sources that are gold, and share of gold sources cited.

    Args:
        cited_sources: sources of the answer's citations (repeats count once).
        gold_sources: the item's gold sources (non-empty).

    Returns:
        (precision, recall); precision is 0.0 when nothing is cited.
    """
    cited, gold = set(cited_sources), set(gold_sources)
    precision = len(cited & gold) / len(cited) if cited else 0.0
    recall = len(cited & gold) / len(gold) if gold else 0.0
    return precision, recall


def strip_markers(text: str) -> str:
    """The text without its `[n]` citation markers (`[3]`, `[1, 2]`, `[4-6]`, `【2】`)."""
    return _MARKERS.sub("", text)


def citing_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """The answer's sentences that carry `[n]` markers, without the markers, with their numbers."""
    out = []
    for sentence in split_sentences(answer):
        numbers = parse_citations(sentence)
        text = strip_markers(sentence).strip()
        if numbers and text:
            out.append((text, numbers))
    return out


def lexical_support(sentence: str, passage: str) -> float:
    """Share of the sentence's content tokens that occur in the passage (0..1)."""
    words = set(tokenize(sentence))
    if not words:
        return 0.0
    return len(words & set(tokenize(passage))) / len(words)


def semantic_support(sentence: str, passage: str, embed: Embed) -> float:
    """Best cosine between the sentence and any sentence of the passage (unit vectors)."""
    pieces = split_sentences(passage) or [passage]
    vectors = embed([sentence, *pieces])
    return float(np.max(vectors[1:] @ vectors[0])) if len(vectors) > 1 else 0.0


@dataclass(frozen=True)
class SupportResult:
    """Per answer: share of citing sentences supported, and the mean best signals."""

    support: float | None
    lexical: float | None
    semantic: float | None
    sentences: int


def citation_support(
    answer: str,
    passages: Mapping[int, str],
    *,
    embed: Embed | None = None,
    judge: Callable[[str, str], bool] | None = None,
    lexical_threshold: float = LEXICAL_THRESHOLD,
    semantic_threshold: float = SEMANTIC_THRESHOLD,
) -> SupportResult:
    """How well the cited chunks support the sentences that cite them.

    Args:
        answer: answer text with `[n]` markers.
        passages: citation number -> text of the cited chunk.
        embed: texts -> unit vectors for the semantic signal (None: lexical only).
        judge: `(passage, sentence) -> supported`; when given it decides support instead of the
            thresholds (the two signals are still reported).
        lexical_threshold: containment at or above which a sentence is supported.
        semantic_threshold: cosine at or above which a sentence is supported.

    Returns:
        A `SupportResult`; its fields are None when no sentence cites a known passage.
    """
    supported, lexical, semantic = [], [], []
    for sentence, numbers in citing_sentences(answer):
        cited = [passages[n] for n in numbers if n in passages]
        if not cited:
            continue
        lex = max(lexical_support(sentence, p) for p in cited)
        sem = max(semantic_support(sentence, p, embed) for p in cited) if embed else None
        lexical.append(lex)
        if sem is not None:
            semantic.append(sem)
        if judge is not None:
            ok = any(judge(p, sentence) for p in cited)
        else:
            ok = lex >= lexical_threshold or (sem is not None and sem >= semantic_threshold)
        supported.append(1.0 if ok else 0.0)
    if not supported:
        return SupportResult(None, None, None, 0)
    return SupportResult(
        float(np.mean(supported)),
        float(np.mean(lexical)),
        float(np.mean(semantic)) if semantic else None,
        len(supported),
    )
