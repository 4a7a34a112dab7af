"""Signed-in users' conversations, kept on the server beside the usage log.

One SQLite file in the store home (`conversations.sqlite3`), or the shared database at
`store.database_url` (`assistant.db`), one transaction per write, as `assistant.feedback`: safe
with several threads, several uvicorn workers, several hosts and the CLI at once, and a write
that fails half way leaves nothing behind. A conversation belongs to the user name that started
it and to nobody else: every read, write and delete names the owner, and a conversation of
somebody else is "not found" (its existence is not revealed). Anonymous callers have no
server-side conversations (the web app keeps theirs in the browser).

Each turn keeps the answer with its citations and the chunk metadata the access rule needs.
What goes out again — reopened in the web app, listed by the API, exported — passes the rule
for the reader as they are now, fail closed as the feedback export: a turn whose answer cites a
chunk the owner may no longer see (moved to another org, a document made private) comes back
with its answer and citations withheld, the question alone.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from assistant.access import can_see
from assistant.db import Component, open_component, portable
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
    created {real} NOT NULL,
    updated {real} NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(conversation_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    created {real} NOT NULL,
    question TEXT NOT NULL,
    mode TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (conversation_id, position)
);
CREATE TABLE IF NOT EXISTS preferences (
    owner TEXT PRIMARY KEY,
    language TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations(owner, updated)
"""
CONVERSATIONS = Component(
    "conversations",
    CONVERSATIONS_FILE,
    "conversation store",
    [portable(_SCHEMA)],
)


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
    """Conversations and language choices in `<home>/conversations.sqlite3`, or in the
    database at `database_url`.

    Raises:
        StoreError: the database cannot be opened (names it).
    """

    def __init__(self, home: Path, database_url: str | None = None) -> None:
        self.db = open_component(home, database_url, CONVERSATIONS)

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
        with self.db.write() as conn:
            if conversation_id is None:
                conversation_id = uuid.uuid4().hex
                conn.execute(
                    sa.text(
                        "INSERT INTO conversations(conversation_id, owner, title, created, "
                        "updated) VALUES (:cid, :owner, :title, :now, :now)"
                    ),
                    {"cid": conversation_id, "owner": owner, "title": title_from(question),
                     "now": now},
                )  # fmt: skip
                position = 0
            else:
                # The row lock (PostgreSQL) makes two writers to one conversation take turns;
                # SQLite's write transaction already holds the whole file.
                lock = " FOR UPDATE" if self.db.dialect == "postgresql" else ""
                head = conn.execute(
                    sa.text(
                        "SELECT conversation_id FROM conversations "
                        "WHERE conversation_id=:cid AND owner=:owner" + lock
                    ),
                    {"cid": conversation_id, "owner": owner},
                ).first()
                row = (
                    None
                    if head is None
                    else conn.execute(
                        sa.text("SELECT COUNT(*) FROM turns WHERE conversation_id=:cid"),
                        {"cid": conversation_id},
                    ).first()
                )
                if row is None:
                    raise NotFoundError(f"no conversation {conversation_id!r}")
                position = int(row[0])
                if position >= MAX_TURNS:
                    raise ValidationError(
                        f"a conversation holds at most {MAX_TURNS} questions: start a new one"
                    )
                conn.execute(
                    sa.text("UPDATE conversations SET updated=:now WHERE conversation_id=:cid"),
                    {"now": now, "cid": conversation_id},
                )
            conn.execute(
                sa.text(
                    "INSERT INTO turns(conversation_id, position, created, question, mode, "
                    "result) VALUES (:cid, :position, :now, :question, :mode, :result)"
                ),
                {"cid": conversation_id, "position": position, "now": now,
                 "question": question, "mode": mode, "result": payload},
            )  # fmt: skip
        return conversation_id

    def summaries(self, identity: Identity) -> list[dict[str, Any]]:
        """The owner's conversations, most recently used first: id, title, times, turns."""
        if identity.anonymous or not identity.user:
            return []
        with self.db.read() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT c.conversation_id, c.title, c.created, c.updated, COUNT(t.position) "
                    "FROM conversations c "
                    "LEFT JOIN turns t ON t.conversation_id = c.conversation_id "
                    "WHERE c.owner=:owner "
                    "GROUP BY c.conversation_id, c.title, c.created, c.updated "
                    "ORDER BY c.updated DESC"
                ),
                {"owner": identity.user},
            ).all()
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
        with self.db.read() as conn:
            head = conn.execute(
                sa.text(
                    "SELECT owner, title, created, updated FROM conversations "
                    "WHERE conversation_id=:cid AND owner=:owner"
                ),
                {"cid": conversation_id, "owner": identity.user},
            ).first()
            if head is None:
                raise NotFoundError(f"no conversation {conversation_id!r}")
            rows = conn.execute(
                sa.text(
                    "SELECT question, mode, result FROM turns WHERE conversation_id=:cid "
                    "ORDER BY position"
                ),
                {"cid": conversation_id},
            ).all()
        turns = [readable_turn(Turn(q, m, json.loads(r)), identity) for q, m, r in rows]
        return Conversation(conversation_id, head[0], head[1], head[2], head[3], turns)

    def delete(self, identity: Identity, conversation_id: str) -> None:
        """Delete one of the owner's conversations with all its turns.

        Raises:
            NotFoundError: unknown, or somebody else's.
        """
        owner = _owner(identity)
        with self.db.write() as conn:
            gone = conn.execute(
                sa.text("DELETE FROM conversations WHERE conversation_id=:cid AND owner=:owner"),
                {"cid": conversation_id, "owner": owner},
            ).rowcount
        if not gone:
            raise NotFoundError(f"no conversation {conversation_id!r}")

    def delete_user(self, user: str) -> int:
        """Delete every conversation (and the language choice) of a user name; returns how
        many conversations were deleted (the operator's commands `techkb conversations
        delete` and `techkb users remove`)."""
        with self.db.write() as conn:
            n = conn.execute(
                sa.text("DELETE FROM conversations WHERE owner=:owner"), {"owner": user}
            ).rowcount
            conn.execute(sa.text("DELETE FROM preferences WHERE owner=:owner"), {"owner": user})
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
        with self.db.read() as conn:
            row = conn.execute(
                sa.text("SELECT language FROM preferences WHERE owner=:owner"),
                {"owner": identity.user},
            ).first()
        return str(row[0]) if row else None

    def set_language(self, identity: Identity, language: str) -> None:
        """Keep the user's UI language.

        Raises:
            ValidationError: anonymous caller or a language other than en and zh.
        """
        owner = _owner(identity)
        if language not in LANGUAGES:
            raise ValidationError(f"language {language!r}: one of {', '.join(LANGUAGES)}")
        with self.db.write() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO preferences(owner, language) VALUES (:owner, :language) "
                    "ON CONFLICT(owner) DO UPDATE SET language=excluded.language"
                ),
                {"owner": owner, "language": language},
            )
