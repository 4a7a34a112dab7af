"""`techkb worker`: run ingestion jobs without serving anything (a headless claimer)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import typer

from assistant.errors import ConfigError, TechkbError
from techkb.common import StoreOpt, app, fail, settings_for


@app.command()
def worker(store: StoreOpt = None) -> None:
    """Claim and run ingestion jobs (uploads from any `techkb serve`, `techkb ingest --queue`
    folders of this host) until stopped (Ctrl-C, SIGTERM)."""
    from assistant.job_worker import JobWorker, run_ingest_job
    from assistant.jobs import Job, JobQueue
    from assistant.registry import build_embedder, build_multilingual_embedder, build_store
    from ingestion.pipeline import Ingester

    try:
        settings = settings_for(store)
        s = settings.ingestion
        queue = JobQueue.open(
            settings.paths.home,
            settings.store.database_url,
            lease_s=s.job_lease_s,
            max_attempts=s.job_attempts,
        )
        embedder, multilingual = build_embedder(settings), build_multilingual_embedder(settings)
    except TechkbError as e:
        fail(str(e), 2 if isinstance(e, ConfigError) else 1)
        return
    opened: list[Any] = []  # the store, opened by the claimer thread on its first job

    def ingest(root: Path, key: str | None = None, progress: Any = None) -> dict[str, Any]:
        if not opened:
            opened.append(build_store(settings))
        ingester = Ingester(opened[0], embedder, s, progress=False, multilingual=multilingual)
        return ingester.ingest([root], [key], progress=progress).to_dict()

    def run(job: Job, progress: Any) -> Any:
        return run_ingest_job(queue, settings.paths.home, ingest, job, progress)

    claimer = JobWorker(queue, run, poll_s=s.job_poll_s)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    claimer.start()
    typer.echo(f"techkb: worker {claimer.name} running jobs of {queue.db.label}", err=True)
    stopping.wait()
    claimer.stop(timeout=30)
    if opened:
        opened[0].close()
