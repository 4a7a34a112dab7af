"""Query benchmark: techkb retrieval and extractive `ask` vs plain vector retrieval.

Over one store (the demo corpus ingested into a temporary folder, or `--store`), for the
questions of the demo eval set: techkb's hybrid retrieval (visibility filter, dense + BM25 +
multilingual, fused) and the end-to-end extractive answer, in-process and over HTTP (the REST
API of `techkb serve`, on 127.0.0.1), against plain llama-index vector retrieval
(`VectorStoreIndex.from_vector_store` over techkb's public Chroma collection, the same model
run by torch through HuggingFaceEmbedding) and the raw Chroma query with a precomputed vector.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from pathlib import Path
from typing import Any

from assistant.embed import bundled_model_path
from assistant.settings import Settings
from assistant.types import Identity
from evals.bench import import_bench
from evals.bench.timing import Progress, latency_summary, questions, ratio, timed

STAFF = Identity(user="bench", org="huaxin-robotics", role="staff")


def plain_retriever(store: Any, scope: str = "public.en") -> tuple[Any, Any]:
    """llama-index retriever over one of techkb's Chroma collections, and that collection."""
    from llama_index.core import Settings as LISettings
    from llama_index.core import VectorStoreIndex

    HuggingFaceEmbedding = import_bench("llama_index.embeddings.huggingface").HuggingFaceEmbedding
    ChromaVectorStore = import_bench("llama_index.vector_stores.chroma").ChromaVectorStore
    with contextlib.redirect_stdout(io.StringIO()):  # llama-index prints about its MockLLM
        LISettings.llm = None  # type: ignore[assignment]
    collection = store.vectors._collection(scope, create=False)
    hf = HuggingFaceEmbedding(model_name=str(bundled_model_path()), device="cpu")
    index = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=collection), embed_model=hf
    )
    return index.as_retriever(similarity_top_k=6), collection


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_latencies(settings: Settings, qs: list[str], progress: Progress) -> dict[str, Any]:
    """POST /api/ask against `techkb serve`'s app (uvicorn in a thread, anonymous caller)."""
    try:
        from ui.server import build_services, create_app
    except ImportError as e:
        return {"skipped": f"web app not available: {e}"}
    import httpx
    import uvicorn

    app = create_app(build_services(settings), ui=False)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        if not server.started:
            return {"skipped": "the web app did not start within 60 s"}
        progress(f"query: {len(qs)} questions over HTTP")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            client.post("/api/ask", json={"question": qs[0]}).raise_for_status()

            def ask(q: str) -> None:
                client.post("/api/ask", json={"question": q}).raise_for_status()

            return latency_summary(timed(ask, qs))
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def bench_store(
    settings: Settings, n_questions: int, progress: Progress, http: bool = True
) -> dict[str, Any]:
    """Latencies over the store in `settings.paths.home`."""
    from assistant.registry import build_assistant, build_store

    qs = questions(n_questions)
    store = build_store(settings)
    try:
        assistant = build_assistant(settings, store)
        retriever = assistant.retriever
        progress("query: warming up (model loads)")
        assistant.ask(qs[0], identity=STAFF)
        plain, collection = plain_retriever(store)
        plain.retrieve(qs[0])
        vectors = [retriever.embedder.embed_query(q) for q in qs]
        progress(f"query: {len(qs)} questions, in-process")
        hybrid = timed(lambda q: retriever.retrieve(q, STAFF), qs)
        hybrid_anon = timed(lambda q: retriever.retrieve(q, Identity()), qs)
        ask = timed(lambda q: assistant.ask(q, identity=STAFF), qs)
        li = timed(plain.retrieve, qs)
        raw = timed(
            lambda v: collection.query(query_embeddings=[v], n_results=6, include=["distances"]),
            vectors,
        )
        chunks = store.catalog.count_chunks()
    finally:
        store.close()
    out: dict[str, Any] = {
        "chunks": chunks,
        "questions": len(qs),
        "techkb_retrieve_staff": latency_summary(hybrid),
        "techkb_retrieve_anonymous": latency_summary(hybrid_anon),
        "techkb_ask_extractive": latency_summary(ask),
        "plain_llamaindex_retrieve": latency_summary(li),
        "raw_chroma_query": latency_summary(raw),
    }
    out["retrieve_p50_vs_plain"] = ratio(
        out["techkb_retrieve_staff"]["p50_ms"], out["plain_llamaindex_retrieve"]["p50_ms"]
    )
    out["http_ask"] = http_latencies(settings, qs, progress) if http else {"skipped": "--no-http"}
    return out


def demo_store(home: Path, settings: Settings, progress: Progress) -> None:
    """Ingest the demo corpus into `home` (no-op when it already holds chunks)."""
    from assistant.registry import build_embedder, build_multilingual_embedder, build_store
    from evals.bench.timing import CORPORA
    from ingestion.pipeline import Ingester

    store = build_store(settings)
    try:
        if store.catalog.count_chunks():
            return
        progress(f"query: ingesting {CORPORA.name}/ into {home}")
        Ingester(
            store,
            build_embedder(settings),
            settings.ingestion,
            progress=False,
            multilingual=build_multilingual_embedder(settings),
        ).ingest([CORPORA])
    finally:
        store.close()
