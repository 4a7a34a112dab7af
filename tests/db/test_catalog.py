"""The catalog on both back ends: what it keeps, the pending protocol, the version counter, and
keyword indexes that follow concurrent writers without missing a chunk."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

import assistant.store.catalog as catalog_module
from assistant.store import KnowledgeStore
from assistant.store.catalog import Catalog
from assistant.store.keyword import BM25KeywordIndex, keyword_text, tokenize
from assistant.types import ANONYMOUS, Chunk, Identity
from tests.factories import make_chunk


def _chunks(doc: str, n: int, **fields: Any) -> list[Chunk]:
    return [
        make_chunk(
            f"{doc}-{i:04d}", text=f"{doc} part {i} spindle coolant", chunk_index=i, **fields
        )
        for i in range(n)
    ]


def _commit(catalog: Catalog, doc: str, chunks: list[Chunk], scope: str = "public.en") -> None:
    catalog.mark_pending(doc, "root", f"{doc}.md", f"sha-{doc}")
    rows = [(scope, c, tokenize(keyword_text(c))) for c in chunks]
    catalog.commit_document(doc, f"title {doc}", "northlake-college", rows)


def test_catalog_round_trip(tmp_path: Path, backend_url: str | None) -> None:
    catalog = Catalog.open(tmp_path, backend_url)
    assert catalog.get_meta("missing") is None
    catalog.set_meta("embedder", "a")
    catalog.set_meta("embedder", "b")
    assert catalog.get_meta("embedder") == "b"
    _commit(catalog, "d1", _chunks("d1", 3))
    _commit(catalog, "d2", _chunks("d2", 2, language="zh"), scope="public.zh")
    docs = {d.doc_id: d for d in catalog.documents()}
    assert sorted(docs) == ["d1", "d2"]
    assert docs["d1"].status == "complete" and docs["d1"].n_chunks == 3
    assert docs["d1"].title == "title d1" and docs["d1"].sha256 == "sha-d1"
    assert sorted(d.doc_id for d in catalog.documents("root")) == ["d1", "d2"]
    assert catalog.documents("elsewhere") == []
    assert catalog.count_chunks() == 5
    assert catalog.chunk_scopes("d1") == {"public.en": ["d1-0000", "d1-0001", "d1-0002"]}
    assert catalog.scopes() == ["public.en", "public.zh"]
    assert [c.chunk_id for _, c in catalog.iter_chunks()] == [
        "d1-0000", "d1-0001", "d1-0002", "d2-0000", "d2-0001",
    ]  # fmt: skip
    assert [c.chunk_index for c in catalog.document_chunks("d1")] == [0, 1, 2]
    got = catalog.get_chunks(["d2-0001", "d1-0000", "nope"])
    assert sorted(got) == ["d1-0000", "d2-0001"]
    assert got["d2-0001"] == _chunks("d2", 2, language="zh")[1]
    catalog.set_scopes(["d2-0000", "d2-0001"], "public.en")
    assert catalog.scopes() == ["public.en"]
    rows = list(catalog.iter_index_rows(after=0))
    assert [seq for seq, _, _ in rows] == sorted(int(s) for s in catalog.chunk_seqs())
    assert rows[0][2] == tokenize(keyword_text(rows[0][1]))
    catalog.forget_tokens()
    assert all(tokens is None for _, _, tokens in catalog.iter_index_rows())
    catalog.store_tokens([(rows[0][0], ["kept"])])
    assert next(catalog.iter_index_rows())[2] == ["kept"]
    catalog.close()


def test_pending_documents_are_listed_and_repaired(tmp_path: Path, backend_url: str | None) -> None:
    store = KnowledgeStore(tmp_path, database_url=backend_url)
    try:
        done = _chunks("kept", 1)[0]
        store.begin_document("kept", "root", "kept.md", "sha")
        store.write_document("kept", "t", done.contributor, [done], np.ones((1, 4), np.float32))
        store.begin_document("half", "root", "half.md", "sha")  # a crash before its commit
        assert [d.doc_id for d in store.catalog.pending()] == ["half"]
        assert [d.doc_id for d in store.repair_pending()] == ["half"]
        assert store.catalog.pending() == []
        assert [d.doc_id for d in store.catalog.documents()] == ["kept"]
    finally:
        store.close()


def test_version_counts_chunk_changes_only(tmp_path: Path, backend_url: str | None) -> None:
    catalog = Catalog.open(tmp_path, backend_url)
    assert catalog.version() == 0
    catalog.mark_pending("d1", "root", "d1.md", "sha")
    assert catalog.version() == 0
    catalog.commit_document("d1", "t", "c", [("public.en", c, None) for c in _chunks("d1", 2)])
    assert catalog.version() == 1
    _commit(catalog, "d1", _chunks("d1", 1))
    catalog.remove_document("d1")
    assert catalog.version() == 3
    again = Catalog.open(tmp_path, backend_url)  # another process sees the same counter
    assert again.version() == 3


def test_a_failed_commit_changes_nothing(tmp_path: Path, backend_url: str | None) -> None:
    catalog = Catalog.open(tmp_path, backend_url)
    _commit(catalog, "d1", _chunks("d1", 2))
    catalog.mark_pending("d2", "root", "d2.md", "sha")
    clash = [*_chunks("d2", 1), make_chunk("d1-0000", doc_id="d2")]  # a chunk id d1 holds
    with pytest.raises(Exception):  # noqa: B017 - each back end names the violation its way
        catalog.commit_document("d2", "t", "c", [("public.en", c, None) for c in clash])
    assert catalog.version() == 1
    assert catalog.count_chunks() == 2
    assert [d.doc_id for d in catalog.pending()] == ["d2"]


def test_large_reads_come_in_batches_the_caller_may_write_between(
    tmp_path: Path, backend_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_module, "_BATCH", 7)
    catalog = Catalog.open(tmp_path, backend_url)
    for d in range(5):
        _commit(catalog, f"d{d}", _chunks(f"d{d}", 6))
    seen = []
    for seq, _chunk, _tokens in catalog.iter_index_rows(after=0):
        seen.append(seq)
        if len(seen) == 10:  # a write from the reading thread, between two batches
            catalog.store_tokens([(seq, ["x"])])
            _commit(catalog, "late", _chunks("late", 3))
    assert len(seen) == 33 and seen == sorted(seen)
    assert len(list(catalog.iter_chunks())) == 33


def _synced_ids(index: BM25KeywordIndex) -> set[str]:
    return set(index.chunk_ids())


def test_a_writer_committing_out_of_seq_order_is_not_missed(
    tmp_path: Path, backend_url: str | None
) -> None:
    """Writer A holds its transaction open after inserting; writer B starts meanwhile. B must
    wait for A: were B to commit first, a reader syncing then would move past A's sequence
    numbers and never read A's chunks."""
    first = Catalog.open(tmp_path, backend_url)
    second = Catalog.open(tmp_path, backend_url)
    reader = Catalog.open(tmp_path, backend_url)
    inserted, release = threading.Event(), threading.Event()

    def held_bump(conn: sa.Connection) -> None:
        inserted.set()
        release.wait(timeout=30)
        Catalog._bump(conn)

    first._bump = held_bump  # type: ignore[method-assign]
    for doc in ("a", "b"):
        first.mark_pending(doc, "root", f"{doc}.md", "sha")
    writer_a = threading.Thread(target=_commit, args=(first, "a", _chunks("a", 3)))
    writer_b = threading.Thread(target=_commit, args=(second, "b", _chunks("b", 3)))
    writer_a.start()
    assert inserted.wait(timeout=30)
    writer_b.start()
    writer_b.join(timeout=1.5)
    index = BM25KeywordIndex()
    index.sync(reader, reader.version())
    b_waited = writer_b.is_alive()
    release.set()
    writer_a.join(timeout=30)
    writer_b.join(timeout=30)
    index.sync(reader, reader.version())
    assert b_waited, "the second writer committed while the first held its chunks"
    assert _synced_ids(index) == {c.chunk_id for _, c in reader.iter_chunks()}
    assert len(_synced_ids(index)) == 6


