"""The usage log and feedback store: every answer given, and the ratings users put on them.

One SQLite file in the store home (`feedback.sqlite3`), or the shared database at
`store.database_url` (`assistant.db`); each write is one transaction: safe with several
threads, several uvicorn workers, several hosts and the CLI at once. Citations are stored with
the chunk metadata the access rule needs, so exports and dashboards can be filtered for the
identity that reads them: a logged answer is readable by whoever may read its asker's usage data
(`access.may_oversee`: staff, teachers and admins of the asker's org; anonymous callers'
questions, admins) and may see every chunk it cites.

The asker's column is `user`, a reserved word in PostgreSQL: every statement quotes it.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from assistant.access import can_see, may_oversee
from assistant.db import Component, open_component, portable
from assistant.errors import AccessError, NotFoundError, ValidationError
from assistant.types import Identity

FEEDBACK_FILE = "feedback.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    answer_id TEXT PRIMARY KEY,
    created {real} NOT NULL,
    "user" TEXT, org TEXT, role TEXT,
    question TEXT NOT NULL,
    history TEXT NOT NULL DEFAULT '[]',
    mode TEXT NOT NULL,
    answer TEXT NOT NULL,
    refused INTEGER NOT NULL,
    citations TEXT NOT NULL,
    retrieved TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS ratings (
    answer_id TEXT NOT NULL REFERENCES answers(answer_id),
    rater TEXT NOT NULL,
    created {real} NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment TEXT NOT NULL DEFAULT '',
    "user" TEXT, org TEXT, role TEXT,
    PRIMARY KEY (answer_id, rater)
);
CREATE INDEX IF NOT EXISTS answers_created ON answers(created)
"""
FEEDBACK = Component(
    "feedback",
    FEEDBACK_FILE,
    "feedback store",
    [portable(_SCHEMA)],
)
_MARKER = re.compile(r"\s*\[\d+\]")


@dataclass(frozen=True)
class LoggedAnswer:
    """One logged answer with its net rating (sum of +1/-1) and comments."""

    answer_id: str
    created: float
    identity: Identity
    question: str
    history: list[dict[str, str]]
    mode: str
    answer: str
    refused: bool
    citations: list[dict[str, Any]]
    retrieved: list[dict[str, Any]]
    rating: int
    ratings: int
    comments: list[str]

    @property
    def contributors(self) -> list[str]:
        return sorted({str(c.get("contributor")) for c in self.citations})

    def visible_to(self, identity: Identity) -> bool:
        """Whether every chunk this answer cites is visible to `identity`."""
        return all(can_see(identity, c) for c in self.citations)

    def readable_by(self, reader: Identity) -> bool:
        """Whether `reader` may read this entry: the asker's words (question, earlier turns,
        comments: the asker's org's data) and every chunk the answer cites."""
        asker_org = None if self.identity.anonymous else self.identity.org
        return may_oversee(reader, asker_org) and self.visible_to(reader)


def shown_history(
    answer: LoggedAnswer, logged: list[LoggedAnswer], reader: Identity
) -> list[dict[str, str]] | None:
    """`answer`'s earlier turns if `reader` may read every one of them, else None.

    `logged` is the usage log (or the part of it logged for `answer`'s asker).

    The user turns are the asker's words (readable with the entry itself). An assistant turn is
    kept only when it is the text of an earlier answer logged for the same asker that `reader`
    may read; a turn that matches none (or only unreadable ones) withholds the whole history:
    allow-list, fail closed.
    """
    readable = {
        a.answer.strip()
        for a in logged
        if a.identity == answer.identity
        and a.created <= answer.created
        and a.answer_id != answer.answer_id
        and a.readable_by(reader)
    }
    for turn in answer.history:
        if turn.get("role") != "user" and str(turn.get("content", "")).strip() not in readable:
            return None
    return answer.history


