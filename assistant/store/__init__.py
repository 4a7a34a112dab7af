"""The knowledge store: catalog (SQLite or PostgreSQL) + vectors (Chroma) + keyword index (BM25),
kept in step."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from assistant.access import can_see, may_read_partition, parse_partition, partition_of, scope_of
from assistant.errors import StoreError
from assistant.language import squash
from assistant.store.catalog import Catalog, DocumentRecord
from assistant.store.chroma import ChromaVectorStore, VectorMatch
from assistant.store.keyword import (
    TOKENIZER_VERSION,
    BM25KeywordIndex,
    KeywordMatch,
    keyword_text,
    tokenize,
)
from assistant.store.protocol import Store
from assistant.types import Chunk, Identity

logger = logging.getLogger(__name__)

__all__ = [
    "DocumentRecord",
    "KeywordMatch",
    "KnowledgeStore",
    "Store",
    "VectorMatch",
    "merge_matches",
    "partition_for_chunk",
]

# Storage layout: 2 = one collection per (scope, restricting roles, language).
LAYOUT = "2"


def partition_for_chunk(chunk: Chunk) -> str:
    return partition_of(
        scope_of(chunk.visibility, chunk.contributor, chunk.allowed_roles), chunk.language
    )


def partition_language(partition: str) -> str:
    """The language tag of a partition name ("" when it is not one)."""
    part = parse_partition(partition)
    return "" if part is None else part.language


def merge_matches(groups: Iterable[list[VectorMatch]], k: int) -> list[VectorMatch]:
    """The `k` nearest of several partitions' results."""
    merged = [m for group in groups for m in group]
    merged.sort(key=lambda m: (m.distance, m.chunk_id))
    return merged[:k]


