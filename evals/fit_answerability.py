"""Fit the answerability model on some parts of labelled data, report it on the others.

    python -m evals.answerability_features DATASET.jsonl --store DIR --out features.jsonl
    python -m evals.fit_answerability F.jsonl [F2.jsonl ...] --fit clapnq demo-tune \\
        --report fiqa demo-report [--out assistant/answer/answerability.json]

Parts: an mtrag-style item belongs to its conversation's collection (the contributor of its
gold passages; without gold, its conversation's, else its best-retrieved passage's); a demo
item (id without `<::>`) to `demo-tune` or `demo-report` by `evals.datasets.half_of`. Only
English ask-mode items are fitted and reported: the model decides nothing else.

The model is a logistic regression of answerable (ANSWERABLE, PARTIAL) against UNANSWERABLE
on `FEATURES` (UNDERSPECIFIED items are about something the sources hold, only vaguely asked:
they are the clarification's business, not this model's). Its threshold is chosen on the
fitting parts only, as the one that comes closest to the targets of wrongful refusals <= 0.08
and unanswerable refused >= 0.75 (the smallest worst relative shortfall), then folded into the
bias so that the shipped threshold setting is 0.5. The report emulates the assistant: a rule of the
scope check refuses first; below the threshold, a vague question with two or more equally
relevant documents is asked back, any other refused. `--out` writes the model fitted on the
`--fit` parts; the `--report` parts are never used for fitting or choosing.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answer.answerability import Logistic
from evals.datasets import half_of

FEATURES = ("rr_top", "cos_top")
POSITIVE = ("ANSWERABLE", "PARTIAL")


def parts_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Each row's part (see the module docs)."""
    by_conversation: dict[str, str] = {}
    for row in rows:
        if "<::>" in row["id"] and row["gold_sources"]:
            by_conversation[row["id"].split("<::>")[0]] = row["gold_sources"][0].split("/")[0]
    out = []
    for row in rows:
        if "<::>" not in row["id"]:
            out.append(f"demo-{half_of(row['id'])}")
        elif row["gold_sources"]:
            out.append(row["gold_sources"][0].split("/")[0])
        elif row["id"].split("<::>")[0] in by_conversation:
            out.append(by_conversation[row["id"].split("<::>")[0]])
        else:
            out.append((row["sources"] or ["?/"])[0].split("/")[0])
    return out


def fit_logistic(
    x: np.ndarray, y: np.ndarray, names: Sequence[str] = FEATURES, c: float = 1.0
) -> Logistic:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=1000)
    model.fit((x - mean) / scale, y)
    return Logistic(
        tuple(names),
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in model.coef_[0]),
        float(model.intercept_[0]),
    )


# The targets: the threshold is chosen to come closest to both on the fitting rows.
TARGET_WRONGFUL = 0.08
TARGET_REFUSED = 0.75


def choose_threshold(p: np.ndarray, positive: np.ndarray) -> float:
    """The threshold whose worse relative shortfall against the targets is smallest on the
    fitting rows (ties: the lower one)."""
    best = (math.inf, 0.5)
    for t in np.linspace(0.05, 0.95, 91):
        refused = p < t
        wrongful = float(refused[positive].mean()) if positive.any() else 0.0
        caught = float(refused[~positive].mean()) if (~positive).any() else 1.0
        shortfall = max(wrongful / TARGET_WRONGFUL, (1.0 - caught) / (1.0 - TARGET_REFUSED))
        if shortfall < best[0] - 1e-9:
            best = (shortfall, float(t))
    return round(best[1], 2)


def centred(model: Logistic, threshold: float) -> Logistic:
    """The same decision with its threshold moved to 0.5 (the bias absorbs it)."""
    shift = math.log(threshold / (1.0 - threshold))
    return Logistic(model.names, model.mean, model.scale, model.weights, model.bias - shift)


def outcome(row: dict[str, Any], p: float) -> str:
    """What the assistant does with a row whose answerability probability is `p`."""
    if row["rule"]:
        return "refusal"
    if p >= 0.5:
        return "answer"
    if row["vague"] and row["features"].get("close_docs", 0) >= 2:
        return "clarification"
    return "refusal"


def figures(labels: Sequence[str], outcomes: Sequence[str]) -> dict[str, float | int]:
    """The issue's figures for a set of (answerability, outcome) pairs."""

    def share(cls: tuple[str, ...], ok: tuple[str, ...]) -> float:
        picked = [o for lab, o in zip(labels, outcomes, strict=True) if lab in cls]
        return round(sum(o in ok for o in picked) / len(picked), 3) if picked else float("nan")

    return {
        "n": len(labels),
        "wrongful_refusals": share(POSITIVE, ("refusal",)),
        "not_answered": share(POSITIVE, ("refusal", "clarification")),
        "unanswerable_refused": share(("UNANSWERABLE",), ("refusal",)),
        "underspecified_clarify_or_refuse": share(
            ("UNDERSPECIFIED",), ("refusal", "clarification")
        ),
        "underspecified_clarified": share(("UNDERSPECIFIED",), ("clarification",)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("features", type=Path, nargs="+")
    parser.add_argument("--fit", nargs="+", required=True, help="parts to fit on")
    parser.add_argument("--report", nargs="+", required=True, help="parts to report on")
    parser.add_argument("--out", type=Path, help="write the fitted model here (JSON)")
    parser.add_argument(
        "--features",
        dest="names",
        nargs="+",
        default=list(FEATURES),
        help="features of the model",
    )
    args = parser.parse_args(argv)
    rows = [
        json.loads(line)
        for path in args.features
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    parts = parts_of(rows)
    keep = [r.get("lang", "en") == "en" and r.get("mode", "ask") == "ask" for r in rows]
    rows = [r for r, k in zip(rows, keep, strict=True) if k]
    parts = [p for p, k in zip(parts, keep, strict=True) if k]
    print("parts (English, ask mode):", dict(Counter(parts)))
    overlap = set(args.fit) & set(args.report)
    if overlap:
        parser.error(f"a part cannot be fitted and reported: {', '.join(sorted(overlap))}")
    names = tuple(args.names)
    x = np.array([[float(r["features"].get(n, 0.0)) for n in names] for r in rows])
    labels = [r["answerability"] for r in rows]
    positive = np.array([lab in POSITIVE for lab in labels])
    fit = np.array(
        [p in args.fit and lab != "UNDERSPECIFIED" for p, lab in zip(parts, labels, strict=True)]
    )
    model = fit_logistic(x[fit], positive[fit], names)
    p_fit = np.array([model.probability(dict(zip(names, v, strict=True))) for v in x[fit]])
    threshold = choose_threshold(p_fit, positive[fit])
    model = centred(model, threshold)
    print(f"fitted on {', '.join(args.fit)} ({int(fit.sum())} items); threshold {threshold}")
    for name in (*args.fit, *args.report):
        mask = [p == name for p in parts]
        picked = [r for r, m in zip(rows, mask, strict=True) if m]
        outcomes = [outcome(r, model.probability(r["features"])) for r in picked]
        role = "fit   " if name in args.fit else "REPORT"
        print(f"{role} {name}: {figures([r['answerability'] for r in picked], outcomes)}")
    weights = dict(zip(names, (round(w, 3) for w in model.weights), strict=True))
    print("weights (standardised):", weights)
    if args.out is not None:
        data = {
            "fitted_on": f"{', '.join(args.fit)} ({int(fit.sum())} English ask-mode items)",
            "fitted_threshold": threshold,
            "answerable": model.to_dict(),
        }
        args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
