"""The ingestion job queue on both back ends: each job claimed once, a dead worker's job claimed
again after its lease, a limit on attempts, progress and errors seen by every worker, uploaded
files materialised in any home, one sync of a root at a time."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from assistant.errors import NotFoundError, StoreError
from assistant.job_worker import JobWorker, run_ingest_job
from assistant.jobs import UPLOADS_ROOT_KEY, Job, JobQueue, Outcome


def _queue(home: Path, url: str | None, **kwargs: Any) -> JobQueue:
    return JobQueue.open(home, url, **kwargs)


def test_each_job_is_claimed_once(tmp_path: Path, backend_url: str | None) -> None:
    queue = _queue(tmp_path, backend_url)
    ids = {queue.enqueue("uploads", org="o", source=f"o/{i}.md") for i in range(30)}
    claimed: list[str] = []
    lock = threading.Lock()

    def claimer(n: int) -> None:
        mine = _queue(tmp_path, backend_url)  # another worker's own handle
        while True:
            job = mine.claim(f"w{n}")
            if job is None:
                return
            with lock:
                claimed.append(job.job_id)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(claimed) == sorted(ids)  # every job, none twice
    assert {queue.get(i).state for i in ids} == {"running"}
    assert {queue.get(i).attempts for i in ids} == {1}


def test_a_dead_workers_job_is_claimed_again_then_given_up(
    tmp_path: Path, backend_url: str | None
) -> None:
    queue = _queue(tmp_path, backend_url, lease_s=0.3, max_attempts=2)
    job_id = queue.enqueue("uploads", org="o", source="o/a.md")
    first = queue.claim("dead")
    assert first is not None and first.job_id == job_id and first.worker == "dead"
    assert queue.claim("other") is None  # its lease still holds
    time.sleep(0.5)  # the dead worker sent no heartbeat
    second = queue.claim("other")
    assert second is not None and second.job_id == job_id and second.attempts == 2
    assert "try 2" in second.message
    assert not queue.heartbeat(job_id, "dead")  # the first worker lost it
    assert not queue.finish(job_id, "dead", Outcome("done", "late"))
    time.sleep(0.5)
    assert queue.claim("third") is None  # two attempts used up: failed, not claimed
    gone = queue.get(job_id)
    assert gone.state == "failed" and "gave up after 2 attempts" in gone.message


def test_heartbeats_keep_the_lease(tmp_path: Path, backend_url: str | None) -> None:
    queue = _queue(tmp_path, backend_url, lease_s=0.4)
    job_id = queue.enqueue("uploads", org="o")
    assert queue.claim("alive") is not None
    for _ in range(4):
        time.sleep(0.2)
        assert queue.heartbeat(job_id, "alive", 0.5, "halfway")
    assert queue.claim("other") is None


def test_progress_and_errors_are_seen_by_another_worker(
    tmp_path: Path, backend_url: str | None
) -> None:
    a, b = _queue(tmp_path, backend_url), _queue(tmp_path, backend_url)
    job_id = a.enqueue("uploads", org="o", user="ann", source="o/a.md")
    with pytest.raises(NotFoundError):
        b.get("no-such-job")
    assert b.get(job_id).to_dict()["state"] == "queued"
    assert a.claim("a") is not None
    assert a.heartbeat(job_id, "a", 0.25, "1/4: o/a.md")
    seen = b.get(job_id)
    assert (seen.state, seen.progress, seen.message, seen.user) == (
        "running",
        0.25,
        "1/4: o/a.md",
        "ann",
    )
    errors = [{"source": "o/a.md", "error": "no text found"}]
    assert a.finish(job_id, "a", Outcome("failed", "no text found", errors, {"added": 0}))
    done = b.get(job_id)
    assert done.state == "failed" and done.errors == errors and done.result == {"added": 0}
    assert done.progress == 1.0
    assert [j.job_id for j in b.list("o")] == [job_id] and b.list("other-org") == []


def test_root_jobs_go_to_workers_on_their_host(tmp_path: Path, backend_url: str | None) -> None:
    queue = _queue(tmp_path, backend_url)
    queue.enqueue("root", root="/data/kb", host="host-a")
    assert queue.claim("w", host="host-b") is None
    job = queue.claim("w", host="host-a")
    assert job is not None and job.root == "/data/kb"


def test_uploads_are_materialised_in_any_home(tmp_path: Path, backend_url: str | None) -> None:
    shared = _queue(tmp_path / "a", backend_url)
    shared.files.put_file(
        "acme/notes.md", b"# Notes\n", "kind: procedure\n", {"id": "acme", "name": "Acme"}
    )
    root_a = tmp_path / "a" / "uploads"
    shared.files.materialise(root_a)
    assert (root_a / "acme" / "notes.md").read_bytes() == b"# Notes\n"
    assert (root_a / "acme" / "notes.md.meta.yaml").read_text() == "kind: procedure\n"
    assert "id: acme" in (root_a / "contributors.yaml").read_text()
    if backend_url is not None:  # another host's home, the same database
        other = _queue(tmp_path / "b", backend_url)
        root_b = tmp_path / "b" / "uploads"
        other.files.materialise(root_b)
        assert (root_b / "acme" / "notes.md").read_bytes() == b"# Notes\n"
        shared.files.put_file("acme/notes.md", b"# Notes v2\n", "kind: course\n", {"id": "acme"})
        assert other.files.materialise(root_b) == 1
        assert (root_b / "acme" / "notes.md").read_bytes() == b"# Notes v2\n"
        assert (root_b / "acme" / "notes.md.meta.yaml").read_text() == "kind: course\n"
    assert shared.files.remove_file("acme/notes.md")
    assert not shared.files.remove_file("acme/notes.md")
    shared.files.materialise(root_a)
    assert not (root_a / "acme" / "notes.md").exists()
    assert not (root_a / "acme" / "notes.md.meta.yaml").exists()


def test_a_homes_files_from_before_are_adopted_once(tmp_path: Path) -> None:
    root = tmp_path / "uploads"
    (root / "acme").mkdir(parents=True)
    (root / "acme" / "old.md").write_bytes(b"# Old\n")
    (root / "acme" / "old.md.meta.yaml").write_text("visibility: org\n")
    (root / "contributors.yaml").write_text("contributors:\n  - id: acme\n    name: Acme Ltd\n")
    queue = _queue(tmp_path, None)
    assert queue.files.adopt(root) == 1
    assert queue.files.org_entries() == [{"id": "acme", "name": "Acme Ltd"}]
    queue.files.remove_file("acme/old.md")
    (root / "acme" / "stray.md").write_bytes(b"# Stray\n")
    assert queue.files.adopt(root) == 0  # once: what is on disk now is a copy
    queue.files.materialise(root)
    assert not (root / "acme" / "old.md").exists() and not (root / "acme" / "stray.md").exists()


def test_one_sync_of_a_root_at_a_time(tmp_path: Path, backend_url: str | None) -> None:
    a, b = _queue(tmp_path, backend_url), _queue(tmp_path, backend_url)
    with a.root_lock(UPLOADS_ROOT_KEY) as held:
        assert held
        with b.root_lock(UPLOADS_ROOT_KEY, timeout=0.3) as other:
            assert not other
        with b.root_lock("/another/root", timeout=0.3) as elsewhere:
            assert elsewhere
    with b.root_lock(UPLOADS_ROOT_KEY, timeout=0.3) as after:
        assert after


def test_a_worker_runs_jobs_with_progress(tmp_path: Path, backend_url: str | None) -> None:
    queue = _queue(tmp_path, backend_url, lease_s=0.3)
    queue.files.put_file("o/a.md", b"# A\n", "kind: other\n", {"id": "o"})
    queue.files.put_file("o/b.md", b"# B\n", "kind: other\n", {"id": "o"})
    calls: list[tuple[Path, str | None]] = []

    def ingest(root: Path, key: str | None = None, progress: Any = None) -> dict[str, Any]:
        calls.append((root, key))
        assert sorted(p.name for p in (root / "o").iterdir()) == [
            "a.md",
            "a.md.meta.yaml",
            "b.md",
            "b.md.meta.yaml",
        ]
        progress(0.5, "1/2: o/a.md")
        time.sleep(0.5)  # longer than the lease: the heartbeat keeps it
        return {"added": 1, "failed": [{"source": "o/b.md", "error": "no text found"}]}

    def run(job: Job, progress: Any) -> Outcome:
        return run_ingest_job(queue, tmp_path, ingest, job, progress)

    ok = queue.enqueue("uploads", org="o", source="o/a.md")
    bad = queue.enqueue("uploads", org="o", source="o/b.md")
    worker = JobWorker(queue, run, poll_s=0.1)
    worker.start()
    try:
        assert queue.wait(ok, 30).state == "done"
        failed = queue.wait(bad, 30)
    finally:
        worker.stop()
    assert calls == [(tmp_path / "uploads", UPLOADS_ROOT_KEY)] * 2
    assert queue.get(ok).attempts == 1  # never taken over while it ran
    assert queue.get(ok).message == "added 1, updated 0, removed 0"
    assert failed.state == "failed"
    assert failed.errors == [{"source": "o/b.md", "error": "no text found"}]


def test_a_job_stopped_by_the_store_is_tried_again(tmp_path: Path, backend_url: str | None) -> None:
    queue = _queue(tmp_path, backend_url, lease_s=0.3, max_attempts=2)
    tries: list[int] = []

    def flaky(job: Job, progress: Any) -> Outcome:
        tries.append(job.attempts)
        if len(tries) == 1:
            raise StoreError("Chroma add to public-en: connection refused")
        return Outcome("done", "added 1")

    job_id = queue.enqueue("uploads", org="o", source="o/a.md")
    worker = JobWorker(queue, flaky, poll_s=0.1)
    worker.start()
    try:
        job = queue.wait(job_id, 30)
    finally:
        worker.stop()
    assert (job.state, job.attempts, tries) == ("done", 2, [1, 2])

    def away(job: Job, progress: Any) -> Outcome:
        raise StoreError("database away")

    never = queue.enqueue("uploads", org="o", source="o/b.md")
    down = JobWorker(queue, away, poll_s=0.1)
    down.start()
    try:
        gone = queue.wait(never, 30)
    finally:
        down.stop()
    assert gone.state == "failed" and "gave up after 2 attempts" in gone.message
    assert "database away" in gone.message


def test_ingest_queue_prints_the_job(tmp_path: Path) -> None:
    import json
    import socket

    from typer.testing import CliRunner

    from techkb.cli import app

    kb = tmp_path / "kb"
    kb.mkdir()
    result = CliRunner().invoke(
        app, ["ingest", "--queue", str(kb), "--store", str(tmp_path / "home"), "--json"]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["state"] == "queued"
    job = JobQueue.open(tmp_path / "home", None).get(printed["job_id"])
    assert (job.kind, job.root, job.host) == ("root", str(kb.resolve()), socket.gethostname())
    missing = CliRunner().invoke(
        app, ["ingest", "--queue", str(tmp_path / "nope"), "--store", str(tmp_path / "home")]
    )
    assert missing.exit_code == 2 and "not a folder" in missing.output


def test_the_uploads_root_makes_the_same_documents_in_any_home(
    tmp_path: Path, embedder: Any
) -> None:
    from assistant.settings import load_settings
    from assistant.store import KnowledgeStore
    from ingestion.pipeline import Ingester

    def ingest(home: Path, keys: list[str | None] | None) -> dict[str, str]:
        root = home / "uploads"
        (root / "acme").mkdir(parents=True, exist_ok=True)
        (root / "acme" / "a.md").write_text("# Torque\n\nTighten the flange bolts to 40 Nm.\n")
        settings = load_settings({"paths": {"home": home}}, environ={})
        store = KnowledgeStore(home)
        try:
            Ingester(store, embedder, settings.ingestion, progress=False).ingest([root], keys)
            return {d.doc_id: d.root for d in store.catalog.documents()}
        finally:
            store.close()

    first = ingest(tmp_path / "a", [UPLOADS_ROOT_KEY])
    assert ingest(tmp_path / "b", [UPLOADS_ROOT_KEY]) == first  # another home, same ids
    assert set(first.values()) == {UPLOADS_ROOT_KEY}
    by_path = ingest(tmp_path / "c", None)  # a folder ingested by path keeps its own ids
    assert set(by_path.values()) == {str((tmp_path / "c" / "uploads").resolve())}
    # A home whose uploads were keyed by their path before: moved to the key, no duplicates.
    assert ingest(tmp_path / "c", [UPLOADS_ROOT_KEY]) == first


def test_a_sync_repairs_only_its_own_roots_half_documents(tmp_path: Path, embedder: Any) -> None:
    from assistant.settings import load_settings
    from assistant.store import KnowledgeStore
    from ingestion.pipeline import Ingester

    root = tmp_path / "uploads"
    (root / "acme").mkdir(parents=True)
    (root / "acme" / "a.md").write_text("# Torque\n\nTighten the flange bolts to 40 Nm.\n")
    settings = load_settings({"paths": {"home": tmp_path}}, environ={})
    store = KnowledgeStore(tmp_path)
    try:
        # Another worker's document in flight under another root; a dead one's under this one.
        store.catalog.mark_pending("in-flight", "/elsewhere/kb", "x/b.md", "sha")
        store.catalog.mark_pending("left-by-dead", UPLOADS_ROOT_KEY, "acme/gone.md", "sha")
        Ingester(store, embedder, settings.ingestion, progress=False).ingest(
            [root], [UPLOADS_ROOT_KEY]
        )
        assert [d.doc_id for d in store.catalog.pending()] == ["in-flight"]
        kept = {d.source for d in store.catalog.documents(UPLOADS_ROOT_KEY)}
        assert kept == {"acme/a.md"}
    finally:
        store.close()
