"""Ingest benchmark: techkb vs the plain llama-index pipeline at the same chunk budget.

The plain pipeline is what a user would assemble from llama-index parts: SimpleDirectoryReader
+ SentenceSplitter + HuggingFaceEmbedding (the same bundled all-MiniLM-L6-v2, torch) +
ChromaVectorStore, into a fresh store. It runs twice: at the same chunk budget as techkb (the
SentenceSplitter chunk size whose chunk count is nearest techkb's, found by bisection before the
clocks start; llama-index's default overlap), and at chunk_size=256 (llama-index's usual
example value, which makes about 4× as many chunks because of the 200-token default overlap).
techkb runs its own `Ingester` (parse worker, structure-aware chunks, catalog, Chroma, BM25)
into a fresh store, with and without its second (multilingual) embedder.

Every row reports wall and CPU seconds, chunks, the MiniLM word pieces embedded (what the model
computes: each text truncated to its 256-piece window) and chunks/s and tokens/s. Models load
before the clocks start for both sides (cold start is its own part). Runs alternate between the
pipelines; the report gives medians. The chunk_size=256 baseline runs once (it is the slowest
and only a reference); the same-budget ratio is the headline.
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
from evals.bench import import_bench
from evals.bench.timing import Progress, Timer, median, ratio

DEFAULT_CHUNK_SIZE = 256  # the plain pipeline as usually written: SentenceSplitter(chunk_size=256)
PIPELINES = ("techkb", "techkb_ml", "plain_same_budget", "plain")
_PLAIN_PHASES = ("parse_s", "chunk_s", "embed_store_s")


def _hf_embedding() -> Any:
    """The plain pipeline's embedder: the bundled MiniLM through llama-index and torch."""
    from llama_index.core import Settings as LISettings

    module = import_bench("llama_index.embeddings.huggingface")
    with contextlib.redirect_stdout(io.StringIO()):  # llama-index prints about its MockLLM
        LISettings.llm = None  # type: ignore[assignment]  # never an OpenAI default
    return module.HuggingFaceEmbedding(model_name=str(bundled_model_path()), device="cpu")


def read_documents(corpus: Path) -> list[Any]:
    """SimpleDirectoryReader over `corpus`, metadata flattened to what Chroma stores."""
    import_bench("llama_index.readers.file")  # SimpleDirectoryReader's PDF, DOCX... readers
    from llama_index.core import SimpleDirectoryReader

    docs = SimpleDirectoryReader(str(corpus), recursive=True, raise_on_error=False).load_data(
        show_progress=False
    )
    for doc in docs:  # Chroma takes scalar metadata only (the PPTX reader adds lists)
        doc.metadata = {
            k: v if v is None or isinstance(v, str | int | float) else str(v)
            for k, v in doc.metadata.items()
        }
    return docs


def split(docs: list[Any], chunk_size: int) -> list[Any]:
    """SentenceSplitter nodes at `chunk_size` (llama-index's default overlap, 200 tokens)."""
    from llama_index.core.node_parser import SentenceSplitter

    return SentenceSplitter(chunk_size=chunk_size).get_nodes_from_documents(docs)


def same_budget_chunk_size(
    docs: list[Any], target: int, low: int = DEFAULT_CHUNK_SIZE, high: int = 4096
) -> int:
    """The chunk size in [low, high] whose SentenceSplitter chunk count is nearest `target`.

    Bisection: the count falls as the size grows. The default size already makes more chunks
    than techkb on every corpus measured, so the search starts there.
    """
    counts: dict[int, int] = {}

    def count(size: int) -> int:
        if size not in counts:
            counts[size] = len(split(docs, size))
        return counts[size]

    while high - low > 1:
        mid = (low + high) // 2
        if count(mid) > target:
            low = mid
        else:
            high = mid
    return min((low, high), key=lambda s: (abs(count(s) - target), s))


def embedded_texts(nodes: list[Any]) -> list[str]:
    """What VectorStoreIndex hands the embedder for each node (text plus embed metadata)."""
    from llama_index.core.schema import MetadataMode

    return [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]


def ingest_llamaindex(
    corpus: Path, home: Path, embed_model: Any, chunk_size: int
) -> tuple[dict[str, float], list[str]]:
    """The plain pipeline into a fresh Chroma folder; its timings and the texts it embedded."""
    import chromadb
    from llama_index.core import StorageContext, VectorStoreIndex

    chroma = import_bench("llama_index.vector_stores.chroma")
    with Timer() as total:
        with Timer() as parse:
            docs = read_documents(corpus)
        with Timer() as chunk:
            nodes = split(docs, chunk_size)
        with Timer() as embed:
            client = chromadb.PersistentClient(
                path=str(home), settings=chromadb.Settings(anonymized_telemetry=False)
            )
            collection = client.get_or_create_collection("plain")
            storage = StorageContext.from_defaults(
                vector_store=chroma.ChromaVectorStore(chroma_collection=collection)
            )
            VectorStoreIndex(nodes, storage_context=storage, embed_model=embed_model)
    row = {
        "seconds": total.wall,
        "cpu_s": total.cpu,
        "chunks": len(nodes),
        "documents": len(docs),
        "parse_s": parse.wall,
        "chunk_s": chunk.wall,
        "embed_store_s": embed.wall,
    }
    return row, embedded_texts(nodes)


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


