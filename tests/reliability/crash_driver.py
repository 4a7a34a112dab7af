"""Run an ingest that kills itself (SIGKILL, as `kill -9`) at a named point; for the crash tests.

    python -m tests.reliability.crash_driver HOME ROOT POINT N

POINT names where the process dies, on the N-th time it gets there (1-based); ``none`` runs a
normal ingest. The catalog is in the database `TECHKB_STORE__DATABASE_URL` names, when set.
The kill is real: no cleanup, no `finally`, no flush, exactly as `kill -9`.
The embedders are `HashEmbedder`s: the crash tests check the store's consistency, which does
not depend on what the vectors mean, and a process that loads no model starts in seconds.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

POINTS = {
    "parse": "while the worker parses a file (before its result is read)",
    "pending": "after a document is marked pending, before any vector is written",
    "between-indexes": "after the dense vectors are added, before the multilingual ones",
    "before-commit": "after every vector is added, before the catalog commit",
    "after-commit": "after a document's catalog commit, before the next document",
    "keyword-sync": "while the keyword index takes in the new chunks at the end of the ingest",
    "update": "while a changed document's old vectors are gone and its new ones not added",
    "remove": "after a removed document's vectors are deleted, before its catalog rows",
    "repair": "while a previous crash is being repaired",
}


class HashEmbedder:
    """Deterministic unit vectors from word hashes (no model); one token per word."""

    multilingual = False

    def __init__(self, name: str = "test-hash-64", dim: int = 64) -> None:
        self.name = name
        self.dim = dim

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                h = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little")
                out[row, h % self.dim] += 1.0
            norm = float(np.linalg.norm(out[row])) or 1.0
            out[row] /= norm
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2


def embedders() -> tuple[HashEmbedder, HashEmbedder]:
    """The dense and the multilingual embedder every crash-test ingest uses."""
    return HashEmbedder(), HashEmbedder("test-hash-ml-32", 32)


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _on_nth(n: int, before: bool, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func`, but the process dies before (or after) its n-th call."""
    calls = {"n": 0}

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if before and calls["n"] == n:
            _die()
        result = func(*args, **kwargs)
        if not before and calls["n"] == n:
            _die()
        return result

    return wrapped


def arm(point: str, n: int) -> None:
    """Patch the pipeline so that the process dies at `point` the n-th time."""
    from assistant.store import KnowledgeStore
    from assistant.store.catalog import Catalog
    from assistant.store.chroma import ChromaVectorStore
    from ingestion.worker import ParseWorker

    if point == "parse":
        ParseWorker.result = _on_nth(n, True, ParseWorker.result)  # type: ignore[method-assign]
    elif point == "pending":
        KnowledgeStore.begin_document = _on_nth(n, False, KnowledgeStore.begin_document)  # type: ignore[method-assign]
    elif point == "between-indexes":  # adds alternate dense, multilingual: die after a dense one
        ChromaVectorStore.add = _on_nth(2 * n - 1, False, ChromaVectorStore.add)  # type: ignore[method-assign]
    elif point == "before-commit":
        Catalog.commit_document = _on_nth(n, True, Catalog.commit_document)  # type: ignore[method-assign]
    elif point == "after-commit":
        Catalog.commit_document = _on_nth(n, False, Catalog.commit_document)  # type: ignore[method-assign]
    elif point == "keyword-sync":
        from assistant.store.keyword import BM25KeywordIndex

        BM25KeywordIndex.add = _on_nth(n, True, BM25KeywordIndex.add)  # type: ignore[method-assign]
    elif point == "update":  # the first add of the run is the changed document's
        ChromaVectorStore.add = _on_nth(n, True, ChromaVectorStore.add)  # type: ignore[method-assign]
    elif point in ("remove", "repair"):
        Catalog.remove_document = _on_nth(n, True, Catalog.remove_document)  # type: ignore[method-assign]
    elif point != "none":
        raise SystemExit(f"unknown crash point {point!r}; known: {', '.join(POINTS)}")


def run_ingest(home: Path, root: Path, database_url: str | None = None) -> Any:
    """A normal ingest of `root` into `home` (its catalog in `database_url` when given) with the
    hash embedders; returns the report."""
    from assistant.settings import load_settings
    from assistant.store import KnowledgeStore
    from ingestion.pipeline import Ingester

    settings = load_settings({"paths": {"home": home}}, environ={})
    dense, ml = embedders()
    store = KnowledgeStore(home, database_url=database_url)
    try:
        ingester = Ingester(store, dense, settings.ingestion, progress=False, multilingual=ml)
        return ingester.ingest([root])
    finally:
        store.close()


def main(argv: list[str]) -> int:
    home, root, point, n = Path(argv[0]), Path(argv[1]), argv[2], int(argv[3])
    arm(point, n)
    report = run_ingest(home, root, os.environ.get("TECHKB_STORE__DATABASE_URL") or None)
    print(f"ingest finished without reaching {point} #{n}: {report.to_dict()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
