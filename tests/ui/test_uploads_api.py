"""Contributor uploads over HTTP: background ingest, answered, replaced, deleted; rejections."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from assistant.types import Identity
from tests.ui.conftest import Web

pytestmark = pytest.mark.slow

TEACHER = Identity("nl-teacher", "northlake-college", "teacher")
QUESTION = "What coolant concentration does the Vortex-9 training lathe need?"
V1 = (
    b"# Vortex-9 training lathe coolant\n\n"
    b"Check the coolant concentration of the Vortex-9 training lathe with a refractometer "
    b"every Monday. The Vortex-9 training lathe needs a coolant concentration of 6 to 8 percent.\n"
)
V2 = V1.replace(b"6 to 8 percent", b"7 to 9 percent")


def _wait(client: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        status = client.get(f"/api/uploads/{job_id}").json()
        if status["state"] in ("done", "failed"):
            return status  # type: ignore[no-any-return]
        time.sleep(0.25)
    raise AssertionError(f"upload job {job_id} did not finish")


def _sources(client: httpx.Client) -> set[str]:
    reply = client.post("/api/ask", json={"question": QUESTION}).json()
    return {c["source"] for c in reply["citations"]}


def _upload(client: httpx.Client, name: str, data: bytes, **form: str) -> httpx.Response:
    fields = {"kind": "procedure", "visibility": "org", **form}
    return client.post("/api/documents", files={"file": (name, data)}, data=fields)


def test_upload_ingest_answer_replace_delete(web: Web) -> None:
    teacher, outsider = web.client("nl-teacher"), web.client("mc-staff")
    source = "northlake-college/vortex-9-coolant.md"
    sent = _upload(teacher, "vortex-9-coolant.md", V1, edition="2025", license="CC-BY-4.0")
    assert sent.status_code == 202, sent.text
    job_id = sent.json()["job_id"]
    status = _wait(teacher, job_id)
    assert status["state"] == "done" and status["progress"] == 1.0 and not status["errors"]
    assert outsider.get(f"/api/uploads/{job_id}").status_code == 404

    reply = teacher.post("/api/ask", json={"question": QUESTION}).json()
    assert source in {c["source"] for c in reply["citations"]} and "6 to 8" in reply["answer"]
    assert source not in _sources(outsider)  # org-private: another org never gets it
    assert source not in _sources(web.client())

    docs = {d["source"]: d for d in teacher.get("/api/documents").json()}
    doc = docs[source]
    assert (doc["kind"], doc["visibility"], doc["edition"], doc["uploaded"]) == (
        "procedure",
        "org",
        "2025",
        True,
    )
    assert outsider.delete(f"/api/documents/{doc['doc_id']}").status_code == 404
    catalog = web.services.store.catalog
    chunk_ids = [c.chunk_id for c in web.services.call(catalog.document_chunks, doc["doc_id"])]
    assert chunk_ids

    replaced = teacher.put(
        f"/api/documents/{doc['doc_id']}", files={"file": ("ignored-name.md", V2)}
    )
    assert replaced.status_code == 202, replaced.text
    assert _wait(teacher, replaced.json()["job_id"])["state"] == "done"
    again = teacher.post("/api/ask", json={"question": QUESTION}).json()
    assert "7 to 9" in again["answer"] and "6 to 8" not in again["answer"]

    assert teacher.delete(f"/api/documents/{doc['doc_id']}").status_code == 204
    assert source not in _sources(teacher)
    assert not (web.home / "uploads" / source).exists()
    assert source not in {d["source"] for d in teacher.get("/api/documents").json()}
    store = web.services.store
    assert web.services.call(store.catalog.get_chunks, chunk_ids) == {}
    hits = web.services.call(store.keyword_search, QUESTION, TEACHER, 50, None)
    assert not {h.chunk_id for h in hits} & set(chunk_ids)
    assert web.services.call(_vector_ids, store, chunk_ids) == set()


def _vector_ids(store: Any, ids: list[str]) -> set[str]:
    """Which of these ids any of the store's Chroma collections still holds."""
    found: set[str] = set()
    for index in (store.vectors, store.ml_vectors):
        for name in index._own_collections():
            collection = index._client.get_collection(name, embedding_function=None)
            found.update(collection.get(ids=ids)["ids"])
    return found


def test_a_corpus_document_cannot_be_deleted_over_http(web: Web) -> None:
    teacher = web.client("nl-teacher")
    corpus_doc = next(d for d in teacher.get("/api/documents").json() if not d["uploaded"])
    assert teacher.delete(f"/api/documents/{corpus_doc['doc_id']}").status_code == 403


def test_uploads_are_checked(web: Web) -> None:
    teacher = web.client("nl-teacher")
    too_big = _upload(teacher, "big.md", b"# Big\n\n" + b"word " * 20_000)
    assert too_big.status_code == 413
    assert _upload(teacher, "tool.exe", b"MZ\x90\x00binary").status_code == 422
    assert _upload(teacher, "fake.pdf", b"just text pretending").status_code == 422
    assert _upload(teacher, "fake.docx", b"PK\x03\x04 not really").status_code == 422
    assert _upload(teacher, "bin.md", b"\x00\x01\x02\xff\xfe").status_code == 422
    for name in ("../../evil.md", "..\\evil.md", ".hidden.md"):
        reply = _upload(teacher, name, b"# Evil\n\ntext")
        assert reply.status_code == 422, name
    assert not list(web.home.rglob("evil.md")) and not (web.home.parent / "evil.md").exists()
    bad_meta = _upload(teacher, "ok.md", b"# Ok\n\ntext", visibility="secret")
    assert bad_meta.status_code == 422
    # Who may upload: staff/teacher/admin of the org; students no; anonymous must sign in.
    assert _upload(web.client("nl-student"), "s.md", b"# S\n\ntext").status_code == 403
    assert _upload(web.client(), "a.md", b"# A\n\ntext").status_code == 401
    other_org = _upload(teacher, "o.md", b"# O\n\ntext", org="meridian-cnc")
    assert other_org.status_code == 403
