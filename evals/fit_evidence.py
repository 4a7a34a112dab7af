"""Fit the lexical evidence threshold (`answer.min_evidence`) on the demo tune half, report the
report half.

    python -m evals.fit_evidence evals/datasets/demo.jsonl --store DIR

The answerability model decides English ask-mode questions; everything else — Chinese
questions (the cross-encoder reads English only), procedure and exercise requests — is refused
when the lexical evidence (the share of the question's weighted terms that the best sentences
or procedure cover) is below `answer.min_evidence`. This script asks each such item once with
the threshold at 0, reads the evidence its answerer measured, and picks the threshold on the
tune half by the same criterion as `evals/fit_answerability.py` (closest to wrongful refusals
<= 0.08 and unanswerable refused >= 0.75). Items refused even at 0 (a scope rule, or nothing to
quote) are left out of the choice, which cannot change them, but counted in the figures. The
report half is never used for choosing.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from evals.datasets import half_of
from evals.fit_answerability import choose_threshold

_EVIDENCE = re.compile(r"^evidence (\d+(?:\.\d+)?) \(threshold")


def lexical_decides(item: dict[str, Any]) -> bool:
    """Whether the lexical evidence, not the answerability model, decides the item."""
    return item.get("lang", "en") == "zh" or item.get("mode", "ask") != "ask"


def evidence_of(notes: Sequence[str]) -> float | None:
    """The evidence an answer's notes report; None when a scope rule decided first."""
    for note in notes:
        m = _EVIDENCE.match(note)
        if m:
            return float(m.group(1))
    return None


def figures(rows: Sequence[dict[str, Any]], threshold: float) -> dict[str, float | int]:
    """Wrongful refusals and unanswerable refused when refusing below `threshold`."""

    def refused(row: dict[str, Any]) -> bool:
        return row["fixed"] or (row["evidence"] is not None and row["evidence"] < threshold)

    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    return {
        "n": len(rows),
        "wrongful_refusals": round(sum(map(refused, answerable)) / max(1, len(answerable)), 3),
        "unanswerable_refused": round(
            sum(map(refused, unanswerable)) / max(1, len(unanswerable)), 3
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--out", type=Path, help="write each item's evidence here (JSONL)")
    args = parser.parse_args(argv)

    from assistant.registry import build_assistant, build_store
    from assistant.settings import load_settings
    from assistant.types import ANONYMOUS, Identity, Turn

    settings = load_settings({"paths": {"home": args.store}, "answer": {"min_evidence": 0.0}})
    store = build_store(settings)
    assistant = build_assistant(settings, store)
    items = [json.loads(line) for line in args.dataset.read_text().splitlines() if line.strip()]
    items = [i for i in items if lexical_decides(i)]
    rows: list[dict[str, Any]] = []
    try:
        for item in tqdm(items, desc="evidence", unit="item"):
            messages = item.get("messages") or [{"role": "user", "content": item["question"]}]
            user = item.get("user")
            identity = Identity(None, user["org"], user["role"]) if user else ANONYMOUS
            answer = assistant.ask(
                messages[-1]["content"],
                identity=identity,
                history=[Turn(m["role"], m["content"]) for m in messages[:-1]],
                mode=item.get("mode", "ask"),
            )
            rows.append(
                {
                    "id": item["id"],
                    "half": half_of(item["id"]),
                    "lang": item.get("lang", "en"),
                    "mode": item.get("mode", "ask"),
                    "answerable": bool(item["answerable"]),
                    "evidence": evidence_of(answer.notes),
                    # refused with the threshold at 0: a scope rule, or nothing to quote
                    "fixed": answer.refused,
                }
            )
    finally:
        store.close()
    if args.out is not None:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    tune = [r for r in rows if r["half"] == "tune" and not r["fixed"] and r["evidence"] is not None]
    threshold = choose_threshold(
        np.array([r["evidence"] for r in tune]), np.array([r["answerable"] for r in tune])
    )
    print(f"threshold chosen on the tune half ({len(tune)} items): {threshold}")
    for half in ("tune", "report"):
        for lang in ("en", "zh"):
            picked = [r for r in rows if r["half"] == half and r["lang"] == lang]
            role = "fit   " if half == "tune" else "REPORT"
            print(f"{role} {half} {lang}: {figures(picked, threshold)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
