"""techkb against a real Chroma server: ingest, ask, sync, access control, several processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assistant.registry import build_assistant
from assistant.settings import load_settings
from assistant.store import KnowledgeStore
from assistant.types import ANONYMOUS, Identity
from ingestion.pipeline import Ingester, IngestReport
from tests.conftest import REPO

pytestmark = [pytest.mark.server, pytest.mark.slow]

CONTRIBUTORS = (
    "contributors:\n"
    "  - id: acme\n    name: Acme Robotics\n    type: enterprise\n"
    "    chain_position: upstream\n    visibility: org\n    license: internal\n"
    "  - id: northlake\n    name: Northlake College\n    type: school\n"
    "    chain_position: school\n    visibility: public\n    license: CC-BY-4.0\n"
)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _root(base: Path, tag: str) -> Path:
    """A small knowledge base: a public course, an org-private procedure, a teacher-only key."""
    root = base / f"kb-{tag}"
    _write(root / "contributors.yaml", CONTRIBUTORS)
    _write(
        root / f"northlake/courses/coolant-{tag}.md",
        f"# Coolant care {tag}\n\n## Concentration\n\nKeep the {tag} coolant concentration "
        "between 6 and 8 percent, checked daily with a refractometer.\n",
    )
    _write(
        root / f"acme/procedures/spindle-{tag}.md",
        f"---\ntitle: Spindle bearing preload {tag}\nkind: procedure\n---\n"
        f"# Spindle bearing preload {tag}\n\n## Steps\n\n1. Lock out the {tag} machine.\n"
        "2. Set the preload nut to 45 Nm with a calibrated torque wrench.\n",
    )
    _write(
        root / f"northlake/courses/key-{tag}.md",
        f"---\ntitle: Answer key {tag}\nallowed_roles: [teacher]\n---\n# Answer key {tag}\n\n"
        f"## Exercise 1\n\nThe {tag} overheating was caused by a spacer ground 0.02 mm short.\n",
    )
    return root


def _settings(home: Path, url: str, prefix: str) -> Any:
    return load_settings(
        {"paths": {"home": home}, "store": {"chroma_url": url, "prefix": prefix}}, environ={}
    )


def _ingest(settings: Any, roots: list[Path], embedder: Any, ml: Any) -> IngestReport:
    store = KnowledgeStore(
        settings.paths.home, chroma_url=settings.store.chroma_url, prefix=settings.store.prefix
    )
    try:
        ingester = Ingester(store, embedder, settings.ingestion, progress=False, multilingual=ml)
        return ingester.ingest(roots)
    finally:
        store.close()


def _sources(settings: Any, question: str, identity: Identity, embedder: Any) -> list[str]:
    store = KnowledgeStore(
        settings.paths.home, chroma_url=settings.store.chroma_url, prefix=settings.store.prefix
    )
    try:
        assistant = build_assistant(settings, store, embedder)
        return [h.chunk.source for h in assistant.retriever.retrieve(question, identity, k=10)]
    finally:
        store.close()


def test_ingest_ask_sync_and_access_over_the_server(
    tmp_path: Path, chroma_url: str, embedder: Any, multilingual: Any
) -> None:
    settings = _settings(tmp_path / "home", chroma_url, "srv-a")
    root = _root(tmp_path, "alpha")
    report = _ingest(settings, [root], embedder, multilingual)
    assert (report.added, report.failed) == (3, [])

    import chromadb

    host, port = chroma_url.rsplit(":", 1)
    client = chromadb.HttpClient(host=host.split("//")[1], port=int(port))
    names = {c.name for c in client.list_collections()}
    assert {"srv-a-public.en", "srv-a-ml-public.en"} <= names
    assert any(n.startswith("srv-a-org-acme-") for n in names)
    assert not (tmp_path / "home" / "chroma").exists(), "server mode keeps no local Chroma"

    store = KnowledgeStore(settings.paths.home, chroma_url=chroma_url, prefix="srv-a")
    try:
        assert store.vectors.count() == store.catalog.count_chunks() == report.chunks
        assistant = build_assistant(settings, store, embedder)
        answer = assistant.ask("What coolant concentration should be kept?")
        assert not answer.refused
        assert any(c.source.endswith("coolant-alpha.md") for c in answer.citations)
    finally:
        store.close()

    acme_staff = Identity("u1", "acme", "staff")
    teacher = Identity("u2", "northlake", "teacher")
    question = "spindle bearing preload torque"
    assert "acme/procedures/spindle-alpha.md" in _sources(settings, question, acme_staff, embedder)
    for other in (ANONYMOUS, teacher):
        assert "acme/procedures/spindle-alpha.md" not in _sources(
            settings, question, other, embedder
        )
    key_question = "what caused the overheating in exercise 1"
    key = "northlake/courses/key-alpha.md"
    assert key in _sources(settings, key_question, teacher, embedder)
    student = Identity("u3", "northlake", "student")
    assert key not in _sources(settings, key_question, student, embedder)
    assert key not in _sources(settings, key_question, ANONYMOUS, embedder)

    # Sync: an edit replaces the document's chunks, a removal drops them, on the server too.
    _write(
        root / "northlake/courses/coolant-alpha.md",
        "# Coolant care alpha\n\n## Concentration\n\nKeep the alpha coolant concentration at "
        "9 percent and replace the emulsion every 400 hours of running.\n",
    )
    (root / "acme/procedures/spindle-alpha.md").unlink()
    report = _ingest(settings, [root], embedder, multilingual)
    assert (report.updated, report.removed, report.unchanged) == (1, 1, 1)
    store = KnowledgeStore(settings.paths.home, chroma_url=chroma_url, prefix="srv-a")
    try:
        assert store.vectors.count() == store.catalog.count_chunks() == report.chunks
        assert store.ml_vectors.count() == report.chunks
        hits = build_assistant(settings, store, embedder).retriever.retrieve(
            "how often is the emulsion replaced", ANONYMOUS, k=3
        )
        assert "400 hours" in hits[0].chunk.text
        assert all("between 6 and 8 percent" not in h.chunk.text for h in hits)
    finally:
        store.close()
    assert "acme/procedures/spindle-alpha.md" not in _sources(
        settings, question, acme_staff, embedder
    )


def test_keyword_index_follows_changes_made_by_another_process(
    tmp_path: Path, chroma_url: str, embedder: Any
) -> None:
    settings = _settings(tmp_path / "home", chroma_url, "srv-b")
    _ingest(settings, [_root(tmp_path, "beta")], embedder, None)
    reader = KnowledgeStore(settings.paths.home, chroma_url=chroma_url, prefix="srv-b")
    try:
        before = reader.keyword_search("gamma refractometer", ANONYMOUS, 10, None)
        assert all("gamma" not in m.chunk_id for m in before)
        # Another writer (its own catalog connection and Chroma client) adds a root.
        _ingest(settings, [_root(tmp_path, "gamma")], embedder, None)
        found = reader.keyword_search("gamma coolant refractometer", ANONYMOUS, 10, None)
        sources = {reader.catalog.get_chunks([m.chunk_id])[m.chunk_id].source for m in found}
        assert "northlake/courses/coolant-gamma.md" in sources
    finally:
        reader.close()


def test_parallel_ingest_processes_lose_and_duplicate_nothing(
    tmp_path: Path, chroma_url: str, embedder: Any
) -> None:
    home = tmp_path / "home"
    roots = [_root(tmp_path, tag) for tag in ("p1", "p2", "p3", "p4")]
    env = {
        **os.environ,
        "TECHKB_CHROMA_URL": chroma_url,
        "TECHKB_STORE__PREFIX": "srv-c",
        "TECHKB_EMBEDDER__BACKEND": "sentence-transformers",
        "TECHKB_EMBEDDER__MULTILINGUAL": "",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "techkb", "ingest", str(r), "--store", str(home), "--json"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in roots
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-2000:]
        reports.append(json.loads(out))
    assert all(r["added"] == 3 and r["failed"] == [] for r in reports)

    store = KnowledgeStore(home, chroma_url=chroma_url, prefix="srv-c")
    try:
        docs = store.catalog.documents()
        assert len(docs) == 12 and all(d.status == "complete" for d in docs)
        ids = [c.chunk_id for _, c in store.catalog.iter_chunks()]
        assert len(ids) == len(set(ids))
        assert store.vectors.count() == len(ids)
        assert store.ml_vectors.count() == 0
        index = store.keyword_index()
        assert index.version == store.catalog.version()
        for tag in ("p1", "p2", "p3", "p4"):
            hits = store.keyword_search(f"{tag} coolant concentration", ANONYMOUS, 3, None)
            assert hits and hits[0].chunk_id in ids
    finally:
        store.close()