class KnowledgeStore:
    """Everything stored under one home directory, or in a Chroma server and a database plus
    that directory.

    Args:
        home: the store home (catalog file, embedded Chroma, lock files).
        chroma_url: a Chroma server to hold the vectors instead of `home / "chroma"`.
        prefix: the first part of this store's collection names.
        database_url: a PostgreSQL database to hold the catalog instead of
            `home / "catalog.sqlite3"` (see `assistant.db`).
    """

    def __init__(
        self,
        home: Path,
        *,
        chroma_url: str | None = None,
        prefix: str = "techkb",
        database_url: str | None = None,
    ) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog.open(home, database_url)
        self.vectors = ChromaVectorStore(home / "chroma", url=chroma_url, prefix=prefix)
        # Multilingual vectors (another model, another dimension) live in their own collections.
        self.ml_vectors = ChromaVectorStore(home / "chroma", url=chroma_url, prefix=f"{prefix}-ml")
        self._indexes = (self.vectors, self.ml_vectors)
        self._vectors_version = -1  # catalog version the Chroma collection lookups reflect
        self._partitions: list[str] = []
        self._keyword = BM25KeywordIndex()
        self._lock = FileLock(str(home / "store.lock"))  # one process moves an older layout
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="techkb-query")
        self._migrate()
        if self.catalog.get_meta("tokenizer") != TOKENIZER_VERSION:
            with self._lock:
                self.catalog.forget_tokens()
                self.catalog.set_meta("tokenizer", TOKENIZER_VERSION)

    def close(self) -> None:
        for index in self._indexes:
            index.close()
        self._pool.shutdown(wait=False)
        self.catalog.close()

    def _migrate(self) -> None:
        """Move a store written in the layout before partitions into partitions, once.

        Vectors are copied into their partition and the catalog updated before the old
        collection is dropped, so an interrupted migration resumes where it stopped. A catalog
        without chunks (every new catalog, and so every database one) is marked as partitioned
        at once: the file lock, which stores sharing a database across hosts do not share,
        only ever guards a SQLite home written before partitions.
        """
        if self.catalog.get_meta("layout") == LAYOUT:
            return
        if self.catalog.count_chunks() == 0:
            self._drop_legacy_collections()
            self.catalog.set_meta("layout", LAYOUT)
            return
        with self._lock:
            if self.catalog.get_meta("layout") == LAYOUT:
                return
            moves: dict[tuple[str, str], list[str]] = {}
            for scope, chunk in self.catalog.iter_chunks():
                target = partition_for_chunk(chunk)
                if scope != target:
                    moves.setdefault((scope, target), []).append(chunk.chunk_id)
            if moves:
                logger.warning("moving %s to the partitioned layout", self.home)
            for (old, new), ids in moves.items():
                for index in self._indexes:
                    found = index.get_vectors(old, ids)
                    if not found:
                        continue
                    kept = [cid for cid in ids if cid in found]
                    records = self.catalog.get_chunks(kept)
                    index.add(
                        new,
                        kept,
                        np.stack([found[cid] for cid in kept]),
                        [records[cid].to_metadata() for cid in kept],
                    )
                self.catalog.set_scopes(ids, new)
            self._drop_legacy_collections()
            self.catalog.set_meta("layout", LAYOUT)

    def _drop_legacy_collections(self) -> None:
        for index in self._indexes:
            for name in index._own_collections(legacy=True):
                index.drop(name)

    # -- writing --------------------------------------------------------------------------------
    def check_embedder(self, name: str, multilingual: str | None = None) -> None:
        """Refuse to mix vectors of two embedders in one store.

        Raises:
            StoreError: the store holds chunks embedded with another model.
        """
        wanted = {"embedder": name, "embedder_ml": multilingual or ""}
        empty = self.catalog.count_chunks() == 0
        for key, value in wanted.items():
            stored = self.catalog.get_meta(key)
            if stored is None or empty:
                self.catalog.set_meta(key, value)
            elif stored != value:
                raise StoreError(
                    f"{self.home}: store was built with {key} {stored or 'none'!r}, not "
                    f"{value or 'none'!r}; ingest into a fresh --store or switch the setting back"
                )

    def multilingual_name(self) -> str | None:
        """The multilingual embedder the stored chunks were embedded with, if any."""
        return self.catalog.get_meta("embedder_ml") or None

    def begin_document(self, doc_id: str, root: str, source: str, sha256: str) -> None:
        self.catalog.mark_pending(doc_id, root, source, sha256)

    def write_document(
        self,
        doc_id: str,
        title: str,
        contributor: str,
        chunks: list[Chunk],
        vectors: np.ndarray,
        ml_vectors: np.ndarray | None = None,
    ) -> None:
        """Replace a (pending) document's chunks with these, then mark it complete."""
        self._delete_vectors(doc_id)
        partitions = [partition_for_chunk(c) for c in chunks]
        by_partition: dict[str, list[int]] = {}
        for i, partition in enumerate(partitions):
            by_partition.setdefault(partition, []).append(i)
        pairs = [(self.vectors, vectors), (self.ml_vectors, ml_vectors)]
        for partition, idx in by_partition.items():
            ids = [chunks[i].chunk_id for i in idx]
            metadatas = [chunks[i].to_metadata() for i in idx]
            for index, array in pairs:
                if array is not None:
                    index.add(partition, ids, array[idx], metadatas)
        # Keyword tokens are stored with the chunk, so that rebuilding the keyword index
        # after an ingest re-reads them instead of tokenizing the whole store again.
        tokens = [tokenize(keyword_text(c)) for c in chunks]
        self.catalog.commit_document(
            doc_id, title, contributor, list(zip(partitions, chunks, tokens, strict=True))
        )

    def _delete_vectors(self, doc_id: str) -> None:
        for partition, ids in self.catalog.chunk_scopes(doc_id).items():
            for index in self._indexes:
                index.delete(partition, ids)

    def remove_document(self, doc_id: str) -> None:
        self._delete_vectors(doc_id)
        self.catalog.remove_document(doc_id)

    def repair_pending(self) -> list[DocumentRecord]:
        """Drop every vector of documents a crash left half-written; return those documents."""
        pending = self.catalog.pending()
        for doc in pending:
            logger.warning("repairing %s left pending by an interrupted ingest", doc.source)
            for index in self._indexes:
                index.delete_document(doc.doc_id)
            self.catalog.remove_document(doc.doc_id)
        return pending

    # -- reading --------------------------------------------------------------------------------
    def keyword_index(self) -> BM25KeywordIndex:
        """The keyword index, brought up to date when this or another process changed the
        store (only the chunks added since the last look are read and indexed)."""
        version = self.catalog.version()
        if self._keyword.version != version:
            self._keyword.sync(self.catalog, version)
        return self._keyword

    def mentions(self, code: str, identity: Identity, limit: int = 200) -> bool:
        """Whether a chunk the identity may see names `code`, however it is written there:
        "HX-R20", "HX R20", "hx‑r20", or inside a longer code ("NLC-PLC-220" for "PLC-220")."""
        index = self.keyword_index()
        if index.mentions(code, identity):
            return True
        parts = [t for p in re.split(r"[^0-9a-z]+", code.lower()) if p for t in tokenize(p)[:1]]
        if len(parts) < 2:
            return False
        wanted = squash(code)
        ids = index.holding_all(parts, identity, limit)
        return any(wanted in squash(keyword_text(c)) for c in self.chunks(ids, identity).values())

    def _sync_partitions(self) -> None:
        """Follow the catalog: the partitions holding chunks, and other processes' writes."""
        version = self.catalog.version()
        if version == self._vectors_version:
            return
        if self._vectors_version >= 0:
            for index in self._indexes:
                index.refresh()
        self._partitions = self.catalog.scopes()
        self._vectors_version = version

    def readable_partitions(self, identity: Identity) -> list[str]:
        """The partitions holding chunks whose every chunk `identity` may see."""
        self._sync_partitions()
        return [p for p in self._partitions if may_read_partition(identity, p)]

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
        """The `k` nearest visible chunks in each language (partitions queried concurrently).

        Only partitions the identity may read are queried (no metadata filter); with metadata,
        each hit is re-checked as well. Without it, the caller must check the records it uses.
        `skip_languages` leaves out partitions whose language tag it accepts. `partitions`,
        from `readable_partitions` of the same identity, spares a catalog read when the caller
        already has them (any thread may search: each takes its own pooled connection).
        """
        vectors = self.ml_vectors if multilingual else self.vectors
        if partitions is None:
            partitions = self.readable_partitions(identity)
        if skip_languages is not None:
            partitions = [p for p in partitions if not skip_languages(partition_language(p))]
        found = vectors.query(
            embedding, partitions, k, where, with_metadata=with_metadata, pool=self._pool
        )
        by_language: dict[str, list[list[VectorMatch]]] = {}
        for name, matches in found.items():
            part = parse_partition(name)
            if part is None:
                continue
            if with_metadata:
                matches = [m for m in matches if can_see(identity, m.metadata)]
            by_language.setdefault(part.language, []).append(matches)
        return {lang: merge_matches(groups, k) for lang, groups in by_language.items()}

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
        """The `k` nearest visible chunks, all languages together."""
        by_language = self.dense_search_by_language(
            embedding,
            identity,
            k,
            where,
            multilingual,
            with_metadata=with_metadata,
            skip_languages=skip_languages,
            partitions=partitions,
        )
        return merge_matches(by_language.values(), k)

    def keyword_search(
        self, query: str, identity: Identity, k: int, filters: Mapping[str, Sequence[str]] | None
    ) -> list[KeywordMatch]:
        index = self.keyword_index()
        extra = None
        for field, allowed in (filters or {}).items():
            mask = index.filter_mask(field, allowed)
            extra = mask if extra is None else extra * mask
        return index.search(query, identity, k, extra)

    def chunks(self, chunk_ids: list[str], identity: Identity) -> dict[str, Chunk]:
        """Chunk records by id, only those the identity may see."""
        found = self.catalog.get_chunks(chunk_ids)
        return {cid: c for cid, c in found.items() if can_see(identity, c.to_metadata())}

    def document_chunks(self, doc_id: str, identity: Identity) -> list[Chunk]:
        """All chunks of a document that the identity may see, in document order."""
        return [
            c for c in self.catalog.document_chunks(doc_id) if can_see(identity, c.to_metadata())
        ]
