"""Dump the answerability features of every item of an eval dataset, with its labels.

    python -m evals.answerability_features DATASET.jsonl --store DIR --out features.jsonl

Retrieves as `techkb eval` does (as the item's user, with its conversation, the standalone
query and the sources of `Assistant`) and records, per item, what
`assistant.answer.answerability.features` computes over the hits, the item's `answerability`
label, its language and mode, and whether a rule of the scope check (`Assistant._scope`:
unknown codes, editions, answer keys, unknown terms) would refuse it first.
`evals/fit_answerability.py` fits the shipped model on these lines.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tqdm import tqdm


def label_of(item: dict[str, Any]) -> str:
    """An item's answerability class (`answerable` alone means ANSWERABLE or UNANSWERABLE)."""
    return str(
        item.get("answerability") or ("ANSWERABLE" if item.get("answerable") else "UNANSWERABLE")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    from assistant.answer.answerability import cosine_top, features, is_vague
    from assistant.registry import build_assistant, build_store
    from assistant.rerank import shared_reranker
    from assistant.settings import load_settings
    from assistant.types import ANONYMOUS, Identity, Turn

    settings = load_settings({"paths": {"home": args.store}})
    store = build_store(settings)
    assistant = build_assistant(settings, store)
    scorer = shared_reranker("ms-marco-minilm")
    assert scorer is not None
    items = [json.loads(line) for line in args.dataset.read_text().splitlines() if line.strip()]
    rows: list[dict[str, Any]] = []
    try:
        for item in tqdm(items, desc="features", unit="item"):
            messages = item.get("messages") or [{"role": "user", "content": item["question"]}]
            question = messages[-1]["content"]
            history = [Turn(m["role"], m["content"]) for m in messages[:-1]]
            user = item.get("user")
            identity = Identity(None, user["org"], user["role"]) if user else ANONYMOUS
            query = assistant._standalone(question, history)
            hits = assistant._sources(question, query, identity)
            cosine = cosine_top(assistant.retriever.embedder, query, hits)
            values, _ = features(query, hits, scorer, cosine=cosine)
            rule = assistant._scope(question, history, identity)
            rows.append(
                {
                    "id": item["id"],
                    "answerability": label_of(item),
                    "lang": item.get("lang", "en"),
                    "mode": item.get("mode", "ask"),
                    "multi_turn": item.get("multi_turn"),
                    "rule": type(rule).__name__ if rule else None,
                    "vague": is_vague(question, history),
                    "features": values,
                    "gold_sources": item.get("gold_sources", []),
                    "sources": [h.chunk.source for h in hits[:5]],
                }
            )
    finally:
        store.close()
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
