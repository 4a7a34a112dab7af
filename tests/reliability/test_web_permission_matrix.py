"""The permission matrix over the web surfaces: REST API, OpenAI-compatible API, dashboard,
ledger, document list, feedback export and eval reports.

Same corpus and personas as `test_permission_matrix`, against a real `techkb serve` process over
HTTP on 127.0.0.1, as an outside client would call it; every persona signs in with HTTP Basic
credentials from a users file (anonymous sends none). The Gradio app of the same server is
attacked in `test_web_side_doors.py`. Each response body is searched for the
chunk ids and canaries of every document that persona may not see.

Again with `store.database_url` set (PostgreSQL): `techkb serve` started with
TECHKB_STORE__DATABASE_URL, no users file, its users in the database
(`tests.reliability.database_world`). That server costs a start, so the database runs every
route for a subset of personas (`DATABASE_PERSONAS`: anonymous, a student of one org,
the staff who owns the most sensitive document) and the feedback export; the eval report, which
reads no user, feedback or conversation, runs on the SQLite files only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from assistant.types import Identity
from tests.reliability import database_world
from tests.reliability.canary import PERSONAS, chunk_allowed, doc_allowed, private_copy

pytestmark = pytest.mark.slow

PASSWORD = database_world.PASSWORD  # the database world's users have it too
FULL_MODE_DOC = "org-huaxin"  # every mode and streaming are tried on the most sensitive one
DATABASE_PERSONAS = ("anonymous", "staff-huaxin", "student-donghai")
BACKENDS_AND_PERSONAS = [("sqlite", p) for p in sorted(PERSONAS)] + [
    ("postgresql", p) for p in DATABASE_PERSONAS
]


def _forbidden(world: dict[str, Any], identity: Identity) -> list[str]:
    ids = [cid for cid, c in world["chunks"].items() if not chunk_allowed(identity, c)]
    return ids + [d.canary for d in world["docs"] if not doc_allowed(identity, d)]


def _clean(text: str, forbidden: list[str], where: tuple[Any, ...]) -> None:
    leaked = [x for x in forbidden if x in text]
    assert not leaked, (where, leaked)


@contextmanager
def _served(
    world: dict[str, Any], base: Path, users_file: Path | None, env: dict[str, str]
) -> Iterator[dict[str, Any]]:
    import httpx

    from tests.processes import serve_techkb

    home = world["home"] if users_file is None else base / "store"
    with (
        serve_techkb(home, base, users_file, env=env) as served,
        httpx.Client(base_url=served.url, timeout=300) as client,
    ):
        yield {"client": client, "home": home, "env": env, "world": world}


@pytest.fixture(scope="module")
def web_sqlite(
    canary_world: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A real `techkb serve` process over a copy of the permission corpus, reached over HTTP,
    its users in a users file, the rest in SQLite files in its home."""
    base = tmp_path_factory.mktemp("web-matrix")
    users_file = private_copy(canary_world["home"], base, PERSONAS, PASSWORD)
    with _served(canary_world, base, users_file, {}) as web:
        yield web


