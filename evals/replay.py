"""Retrieval replayed from deep rankings recorded once per query, for contributor-subset runs.

The contributor-value game answers every eval item once per subset of contributors (2^7 = 128
subsets on the demo). Re-running retrieval for each would take hours, so `ReplayStore` stands
in for the `KnowledgeStore` behind a normal `HybridRetriever`: the first time a query vector or
keyword query is seen it asks the real store for the *complete* ranking of every chunk the
identity may see, and afterwards answers each search by filtering that ranking with the same
`where` clause or field filters the real store would have applied, and cutting it at `k`. A
ranking that holds every visible chunk, filtered, is exactly what a filtered search returns, so
the retriever's own fusion code runs unchanged on top. Identity visibility is applied by the
real store when the ranking is recorded, and re-checked on every chunk lookup. `ReplayStore`
implements the `Store` protocol (what retrieval and the assistant read); the methods it does
not replay pass through to the real store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from assistant.access import can_see
from assistant.store import KeywordMatch, KnowledgeStore, VectorMatch, merge_matches
from assistant.store.keyword import BM25KeywordIndex
from assistant.types import Answer, Chunk, Hit, Identity, Turn

logger = logging.getLogger(__name__)

_Where = Mapping[str, Any]


def compile_where(where: _Where | None) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate over chunk metadata equal to a Chroma `where` clause ($and/$or/$eq/$ne/$in/$nin).

    A field missing from the metadata matches no condition on it, as in Chroma.

    Raises:
        ValueError: an operator this evaluator does not know (so nothing is silently dropped).
    """
    if not where:
        return lambda meta: True
    tests: list[Callable[[Mapping[str, Any]], bool]] = []
    for key, cond in where.items():
        if key == "$and":
            parts = [compile_where(c) for c in cond]
            tests.append(lambda meta, parts=parts: all(p(meta) for p in parts))  # type: ignore[misc]
        elif key == "$or":
            parts = [compile_where(c) for c in cond]
            tests.append(lambda meta, parts=parts: any(p(meta) for p in parts))  # type: ignore[misc]
        else:
            tests.append(_field_test(key, cond))
    if len(tests) == 1:
        return tests[0]
    return lambda meta: all(t(meta) for t in tests)


def _field_test(key: str, cond: Any) -> Callable[[Mapping[str, Any]], bool]:
    if not isinstance(cond, Mapping):
        cond = {"$eq": cond}
    unknown = set(cond) - {"$eq", "$ne", "$in", "$nin"}
    if unknown:
        raise ValueError(f"where operator {sorted(unknown)} is not supported by the replay store")
    checks: list[Callable[[Any], bool]] = []
    for op, arg in cond.items():
        if op == "$eq":
            checks.append(lambda v, arg=arg: v == arg)  # type: ignore[misc]
        elif op == "$ne":
            checks.append(lambda v, arg=arg: v != arg)  # type: ignore[misc]
        elif op == "$in":
            checks.append(lambda v, allowed=frozenset(arg): v in allowed)  # type: ignore[misc]
        else:
            checks.append(lambda v, banned=frozenset(arg): v not in banned)  # type: ignore[misc]

    def test(meta: Mapping[str, Any]) -> bool:
        value = meta.get(key)
        return value is not None and all(c(value) for c in checks)

    return test


def matches_where(where: _Where | None, meta: Mapping[str, Any]) -> bool:
    """Whether chunk metadata satisfies a Chroma `where` clause (see `compile_where`)."""
    return compile_where(where)(meta)


