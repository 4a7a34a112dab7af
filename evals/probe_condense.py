"""Follow-up questions: retrieval with the last question alone, the heuristic standalone query,
and the LLM-condensed question, on a dataset's answerable multi-turn items.

TECHKB_LLM_BACKEND=gguf TECHKB_LLM_MODEL_PATH=model.gguf \\
    python -m evals.probe_condense evals/datasets/demo.jsonl --store .techkb
(any generative backend works: openai, vllm, ollama, llamacpp, gguf)
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from assistant.errors import ConfigError
from assistant.queries import standalone_query
from assistant.registry import build_answerer, build_assistant, build_embedder, build_store
from assistant.settings import load_settings
from evals.datasets import load_dataset
from evals.metrics.retrieval import mrr_at_k, recall_at_k


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--store", type=Path, default=None)
    args = parser.parse_args(argv)
    settings = load_settings({"paths": {"home": args.store}})
    if settings.llm.backend == "extractive":
        raise ConfigError("set TECHKB_LLM_BACKEND to a generative backend to condense questions")
    items = [i for i in load_dataset(args.dataset) if i.history and i.answerable and i.gold_sources]
    store = build_store(settings)
    try:
        embedder = build_embedder(settings)
        retriever = build_assistant(settings, store, embedder).retriever
        llm = build_answerer(settings, embedder)
        scores: dict[str, list[tuple[float, float]]] = {}
        seconds = []
        for item in items:
            started = time.perf_counter()
            condensed = llm.condense_question(item.question, item.history)  # type: ignore[attr-defined]
            seconds.append(time.perf_counter() - started)
            queries = {
                "last question only": item.question,
                "heuristic (no LLM)": standalone_query(item.question, item.history),
                f"LLM-condensed ({settings.llm.backend})": condensed,
            }
            for name, query in queries.items():
                ranked = [h.chunk.source for h in retriever.retrieve(query, item.identity, k=10)]
                scores.setdefault(name, []).append(
                    (
                        recall_at_k(ranked, item.gold_sources, 5),
                        mrr_at_k(ranked, item.gold_sources, 10),
                    )
                )
    finally:
        store.close()
    print(f"{len(items)} answerable multi-turn items")
    for name, values in scores.items():
        recall = statistics.fmean(r for r, _ in values)
        mrr = statistics.fmean(m for _, m in values)
        print(f"{name:32s} recall@5 {recall:.3f}  MRR@10 {mrr:.3f}")
    print(f"condensing p50 {statistics.median(seconds):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
