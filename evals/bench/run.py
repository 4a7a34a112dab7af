"""Run the chosen benchmark parts and render the result as Markdown."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.settings import Settings
from evals.bench import PARTS
from evals.bench.timing import CORPORA, OPEN_CORPUS, Progress, env_info, ratio


def run_bench(
    settings: Settings,
    parts: Sequence[str] = PARTS,
    *,
    quick: bool = False,
    runs: int | None = None,
    sizes: Sequence[int] | None = None,
    store: Path | None = None,
    http: bool = True,
    corpora: Sequence[Path] | None = None,
    progress: Progress,
) -> dict[str, Any]:
    """Measure `parts`; `quick` trims runs, corpora, questions and store sizes.

    Args:
        settings: base settings (embedder backend, retrieval...); homes are temporary.
        parts: any of ingest, query, coldstart, scale, concurrency.
        quick: one run, the demo corpus only, 30 questions, stores of 1k and 5k chunks.
        runs: repetitions of the ingest and cold-start measurements (default 3, quick 1).
        sizes: scale part store sizes (default 1000, 10000, 100000).
        store: an existing store for the query part (default: the demo corpus ingested into a
            temporary folder, which the cold-start and scale parts reuse).
        http: also time the REST API in the query part.
        corpora: folders for the ingest part (default: the demo corpus, and the open corpus
            when present and not `quick`).
        progress: receives one line per step.
    """
    from evals.bench.query import demo_store

    runs = runs or (1 if quick else 3)
    n_questions = 30 if quick else 120
    sizes = list(sizes or ([1000, 5000] if quick else [1000, 10000, 100000]))
    result: dict[str, Any] = {"quick": quick, "runs": runs, "env": env_info(), "parts": {}}
    result["embedder_backend"] = settings.embedder.backend
    work = Path(tempfile.mkdtemp(prefix="techkb-bench-"))
    try:
        if "ingest" in parts:
            from evals.bench.ingest import bench_corpus

            folders = list(corpora or [])
            if not folders:
                folders = [CORPORA]
                folders += [] if quick or not OPEN_CORPUS.is_dir() else [OPEN_CORPUS]
            result["parts"]["ingest"] = [bench_corpus(c, runs, progress, settings) for c in folders]
            if not quick and not corpora and not OPEN_CORPUS.is_dir():
                result["parts"]["ingest_note"] = f"{OPEN_CORPUS} absent: skipped"
        needs_store = {"query", "coldstart", "scale", "concurrency"} & set(parts)
        home = store or work / "demo"
        qsettings = settings.model_copy(deep=True)
        qsettings.paths.home = home
        if needs_store and store is None:
            demo_store(home, qsettings, progress)
        if "query" in parts:
            from evals.bench.query import bench_store

            result["parts"]["query"] = bench_store(qsettings, n_questions, progress, http)
        if "coldstart" in parts:
            from evals.bench.coldstart import bench_coldstart

            result["parts"]["coldstart"] = bench_coldstart(home, runs, progress)
        if "scale" in parts:
            from evals.bench.scale import bench_scale

            n = 20 if quick else 100
            result["parts"]["scale"] = bench_scale(home, settings, sizes, n, progress, runs)
        if "concurrency" in parts:
            from evals.bench.concurrency import bench_concurrency

            result["parts"]["concurrency"] = bench_concurrency(home, progress, rounds=runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def to_markdown(result: dict[str, Any]) -> str:
    """README-ready tables of a `run_bench` result."""
    parts = result["parts"]
    env = result["env"]
    lines = [
        f"Machine: {env['cpus']} CPUs, load {env['load_avg_1m']} at start; "
        f"embedder backend {result['embedder_backend']}; medians of {result['runs']} run(s).",
        "",
    ]
    for ing in parts.get("ingest", []):
        lines += ingest_markdown(ing)
    if "query" in parts:
        q = parts["query"]
        lines += [f"| query ({q['chunks']} chunks, {q['questions']} questions) | p50 ms | p95 ms |"]
        lines += ["|---|---|---|"]
        for key in (
            "techkb_retrieve_staff",
            "techkb_retrieve_anonymous",
            "techkb_ask_extractive",
            "plain_llamaindex_retrieve",
            "raw_chroma_query",
            "http_ask",
        ):
            row = q.get(key, {})
            if "p50_ms" in row:
                lines.append(f"| {key} | {row['p50_ms']} | {row['p95_ms']} |")
            elif row:
                lines.append(f"| {key} | skipped: {row.get('skipped')} | |")
        lines.append("")
    if "coldstart" in parts:
        c = parts["coldstart"]["ask_seconds_median"]
        lines += [
            "| cold `techkb ask` (fresh process) | seconds (median) |",
            "|---|---|",
            *[f"| backend {b} | {s} |" for b, s in c.items()],
            "",
        ]
    if "scale" in parts:
        lines += [
            "| chunks | add chunks/s | BM25 update: one document ms / full build s | plain vector "
            "p50 ms | dense + visibility "
            "p50 ms (ratio) | hybrid, MiniLM + BM25 (ratio) | hybrid, + multilingual (ratio) "
            "| ask p50 ms | RSS MiB: serving (benchmark process) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in parts["scale"]["sizes"]:
            cells = [
                f"{r[name]['p50_ms']} ({r[name + '_vs_plain_p50']})"
                for name in ("dense_with_visibility_staff", "hybrid_english_staff", "hybrid_staff")
            ]
            lines.append(
                f"| {r['chunks']} | {r['add_chunks_per_s']} "
                f"| {r['keyword_one_document_update_ms']} / {r['keyword_full_build_s']} "
                f"| {r['plain_unfiltered_vector']['p50_ms']} | {' | '.join(cells)} "
                f"| {r['ask_extractive']['p50_ms']} | {r.get('serving_rss_mb')} ({r['rss_mb']}) |"
            )
        lines.append("")
    if "concurrency" in parts:
        from evals.bench.concurrency import to_markdown as concurrency_markdown

        lines += concurrency_markdown(parts["concurrency"])
    return "\n".join(lines)


def ingest_markdown(ing: dict[str, Any]) -> list[str]:
    """One ingest table: each pipeline's seconds, chunks, tokens and rates, and the ratios."""
    med, ch, tok = ing["seconds_median"], ing["chunks"], ing["tokens_embedded"]
    cps, tps = ing["chunks_per_s"], ing["tokens_per_s"]
    lim, ph = ing["embedding_vs_encode"], ing["phases"]
    size = ing["same_budget_chunk_size"]
    rows = (
        ("plain_same_budget", f"plain llama-index, SentenceSplitter({size}): same budget"),
        ("techkb", "techkb, MiniLM only"),
        ("techkb_ml", "techkb, MiniLM + multilingual USE"),
        ("plain", "plain llama-index, SentenceSplitter(256)"),
    )
    lines = [
        f"| ingest `{ing['corpus']}` | seconds (median) | chunks | MiniLM tokens | chunks/s "
        "| tokens/s | vs plain, same budget |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in rows:
        speedup = ratio(med["plain_same_budget"], med[key])
        lines.append(
            f"| {label} | {med[key]} | {ch[key]} | {tok[key]} | {cps[key]} | {tps[key]} "
            f"| {speedup}x |"
        )
    plain = ph["plain_same_budget"]
    lines += [
        f"| embedding only: torch `encode` vs techkb embedder (chunks/s) "
        f"| {lim['encode_torch_chunks_per_s']} vs {lim['techkb_embedder_chunks_per_s']} "
        f"| {lim['texts']} | | | | {lim['speedup']}x |",
        "",
        f"Where the time goes: plain (same budget) parse {plain['parse_s']} s, chunk "
        f"{plain['chunk_s']} s, embed + Chroma {plain['embed_store_s']} s; techkb embed "
        f"{ph['techkb']['embed_s']} s, parse + chunk + catalog + Chroma + BM25 "
        f"{ph['techkb']['rest_s']} s. CPU-time ratio at the same budget: "
        f"{ing['speedup_same_budget_cpu_time']}x.",
        "",
    ]
    return lines
