"""Ingestion jobs any worker can run, kept in `assistant.db` with the files they ingest.

A job is a row: `queued` until a worker claims it, `running` while that worker holds its lease
(renewed by a heartbeat that also records progress), then `done` or `failed` with per-file
errors. A worker that dies stops renewing; once the lease has run out another worker claims the
job again (`attempts` + 1), and after `max_attempts` claims the job fails, saying so. On
PostgreSQL, workers claim with `SELECT … FOR UPDATE SKIP LOCKED`; on SQLite the write
transaction is already exclusive. Times are the database's clock, so hosts need not agree.

Uploaded documents live here too (bytes, sidecar metadata, and the uploading org's
`contributors.yaml` entry), so that a worker on any host can `materialise` the uploads root in
its own home before it syncs that root. The uploads root has a key independent of the home
(`UPLOADS_ROOT_KEY`): every worker makes the same documents of one upload.

Kinds: `uploads` (sync the uploads root; any worker) and `root` (sync a folder named by path;
only workers on the host that queued it, which see that path). `assistant.job_worker` claims and
runs them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from assistant.db import Component, Database, open_component, portable, setup_lock
from assistant.errors import NotFoundError
from assistant.upload_files import _NOW, UploadedFiles

logger = logging.getLogger(__name__)

UPLOADS_ROOT_KEY = "uploads:"
STATES = ("queued", "running", "done", "failed")

_STEPS = [
    portable(
        "CREATE TABLE IF NOT EXISTS jobs (job_id TEXT PRIMARY KEY, kind TEXT NOT NULL, "
        "state TEXT NOT NULL, org TEXT, \"user\" TEXT, source TEXT NOT NULL DEFAULT '', "
        "root TEXT, host TEXT, created {real} NOT NULL, updated {real} NOT NULL, "
        "attempts INTEGER NOT NULL DEFAULT 0, worker TEXT, lease_until {real}, "
        "progress {real} NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '', "
        "errors TEXT NOT NULL DEFAULT '[]', result TEXT);"
        "CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, created);"
        "CREATE TABLE IF NOT EXISTS uploaded_files (source TEXT PRIMARY KEY, "
        "org TEXT NOT NULL, content {bytes} NOT NULL, sidecar TEXT NOT NULL, "
        "sha256 TEXT NOT NULL, updated {real} NOT NULL);"
        "CREATE TABLE IF NOT EXISTS upload_orgs (org TEXT PRIMARY KEY, entry TEXT NOT NULL, "
        "declared {real} NOT NULL)"
    ),
]
COMPONENT = Component("jobs", "jobs.sqlite3", "ingestion jobs", _STEPS)
_COLUMNS = (
    'job_id, kind, state, org, "user", source, root, host, created, updated, attempts, '
    "worker, lease_until, progress, message, errors, result"
)


@dataclass(frozen=True)
class Job:
    """One job as the database holds it."""

    job_id: str
    kind: str
    state: str
    org: str | None
    user: str | None
    source: str
    root: str | None
    host: str | None
    created: float
    updated: float
    attempts: int
    worker: str | None
    lease_until: float | None
    progress: float
    message: str
    errors: list[dict[str, str]] = field(default_factory=list)
    result: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: Any) -> Job:
        values = list(row)
        values[15] = json.loads(values[15] or "[]")
        values[16] = json.loads(values[16]) if values[16] else None
        values[13] = float(values[13])
        return cls(*values)

    def to_dict(self) -> dict[str, Any]:
        """The job as the API shows it (`/api/uploads/{job_id}`, `techkb ingest --queue`)."""
        return {
            "job_id": self.job_id,
            "state": self.state,
            "progress": self.progress,
            "message": self.message,
            "errors": list(self.errors),
            "source": self.source,
            "org": self.org,
            "kind": self.kind,
            "attempts": self.attempts,
        }


@dataclass(frozen=True)
class Outcome:
    """How a job ended: `done` or `failed`, a message, per-file errors, the ingest report."""

    state: str
    message: str
    errors: list[dict[str, str]] = field(default_factory=list)
    result: dict[str, Any] | None = None


def _lock_key(key: str) -> int:
    """A signed 64-bit advisory-lock key for a root key."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


