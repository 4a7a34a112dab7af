"""The answer workers: a slow question does not stall the others; past the budget, BusyError."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from assistant.errors import BusyError
from ui.answer_pool import AnswerPool, Reader


@dataclass
class FakeStore:
    """Records the thread that opened it and the one that closed it."""

    opened_on: int = field(default_factory=threading.get_ident)
    closed_on: int | None = None

    def close(self) -> None:
        self.closed_on = threading.get_ident()


@dataclass
class Opened:
    readers: list[Reader] = field(default_factory=list)

    def __call__(self) -> Reader:
        reader = Reader(FakeStore(), None)  # type: ignore[arg-type]
        self.readers.append(reader)
        return reader


@pytest.fixture
def opened() -> Opened:
    return Opened()


@pytest.fixture
def pool(opened: Opened) -> Iterator[AnswerPool]:
    answers = AnswerPool(opened, workers=2, timeout_s=5.0)
    yield answers
    answers.close(timeout_s=5)


def _hold(reader: Reader, entered: threading.Event, release: threading.Event) -> str:
    entered.set()
    release.wait(10)
    return "held"


def _quick(reader: Reader, value: Any) -> Any:
    return value


def _in_thread(fn: Any, *args: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def target() -> None:
        try:
            out.append(fn(*args))
        except Exception as e:  # kept for the assertion
            out.append(e)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


def test_a_slow_question_does_not_stall_the_others(pool: AnswerPool) -> None:
    entered, release = threading.Event(), threading.Event()
    pool.run(_quick, "warm")  # the first question runs alone (model loads)
    thread, out = _in_thread(pool.run, _hold, entered, release)
    assert entered.wait(5)
    started = time.monotonic()
    assert pool.run(_quick, 42) == 42
    assert time.monotonic() - started < 2
    release.set()
    thread.join(5)
    assert out == ["held"]


def test_past_the_budget_the_caller_gets_busy_error(opened: Opened) -> None:
    pool = AnswerPool(opened, workers=1, timeout_s=0.3)
    entered, release = threading.Event(), threading.Event()
    try:
        pool.run(_quick, "warm")
        started = time.monotonic()
        with pytest.raises(BusyError, match="busy"):
            pool.run(_hold, entered, release)  # runs past its budget
        assert time.monotonic() - started < 2
        started = time.monotonic()
        with pytest.raises(BusyError):
            pool.run(_quick, "waits behind the held one")  # waits past its budget
        assert time.monotonic() - started < 2
    finally:
        release.set()
    assert pool.run(_quick, "after") == "after"  # the worker is free again
    pool.close(timeout_s=5)


def test_each_worker_opens_and_closes_its_own_handle(opened: Opened) -> None:
    pool = AnswerPool(opened, workers=2, timeout_s=5.0)
    barrier = threading.Barrier(2, timeout=5)

    def both(reader: Reader) -> int:
        barrier.wait()  # two questions at once: one per worker
        return threading.get_ident()

    pool.run(_quick, "warm")
    threads = [_in_thread(pool.run, both) for _ in range(2)]
    for thread, _ in threads:
        thread.join(10)
    ran_on = {out[0] for _, out in threads}
    pool.close(timeout_s=5)
    stores = [r.store for r in opened.readers]
    assert len(ran_on) == 2 and len(stores) == 2
    assert {s.opened_on for s in stores} == ran_on  # type: ignore[attr-defined]
    assert all(s.closed_on == s.opened_on for s in stores)  # type: ignore[attr-defined]


def test_errors_reach_the_caller(pool: AnswerPool) -> None:
    def fail(reader: Reader) -> None:
        raise ValueError("bad question")

    with pytest.raises(ValueError, match="bad question"):
        pool.run(fail)
    assert pool.run(_quick, 1) == 1
