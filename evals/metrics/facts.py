"""Key-fact metrics: does the answer state the facts it must, up front, and none it must not?

An item's `key_facts` are facts, each a list of alternative regexes (any alternative states the
fact); `wrong_facts` are regexes that must not appear. Matching is case-insensitive and runs on
the answer without its `[n]` citation markers. The lead is the answer's first two sentences: what
a reader takes away when they stop reading early.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.answer.citations import split_sentences
from evals.metrics.citation import strip_markers

LEAD_SENTENCES = 2
# A semicolon separates clauses, not sentences: the assistant's splitter ends a sentence at "；"
# (for citing), the lead counts only 。！？ and . ? ! as sentence ends.
_CLAUSE_END = "；"

Fact = tuple[re.Pattern[str], ...]


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A dataset regex as matched (case-insensitive).

    Raises:
        re.error: not a valid regex.
    """
    return re.compile(pattern, re.IGNORECASE)


def answer_sentences(answer: str) -> list[str]:
    """The answer's sentences (English and Chinese), without citation markers.

    Lines never run together; within a line 。！？ always end a sentence and . ? ! do when a space
    or the line end follows (not after "e.g.", list numbers or decimals). Markers such as `[3]`,
    `[1, 2]` or `【2】` are dropped, so a marker after a full stop starts no sentence.
    """
    out: list[str] = []
    carry = ""
    for piece in split_sentences(answer):
        text = strip_markers(piece).strip()
        if not text:
            continue
        text = carry + text
        if text.endswith(_CLAUSE_END):
            carry = text
            continue
        carry = ""
        out.append(text)
    if carry:
        out.append(carry)
    return out


def lead(answer: str, n: int = LEAD_SENTENCES) -> str:
    """The answer's first `n` sentences, joined by a space, without citation markers."""
    return " ".join(answer_sentences(answer)[:n])


def states(fact: Fact, text: str) -> bool:
    """Whether any alternative of the fact matches the text."""
    return any(p.search(text) for p in fact)


def key_fact_recall(answer: str, facts: Sequence[Fact]) -> float:
    """Share of the key facts the whole answer states (facts non-empty)."""
    text = strip_markers(answer)
    return sum(states(f, text) for f in facts) / len(facts)


def lead_recall(answer: str, facts: Sequence[Fact]) -> float:
    """1.0 when every key fact is stated within the answer's first two sentences, else 0.0."""
    text = lead(answer)
    return 1.0 if all(states(f, text) for f in facts) else 0.0


def wrong_fact(answer: str, patterns: Sequence[re.Pattern[str]]) -> float:
    """1.0 when any wrong-fact regex matches the answer's first two sentences, else 0.0."""
    text = lead(answer)
    return 1.0 if any(p.search(text) for p in patterns) else 0.0
