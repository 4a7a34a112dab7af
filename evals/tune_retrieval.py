"""Grid over the fusion weights and RRF constant on an eval set (retrieval metrics only).

python -m evals.tune_retrieval evals/datasets/demo.jsonl --store .techkb
"""

from __future__ import annotations

import argparse
import itertools
import statistics
from functools import lru_cache
from pathlib import Path

from assistant.queries import standalone_query
from assistant.registry import build_assistant, build_store
from assistant.settings import load_settings
from evals.datasets import load_dataset
from evals.metrics.retrieval import mrr_at_k, recall_at_k

GRID = {
    "rrf_k": (20.0, 60.0),
    "dense_weight": (0.5, 1.0),
    "keyword_weight": (0.5, 1.0, 1.5),
    "multilingual_weight": (0.5, 1.0),
    "cross_language_weight": (0.5, 1.0),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--store", type=Path, default=None)
    args = parser.parse_args(argv)
    settings = load_settings({"paths": {"home": args.store}})
    items = [i for i in load_dataset(args.dataset) if i.answerable and i.gold_sources]
    store = build_store(settings)
    retriever = build_assistant(settings, store).retriever
    for embedder in (retriever.embedder, retriever.multilingual):
        if embedder is not None:  # every query is embedded once for the whole grid
            embedder.embed_query = lru_cache(maxsize=None)(embedder.embed_query)  # type: ignore[method-assign]
    rows = []
    for values in itertools.product(*GRID.values()):
        retriever.settings = settings.retrieval.model_copy(
            update=dict(zip(GRID, values, strict=True))
        )
        recall, mrr = [], []
        for item in items:
            query = standalone_query(item.question, item.history)
            ranked = [h.chunk.source for h in retriever.retrieve(query, item.identity, k=10)]
            recall.append(recall_at_k(ranked, item.gold_sources, 5))
            mrr.append(mrr_at_k(ranked, item.gold_sources, 10))
        rows.append((statistics.fmean(recall), statistics.fmean(mrr), values))
        chosen = dict(zip(GRID, values, strict=True))
        print(f"recall@5 {rows[-1][0]:.4f}  mrr@10 {rows[-1][1]:.4f}  {chosen}")
    store.close()
    best = max(rows, key=lambda r: (r[0] + r[1], r[0]))
    print(
        f"best: recall@5 {best[0]:.4f} mrr@10 {best[1]:.4f} {dict(zip(GRID, best[2], strict=True))}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
