"""What the handlers work with, built once by `ui.server.build_services`.

The store's SQLite catalog may only be used from the thread that opened it: every store call
other than answering runs on one dedicated thread (`Services.call`); questions are answered by
the workers of `Services.answers`, each with its own store handle (see `ui.answer_pool`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from assistant.conversations import ConversationStore
from assistant.feedback import FeedbackStore
from assistant.settings import Settings
from assistant.store import KnowledgeStore
from assistant.users import Users
from ui.answer_pool import AnswerPool
from ui.uploads import UploadManager

if TYPE_CHECKING:
    from assistant.service import Assistant

T = TypeVar("T")


@dataclass
class Services:
    """Everything the handlers need, built once by `ui.server.build_services`."""

    settings: Settings
    store: KnowledgeStore
    assistant: Assistant
    users: Users | None
    feedback: FeedbackStore
    conversations: ConversationStore
    uploads: UploadManager
    answers: AnswerPool
    _executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="techkb-store")
    )
    _store_thread: list[int] = field(default_factory=list)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` on the store's own thread (inline when already on it)."""
        if self._store_thread and threading.get_ident() == self._store_thread[0]:
            return fn(*args, **kwargs)
        return self._executor.submit(self._on_store_thread, fn, args, kwargs).result()

    def _on_store_thread(self, fn: Callable[..., T], args: Any, kwargs: Any) -> T:
        if not self._store_thread:
            self._store_thread.append(threading.get_ident())
        return fn(*args, **kwargs)

    def close(self) -> None:
        """Stop the upload worker and the answer workers; close the store (on its thread)."""
        self.uploads.close()
        self.answers.close()
        self.call(self.store.close)
        self._executor.shutdown(wait=True)