def test_concurrent_writers_and_a_syncing_reader_never_miss_a_chunk(
    tmp_path: Path, backend_url: str | None
) -> None:
    Catalog.open(tmp_path, backend_url)  # set up once, before the threads
    errors: list[BaseException] = []
    done = threading.Event()

    def write(name: str) -> None:
        catalog = Catalog.open(tmp_path, backend_url)
        try:
            for i in range(25):
                doc = f"{name}{i}"
                _commit(catalog, doc, _chunks(doc, 4))
                if i % 6 == 5:  # a document replaced: its chunks get new sequence numbers
                    _commit(catalog, doc, _chunks(doc, 2))
        except BaseException as e:  # collected: an exception in a thread would pass silently
            errors.append(e)

    index = BM25KeywordIndex()
    reader = Catalog.open(tmp_path, backend_url)

    def follow() -> None:
        try:
            while not done.is_set():
                index.sync(reader, reader.version())
        except BaseException as e:
            errors.append(e)

    writers = [threading.Thread(target=write, args=(n,)) for n in ("p", "q")]
    follower = threading.Thread(target=follow)
    follower.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join(timeout=120)
    done.set()
    follower.join(timeout=60)
    assert errors == []
    index.sync(reader, reader.version())
    stored = {c.chunk_id for _, c in reader.iter_chunks()}
    assert len(stored) == 2 * (21 * 4 + 4 * 2)
    assert _synced_ids(index) == stored
    fresh = BM25KeywordIndex.from_chunks(c for _, c in reader.iter_chunks())
    for query in ("spindle", "p3 part 1"):
        got = {m.chunk_id: m.score for m in index.search(query, ANONYMOUS, 400)}
        want = {m.chunk_id: m.score for m in fresh.search(query, ANONYMOUS, 400)}
        assert got.keys() == want.keys()
        assert all(got[k] == pytest.approx(v, rel=1e-5) for k, v in want.items())


