"""Ratings through the API, the usage log, `techkb feedback export` and `techkb ledger`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.errors import AccessError
from assistant.types import Identity
from evals.datasets import load_dataset
from techkb.cli import app
from tests.ui.conftest import Web
from ui import handlers

pytestmark = pytest.mark.slow
runner = CliRunner()


def test_feedback_is_logged_exported_and_counted(web: Web, tmp_path: Path) -> None:
    student = web.client("nl-student")
    first = "What does a refractometer measure in CNC coolant?"
    good = student.post("/api/ask", json={"question": first}).json()
    bad = student.post(
        "/api/ask",
        json={
            "question": "How is the coolant concentration corrected?",
            "history": [
                {"role": "user", "content": first},
                {"role": "assistant", "content": good["answer"]},
            ],
        },
    ).json()
    assert good["citations"]
    r1 = student.post(
        "/api/feedback", json={"answer_id": good["answer_id"], "rating": 1, "comment": "clear"}
    )
    r2 = student.post(
        "/api/feedback", json={"answer_id": bad["answer_id"], "rating": -1, "comment": "vague"}
    )
    assert r1.status_code == r2.status_code == 204
    # Nobody rates an answer somebody else was given, and ratings are +1 / -1.
    other = web.client("mc-staff").post(
        "/api/feedback", json={"answer_id": good["answer_id"], "rating": -1}
    )
    assert other.status_code == 404
    wrong = student.post("/api/feedback", json={"answer_id": good["answer_id"], "rating": 5})
    assert wrong.status_code == 422

    out = tmp_path / "feedback.jsonl"
    args = ["feedback", "export", "--store", str(web.home), "--out", str(out)]
    # root is amma's admin: a Northlake student's questions are not its to read.
    result = runner.invoke(app, [*args, "--user", "root", "--users", str(web.users_file)])
    assert result.exit_code == 0, result.output
    assert good["answer_id"] not in out.read_text() and bad["answer_id"] not in out.read_text()
    result = runner.invoke(app, [*args, "--org", "northlake-college", "--role", "admin"])
    assert result.exit_code == 0, result.output
    lines = {json.loads(line)["id"]: json.loads(line) for line in out.read_text().splitlines()}
    up, down = lines[f"feedback-{good['answer_id']}"], lines[f"feedback-{bad['answer_id']}"]
    assert up["question"] == good_question(good, web)
    assert up["reference"] and "[1]" not in up["reference"]
    assert set(up["gold_sources"]) == {c["source"] for c in good["citations"]}
    assert up["gold_contributors"] and up["user"] == {"org": "northlake-college", "role": "student"}
    assert (
        down["reference"] == ""
        and down["downvoted"] is True
        and down["messages"][-1]
        == {"role": "user", "content": "How is the coolant concentration corrected?"}
    )
    items = {i.id: i for i in load_dataset(out)}
    assert items[up["id"]].gold_sources == tuple(up["gold_sources"])
    assert items[down["id"]].history[0].content == first

    refused = runner.invoke(app, [*args, "--org", "northlake-college", "--role", "teacher"])
    assert refused.exit_code == 1 and "admin" in refused.output
    with pytest.raises(AccessError):
        web.services.feedback.export_items(Identity("t", "northlake-college", "teacher"))

    ledger_csv = tmp_path / "ledger.csv"
    shown = runner.invoke(app, ["ledger", "--store", str(web.home), "--csv", str(ledger_csv)])
    assert shown.exit_code == 0 and "contributor" in shown.stdout
    rows = {r["contributor"]: r for r in csv.DictReader(ledger_csv.open())}
    for c in good["citations"]:
        assert int(rows[c["contributor"]]["up"]) >= 1
        assert int(rows[c["contributor"]]["citations"]) >= 1
    as_json = json.loads(runner.invoke(app, ["ledger", "--store", str(web.home), "--json"]).stdout)
    assert {r["contributor"] for r in as_json["ledger"]} == set(rows)

    owner = good["citations"][0]["contributor"]
    root_dash = web.client("root").get("/api/dashboard").json()
    assert first not in json.dumps(root_dash), "another org's admin reads no Northlake question"
    admin_dash = handlers.dashboard(web.services, Identity("boss", "northlake-college", "admin"))
    assert any(
        f["answer_id"] == good["answer_id"] and f["rating"] == 1 for f in admin_dash["feedback"]
    )
    gaps = {g["question"] for g in admin_dash["gaps"]}
    assert "How is the coolant concentration corrected?" in gaps
    assert owner in {r["contributor"] for r in admin_dash["ledger"]}


def good_question(reply: dict[str, object], web: Web) -> str:
    logged = {a.answer_id: a for a in web.services.feedback.answers()}
    return logged[str(reply["answer_id"])].question
