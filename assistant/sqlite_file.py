"""The SQLite files in the store home (feedback, conversations): created and opened alike.

Each is in WAL mode, waits up to 30 s for another writer, and names its file in every error.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.db import setup_lock
from assistant.errors import StoreError


def create(path: Path, schema: str, what: str) -> None:
    """Make the file (and its folder) with `schema`, once across processes.

    Raises:
        StoreError: the file cannot be created or opened (names it and `what` it holds).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with setup_lock(path), connect(path, what) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(schema)
    except OSError as e:
        raise StoreError(f"{path}: cannot open the {what}: {e}") from e


@contextmanager
def connect(path: Path, what: str, *, foreign_keys: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection in autocommit mode, closed on exit; SQLite errors become `StoreError`."""
    try:
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
    except sqlite3.Error as e:
        raise StoreError(f"{path}: cannot open the {what}: {e}") from e
    try:
        db.execute("PRAGMA busy_timeout=30000")
        if foreign_keys:
            db.execute("PRAGMA foreign_keys=ON")
        yield db
    except sqlite3.Error as e:
        raise StoreError(f"{path}: {e}") from e
    finally:
        db.close()
