"""Two `techkb serve` workers with separate homes on one PostgreSQL database and one Chroma
server act as one service: an upload through one is answered by the other, deleted through the
other everywhere, its job readable from both; a worker killed mid-ingest leaves its job to the
other, and the catalog ends as a clean ingest of the same files would make it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from assistant.db import Database
from assistant.jobs import UPLOADS_ROOT_KEY, JobQueue
from tests.processes import Served, free_port, stop, wait_for_http

pytestmark = [pytest.mark.server, pytest.mark.slow]

PASSWORD = "correct horse battery"
USERS = {"nl-teacher": ("northlake-college", "teacher"), "mc-staff": ("meridian-cnc", "staff")}
QUESTION = "What coolant concentration does the Vortex-9 training lathe need?"
DOC = (
    b"# Vortex-9 training lathe coolant\n\n"
    b"Check the coolant concentration of the Vortex-9 training lathe with a refractometer "
    b"every Monday. The Vortex-9 training lathe needs a coolant concentration of 6 to 8 percent.\n"
)
SOURCE = "northlake-college/vortex-9-coolant.md"


def _env(database_url: str, chroma_url: str, prefix: str) -> dict[str, str]:
    return {
        "TECHKB_STORE__DATABASE_URL": database_url,
        "TECHKB_STORE__CHROMA_URL": chroma_url,
        "TECHKB_STORE__PREFIX": prefix,
        "TECHKB_INGESTION__JOB_LEASE_S": "3",
        "TECHKB_INGESTION__JOB_POLL_S": "0.3",
    }


def _prefix(test_name: str) -> str:
    """Chroma collection names of one test's store (the server serves the whole module)."""
    return "mw-" + test_name[5:20].replace("_", "-")


def _add_users(home: Path, database_url: str) -> list[str]:
    """The users, in the database where users live there (then no extra arguments for
    `serve`), else in a users file each worker gets a copy of (`--users`)."""
    try:
        from assistant.users import open_users
    except ImportError:  # users only in files: the same file on every host
        from assistant.users import UserStore

        users_file = home / "users.yaml"
        store = UserStore(users_file)
        for name, (org, role) in USERS.items():
            store.add(name, org, role, PASSWORD)
        return ["--users", str(users_file)]
    users = open_users(None, home, database_url)
    assert users is not None
    for name, (org, role) in USERS.items():
        users.add(name, org, role, PASSWORD)
    return []


@pytest.fixture
def workers(
    tmp_path: Path, database_url: str, chroma_url: str, request: pytest.FixtureRequest
) -> Iterator[tuple[Served, Served]]:
    """Workers A and B (`techkb serve` processes, started side by side): each its own home,
    both on the same database and Chroma server."""
    env = {**os.environ, **_env(database_url, chroma_url, _prefix(request.node.name))}
    env.pop("TECHKB_USERS_FILE", None)
    (tmp_path / "setup").mkdir()
    users_args = _add_users(tmp_path / "setup", database_url)
    served = []
    try:
        for name in ("a", "b"):
            port, log = free_port(), tmp_path / f"serve-{name}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "techkb", "serve", "--port", str(port), *users_args],
                    env={**env, "TECHKB_HOME": str(tmp_path / f"home-{name}")},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            served.append(Served(f"http://127.0.0.1:{port}", proc, log))
        for server in served:
            wait_for_http(
                f"{server.url}/api/health", server.proc, 180, "techkb serve", server.log_text
            )
        yield served[0], served[1]
    finally:
        for server in served:
            stop(server.proc)


def _client(server: Served, user: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=(user, PASSWORD), timeout=120)


