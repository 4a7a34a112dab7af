"""Issue 13, finding 7, over real HTTP against a `techkb serve` process: the feedback export,
the dashboard, the document list, upload jobs and the ledger apply the access rule to every
field they emit.

The story: Meridian publishes a public document and Huaxin uploads an org-private one through
the API. A Huaxin staff member asks about Huaxin's private procedure, then, in the same
conversation, asks a public question and rates that answer up; later asks a question carrying
an internal Huaxin code about Meridian's public document and rates it down (a knowledge gap in
Meridian's area). The consortium office's admin rates an answer of its own. Then every other
org's reader, the consortium admin included, is checked for every Huaxin string; Huaxin's own
admin and staff still get them (so the checks are not vacuous).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.feedback import FeedbackStore
from assistant.types import Identity
from tests.processes import serve_techkb
from tests.reliability.canary import PERSONAS, canary, doc_allowed, private_copy

pytestmark = [pytest.mark.slow, pytest.mark.server]

PASSWORD = "correct horse battery staple"
USERS: dict[str, Identity] = {
    **{name: who for name, who in PERSONAS.items() if not who.anonymous},
    "admin-huaxin": Identity("admin-huaxin", "huaxin-robotics", "admin"),
}
HX_UPLOAD = canary("upload-huaxin-private")
HX_UPLOAD_NAME = f"cell-layout-{HX_UPLOAD.lower()}.md"
HX_UPLOAD_BODY = (
    f"# HX-R9 welding cell layout {HX_UPLOAD}\n\n## Layout\n\nThe HX-R9 welding cell {HX_UPLOAD} "
    "stands two metres from the fence. Keep the light curtain clear.\n"
)
MC_PUBLIC_NAME = "mv-850-chip-conveyor.md"
MC_PUBLIC_BODY = (
    "# MV-850 chip conveyor cleaning\n\n## Steps\n\n1. Stop the MV-850 chip conveyor.\n"
    "2. Remove the chips from the MV-850 chip conveyor belt every 40 hours.\n"
    "3. Clean the chip conveyor coolant filter of the MV-850 every week.\n"
)


def _auth(persona: str) -> tuple[str, str]:
    return (persona, PASSWORD)


def _client(url: str, persona: str) -> httpx.Client:
    return httpx.Client(base_url=url, auth=_auth(persona), timeout=300)


def _wait_job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status: dict[str, Any] = client.get(f"/api/uploads/{job_id}").json()
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.5)
    raise AssertionError(f"upload job {job_id} did not finish")


def _upload(client: httpx.Client, name: str, body: str, visibility: str) -> str:
    fields = {"kind": "procedure", "visibility": visibility}
    r = client.post("/api/documents", files={"file": (name, body.encode())}, data=fields)
    assert r.status_code == 202, r.text
    job_id: str = r.json()["job_id"]
    status = _wait_job(client, job_id)
    assert status["state"] == "done" and not status["errors"], status
    return job_id


@pytest.fixture(scope="module")
def served(
    canary_world: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """`python -m techkb serve` over a private copy of the permission corpus."""
    base = tmp_path_factory.mktemp("visibility-exports")
    users_file = private_copy(canary_world["home"], base, USERS, PASSWORD)
    home = base / "store"
    with serve_techkb(home, base, users_file) as server:
        yield {"url": server.url, "home": home}


@pytest.fixture(scope="module")
def story(canary_world: dict[str, Any], served: dict[str, Any]) -> dict[str, Any]:
    """Uploads, the Huaxin conversation, the Huaxin gap and the admin's own rated answer."""
    url = served["url"]
    docs = {d.name: d for d in canary_world["docs"]}
    staff = _client(url, "staff-huaxin")
    mc_job = _upload(_client(url, "staff-meridian"), MC_PUBLIC_NAME, MC_PUBLIC_BODY, "public")
    hx_job = _upload(staff, HX_UPLOAD_NAME, HX_UPLOAD_BODY, "org")
    hx_doc = next(d for d in staff.get("/api/documents").json() if HX_UPLOAD_NAME in d["source"])

    private_q = docs["org-huaxin"].question
    private = staff.post("/api/ask", json={"question": private_q}).json()
    owned = canary_world["by_source"][docs["org-huaxin"].source]
    assert {c["chunk_id"] for c in private["citations"]} & set(owned), "owner got the answer"
    history = [
        {"role": "user", "content": private_q},
        {"role": "assistant", "content": private["answer"]},
    ]
    follow_q = docs["public"].question
    follow = staff.post("/api/ask", json={"question": follow_q, "history": history}).json()
    staff.post("/api/feedback", json={"answer_id": follow["answer_id"], "rating": 1})

    gap_q = (
        f"How often is the chip conveyor of the MV-850 cleaned when it feeds our HX-R9 "
        f"regreasing cell {docs['org-huaxin'].canary}?"
    )
    gap = staff.post("/api/ask", json={"question": gap_q}).json()
    staff.post("/api/feedback", json={"answer_id": gap["answer_id"], "rating": -1})
    logged = {a.answer_id: a for a in FeedbackStore(served["home"]).answers()}
    area = {str(h.get("contributor")) for h in logged[gap["answer_id"]].retrieved}
    assert "meridian-cnc" in area | set(logged[gap["answer_id"]].contributors), (
        "the gap lies in Meridian's area: before the fix Meridian's dashboard listed it"
    )

    admin = _client(url, "admin")
    own_q = docs["consortium"].question
    own = admin.post("/api/ask", json={"question": own_q}).json()
    admin.post("/api/feedback", json={"answer_id": own["answer_id"], "rating": 1})
    return {
        "mc_job": mc_job,
        "hx_job": hx_job,
        "hx_doc": hx_doc,
        "private_q": private_q,
        "private_answer": private["answer"],
        "follow_id": follow["answer_id"],
        "gap_q": gap_q,
        "own_q": own_q,
    }


