"""The permission corpus ingested once per session with the real embedders, and its views."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.settings import load_settings
from assistant.store import KnowledgeStore
from assistant.types import Chunk
from tests.reliability.canary import CanaryDoc, write_canary_corpus


def _ingest_world(
    base: Path, embedder: Any, multilingual: Any, database_url: str | None
) -> dict[str, Any]:
    """Ingest the permission corpus under `base` (the catalog in `database_url` when given)."""
    from ingestion.pipeline import Ingester

    root, home = base / "kb", base / "store"
    docs: list[CanaryDoc] = write_canary_corpus(root)
    settings = load_settings(
        {"paths": {"home": home}, "store": {"database_url": database_url}}, environ={}
    )
    store = KnowledgeStore(home, database_url=database_url)
    try:
        report = Ingester(
            store, embedder, settings.ingestion, progress=False, multilingual=multilingual
        ).ingest([root])
        chunks: dict[str, Chunk] = {c.chunk_id: c for _, c in store.catalog.iter_chunks()}
    finally:
        store.close()
    assert report.failed == [] and report.added == len(docs), report.to_dict()
    by_source: dict[str, list[str]] = {}
    for chunk in chunks.values():
        by_source.setdefault(chunk.source, []).append(chunk.chunk_id)
    return {
        "home": home, "root": root, "docs": docs, "chunks": chunks, "by_source": by_source,
        "database_url": database_url,
    }  # fmt: skip


@pytest.fixture(scope="session")
def canary_world(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, multilingual: Any
) -> Iterator[dict[str, Any]]:
    """Home, root, documents and chunks of the ingested permission corpus (read-only); its
    catalog is the SQLite file in the home (`database_url` None)."""
    yield _ingest_world(tmp_path_factory.mktemp("canary"), embedder, multilingual, None)


@pytest.fixture(scope="session")
def canary_world_postgres(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, multilingual: Any, postgres_server: Any
) -> Iterator[dict[str, Any]]:
    """The same world with its catalog in a PostgreSQL database (`database_url`; open the store
    with it, or set `store.database_url`)."""
    url = str(postgres_server.new_database())
    yield _ingest_world(tmp_path_factory.mktemp("canary-pg"), embedder, multilingual, url)


@pytest.fixture
def session_models(monkeypatch: pytest.MonkeyPatch, embedder: Any, multilingual: Any) -> None:
    """Make the registry hand out the session's embedders (no model load per CLI call)."""
    import assistant.registry as registry

    monkeypatch.setattr(registry, "build_embedder", lambda settings: embedder)
    monkeypatch.setattr(registry, "build_multilingual_embedder", lambda settings: multilingual)
