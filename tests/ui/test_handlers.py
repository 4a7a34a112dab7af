"""The handlers as plain functions (what the Gradio UI calls), without HTTP."""

from __future__ import annotations

import pytest

from assistant.errors import AccessError, AuthError, NotFoundError, ValidationError
from assistant.types import ANONYMOUS, Identity
from tests.ui.conftest import PASSWORD, Web
from ui import handlers

pytestmark = pytest.mark.slow
TEACHER = Identity("nl-teacher", "northlake-college", "teacher")


def test_sign_in_and_identity_for_user(web: Web) -> None:
    assert handlers.sign_in(web.services, "nl-teacher", PASSWORD) == TEACHER
    with pytest.raises(AuthError):
        handlers.sign_in(web.services, "nl-teacher", "nope nope")
    assert handlers.identity_for_user(web.services, "mc-staff").org == "meridian-cnc"
    assert handlers.identity_for_user(web.services, "ghost") == ANONYMOUS
    assert handlers.identity_for_user(web.services, None) == ANONYMOUS


def test_ask_stream_pieces_make_the_answer(web: Web) -> None:
    events = list(
        handlers.ask_stream(
            web.services, TEACHER, "Why must the robot be mastered after encoder battery loss?", []
        )
    )
    final = events[-1]
    assert final["done"] is True and final["answer_id"]
    assert "".join(e["delta"] for e in events[:-1]) == final["answer"]
    for c in final["citations"]:
        for key in (
            "n",
            "source",
            "chunk_id",
            "title",
            "locator",
            "contributor",
            "quote",
            "edition",
            "license",
            "section",
            "page",
        ):
            assert key in c


def test_exercise_mode_returns_markdown_and_gift(web: Web) -> None:
    reply = handlers.ask(
        web.services, TEACHER, "Make exercises on encoder battery replacement", [], "exercise"
    )
    if reply["refused"]:
        pytest.fail(f"exercise refused: {reply['answer']}")
    assert reply["exercise"]["markdown"] == reply["answer"]
    assert "{" in reply["exercise"]["gift"]


def test_handler_errors(web: Web) -> None:
    with pytest.raises(ValidationError):
        handlers.ask(web.services, TEACHER, "", [])
    with pytest.raises(ValidationError):
        handlers.ask(web.services, TEACHER, "q", [{"role": "system", "content": "x"}])
    with pytest.raises(NotFoundError):
        handlers.source_card(web.services, TEACHER, "missing-chunk")
    with pytest.raises(AccessError):
        handlers.give_feedback(web.services, ANONYMOUS, "x", 1)
    with pytest.raises(AccessError):
        handlers.dashboard(web.services, ANONYMOUS)
    with pytest.raises(AccessError):
        handlers.start_upload(
            web.services, ANONYMOUS, "a.md", b"# A\n\nx", kind="other", visibility="org"
        )
    assert (
        handlers.list_documents(web.services, Identity("s", "northlake-college", "student")) == []
    )
    with pytest.raises(NotFoundError):
        handlers.upload_status(web.services, TEACHER, "no-such-job")
    with pytest.raises(NotFoundError):
        handlers.delete_document(web.services, TEACHER, "no-such-doc")
