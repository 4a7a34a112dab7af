"""The catalog: a SQLite record of documents and chunks, the store's source of truth.

Chroma holds vectors, the keyword index is rebuilt from here, and the `version` counter tells
every process sharing the store when its keyword index is stale. A document is `pending` while
its chunks are being replaced, so a crash leaves a marker the next ingest repairs.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.db import setup_lock
from assistant.errors import StoreError
from assistant.types import Chunk

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    root TEXT NOT NULL,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'complete')),
    title TEXT NOT NULL DEFAULT '',
    contributor TEXT NOT NULL DEFAULT '',
    n_chunks INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL,
    UNIQUE (root, source)
);
CREATE TABLE IF NOT EXISTS chunks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    scope TEXT NOT NULL,
    body TEXT NOT NULL,
    tokens TEXT
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_scope ON chunks(scope);
"""


@dataclass(frozen=True)
class DocumentRecord:
    doc_id: str
    root: str
    source: str
    sha256: str
    status: str
    title: str
    contributor: str
    n_chunks: int


class Catalog:
    """SQLite catalog of documents and chunks (WAL mode, safe for several processes)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self._db = sqlite3.connect(path, timeout=60, isolation_level=None)
            # Switching to WAL and creating the schema take locks SQLite may refuse at once,
            # without waiting, while another process does the same on a new catalog: set up
            # one process at a time.
            with setup_lock(path):
                self._setup()
        except (sqlite3.Error, OSError) as e:
            raise StoreError(f"{path}: cannot open the catalog: {e}") from e

    def _setup(self) -> None:
        if self._db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(chunks)")}
        if "tokens" not in columns:  # a catalog written before tokens were stored
            self._db.execute("ALTER TABLE chunks ADD COLUMN tokens TEXT")

    def close(self) -> None:
        self._db.close()

    # -- meta ---------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def version(self) -> int:
        """A counter bumped by every committed change to the chunks."""
        return int(self.get_meta("version") or 0)

    def _bump(self) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES ('version', '1') ON CONFLICT(key) "
            "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    # -- documents ----------------------------------------------------------------------------
    def documents(self, root: str | None = None) -> list[DocumentRecord]:
        sql = "SELECT doc_id, root, source, sha256, status, title, contributor, n_chunks "
        sql += "FROM documents" + (" WHERE root=?" if root is not None else "")
        rows = self._db.execute(sql, (root,) if root is not None else ()).fetchall()
        return [DocumentRecord(*row) for row in rows]

    def pending(self) -> list[DocumentRecord]:
        return [d for d in self.documents() if d.status == "pending"]

    def mark_pending(self, doc_id: str, root: str, source: str, sha256: str) -> None:
        """Record that a document's chunks are about to change (before touching vectors)."""
        self._db.execute(
            "INSERT INTO documents(doc_id, root, source, sha256, status, updated_at) "
            "VALUES (?, ?, ?, ?, 'pending', ?) ON CONFLICT(doc_id) DO UPDATE SET "
            "status='pending', sha256=excluded.sha256, updated_at=excluded.updated_at",
            (doc_id, root, source, sha256, time.time()),
        )

    def chunk_scopes(self, doc_id: str) -> dict[str, list[str]]:
        """The stored chunk ids of a document, by scope."""
        out: dict[str, list[str]] = {}
        rows = self._db.execute("SELECT scope, chunk_id FROM chunks WHERE doc_id=?", (doc_id,))
        for scope, chunk_id in rows:
            out.setdefault(scope, []).append(chunk_id)
        return out

    def commit_document(
        self,
        doc_id: str,
        title: str,
        contributor: str,
        chunks: list[tuple[str, Chunk, list[str] | None]],
    ) -> None:
        """Replace a document's chunks (partition, chunk, keyword tokens) and mark it complete,
        in one transaction."""
        with self._transaction():
            self._db.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
            self._db.executemany(
                "INSERT INTO chunks(chunk_id, doc_id, scope, body, tokens) VALUES (?, ?, ?, ?, ?)",
                [
                    (c.chunk_id, doc_id, scope, c.to_json(), None if t is None else " ".join(t))
                    for scope, c, t in chunks
                ],
            )
            self._db.execute(
                "UPDATE documents SET status='complete', title=?, contributor=?, n_chunks=?, "
                "updated_at=? WHERE doc_id=?",
                (title, contributor, len(chunks), time.time(), doc_id),
            )
            self._bump()

    def remove_document(self, doc_id: str) -> None:
        with self._transaction():
            self._db.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
            self._db.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))
            self._bump()

    # -- chunks -------------------------------------------------------------------------------
    def count_chunks(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def iter_chunks(self) -> Iterator[tuple[str, Chunk]]:
        """Every stored chunk with its scope, in insertion order."""
        for scope, body in self._db.execute("SELECT scope, body FROM chunks ORDER BY seq"):
            yield scope, Chunk.from_json(body)

    def iter_index_rows(self, after: int = 0) -> Iterator[tuple[int, Chunk, list[str] | None]]:
        """Chunks stored after sequence number `after`, in insertion order: (seq, chunk, keyword
        tokens or None when not stored). Sequence numbers only grow, and a replaced document's
        chunks get new ones."""
        rows = self._db.execute(
            "SELECT seq, body, tokens FROM chunks WHERE seq > ? ORDER BY seq", (after,)
        )
        for seq, body, tokens in rows:
            yield int(seq), Chunk.from_json(body), (None if tokens is None else tokens.split())

    def forget_tokens(self) -> None:
        """Drop every stored keyword token list (the tokenizer changed)."""
        self._db.execute("UPDATE chunks SET tokens=NULL")

    def store_tokens(self, rows: list[tuple[int, list[str]]]) -> None:
        """Keep the keyword tokens of chunks stored without them (by seq)."""
        with self._transaction():
            self._db.executemany(
                "UPDATE chunks SET tokens=? WHERE seq=? AND tokens IS NULL",
                [(" ".join(tokens), seq) for seq, tokens in rows],
            )

    def chunk_seqs(self) -> np.ndarray:
        """The sequence numbers of every stored chunk."""
        rows = self._db.execute("SELECT seq FROM chunks").fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def scopes(self) -> list[str]:
        """The partitions (collection suffixes) that hold at least one chunk."""
        rows = self._db.execute("SELECT DISTINCT scope FROM chunks ORDER BY scope")
        return [str(scope) for (scope,) in rows]

    def set_scopes(self, chunk_ids: list[str], scope: str) -> None:
        """Record that these chunks' vectors now live in partition `scope`."""
        with self._transaction():
            for start in range(0, len(chunk_ids), 500):
                part = chunk_ids[start : start + 500]
                marks = ",".join("?" * len(part))
                self._db.execute(
                    f"UPDATE chunks SET scope=? WHERE chunk_id IN ({marks})", [scope, *part]
                )

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        """Every chunk of one document, in document order."""
        rows = self._db.execute("SELECT body FROM chunks WHERE doc_id=?", (doc_id,))
        return sorted((Chunk.from_json(body) for (body,) in rows), key=lambda c: c.chunk_index)

    def get_chunks(self, chunk_ids: list[str]) -> dict[str, Chunk]:
        out: dict[str, Chunk] = {}
        for start in range(0, len(chunk_ids), 500):
            part = chunk_ids[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT chunk_id, body FROM chunks WHERE chunk_id IN ({marks})", part
            )
            out.update({cid: Chunk.from_json(body) for cid, body in rows})
        return out

    def _transaction(self) -> _Tx:
        return _Tx(self._db)


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
