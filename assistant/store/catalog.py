"""The catalog: the record of documents and chunks, the store's source of truth, in a SQLite
file in the store home or in the shared PostgreSQL database (`store.database_url`).

Chroma holds vectors, the keyword index is rebuilt from here, and the `version` counter tells
every process sharing the store when its keyword index is stale. A document is `pending` while
its chunks are being replaced, so a crash leaves a marker the next ingest repairs.

Keyword indexes catch up by reading the chunks whose `seq` is above the last one they saw, which
holds only if chunks become visible in `seq` order. SQLite serialises writers; on PostgreSQL an
identity value is handed out before its transaction commits, so every catalog write first takes
one advisory lock, held until it commits: seq order is then commit order there too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assistant.db import Component, Database, open_component, portable
from assistant.types import Chunk

# Step 1 is, on SQLite, the schema catalogs had before migrations were recorded, so that an
# existing catalog file opens unchanged; `portable` spells its types for each dialect.
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
    updated_at {real} NOT NULL,
    UNIQUE (root, source)
);
CREATE TABLE IF NOT EXISTS chunks (
    seq {serial_key},
    chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    scope TEXT NOT NULL,
    body TEXT NOT NULL,
    tokens TEXT
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_scope ON chunks(scope);
"""


def _tokens_column(conn: Connection, dialect: str) -> None:
    """Add `chunks.tokens` to a SQLite catalog written before tokens were stored."""
    if dialect != "sqlite":
        return
    columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(chunks)")}
    if "tokens" not in columns:
        conn.exec_driver_sql("ALTER TABLE chunks ADD COLUMN tokens TEXT")


CATALOG = Component(
    "catalog",
    "catalog.sqlite3",
    "catalog",
    [portable(_SCHEMA), _tokens_column],
)

# The advisory lock every catalog write holds on PostgreSQL (an arbitrary constant).
_WRITE_LOCK = 0x7EC4CA
# Rows read per statement when walking every chunk: the memory bound of a large read.
_BATCH = 2000
# Ids per `IN (…)` list.
_IDS = 500

_DOCUMENT_COLUMNS = "doc_id, root, source, sha256, status, title, contributor, n_chunks"


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


def _ids(sql: str) -> sa.TextClause:
    """`sql` whose `:ids` parameter takes a list (`IN :ids`)."""
    return sa.text(sql).bindparams(sa.bindparam("ids", expanding=True))


