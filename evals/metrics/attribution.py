"""Per-item attribution: whose knowledge an answer relied on, and what it must never show."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from assistant.access import can_see
from assistant.types import Identity


def attribution_precision_recall(
    cited_contributors: Iterable[str], gold_contributors: Sequence[str]
) -> tuple[float, float]:
    """Share of relied-on (cited) contributors that are gold, and of gold ones relied on.

    Returns:
        (precision, recall); precision is 0.0 when the answer cites nobody.
    """
    relied, gold = set(cited_contributors), set(gold_contributors)
    precision = len(relied & gold) / len(relied) if relied else 0.0
    recall = len(relied & gold) / len(gold) if gold else 0.0
    return precision, recall


def count_leaks(
    identity: Identity,
    cited: Sequence[Mapping[str, Any]],
    retrieved: Sequence[Mapping[str, Any]],
    restricted_sources: Sequence[str] = (),
) -> int:
    """Citations and retrieved chunks the identity may not see (the answer is 0).

    A chunk leaks when `can_see` refuses its metadata, or when it comes from one of the item's
    restricted sources (documents the dataset says this user may not see).

    Args:
        identity: who asked.
        cited: metadata of each cited chunk (a citation whose chunk is unknown: `{}`, a leak).
        retrieved: metadata of each retrieved chunk.
        restricted_sources: sources this identity must not be shown.

    Returns:
        The number of leaking citations plus leaking retrieved chunks.
    """
    restricted = set(restricted_sources)

    def leaks(meta: Mapping[str, Any]) -> bool:
        return not can_see(identity, meta) or meta.get("source") in restricted

    return sum(leaks(m) for m in cited) + sum(leaks(m) for m in retrieved)