@pytest.fixture(scope="module")
def web_postgresql(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A real `techkb serve` started with TECHKB_STORE__DATABASE_URL and no users file."""
    world = database_world.database_world(request)
    with _served(world, tmp_path_factory.mktemp("web-matrix-db"), None, world["env"]) as web:
        yield web


@pytest.fixture(params=["sqlite"])
def web(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The server of one back end (a test parametrises `web` indirectly to choose)."""
    return dict(request.getfixturevalue(f"web_{request.param}"))


def _auth(persona: str) -> tuple[str, str] | None:
    return None if PERSONAS[persona].anonymous else (persona, PASSWORD)


@pytest.mark.parametrize(("web", "persona"), BACKENDS_AND_PERSONAS, indirect=["web"])
def test_rest_and_openai_api_never_return_a_forbidden_chunk(
    web: dict[str, Any], persona: str
) -> None:
    canary_world, client, auth = web["world"], web["client"], _auth(persona)
    identity = PERSONAS[persona]
    forbidden = _forbidden(canary_world, identity)
    me = client.get("/api/me", auth=auth).json()
    assert me["anonymous"] == identity.anonymous and me.get("org") == identity.org
    for doc in canary_world["docs"]:
        modes = ("ask", "procedure", "exercise") if doc.name == FULL_MODE_DOC else ("ask",)
        for mode in modes:
            r = client.post("/api/ask", json={"question": doc.question, "mode": mode}, auth=auth)
            assert r.status_code == 200, r.text
            _clean(r.text, forbidden, (persona, f"api-ask-{mode}", doc.name))
            body = r.json()
            if mode == "ask" and doc_allowed(identity, doc):
                assert doc.source in json.dumps(body), (persona, doc.name)
            if body.get("answer_id"):
                client.post(
                    "/api/feedback", json={"answer_id": body["answer_id"], "rating": 1}, auth=auth
                )
        streams = (False, True) if doc.name == FULL_MODE_DOC else (False,)
        for stream in streams:
            chat = {"model": "techkb", "stream": stream,
                    "messages": [{"role": "user", "content": doc.question}]}  # fmt: skip
            r = client.post("/v1/chat/completions", json=chat, auth=auth)
            assert r.status_code == 200, r.text
            _clean(r.text, forbidden, (persona, f"openai-stream={stream}", doc.name))


@pytest.mark.parametrize(("web", "persona"), BACKENDS_AND_PERSONAS, indirect=["web"])
def test_source_cards_of_forbidden_chunks_are_not_found(web: dict[str, Any], persona: str) -> None:
    canary_world, client, auth = web["world"], web["client"], _auth(persona)
    identity = PERSONAS[persona]
    forbidden = _forbidden(canary_world, identity)
    for chunk_id, chunk in canary_world["chunks"].items():
        r = client.get(f"/api/sources/{chunk_id}", auth=auth)
        others = [x for x in forbidden if x != chunk_id]  # a 404 may repeat the id it was asked
        _clean(r.text, others, (persona, "api-sources", chunk.source))
        assert r.status_code == (200 if chunk_allowed(identity, chunk) else 404), chunk.source


@pytest.mark.parametrize(("web", "persona"), BACKENDS_AND_PERSONAS, indirect=["web"])
def test_dashboard_ledger_and_document_list_hold_nothing_forbidden(
    web: dict[str, Any], persona: str
) -> None:
    canary_world, client, auth = web["world"], web["client"], _auth(persona)
    forbidden = _forbidden(canary_world, PERSONAS[persona])
    for path in ("/api/dashboard", "/api/ledger", "/api/ledger?format=csv", "/api/documents"):
        r = client.get(path, auth=auth)
        assert r.status_code in (200, 401, 403), (path, r.status_code, r.text[:300])
        _clean(r.text, forbidden, (persona, path))


@pytest.mark.parametrize("web", ["sqlite", "postgresql"], indirect=True)
def test_feedback_export_holds_only_what_the_exporting_admin_may_see(web: dict[str, Any]) -> None:
    from typer.testing import CliRunner

    from techkb.cli import app

    canary_world, client = web["world"], web["client"]
    secret = next(d for d in canary_world["docs"] if d.name == FULL_MODE_DOC)
    r = client.post("/api/ask", json={"question": secret.question}, auth=_auth("staff-huaxin"))
    owned = canary_world["by_source"][secret.source]
    assert any(cid in r.text for cid in owned), "the owner got the private answer"
    client.post("/api/feedback", json={"answer_id": r.json()["answer_id"], "rating": 1},
                auth=_auth("staff-huaxin"))  # fmt: skip
    public = next(d for d in canary_world["docs"] if d.name == "public")
    # The admin's own org's question (another org's users' questions are not its to read).
    r = client.post("/api/ask", json={"question": public.question}, auth=_auth("admin"))
    client.post("/api/feedback", json={"answer_id": r.json()["answer_id"], "rating": 1},
                auth=_auth("admin"))  # fmt: skip
    admin = PERSONAS["admin"]
    result = CliRunner().invoke(
        app,
        ["feedback", "export", "--store", str(web["home"]), "--org", str(admin.org), "--role",
         "admin"],
        env=web["env"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output[-2000:]
    assert public.question in result.stdout, "the answer the admin may see is exported"
    _clean(result.stdout, _forbidden(canary_world, admin), ("admin", "feedback-export"))


def test_eval_report_items_hold_only_what_their_user_may_see(
    canary_world: dict[str, Any],
    web: dict[str, Any],
    tmp_path: Path,
    session_models: None,
) -> None:
    from typer.testing import CliRunner

    from techkb.cli import app

    items, owner = [], {}
    for persona in ("student-donghai", "staff-meridian", "anonymous"):
        identity = PERSONAS[persona]
        for doc in canary_world["docs"]:
            item: dict[str, Any] = {
                "id": f"{persona}-{doc.name}",
                "question": doc.question,
                "reference": "",
                "gold_sources": [doc.source],
                "gold_contributors": [doc.contributor],
                "answerable": doc_allowed(identity, doc),
            }
            if not identity.anonymous:
                item["user"] = {"org": identity.org, "role": identity.role}
            items.append(item)
            owner[item["id"]] = persona
    dataset = tmp_path / "matrix.jsonl"
    dataset.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items))
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app,
        ["eval", str(dataset), "--store", str(web["home"]), "--out", str(out),
         "--no-attribution", "--no-publish"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output[-3000:]
    report = json.loads((out / "report.json").read_text())
    by_id = {item["id"]: item for item in report["items"]}
    assert len(by_id) == len(items)
    for item in items:
        persona = owner[item["id"]]
        forbidden = _forbidden(canary_world, PERSONAS[persona])
        _clean(json.dumps(by_id[item["id"]], ensure_ascii=False), forbidden,
               (persona, "eval-report", item["id"]))  # fmt: skip
    assert report["summary"]["leaks"] == 0


@pytest.mark.parametrize("web", ["postgresql"], indirect=True)
def test_a_user_added_to_the_database_signs_in_on_the_running_server_at_once(
    web: dict[str, Any],
) -> None:
    """Another process (this test) adds, re-scopes and removes a user and issues a token in the
    database; the running server sees each change at the next request."""
    from assistant.users_db import DatabaseUserStore

    client = web["client"]
    users = DatabaseUserStore(web["home"], web["env"]["TECHKB_STORE__DATABASE_URL"])
    auth = ("late-comer", "a long enough password")
    assert client.get("/api/me", auth=auth).status_code == 401
    users.add(auth[0], "meridian-cnc", "staff", auth[1])
    me = client.get("/api/me", auth=auth).json()
    assert (me["anonymous"], me["org"], me["role"]) == (False, "meridian-cnc", "staff")
    _, token = users.issue_token(auth[0], "test")
    bearer = {"authorization": f"Bearer {token}"}
    assert client.get("/api/me", headers=bearer).json()["org"] == "meridian-cnc"
    users.add(auth[0], "huaxin-robotics", "teacher", auth[1], replace=True)
    assert client.get("/api/me", auth=auth).json()["org"] == "huaxin-robotics"
    assert client.get("/api/me", headers=bearer).status_code == 401  # replaced: tokens dropped
    users.remove(auth[0])
    assert client.get("/api/me", auth=auth).status_code == 401