class JobQueue:
    """The jobs and uploaded files of one store (its SQLite file, or the shared database)."""

    def __init__(
        self, db: Database, home: Path, *, lease_s: float = 30.0, max_attempts: int = 3
    ) -> None:
        self.db = db
        self.home = home
        self.lease_s = lease_s
        self.max_attempts = max_attempts
        self.files = UploadedFiles(db)
        self._now = _NOW[db.dialect]  # seconds since the epoch by the database's clock

    @classmethod
    def open(
        cls,
        home: Path,
        database_url: str | None,
        *,
        lease_s: float = 30.0,
        max_attempts: int = 3,
    ) -> JobQueue:
        """The queue in `home/jobs.sqlite3`, or in the database at `database_url`.

        Raises:
            StoreError: the database cannot be reached or set up.
        """
        db = open_component(home, database_url, COMPONENT)
        return cls(db, home, lease_s=lease_s, max_attempts=max_attempts)

    # -- jobs -----------------------------------------------------------------------------------
    def enqueue(
        self,
        kind: str,
        *,
        org: str | None = None,
        user: str | None = None,
        source: str = "",
        root: str | None = None,
        host: str | None = None,
        message: str = "waiting for a worker",
    ) -> str:
        """Queue a job; returns its id."""
        job_id = uuid.uuid4().hex
        with self.db.write() as conn:
            conn.execute(
                sa.text(
                    'INSERT INTO jobs(job_id, kind, state, org, "user", source, root, host, '
                    f"created, updated, message) VALUES (:id, :kind, 'queued', :org, :user, "
                    f":source, :root, :host, {self._now}, {self._now}, :message)"
                ),
                {
                    "id": job_id,
                    "kind": kind,
                    "org": org,
                    "user": user,
                    "source": source,
                    "root": root,
                    "host": host,
                    "message": message,
                },
            )
        return job_id

    def claim(self, worker: str, host: str | None = None) -> Job | None:
        """The oldest job this worker may run, now `running` under its lease; None when there
        is none. A job whose lease ran out is claimed again, or failed once it has been
        claimed `max_attempts` times. `root` jobs go only to workers on their host."""
        lock = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgresql" else ""
        select = sa.text(
            "SELECT job_id, attempts, message FROM jobs WHERE (state='queued' OR "
            f"(state='running' AND lease_until < {self._now})) "
            "AND (kind <> 'root' OR host = :host) ORDER BY created, job_id LIMIT 1" + lock
        )
        with self.db.write() as conn:
            while True:
                row = conn.execute(select, {"host": host or socket.gethostname()}).first()
                if row is None:
                    return None
                job_id, attempts, last = row
                if attempts >= self.max_attempts:
                    said = f" (last: {last})" if last.startswith("attempt ") else ""
                    conn.execute(
                        sa.text(
                            f"UPDATE jobs SET state='failed', updated={self._now}, "
                            "lease_until=NULL, message=:m WHERE job_id=:id"
                        ),
                        {
                            "id": job_id,
                            "m": f"gave up after {attempts} attempts: each stopped before the "
                            f"end (a worker killed, or the database or Chroma away){said}",
                        },
                    )
                    continue
                claimed = conn.execute(
                    sa.text(
                        f"UPDATE jobs SET state='running', worker=:w, attempts=attempts+1, "
                        f"lease_until={self._now} + :lease, updated={self._now}, "
                        f"message=:m WHERE job_id=:id RETURNING {_COLUMNS}"
                    ),
                    {
                        "id": job_id,
                        "w": worker,
                        "lease": self.lease_s,
                        "m": "started" if attempts == 0 else f"started again (try {attempts + 1})",
                    },
                ).one()
                return Job.from_row(claimed)

    def heartbeat(
        self, job_id: str, worker: str, progress: float | None = None, message: str | None = None
    ) -> bool:
        """Renew the lease (and record progress); False when the job is no longer this
        worker's (its lease ran out and another worker claimed it)."""
        with self.db.write() as conn:
            found = conn.execute(
                sa.text(
                    f"UPDATE jobs SET lease_until={self._now} + :lease, updated={self._now}, "
                    "progress=COALESCE(:p, progress), message=COALESCE(:m, message) "
                    "WHERE job_id=:id AND worker=:w AND state='running' RETURNING job_id"
                ),
                {"id": job_id, "w": worker, "lease": self.lease_s, "p": progress, "m": message},
            ).first()
        return found is not None

    def retry_later(self, job_id: str, worker: str, message: str) -> bool:
        """End this attempt without an end to the job: another claim (any worker's) takes it
        once a lease's time has passed, as after a dead worker. False when it is no longer
        this worker's."""
        return self.heartbeat(job_id, worker, message=message)

    def finish(self, job_id: str, worker: str, outcome: Outcome) -> bool:
        """Record how the job ended; False (nothing written) when it is no longer this
        worker's."""
        with self.db.write() as conn:
            found = conn.execute(
                sa.text(
                    f"UPDATE jobs SET state=:s, updated={self._now}, lease_until=NULL, "
                    "progress=1.0, message=:m, errors=:e, result=:r "
                    "WHERE job_id=:id AND worker=:w AND state='running' RETURNING job_id"
                ),
                {
                    "id": job_id,
                    "w": worker,
                    "s": outcome.state,
                    "m": outcome.message,
                    "e": json.dumps(outcome.errors, ensure_ascii=False),
                    "r": None if outcome.result is None else json.dumps(outcome.result),
                },
            ).first()
        return found is not None

    def get(self, job_id: str) -> Job:
        """Raises NotFoundError for an unknown job."""
        with self.db.read() as conn:
            row = conn.execute(
                sa.text(f"SELECT {_COLUMNS} FROM jobs WHERE job_id=:id"), {"id": job_id}
            ).first()
        if row is None:
            raise NotFoundError(f"no upload job {job_id!r}")
        return Job.from_row(row)

    def list(self, org: str | None = None, limit: int = 100) -> list[Job]:
        """The latest jobs, newest first (of one org when given)."""
        where = " WHERE org=:org" if org is not None else ""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.text(f"SELECT {_COLUMNS} FROM jobs{where} ORDER BY created DESC LIMIT :limit"),
                {"org": org, "limit": limit},
            ).all()
        return [Job.from_row(r) for r in rows]

    def wait(self, job_id: str, timeout: float = 600.0, poll_s: float = 0.1) -> Job:
        """The job once done or failed, or as it stands when the timeout passes."""
        deadline = time.monotonic() + timeout
        job = self.get(job_id)
        while job.state in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(poll_s)
            job = self.get(job_id)
        return job

    # -- one sync of a root at a time, across hosts -----------------------------------------------
    @contextmanager
    def root_lock(self, key: str, timeout: float | None = None) -> Iterator[bool]:
        """Hold the lock of one ingest root across every worker (PostgreSQL: an advisory
        lock, released when the holder's connection ends, so also when it is killed; SQLite:
        a file lock in the home). Yields True when held; False when `timeout` passed first."""
        if self.db.dialect == "postgresql":
            with self.db.read() as conn:
                held = self._pg_lock(conn, _lock_key(key), timeout)
                try:
                    yield held
                finally:
                    if held:
                        conn.execute(
                            sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(key)}
                        )
            return
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        path = self.home / f"ingest-{digest}"
        if timeout is None:
            with setup_lock(path):
                yield True
            return
        with _try_file_lock(path.with_name(path.name + ".lock"), timeout) as held:
            yield held

    @staticmethod
    def _pg_lock(conn: Any, key: int, timeout: float | None) -> bool:
        if timeout is None:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            return True
        deadline = time.monotonic() + timeout
        while True:
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            if got:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)


@contextmanager
def _try_file_lock(path: Path, timeout: float) -> Iterator[bool]:
    import fcntl

    with open(path, "a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.1)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
