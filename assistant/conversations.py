"""Signed-in users' conversations, kept on the server beside the usage log.

One SQLite file in the store home (`conversations.sqlite3`), WAL mode, a busy timeout, one
connection per operation and one transaction per write, as `assistant.feedback`: safe with
several threads, several uvicorn workers and the CLI at once, and a write that fails half way
leaves nothing behind. A conversation belongs to the user name that started it and to nobody
else: every read, write and delete names the owner, and a conversation of somebody else is
"not found" (its existence is not revealed). Anonymous callers have no server-side
conversations (the web app keeps theirs in the browser).

Each turn keeps the answer with its citations and the chunk metadata the access rule needs.
What goes out again — reopened in the web app, listed by the API, exported — passes the rule
for the reader as they are now, fail closed as the feedback export: a turn whose answer cites a
chunk the owner may no longer see (moved to another org, a document made private) comes back
with its answer and citations withheld, the question alone.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant import sqlite_file
from assistant.access import can_see
from assistant.errors import NotFoundError, ValidationError
from assistant.types import Identity

CONVERSATIONS_FILE = "conversations.sqlite3"
MAX_TITLE_CHARS = 80
MAX_TURNS = 200  # a longer conversation is refused a new turn; the user starts a new one
# What of an answer is kept with its turn (the rest, e.g. timings, is the usage log's).
RESULT_KEYS = ("answer", "outcome", "refused", "mode", "citations", "notes", "answer_id")
CITATION_KEYS = (
    "n", "chunk_id", "doc_id", "source", "title", "locator", "contributor", "quote",
    "visibility", "allowed_roles", "section", "page", "edition", "license", "kind",
)  # fmt: skip
LANGUAGES = ("en", "zh")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    conversation_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(conversation_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    created REAL NOT NULL,
    question TEXT NOT NULL,
    mode TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (conversation_id, position)
);
CREATE TABLE IF NOT EXISTS preferences (
    owner TEXT PRIMARY KEY,
    language TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations(owner, updated);
"""


@dataclass(frozen=True)
class Turn:
    """One question and the answer it got (`result`: `RESULT_KEYS` of the handlers' answer)."""

    question: str
    mode: str
    result: dict[str, Any]
    withheld: bool = False  # the answer cites what the reader may no longer see

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "mode": self.mode,
            "result": self.result,
            "withheld": self.withheld,
        }


@dataclass(frozen=True)
class Conversation:
    """A conversation as its owner may read it now."""

    conversation_id: str
    owner: str
    title: str
    created: float
    updated: float
    turns: list[Turn] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "title": self.title,
            "created": self.created,
            "updated": self.updated,
            "turns": [t.to_dict() for t in self.turns],
        }


def title_from(question: str) -> str:
    """A conversation's title: its first question on one line, cut at `MAX_TITLE_CHARS`."""
    line = " ".join(question.split())
    if len(line) <= MAX_TITLE_CHARS:
        return line
    return line[: MAX_TITLE_CHARS - 1].rstrip() + "…"


def kept_result(result: dict[str, Any]) -> dict[str, Any]:
    """The part of an answer stored with its turn (citations with their access metadata)."""
    kept = {k: result.get(k) for k in RESULT_KEYS}
    kept["citations"] = [
        {k: c.get(k) for k in CITATION_KEYS} for c in result.get("citations") or []
    ]
    kept["notes"] = [str(n) for n in result.get("notes") or []]
    return kept


def readable_turn(turn: Turn, reader: Identity) -> Turn:
    """`turn` as `reader` may see it: whole, or with its answer withheld (fail closed)."""
    citations = turn.result.get("citations") or []
    if all(isinstance(c, dict) and can_see(reader, c) for c in citations):
        return turn
    result: dict[str, Any] = {
        "answer": "",
        "outcome": turn.result.get("outcome"),
        "refused": bool(turn.result.get("refused")),
        "mode": turn.mode,
        "citations": [],
        "notes": [],
        "answer_id": None,
    }
    return Turn(turn.question, turn.mode, result, withheld=True)


def _owner(identity: Identity) -> str:
    if identity.anonymous or not identity.user:
        raise ValidationError("only signed-in users have conversations kept on the server")
    return identity.user


