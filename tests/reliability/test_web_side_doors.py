"""Issue 13: the web app's side doors, tried as an attacker would — real HTTP against a real
`techkb serve` on 127.0.0.1, through the sign-in page, Gradio's own event API, CORS and the
sign-in routes. Each test names the finding it reproduces; each failed before its fix.

Servers (module-scoped, over a copy of the permission corpus of `tests.reliability.canary`):
- `guarded`: with a users file, default limits but a 5 s sign-in lockout (so one test's lockout
  does not outlast it) and one allowed origin;
- `open_app`: without a users file (everyone anonymous, the Gradio app open to all);
- `loose`: sessions of about 2 s and no practical throttle, for expiry and timing.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.types import Identity
from tests.processes import Served, serve_techkb
from tests.reliability.canary import PERSONAS, doc_allowed, private_copy
from tests.reliability.web_attacker import (
    attack_every_event,
    canaries_in,
    dependencies,
    file_data,
    fire,
    served_files,
    sign_in,
    value_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.server]

PASSWORD = "correct horse battery staple"
ATTACKERS = [
    "student-northlake",
    "staff-huaxin",
    "staff-meridian",
    "teacher-northlake",
    "admin",
    "signed-out",
]
PARTNER = "https://partner.example.org"
OUTSIDE_CANARY = "CNRYDEADBEEF00"


@pytest.fixture(scope="module")
def world(canary_world: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A private copy of the ingested permission corpus, a users file and a file outside."""
    base = tmp_path_factory.mktemp("side-doors")
    extras = {
        name: Identity(name, "meridian-cnc", "staff") for name in ("victim", "leaver", "mover")
    }
    users_file = private_copy(canary_world["home"], base, {**PERSONAS, **extras}, PASSWORD)
    home = base / "store"
    outside = base / "outside" / "secret.txt"
    outside.parent.mkdir()
    outside.write_text(f"not for the web: {OUTSIDE_CANARY}\n", encoding="utf-8")
    docs = {d.name: canary_world["root"] / d.source for d in canary_world["docs"]}
    return {**canary_world, "home": home, "users_file": users_file, "outside": outside,
            "doc_paths": docs, "base": base}  # fmt: skip


@pytest.fixture(scope="module")
def guarded(world: dict[str, Any]) -> Iterator[Served]:
    env = {"TECHKB_UI__SIGNIN_LOCKOUT_S": "5", "TECHKB_UI__ALLOWED_ORIGINS": PARTNER}
    with serve_techkb(world["home"], world["base"], world["users_file"], env) as served:
        yield served


@pytest.fixture(scope="module")
def open_app(world: dict[str, Any]) -> Iterator[Served]:
    home = world["base"] / "open-store"
    shutil.copytree(world["home"], home)
    with serve_techkb(home, world["base"], None) as served:
        yield served


@pytest.fixture(scope="module")
def loose(world: dict[str, Any]) -> Iterator[Served]:
    env = {
        "TECHKB_UI__SESSION_HOURS": str(2.0 / 3600),
        "TECHKB_UI__SIGNIN_USER_FAILURES": "100000",
        "TECHKB_UI__SIGNIN_ADDRESS_FAILURES": "100000",
    }
    with serve_techkb(world["home"], world["base"], world["users_file"], env) as served:
        yield served


def _client(served: Served, persona: str) -> contextlib.closing[httpx.Client]:
    return contextlib.closing(
        sign_in(served.url, None if persona == "signed-out" else persona, PASSWORD)
    )


def _other_org_doc(world: dict[str, Any], persona: str) -> Path:
    org = PERSONAS[persona].org if persona in PERSONAS else None
    return world["doc_paths"]["org-meridian" if org == "huaxin-robotics" else "org-huaxin"]


def _forbidden(world: dict[str, Any], persona: str) -> list[str]:
    identity = PERSONAS.get(persona, PERSONAS["anonymous"])
    return [d.canary for d in world["docs"] if not doc_allowed(identity, d)]


