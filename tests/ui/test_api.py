"""The REST API over real HTTP on 127.0.0.1: auth, identity scoping, sources, errors, reports."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from assistant.users import UserStore
from tests.ui.conftest import Web

pytestmark = pytest.mark.slow

ECN_DOC = "meridian-cnc/guides/mc-ecn-2024-031-drawbar-disc-springs.md"
ECN_QUESTION = "What drawbar force is accepted after the disc-spring retrofit of ECN-2024-031?"


def _chunk_ids(web: Web, source: str) -> list[str]:
    catalog = web.services.store.catalog
    docs = web.services.call(catalog.documents)
    doc = next(d for d in docs if d.source == source)
    return [c.chunk_id for c in web.services.call(catalog.document_chunks, doc.doc_id)]


def _cited_sources(reply: dict[str, Any]) -> set[str]:
    return {c["source"] for c in reply["citations"]}


def test_openapi_schema_lists_the_routes(web: Web) -> None:
    schema = web.client().get("/openapi.json").json()
    for path in ("/api/ask", "/api/sources/{chunk_id}", "/api/documents", "/v1/chat/completions"):
        assert path in schema["paths"], path
    models = web.client().get("/v1/models").json()
    assert [m["id"] for m in models["data"]] == ["techkb", "techkb-procedure", "techkb-exercise"]


def test_basic_bearer_and_anonymous(web: Web) -> None:
    assert web.client("nl-student").get("/api/me").json()["org"] == "northlake-college"
    bad = web.client().get("/api/me", auth=("nl-student", "wrong password"))
    assert bad.status_code == 401
    assert bad.json()["error"]["type"] == "authentication_error"
    assert "basic" in bad.headers["www-authenticate"].lower()
    me = web.client(token=web.tokens["mc-staff"]).get("/api/me").json()
    assert (me["user"], me["role"]) == ("mc-staff", "staff")
    assert web.client().get("/api/me").json()["anonymous"] is True
    garbled = {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}
    assert web.client().get("/api/me", headers=garbled).status_code == 401

    users = UserStore(web.users_file)
    token_id, token = users.issue_token("nl-teacher", "temporary")
    assert web.client(token=token).get("/api/me").json()["user"] == "nl-teacher"
    users.revoke_token("nl-teacher", token_id)
    assert web.client(token=token).get("/api/me").status_code == 401
    # Write routes need a signed-in user when there is a users file.
    anon = web.client().post("/api/feedback", json={"answer_id": "x", "rating": 1})
    assert anon.status_code == 401


def test_anonymous_sees_public_material_only(web: Web) -> None:
    reply = web.client().post("/api/ask", json={"question": ECN_QUESTION}).json()
    assert ECN_DOC not in _cited_sources(reply)
    for c in reply["citations"]:
        assert c["visibility"] == "public" and not c["allowed_roles"]


def test_ask_cites_and_source_card_locates_the_quote(web: Web) -> None:
    client = web.client("nl-student")
    reply = client.post(
        "/api/ask",
        json={"question": "How do I replace the encoder backup battery of the HX-R20 robot?"},
    ).json()
    assert not reply["refused"] and reply["citations"] and "[1]" in reply["answer"]
    assert reply["outcome"] == "answer"
    assert reply["answer_id"]
    first = reply["citations"][0]
    card = client.get(f"/api/sources/{first['chunk_id']}", params={"quote": first["quote"]}).json()
    assert card["contributor"] == first["contributor"] and card["contributor_name"]
    assert card["text"][card["quote_start"] : card["quote_end"]] == first["quote"]

    follow = client.post(
        "/api/ask",
        json={
            "question": "And what must I not switch off?",
            "history": [
                {"role": "user", "content": "How do I replace the HX-R20 encoder battery?"},
                {"role": "assistant", "content": reply["answer"]},
            ],
            "mode": "ask",
        },
    )
    assert follow.status_code == 200 and follow.json()["mode"] == "ask"
    assert client.post("/api/ask", json={"question": "x", "mode": "poem"}).status_code == 422
    assert client.post("/api/ask", json={"question": "  "}).status_code == 422
    assert client.post("/api/ask", json={"history": []}).status_code == 422


def test_other_orgs_private_chunk_never_reaches_a_student(web: Web) -> None:
    private = _chunk_ids(web, ECN_DOC)
    student = web.client("nl-student")
    assert ECN_DOC not in _cited_sources(
        student.post("/api/ask", json={"question": ECN_QUESTION}).json()
    )
    hidden = student.get(f"/api/sources/{private[0]}")
    missing = student.get("/api/sources/no-such-chunk-0000")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"]["message"].replace(private[0], "X") == missing.json()["error"][
        "message"
    ].replace("no-such-chunk-0000", "X")
    # Same org but a role the document does not allow.
    assert web.client("mc-student").get(f"/api/sources/{private[0]}").status_code == 404
    chat = student.post(
        "/v1/chat/completions",
        json={"model": "techkb", "messages": [{"role": "user", "content": ECN_QUESTION}]},
    ).json()
    assert ECN_DOC not in {c["source"] for c in chat["citations"]}
    assert "14.3" not in chat["choices"][0]["message"]["content"]

    assert student.get("/api/documents").json() == []
    assert student.get("/api/dashboard").status_code == 403
    assert student.get("/api/ledger").status_code == 403

    staff = web.client("mc-staff")
    answer = staff.post("/api/ask", json={"question": ECN_QUESTION}).json()
    assert ECN_DOC in _cited_sources(answer)
    assert staff.get(f"/api/sources/{private[0]}").status_code == 200

    teacher_docs = web.client("nl-teacher").get("/api/documents").json()
    assert teacher_docs and {d["contributor"] for d in teacher_docs} == {"northlake-college"}
    dash = web.client("nl-teacher").get("/api/dashboard").json()
    assert dash["scope"] == "northlake-college" and dash["eval"] is None
    assert set(dash["documents"]["by_contributor"]) == {"northlake-college"}
    assert {r["contributor"] for r in dash["ledger"]} <= {"northlake-college"}
    rows = web.client("nl-teacher").get("/api/ledger").json()
    assert {r["contributor"] for r in rows} <= {"northlake-college"}


def test_eval_report_is_for_admins_only(web: Web) -> None:
    folder = web.home / "evals" / "latest"
    (folder / "plots").mkdir(parents=True, exist_ok=True)
    report = {"summary": {"recall@5": 0.9}, "items": [{"id": "q1", "answer": "secret quote"}]}
    (folder / "report.json").write_text(json.dumps(report))
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    (folder / "plots" / "recall.png").write_bytes(png)

    admin = web.client("root")
    latest = admin.get("/api/evals/latest").json()
    assert latest == {
        "summary": {"recall@5": 0.9},
        "plots": {"recall": "/api/evals/latest/plots/recall.png"},
    }
    assert admin.get(latest["plots"]["recall"]).content == png
    assert admin.get("/api/evals/latest/plots/..%2Freport.png").status_code == 404
    assert admin.get("/api/evals/latest/plots/missing.png").status_code == 404
    assert "secret quote" not in json.dumps(admin.get("/api/dashboard").json())
    assert admin.get("/api/dashboard").json()["eval"]["summary"] == {"recall@5": 0.9}
    assert web.client("nl-teacher").get("/api/evals/latest").status_code == 403
    assert web.client().get("/api/evals/latest/plots/recall.png").status_code == 403


def test_unknown_route_is_a_json_404(web: Web) -> None:
    reply = web.client().get("/api/nothing-here")
    assert reply.status_code == 404 and reply.json()["error"]["code"] == 404