class ConversationStore:
    """Conversations and language choices in `<home>/conversations.sqlite3`."""

    def __init__(self, home: Path) -> None:
        self.path = home / CONVERSATIONS_FILE
        sqlite_file.create(self.path, _SCHEMA, "conversation store")

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return sqlite_file.connect(self.path, "conversation store", foreign_keys=True)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction: all of it is written, or (on any error) none of it."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def add_turn(
        self,
        identity: Identity,
        conversation_id: str | None,
        question: str,
        mode: str,
        result: dict[str, Any],
    ) -> str:
        """Append a turn to the owner's conversation, or start one (`conversation_id` None).

        Returns:
            The conversation's id.

        Raises:
            ValidationError: anonymous caller, or the conversation is full (`MAX_TURNS`).
            NotFoundError: no such conversation of this owner.
        """
        owner = _owner(identity)
        now = time.time()
        payload = json.dumps(kept_result(result), ensure_ascii=False)
        with self._write() as db:
            if conversation_id is None:
                conversation_id = uuid.uuid4().hex
                db.execute(
                    "INSERT INTO conversations VALUES (?, ?, ?, ?, ?)",
                    (conversation_id, owner, title_from(question), now, now),
                )
                position = 0
            else:
                row = db.execute(
                    "SELECT COUNT(t.position) FROM conversations c "
                    "LEFT JOIN turns t ON t.conversation_id = c.conversation_id "
                    "WHERE c.conversation_id=? AND c.owner=? GROUP BY c.conversation_id",
                    (conversation_id, owner),
                ).fetchone()
                if row is None:
                    raise NotFoundError(f"no conversation {conversation_id!r}")
                position = int(row[0])
                if position >= MAX_TURNS:
                    raise ValidationError(
                        f"a conversation holds at most {MAX_TURNS} questions: start a new one"
                    )
                db.execute(
                    "UPDATE conversations SET updated=? WHERE conversation_id=?",
                    (now, conversation_id),
                )
            db.execute(
                "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?)",
                (conversation_id, position, now, question, mode, payload),
            )
        return conversation_id

    def summaries(self, identity: Identity) -> list[dict[str, Any]]:
        """The owner's conversations, most recently used first: id, title, times, turns."""
        if identity.anonymous or not identity.user:
            return []
        with self._db() as db:
            rows = db.execute(
                "SELECT c.conversation_id, c.title, c.created, c.updated, COUNT(t.position) "
                "FROM conversations c LEFT JOIN turns t ON t.conversation_id = c.conversation_id "
                "WHERE c.owner=? GROUP BY c.conversation_id ORDER BY c.updated DESC",
                (identity.user,),
            ).fetchall()
        return [
            {
                "conversation_id": r[0],
                "title": r[1],
                "created": r[2],
                "updated": r[3],
                "turns": r[4],
            }
            for r in rows
        ]

    def get(self, identity: Identity, conversation_id: str) -> Conversation:
        """One of the owner's conversations, each turn as the owner may read it now.

        Raises:
            NotFoundError: unknown, or somebody else's (one message: existence is not revealed).
        """
        if identity.anonymous or not identity.user:
            raise NotFoundError(f"no conversation {conversation_id!r}")
        with self._db() as db:
            head = db.execute(
                "SELECT owner, title, created, updated FROM conversations "
                "WHERE conversation_id=? AND owner=?",
                (conversation_id, identity.user),
            ).fetchone()
            if head is None:
                raise NotFoundError(f"no conversation {conversation_id!r}")
            rows = db.execute(
                "SELECT question, mode, result FROM turns WHERE conversation_id=? "
                "ORDER BY position",
                (conversation_id,),
            ).fetchall()
        turns = [readable_turn(Turn(q, m, json.loads(r)), identity) for q, m, r in rows]
        return Conversation(conversation_id, head[0], head[1], head[2], head[3], turns)

    def delete(self, identity: Identity, conversation_id: str) -> None:
        """Delete one of the owner's conversations with all its turns.

        Raises:
            NotFoundError: unknown, or somebody else's.
        """
        owner = _owner(identity)
        with self._write() as db:
            gone = db.execute(
                "DELETE FROM conversations WHERE conversation_id=? AND owner=?",
                (conversation_id, owner),
            ).rowcount
        if not gone:
            raise NotFoundError(f"no conversation {conversation_id!r}")

    def delete_user(self, user: str) -> int:
        """Delete every conversation (and the language choice) of a user name; returns how
        many conversations were deleted (the operator's command, `techkb conversations
        delete`)."""
        with self._write() as db:
            n = db.execute("DELETE FROM conversations WHERE owner=?", (user,)).rowcount
            db.execute("DELETE FROM preferences WHERE owner=?", (user,))
        return int(n)

    def export(self, identity: Identity) -> list[dict[str, Any]]:
        """The owner's own conversations, oldest first, as the owner may read them now
        (answers citing what the owner may no longer see are withheld). Nobody exports
        another user's conversations, admins included."""
        items = [self.get(identity, c["conversation_id"]) for c in self.summaries(identity)]
        return [c.to_dict() for c in sorted(items, key=lambda c: c.created)]

    # -- language choice ---------------------------------------------------------------------
    def language(self, identity: Identity) -> str | None:
        """The UI language the user chose ("en" | "zh"), None when never chosen."""
        if identity.anonymous or not identity.user:
            return None
        with self._db() as db:
            row = db.execute(
                "SELECT language FROM preferences WHERE owner=?", (identity.user,)
            ).fetchone()
        return str(row[0]) if row else None

    def set_language(self, identity: Identity, language: str) -> None:
        """Keep the user's UI language.

        Raises:
            ValidationError: anonymous caller or a language other than en and zh.
        """
        owner = _owner(identity)
        if language not in LANGUAGES:
            raise ValidationError(f"language {language!r}: one of {', '.join(LANGUAGES)}")
        with self._write() as db:
            db.execute(
                "INSERT INTO preferences VALUES (?, ?) "
                "ON CONFLICT(owner) DO UPDATE SET language=excluded.language",
                (owner, language),
            )
