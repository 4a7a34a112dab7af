"""Conversations kept on the server: the owner alone reads them, answers that cite what the
owner may no longer see are withheld (as the feedback export withholds history), several
processes write at once, a failed write leaves nothing, and the operator deletes a user's
conversations with `techkb conversations delete`; on each back end (the SQLite file in the store
home, then PostgreSQL) where the test does not look at the file itself."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from assistant.conversations import CONVERSATIONS_FILE, MAX_TITLE_CHARS, ConversationStore
from assistant.errors import NotFoundError, StoreError, ValidationError
from assistant.feedback import FEEDBACK_FILE, FeedbackStore
from assistant.types import ANONYMOUS, Identity
from assistant.users import UserStore
from techkb.cli import app
from ui import conversations as convs

ALICE = Identity("alice", "northlake-college", "student")
BOB = Identity("bob", "northlake-college", "student")
ADMIN = Identity("root", "amma", "admin")


def _result(
    *citations: dict[str, Any], answer: str = "Grease every 37 days [1]."
) -> dict[str, Any]:
    return {
        "answer": answer,
        "outcome": "answer",
        "refused": False,
        "mode": "ask",
        "citations": list(citations),
        "notes": ["evidence 0.80 (threshold 0.35)"],
        "answer_id": "a" * 32,
        "timings_ms": {"total": 3.0},
    }


def _citation(n: int, contributor: str, visibility: str = "public") -> dict[str, Any]:
    return {
        "n": n,
        "chunk_id": f"{contributor}-{n}",
        "doc_id": contributor,
        "source": f"{contributor}/doc.md",
        "title": "Doc",
        "contributor": contributor,
        "quote": "Grease every 37 days.",
        "visibility": visibility,
        "allowed_roles": [],
    }


def test_stored_next_to_feedback_and_visible_to_its_owner_only(
    tmp_path: Path, backend_url: str | None
) -> None:
    store = ConversationStore(tmp_path, backend_url)
    FeedbackStore(tmp_path, backend_url)
    files = (tmp_path / CONVERSATIONS_FILE).is_file(), (tmp_path / FEEDBACK_FILE).is_file()
    assert files == ((True, True) if backend_url is None else (False, False))
    question = "How often is the J1 reducer greased? " * 5
    cid = store.add_turn(ALICE, None, question, "ask", _result(_citation(3, "northlake-college")))
    store.add_turn(ALICE, cid, "And J2?", "ask", _result(_citation(1, "northlake-college")))

    (summary,) = store.summaries(ALICE)
    assert summary["turns"] == 2 and len(summary["title"]) <= MAX_TITLE_CHARS
    assert summary["title"].startswith("How often is the J1 reducer greased?")
    conversation = store.get(ALICE, cid)
    assert [t.question for t in conversation.turns] == [question, "And J2?"]
    cited = conversation.turns[0].result["citations"][0]
    assert cited["chunk_id"] == "northlake-college-3" and cited["quote"]
    assert "timings_ms" not in conversation.turns[0].result  # the usage log's, not kept here

    for other in (BOB, ADMIN, ANONYMOUS):  # same org, an admin, nobody: all "not found"
        assert store.summaries(other) == []
        with pytest.raises(NotFoundError):
            store.get(other, cid)
    with pytest.raises(NotFoundError):
        store.add_turn(BOB, cid, "hijack", "ask", _result())
    with pytest.raises(NotFoundError):
        store.delete(BOB, cid)
    with pytest.raises(ValidationError):
        store.add_turn(ANONYMOUS, None, "q", "ask", _result())
    assert len(store.get(ALICE, cid).turns) == 2


def test_an_answer_citing_what_the_owner_may_no_longer_see_is_withheld(
    tmp_path: Path, backend_url: str | None
) -> None:
    store = ConversationStore(tmp_path, backend_url)
    private = _citation(1, "northlake-college", visibility="org")
    cid = store.add_turn(ALICE, None, "q1", "ask", _result(private))
    store.add_turn(ALICE, cid, "q2", "ask", _result(_citation(1, "itsc")))
    moved = Identity("alice", "jiangnan-precision", "staff")  # re-scoped to another org
    first, second = store.get(moved, cid).turns
    assert first.withheld and first.result["answer"] == "" and first.result["citations"] == []
    assert first.question == "q1"
    assert not second.withheld and second.result["answer"]
    (exported,) = store.export(moved)
    assert exported["turns"][0]["withheld"] and "37 days" not in json.dumps(exported["turns"][0])
    assert not store.get(ALICE, cid).turns[0].withheld


def _write_many(home: str, user: str, n: int, url: str | None = None) -> None:
    store = ConversationStore(Path(home), url)
    identity = Identity(user, "northlake-college", "student")
    cid = None
    for i in range(n):
        cid = store.add_turn(identity, cid, f"q{i}", "ask", _result(_citation(1, "itsc")))


def test_several_processes_write_at_once(tmp_path: Path, backend_url: str | None) -> None:
    ConversationStore(tmp_path, backend_url)
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_write_many, args=(str(tmp_path), f"u{i}", 12, backend_url))
        for i in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = ConversationStore(tmp_path, backend_url)
    for i in range(3):
        (summary,) = store.summaries(Identity(f"u{i}", "northlake-college", "student"))
        assert summary["turns"] == 12


def _write_forever(home: str, url: str | None) -> None:
    _write_many(home, "crasher", 10_000, url)


def test_a_killed_writer_leaves_whole_turns_only(tmp_path: Path, backend_url: str | None) -> None:
    ConversationStore(tmp_path, backend_url)
    proc = multiprocessing.get_context("spawn").Process(
        target=_write_forever, args=(str(tmp_path), backend_url)
    )
    proc.start()
    crasher = Identity("crasher", "northlake-college", "student")
    store = ConversationStore(tmp_path, backend_url)
    deadline = time.monotonic() + 60
    while not store.summaries(crasher) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    if backend_url is None:
        with sqlite3.connect(tmp_path / CONVERSATIONS_FILE) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    (summary,) = store.summaries(crasher)
    turns = store.get(crasher, summary["conversation_id"]).turns
    assert len(turns) == summary["turns"] > 0
    assert [t.question for t in turns] == [f"q{i}" for i in range(len(turns))]
    assert all(t.result["citations"][0]["chunk_id"] == "itsc-1" for t in turns)


def test_a_write_that_fails_half_way_leaves_nothing(
    tmp_path: Path, backend_url: str | None
) -> None:
    store = ConversationStore(tmp_path, backend_url)
    cid = store.add_turn(ALICE, None, "q1", "ask", _result())
    with store.db.write() as conn:  # the next insert will clash
        conn.execute(
            sa.text("INSERT INTO turns VALUES (:cid, 2, 0, 'stray', 'ask', '{}')"), {"cid": cid}
        )
    before = store.summaries(ALICE)[0]["updated"]
    with pytest.raises(StoreError):
        store.add_turn(ALICE, cid, "q2", "ask", _result())
    assert store.summaries(ALICE)[0]["updated"] == before  # the update was rolled back too
    assert [c["turns"] for c in store.summaries(ALICE)] == [2]  # q1 and the stray row only


def test_delete_one_and_delete_a_users_all_from_the_cli(
    tmp_path: Path, backend_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ConversationStore(tmp_path, backend_url)
    first = store.add_turn(ALICE, None, "q1", "ask", _result())
    store.add_turn(ALICE, None, "q2", "ask", _result())
    store.add_turn(BOB, None, "bob's", "ask", _result())
    store.set_language(ALICE, "zh")
    store.delete(ALICE, first)
    assert [c["title"] for c in store.summaries(ALICE)] == ["q2"]

    if backend_url is not None:
        monkeypatch.setenv("TECHKB_STORE__DATABASE_URL", backend_url)
    runner = CliRunner()
    out = runner.invoke(
        app, ["conversations", "delete", "--user", "alice", "--store", str(tmp_path), "--json"]
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == {"user": "alice", "deleted": 1}
    assert store.summaries(ALICE) == [] and store.language(ALICE) is None
    assert [c["title"] for c in store.summaries(BOB)] == ["bob's"]


def test_export_from_the_cli_gives_the_users_own_conversations(tmp_path: Path) -> None:
    users_file = tmp_path / "users.yaml"
    UserStore(users_file).add("alice", "northlake-college", "student", "a-long-password")
    store = ConversationStore(tmp_path / "store")
    store.add_turn(ALICE, None, "mine", "ask", _result())
    store.add_turn(BOB, None, "not mine", "ask", _result())
    out = CliRunner().invoke(
        app,
        ["conversations", "export", "--user", "alice", "--users", str(users_file),
         "--store", str(tmp_path / "store")],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [c["title"] for c in lines] == ["mine"]


def test_language_choice_is_kept_per_user(tmp_path: Path, backend_url: str | None) -> None:
    store = ConversationStore(tmp_path, backend_url)
    assert store.language(ALICE) is None
    store.set_language(ALICE, "zh")
    store.set_language(ALICE, "en")
    store.set_language(BOB, "zh")
    assert (store.language(ALICE), store.language(BOB), store.language(ANONYMOUS)) == (
        "en", "zh", None,
    )  # fmt: skip
    with pytest.raises(ValidationError):
        store.set_language(ALICE, "fr")


def test_what_a_browser_sends_back_is_reduced_to_well_formed_bounded_values() -> None:
    good_turn = {"question": "q", "mode": "ask", "result": _result(_citation(2, "itsc"))}
    shelf, cid = convs.shelf_with_turn([], None, "q", "ask", _result(_citation(2, "itsc")))
    assert cid.startswith("b-") and shelf[0]["title"] == "q"
    sent = {
        "conversations": [
            shelf[0],
            {"conversation_id": "x", "turns": [good_turn, "junk", {"question": 3}]},
            {"conversation_id": 5, "turns": [good_turn]},
            {"conversation_id": "empty", "turns": []},
            "junk",
        ]
    }
    cleaned = convs.clean_shelf(sent)
    assert [c["conversation_id"] for c in cleaned] == [cid, "x"]
    assert len(cleaned[1]["turns"]) == 1
    assert cleaned[1]["turns"][0]["result"]["citations"][0]["chunk_id"] == "itsc-2"
    assert convs.clean_shelf("nonsense") == [] and convs.clean_shelf(None) == []
    many = {"conversations": [{**shelf[0], "conversation_id": f"c{i}"} for i in range(50)]}
    assert len(convs.clean_shelf(many)) == convs.MAX_BROWSER_CONVERSATIONS
    with pytest.raises(NotFoundError):
        convs.shelf_conversation(cleaned, "nope")


def test_export_from_the_cli_reads_users_and_conversations_from_the_database(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.users_db import DatabaseUserStore

    DatabaseUserStore(tmp_path, database_url).add(
        "alice", "northlake-college", "student", "a-long-password"
    )
    store = ConversationStore(tmp_path, database_url)
    store.add_turn(ALICE, None, "mine", "ask", _result())
    store.add_turn(BOB, None, "not mine", "ask", _result())
    monkeypatch.delenv("TECHKB_USERS_FILE", raising=False)
    monkeypatch.setenv("TECHKB_STORE__DATABASE_URL", database_url)
    out = CliRunner().invoke(
        app, ["conversations", "export", "--user", "alice", "--store", str(tmp_path / "other")]
    )
    assert out.exit_code == 0, out.output
    assert [json.loads(line)["title"] for line in out.stdout.splitlines()] == ["mine"]
