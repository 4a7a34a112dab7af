"""Hybrid retrieval: dense (Chroma) + BM25, fused by weighted reciprocal rank, access-checked."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assistant.access import can_see
from assistant.interfaces import Embedder
from assistant.settings import RetrievalSettings
from assistant.store import KnowledgeStore
from assistant.types import Hit, Identity, Turn

logger = logging.getLogger(__name__)

_FOLLOW_UP = re.compile(
    r"^(and|also|what about|how about|what if|then|and the|same for|which|those|these|it|its|"
    r"they|that|this|there)\b|\b(it|its|they|them|those|these|that one|the same)\b|"
    r"^(那|那么|还有|它|这个|那个|这些|那些|同样)|[呢吗]\s*[？?]?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Filters:
    """Caller filters, applied on top of the identity's visibility (None: no filter)."""

    contributors: tuple[str, ...] | None = None
    kinds: tuple[str, ...] | None = None
    editions: tuple[str, ...] | None = None

    def as_fields(self) -> dict[str, tuple[str, ...]]:
        pairs = (
            ("contributor", self.contributors),
            ("kind", self.kinds),
            ("edition", self.editions),
        )
        return {field: values for field, values in pairs if values}

    def as_where(self) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = [
            {field: {"$in": list(values)}} for field, values in self.as_fields().items()
        ]
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def standalone_query(question: str, history: Sequence[Turn]) -> str:
    """The retrieval query for a question in a conversation, without an LLM.

    A follow-up ("and what torque for the M8 ones?") borrows the previous user question, so that
    its subject is searched too; a self-contained question is searched as it is.
    """
    earlier = [t.content for t in history if t.role == "user" and t.content.strip()]
    if not earlier:
        return question
    words = re.findall(r"\w+", question)
    if _FOLLOW_UP.search(question.strip()) or len(words) <= 5:
        return f"{earlier[-1]} {question}"
    return question


class HybridRetriever:
    """Dense and keyword candidates for one identity, fused; only visible chunks come out."""

    def __init__(
        self, store: KnowledgeStore, embedder: Embedder, settings: RetrievalSettings
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings

    def retrieve(
        self,
        query: str,
        identity: Identity,
        *,
        k: int | None = None,
        filters: Filters | None = None,
        timings: dict[str, float] | None = None,
    ) -> list[Hit]:
        """The top `k` chunks for `query` that `identity` may see, best first."""
        s = self.settings
        k = k or s.top_k
        filters = filters or Filters()
        t0 = time.perf_counter()
        vector = self.embedder.embed_query(query)
        t1 = time.perf_counter()
        dense = self.store.dense_search(vector, identity, s.dense_k, filters.as_where())
        t2 = time.perf_counter()
        keyword = self.store.keyword_search(query, identity, s.keyword_k, filters.as_fields())
        t3 = time.perf_counter()
        fused: dict[str, float] = {}
        dense_rank: dict[str, int] = {}
        keyword_rank: dict[str, int] = {}
        for rank, m in enumerate(dense):
            dense_rank[m.chunk_id] = rank
            fused[m.chunk_id] = fused.get(m.chunk_id, 0.0) + s.dense_weight / (s.rrf_k + rank + 1)
        for rank, km in enumerate(keyword):
            keyword_rank[km.chunk_id] = rank
            fused[km.chunk_id] = fused.get(km.chunk_id, 0.0) + s.keyword_weight / (
                s.rrf_k + rank + 1
            )
        ranked = sorted(fused, key=lambda cid: (-fused[cid], cid))[: max(k, 1) * 3]
        records = self.store.chunks(ranked, identity)
        hits = [
            Hit(records[cid], fused[cid], dense_rank.get(cid), keyword_rank.get(cid))
            for cid in ranked
            if cid in records and can_see(identity, records[cid].to_metadata())
        ][:k]
        if timings is not None:
            timings.update(
                embed_ms=(t1 - t0) * 1000,
                dense_ms=(t2 - t1) * 1000,
                keyword_ms=(t3 - t2) * 1000,
                fuse_ms=(time.perf_counter() - t3) * 1000,
            )
        return hits
