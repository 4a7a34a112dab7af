"""Chroma adapter: one collection per partition (scope and language), embedded or on a server."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from assistant.access import parse_partition
from assistant.errors import StoreError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VectorMatch:
    chunk_id: str
    distance: float
    metadata: dict[str, Any]


def _client(path: Path, url: str | None) -> Any:
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb

    settings = chromadb.Settings(anonymized_telemetry=False)
    try:
        if url:
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise StoreError(f"chroma_url {url!r}: expected http://host:port")
            return chromadb.HttpClient(
                host=parsed.hostname,
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=settings,
            )
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    except StoreError:
        raise
    except Exception as e:  # chromadb raises bare Exception subclasses of many kinds
        where = url or str(path)
        raise StoreError(f"cannot open Chroma at {where}: {e}") from e


_OPEN_LOCK = threading.RLock()

# Collection suffixes of stores written before partitions carried roles and language.
_LEGACY_SCOPE = re.compile(r"^(public|consortium|org-[a-z0-9-]*-[0-9a-f]{8})(-r)?$")


class ChromaVectorStore:
    """Vectors of chunks in Chroma, one collection per partition (`<prefix>-<partition>`)."""

    def __init__(self, path: Path, *, url: str | None = None, prefix: str = "techkb") -> None:
        self._path = path
        self._url = url
        self._prefix = prefix
        self._client_obj: Any = None
        self._collections: dict[str, Any] = {}
        # Scopes found absent; a lookup costs a list_collections round trip, so remember them
        # until the catalog changes (`forget_missing`): collections appear only with new chunks.
        self._missing: set[str] = set()

    def forget_missing(self) -> None:
        """Look absent collections up again (another process may have created them)."""
        self._missing.clear()

    def refresh(self) -> None:
        """See what other processes wrote since this client opened the store.

        A Chroma server is always current: only absent collections are looked up again. An
        embedded Chroma keeps its own in-memory view of the files; after another process wrote,
        its queries miss the new vectors or fail ("Error finding id") until the view is built
        again, so the shared system of this path is dropped and the client reopened on next use.
        """
        self._missing.clear()
        if self._url or self._client_obj is None:
            return
        from chromadb.api.shared_system_client import SharedSystemClient

        with _OPEN_LOCK:
            identifier = getattr(self._client_obj, "_identifier", None)
            if identifier is not None:
                # Not stopped: another handle in this process may still be mid-call on it.
                SharedSystemClient._identifier_to_system.pop(identifier, None)
                SharedSystemClient._identifier_to_refcount.pop(identifier, None)
            self._collections.clear()
            self._client_obj = None

    @property
    def _client(self) -> Any:
        # Chroma shares one system per path between clients; creating two at once (the
        # retriever's threads) races inside Chroma, so clients are opened one at a time.
        with _OPEN_LOCK:
            if self._client_obj is None:
                self._client_obj = _client(self._path, self._url)
            return self._client_obj

    def _collection(self, partition: str, create: bool) -> Any | None:
        if partition in self._collections:
            return self._collections[partition]
        if not create and partition in self._missing:
            return None
        name = f"{self._prefix}-{partition}"
        try:
            if create:
                col = self._client.get_or_create_collection(
                    name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
                )
            else:
                names = {
                    c.name if hasattr(c, "name") else str(c)
                    for c in self._client.list_collections()
                }
                if name not in names:
                    self._missing.add(partition)
                    return None
                col = self._client.get_collection(name, embedding_function=None)
        except StoreError:
            raise
        except Exception as e:
            raise StoreError(f"Chroma collection {name}: {e}") from e
        self._collections[partition] = col
        self._missing.discard(partition)
        return col

    def add(
        self,
        partition: str,
        ids: Sequence[str],
        embeddings: np.ndarray,
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        col = self._collection(partition, create=True)
        assert col is not None
        try:
            for start in range(0, len(ids), 2000):
                end = start + 2000
                col.upsert(
                    ids=list(ids[start:end]),
                    embeddings=embeddings[start:end].astype(np.float32),
                    metadatas=list(metadatas[start:end]),
                )
        except Exception as e:
            raise StoreError(f"Chroma add to {partition}: {e}") from e

    def delete(self, partition: str, ids: Sequence[str]) -> None:
        col = self._collection(partition, create=False)
        if col is None or not ids:
            return
        try:
            col.delete(ids=list(ids))
        except Exception as e:
            raise StoreError(f"Chroma delete from {partition}: {e}") from e

    def _own_collections(self, legacy: bool = False) -> list[str]:
        """Names of this store's collections (`<prefix>-<partition>`, nothing else on the
        server); with `legacy`, those of the layout before partitions instead."""
        names = [c.name if hasattr(c, "name") else str(c) for c in self._client.list_collections()]
        head = f"{self._prefix}-"
        own = [n[len(head) :] for n in names if n.startswith(head)]
        if legacy:
            return [head + n for n in own if _LEGACY_SCOPE.match(n)]
        return [head + n for n in own if parse_partition(n) is not None]

    def get_vectors(self, partition: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by chunk id (those found) from one partition."""
        col = self._collection(partition, create=False)
        if col is None or not ids:
            return {}
        out: dict[str, np.ndarray] = {}
        try:
            for start in range(0, len(ids), 2000):
                got = col.get(ids=list(ids[start : start + 2000]), include=["embeddings"])
                arrays = np.asarray(got["embeddings"], dtype=np.float32)
                out.update(zip(got["ids"], arrays, strict=True))
        except Exception as e:
            raise StoreError(f"Chroma read of {partition}: {e}") from e
        return out

    def drop(self, name: str) -> None:
        """Delete one whole collection (by full name) if it exists."""
        try:
            self._client.delete_collection(name)
        except Exception as e:  # absent already: nothing to do
            logger.info("Chroma collection %s not dropped: %s", name, e)
        self._collections.clear()

    def delete_document(self, doc_id: str) -> None:
        """Delete every vector of a document in every partition (crash repair; slow path)."""
        try:
            for name in self._own_collections():
                self._client.get_collection(name, embedding_function=None).delete(
                    where={"doc_id": doc_id}
                )
        except Exception as e:
            raise StoreError(f"Chroma delete of document {doc_id}: {e}") from e

    def query(
        self,
        embedding: np.ndarray,
        partitions: Sequence[str],
        k: int,
        where: dict[str, Any] | None = None,
        *,
        with_metadata: bool = True,
        pool: Executor | None = None,
    ) -> dict[str, list[VectorMatch]]:
        """The `k` nearest chunks of each partition (cosine distance, lower is nearer).

        Partitions are queried without a metadata filter unless the caller gives `where`
        (caller filters such as contributor or edition); with a `pool`, concurrently.
        """
        include = ["distances", "metadatas"] if with_metadata else ["distances"]

        # Collections are looked up here, not in the pool's threads.
        cols = {name: self._collection(name, create=False) for name in partitions}

        def one(partition: str) -> list[VectorMatch]:
            col = cols[partition]
            if col is None:
                return []
            res = self._query_scope(partition, col, embedding, k, where, include)
            if res is None:
                return []
            metas = res["metadatas"][0] if with_metadata else [None] * len(res["ids"][0])
            return [
                VectorMatch(cid, float(dist), dict(meta or {}))
                for cid, dist, meta in zip(res["ids"][0], res["distances"][0], metas, strict=True)
            ]

        names = list(cols)
        if pool is None or len(names) < 2:
            return {name: one(name) for name in names}
        return dict(zip(names, pool.map(one, names), strict=True))

    def _query_scope(
        self,
        partition: str,
        col: Any,
        embedding: np.ndarray,
        k: int,
        flt: dict[str, Any] | None,
        include: list[str],
    ) -> Any:
        """One collection's query; an embedded store reopens once if another process wrote."""
        for attempt in (1, 2):
            try:
                return col.query(
                    query_embeddings=[embedding.astype(np.float32)],
                    n_results=k,
                    where=flt,
                    include=include,
                )
            except Exception as e:
                if attempt == 2 or self._url:
                    raise StoreError(f"Chroma query of {partition}: {e}") from e
                logger.info("Chroma query of %s failed (%s); reopening the store", partition, e)
                self.refresh()
                col = self._collection(partition, create=False)
                if col is None:
                    return None
        return None

    def count(self) -> int:
        return sum(
            self._client.get_collection(name, embedding_function=None).count()
            for name in self._own_collections()
        )

    def close(self) -> None:
        self._collections.clear()
        self._missing.clear()
        self._client_obj = None
