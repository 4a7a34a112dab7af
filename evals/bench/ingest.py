"""Ingest benchmark: techkb vs the plain llama-index pipeline, and embedding vs pure encode.

The plain pipeline is what a user would assemble from llama-index parts: SimpleDirectoryReader
+ SentenceSplitter(chunk_size=256) + HuggingFaceEmbedding(the same bundled all-MiniLM-L6-v2,
torch) + ChromaVectorStore, into a fresh store. techkb runs its own `Ingester` (parse worker,
structure-aware chunks, catalog, Chroma, BM25) into a fresh store, with and without its second
(multilingual) embedder. Models are loaded before the clocks start for both sides (cold start
is its own part). Runs alternate between the pipelines; the report gives medians.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path
from typing import Any

from assistant.embed import bundled_model_path
from assistant.registry import build_embedder, build_multilingual_embedder
from assistant.settings import Settings, load_settings
from evals.bench.timing import Progress, Timer, median, ratio


def _llamaindex_parts() -> tuple[Any, Any]:
    from llama_index.core import Settings as LISettings
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    with contextlib.redirect_stdout(io.StringIO()):  # llama-index prints about its MockLLM
        LISettings.llm = None  # type: ignore[assignment]  # never an OpenAI default
    return HuggingFaceEmbedding(model_name=str(bundled_model_path()), device="cpu"), LISettings


def ingest_llamaindex(corpus: Path, home: Path, embed_model: Any) -> dict[str, float]:
    """The plain pipeline into a fresh Chroma folder; returns seconds and chunks."""
    import chromadb
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    with Timer() as t:
        docs = SimpleDirectoryReader(str(corpus), recursive=True, raise_on_error=False).load_data(
            show_progress=False
        )
        for doc in docs:  # Chroma takes scalar metadata only (the PPTX reader adds lists)
            doc.metadata = {
                k: v if v is None or isinstance(v, str | int | float) else str(v)
                for k, v in doc.metadata.items()
            }
        nodes = SentenceSplitter(chunk_size=256).get_nodes_from_documents(docs)
        client = chromadb.PersistentClient(
            path=str(home), settings=chromadb.Settings(anonymized_telemetry=False)
        )
        collection = client.get_or_create_collection("plain")
        storage = StorageContext.from_defaults(
            vector_store=ChromaVectorStore(chroma_collection=collection)
        )
        VectorStoreIndex(nodes, storage_context=storage, embed_model=embed_model)
    return {"seconds": t.wall, "cpu_s": t.cpu, "chunks": len(nodes), "documents": len(docs)}


def ingest_techkb(
    corpus: Path, home: Path, settings: Settings, embedder: Any, multilingual: Any
) -> dict[str, float]:
    """techkb's Ingester into a fresh store; returns seconds and chunks."""
    from assistant.store import KnowledgeStore
    from ingestion.pipeline import Ingester

    store = KnowledgeStore(home)
    try:
        with Timer() as t:
            report = Ingester(
                store, embedder, settings.ingestion, progress=False, multilingual=multilingual
            ).ingest([corpus])
    finally:
        store.close()
    failed = len(report.failed)
    return {"seconds": t.wall, "cpu_s": t.cpu, "chunks": report.chunks, "failed": failed}


def embedding_texts(home: Path) -> list[str]:
    """What techkb embedded for each chunk of the store at `home` ("title — section\\ntext")."""
    from assistant.store.catalog import Catalog

    catalog = Catalog.open(home)
    try:
        out = []
        for _, chunk in catalog.iter_chunks():
            head = " — ".join(p for p in (chunk.title, chunk.section) if p)
            out.append(f"{head}\n{chunk.text}" if head else chunk.text)
        return out
    finally:
        catalog.close()


def encode_limit(texts: list[str], embedder: Any, runs: int) -> dict[str, float]:
    """Chunks/s of techkb's embedder vs pure SentenceTransformer.encode (torch) on `texts`."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    model.encode(texts[:8])
    embedder.embed_documents(texts[:8])
    torch_s, fast_s, torch_cpu, fast_cpu = [], [], [], []
    for _ in range(runs):
        with Timer() as t:
            model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        torch_s.append(t.wall)
        torch_cpu.append(t.cpu)
        with Timer() as t:
            embedder.embed_documents(texts)
        fast_s.append(t.wall)
        fast_cpu.append(t.cpu)
    return {
        "texts": len(texts),
        "encode_torch_chunks_per_s": round(len(texts) / median(torch_s), 1),
        "techkb_embedder_chunks_per_s": round(len(texts) / median(fast_s), 1),
        "speedup": ratio(median(torch_s), median(fast_s)),
        # CPU seconds per text: what a busy, shared machine distorts least.
        "speedup_cpu_time": ratio(median(torch_cpu), median(fast_cpu)),
    }


def bench_corpus(
    corpus: Path, runs: int, progress: Progress, settings: Settings | None = None
) -> dict[str, Any]:
    """All ingest measurements on one corpus (`runs` alternating runs of each pipeline)."""
    settings = settings or load_settings({}, environ={})
    embedder = build_embedder(settings)
    multilingual = build_multilingual_embedder(settings)
    embedder.embed_documents(["warm up"])
    if multilingual is not None:
        multilingual.embed_documents(["warm up"])
    hf, _ = _llamaindex_parts()
    hf.get_text_embedding("warm up")
    work = Path(tempfile.mkdtemp(prefix="techkb-bench-ingest-"))
    rows: dict[str, list[dict[str, float]]] = {"plain": [], "techkb": [], "techkb_ml": []}
    try:
        for run in range(runs):
            for name in rows:
                home = work / f"{name}-{run}"
                progress(f"ingest {corpus.name}: {name} run {run + 1}/{runs}")
                if name == "plain":
                    rows[name].append(ingest_llamaindex(corpus, home, hf))
                else:
                    ml = multilingual if name == "techkb_ml" else None
                    rows[name].append(ingest_techkb(corpus, home, settings, embedder, ml))
        progress(f"ingest {corpus.name}: embedding throughput vs pure encode")
        limit = encode_limit(embedding_texts(work / "techkb-0"), embedder, runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {name: median([r["seconds"] for r in rs]) for name, rs in rows.items()}
    return {
        "corpus": corpus.name,
        "runs": runs,
        "embedder": f"{settings.embedder.backend} ({embedder.name})",
        "chunks": {name: rs[0]["chunks"] for name, rs in rows.items()},
        "seconds_median": {name: round(s, 2) for name, s in med.items()},
        "seconds_all": {name: [round(r["seconds"], 2) for r in rs] for name, rs in rows.items()},
        "speedup_vs_plain": ratio(med["plain"], med["techkb"]),
        "speedup_vs_plain_with_multilingual": ratio(med["plain"], med["techkb_ml"]),
        "embedding_vs_encode": limit,
    }
