"""`techkb serve` as a real process refuses an over-long history at once, on both APIs."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import serve_techkb

pytestmark = [pytest.mark.server, pytest.mark.slow]
QUESTION = "And what about that one?"
HISTORIES = {
    "one 1 MB turn": [{"role": "user", "content": "spindle coolant " * 62_500}],
    "21 turns": [
        {"role": ("user", "assistant")[i % 2], "content": f"turn {i} about coolant"}
        for i in range(21)
    ],
}


@pytest.fixture(scope="module")
def served(demo_store_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("bounds")
    home = tmp / "store"
    shutil.copytree(demo_store_home, home)
    with serve_techkb(home, tmp, None) as server:
        yield server.url


def _body(route: str, history: list[dict[str, str]]) -> dict[str, Any]:
    if route == "/api/ask":
        return {"question": QUESTION, "history": history}
    return {"model": "techkb", "messages": [*history, {"role": "user", "content": QUESTION}]}


@pytest.mark.parametrize("shape", sorted(HISTORIES))
@pytest.mark.parametrize("route", ["/api/ask", "/v1/chat/completions"])
def test_an_over_long_history_is_refused_at_once(served: str, route: str, shape: str) -> None:
    body = _body(route, HISTORIES[shape])
    started = time.monotonic()
    reply = httpx.post(served + route, json=body, timeout=120)
    elapsed = time.monotonic() - started
    assert reply.status_code in (413, 422), reply.text[:300]
    assert elapsed < 2.5, f"{route} took {elapsed:.1f} s to refuse {shape}"
    error = reply.json()["error"]
    assert error["code"] == reply.status_code
    if reply.status_code == 422:  # refused by the history bounds, not the body-size limit
        field = "history" if route == "/api/ask" else "messages"
        assert error["message"].startswith(field), error["message"]


def test_a_history_within_the_bounds_is_answered(served: str) -> None:
    history = [
        {"role": "user", "content": "How is coolant concentration measured?"},
        {"role": "assistant", "content": "With a refractometer [1]."},
    ]
    reply = httpx.post(
        served + "/api/ask", json={"question": "And how often?", "history": history}, timeout=300
    )
    assert reply.status_code == 200, reply.text[:300]
    assert reply.json()["answer"]
