"""Dump the answerability features of every item of an eval dataset, with its labels.

    python -m evals.answerability_features DATASET.jsonl --store DIR --out features.jsonl

Runs the assistant as `techkb eval` does (as the item's user, with its conversation) and
records, per item, what `evals.answerability.features` computes plus the item's
`answerability` / `answerable` labels and the current decision. `evals/fit_answerability.py`
fits the shipped model on these lines.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tqdm import tqdm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    from assistant.answer.scope import check_scope
    from assistant.registry import build_assistant, build_store
    from assistant.rerank import CrossEncoderReranker
    from assistant.retrieve import standalone_query
    from assistant.settings import load_settings
    from assistant.types import ANONYMOUS, Identity, Turn
    from evals.answerability import features

    settings = load_settings({"paths": {"home": args.store}})
    store = build_store(settings)
    assistant = build_assistant(settings, store)
    reranker = CrossEncoderReranker()
    index = store.keyword_index()
    items = [json.loads(line) for line in args.dataset.read_text().splitlines() if line.strip()]
    rows: list[dict[str, Any]] = []
    try:
        for item in tqdm(items, desc="features", unit="item"):
            messages = item.get("messages") or [{"role": "user", "content": item["question"]}]
            question = messages[-1]["content"]
            history = [Turn(m["role"], m["content"]) for m in messages[:-1]]
            user = item.get("user")
            identity = Identity(None, user["org"], user["role"]) if user else ANONYMOUS
            answer = assistant.ask(question, identity=identity, history=history, mode="ask")
            scope = check_scope(
                question, history, lambda terms, who=identity: index.document_frequency(terms, who)
            )
            values = features(
                standalone_query(question, history),
                question,
                history,
                answer.retrieved,
                reranker=reranker,
                embedder=assistant.retriever.embedder,
                evidence=answer.features.get("evidence", 0.0),
                unknown_share=scope.unknown_share,
            )
            rows.append(
                {
                    "id": item["id"],
                    "answerability": item.get("answerability")
                    or ("ANSWERABLE" if item.get("answerable") else "UNANSWERABLE"),
                    "answerable": bool(item.get("answerable")),
                    "refused": answer.refused,
                    "features": values,
                    "gold_sources": item.get("gold_sources", []),
                    "sources": [h.chunk.source for h in answer.retrieved[:5]],
                }
            )
    finally:
        store.close()
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