class ReplayStore:
    """A read-only `Store` that serves searches from recorded full rankings.

    Args:
        store: the real store (rankings are recorded from it, chunks looked up in it).
    """

    def __init__(self, store: KnowledgeStore) -> None:
        self.store = store
        self.depth = max(store.catalog.count_chunks(), 1)
        self._dense: dict[tuple[bytes, bool, str], dict[str, list[VectorMatch]]] = {}
        self._keyword: dict[tuple[str, str], list[KeywordMatch]] = {}
        self._records: dict[str, Chunk | None] = {}
        self._docs: dict[str, list[Chunk]] = {}
        self._seen: dict[tuple[str, str], bool] = {}

    def readable_partitions(self, identity: Identity) -> list[str]:
        """The real store's partitions `identity` may read (passed through)."""
        return self.store.readable_partitions(identity)

    def dense_search_by_language(
        self,
        embedding: np.ndarray,
        identity: Identity,
        k: int,
        where: dict[str, Any] | None = None,
        multilingual: bool = False,
        *,
        with_metadata: bool = True,
        skip_languages: Callable[[str], bool] | None = None,
        partitions: Sequence[str] | None = None,
    ) -> dict[str, list[VectorMatch]]:
        """Per language, the first `k` chunks of the full visible ranking that satisfy `where`."""
        key = (np.asarray(embedding, dtype=np.float32).tobytes(), multilingual, identity.key())
        full = self._dense.get(key)
        if full is None:
            full = self.store.dense_search_by_language(
                embedding, identity, self.depth, None, multilingual, partitions=partitions
            )
            self._dense[key] = full
        test = compile_where(where)
        out: dict[str, list[VectorMatch]] = {}
        for language, matches in full.items():
            if skip_languages is not None and skip_languages(language):
                continue
            kept = out.setdefault(language, [])
            for m in matches:
                if len(kept) >= k:
                    break
                if test(m.metadata):
                    kept.append(m)
        return out

    def dense_search(
        self,
        embedding: np.ndarray,
        identity: Identity,
        k: int,
        where: dict[str, Any] | None = None,
        multilingual: bool = False,
        *,
        with_metadata: bool = True,
        skip_languages: Callable[[str], bool] | None = None,
        partitions: Sequence[str] | None = None,
    ) -> list[VectorMatch]:
        """The first `k` chunks of the full visible ranking that satisfy `where`."""
        found = self.dense_search_by_language(
            embedding,
            identity,
            k,
            where,
            multilingual,
            skip_languages=skip_languages,
            partitions=partitions,
        )
        return merge_matches(found.values(), k)

    def keyword_search(
        self,
        query: str,
        identity: Identity,
        k: int,
        filters: Mapping[str, Sequence[str]] | None,
    ) -> list[KeywordMatch]:
        """The first `k` BM25 matches of the full visible ranking whose fields pass `filters`."""
        key = (query, identity.key())
        full = self._keyword.get(key)
        if full is None:
            full = self.store.keyword_search(query, identity, self.depth, None)
            self._keyword[key] = full
            self._remember([m.chunk_id for m in full])
        out: list[KeywordMatch] = []
        for m in full:
            chunk = self._records.get(m.chunk_id)
            if chunk is not None and _passes(chunk, filters):
                out.append(m)
                if len(out) >= k:
                    break
        return out

    def _remember(self, chunk_ids: list[str]) -> None:
        missing = [cid for cid in chunk_ids if cid not in self._records]
        if missing:
            found = self.store.catalog.get_chunks(missing)
            for cid in missing:
                self._records[cid] = found.get(cid)

    def chunks(self, chunk_ids: list[str], identity: Identity) -> dict[str, Chunk]:
        """Chunk records by id, only those the identity may see (cached lookups)."""
        self._remember(list(chunk_ids))
        out: dict[str, Chunk] = {}
        who = identity.key()
        for cid in chunk_ids:
            chunk = self._records.get(cid)
            if chunk is None:
                continue
            key = (cid, who)
            if key not in self._seen:
                self._seen[key] = can_see(identity, chunk.to_metadata())
            if self._seen[key]:
                out[cid] = chunk
        return out

    def document_chunks(self, doc_id: str, identity: Identity) -> list[Chunk]:
        """All chunks of a document the identity may see, in document order (cached)."""
        if doc_id not in self._docs:
            self._docs[doc_id] = self.store.catalog.document_chunks(doc_id)
        return [c for c in self._docs[doc_id] if can_see(identity, c.to_metadata())]

    def keyword_index(self) -> BM25KeywordIndex:
        """The real store's keyword index (passed through)."""
        return self.store.keyword_index()

    def mentions(self, code: str, identity: Identity, limit: int = 200) -> bool:
        """Whether a chunk the identity may see names `code` (passed through)."""
        return self.store.mentions(code, identity, limit)


def _passes(chunk: Chunk, filters: Mapping[str, Sequence[str]] | None) -> bool:
    for field, allowed in (filters or {}).items():
        value = getattr(chunk, field, None) or ""
        if value not in allowed:
            return False
    return True


class CachedEmbedder:
    """An embedder whose query vectors are computed once per text (documents pass through).

    While `fresh` is set every query is embedded anew (and remembered), so that a timed ask
    pays for its own embedding even when an earlier item asked the same thing.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.fresh = False
        self._queries: dict[str, np.ndarray] = {}

    def embed_query(self, text: str) -> np.ndarray:
        if self.fresh or text not in self._queries:
            self._queries[text] = self.inner.embed_query(text)
        return self._queries[text]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def cached_texts(embed: Callable[[Sequence[str]], np.ndarray]) -> Callable[..., np.ndarray]:
    """`embed(texts)` with every text's vector computed once (the answerer re-reads sentences)."""
    memo: dict[str, np.ndarray] = {}

    def wrapped(texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in memo))
        if missing:
            for text, vector in zip(missing, embed(missing), strict=True):
                memo[text] = vector
        if not texts:
            return embed(texts)
        return np.stack([memo[t] for t in texts])

    return wrapped


def hit_key(hits: Sequence[Hit]) -> tuple[tuple[str, float, int | None, int | None], ...]:
    """Everything of the hits an answerer can read besides the chunk text (fixed per id)."""
    return tuple((h.chunk.chunk_id, round(h.score, 12), h.dense_rank, h.keyword_rank) for h in hits)


class SkipAnswer(Exception):
    """Raised by `MemoAnswerer` when its gate says no answer from these hits can matter."""


class MemoAnswerer:
    """An answerer that answers each distinct (question, hits, mode, history) once.

    `gate`, when set, sees the hits first; returning False raises `SkipAnswer` instead of
    answering (e.g. no gold source among the hits: no answer from them can cite one).
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls = 0
        self.skipped = 0
        self.gate: Callable[[Sequence[Hit]], bool] | None = None
        self._memo: dict[Any, Answer] = {}

    def answer(
        self, question: str, hits: Sequence[Hit], *, mode: str, history: Sequence[Turn]
    ) -> Answer:
        if self.gate is not None and not self.gate(hits):
            self.skipped += 1
            raise SkipAnswer()
        key = (question, mode, tuple(history), hit_key(hits))
        if key not in self._memo:
            self.calls += 1
            self._memo[key] = self.inner.answer(question, hits, mode=mode, history=history)
        return self._memo[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
