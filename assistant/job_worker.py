"""The claimer: a thread that takes ingestion jobs from the queue (`assistant.jobs`) and runs
them one at a time, renewing each job's lease while it runs; and what an ingestion job does."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.errors import StoreError, TechkbError
from assistant.jobs import UPLOADS_ROOT_KEY, Job, JobQueue, Outcome
from assistant.upload_files import UPLOADS_DIR

logger = logging.getLogger(__name__)


def worker_name() -> str:
    """This process as a job's `worker`: host, pid and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


Progress = Callable[[float, str], None]
RunFn = Callable[[Job, Progress], Outcome]


class JobWorker:
    """A thread that claims jobs and runs them one at a time, renewing each job's lease while
    it runs (a second thread), until `stop()`."""

    def __init__(
        self, queue: JobQueue, run: RunFn, *, poll_s: float = 1.0, name: str | None = None
    ) -> None:
        self.queue = queue
        self.run = run
        self.poll_s = poll_s
        self.name = name or worker_name()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start claiming (idempotent)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._loop, name="techkb-jobs", daemon=True)
                self._thread.start()

    def wake(self) -> None:
        """Look for a job now (one was just queued here)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the running job (waiting at most `timeout` seconds for it)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.queue.claim(self.name)
            except TechkbError as e:  # the database is away: try again later
                logger.warning("cannot claim ingestion jobs: %s", e)
                job = None
            if job is None:
                self._wake.wait(self.poll_s)
                self._wake.clear()
                continue
            self.execute(job)

    def execute(self, job: Job) -> Outcome:
        """Run one claimed job with its lease renewed, and record how it ended. A job stopped
        by the store (database or Chroma away) is claimed again when its lease runs out."""
        latest: dict[str, Any] = {"progress": None, "message": None, "sent": 0.0}
        done = threading.Event()

        def beat() -> None:
            while not done.wait(max(0.05, self.queue.lease_s / 3)):
                try:
                    if not self.queue.heartbeat(
                        job.job_id, self.name, latest["progress"], latest["message"]
                    ):
                        logger.warning("job %s was taken over by another worker", job.job_id)
                        return
                except TechkbError as e:
                    logger.warning("heartbeat of job %s: %s", job.job_id, e)

        def progress(fraction: float, message: str) -> None:
            latest["progress"], latest["message"] = fraction, message
            now = time.monotonic()
            if now - latest["sent"] >= 1.0:
                latest["sent"] = now
                try:
                    self.queue.heartbeat(job.job_id, self.name, fraction, message)
                except TechkbError as e:
                    logger.warning("progress of job %s: %s", job.job_id, e)

        beater = threading.Thread(target=beat, name="techkb-job-lease", daemon=True)
        beater.start()
        retry: StoreError | None = None
        try:
            outcome = self.run(job, progress)
        except StoreError as e:  # the database or Chroma is away: try again later
            retry = e
            outcome = Outcome("running", f"attempt {job.attempts} stopped: {e}")
        except TechkbError as e:
            outcome = Outcome("failed", str(e), [{"source": job.source, "error": str(e)}])
        except Exception as e:  # the claimer must survive any one job
            logger.exception("job %s failed", job.job_id)
            message = f"internal error: {type(e).__name__}"
            outcome = Outcome("failed", message, [{"source": job.source, "error": message}])
        finally:
            done.set()
            beater.join(5)
        if retry is not None:
            logger.warning("job %s will be tried again: %s", job.job_id, retry)
            try:
                self.queue.retry_later(job.job_id, self.name, outcome.message)
            except TechkbError as e:  # its lease runs out all the same
                logger.warning("cannot record the retry of job %s: %s", job.job_id, e)
            return outcome
        try:
            if not self.queue.finish(job.job_id, self.name, outcome):
                logger.warning("job %s ended here after another worker took it", job.job_id)
        except TechkbError as e:
            logger.warning("cannot record the end of job %s: %s", job.job_id, e)
        return outcome


# -- what a job does -----------------------------------------------------------------------
# Syncs one root into the store: (root, key or None for the root's own path, progress) -> report.
IngestFn = Callable[..., dict[str, Any]]


def run_ingest_job(
    queue: JobQueue, home: Path, ingest: IngestFn, job: Job, progress: Progress
) -> Outcome:
    """Run an `uploads` or `root` job: hold the root's lock, bring the uploads root up to date
    from the database (uploads), sync the root, and judge the job by its files' errors.

    Raises:
        TechkbError: the root cannot be synced (the claimer records the job as failed).
    """
    if job.kind == "uploads":
        root, key = home / UPLOADS_DIR, UPLOADS_ROOT_KEY
    elif job.kind == "root" and job.root:
        root, key = Path(job.root), str(Path(job.root).resolve())
    else:
        return Outcome("failed", f"unknown job kind {job.kind!r}")
    progress(0.0, "waiting for the other sync of this folder")
    with queue.root_lock(key):
        if job.kind == "uploads":
            queue.files.materialise(root)
        progress(0.05, "parsing and embedding")
        report = ingest(root, key=key if job.kind == "uploads" else None, progress=progress)
    failed = list(report.get("failed", []))
    summary = (
        f"added {report.get('added', 0)}, updated {report.get('updated', 0)}, "
        f"removed {report.get('removed', 0)}"
    )
    if job.kind == "root":  # like `techkb ingest`: the rest is ingested, the failures listed
        return Outcome("done", f"{summary}, failed {len(failed)}", failed, report)
    mine = [f for f in failed if f.get("source") == job.source]
    if mine:
        return Outcome("failed", mine[0].get("error", "failed"), mine, report)
    return Outcome("done", summary, [], report)
