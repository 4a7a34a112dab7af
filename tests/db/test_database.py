"""The data-access layer on both back ends: migrations once and in order, transactions that
commit all or nothing, errors that name the database."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from assistant.db import Component, open_component, redact
from assistant.errors import StoreError

STEPS = [
    "CREATE TABLE IF NOT EXISTS items (name TEXT PRIMARY KEY, n INTEGER NOT NULL)",
    {
        "sqlite": "ALTER TABLE items ADD COLUMN note TEXT NOT NULL DEFAULT ''",
        "postgresql": "ALTER TABLE items ADD COLUMN note TEXT NOT NULL DEFAULT ''",
    },
]
COMPONENT = Component("items", "items.sqlite3", "test items", STEPS)


def test_migrations_run_once_and_in_order(tmp_path: Path, backend_url: str | None) -> None:
    db = open_component(tmp_path, backend_url, COMPONENT)
    with db.write() as conn:
        conn.execute(sa.text("INSERT INTO items(name, n, note) VALUES ('a', 1, 'x')"))
    again = open_component(tmp_path, backend_url, COMPONENT)  # a second process opening it
    with again.read() as conn:
        assert conn.execute(sa.text("SELECT name, n, note FROM items")).all() == [("a", 1, "x")]
        steps = conn.execute(
            sa.text("SELECT step FROM schema_migrations WHERE component='items' ORDER BY step")
        ).scalars()
        assert list(steps) == [1, 2]


def test_a_failed_write_leaves_nothing(tmp_path: Path, backend_url: str | None) -> None:
    db = open_component(tmp_path, backend_url, COMPONENT)
    with pytest.raises(RuntimeError), db.write() as conn:
        conn.execute(sa.text("INSERT INTO items(name, n) VALUES ('b', 2)"))
        raise RuntimeError("crash between two statements")
    with db.read() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM items")).scalar() == 0


def test_concurrent_writers_each_commit(tmp_path: Path, backend_url: str | None) -> None:
    db = open_component(tmp_path, backend_url, COMPONENT)
    with db.write() as conn:
        conn.execute(sa.text("INSERT INTO items(name, n) VALUES ('c', 0)"))

    def bump() -> None:
        for _ in range(20):
            with db.write() as conn:
                n = conn.execute(
                    sa.text(
                        "SELECT n FROM items WHERE name='c' FOR UPDATE"
                        if db.dialect == "postgresql"
                        else "SELECT n FROM items WHERE name='c'"
                    )
                ).scalar()
                conn.execute(sa.text("UPDATE items SET n=:n WHERE name='c'"), {"n": n + 1})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with db.read() as conn:
        assert conn.execute(sa.text("SELECT n FROM items WHERE name='c'")).scalar() == 80


def test_errors_name_the_database(tmp_path: Path, backend_url: str | None) -> None:
    db = open_component(tmp_path, backend_url, COMPONENT)
    with pytest.raises(StoreError) as info, db.read() as conn:
        conn.execute(sa.text("SELECT * FROM no_such_table"))
    assert "test items" in str(info.value)
    assert (str(tmp_path) if backend_url is None else "127.0.0.1") in str(info.value)


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    url = "postgresql://someone:secret@127.0.0.1:9/techkb"
    with pytest.raises(StoreError) as info:
        open_component(tmp_path, url, COMPONENT)
    assert "127.0.0.1:9" in str(info.value) and "secret" not in str(info.value)
    assert "secret" not in redact(url)


def test_unknown_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="only sqlite and postgresql"):
        open_component(tmp_path, "mysql://x@127.0.0.1/techkb", COMPONENT)