class FeedbackStore:
    """Answers and ratings in `<home>/feedback.sqlite3`, or in the database at `database_url`.

    Raises:
        StoreError: the database cannot be opened (names it).
    """

    def __init__(self, home: Path, database_url: str | None = None) -> None:
        self.db = open_component(home, database_url, FEEDBACK)

    def log_answer(
        self,
        identity: Identity,
        question: str,
        history: list[dict[str, str]],
        result: dict[str, Any],
        retrieved: list[dict[str, Any]],
    ) -> str:
        """Record one answer; returns its new answer id.

        Args:
            identity: who asked.
            question: the question as asked.
            history: earlier turns, oldest first.
            result: the answer dict (`answer`, `refused`, `mode`, `citations` with at least
                chunk_id, source, contributor, visibility, allowed_roles).
            retrieved: the retrieved candidates (chunk_id, source, contributor).
        """
        answer_id = uuid.uuid4().hex
        keep = ("n", "chunk_id", "doc_id", "source", "contributor", "visibility", "allowed_roles")
        citations = [{k: c.get(k) for k in keep} for c in result.get("citations", [])]
        with self.db.write() as conn:
            conn.execute(
                sa.text(
                    'INSERT INTO answers(answer_id, created, "user", org, role, question, '
                    "history, mode, answer, refused, citations, retrieved) VALUES (:answer_id, "
                    ":created, :user, :org, :role, :question, :history, :mode, :answer, "
                    ":refused, :citations, :retrieved)"
                ),
                {
                    "answer_id": answer_id,
                    "created": time.time(),
                    "user": identity.user,
                    "org": identity.org,
                    "role": identity.role,
                    "question": question,
                    "history": json.dumps(history, ensure_ascii=False),
                    "mode": result.get("mode", "ask"),
                    "answer": result.get("answer", ""),
                    "refused": int(bool(result.get("refused"))),
                    "citations": json.dumps(citations, ensure_ascii=False),
                    "retrieved": json.dumps(retrieved, ensure_ascii=False),
                },
            )
        return answer_id

    def rate(self, answer_id: str, identity: Identity, rating: int, comment: str = "") -> None:
        """Rate an answer (+1 or -1); a later rating by the same rater replaces the earlier.

        Raises:
            ValidationError: rating not +1/-1, or comment too long.
            NotFoundError: no such answer, or it was given to somebody else.
        """
        if rating not in (1, -1):
            raise ValidationError("rating must be +1 or -1")
        if len(comment) > 4000:
            raise ValidationError("comment: at most 4000 characters")
        with self.db.write() as conn:
            row = conn.execute(
                sa.text('SELECT "user", org, role FROM answers WHERE answer_id=:a'),
                {"a": answer_id},
            ).first()
            # Only the person who got the answer may rate it (anonymous: anonymous answers).
            if row is None or (row[0] or None) != (identity.user or None):
                raise NotFoundError(f"no answer {answer_id!r}")
            if identity.user is None and (row[1], row[2]) != (identity.org, identity.role):
                raise NotFoundError(f"no answer {answer_id!r}")
            rater = identity.user or f"anonymous:{identity.key()}"
            conn.execute(
                sa.text(
                    'INSERT INTO ratings(answer_id, rater, created, rating, comment, "user", '
                    "org, role) VALUES (:a, :rater, :created, :rating, :comment, :user, :org, "
                    ":role) ON CONFLICT(answer_id, rater) DO UPDATE SET created=excluded.created, "
                    'rating=excluded.rating, comment=excluded.comment, "user"=excluded."user", '
                    "org=excluded.org, role=excluded.role"
                ),
                {
                    "a": answer_id,
                    "rater": rater,
                    "created": time.time(),
                    "rating": rating,
                    "comment": comment,
                    "user": identity.user,
                    "org": identity.org,
                    "role": identity.role,
                },
            )

    def answers(self, *, rated_only: bool = False) -> list[LoggedAnswer]:
        """Every logged answer, oldest first, with net rating and comments."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.text(
                    'SELECT answer_id, created, "user", org, role, question, history, mode, '
                    "answer, refused, citations, retrieved FROM answers "
                    "ORDER BY created, answer_id"
                )
            ).all()
            ratings = conn.execute(
                sa.text("SELECT answer_id, rating, comment FROM ratings ORDER BY created, rater")
            ).all()
        net: dict[str, list[int]] = {}
        comments: dict[str, list[str]] = {}
        for answer_id, rating, comment in ratings:
            net.setdefault(answer_id, []).append(int(rating))
            if comment:
                comments.setdefault(answer_id, []).extend(c for c in comment.split("\n") if c)
        return [
            LoggedAnswer(
                answer_id=r[0],
                created=r[1],
                identity=Identity(r[2], r[3], r[4]),
                question=r[5],
                history=json.loads(r[6]),
                mode=r[7],
                answer=r[8],
                refused=bool(r[9]),
                citations=json.loads(r[10]),
                retrieved=json.loads(r[11]),
                rating=sum(net.get(r[0], [])),
                ratings=len(net.get(r[0], [])),
                comments=comments.get(r[0], []),
            )
            for r in rows
            if not rated_only or r[0] in net
        ]

    def ratings_for(self, answer_ids: set[str]) -> list[dict[str, Any]]:
        """The individual ratings of these answers, newest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT answer_id, rating, comment, created FROM ratings ORDER BY created DESC"
                )
            ).all()
        return [
            {"answer_id": a, "rating": r, "comment": c, "created": t}
            for a, r, c, t in rows
            if a in answer_ids
        ]

    def ledger(
        self, contributors: set[str] | None = None, reader: Identity | None = None
    ) -> list[dict[str, Any]]:
        """Per contributor: citations, answers citing it, up and down ratings of those answers.

        Args:
            contributors: only these contributors (None: all).
            reader: count only the citations of chunks this identity may see (None: all, the
                operator's view in `techkb ledger`, who holds the store file anyway).
        """
        table: dict[str, dict[str, Any]] = {}
        for a in self.answers():
            cited: dict[str, int] = {}
            for c in a.citations:
                if reader is not None and not can_see(reader, c):
                    continue
                name = str(c.get("contributor"))
                cited[name] = cited.get(name, 0) + 1
            for name, n in cited.items():
                if contributors is not None and name not in contributors:
                    continue
                row = table.setdefault(
                    name, {"contributor": name, "citations": 0, "answers": 0, "up": 0, "down": 0}
                )
                row["citations"] += n
                row["answers"] += 1
                row["up"] += int(a.rating > 0)
                row["down"] += int(a.rating < 0)
        return sorted(table.values(), key=lambda r: (-r["citations"], r["contributor"]))

    def export_items(self, identity: Identity) -> list[dict[str, Any]]:
        """Rated answers as eval-dataset items (DESIGN.md), only what `identity` may read.

        Only admins export, and only entries they may read (`LoggedAnswer.readable_by`): those
        of askers of their own org and of anonymous callers, citing only chunks they may see.
        Earlier turns go out only when every assistant turn is a logged answer the admin may
        read (`shown_history`); otherwise the item carries the question alone and
        `"history_redacted": <turns left out>`. Upvoted answers give a reference (the answer
        without its markers) and gold sources; downvoted ones an empty reference,
        `"downvoted": true` and `"needs_review": true`. Answers with a net rating of zero are
        left out.

        Raises:
            AccessError: the identity is not an admin.
        """
        if identity.role != "admin":
            raise AccessError("only an admin may export feedback")
        logged = self.answers()  # oldest first
        by_asker: dict[Identity, list[LoggedAnswer]] = {}
        for a in logged:
            by_asker.setdefault(a.identity, []).append(a)
        items = []
        for a in logged:
            if not a.ratings or a.rating == 0 or not a.readable_by(identity):
                continue
            item: dict[str, Any] = {"id": f"feedback-{a.answer_id}"}
            history = shown_history(a, by_asker[a.identity], identity) if a.history else []
            if history:
                item["messages"] = [*history, {"role": "user", "content": a.question}]
            else:
                item["question"] = a.question
                if history is None:
                    item["history_redacted"] = len(a.history)
            up = a.rating > 0
            sources = sorted({str(c.get("source")) for c in a.citations}) if up else []
            item.update(
                {
                    "reference": _MARKER.sub("", a.answer).strip() if up and not a.refused else "",
                    "gold_sources": sources,
                    "gold_contributors": a.contributors if up else [],
                    # An upvoted refusal was right to refuse; a downvoted one should have answered.
                    "answerable": (not a.refused) if up else True,
                    "mode": a.mode,
                    "rating": a.rating,
                }
            )
            if not a.identity.anonymous:
                item["user"] = {"org": a.identity.org, "role": a.identity.role}
            if not up:
                item["downvoted"] = True
                item["needs_review"] = True
            if a.comments:
                item["comments"] = a.comments
            items.append(item)
        return items
