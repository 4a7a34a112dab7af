"""Fit the answerability model on one part of labelled data, report it on the other.

    python -m evals.answerability_features DATASET.jsonl --store DIR --out features.jsonl
    python -m evals.fit_answerability features.jsonl --fit clapnq --report fiqa [--out M.json]

Parts are the conversations' collections (the contributor of their gold passages; an item
without gold takes its conversation's, else its best-retrieved passage's). Two logistic models:
answerable (ANSWERABLE, PARTIAL) against not (UNANSWERABLE, UNDERSPECIFIED), and
underspecified against the rest. The answer threshold is chosen on the fitting part only: the
lowest wrongful-refusal rate whose refused share of unanswerable items is at least 0.75, else
the best balanced accuracy. `--out` stores the model fitted on the `--fit` part; the report
part is never used for fitting or choosing.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evals.answerability import AnswerabilityModel, Logistic

NAMES = (
    "rr_top",
    "rr_second",
    "rr_margin",
    "rr_close_docs",
    "cos_top",
    "evidence",
    "unknown_share",
    "agree",
    "follow_up",
    "log_words",
)
POSITIVE = ("ANSWERABLE", "PARTIAL")


def collection_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Each row's collection: its gold's, its conversation's, else its best passage's."""
    by_conversation: dict[str, str] = {}
    for row in rows:
        if row["gold_sources"]:
            by_conversation[row["id"].split("<::>")[0]] = row["gold_sources"][0].split("/")[0]
    out = []
    for row in rows:
        if row["gold_sources"]:
            out.append(row["gold_sources"][0].split("/")[0])
        elif row["id"].split("<::>")[0] in by_conversation:
            out.append(by_conversation[row["id"].split("<::>")[0]])
        else:
            out.append((row["sources"] or ["?/"])[0].split("/")[0])
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> Logistic:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=1000)
    model.fit((x - mean) / scale, y)
    return Logistic(
        NAMES,
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in model.coef_[0]),
        float(model.intercept_[0]),
    )


def figures(labels: Sequence[str], outcomes: Sequence[str]) -> dict[str, float | int]:
    """The issue's figures for a set of (answerability, outcome) pairs."""

    def share(cls: tuple[str, ...], ok: tuple[str, ...]) -> float:
        picked = [o for lab, o in zip(labels, outcomes, strict=True) if lab in cls]
        return round(sum(o in ok for o in picked) / len(picked), 3) if picked else float("nan")

    return {
        "n": len(labels),
        "wrongful_refusals": share(POSITIVE, ("refusal", "clarification")),
        "unanswerable_refused": share(("UNANSWERABLE",), ("refusal", "clarification")),
        "underspecified_clarify_or_refuse": share(
            ("UNDERSPECIFIED",), ("refusal", "clarification")
        ),
        "underspecified_clarified": share(("UNDERSPECIFIED",), ("clarification",)),
    }


def choose_threshold(p: np.ndarray, labels: Sequence[str]) -> float:
    """The fitting part's threshold (see the module docs)."""
    positive = np.array([lab in POSITIVE for lab in labels])
    unanswerable = np.array([lab == "UNANSWERABLE" for lab in labels])
    best: tuple[float, float] | None = None
    fallback: tuple[float, float] = (-1.0, 0.5)
    for t in np.linspace(0.05, 0.95, 91):
        refuse = p < t
        wrongful = float(refuse[positive].mean()) if positive.any() else 0.0
        caught = float(refuse[unanswerable].mean()) if unanswerable.any() else 1.0
        negatives = float(refuse[~positive].mean()) if (~positive).any() else 1.0
        balanced = (1 - wrongful + negatives) / 2
        if balanced > fallback[0]:
            fallback = (balanced, float(t))
        if caught >= 0.75 and (best is None or wrongful < best[0]):
            best = (wrongful, float(t))
    return round(best[1] if best is not None else fallback[1], 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("features", type=Path)
    parser.add_argument("--fit", required=True, help="collection to fit on")
    parser.add_argument("--report", required=True, help="collection to report on")
    parser.add_argument("--out", type=Path, help="write the fitted model here (JSON)")
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.features.read_text().splitlines() if line.strip()]
    parts = collection_of(rows)
    print("collections:", dict(Counter(parts)))
    x = np.array([[float(r["features"].get(n, 0.0)) for n in NAMES] for r in rows])
    labels = [r["answerability"] for r in rows]
    fit = np.array([p == args.fit for p in parts])
    report = np.array([p == args.report for p in parts])
    answerable = fit_logistic(x[fit], np.array([lab in POSITIVE for lab in labels])[fit])
    under = fit_logistic(x[fit], np.array([lab == "UNDERSPECIFIED" for lab in labels])[fit])
    p_fit = np.array([answerable.probability(dict(zip(NAMES, v, strict=True))) for v in x[fit]])
    threshold = choose_threshold(p_fit, [lab for lab, f in zip(labels, fit, strict=True) if f])
    model = AnswerabilityModel(answerable, under, fitted_on=args.fit)
    for name, mask in (("fit " + args.fit, fit), ("report " + args.report, report)):
        outcomes = [model.decide(dict(zip(NAMES, v, strict=True)), threshold, 0.5) for v in x[mask]]
        before = [
            "refusal" if r["refused"] else "answer" for r, m in zip(rows, mask, strict=True) if m
        ]
        picked = [lab for lab, m in zip(labels, mask, strict=True) if m]
        print(f"{name}: threshold {threshold}")
        print("  model :", figures(picked, outcomes))
        print("  before:", figures(picked, before))
    weights = dict(zip(NAMES, (round(w, 3) for w in answerable.weights), strict=True))
    print("answerable weights (standardised):", weights)
    if args.out is not None:
        data = {
            "fitted_on": f"{args.features.name}: collection {args.fit} ({int(fit.sum())} items)",
            "answer_threshold": threshold,
            "answerable": answerable.to_dict(),
            "underspecified": under.to_dict(),
        }
        args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