class Catalog:
    """The catalog of documents and chunks, safe for several threads and processes (and, on
    PostgreSQL, several hosts)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def open(cls, home: Path, database_url: str | None = None) -> Catalog:
        """The catalog of the store at `home`: its `catalog.sqlite3`, or the database at
        `database_url`.

        Raises:
            StoreError: the catalog cannot be opened or set up (names the file or database).
        """
        return cls(open_component(home, database_url, CATALOG))

    def close(self) -> None:
        """Nothing to release: connections return to the process's pool after every call."""

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.db.write() as conn:
            if self.db.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK})
            yield conn

    def _all(self, sql: str | sa.TextClause, **params: Any) -> Sequence[Any]:
        statement = sa.text(sql) if isinstance(sql, str) else sql
        with self.db.read() as conn:
            return conn.execute(statement, params).all()

    # -- meta ---------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self._all("SELECT value FROM meta WHERE key=:key", key=key)
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO meta(key, value) VALUES (:key, :value) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value"
                ),
                {"key": key, "value": value},
            )

    def version(self) -> int:
        """A counter bumped by every committed change to the chunks."""
        return int(self.get_meta("version") or 0)

    @staticmethod
    def _bump(conn: Connection) -> None:
        conn.execute(
            sa.text(
                "INSERT INTO meta(key, value) VALUES ('version', '1') ON CONFLICT(key) "
                "DO UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)"
            )
        )

    # -- documents ----------------------------------------------------------------------------
    def documents(self, root: str | None = None) -> list[DocumentRecord]:
        if root is None:
            rows = self._all(f"SELECT {_DOCUMENT_COLUMNS} FROM documents")
        else:
            rows = self._all(f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE root=:r", r=root)
        return [DocumentRecord(*row) for row in rows]

    def pending(self) -> list[DocumentRecord]:
        rows = self._all(f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE status='pending'")
        return [DocumentRecord(*row) for row in rows]

    def mark_pending(self, doc_id: str, root: str, source: str, sha256: str) -> None:
        """Record that a document's chunks are about to change (before touching vectors)."""
        with self._write() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO documents(doc_id, root, source, sha256, status, updated_at) "
                    "VALUES (:doc_id, :root, :source, :sha256, 'pending', :now) "
                    "ON CONFLICT(doc_id) DO UPDATE SET status='pending', "
                    "sha256=excluded.sha256, updated_at=excluded.updated_at"
                ),
                {"doc_id": doc_id, "root": root, "source": source, "sha256": sha256,
                 "now": time.time()},
            )  # fmt: skip

    def chunk_scopes(self, doc_id: str) -> dict[str, list[str]]:
        """The stored chunk ids of a document, by scope."""
        out: dict[str, list[str]] = {}
        rows = self._all(
            "SELECT scope, chunk_id FROM chunks WHERE doc_id=:d ORDER BY seq", d=doc_id
        )
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
        rows = [
            {"chunk_id": c.chunk_id, "doc_id": doc_id, "scope": scope, "body": c.to_json(),
             "tokens": None if t is None else " ".join(t)}
            for scope, c, t in chunks
        ]  # fmt: skip
        with self._write() as conn:
            conn.execute(sa.text("DELETE FROM chunks WHERE doc_id=:d"), {"d": doc_id})
            if rows:
                conn.execute(
                    sa.text(
                        "INSERT INTO chunks(chunk_id, doc_id, scope, body, tokens) "
                        "VALUES (:chunk_id, :doc_id, :scope, :body, :tokens)"
                    ),
                    rows,
                )
            conn.execute(
                sa.text(
                    "UPDATE documents SET status='complete', title=:title, "
                    "contributor=:contributor, n_chunks=:n, updated_at=:now WHERE doc_id=:d"
                ),
                {"title": title, "contributor": contributor, "n": len(rows), "now": time.time(),
                 "d": doc_id},
            )  # fmt: skip
            self._bump(conn)

    def remove_document(self, doc_id: str) -> None:
        with self._write() as conn:
            conn.execute(sa.text("DELETE FROM chunks WHERE doc_id=:d"), {"d": doc_id})
            conn.execute(sa.text("DELETE FROM documents WHERE doc_id=:d"), {"d": doc_id})
            self._bump(conn)

    # -- chunks -------------------------------------------------------------------------------
    def count_chunks(self) -> int:
        return int(self._all("SELECT COUNT(*) FROM chunks")[0][0])

    def _batches(self, columns: str, after: int) -> Iterator[Sequence[Any]]:
        """Chunks with seq above `after`, in seq order, a bounded batch per statement.

        No read stays open while the caller handles a batch, so it may write to the catalog
        in between (on SQLite, from the same thread); chunks committed meanwhile come later.
        """
        statement = sa.text(
            f"SELECT seq, {columns} FROM chunks WHERE seq > :after ORDER BY seq LIMIT :n"
        )
        while True:
            with self.db.read() as conn:
                rows = conn.execute(statement, {"after": after, "n": _BATCH}).all()
            if not rows:
                return
            yield rows
            if len(rows) < _BATCH:
                return
            after = int(rows[-1][0])

    def iter_chunks(self) -> Iterator[tuple[str, Chunk]]:
        """Every stored chunk with its scope, in insertion order."""
        for rows in self._batches("scope, body", 0):
            for _seq, scope, body in rows:
                yield scope, Chunk.from_json(body)

    def iter_index_rows(self, after: int = 0) -> Iterator[tuple[int, Chunk, list[str] | None]]:
        """Chunks stored after sequence number `after`, in insertion order: (seq, chunk, keyword
        tokens or None when not stored). Sequence numbers only grow, a replaced document's
        chunks get new ones, and chunks become visible in sequence order."""
        for rows in self._batches("body, tokens", after):
            for seq, body, tokens in rows:
                yield int(seq), Chunk.from_json(body), (None if tokens is None else tokens.split())

    def forget_tokens(self) -> None:
        """Drop every stored keyword token list (the tokenizer changed)."""
        with self._write() as conn:
            conn.execute(sa.text("UPDATE chunks SET tokens=NULL"))

    def store_tokens(self, rows: list[tuple[int, list[str]]]) -> None:
        """Keep the keyword tokens of chunks stored without them (by seq)."""
        if not rows:
            return
        with self._write() as conn:
            conn.execute(
                sa.text("UPDATE chunks SET tokens=:tokens WHERE seq=:seq AND tokens IS NULL"),
                [{"tokens": " ".join(tokens), "seq": seq} for seq, tokens in rows],
            )

    def chunk_seqs(self) -> np.ndarray:
        """The sequence numbers of every stored chunk."""
        with self.db.read() as conn:
            seqs = conn.execute(sa.text("SELECT seq FROM chunks")).scalars().all()
        return np.fromiter(seqs, dtype=np.int64, count=len(seqs))

    def scopes(self) -> list[str]:
        """The partitions (collection suffixes) that hold at least one chunk."""
        return [
            str(scope) for (scope,) in self._all("SELECT DISTINCT scope FROM chunks ORDER BY scope")
        ]

    def set_scopes(self, chunk_ids: list[str], scope: str) -> None:
        """Record that these chunks' vectors now live in partition `scope`."""
        statement = _ids("UPDATE chunks SET scope=:scope WHERE chunk_id IN :ids")
        with self._write() as conn:
            for start in range(0, len(chunk_ids), _IDS):
                conn.execute(statement, {"scope": scope, "ids": chunk_ids[start : start + _IDS]})

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        """Every chunk of one document, in document order."""
        rows = self._all("SELECT body FROM chunks WHERE doc_id=:d", d=doc_id)
        return sorted((Chunk.from_json(body) for (body,) in rows), key=lambda c: c.chunk_index)

    def get_chunks(self, chunk_ids: list[str]) -> dict[str, Chunk]:
        out: dict[str, Chunk] = {}
        statement = _ids("SELECT chunk_id, body FROM chunks WHERE chunk_id IN :ids")
        with self.db.read() as conn:
            for start in range(0, len(chunk_ids), _IDS):
                rows = conn.execute(statement, {"ids": chunk_ids[start : start + _IDS]})
                out.update({cid: Chunk.from_json(body) for cid, body in rows})
        return out
