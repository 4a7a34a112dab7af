"""Reciprocal-rank fusion of a retrieval's rankings, the visible hits it yields, and the clock
that times each step of a retrieval."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from assistant.access import can_see
from assistant.types import Hit, Identity


def fuse(
    rankings: Sequence[tuple[float, list[str], str]], rrf_k: float
) -> tuple[dict[str, float], dict[tuple[str, str], int]]:
    """Weighted reciprocal-rank fusion: each chunk's fused score, and its best rank in each
    kind of ranking ("dense", "keyword")."""
    fused: dict[str, float] = {}
    best_rank: dict[tuple[str, str], int] = {}
    for weight, ids, kind in rankings:
        for rank, cid in enumerate(ids):
            fused[cid] = fused.get(cid, 0.0) + weight / (rrf_k + rank + 1)
            key = (kind, cid)
            best_rank[key] = min(best_rank.get(key, rank), rank)
    return fused, best_rank


def visible_hits(
    ids: Sequence[str],
    records: dict[str, Any],
    fused: dict[str, float],
    best_rank: dict[tuple[str, str], int],
    identity: Identity,
    *,
    extra: bool = False,
) -> list[Hit]:
    """Hits for `ids` in order, with their fused score and best ranks; only what `identity`
    may see."""
    return [
        Hit(
            records[cid],
            fused.get(cid, 0.0),
            best_rank.get(("dense", cid)),
            best_rank.get(("keyword", cid)),
            extra=extra,
        )
        for cid in ids
        if cid in records and can_see(identity, records[cid].to_metadata())
    ]


class Clock:
    """Milliseconds spent in each named step of a retrieval, summed over its laps."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + (now - self._last) * 1000
        self._last = now
