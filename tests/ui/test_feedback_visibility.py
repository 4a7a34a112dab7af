"""Issue 13, finding 7, on the usage log itself: who may read a logged question, its earlier
turns and its citations (`access.may_oversee`, `LoggedAnswer.readable_by`), and what the
feedback export and the ledger emit for each reader. Fast: no models, no server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant.errors import AccessError
from assistant.feedback import FeedbackStore
from assistant.types import ANONYMOUS, Identity

HUAXIN_STAFF = Identity("wang", "huaxin-robotics", "staff")
HUAXIN_STUDENT = Identity("xu", "huaxin-robotics", "student")
HUAXIN_ADMIN = Identity("hx", "huaxin-robotics", "admin")
MERIDIAN_STAFF = Identity("mia", "meridian-cnc", "staff")
OFFICE_ADMIN = Identity("root", "consortium-office", "admin")
HX_SECRET = "CNRYHXPRIVATE01"
MC_SECRET = "CNRYMCPRIVATE02"


def _result(answer: str, contributor: str, visibility: str) -> dict[str, Any]:
    citation = {
        "n": 1,
        "chunk_id": f"{contributor}-{visibility}-1",
        "doc_id": f"{contributor}-doc",
        "source": f"{contributor}/{visibility}.md",
        "contributor": contributor,
        "visibility": visibility,
        "allowed_roles": [],
    }
    return {"answer": answer, "refused": False, "mode": "ask", "citations": [citation]}


PUBLIC = _result("Read the Brix value [1].", "northlake-college", "public")


def _turns(question: str, answer: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


@pytest.mark.parametrize(
    ("reader", "org", "expected"),
    [
        (HUAXIN_STAFF, "huaxin-robotics", True),
        (HUAXIN_ADMIN, "huaxin-robotics", True),
        (HUAXIN_STUDENT, "huaxin-robotics", False),  # students oversee nothing
        (MERIDIAN_STAFF, "huaxin-robotics", False),
        (OFFICE_ADMIN, "huaxin-robotics", False),  # an admin of another org: no
        (OFFICE_ADMIN, None, True),  # anonymous callers' questions: admins only
        (HUAXIN_STAFF, None, False),
        (ANONYMOUS, None, False),
    ],
    ids=["own-staff", "own-admin", "own-student", "other-staff", "other-admin",
         "anonymous-by-admin", "anonymous-by-staff", "anonymous-by-anonymous"],
)  # fmt: skip
def test_usage_data_is_readable_by_overseers_of_the_askers_org_only(
    reader: Identity, org: str | None, expected: bool
) -> None:
    from assistant.access import may_oversee

    assert may_oversee(reader, org) is expected


def test_feedback_export_leaves_out_other_orgs_questions_and_their_history(
    tmp_path: Path,
) -> None:
    store = FeedbackStore(tmp_path)
    q1 = f"How is the J4 drive of cell {HX_SECRET} regreased?"
    a1 = f"Inject 18 g of grease, register code {HX_SECRET} [1]."
    store.log_answer(HUAXIN_STAFF, q1, [], _result(a1, "huaxin-robotics", "org"), [])
    follow = store.log_answer(HUAXIN_STAFF, "And the coolant?", _turns(q1, a1), PUBLIC, [])
    store.rate(follow, HUAXIN_STAFF, 1)
    anon = store.log_answer(ANONYMOUS, "What does a refractometer read?", [], PUBLIC, [])
    store.rate(anon, ANONYMOUS, 1)

    office = store.export_items(OFFICE_ADMIN)
    assert [i["id"] for i in office] == [f"feedback-{anon}"]
    assert HX_SECRET not in json.dumps(office) and "And the coolant?" not in json.dumps(office)

    # The asker's own org's admin reads the whole conversation, earlier turns included.
    (item,) = [i for i in store.export_items(HUAXIN_ADMIN) if i["id"] == f"feedback-{follow}"]
    assert item["messages"] == [*_turns(q1, a1), {"role": "user", "content": "And the coolant?"}]
    assert "history_redacted" not in item
    with pytest.raises(AccessError):
        store.export_items(HUAXIN_STAFF)


def test_feedback_export_withholds_history_turns_that_match_no_readable_answer(
    tmp_path: Path,
) -> None:
    store = FeedbackStore(tmp_path)
    a_mc = f"Clamp force 8 to 10 kN, code {MC_SECRET} [1]."
    store.log_answer(MERIDIAN_STAFF, "drawbar?", [], _result(a_mc, "meridian-cnc", "org"), [])
    # An assistant turn carrying another asker's answer (the Huaxin admin may not see its
    # chunk), and one that no logged answer gave: both withhold the earlier turns.
    pasted = store.log_answer(HUAXIN_STAFF, "coolant?", _turns("drawbar?", a_mc), PUBLIC, [])
    made_up = store.log_answer(HUAXIN_STAFF, "wipers?", _turns("x", "Made up."), PUBLIC, [])
    a_pub = "Read the Brix value [1]."
    kept = store.log_answer(HUAXIN_STAFF, "factor?", _turns("coolant?", a_pub), PUBLIC, [])
    for answer_id in (pasted, made_up, kept):
        store.rate(answer_id, HUAXIN_STAFF, 1)

    items = {i["id"]: i for i in store.export_items(HUAXIN_ADMIN)}
    for answer_id, question in ((pasted, "coolant?"), (made_up, "wipers?")):
        item = items[f"feedback-{answer_id}"]
        assert item["question"] == question and item["history_redacted"] == 2
        assert "messages" not in item
    assert MC_SECRET not in json.dumps(items) and "Made up." not in json.dumps(items)
    assert items[f"feedback-{kept}"]["messages"][1] == {"role": "assistant", "content": a_pub}


def test_ledger_counts_only_citations_the_reader_may_see(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path)
    private = store.log_answer(
        HUAXIN_STAFF, "q", [], _result("a [1].", "huaxin-robotics", "org"), []
    )
    store.rate(private, HUAXIN_STAFF, -1)
    store.log_answer(MERIDIAN_STAFF, "q", [], PUBLIC, [])

    def contributors(reader: Identity | None) -> set[str]:
        return {r["contributor"] for r in store.ledger(reader=reader)}

    assert contributors(None) == {"huaxin-robotics", "northlake-college"}  # the operator's CLI
    assert contributors(OFFICE_ADMIN) == contributors(MERIDIAN_STAFF) == {"northlake-college"}
    assert contributors(HUAXIN_STAFF) == {"huaxin-robotics", "northlake-college"}
