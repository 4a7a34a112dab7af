"""The usage log on its own: concurrent writers, ratings rules, ledger and export filtering, on
each back end (the SQLite file in the store home, then PostgreSQL)."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.errors import AccessError, NotFoundError, ValidationError
from assistant.feedback import FeedbackStore
from assistant.types import ANONYMOUS, Identity
from techkb.cli import app

STUDENT = Identity("s1", "northlake-college", "student")
ADMIN = Identity("root", "amma", "admin")


def _citation(n: int, contributor: str, visibility: str = "public") -> dict[str, object]:
    return {
        "n": n,
        "chunk_id": f"{contributor}-{n}",
        "doc_id": contributor,
        "source": f"{contributor}/doc.md",
        "contributor": contributor,
        "visibility": visibility,
        "allowed_roles": [],
    }


def _result(*citations: dict[str, object], refused: bool = False) -> dict[str, object]:
    return {"answer": "Text [1].", "refused": refused, "mode": "ask", "citations": list(citations)}


def _log_many(home: str, n: int, url: str | None = None) -> None:
    store = FeedbackStore(Path(home), url)
    for i in range(n):
        aid = store.log_answer(STUDENT, f"q{i}", [], _result(_citation(1, "a")), [])
        store.rate(aid, STUDENT, 1)


def test_several_processes_write_at_once(tmp_path: Path, backend_url: str | None) -> None:
    FeedbackStore(tmp_path, backend_url)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_log_many, args=(str(tmp_path), 15, backend_url)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    answers = FeedbackStore(tmp_path, backend_url).answers()
    assert len(answers) == 60 and all(a.rating == 1 for a in answers)


def test_rating_rules(tmp_path: Path, backend_url: str | None) -> None:
    store = FeedbackStore(tmp_path, backend_url)
    aid = store.log_answer(STUDENT, "q", [], _result(_citation(1, "a")), [])
    with pytest.raises(NotFoundError):
        store.rate(aid, Identity("s2", "northlake-college", "student"), 1)
    with pytest.raises(NotFoundError):
        store.rate(aid, ANONYMOUS, 1)
    with pytest.raises(ValidationError):
        store.rate(aid, STUDENT, 0)
    store.rate(aid, STUDENT, 1)
    store.rate(aid, STUDENT, -1, "changed my mind")  # replaces, not adds
    (answer,) = store.answers()
    assert (answer.rating, answer.ratings, answer.comments) == (-1, 1, ["changed my mind"])
    assert answer.identity == STUDENT  # the "user" column (a reserved word in PostgreSQL)
    anonymous = store.log_answer(ANONYMOUS, "q", [], _result(), [])
    store.rate(anonymous, ANONYMOUS, 1)
    assert [a.answer_id for a in store.answers(rated_only=True)] == [aid, anonymous]
    assert [r["rating"] for r in store.ratings_for({aid})] == [-1]


def test_ledger_and_export_filtering(tmp_path: Path, backend_url: str | None) -> None:
    store = FeedbackStore(tmp_path, backend_url)
    up = store.log_answer(
        STUDENT, "q up", [], _result(_citation(1, "a"), _citation(2, "a"), _citation(3, "b")), []
    )
    hidden = store.log_answer(
        STUDENT, "q hidden", [], _result(_citation(1, "c", visibility="org")), []
    )
    refused = store.log_answer(STUDENT, "q refused", [], _result(refused=True), [])
    store.log_answer(STUDENT, "unrated", [], _result(_citation(1, "b")), [])
    store.rate(up, STUDENT, 1)
    store.rate(hidden, STUDENT, -1)
    store.rate(refused, STUDENT, -1)

    rows = {r["contributor"]: r for r in store.ledger()}
    assert rows["a"] == {"contributor": "a", "citations": 2, "answers": 1, "up": 1, "down": 0}
    assert rows["b"]["answers"] == 2 and rows["b"]["up"] == 1
    assert rows["c"]["down"] == 1
    assert [r["contributor"] for r in store.ledger({"a"})] == ["a"]

    with pytest.raises(AccessError):
        store.export_items(STUDENT)
    # The amma admin may not read a Northlake student's questions (issue 13, finding 7).
    assert store.export_items(ADMIN) == []
    nl_admin = Identity("boss", "northlake-college", "admin")
    items = {i["question"]: i for i in store.export_items(nl_admin)}
    # Northlake's admin may not see org "c"'s private chunk: that item stays out.
    assert set(items) == {"q up", "q refused"}
    assert items["q up"]["gold_contributors"] == ["a", "b"]
    assert items["q refused"]["answerable"] is True and items["q refused"]["downvoted"] is True
    c_admin = Identity("boss", "c", "admin")  # sees the chunk, not the Northlake question
    assert "q hidden" not in {i["question"] for i in store.export_items(c_admin)}


def test_serve_refuses_a_missing_users_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["serve", "--store", str(tmp_path), "--users", str(tmp_path / "none.yaml")]
    )
    assert result.exit_code == 2 and "users file not found" in result.output


def test_ledger_and_export_commands_read_the_database(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FeedbackStore(tmp_path, database_url)
    nl_admin = Identity("boss", "northlake-college", "admin")
    aid = store.log_answer(STUDENT, "q up", [], _result(_citation(1, "a")), [])
    store.rate(aid, STUDENT, 1)
    monkeypatch.setenv("TECHKB_STORE__DATABASE_URL", database_url)
    home = ["--store", str(tmp_path / "elsewhere")]  # nothing of it is in the store home
    ledger = CliRunner().invoke(app, ["ledger", "--json", *home])
    assert ledger.exit_code == 0, ledger.output
    assert [r["contributor"] for r in json.loads(ledger.stdout)["ledger"]] == ["a"]
    export = CliRunner().invoke(
        app, ["feedback", "export", *home, "--org", str(nl_admin.org), "--role", "admin"]
    )
    assert export.exit_code == 0, export.output
    assert [json.loads(line)["question"] for line in export.stdout.splitlines()] == ["q up"]
    assert not (tmp_path / "elsewhere" / "feedback.sqlite3").exists()
