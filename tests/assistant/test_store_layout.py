"""Store layout: partitions by scope, roles and language; a store of the older layout moves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sqlalchemy as sa

from assistant.store import KnowledgeStore, partition_for_chunk
from assistant.store.catalog import Catalog
from assistant.store.chroma import ChromaVectorStore
from assistant.types import ANONYMOUS, Chunk, Identity
from tests.factories import make_chunk

TEACHER = Identity("t", "northlake-college", "teacher")
STUDENT = Identity("s", "northlake-college", "student")


def _chunk(i: int, roles: tuple[str, ...], language: str, text: str) -> Chunk:
    return make_chunk(f"d{i}-0000", text=text, allowed_roles=roles, language=language)


def _unit(seed: int, dim: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(1, dim)).astype(np.float32)
    return v / np.linalg.norm(v)


def test_chunks_land_in_partitions_by_scope_roles_and_language(
    tmp_path: Path, backend_url: str | None
) -> None:
    store = KnowledgeStore(tmp_path, database_url=backend_url)
    try:
        chunks = [
            _chunk(0, (), "en", "spindle warm-up procedure"),
            _chunk(1, ("teacher",), "en", "answer key for the spindle exercise"),
            _chunk(2, (), "zh", "主轴预热程序"),
        ]
        for i, c in enumerate(chunks):
            store.begin_document(c.doc_id, "root", c.source, "sha")
            store.write_document(c.doc_id, c.title, c.contributor, [c], _unit(i, 8), _unit(i, 4))
        assert store.catalog.scopes() == ["public-r-teacher.en", "public.en", "public.zh"]
        key = _unit(1, 8)[0]
        assert store.dense_search(key, TEACHER, 3)[0].chunk_id == "d1-0000"
        assert "d1-0000" not in [m.chunk_id for m in store.dense_search(key, STUDENT, 3)]
        by_language = store.dense_search_by_language(_unit(2, 4)[0], ANONYMOUS, 3, None, True)
        assert sorted(by_language) == ["en", "zh"]
        assert by_language["zh"][0].chunk_id == "d2-0000"
    finally:
        store.close()


def test_a_store_of_the_older_layout_is_moved_into_partitions(tmp_path: Path) -> None:
    """Written as before partitions (scope collections, no stored tokens): nothing is lost."""
    chunks = [
        _chunk(0, (), "en", "coolant concentration check with a refractometer"),
        _chunk(1, ("teacher",), "zh", "切削液浓度检查答案"),
    ]
    legacy = ["public", "public-r"]
    catalog = Catalog.open(tmp_path)
    vectors = ChromaVectorStore(tmp_path / "chroma")
    ml_vectors = ChromaVectorStore(tmp_path / "chroma", prefix="techkb-ml")
    for i, (c, scope) in enumerate(zip(chunks, legacy, strict=True)):
        catalog.mark_pending(c.doc_id, "root", c.source, "sha")
        vectors.add(scope, [c.chunk_id], _unit(i, 8), [c.to_metadata()])
        ml_vectors.add(scope, [c.chunk_id], _unit(i, 4), [c.to_metadata()])
        catalog.commit_document(c.doc_id, c.title, c.contributor, [(scope, c, None)])
    catalog.close()
    vectors.close()
    ml_vectors.close()

    store = KnowledgeStore(tmp_path)
    try:
        assert store.catalog.get_meta("layout") == "2"
        assert sorted(store.catalog.scopes()) == sorted(partition_for_chunk(c) for c in chunks)
        assert store.vectors._own_collections(legacy=True) == []
        assert store.vectors.count() == 2 and store.ml_vectors.count() == 2
        found = store.dense_search(_unit(1, 8)[0], TEACHER, 2)
        assert found[0].chunk_id == "d1-0000" and found[0].distance < 1e-4
        assert [m.chunk_id for m in store.dense_search(_unit(1, 8)[0], ANONYMOUS, 2)] == ["d0-0000"]
        hits = store.keyword_search("refractometer", ANONYMOUS, 5, None)
        assert [h.chunk_id for h in hits] == ["d0-0000"]
    finally:
        store.close()
    again = KnowledgeStore(tmp_path)  # opening again moves nothing and keeps everything
    try:
        assert again.vectors.count() == 2
    finally:
        again.close()


def test_clients_opened_from_several_threads_at_once_all_work(tmp_path: Path) -> None:
    """The retriever's threads open the dense and multilingual indexes at the same moment."""
    import threading

    errors: list[Exception] = []
    for attempt in range(5):
        path = tmp_path / f"s{attempt}"
        stores = [ChromaVectorStore(path, prefix=p) for p in ("techkb", "techkb-ml", "x-ml")]
        barrier = threading.Barrier(len(stores))

        def open_one(store: ChromaVectorStore, barrier: threading.Barrier) -> None:
            barrier.wait()
            try:
                store.query(_unit(0, 8)[0], ["public.en"], 3)
            except Exception as e:  # collected: an exception in a thread would pass silently
                errors.append(e)

        threads = [threading.Thread(target=open_one, args=(s, barrier)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        for s in stores:
            s.close()
    assert errors == []


def test_tokens_stored_by_another_tokenizer_version_are_recomputed(
    tmp_path: Path, backend_url: str | None
) -> None:
    store = KnowledgeStore(tmp_path, database_url=backend_url)
    chunk = _chunk(0, (), "en", "hydraulic accumulator precharge check")
    store.begin_document(chunk.doc_id, "root", chunk.source, "sha")
    store.write_document(chunk.doc_id, chunk.title, chunk.contributor, [chunk], _unit(0, 8))
    with store.catalog.db.write() as conn:
        conn.execute(sa.text("UPDATE chunks SET tokens='stale words'"))
    store.catalog.set_meta("tokenizer", "0")
    store.close()
    again = KnowledgeStore(tmp_path, database_url=backend_url)
    try:
        hits = again.keyword_search("accumulator precharge", ANONYMOUS, 3, None)
        assert [h.chunk_id for h in hits] == [chunk.chunk_id]
        assert not again.keyword_search("stale", ANONYMOUS, 3, None)
    finally:
        again.close()
