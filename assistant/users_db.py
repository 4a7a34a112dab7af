"""Users in the database (`store.database_url`): every worker and host signs people in from it.

Two tables, the users file's fields as columns: `users(name, org, role, password_hash,
created)` and `user_tokens(name, token_id, token_hash, label, created, revoked)`; a
user's tokens go with the user (`ON DELETE CASCADE`). Hashes as in the file (`assistant.users`).
Nothing is cached between calls but a successful password check, and that under the stored hash,
so a user added, re-scoped or removed on one host counts on every other at its next request.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assistant.db import Component, open_component, redact
from assistant.errors import AuthError, NotFoundError, ValidationError
from assistant.types import Identity
from assistant.users import (
    PasswordCheck,
    User,
    new_token,
    new_user_hash,
    token_hash,
    utc_now,
)

logger = logging.getLogger(__name__)

USERS = Component(
    "users",
    "users.sqlite3",
    "users",
    [
        """
        CREATE TABLE IF NOT EXISTS users (
            name TEXT PRIMARY KEY,
            org TEXT NOT NULL,
            role TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            created TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS user_tokens (
            name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
            token_id TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            label TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL,
            revoked INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (name, token_id)
        )
        """
    ],
)


class DatabaseUserStore:
    """The `Users` of one database (a SQLite file `users.sqlite3` in `home` when
    `database_url` is None, which tests use; installations without a database keep the users
    file)."""

    def __init__(self, home: Path, database_url: str | None) -> None:
        self.db = open_component(home, database_url, USERS)
        self.location = redact(database_url) if database_url else str(home / USERS.sqlite_file)
        self._check = PasswordCheck()

    def _users(self, conn: Connection, name: str | None) -> list[User]:
        where = "" if name is None else " WHERE name=:name"
        rows = conn.execute(
            sa.text("SELECT name, org, role, password_hash FROM users" + where + " ORDER BY name"),
            {"name": name},
        ).all()
        tokens: dict[str, list[dict[str, Any]]] = {}
        for t in conn.execute(
            sa.text(
                "SELECT name, token_id, token_hash, label, created, revoked FROM user_tokens"
                + where
                + " ORDER BY created, token_id"
            ),
            {"name": name},
        ):
            record = {"id": t[1], "hash": t[2], "label": t[3], "created": t[4]}
            if t[5]:
                record["revoked"] = True
            tokens.setdefault(t[0], []).append(record)
        return [User(r[0], r[1], r[2], r[3], tuple(tokens.get(r[0], ()))) for r in rows]

    def list(self) -> list[User]:
        """Every user, by name."""
        with self.db.read() as conn:
            return self._users(conn, None)

    def get(self, name: str) -> User | None:
        with self.db.read() as conn:
            found = self._users(conn, name)
        return found[0] if found else None

    def verify_password(self, name: str, password: str) -> Identity:
        """The identity of `name` when `password` is right.

        Raises:
            AuthError: unknown user or wrong password (one message, one KDF run, for both).
        """
        with self.db.read() as conn:
            row = conn.execute(
                sa.text("SELECT name, org, role, password_hash FROM users WHERE name=:name"),
                {"name": name},
            ).first()
        user = User(row[0], row[1], row[2], row[3]) if row else None
        return self._check.verify(user, name, password)

    def verify_token(self, token: str) -> Identity:
        """The identity holding this (unrevoked) API token.

        Raises:
            AuthError: no user holds it, or it was revoked.
        """
        with self.db.read() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT u.name, u.org, u.role FROM user_tokens t "
                    "JOIN users u ON u.name = t.name WHERE t.token_hash=:h AND t.revoked=0"
                ),
                {"h": token_hash(token)},
            ).first()
        if row is None:
            raise AuthError("invalid or revoked token")
        return Identity(row[0], row[1], row[2])

    def add(self, name: str, org: str, role: str, password: str, *, replace: bool = False) -> User:
        """Add a user (or replace one, tokens dropped, when `replace`).

        Raises:
            ValidationError: bad name, org, role, short password, or the user exists.
        """
        pw_hash = new_user_hash(name, org, role, password)
        now = utc_now()
        with self.db.write() as conn:
            if replace:
                conn.execute(sa.text("DELETE FROM users WHERE name=:name"), {"name": name})
            added = conn.execute(
                sa.text(
                    "INSERT INTO users(name, org, role, password_hash, created) "
                    "VALUES (:name, :org, :role, :pw, :now) "
                    "ON CONFLICT(name) DO NOTHING RETURNING name"
                ),
                {"name": name, "org": org, "role": role, "pw": pw_hash, "now": now},
            ).first()
            if added is None:
                raise ValidationError(f"user {name!r} already exists in {self.location}")
        logger.info("user %s added (%s, %s)", name, org, role)
        return User(name, org, role, pw_hash)

    def remove(self, name: str) -> None:
        """Remove a user and all their tokens.

        Raises:
            NotFoundError: no such user.
        """
        with self.db.write() as conn:
            gone = conn.execute(sa.text("DELETE FROM users WHERE name=:name"), {"name": name})
            if not gone.rowcount:
                raise NotFoundError(f"no user {name!r} in {self.location}")

    def issue_token(self, name: str, label: str = "") -> tuple[str, str]:
        """Issue an API token for `name`; returns (token id, token). Only its hash is stored.

        Raises:
            NotFoundError: no such user.
        """
        token_id, token, digest = new_token()
        with self.db.write() as conn:
            self._require(conn, name)
            conn.execute(
                sa.text(
                    "INSERT INTO user_tokens(name, token_id, token_hash, label, created) "
                    "VALUES (:name, :id, :hash, :label, :now)"
                ),
                {"name": name, "id": token_id, "hash": digest, "label": label, "now": utc_now()},
            )
        return token_id, token

    def revoke_token(self, name: str, token_id: str | None = None) -> int:
        """Revoke one token of `name` (by id) or all of them (None); returns how many.

        Raises:
            NotFoundError: no such user, or no such token id.
        """
        with self.db.write() as conn:
            self._require(conn, name)
            if token_id is not None:
                known = conn.execute(
                    sa.text("SELECT 1 FROM user_tokens WHERE name=:name AND token_id=:id"),
                    {"name": name, "id": token_id},
                ).first()
                if known is None:
                    raise NotFoundError(f"user {name!r} has no token {token_id!r}")
            only = "" if token_id is None else " AND token_id=:id"
            revoked = conn.execute(
                sa.text("UPDATE user_tokens SET revoked=1 WHERE name=:name AND revoked=0" + only),
                {"name": name, "id": token_id},
            )
            return int(revoked.rowcount)

    def _require(self, conn: Connection, name: str) -> None:
        """Lock the user's row for the rest of the transaction (PostgreSQL), or fail."""
        lock = " FOR UPDATE" if self.db.dialect == "postgresql" else ""
        row = conn.execute(
            sa.text("SELECT 1 FROM users WHERE name=:name" + lock), {"name": name}
        ).first()
        if row is None:
            raise NotFoundError(f"no user {name!r} in {self.location}")
