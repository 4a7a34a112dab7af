"""The knowledge store: catalog (SQLite) + vectors (Chroma) + keyword index (BM25), kept in step."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from assistant.access import can_see, scope_of, scopes_for
from assistant.errors import StoreError
from assistant.store.catalog import Catalog, DocumentRecord
from assistant.store.chroma import ChromaVectorStore, VectorMatch
from assistant.store.keyword import BM25KeywordIndex, KeywordMatch
from assistant.types import Chunk, Identity

logger = logging.getLogger(__name__)

__all__ = ["DocumentRecord", "KeywordMatch", "KnowledgeStore", "VectorMatch", "scope_for_chunk"]


def scope_for_chunk(chunk: Chunk) -> str:
    return scope_of(chunk.visibility, chunk.contributor, restricted=bool(chunk.allowed_roles))


class KnowledgeStore:
    """Everything stored under one home directory (or a Chroma server plus that directory)."""

    def __init__(
        self, home: Path, *, chroma_url: str | None = None, prefix: str = "techkb"
    ) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(home / "catalog.sqlite3")
        self.vectors = ChromaVectorStore(home / "chroma", url=chroma_url, prefix=prefix)
        # Multilingual vectors (another model, another dimension) live in their own collections.
        self.ml_vectors = ChromaVectorStore(home / "chroma", url=chroma_url, prefix=f"{prefix}-ml")
        self._indexes = (self.vectors, self.ml_vectors)
        self._vectors_version = -1  # catalog version the Chroma collection lookups reflect
        self._keyword = BM25KeywordIndex(home / "keyword")
        self._keyword_lock = FileLock(str(home / "keyword.lock"))

    def close(self) -> None:
        for index in self._indexes:
            index.close()
        self.catalog.close()

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
        scopes = [scope_for_chunk(c) for c in chunks]
        by_scope: dict[str, list[int]] = {}
        for i, scope in enumerate(scopes):
            by_scope.setdefault(scope, []).append(i)
        pairs = [(self.vectors, vectors), (self.ml_vectors, ml_vectors)]
        for scope, idx in by_scope.items():
            ids = [chunks[i].chunk_id for i in idx]
            metadatas = [chunks[i].to_metadata() for i in idx]
            for index, array in pairs:
                if array is not None:
                    index.add(scope, ids, array[idx], metadatas)
        self.catalog.commit_document(
            doc_id, title, contributor, list(zip(scopes, chunks, strict=True))
        )

    def _delete_vectors(self, doc_id: str) -> None:
        for scope, ids in self.catalog.chunk_scopes(doc_id).items():
            for index in self._indexes:
                index.delete(scope, ids)

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
        """The keyword index, rebuilt from the catalog when another process changed the store."""
        version = self.catalog.version()
        if self._keyword.version == version:
            return self._keyword
        with self._keyword_lock:
            if self._keyword.load() and self._keyword.version == version:
                return self._keyword
            logger.info("rebuilding the keyword index (catalog version %d)", version)
            self._keyword.build(self.catalog.iter_chunks(), version)
        return self._keyword

    def dense_search(
        self,
        embedding: np.ndarray,
        identity: Identity,
        k: int,
        where: dict[str, Any] | None = None,
        multilingual: bool = False,
    ) -> list[VectorMatch]:
        """Nearest visible chunks: only the identity's scopes are queried, each hit re-checked."""
        version = self.catalog.version()
        if version != self._vectors_version:
            if self._vectors_version >= 0:
                for index in self._indexes:
                    index.refresh()
            self._vectors_version = version
        vectors = self.ml_vectors if multilingual else self.vectors
        matches = vectors.query(embedding, scopes_for(identity), k, where)
        return [m for m in matches if can_see(identity, m.metadata)]

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
