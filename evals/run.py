"""Run an eval dataset through the assistant and score retrieval, answers, citations, refusals.

python -m evals.run evals/datasets/demo.jsonl --store .techkb [--baseline top-chunk]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.access import can_see
from assistant.service import Assistant
from assistant.store.keyword import tokenize
from assistant.types import Answer
from evals.datasets import EvalItem, load_dataset
from evals.metrics.retrieval import mrr_at_k, ndcg_at_k, recall_at_k

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 over stemmed English / jieba Chinese tokens."""
    a, b = tokenize(candidate), tokenize(reference)
    if not a or not b:
        return 0.0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    p, r = lcs / len(a), lcs / len(b)
    return 2 * p * r / (p + r)


def number_recall(candidate: str, reference: str) -> float | None:
    """Share of the reference's numbers that the answer states (None: reference has none)."""
    wanted = {n.replace(",", "") for n in _NUMBER.findall(reference)}
    if not wanted:
        return None
    found = {n.replace(",", "") for n in _NUMBER.findall(candidate)}
    return len(wanted & found) / len(wanted)


@dataclass
class ItemResult:
    item: EvalItem
    answer: Answer
    ranked_sources: list[str]
    latency_ms: float
    metrics: dict[str, float | None]


def score_item(item: EvalItem, answer: Answer, ranked: list[str]) -> dict[str, float | None]:
    m: dict[str, float | None] = {}
    cited = {c.source for c in answer.citations}
    visible_leak = [
        h for h in answer.retrieved if not can_see(item.identity, h.chunk.to_metadata())
    ]
    restricted = set(item.restricted_sources)
    m["leaks"] = float(
        len(visible_leak)
        + len(cited & restricted)
        + len({h.chunk.source for h in answer.retrieved} & restricted)
    )
    m["refused"] = float(answer.refused)
    if item.answerable and item.gold_sources:
        m["recall@5"] = recall_at_k(ranked, item.gold_sources, 5)
        m["mrr@10"] = mrr_at_k(ranked, item.gold_sources, 10)
        m["ndcg@10"] = ndcg_at_k(ranked, item.gold_sources, 10)
        if not answer.refused:
            gold = set(item.gold_sources)
            m["citation_precision"] = len(cited & gold) / len(cited) if cited else 0.0
            m["citation_recall"] = len(cited & gold) / len(gold)
            m["rougeL"] = rouge_l(answer.answer, item.reference)
            m["number_recall"] = number_recall(answer.answer, item.reference)
    return m


def top_chunk_answer(answer: Answer) -> Answer:
    """The baseline: the text of the best retrieved chunk, cited, never refusing."""
    from dataclasses import replace

    from assistant.answer.citations import build_citation

    if not answer.retrieved:
        return replace(answer, answer="", refused=True, citations=())
    hit = answer.retrieved[0]
    return replace(
        answer,
        answer=f"{hit.chunk.text} [1]",
        refused=False,
        citations=(build_citation(1, hit, hit.chunk.text[:200]),),
    )


def run(
    assistant: Assistant, items: Sequence[EvalItem], baseline: str | None = None
) -> list[ItemResult]:
    from tqdm import tqdm

    results = []
    for item in tqdm(items, desc="eval", unit="item", disable=not sys.stderr.isatty()):
        started = time.perf_counter()
        answer = assistant.ask(
            item.question, identity=item.identity, history=item.history, mode=item.mode
        )
        latency = (time.perf_counter() - started) * 1000
        from assistant.retrieve import standalone_query

        query = standalone_query(item.question, item.history)
        ranked = [h.chunk.source for h in assistant.retriever.retrieve(query, item.identity, k=10)]
        if baseline == "top-chunk":
            answer = top_chunk_answer(answer)
        results.append(ItemResult(item, answer, ranked, latency, score_item(item, answer, ranked)))
    return results


def summarize(results: Sequence[ItemResult]) -> dict[str, float]:
    out: dict[str, float] = {}
    keys = sorted({k for r in results for k in r.metrics})
    for key in keys:
        values = [r.metrics[key] for r in results if r.metrics.get(key) is not None]
        if key == "leaks":
            out[key] = float(sum(v for v in values if v is not None))
        elif values:
            out[key] = round(statistics.fmean(v for v in values if v is not None), 4)
    unans = [r for r in results if not r.item.answerable]
    ans = [r for r in results if r.item.answerable]
    refused = [r for r in results if r.answer.refused]
    out["refusal_recall"] = round(sum(r.answer.refused for r in unans) / max(len(unans), 1), 4)
    out["refusal_precision"] = round(
        sum(not r.item.answerable for r in refused) / max(len(refused), 1), 4
    )
    out["wrongful_refusal_rate"] = round(sum(r.answer.refused for r in ans) / max(len(ans), 1), 4)
    lat = sorted(r.latency_ms for r in results)
    out["latency_p50_ms"] = round(statistics.median(lat), 1)
    out["latency_p95_ms"] = round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--baseline", choices=["top-chunk"], default=None)
    parser.add_argument("--out", type=Path, default=None, help="write per-item JSON here")
    parser.add_argument("--only", default=None, help="only items with this tag or mode")
    args = parser.parse_args(argv)
    from assistant.registry import build_assistant, build_store
    from assistant.settings import load_settings

    settings = load_settings({"paths": {"home": args.store}})
    items = load_dataset(args.dataset)
    if args.only:
        items = [i for i in items if args.only in i.tags or i.mode == args.only]
    store = build_store(settings)
    try:
        results = run(build_assistant(settings, store), items, args.baseline)
    finally:
        store.close()
    summary = summarize(results)
    print(json.dumps(summary, indent=1))
    if args.out:
        rows: list[dict[str, Any]] = [
            {
                "id": r.item.id,
                "metrics": r.metrics,
                **r.answer.to_dict(),
                "ranked": r.ranked_sources,
            }
            for r in results
        ]
        args.out.write_text(json.dumps(rows, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