def _unit(seed: int, dim: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(1, dim)).astype(np.float32)
    return v / np.linalg.norm(v)


def test_store_ingest_search_remove(tmp_path: Path, backend_url: str | None) -> None:
    """KnowledgeStore over the catalog back end and embedded Chroma: written chunks are found by
    both searches, visible only to who may see them, and gone once removed."""
    staff = Identity("s", "meridian-cnc", "staff")
    docs = {
        "pub": make_chunk("pub-0000", text="hydraulic accumulator precharge check"),
        "org": make_chunk(
            "org-0000", text="internal accumulator torque table", visibility="org",
            contributor="meridian-cnc", contributor_type="company",
        ),
    }  # fmt: skip
    store = KnowledgeStore(tmp_path / "home", database_url=backend_url)
    try:
        store.check_embedder("test-8")
        for i, (doc, chunk) in enumerate(docs.items()):
            store.begin_document(doc, "root", chunk.source, "sha")
            store.write_document(doc, doc, chunk.contributor, [chunk], _unit(i, 8))
        hits = store.keyword_search("accumulator", ANONYMOUS, 5, None)
        assert [h.chunk_id for h in hits] == ["pub-0000"]
        hits = store.keyword_search("accumulator", staff, 5, None)
        assert sorted(h.chunk_id for h in hits) == ["org-0000", "pub-0000"]
        assert store.dense_search(_unit(1, 8)[0], staff, 1)[0].chunk_id == "org-0000"
        assert [m.chunk_id for m in store.dense_search(_unit(1, 8)[0], ANONYMOUS, 2)] == [
            "pub-0000"
        ]
        store.remove_document("pub")
        assert store.keyword_search("accumulator", ANONYMOUS, 5, None) == []
        assert store.dense_search(_unit(0, 8)[0], ANONYMOUS, 2) == []
        assert store.chunks(["pub-0000", "org-0000"], staff).keys() == {"org-0000"}
    finally:
        store.close()


def test_homes_sharing_one_database_share_the_catalog(tmp_path: Path, database_url: str) -> None:
    """A second host opening the database finds the catalog partitioned already (no layout move
    under a lock it does not share) and sees the first host's documents."""
    first = KnowledgeStore(tmp_path / "a", database_url=database_url)
    chunk = make_chunk("d0-0000", text="coolant refractometer reading")
    try:
        assert first.catalog.get_meta("layout") == "2"
        first.begin_document("d0", "root", chunk.source, "sha")
        first.write_document("d0", "t", chunk.contributor, [chunk], _unit(0, 8))
    finally:
        first.close()
    second = KnowledgeStore(tmp_path / "b", database_url=database_url)
    try:
        assert [d.doc_id for d in second.catalog.documents()] == ["d0"]
        assert [h.chunk_id for h in second.keyword_search("refractometer", ANONYMOUS, 3, None)] == [
            "d0-0000"
        ]
    finally:
        second.close()
    assert not (tmp_path / "a" / "catalog.sqlite3").exists()


OLD_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, root TEXT NOT NULL, source TEXT NOT NULL, sha256 TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'complete')),
    title TEXT NOT NULL DEFAULT '', contributor TEXT NOT NULL DEFAULT '',
    n_chunks INTEGER NOT NULL DEFAULT 0, updated_at REAL NOT NULL, UNIQUE (root, source)
);
CREATE TABLE chunks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id), scope TEXT NOT NULL, body TEXT NOT NULL
);
"""


def test_a_catalog_file_written_before_migrations_opens_unchanged(tmp_path: Path) -> None:
    """A catalog from before tokens were stored and before `schema_migrations`: kept as it is,
    the tokens column added."""
    chunk = make_chunk("d0-0000", text="old chunk")
    with sqlite3.connect(tmp_path / "catalog.sqlite3") as old:
        old.executescript(OLD_SCHEMA)
        old.execute("INSERT INTO meta VALUES ('version', '7')")
        old.execute(
            "INSERT INTO documents VALUES "
            "('d0', 'root', 'd0.md', 'sha', 'complete', 't', 'c', 1, 0)"
        )
        old.execute(
            "INSERT INTO chunks(chunk_id, doc_id, scope, body) "
            "VALUES ('d0-0000', 'd0', 'public', ?)",
            (chunk.to_json(),),
        )
    old.close()
    catalog = Catalog.open(tmp_path)
    assert catalog.version() == 7
    assert [(seq, c, t) for seq, c, t in catalog.iter_index_rows()] == [(1, chunk, None)]
    _commit(catalog, "d1", _chunks("d1", 1))
    assert catalog.version() == 8
    assert [seq for seq, _, _ in catalog.iter_index_rows(after=1)] == [2]
    with catalog.db.read() as conn:
        steps = conn.execute(sa.text("SELECT step FROM schema_migrations ORDER BY step"))
        assert list(steps.scalars()) == [1, 2]
