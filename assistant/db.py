"""One data-access layer for what techkb keeps in SQL: by default SQLite files in the store
home, or one PostgreSQL database shared by every worker (`store.database_url`).

SQLAlchemy Core carries the same statements to both: text SQL with named parameters, written in
the subset both dialects share (`INSERT … ON CONFLICT … DO UPDATE`, `RETURNING`, portable types).
Where they differ (auto-incremented keys, `FOR UPDATE SKIP LOCKED`) a caller asks `dialect`.

- `read()` runs statements without a transaction (each sees the latest commit).
- `write()` is one transaction: SQLite takes the write lock at `BEGIN IMMEDIATE`, so two writers
  never deadlock; PostgreSQL runs at READ COMMITTED. Either commits all or nothing.
- `migrate()` applies a component's numbered schema steps once, on open, one process at a time
  (a lock file beside a SQLite file, an advisory lock on PostgreSQL), recording each step in
  `schema_migrations`. A step is SQL that both dialects accept, a per-dialect mapping, or a
  function of the connection.

Every error names the database (the file, or the URL without its password) and what it holds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from assistant.errors import StoreError

try:
    import fcntl
except ImportError:  # not on POSIX: setup then relies on the database's own waiting
    fcntl = None  # type: ignore[assignment]

# A migration step: SQL statements (both dialects), {dialect: statements}, or a function.
Step = str | Mapping[str, str] | Callable[[Connection, str], None]


@dataclass(frozen=True)
class Component:
    """What one module keeps: its name (in `schema_migrations`), its SQLite file name in the
    store home, the words errors use for it, and its schema steps in order."""

    name: str
    sqlite_file: str
    what: str
    steps: Sequence[Step]


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<invalid database URL>"


def engine_url(url: str) -> str:
    """`postgresql://…` with the psycopg 3 driver; other URLs as given."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


_ENGINES: dict[tuple[str, int], Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine(url: str) -> Engine:
    """One engine (connection pool) per URL and process: every store in the process shares it,
    and a forked child makes its own instead of using its parent's connections."""
    key = (url, os.getpid())
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _make_engine(url)
            _ENGINES[key] = engine
        return engine


def _make_engine(url: str) -> Engine:
    target = engine_url(url)
    try:
        parsed = sa.make_url(target)
    except sa.exc.ArgumentError as e:
        raise StoreError(f"store.database_url: not a database URL: {redact(url)}") from e
    if parsed.get_backend_name() == "sqlite":
        # Connections go back to the pool without a reset: this layer ends every transaction
        # it begins (`write`), and reads run outside one.
        engine = sa.create_engine(
            target, connect_args={"timeout": 60}, pool_pre_ping=False, pool_reset_on_return=None
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi: Any, _record: Any) -> None:
            dbapi.isolation_level = None  # this layer says BEGIN itself
            cursor = dbapi.cursor()
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine.execution_options(isolation_level="AUTOCOMMIT")
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(
            target,
            pool_size=5,
            max_overflow=10,
            pool_pre_ping=True,  # a database restarted under us: reconnect, not fail
            connect_args={"connect_timeout": 10},
        )
    raise StoreError(
        f"store.database_url: {redact(url)}: only sqlite and postgresql databases are supported"
    )


def _roll_back(conn: Connection) -> None:
    """End a SQLite transaction that did not commit; a connection that cannot is discarded."""
    try:
        conn.exec_driver_sql("ROLLBACK")
    except sa.exc.SQLAlchemyError:
        conn.invalidate()


class Database:
    """A connection pool to one database, with the transactions techkb relies on."""

    def __init__(self, url: str, *, what: str, lock_file: Path | None = None) -> None:
        self.url = url
        self.what = what
        self.label = redact(url) if lock_file is None else str(lock_file)
        self._lock_file = lock_file
        self.engine = _engine(url)
        self.dialect = self.engine.dialect.name  # "sqlite" | "postgresql"

    def _error(self, e: Exception) -> StoreError:
        detail = str(getattr(e, "orig", None) or e).strip().splitlines()
        return StoreError(f"{self.label}: {self.what}: {detail[0] if detail else e}")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection without a transaction; database errors become `StoreError`."""
        try:
            with self.engine.connect() as conn:
                if self.dialect == "postgresql":
                    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                yield conn
        except sa.exc.SQLAlchemyError as e:
            raise self._error(e) from e

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        try:
            if self.dialect == "sqlite":
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                    committed = False
                    try:
                        yield conn
                        conn.exec_driver_sql("COMMIT")
                        committed = True
                    finally:
                        if not committed:
                            _roll_back(conn)
            else:
                with self.engine.begin() as conn:
                    yield conn
        except sa.exc.SQLAlchemyError as e:
            raise self._error(e) from e

    def migrate(self, component: str, steps: Sequence[Step]) -> None:
        """Apply the steps of `component` not yet recorded, in order, each in one transaction
        with its record, one process at a time."""
        with self._setup_lock():
            with self._migration() as conn:
                conn.exec_driver_sql(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, "
                    "step INTEGER NOT NULL, PRIMARY KEY (component, step))"
                )
            for number, step in enumerate(steps, start=1):
                with self._migration() as conn:
                    done = conn.execute(
                        sa.text("SELECT 1 FROM schema_migrations WHERE component=:c AND step=:s"),
                        {"c": component, "s": number},
                    ).first()
                    if done:
                        continue
                    self._apply(conn, step)
                    conn.execute(
                        sa.text("INSERT INTO schema_migrations(component, step) VALUES (:c, :s)"),
                        {"c": component, "s": number},
                    )

    @contextmanager
    def _migration(self) -> Iterator[Connection]:
        """A write transaction that, on PostgreSQL, first waits for every other process's
        migration transaction (an advisory lock held until commit)."""
        with self.write() as conn:
            if self.dialect == "postgresql":
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
            yield conn

    def _apply(self, conn: Connection, step: Step) -> None:
        if callable(step):
            step(conn, self.dialect)
            return
        sql = step if isinstance(step, str) else step[self.dialect]
        for statement in sql.split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)

    @contextmanager
    def _setup_lock(self) -> Iterator[None]:
        if self._lock_file is None:
            yield
            return
        with setup_lock(self._lock_file):
            yield


# The advisory lock every techkb migration on PostgreSQL holds (an arbitrary constant).
_MIGRATION_LOCK = 0x7EC4B0


@contextmanager
def setup_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on a file beside a SQLite database (where the platform has
    flock), so that processes set it up one at a time: SQLite refuses the switch to WAL at
    once, without waiting, to a process that makes it while another does."""
    if fcntl is None:
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_component(home: Path, database_url: str | None, component: Component) -> Database:
    """The database a component lives in: its SQLite file in `home`, or the shared database at
    `database_url`; migrated to the current schema.

    Raises:
        StoreError: the database cannot be reached or set up (names it and what it holds).
    """
    if database_url:
        db = Database(database_url, what=component.what)
    else:
        path = home / component.sqlite_file
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"{path}: cannot open the {component.what}: {e}") from e
        db = Database(f"sqlite:///{path}", what=component.what, lock_file=path)
        with setup_lock(path), db.read() as conn:
            if conn.exec_driver_sql("PRAGMA journal_mode").scalar() != "wal":
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    db.migrate(component.name, component.steps)
    return db


def dispose_all() -> None:
    """Close every pooled connection of this process (before a fork, or at exit in tests)."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()