def _wait_job(client: httpx.Client, job_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = client.get(f"/api/uploads/{job_id}").json()
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish: {status}")


def _cited(client: httpx.Client) -> set[str]:
    reply = client.post("/api/ask", json={"question": QUESTION}).json()
    return {c["source"] for c in reply["citations"]}


def test_an_upload_through_one_worker_is_answered_and_deleted_through_the_other(
    workers: tuple[Served, Served],
) -> None:
    a, b = workers
    teacher_a, teacher_b = _client(a, "nl-teacher"), _client(b, "nl-teacher")
    sent = teacher_a.post(
        "/api/documents",
        files={"file": ("vortex-9-coolant.md", DOC)},
        data={"kind": "procedure", "visibility": "org"},
    )
    assert sent.status_code == 202, sent.text
    job_id = sent.json()["job_id"]
    on_b = _wait_job(teacher_b, job_id)  # submitted through A, read through B
    assert on_b["state"] == "done" and on_b["progress"] == 1.0 and not on_b["errors"], on_b
    assert teacher_a.get(f"/api/uploads/{job_id}").json() == on_b
    assert _client(b, "mc-staff").get(f"/api/uploads/{job_id}").status_code == 404

    deadline = time.monotonic() + 20  # B's keyword index follows the catalog's version
    while SOURCE not in _cited(teacher_b) and time.monotonic() < deadline:
        time.sleep(0.5)
    reply = teacher_b.post("/api/ask", json={"question": QUESTION}).json()
    assert SOURCE in {c["source"] for c in reply["citations"]} and "6 to 8" in reply["answer"]
    assert SOURCE not in _cited(_client(b, "mc-staff"))  # org-private on every worker

    docs = {d["source"]: d for d in teacher_b.get("/api/documents").json()}
    assert docs[SOURCE]["uploaded"] is True
    gone = teacher_b.delete(f"/api/documents/{docs[SOURCE]['doc_id']}")
    assert gone.status_code == 204, gone.text
    assert SOURCE not in _cited(teacher_b)
    assert SOURCE not in _cited(teacher_a)
    assert SOURCE not in {d["source"] for d in teacher_a.get("/api/documents").json()}


def _big_doc(n: int) -> bytes:
    """A procedure long enough that embedding it takes a noticeable moment."""
    parts = [f"# Press line {n} maintenance\n"]
    for s in range(40):
        parts.append(
            f"\n## Step {s} of press line {n}\n\nInspect hydraulic hose {n}-{s} for cracks, "
            f"check the pressure gauge reads {100 + s} bar at rest, tighten the flange bolts of "
            f"valve block {s} to {20 + s} Nm, and record the oil temperature in the log of "
            f"press line {n}. Replace the filter element {s} every {200 + n} hours.\n"
        )
    return "".join(parts).encode()


def _pending(catalog: Database) -> int:
    """Uploaded documents whose chunks are being written right now (or were, by a dead
    worker)."""
    with catalog.read() as conn:
        return int(
            conn.execute(
                sa.text("SELECT COUNT(*) FROM documents WHERE status='pending' AND root=:r"),
                {"r": UPLOADS_ROOT_KEY},
            ).scalar()
        )


def _catalog_state(home: Path, database_url: str | None) -> dict[str, Any]:
    from assistant.store.catalog import Catalog

    catalog = Catalog.open(home, database_url)
    try:
        docs = catalog.documents(UPLOADS_ROOT_KEY)
        return {
            d.doc_id: (
                d.source,
                d.sha256,
                d.status,
                d.n_chunks,
                [(c.chunk_id, c.content_sha256) for c in catalog.document_chunks(d.doc_id)],
            )
            for d in docs
        }
    finally:
        catalog.close()


def _chroma_ids(chroma_url: str, prefix: str) -> set[str]:
    import chromadb

    host, port = chroma_url.removeprefix("http://").split(":")
    client = chromadb.HttpClient(host=host, port=int(port))
    ids: set[str] = set()
    for collection in client.list_collections():
        name = collection.name if hasattr(collection, "name") else str(collection)
        if name.startswith(prefix + "-"):
            found = client.get_collection(name, embedding_function=None).get(include=[])
            ids.update(found["ids"])
    return ids


def test_a_worker_killed_mid_ingest_leaves_its_job_to_the_other(
    tmp_path: Path,
    database_url: str,
    chroma_url: str,
    workers: tuple[Served, Served],
    embedder: Any,
    multilingual: Any,
    request: pytest.FixtureRequest,
) -> None:
    from assistant.settings import load_settings
    from assistant.store import KnowledgeStore
    from ingestion.pipeline import Ingester

    a, b = workers
    request_name = request.node.name
    teacher_a = _client(a, "nl-teacher")
    names = [f"press-line-{n}.md" for n in range(3)]
    job_ids = []
    for n, name in enumerate(names):
        sent = teacher_a.post(
            "/api/documents",
            files={"file": (name, _big_doc(n))},
            data={"kind": "procedure", "visibility": "consortium"},
        )
        assert sent.status_code == 202, sent.text
        job_ids.append(sent.json()["job_id"])

    # Kill the worker running the sync while a document is half-written (pending in the
    # catalog: vectors going in, chunks not committed), or else once all files but the last
    # are stored: either way some of the sync is done and some is not.
    queue = JobQueue.open(tmp_path / "observer", database_url)
    catalog = Database(database_url, what="catalog")
    pids = {a.proc.pid: a, b.proc.pid: b}
    victim, killed_job, half_written = None, None, False
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline:
        pending = _pending(catalog)
        for job in queue.list("northlake-college"):
            done, _, total = job.message.partition(":")[0].partition("/")
            counted = job.state == "running" and done.isdigit() and total.isdigit()
            if counted and (pending or 1 <= int(done) == int(total) - 1):
                pid = int(str(job.worker).split(":")[1])
                victim, killed_job = pids[pid], job
                os.kill(pid, signal.SIGKILL)
                victim.proc.wait(10)
                half_written = _pending(catalog) > 0  # it died before committing that one
                break
        time.sleep(0.01)
    assert victim is not None and killed_job is not None, "no sync was caught mid-way"
    survivor = b if victim is a else a

    teacher = _client(survivor, "nl-teacher")
    finished = _wait_job(teacher, killed_job.job_id, 120)
    assert finished["state"] == "done", finished
    assert finished["attempts"] == 2  # claimed again after its lease ran out
    assert queue.get(killed_job.job_id).worker != killed_job.worker
    for job_id in job_ids:
        assert _wait_job(teacher, job_id, 120)["state"] == "done"

    # The same files ingested cleanly into a fresh store make the same catalog.
    fresh = tmp_path / "fresh"
    JobQueue.open(fresh, database_url).files.materialise(fresh / "uploads")
    settings = load_settings({"paths": {"home": fresh}}, environ={})
    store = KnowledgeStore(fresh)
    try:
        report = Ingester(
            store, embedder, settings.ingestion, progress=False, multilingual=multilingual
        ).ingest([fresh / "uploads"], [UPLOADS_ROOT_KEY])
    finally:
        store.close()
    assert report.added == len(names) and not report.failed
    clean = _catalog_state(fresh, None)
    shared = _catalog_state(tmp_path / "observer", database_url)
    assert shared == clean
    assert {state[2] for state in shared.values()} == {"complete"}  # no half document
    chunk_ids = {cid for state in shared.values() for cid, _ in state[4]}
    assert _chroma_ids(chroma_url, _prefix(request_name)) == chunk_ids
    if half_written:  # what the dead worker left pending was dropped and ingested again
        assert "repairing" in survivor.log_text()


def test_a_headless_worker_runs_a_queued_folder(tmp_path: Path) -> None:
    import json

    from assistant.store.catalog import Catalog

    kb, home = tmp_path / "kb", tmp_path / "home"
    (kb / "acme").mkdir(parents=True)
    (kb / "acme" / "torque.md").write_text("# Torque\n\nTighten the flange bolts to 40 Nm.\n")
    env = {**os.environ, "TECHKB_HOME": str(home), "TECHKB_INGESTION__JOB_POLL_S": "0.3"}
    for name in ("TECHKB_STORE__DATABASE_URL", "TECHKB_DATABASE_URL", "TECHKB_STORE__CHROMA_URL"):
        env.pop(name, None)
    command = [sys.executable, "-m", "techkb"]
    queued = subprocess.run(
        [*command, "ingest", "--queue", str(kb), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert queued.returncode == 0, queued.stderr
    job_id = json.loads(queued.stdout)["job_id"]
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*command, "worker"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        job = JobQueue.open(home, None).wait(job_id, 150)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    assert job.state == "done" and job.result is not None, log.read_text()
    assert job.result["added"] == 1 and proc.returncode == 0
    catalog = Catalog.open(home, None)
    try:
        assert [d.source for d in catalog.documents(str(kb.resolve()))] == ["acme/torque.md"]
    finally:
        catalog.close()
