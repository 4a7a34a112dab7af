"""Small builders shared by tests."""

from __future__ import annotations

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
