"""Small builders shared by tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.types import Chunk


def make_chunk(chunk_id: str = "d0-0000", **fields: Any) -> Chunk:
    """A valid public chunk; `fields` override any attribute (doc id: the id's first part)."""
    doc_id = fields.pop("doc_id", chunk_id.rsplit("-", 1)[0])
    values: dict[str, Any] = {
        "chunk_id": chunk_id,
        "doc_id": doc_id,
        "text": "text",
        "source": f"{doc_id}.md",
        "title": f"doc {doc_id}",
        "section": "",
        "chunk_index": 0,
        "content_sha256": "0",
        "contributor": "northlake-college",
        "contributor_type": "school",
        "kind": "procedure",
        "visibility": "public",
        "license": "CC-BY-4.0",
    }
    values.update(fields)
    return Chunk(**values)


def ingest_into(home: Path, root: Path, embedder: Any, **ingestion: Any) -> Any:
    """Ingest the folder `root` into a store at `home` with these `ingestion` settings; the
    `IngestReport`."""
    from assistant.settings import load_settings
    from assistant.store import KnowledgeStore
    from ingestion.pipeline import Ingester

    settings = load_settings({"paths": {"home": home}, "ingestion": ingestion}, environ={})
    store = KnowledgeStore(home)
    try:
        return Ingester(store, embedder, settings.ingestion, progress=False).ingest([root])
    finally:
        store.close()


def import_cycles(graph: dict[str, set[str]]) -> list[str]:
    """The modules of an import graph (module -> modules it imports) that reach themselves."""

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for dep in graph.get(start, set()):
            if dep == goal or (dep not in seen and reaches(dep, goal, seen | {dep})):
                return True
        return False

    return sorted(m for m in graph if reaches(m, m, set()))