def _documents(home: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{home / 'catalog.sqlite3'}?mode=ro", uri=True) as db:
        return sorted(db.execute("SELECT source, contributor FROM documents").fetchall())


# -- findings 1 and 2: files named in Gradio events ------------------------------------------------
@pytest.mark.parametrize("persona", ATTACKERS)
def test_every_gradio_event_with_server_paths_leaks_nothing(
    world: dict[str, Any],
    guarded: Served,
    open_app: Served,
    persona: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Findings 1 and 2: every event of /config, every input slot, four server paths."""
    before = _documents(world["home"])
    targets = {
        "users-file": world["users_file"],
        "catalog": world["home"] / "catalog.sqlite3",
        "other-org-document": _other_org_doc(world, persona),
        "outside-store": world["outside"],
    }
    canaries = sorted(
        {*_forbidden(world, persona), OUTSIDE_CANARY, "SQLite format 3",
         *canaries_in(world["users_file"])}
    )  # fmt: skip
    servers = [guarded] + ([open_app] if persona == "signed-out" else [])
    tries, leaks = 0, []
    for served in servers:
        with _client(served, persona) as client:
            if persona == "signed-out" and served is guarded:
                # Signed out of a server with users: /config itself is refused. Fire the events
                # the admin's page lists, as an attacker who knows the app would.
                with _client(guarded, "admin") as admin:
                    deps, _ = dependencies(admin)
                assert client.get("/config").status_code == 401
                for dep in deps:
                    for path in targets.values():
                        reply = fire(client, dep, [file_data(path)] * len(dep["inputs"]))
                        tries += 1
                        assert reply.startswith("join 401"), reply[:300]
                continue
            n, found = attack_every_event(client, targets, canaries)
            tries += n
            leaks += found
    with capsys.disabled():
        print(f"\n[side doors] {persona}: {tries} (event x payload x shape) tries, "
              f"{len(leaks)} leaks")  # fmt: skip
    assert not leaks, leaks[:10]
    time.sleep(1.0)  # an upload that slipped through would be queued by now
    assert _documents(world["home"]) == before
    assert all(p.exists() for p in world["doc_paths"].values())


def _event(client: httpx.Client, elem_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The event a button with this elem_id triggers, and its input components."""
    deps, components = dependencies(client)
    ids = {c["id"] for c in components.values() if c.get("props", {}).get("elem_id") == elem_id}
    for dep in deps:
        if any(t[0] in ids for t in dep.get("targets", [])):
            return dep, [components[i] for i in dep["inputs"]]
    raise AssertionError(f"no event triggered by #{elem_id}")


def test_chat_event_naming_the_users_file_is_refused(
    world: dict[str, Any], guarded: Served
) -> None:
    """Finding 1, the reported request: the chat event with a FileData chat message."""
    with _client(guarded, "student-northlake") as client:
        dep, inputs = _event(client, "techkb-send")
        assert all(c.get("type") != "chatbot" for c in inputs), "the chat takes no files"
        for shape in ("typed", "bare"):
            data = [value_for(c, world["users_file"], shape) for c in inputs]
            reply = fire(client, dep, data)
            seen = reply + served_files(client, reply)
            assert "scrypt$" not in seen and "users.yaml" not in seen.replace(
                str(world["users_file"]), ""
            ), seen[:500]


def test_staff_cannot_publish_another_orgs_file(world: dict[str, Any], guarded: Served) -> None:
    """Finding 2: Meridian staff names Huaxin's org-only file in the upload event, as public."""
    before = _documents(world["home"])
    huaxin = world["doc_paths"]["org-huaxin"]
    with _client(guarded, "staff-meridian") as client:
        dep, inputs = _event(client, "techkb-upload")
        data = [_form_value(c, str(huaxin)) for c in inputs]
        for i, c in enumerate(inputs):
            if c.get("props", {}).get("elem_id") == "techkb-upload-visibility":
                data[i] = "public"
        reply = fire(client, dep, data)
        # Refused by Gradio's path check (the file is not in its upload folder), or by ours.
        refused = '"success":false' in reply or "not uploaded in this browser session" in reply
        assert refused and "queued" not in reply, reply[:800]
    time.sleep(2.0)
    assert _documents(world["home"]) == before
    huaxin_doc = next(d for d in world["docs"] if d.name == "org-huaxin")
    answer = httpx.post(
        guarded.url + "/api/ask", json={"question": huaxin_doc.question}, timeout=120
    ).text
    assert huaxin_doc.canary not in answer


def test_an_upload_is_taken_only_by_the_session_that_sent_it(
    world: dict[str, Any], guarded: Served, tmp_path: Path
) -> None:
    """Finding 2's root: uploads come only from Gradio's cache, and only this session's."""
    note = tmp_path / "spindle-note.md"
    note.write_text("# Spindle warm-up note\n\nRun the spindle at 500 rpm for ten minutes.\n")
    with _client(guarded, "victim") as victim, _client(guarded, "staff-meridian") as thief:
        with note.open("rb") as fh:
            r = victim.post("/gradio_api/upload", files={"files": (note.name, fh, "text/markdown")})
        assert r.status_code == 200, r.text
        cached = r.json()[0]
        dep, inputs = _event(thief, "techkb-upload")
        data = [[file_data(cached)] if c.get("type") == "file" else value_for(c, cached, "typed")
                for c in inputs]  # fmt: skip
        stolen = fire(thief, dep, data)
        assert "queued" not in stolen, stolen[:500]
        assert Path(cached).exists(), "a refused event must not delete the victim's upload"
        dep, inputs = _event(victim, "techkb-upload")
        own = fire(victim, dep, [_form_value(c, cached) for c in inputs])
        assert "queued" in own or "running" in own or "done" in own, own[:800]


def _form_value(component: dict[str, Any], path: str) -> Any:
    """What the upload form sends as a person fills it in (defaults, the file uploaded)."""
    if component.get("type") == "file":
        return [file_data(path)]
    if component.get("type") == "state":
        return None
    return component.get("props", {}).get("value") or ""


# -- finding 3: CORS, Origin, cookies ------------------------------------------------------------
EVIL = "https://evil.example.net"


def test_cors_is_closed_to_other_origins(guarded: Served) -> None:
    host = {"host": "kb.college.example.org"}
    for path in ("/config", "/gradio_api/info", "/api/health", "/"):
        r = httpx.get(guarded.url + path, headers={**host, "origin": EVIL}, timeout=30)
        assert "access-control-allow-origin" not in r.headers, (path, r.headers)
    for path in ("/api/ask", "/gradio_api/queue/join", "/api/documents", "/login"):
        r = httpx.options(
            guarded.url + path,
            headers={**host, "origin": EVIL, "access-control-request-method": "POST"},
            timeout=30,
        )
        assert r.headers.get("access-control-allow-origin") is None, (path, r.headers)
    # The configured partner origin gets CORS with credentials, and only it.
    r = httpx.options(
        guarded.url + "/api/ask",
        headers={**host, "origin": PARTNER, "access-control-request-method": "POST"},
        timeout=30,
    )
    assert r.headers.get("access-control-allow-origin") == PARTNER
    assert r.headers.get("access-control-allow-credentials") == "true"


def test_state_changing_requests_from_another_origin_are_refused(guarded: Served) -> None:
    headers = {"host": "kb.college.example.org", "origin": EVIL}
    auth = ("staff-meridian", PASSWORD)
    upload = httpx.post(
        guarded.url + "/api/documents",
        headers=headers,
        auth=auth,
        files={"file": ("x.md", b"# x\n\nHello.\n", "text/markdown")},
        timeout=30,
    )
    assert upload.status_code == 403, upload.text
    login = httpx.post(
        guarded.url + "/login",
        headers=headers,
        data={"username": "staff-meridian", "password": PASSWORD},
        timeout=30,
    )
    assert login.status_code == 403 and "set-cookie" not in login.headers
    join = httpx.post(guarded.url + "/gradio_api/queue/join", headers=headers, json={}, timeout=30)
    assert join.status_code == 403
    null = httpx.post(
        guarded.url + "/api/ask", headers={"origin": "null"}, json={"question": "x"}, timeout=30
    )
    assert null.status_code == 403
    # The server's own origin, and clients that send no Origin (curl, SDKs), are served.
    own = httpx.post(
        guarded.url + "/api/ask",
        headers={"origin": guarded.url},
        json={"question": "How is coolant concentration checked?"},
        timeout=120,
    )
    assert own.status_code == 200, own.text


def test_session_cookie_is_httponly_and_samesite_lax(guarded: Served) -> None:
    r = httpx.post(
        guarded.url + "/login", data={"username": "admin", "password": PASSWORD}, timeout=30
    )
    cookie = r.headers["set-cookie"]
    assert r.status_code == 303 and cookie.startswith("techkb_session=")
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "samesite=none" not in cookie.lower() and "secure" not in cookie.lower()
    behind_tls = httpx.post(
        guarded.url + "/login",
        headers={"x-forwarded-proto": "https"},
        data={"username": "admin", "password": PASSWORD},
        timeout=30,
    )
    assert "secure" in behind_tls.headers["set-cookie"].lower()


# -- finding 4: sessions -------------------------------------------------------------------------
def _users_cli(world: dict[str, Any], *args: str, stdin: str = "") -> None:
    subprocess.run(
        [sys.executable, "-m", "techkb", "users", *args, "--users", str(world["users_file"])],
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
        timeout=60,
    )


def _works(client: httpx.Client) -> bool:
    return client.get("/gradio_api/login_check").status_code == 200 and (
        client.get("/config").status_code == 200
    )


def test_sessions_end_when_the_user_is_removed_or_changes_password(
    world: dict[str, Any], guarded: Served
) -> None:
    with _client(guarded, "leaver") as leaver, _client(guarded, "mover") as mover:
        assert _works(leaver) and _works(mover)
        _users_cli(world, "remove", "leaver")
        assert not _works(leaver)
        dep, inputs = _event(mover, "techkb-send")
        _users_cli(world, "add", "mover", "--org", "meridian-cnc", "--role", "staff",
                   "--password-stdin", "--replace", stdin="a new password 123\n")  # fmt: skip
        assert not _works(mover)
        reply = fire(mover, dep, [value_for(c, world["users_file"], "bare") for c in inputs])
        assert reply.startswith("join 401"), reply[:300]


def test_sessions_expire(loose: Served) -> None:
    with _client(loose, "admin") as client:
        assert _works(client)
        time.sleep(2.5)
        assert not _works(client)
        assert client.get("/", follow_redirects=False).headers.get("location") == "/login"


def test_signed_out_page_request_goes_to_sign_in(guarded: Served) -> None:
    r = httpx.get(guarded.url + "/", timeout=30)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    page = httpx.get(guarded.url + "/login", timeout=30)
    assert page.status_code == 200 and 'name="password"' in page.text


# -- finding 5: throttling and sign-in cost ------------------------------------------------------
def test_failed_sign_ins_are_throttled_per_user(guarded: Served) -> None:
    for _ in range(5):
        bad = httpx.post(
            guarded.url + "/login", data={"username": "victim", "password": "wrong!"}, timeout=30
        )
        assert bad.status_code == 401
    right = httpx.post(
        guarded.url + "/login", data={"username": "victim", "password": PASSWORD}, timeout=30
    )
    assert right.status_code == 429 and int(right.headers["retry-after"]) >= 1
    api = httpx.get(guarded.url + "/api/me", auth=("victim", PASSWORD), timeout=30)
    assert api.status_code == 429
    time.sleep(5.5)  # the lockout of this server
    assert (
        httpx.get(guarded.url + "/api/me", auth=("victim", PASSWORD), timeout=30).json()["user"]
        == "victim"
    )


def test_failed_sign_ins_are_throttled_per_address(guarded: Served) -> None:
    for i in range(20):
        r = httpx.get(guarded.url + "/api/me", auth=(f"nobody{i}", "guess"), timeout=30)
        assert r.status_code == 401
    r = httpx.post(
        guarded.url + "/login", data={"username": "admin", "password": PASSWORD}, timeout=30
    )
    assert r.status_code == 429
    time.sleep(5.5)
    r = httpx.post(
        guarded.url + "/login", data={"username": "admin", "password": PASSWORD}, timeout=30
    )
    assert r.status_code == 303


def test_sign_in_costs_the_same_for_unknown_and_known_users(loose: Served) -> None:
    def timed(user: str) -> float:
        start = time.perf_counter()
        r = httpx.get(loose.url + "/api/me", auth=(user, "not the password"), timeout=30)
        assert r.status_code == 401
        return time.perf_counter() - start

    unknown, known = [], []
    for i in range(25):  # interleaved, so machine noise hits both alike
        unknown.append(timed(f"no-such-user-{i}"))
        known.append(timed("admin"))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.75 < ratio < 1.33, (statistics.median(unknown), statistics.median(known))


# -- finding 6 (size): bodies are bounded before they are read -----------------------------------
def test_oversized_bodies_are_refused_at_once(guarded: Served) -> None:
    big = b'{"question": "x", "history": [{"role": "user", "content": "' + b"a" * 20_000_000
    start = time.perf_counter()
    r = httpx.post(
        guarded.url + "/api/ask",
        content=big + b'"}]}',
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert r.status_code == 413 and time.perf_counter() - start < 5

    def chunks() -> Iterator[bytes]:
        yield b'{"data": ["'
        for _ in range(64):
            yield b"a" * 16384
        yield b'"]}'

    r = httpx.post(
        guarded.url + "/gradio_api/queue/join",
        content=chunks(),
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert r.status_code == 413, r.text
