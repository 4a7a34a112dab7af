"""Several processes ingest different roots into one embedded store while others query it.

Nothing may be lost (every document, chunk, vector and keyword entry of every root is there at
the end, once) and no process may fail. The ingests use `crash_driver`'s hash embedders so that
five processes can start at once on a laptop; the store code under test is the real one.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assistant.errors import StoreError
from assistant.feedback import FeedbackStore
from assistant.store import KnowledgeStore
from assistant.store.catalog import Catalog
from assistant.types import Identity
from tests.conftest import REPO
from tests.reliability.canary import canary, write_canary_corpus
from tests.reliability.crash_driver import embedders

pytestmark = pytest.mark.slow

INGESTERS = 3
QUERIERS = 2


def _spawn(module: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip


@pytest.fixture(scope="module")
def parallel(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three ingests at once into one home while two readers query; their outcomes."""
    tmp_path = tmp_path_factory.mktemp("parallel")
    home = tmp_path / "store"
    roots = [tmp_path / f"site-{i}" for i in range(INGESTERS)]
    docs = [write_canary_corpus(root) for root in roots]
    stop = tmp_path / "stop"
    # A first, small ingest so that the queriers open an existing store.
    seed = tmp_path / "seed"
    write_canary_corpus(seed)
    first = _spawn("tests.reliability.crash_driver", str(home), str(seed), "none", "1")
    assert first.wait(300) == 0, first.communicate()[1][-3000:]
    outs = [tmp_path / f"q{i}.json" for i in range(QUERIERS)]
    queriers = [
        _spawn("tests.reliability.query_driver", str(home), str(stop), str(out)) for out in outs
    ]
    ingesters = [
        _spawn("tests.reliability.crash_driver", str(home), str(root), "none", "1")
        for root in roots
    ]
    results = []
    try:
        for proc in ingesters:
            out, err = proc.communicate(timeout=600)
            results.append((proc.returncode, out, err))
    finally:
        stop.touch()
        for proc in queriers:
            proc.communicate(timeout=120)
    queries = [json.loads(out.read_text()) for out in outs]
    return {"home": home, "docs": docs, "ingests": results, "queries": queries}


def test_parallel_ingests_lose_nothing(parallel: dict[str, Any]) -> None:
    for code, out, err in parallel["ingests"]:
        assert code == 0, err[-3000:]
        assert "'failed': []" in out, out
    docs = parallel["docs"]
    expected = (INGESTERS + 1) * len(docs[0])
    store = KnowledgeStore(parallel["home"])
    try:
        records = store.catalog.documents()
        assert len(records) == expected and all(d.status == "complete" for d in records)
        chunk_ids = [c.chunk_id for _, c in store.catalog.iter_chunks()]
        assert len(chunk_ids) == len(set(chunk_ids)) == sum(d.n_chunks for d in records)
        assert store.vectors.count() == len(chunk_ids), "no vector lost or doubled"
        assert store.ml_vectors.count() == len(chunk_ids), "no multilingual vector lost"
        staff = Identity("wang", "huaxin-robotics", "staff")
        token = canary("org-huaxin")
        found = {store.catalog.get_chunks([m.chunk_id])[m.chunk_id].doc_id
                 for m in store.keyword_search(token, staff, 50, None)}  # fmt: skip
        assert len(found) == INGESTERS + 1, "each root's copy is found by keyword"
        dense, _ = embedders()
        question = next(d for d in docs[0] if d.name == "org-huaxin").question
        near = store.dense_search(dense.embed_query(question), staff, 50)
        sources = {m.metadata["doc_id"] for m in near if m.metadata["source"].endswith("drive.md")}
        assert len(sources) == INGESTERS + 1, "each root's copy is found by vector"
    finally:
        store.close()


def test_readers_keep_answering_while_others_ingest(parallel: dict[str, Any]) -> None:
    for result in parallel["queries"]:
        assert result["queries"] > 0 and result["hits"] > 0


def test_no_query_fails_while_or_after_others_ingest(parallel: dict[str, Any]) -> None:
    for result in parallel["queries"]:
        assert result["errors"] == [], result["errors"][:1]
        assert result["errors_after"] == [], result["errors_after"][:1]


def _open_store(what: str, home: str) -> str:
    """Open (creating when new) a catalog or a feedback store; the error text, or ''."""
    try:
        if what == "catalog":
            catalog = Catalog.open(Path(home))
            catalog.set_meta("opened", "1")
            catalog.close()
        else:
            FeedbackStore(Path(home))
    except StoreError as e:
        return str(e)
    return ""


@pytest.mark.parametrize("what", ["catalog", "feedback"])
def test_processes_creating_one_database_at_once_all_open_it(what: str, tmp_path: Path) -> None:
    """SQLite refuses the switch to WAL at once, without waiting, while another process makes
    it on the same new file; several ingests started together into an empty home used to fail
    with "database is locked" (one round in about eight, six processes)."""
    context = multiprocessing.get_context("fork")
    with context.Pool(6) as pool:
        for round_ in range(20):
            home = str(tmp_path / f"home-{round_}")
            errors = [e for e in pool.starmap(_open_store, [(what, home)] * 6, chunksize=1) if e]
            assert errors == [], f"round {round_}: {errors[0]}"
