"""Removal and re-scoping take effect at once, on every path, for an instance opened before.

An assistant and its store are opened and used (caches warm) in this process; another process
(`techkb ingest`) then deletes one document and narrows another one's visibility in its sidecar.
The open instance must stop returning them at once: Chroma, the keyword index, chunk lookups
and answers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assistant.registry import build_assistant
from assistant.settings import load_settings
from assistant.store import KnowledgeStore
from assistant.types import Identity
from tests.reliability.canary import PERSONAS, CanaryDoc

pytestmark = pytest.mark.slow

REMOVED = "public"  # everyone could see it
RESCOPED = "consortium"  # every member could see it; becomes private to its contributor


def _doc(docs: list[CanaryDoc], name: str) -> CanaryDoc:
    return next(d for d in docs if d.name == name)


def _everything(
    assistant: Any, store: KnowledgeStore, doc: CanaryDoc, ids: list[str], who: Identity
) -> str:
    """Every route's output for a document's question, canary and chunk ids, as one text."""
    retriever = assistant.retriever
    dense = retriever.embedder.embed_query(doc.question)
    ml = retriever.multilingual.embed_query(doc.question)
    parts: list[Any] = [
        [m.chunk_id for m in store.keyword_search(doc.question, who, 100, None)],
        [m.chunk_id for m in store.keyword_search(doc.canary, who, 100, None)],
        [m.chunk_id for m in store.dense_search(dense, who, 100)],
        [m.chunk_id for m in store.dense_search(ml, who, 100, multilingual=True)],
        [h.chunk.to_json() for h in retriever.retrieve(doc.question, who, k=30)],
        [c.to_json() for c in store.chunks(ids, who).values()],
        [
            c.to_json()
            for i in {x.rsplit("-", 1)[0] for x in ids}
            for c in store.document_chunks(i, who)
        ],
    ]
    for mode in ("ask", "procedure", "exercise"):
        parts.append(assistant.ask(doc.question, identity=who, mode=mode).to_dict())
    return json.dumps(parts, ensure_ascii=False)


def _ids_of(store: KnowledgeStore, doc: CanaryDoc) -> list[str]:
    return [c.chunk_id for _, c in store.catalog.iter_chunks() if c.source == doc.source]


def test_removed_and_rescoped_documents_vanish_for_an_open_instance(
    canary_world: dict[str, Any],
    session_models: None,
    tmp_path: Path,
    embedder: Any,
    multilingual: Any,
) -> None:
    from ingestion.pipeline import Ingester

    root, home = tmp_path / "kb", tmp_path / "store"
    shutil.copytree(canary_world["root"], root)
    settings = load_settings({"paths": {"home": home}}, environ={})
    store = KnowledgeStore(home)
    try:
        ingester = Ingester(
            store, embedder, settings.ingestion, progress=False, multilingual=multilingual
        )
        assert ingester.ingest([root]).failed == []
    finally:
        store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TECHKB_")}
    exe = str(Path(sys.executable).with_name("techkb"))
    cmd = [exe, "ingest", str(root), "--json", "--store", str(home)]

    docs: list[CanaryDoc] = canary_world["docs"]
    removed, rescoped = _doc(docs, REMOVED), _doc(docs, RESCOPED)
    student = PERSONAS["student-donghai"]
    member = Identity("sam", rescoped.contributor, "staff")
    store = KnowledgeStore(home)
    try:
        assistant = build_assistant(settings, store)
        removed_ids, rescoped_ids = _ids_of(store, removed), _ids_of(store, rescoped)
        assert removed_ids and rescoped_ids
        before = _everything(assistant, store, removed, removed_ids, student) + _everything(
            assistant, store, rescoped, rescoped_ids, student
        )
        assert removed.canary in before and rescoped.canary in before, "visible before"

        (root / removed.source).unlink()
        sidecar = root / (rescoped.source + ".meta.yaml")
        sidecar.write_text(f"visibility: org\n{rescoped.sidecar}", encoding="utf-8")
        change = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        assert change.returncode == 0, change.stderr[-2000:]
        report = json.loads(change.stdout)
        assert (report["removed"], report["updated"]) == (1, 1), report

        for who in (student, PERSONAS["anonymous"], PERSONAS["staff-huaxin"]):
            for doc, ids in ((removed, removed_ids), (rescoped, rescoped_ids)):
                seen = _everything(assistant, store, doc, ids, who)
                leaked = [x for x in (*removed_ids, *rescoped_ids, removed.canary,
                                      rescoped.canary) if x in seen]  # fmt: skip
                assert not leaked, (who, doc.name, leaked)
        kept = _everything(assistant, store, rescoped, rescoped_ids, member)
        assert rescoped.canary in kept, "the contributor's own members still see it"
        assert removed.canary not in kept
    finally:
        store.close()
