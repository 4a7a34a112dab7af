"""History bounds: refused before any work by the APIs, trimmed (newest turns kept) in the chat."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

import assistant.service  # noqa: F401  (imported here, not timed in the test)
from assistant.errors import ValidationError
from assistant.settings import Settings, UISettings
from assistant.types import ANONYMOUS
from ui import handlers
from ui.history import check_history, recent_history

LIMITS = UISettings(max_history_turns=4, max_history_chars=100)


def _turns(*sizes: int) -> list[dict[str, str]]:
    roles = ("user", "assistant")
    return [{"role": roles[i % 2], "content": "x" * n} for i, n in enumerate(sizes)]


class RecordingAnswers:
    """Stands in for the answer workers: records what reached them."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def run(self, fn: Any, *args: Any) -> dict[str, Any]:
        self.calls.append(args)
        return {"answer": ""}


def _services(limits: UISettings = LIMITS) -> Any:
    return SimpleNamespace(settings=Settings(ui=limits), answers=RecordingAnswers())


def test_check_history_names_the_field_and_the_limit() -> None:
    check_history(["x" * 25] * 4, LIMITS)
    with pytest.raises(ValidationError, match=r"^messages: at most 4 earlier turns, not 5"):
        check_history([""] * 5, LIMITS, field="messages")
    with pytest.raises(ValidationError, match=r"^history\[1\]\.content: at most 100 characters"):
        check_history(["a", "x" * 101], LIMITS)
    with pytest.raises(ValidationError, match=r"^history: at most 100 characters in all"):
        check_history(["x" * 60, "x" * 60], LIMITS)


def test_recent_history_keeps_the_newest_turns_within_the_bounds() -> None:
    history = _turns(10, 20, 30, 40, 25, 35)
    assert recent_history(history, LIMITS) == history[-3:]  # 40 + 25 + 35 fit, not + 30
    assert recent_history(_turns(50, 60), LIMITS) == _turns(50, 60)[-1:]
    assert recent_history(_turns(5, 5, 5, 5, 5, 5), LIMITS) == _turns(5, 5, 5, 5, 5, 5)[-4:]
    assert recent_history(_turns(500), LIMITS) == []
    assert recent_history(_turns(5), UISettings(max_history_turns=0)) == []


def test_ask_refuses_a_huge_history_before_answering() -> None:
    services = _services(UISettings())  # the defaults: 20 turns, 24000 characters
    huge = [{"role": "user", "content": "x" * 1_000_000}]
    many = _turns(*[10] * 21)
    for history, field in ((huge, r"history\[0\]\.content"), (many, "history")):
        started = time.perf_counter()
        with pytest.raises(ValidationError, match=f"^{field}: at most"):
            handlers.ask(services, ANONYMOUS, "How is coolant measured?", history)
        assert time.perf_counter() - started < 0.5
    assert services.answers.calls == []


def test_ask_trims_the_chat_history_instead_of_refusing() -> None:
    services = _services()
    history = _turns(10, 20, 30, 40, 25, 35)
    handlers.ask(services, ANONYMOUS, "And the torque?", history, trim_history=True)
    (call,) = services.answers.calls
    turns = call[3]
    assert [len(t.content) for t in turns] == [40, 25, 35]
