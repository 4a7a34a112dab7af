"""kill -9 at every stage of an ingest, then a re-run: the store equals a clean ingest.

Each crash is a real SIGKILL of an ingest process (`tests.reliability.crash_driver`) at a named
point; the re-run then has to leave the same chunk ids, chunk records, vectors (in both vector
indexes, each in one collection only) and keyword index as an ingest that never crashed. Each
test runs on both back ends (`backend_url`: the catalog file, then a PostgreSQL catalog the
killed process gets through TECHKB_STORE__DATABASE_URL); the reference is a SQLite ingest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assistant.store import KnowledgeStore
from tests.conftest import REPO
from tests.reliability.canary import write_canary_corpus
from tests.reliability.crash_driver import POINTS, run_ingest

pytestmark = pytest.mark.slow

CHANGED = "machine-tool-association/standards/guideway-wipers.md"
REMOVED = "meridian-cnc/procedures/spindle-drawbar-force.md"


def crash(home: Path, root: Path, database_url: str | None, point: str, n: int = 1) -> None:
    """Run an ingest that must die by SIGKILL at `point` (its n-th time there)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("TECHKB_DATABASE_URL", None)
    env.pop("TECHKB_STORE__DATABASE_URL", None)
    if database_url:
        env["TECHKB_STORE__DATABASE_URL"] = database_url
    proc = subprocess.run(
        [sys.executable, "-m", "tests.reliability.crash_driver", str(home), str(root), point,
         str(n)],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert proc.returncode == -9, (point, proc.returncode, proc.stdout, proc.stderr[-2000:])


def snapshot(home: Path, database_url: str | None = None) -> dict[str, Any]:
    """Everything a reader of the store can see, checked for internal consistency."""
    store = KnowledgeStore(home, database_url=database_url)
    try:
        docs = store.catalog.documents()
        assert all(d.status == "complete" for d in docs), [d.source for d in docs]
        chunks = {c.chunk_id: c.to_json() for _, c in store.catalog.iter_chunks()}
        assert sum(d.n_chunks for d in docs) == len(chunks), "no half documents"
        vectors = {}
        for label, index in (("dense", store.vectors), ("ml", store.ml_vectors)):
            ids: list[str] = []
            for name in index._own_collections():
                got = index._client.get_collection(name, embedding_function=None).get(include=[])
                ids += got["ids"]
            assert len(ids) == len(set(ids)), f"{label}: a chunk in two collections"
            vectors[label] = sorted(ids)
        keyword = store.keyword_index()
        assert keyword.version == store.catalog.version()
        return {
            "sources": sorted(d.source for d in docs),
            "chunks": chunks,
            "vectors": vectors,
            "keyword": sorted(keyword.chunk_ids()),
        }
    finally:
        store.close()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The canary corpus and a clean ingest of it (the reference)."""
    work = tmp_path_factory.mktemp("crash")
    root = work / "kb"
    write_canary_corpus(root)
    report = run_ingest(work / "clean", root)
    assert report.failed == [] and report.added == 8
    return {"root": root, "clean": snapshot(work / "clean")}


def _same(home: Path, database_url: str | None, clean: dict[str, Any]) -> None:
    got = snapshot(home, database_url)
    assert got["sources"] == clean["sources"]
    assert set(got["chunks"]) == set(clean["chunks"]), "same chunk ids"
    assert got["chunks"] == clean["chunks"], "same chunk records"
    assert (
        got["vectors"]
        == clean["vectors"]
        == {
            "dense": sorted(clean["chunks"]),
            "ml": sorted(clean["chunks"]),
        }
    )
    assert got["keyword"] == sorted(clean["chunks"])


@pytest.mark.parametrize(
    ("point", "n"),
    [("parse", 3), ("pending", 2), ("between-indexes", 4), ("before-commit", 5),
     ("after-commit", 6), ("keyword-sync", 1)],
)  # fmt: skip
def test_first_ingest_killed_then_rerun_equals_clean(
    base: dict[str, Any], tmp_path: Path, backend_url: str | None, point: str, n: int
) -> None:
    home = tmp_path / "store"
    crash(home, base["root"], backend_url, point, n)
    report = run_ingest(home, base["root"], backend_url)
    assert report.failed == []
    _same(home, backend_url, base["clean"])


def _copy_corpus(base: dict[str, Any], tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    shutil.copytree(base["root"], root)
    return root


def test_update_killed_then_rerun_equals_clean(
    base: dict[str, Any], tmp_path: Path, backend_url: str | None
) -> None:
    root = _copy_corpus(base, tmp_path)
    home = tmp_path / "store"
    run_ingest(home, root, backend_url)
    path = root / CHANGED
    path.write_text(path.read_text(encoding="utf-8") + "\nReplace the wipers sooner in dust.\n")
    crash(home, root, backend_url, "update")
    run_ingest(home, root, backend_url)
    run_ingest(tmp_path / "clean", root)
    _same(home, backend_url, snapshot(tmp_path / "clean"))


def test_removal_killed_then_rerun_equals_clean(
    base: dict[str, Any], tmp_path: Path, backend_url: str | None
) -> None:
    root = _copy_corpus(base, tmp_path)
    home = tmp_path / "store"
    run_ingest(home, root, backend_url)
    (root / REMOVED).unlink()
    crash(home, root, backend_url, "remove")
    report = run_ingest(home, root, backend_url)
    assert report.removed == 1
    run_ingest(tmp_path / "clean", root)
    clean = snapshot(tmp_path / "clean")
    assert REMOVED not in clean["sources"]
    _same(home, backend_url, clean)


def test_repair_killed_then_rerun_equals_clean(
    base: dict[str, Any], tmp_path: Path, backend_url: str | None
) -> None:
    home = tmp_path / "store"
    crash(home, base["root"], backend_url, "before-commit", 3)
    crash(home, base["root"], backend_url, "repair")
    run_ingest(home, base["root"], backend_url)
    _same(home, backend_url, base["clean"])


def test_every_crash_point_is_exercised() -> None:
    """The points above cover every point the driver knows (the count RELIABILITY.md gives)."""
    covered = {"parse", "pending", "between-indexes", "before-commit", "after-commit",
               "keyword-sync", "update", "remove", "repair"}  # fmt: skip
    assert covered == set(POINTS)
