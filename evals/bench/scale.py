"""Scale benchmark: one store grown to 1k, 10k, 100k chunks from the demo corpus's chunks.

Synthetic documents copy the seed store's chunks (text, metadata, visibility, so the scope mix
stays the demo's) with new ids, a distinguishing word in the text, and vectors perturbed by
Gaussian noise and re-normalised (no model runs for the 100k texts). They are written through
`KnowledgeStore.write_document`, the path ingestion uses, so add throughput includes the
catalog and both Chroma indexes. At each size: add throughput of the segment just written, the
keyword index's update (for the segment, for one more document, and a full build as a new
process makes it), retrieval p50 (techkb hybrid for a staff identity, i.e. with the
visibility rule; techkb's dense search alone over the partitions that identity may read; a
plain unfiltered query of one collection holding every vector; each timed with its query
embedding), extractive ask p50 and the process RSS.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from assistant.language import is_chinese_tag
from assistant.settings import Settings
from evals.bench.query import STAFF
from evals.bench.timing import Progress, latency_summary, questions, ratio, rss_mb, timed

CHUNKS_PER_DOC = 40
logger = logging.getLogger(__name__)


def _seed(store: Any) -> list[tuple[Any, np.ndarray, np.ndarray | None]]:
    """Every chunk of the seed store with its MiniLM and multilingual vectors."""
    chunks = [c for _, c in store.catalog.iter_chunks()]
    by_partition: dict[str, list[str]] = {}
    for partition, c in store.catalog.iter_chunks():
        by_partition.setdefault(partition, []).append(c.chunk_id)
    vec: dict[str, np.ndarray] = {}
    ml: dict[str, np.ndarray] = {}
    for partition, ids in by_partition.items():
        vec.update(store.vectors.get_vectors(partition, ids))
        ml.update(store.ml_vectors.get_vectors(partition, ids))
    return [(c, vec[c.chunk_id], ml.get(c.chunk_id)) for c in chunks if c.chunk_id in vec]


def _noisy(v: np.ndarray, rng: np.random.Generator, sigma: float = 0.02) -> np.ndarray:
    out = v + rng.normal(0, sigma, v.shape).astype(np.float32)
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def _grow(
    store: Any,
    plain: Any,
    seed: list[Any],
    start: int,
    target: int,
    rng: np.random.Generator,
) -> tuple[int, float]:
    """Add synthetic documents until the store holds `target` chunks; returns the new count
    and the seconds spent writing to techkb's store (the plain collection's adds excluded)."""
    n = start
    spent = 0.0
    doc = start // CHUNKS_PER_DOC
    has_ml = all(s[2] is not None for s in seed)
    while n < target:
        doc_id = f"syn{doc:07d}"
        picks = [seed[(n + i) % len(seed)] for i in range(min(CHUNKS_PER_DOC, target - n))]
        chunks = [
            replace(
                c,
                chunk_id=f"{doc_id}-{i:04d}",
                doc_id=doc_id,
                chunk_index=i,
                source=f"synthetic/{doc}/{c.source}",
                text=f"{c.text} lot{doc}",
            )
            for i, (c, _, _) in enumerate(picks)
        ]
        vectors = _noisy(np.stack([p[1] for p in picks]), rng)
        ml = _noisy(np.stack([p[2] for p in picks]), rng) if has_ml else None
        t0 = time.perf_counter()
        store.begin_document(doc_id, "synthetic", f"synthetic/{doc}", doc_id)
        store.write_document(doc_id, f"synthetic {doc}", chunks[0].contributor, chunks, vectors, ml)
        spent += time.perf_counter() - t0
        plain.add(ids=[c.chunk_id for c in chunks], embeddings=vectors)
        n += len(chunks)
        doc += 1
    return n, spent


def bench_scale(
    seed_home: Path,
    settings: Settings,
    sizes: list[int],
    n_questions: int,
    progress: Progress,
    runs: int = 3,
) -> dict[str, Any]:
    """Grow a fresh store through `sizes` (ascending) and measure at each size, the query
    timings `runs` times (medians of the runs' p50 and p95)."""
    from assistant.registry import build_assistant, build_store
    from assistant.retrieve import HybridRetriever
    from assistant.store import KnowledgeStore
    from assistant.store.keyword import BM25KeywordIndex

    seed_store = KnowledgeStore(seed_home)
    try:
        seed = _seed(seed_store)
    finally:
        seed_store.close()
    work = Path(tempfile.mkdtemp(prefix="techkb-bench-scale-"))
    home_settings = settings.model_copy(deep=True)
    home_settings.paths.home = work
    store = build_store(home_settings)
    store.check_embedder(*_seed_embedders(seed_home))
    plain = store.vectors._client.get_or_create_collection(
        "plain-all", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    qs = questions(n_questions)
    rng = np.random.default_rng(0)
    rows = []
    n = 0
    try:
        assistant = build_assistant(home_settings, store)
        retriever = assistant.retriever
        # The same hybrid retrieval without the multilingual embedder: dense + BM25 + rule.
        lexical = HybridRetriever(store, retriever.embedder, retriever.settings)
        for size in sizes:
            progress(f"scale: growing the store to {size} chunks")
            before = n
            n, add_s = _grow(store, plain, seed, n, max(n, size - CHUNKS_PER_DOC), rng)
            added = n - before
            t0 = time.perf_counter()
            store.keyword_index()  # takes in the segment just written
            segment_s = time.perf_counter() - t0
            n, _ = _grow(store, plain, seed, n, size, rng)
            t0 = time.perf_counter()
            store.keyword_index()  # takes in one more document: what an upload costs
            one_doc_ms = (time.perf_counter() - t0) * 1000
            t0 = time.perf_counter()
            BM25KeywordIndex().sync(store.catalog, store.catalog.version())
            full_s = time.perf_counter() - t0  # what a process opening the store pays once
            progress(f"scale: {len(qs)} questions x {runs} runs at {n} chunks")
            samples = [_query_run(store, assistant, lexical, plain, qs) for _ in range(runs)]
            row: dict[str, Any] = {
                "chunks": n,
                "add_chunks_per_s": round(added / add_s, 1) if added else None,
                "keyword_segment_update_s": round(segment_s, 2),
                "keyword_one_document_update_ms": round(one_doc_ms, 1),
                "keyword_full_build_s": round(full_s, 2),
                **{name: _median_summary([r[name] for r in samples]) for name in samples[0]},
                "rss_mb": round(rss_mb()),
                "serving_rss_mb": _serving_rss(work, settings.embedder.backend),
            }
            plain_p50 = row["plain_unfiltered_vector"]["p50_ms"]
            for name in ("dense_with_visibility_staff", "hybrid_english_staff", "hybrid_staff"):
                row[f"{name}_vs_plain_p50"] = ratio(row[name]["p50_ms"], plain_p50)
            rows.append(row)
    finally:
        store.close()
        shutil.rmtree(work, ignore_errors=True)
    return {"chunks_per_document": CHUNKS_PER_DOC, "seed_chunks": len(seed), "sizes": rows}


def _query_run(
    store: Any, assistant: Any, lexical: Any, plain: Any, qs: list[str]
) -> dict[str, dict[str, Any]]:
    """One pass of every query timing, each including its own query embedding."""
    retriever = assistant.retriever
    embed = retriever.embedder.embed_query
    retriever.retrieve(qs[0], STAFF)  # warm: partitions listed, collections opened

    def plain_query(q: str) -> None:
        plain.query(query_embeddings=[embed(q)], n_results=30, include=["distances"])

    def visible_dense(q: str) -> None:
        store.dense_search(embed(q), STAFF, 30, with_metadata=False, skip_languages=is_chinese_tag)

    return {
        "plain_unfiltered_vector": latency_summary(timed(plain_query, qs)),
        "dense_with_visibility_staff": latency_summary(timed(visible_dense, qs)),
        "hybrid_english_staff": latency_summary(timed(lambda q: lexical.retrieve(q, STAFF), qs)),
        "hybrid_staff": latency_summary(timed(lambda q: retriever.retrieve(q, STAFF), qs)),
        "ask_extractive": latency_summary(
            timed(lambda q: assistant.ask(q, identity=STAFF), qs[: max(10, len(qs) // 4)])
        ),
    }


def _median_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs of each run's p50 and p95."""
    return {
        key: round(float(np.median([r[key] for r in runs])), 2)
        for key in ("p50_ms", "p95_ms")
        if all(key in r for r in runs)
    }


def _seed_embedders(home: Path) -> tuple[str, str | None]:
    from assistant.store.catalog import Catalog

    catalog = Catalog.open(home)
    try:
        return catalog.get_meta("embedder") or "", catalog.get_meta("embedder_ml") or None
    finally:
        catalog.close()


def _serving_rss(home: Path, backend: str, n_questions: int = 40) -> float | None:
    """RSS of a fresh process that opens the store and answers questions, as `techkb serve`
    would: the grown store's memory without the writing process's buffers and garbage."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "evals.bench.scale", str(home), backend, str(n_questions)],
            capture_output=True,
            text=True,
            timeout=900,
            check=True,
        )
        return float(json.loads(done.stdout.strip().splitlines()[-1])["rss_mb"])
    except (subprocess.SubprocessError, ValueError, KeyError, IndexError) as e:
        logger.warning("serving RSS probe failed: %s", e)
        return None


def _probe(home: Path, backend: str, n_questions: int) -> dict[str, float]:
    from assistant.registry import build_assistant, build_store
    from assistant.settings import load_settings

    settings = load_settings({"paths": {"home": home}, "embedder": {"backend": backend}})
    store = build_store(settings)
    try:
        assistant = build_assistant(settings, store)
        for q in questions(n_questions):
            assistant.ask(q, identity=STAFF)
        return {"rss_mb": round(rss_mb())}
    finally:
        store.close()


if __name__ == "__main__":
    print(json.dumps(_probe(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]))))
