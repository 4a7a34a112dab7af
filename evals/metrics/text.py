"""Plain text-overlap scores used besides ragas (tokenised like the keyword index)."""

from __future__ import annotations

import re

from assistant.store.keyword import tokenize

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 over stemmed English / jieba Chinese tokens."""
    a, b = tokenize(candidate), tokenize(reference)
    if not a or not b:
        return 0.0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    p, r = lcs / len(a), lcs / len(b)
    return 2 * p * r / (p + r)


def number_recall(candidate: str, reference: str) -> float | None:
    """Share of the reference's numbers that the answer states (None: reference has none)."""
    wanted = {n.replace(",", "") for n in _NUMBER.findall(reference)}
    if not wanted:
        return None
    found = {n.replace(",", "") for n in _NUMBER.findall(candidate)}
    return len(wanted & found) / len(wanted)
