"""The permission corpus ingested once per session with the real embedders, and its views."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from assistant.settings import load_settings
from assistant.store import KnowledgeStore
from assistant.types import Chunk
from tests.reliability.canary import CanaryDoc, write_canary_corpus


@pytest.fixture(scope="session")
def canary_world(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, multilingual: Any
) -> Iterator[dict[str, Any]]:
    """Home, root, documents and chunks of the ingested permission corpus (read-only)."""
    from ingestion.pipeline import Ingester

    base = tmp_path_factory.mktemp("canary")
    root, home = base / "kb", base / "store"
    docs: list[CanaryDoc] = write_canary_corpus(root)
    settings = load_settings({"paths": {"home": home}}, environ={})
    store = KnowledgeStore(home)
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
    yield {"home": home, "root": root, "docs": docs, "chunks": chunks, "by_source": by_source}


@pytest.fixture
def session_models(monkeypatch: pytest.MonkeyPatch, embedder: Any, multilingual: Any) -> None:
    """Make the registry hand out the session's embedders (no model load per CLI call)."""
    import assistant.registry as registry

    monkeypatch.setattr(registry, "build_embedder", lambda settings: embedder)
    monkeypatch.setattr(registry, "build_multilingual_embedder", lambda settings: multilingual)