def tokens_embedded(texts: list[str], model: Any) -> int:
    """MiniLM word pieces the model computes over `texts` (each cut to its window)."""
    if not texts:
        return 0
    window = int(model.max_seq_length)
    ids = model.tokenizer(texts, truncation=False, add_special_tokens=True)["input_ids"]
    return sum(min(len(i), window) for i in ids)


def encode_limit(texts: list[str], model: Any, embedder: Any, runs: int) -> dict[str, float]:
    """Chunks/s of techkb's embedder vs pure SentenceTransformer.encode (torch) on `texts`."""
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
        "techkb_embedder_seconds": round(median(fast_s), 2),
        "speedup": ratio(median(torch_s), median(fast_s)),
        # CPU seconds per text: what a busy, shared machine distorts least.
        "speedup_cpu_time": ratio(median(torch_cpu), median(fast_cpu)),
    }


def _summary(
    rows: dict[str, list[dict[str, float]]], tokens: dict[str, int]
) -> dict[str, dict[str, float]]:
    med = {name: median([r["seconds"] for r in rs]) for name, rs in rows.items()}
    cpu = {name: median([r["cpu_s"] for r in rs]) for name, rs in rows.items()}
    chunks = {name: rs[0]["chunks"] for name, rs in rows.items()}
    return {
        "seconds": med,
        "cpu": cpu,
        "chunks_per_s": {n: round(chunks[n] / s, 1) for n, s in med.items()},
        "tokens_per_s": {n: round(tokens[n] / s) for n, s in med.items()},
    }


def bench_corpus(
    corpus: Path, runs: int, progress: Progress, settings: Settings | None = None
) -> dict[str, Any]:
    """All ingest measurements on one corpus (`runs` alternating runs of each pipeline)."""
    from sentence_transformers import SentenceTransformer

    settings = settings or load_settings({}, environ={})
    embedder = build_embedder(settings)
    multilingual = build_multilingual_embedder(settings)
    embedder.embed_documents(["warm up"])
    if multilingual is not None:
        multilingual.embed_documents(["warm up"])
    hf = _hf_embedding()
    hf.get_text_embedding("warm up")
    model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    work = Path(tempfile.mkdtemp(prefix="techkb-bench-ingest-"))
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in PIPELINES}
    texts: dict[str, list[str]] = {}
    size = DEFAULT_CHUNK_SIZE
    try:
        for run in range(runs):
            for name in PIPELINES:
                if name == "plain" and run > 0:
                    continue
                home = work / f"{name}-{run}"
                progress(f"ingest {corpus.name}: {name} run {run + 1}/{runs}")
                if name.startswith("techkb"):
                    ml = multilingual if name == "techkb_ml" else None
                    rows[name].append(ingest_techkb(corpus, home, settings, embedder, ml))
                    continue
                if name == "plain_same_budget" and run == 0:
                    progress(f"ingest {corpus.name}: SentenceSplitter size for the same budget")
                    target = int(rows["techkb"][0]["chunks"])
                    size = same_budget_chunk_size(read_documents(corpus), target)
                chunk_size = size if name == "plain_same_budget" else DEFAULT_CHUNK_SIZE
                row, texts[name] = ingest_llamaindex(corpus, home, hf, chunk_size)
                rows[name].append(row)
        texts["techkb"] = texts["techkb_ml"] = embedding_texts(work / "techkb-0")
        progress(f"ingest {corpus.name}: embedding throughput vs pure encode")
        limit = encode_limit(texts["techkb"], model, embedder, runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    tokens = {name: tokens_embedded(t, model) for name, t in texts.items()}
    s = _summary(rows, tokens)
    med, cpu = s["seconds"], s["cpu"]
    plain_phases = {
        name: {k: round(median([r[k] for r in rows[name]]), 2) for k in _PLAIN_PHASES}
        for name in ("plain_same_budget", "plain")
    }
    return {
        "corpus": corpus.name,
        "runs": runs,
        "embedder": f"{settings.embedder.backend} ({embedder.name})",
        "chunks": {name: rs[0]["chunks"] for name, rs in rows.items()},
        "tokens_embedded": tokens,
        "same_budget_chunk_size": size,
        "seconds_median": {name: round(v, 2) for name, v in med.items()},
        "cpu_seconds_median": {name: round(v, 2) for name, v in cpu.items()},
        "seconds_all": {name: [round(r["seconds"], 2) for r in rs] for name, rs in rows.items()},
        "chunks_per_s": s["chunks_per_s"],
        "tokens_per_s": s["tokens_per_s"],
        "speedup_same_budget": ratio(med["plain_same_budget"], med["techkb"]),
        "speedup_same_budget_with_multilingual": ratio(med["plain_same_budget"], med["techkb_ml"]),
        "speedup_same_budget_cpu_time": ratio(cpu["plain_same_budget"], cpu["techkb"]),
        "speedup_vs_plain": ratio(med["plain"], med["techkb"]),
        "speedup_vs_plain_with_multilingual": ratio(med["plain"], med["techkb_ml"]),
        "phases": {
            **plain_phases,
            # techkb's embedding alone, timed on the texts it embedded; the rest is parse,
            # chunk, catalog, Chroma and BM25.
            "techkb": {
                "embed_s": limit["techkb_embedder_seconds"],
                "rest_s": round(med["techkb"] - limit["techkb_embedder_seconds"], 2),
            },
        },
        "embedding_vs_encode": limit,
    }
