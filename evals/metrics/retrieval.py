"""Retrieval metrics over gold sources (a source counts once, at its first rank)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def _dedup(ranked: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for s in ranked:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def recall_at_k(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    """Share of gold sources among the first k distinct retrieved sources."""
    if not gold:
        return 0.0
    top = set(_dedup(ranked)[:k])
    return len(top & set(gold)) / len(set(gold))


def hit_at_k(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    """1.0 when any gold source is among the first k distinct retrieved sources (the share of
    questions whose answer retrieval puts in front of the answerer), else 0.0."""
    return 1.0 if set(_dedup(ranked)[:k]) & set(gold) else 0.0


def mrr_at_k(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    """Reciprocal rank of the first gold source within the first k distinct sources."""
    for i, s in enumerate(_dedup(ranked)[:k]):
        if s in gold:
            return 1.0 / (i + 1)
    return 0.0


def ndcg_at_k(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    """Binary-relevance nDCG over distinct sources."""
    gold_set = set(gold)
    if not gold_set:
        return 0.0
    dcg = sum(1 / math.log2(i + 2) for i, s in enumerate(_dedup(ranked)[:k]) if s in gold_set)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(gold_set))))
    return dcg / ideal
