"""Over real HTTP: a question held busy does not stall the others, and past its budget gets 503.

A question is held by a wrapper of `Assistant.ask` that waits on an event when the question
carries a marker: deterministic, with no model made slow on purpose.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from assistant.service import Assistant
from tests.ui.conftest import Web

pytestmark = [pytest.mark.server, pytest.mark.slow]
MARK = "[hold]"
QUESTION = "How is coolant concentration measured?"


class Hold:
    """Questions starting with MARK wait in `Assistant.ask` until `release` is set."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def wrap(self, original: Any) -> Any:
        def ask(assistant: Assistant, question: str, **kwargs: Any) -> Any:
            if question.startswith(MARK):
                self.entered.set()
                self.release.wait(120)
            return original(assistant, question, **kwargs)

        return ask


@pytest.fixture
def hold(web: Web) -> Iterator[Hold]:
    with web.client() as client:  # models loaded before anything is held
        client.post("/api/ask", json={"question": QUESTION}).raise_for_status()
    held = Hold()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Assistant, "ask", held.wrap(Assistant.ask))
        try:
            yield held
        finally:
            held.release.set()


def _post_in_thread(
    web: Web, path: str, body: dict[str, Any]
) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def post() -> None:
        with web.client() as client:
            out.append(client.post(path, json=body))

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread, out


def test_a_question_answers_while_another_is_held(web: Web, hold: Hold) -> None:
    thread, held = _post_in_thread(web, "/api/ask", {"question": f"{MARK} {QUESTION}"})
    assert hold.entered.wait(60), "the held question never started"
    started = time.monotonic()
    with httpx.Client(base_url=web.url, timeout=20) as client:
        reply = client.post("/api/ask", json={"question": QUESTION})
    assert reply.status_code == 200, reply.text
    assert reply.json()["citations"]
    assert time.monotonic() - started < 20
    assert thread.is_alive()  # the other one is still held
    hold.release.set()
    thread.join(60)
    assert held and held[0].status_code == 200


def test_a_question_past_its_budget_gets_503(web: Web, hold: Hold) -> None:
    pool = web.services.answers
    budget = pool.timeout_s
    pool.timeout_s = 1.0
    try:
        with web.client() as client:
            for path, body in (
                ("/api/ask", {"question": f"{MARK} {QUESTION}"}),
                (
                    "/v1/chat/completions",
                    {"model": "techkb", "messages": [{"role": "user", "content": MARK}]},
                ),
            ):
                started = time.monotonic()
                reply = client.post(path, json=body)
                assert reply.status_code == 503, reply.text
                assert time.monotonic() - started < 10
                error = reply.json()["error"]
                assert error["code"] == 503 and error["type"] == "server_busy"
                assert "busy" in error["message"]
    finally:
        pool.timeout_s = budget
        hold.release.set()
    with web.client() as client:  # the held workers are free again
        assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200
