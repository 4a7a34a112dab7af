"""Questions answered by a few worker threads at once, each within a time budget.

Each worker reads through its own store handle (`Reader`): the catalog's SQLite connection
belongs to the thread that opened it, and the keyword index and Chroma view a handle keeps
are rebuilt in place when the catalog changes, which a second thread must not watch half
done. The handles are the same kind the upload thread and other processes open on the store,
so every worker sees an ingested upload at its next question (the catalog's version counter,
see `KnowledgeStore.keyword_index`). The models are shared (`build_assistant_over`): one copy
per process, however many workers.

Writes, document listings and source cards stay on the single store thread of
`ui.handlers.Services.call`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from assistant.errors import BusyError

if TYPE_CHECKING:
    from assistant.service import Assistant
    from assistant.settings import Settings
    from assistant.store import KnowledgeStore

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Reader:
    """One worker's store handle and the assistant over it."""

    store: KnowledgeStore
    assistant: Assistant


def reader_opener(settings: Settings, like: Assistant) -> Callable[[], Reader]:
    """Opens a store handle of `settings` and an assistant over it sharing `like`'s models."""

    def open_reader() -> Reader:
        from assistant.registry import build_assistant_over, build_store

        store = build_store(settings)
        return Reader(store, build_assistant_over(store, like))

    return open_reader


@dataclass(frozen=True)
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: Future[Any]
    deadline: float


class AnswerPool:
    """`workers` threads, each opening its `Reader` on its first question.

    Args:
        open_reader: opens a store handle and its assistant (called on the worker's thread).
        workers: questions answered at once; more wait their turn.
        timeout_s: budget of one question, waiting included.
    """

    def __init__(self, open_reader: Callable[[], Reader], workers: int, timeout_s: float) -> None:
        self._open_reader = open_reader
        self.workers = max(1, workers)
        self.timeout_s = timeout_s
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        # The first question loads the models; the others wait for it rather than load the
        # same models once per worker at the same time.
        self._first = threading.Lock()
        self._warm = False
        self._threads = [
            threading.Thread(target=self._work, name=f"techkb-answer-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(reader, *args)` on a worker, within the time budget.

        Raises:
            BusyError: no result within `timeout_s` (the question waited or ran too long).
        """
        future: Future[T] = Future()
        self._jobs.put(_Job(fn, args, future, time.monotonic() + self.timeout_s))
        try:
            return future.result(timeout=self.timeout_s)
        except TimeoutError:
            if future.done():  # fn itself raised TimeoutError
                raise
            # A question still waiting is dropped; one already running cannot be stopped from
            # here: it finishes on its worker and its result is discarded.
            future.cancel()
            raise BusyError(
                f"no answer within {self.timeout_s:g} s: the server is busy, try again shortly"
            ) from None

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop the workers after the questions already queued; each closes its handle."""
        for _ in self._threads:
            self._jobs.put(None)
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _work(self) -> None:
        reader: Reader | None = None
        try:
            while (job := self._jobs.get()) is not None:
                if not job.future.set_running_or_notify_cancel():
                    continue  # the caller gave up while it waited
                if time.monotonic() > job.deadline:
                    job.future.set_exception(BusyError("the question waited past its budget"))
                    continue
                try:
                    if reader is None:
                        reader = self._open_reader()
                    job.future.set_result(self._call(job, reader))
                except Exception as e:  # handed to the caller, raised there
                    job.future.set_exception(e)
        finally:
            if reader is not None:
                reader.store.close()

    def _call(self, job: _Job, reader: Reader) -> Any:
        if not self._warm:
            with self._first:
                if not self._warm:
                    try:
                        return job.fn(reader, *job.args)
                    finally:
                        self._warm = True
        return job.fn(reader, *job.args)