def _huaxin_strings(world: dict[str, Any], story: dict[str, Any], reader: Identity) -> list[str]:
    """Everything of Huaxin's (and of every other document `reader` may not see): chunk ids,
    canaries, sources, titles, the private question, its answer and the gap question."""
    hidden = {d.source for d in world["docs"] if not doc_allowed(reader, d)}
    out = [story["private_q"], story["private_answer"], story["gap_q"], HX_UPLOAD, HX_UPLOAD_NAME]
    for chunk_id, chunk in world["chunks"].items():
        if chunk.source in hidden:
            out += [chunk_id, chunk.source, chunk.title]
    return out + [d.canary for d in world["docs"] if d.source in hidden]


def _clean(text: str, forbidden: list[str], where: str) -> None:
    leaked = [x for x in forbidden if x and x.lower() in text.lower()]
    assert not leaked, (where, leaked)


def _export(home: Path, org: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "techkb", "feedback", "export", "--store", str(home), "--org",
         org, "--role", "admin"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_feedback_export_holds_no_other_orgs_question_answer_or_history(
    canary_world: dict[str, Any], served: dict[str, Any], story: dict[str, Any]
) -> None:
    office = _export(served["home"], "consortium-office")
    text = json.dumps(office, ensure_ascii=False)
    _clean(text, _huaxin_strings(canary_world, story, PERSONAS["admin"]), "office export")
    assert f"feedback-{story['follow_id']}" not in text, "a Huaxin user's question"
    assert story["own_q"] in {i.get("question") for i in office}, "its own org's item is there"

    # Huaxin's admin may read the whole conversation: the earlier turns go out with it.
    huaxin = {i["id"]: i for i in _export(served["home"], "huaxin-robotics")}
    item = huaxin[f"feedback-{story['follow_id']}"]
    assert item["messages"][:2] == [
        {"role": "user", "content": story["private_q"]},
        {"role": "assistant", "content": story["private_answer"]},
    ]
    assert story["gap_q"] in {i.get("question") for i in huaxin.values()}
    assert story["own_q"] not in json.dumps(huaxin), "the office admin's question is its own"


@pytest.mark.parametrize("persona", ["staff-meridian", "teacher-northlake", "admin"])
def test_dashboard_shows_questions_only_to_the_askers_own_org(
    canary_world: dict[str, Any], served: dict[str, Any], story: dict[str, Any], persona: str
) -> None:
    with _client(served["url"], persona) as client:
        r = client.get("/api/dashboard")
    assert r.status_code == 200, r.text
    body = r.json()
    _clean(json.dumps(body, ensure_ascii=False),
           _huaxin_strings(canary_world, story, PERSONAS[persona]), persona)  # fmt: skip
    assert "huaxin-robotics" not in json.dumps(body), "Huaxin holds nothing this reader may see"
    for entry in ("private_q", "gap_q"):
        assert story[entry] not in {g["question"] for g in body["gaps"]}


def test_dashboard_shows_the_gap_to_the_askers_own_org(
    served: dict[str, Any], story: dict[str, Any]
) -> None:
    with _client(served["url"], "admin-huaxin") as client:
        body = client.get("/api/dashboard").json()
    assert story["gap_q"] in {g["question"] for g in body["gaps"]}
    assert body["documents"]["by_contributor"].get("huaxin-robotics", 0) >= 3


def test_document_list_upload_jobs_and_ledger_hide_other_orgs_private_documents(
    canary_world: dict[str, Any], served: dict[str, Any], story: dict[str, Any]
) -> None:
    forbidden = _huaxin_strings(canary_world, story, PERSONAS["admin"])
    with _client(served["url"], "admin") as admin:
        documents = admin.get("/api/documents")
        assert documents.status_code == 200
        _clean(json.dumps(documents.json(), ensure_ascii=False), forbidden, "admin documents")
        sources = {d["source"] for d in documents.json()}
        assert f"meridian-cnc/{MC_PUBLIC_NAME}" in sources, "public documents stay listed"
        assert {d["visibility"] for d in documents.json()} <= {"public", "consortium"}
        for path in ("/api/ledger", "/api/ledger?format=csv", "/api/dashboard"):
            r = admin.get(path)
            assert r.status_code == 200, (path, r.text[:300])
            _clean(r.text, [*forbidden, "huaxin-robotics"], f"admin {path}")
        counts = admin.get("/api/dashboard").json()["documents"]["by_visibility"]
        assert "org" not in counts, "no org-private document of another org is counted"
        # Nor may the admin act on (or learn about) Huaxin's upload and its job.
        doc_id = story["hx_doc"]["doc_id"]
        assert admin.get(f"/api/uploads/{story['hx_job']}").status_code == 404
        assert admin.delete(f"/api/documents/{doc_id}").status_code == 404
        replaced = admin.put(f"/api/documents/{doc_id}", files={"file": ("x.md", b"# X\n\nx")})
        assert replaced.status_code == 404
    with _client(served["url"], "staff-meridian") as meridian:
        assert meridian.get(f"/api/uploads/{story['hx_job']}").status_code == 404
        assert meridian.get(f"/api/uploads/{story['mc_job']}").status_code == 200
    with _client(served["url"], "admin-huaxin") as huaxin:
        assert huaxin.get(f"/api/uploads/{story['hx_job']}").status_code == 200
        listed = {d["source"] for d in huaxin.get("/api/documents").json()}
        assert story["hx_doc"]["source"] in listed
