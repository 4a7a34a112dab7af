"""Quality gate, part two: figures and the comparison with the committed baseline.

The figure specs of each subset (DEMO_FIGURES, MTRAG_FIGURES, FIGURES, LEAKS), a subset run's
figures (`SubsetRun`, `figure`), the baseline file (`load_baseline`, `baseline_strata`,
`baseline_document`) and the checks of gated figures against it (`check`, `outcome_changes`).
How the gate works and when to regenerate the baseline: evals/gate.py.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.settings import load_settings
from evals.gate_subsets import REPO, SUBSETS, GateError, demo_kind
from evals.run import ItemResult, outcome_of

BASELINE = REPO / "tests" / "quality" / "baseline.json"
_EPS = 1e-9


# ---------------------------------------------------------------------------------------------
# Figures


def _refused(r: ItemResult) -> bool:
    return outcome_of(r.answer) == "refusal"


def _metric(name: str, lang: str | None = None) -> Callable[[ItemResult], float | None]:
    def value(r: ItemResult) -> float | None:
        v = r.metrics.get(name)
        if lang is not None and r.item.lang != lang:
            return None
        return float(v) if isinstance(v, int | float) else None

    return value


def _when(
    test: Callable[[ItemResult], bool], value: Callable[[ItemResult], bool]
) -> Callable[[ItemResult], float | None]:
    return lambda r: float(value(r)) if test(r) else None


@dataclass(frozen=True)
class FigureSpec:
    """A figure: the mean of a per-item value over the items where it is not None (the sum for
    `zero` figures, which must be 0)."""

    name: str
    per_item: Callable[[ItemResult], float | None]
    higher_is_better: bool
    gated: bool = False
    zero: bool = False

    def bad(self, value: float) -> bool:
        """Whether an item's value counts against the figure."""
        if self.zero:
            return value > 0
        return value < 1 - _EPS if self.higher_is_better else value > _EPS


def _answerable(r: ItemResult) -> bool:
    return r.item.answerable


def _klass(*labels: str) -> Callable[[ItemResult], bool]:
    return lambda r: r.item.answerability in labels


LEAKS = FigureSpec("leaks", _metric("leaks"), False, gated=True, zero=True)

DEMO_FIGURES = (
    FigureSpec("lead_recall", _metric("lead_recall"), True, gated=True),
    FigureSpec("lead_recall[lang=en]", _metric("lead_recall", "en"), True),
    FigureSpec("lead_recall[lang=zh]", _metric("lead_recall", "zh"), True),
    FigureSpec("wrong_fact_rate", _metric("wrong_fact"), False),
    FigureSpec("wrongful_refusal_rate", _when(_answerable, _refused), False, gated=True),
    FigureSpec(
        "wrongful_refusal_rate[lang=en]",
        _when(lambda r: r.item.answerable and r.item.lang == "en", _refused),
        False,
    ),
    FigureSpec(
        "wrongful_refusal_rate[lang=zh]",
        _when(lambda r: r.item.answerable and r.item.lang == "zh", _refused),
        False,
    ),
    FigureSpec(
        "unanswerable_refused_rate",
        _when(lambda r: not r.item.answerable, _refused),
        True,
        gated=True,
    ),
    FigureSpec(
        "refused_rate[out-of-scope]",
        _when(lambda r: demo_kind(r.item) == "out-of-scope", _refused),
        True,
    ),
    FigureSpec(
        "refused_rate[restricted]",
        _when(lambda r: demo_kind(r.item) == "restricted", _refused),
        True,
    ),
    FigureSpec("recall@5", _metric("recall@5"), True),
    LEAKS,
)

MTRAG_FIGURES = (
    FigureSpec(
        "wrongful_refusal_rate", _when(_klass("ANSWERABLE", "PARTIAL"), _refused), False, True
    ),
    FigureSpec("wrongful_refusal_rate[ANSWERABLE]", _when(_klass("ANSWERABLE"), _refused), False),
    FigureSpec("wrongful_refusal_rate[PARTIAL]", _when(_klass("PARTIAL"), _refused), False),
    FigureSpec("unanswerable_refused_rate", _when(_klass("UNANSWERABLE"), _refused), True, True),
    FigureSpec(
        "underspecified_clarified_or_refused_rate",
        _when(_klass("UNDERSPECIFIED"), lambda r: outcome_of(r.answer) != "answer"),
        True,
        True,
    ),
    FigureSpec(
        "underspecified_clarified_rate",
        _when(_klass("UNDERSPECIFIED"), lambda r: outcome_of(r.answer) == "clarification"),
        True,
    ),
    FigureSpec("recall@5", _metric("recall@5"), True),
    LEAKS,
)

FIGURES = {"demo": DEMO_FIGURES, "mtrag": MTRAG_FIGURES}


@dataclass
class Figure:
    value: float | None
    n: int
    bad: list[str]  # ids of the items counting against it

    def to_dict(self, spec: FigureSpec) -> dict[str, Any]:
        return {
            "value": None if self.value is None else round(self.value, 4),
            "n": self.n,
            "better": "higher" if spec.higher_is_better else "lower",
            "gated": spec.gated,
        }


def figure(spec: FigureSpec, results: Sequence[ItemResult]) -> Figure:
    pairs = [(r.item.id, v) for r in results if (v := spec.per_item(r)) is not None]
    values = [v for _, v in pairs]
    if spec.zero:
        value: float | None = float(sum(values))
    else:
        value = sum(values) / len(values) if values else None
    return Figure(value, len(values), [i for i, v in pairs if spec.bad(v)])


@dataclass
class SubsetRun:
    """One subset's answers and figures."""

    name: str
    strata: dict[str, list[str]]
    results: list[ItemResult]
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def specs(self) -> tuple[FigureSpec, ...]:
        return FIGURES[self.name]

    def figures(self) -> dict[str, Figure]:
        return {s.name: figure(s, self.results) for s in self.specs}

    def to_baseline(self) -> dict[str, Any]:
        figs = self.figures()
        bad: dict[str, list[str]] = {}
        for spec in self.specs:
            if "[" not in spec.name:
                for item_id in figs[spec.name].bad:
                    bad.setdefault(item_id, []).append(spec.name)
        return {
            **{k: v for k, v in self.info.items() if not k.endswith("seconds")},
            "ids": [x for ids in self.strata.values() for x in ids],
            "strata": self.strata,
            "figures": {s.name: figs[s.name].to_dict(s) for s in self.specs},
            "items": {
                r.item.id: {"outcome": outcome_of(r.answer), "bad": bad.get(r.item.id, [])}
                for r in self.results
            },
        }


# ---------------------------------------------------------------------------------------------
# Baseline and comparison


def load_baseline(path: Path = BASELINE) -> dict[str, Any]:
    """The committed baseline.

    Raises:
        GateError: missing or unreadable.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise GateError(f"{path}: cannot read the baseline ({e}); see evals/gate.py") from e
    if not isinstance(data, dict) or not isinstance(data.get("subsets"), dict):
        raise GateError(f"{path}: not a gate baseline (no 'subsets')")
    return data


def baseline_strata(baseline: dict[str, Any] | None, subset: str) -> dict[str, list[str]] | None:
    """The subset's stratum -> ids in the baseline, None when it has none."""
    section = (baseline or {}).get("subsets", {}).get(subset)
    return dict(section["strata"]) if section and section.get("strata") else None


@dataclass
class Check:
    """A gated figure against the baseline."""

    subset: str
    figure: str
    old: float | None
    new: float | None
    n: int
    tolerance: float
    better: str
    passed: bool
    failing: list[str]
    newly_failing: list[str]
    outcomes: dict[str, str]

    def message(self) -> str:
        def fmt(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.3f}"

        def ids(xs: list[str]) -> str:
            return ", ".join(f"{x} ({self.outcomes.get(x, '?')})" for x in xs) or "none"

        if self.figure == "leaks":
            head = f"{self.subset}: leaks {fmt(self.new)} (must be 0; baseline {fmt(self.old)})"
        else:
            head = (
                f"{self.subset}: {self.figure} {fmt(self.new)} vs baseline {fmt(self.old)} "
                f"({self.better} is better; n={self.n}, tolerance {self.tolerance:.3f} = one item)"
            )
        return (
            f"{head}\n  newly failing: {ids(self.newly_failing)}\n"
            f"  all failing: {ids(self.failing)}"
        )


def check(section: dict[str, Any], run: SubsetRun) -> list[Check]:
    """Every gated figure of `run` against the baseline `section` of its subset."""
    figs = run.figures()
    outcomes = {r.item.id: outcome_of(r.answer) for r in run.results}
    old_items = section.get("items", {})
    out = []
    for spec in run.specs:
        if not spec.gated:
            continue
        new = figs[spec.name]
        old = section.get("figures", {}).get(spec.name, {}).get("value")
        tolerance = 1 / new.n if new.n else 0.0
        if spec.zero:
            passed = not new.value
        elif old is None or new.value is None:
            passed = True
        elif spec.higher_is_better:
            passed = new.value >= old - tolerance - _EPS
        else:
            passed = new.value <= old + tolerance + _EPS
        newly = [
            x for x in new.bad if spec.name not in old_items.get(x, {}).get("bad", [spec.name])
        ]
        out.append(
            Check(
                run.name,
                spec.name,
                old,
                new.value,
                new.n,
                tolerance,
                "higher" if spec.higher_is_better else "lower",
                passed,
                new.bad,
                newly,
                outcomes,
            )
        )
    return out


def outcome_changes(section: dict[str, Any], run: SubsetRun) -> list[str]:
    """`id: old -> new` for the items whose outcome or failed figures differ from the baseline."""
    old_items = section.get("items", {})
    new_items = run.to_baseline()["items"]
    out = []
    for item_id, new in new_items.items():
        old = old_items.get(item_id)
        if old is None:
            out.append(f"{item_id}: not in the baseline -> {new['outcome']} {new['bad']}")
        elif old != new:
            out.append(f"{item_id}: {old['outcome']} {old['bad']} -> {new['outcome']} {new['bad']}")
    return out


def _git(*args: str) -> str | None:
    """git's output in the repository, None when git or the repository is not there."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def baseline_document(runs: Sequence[SubsetRun], old: dict[str, Any] | None) -> dict[str, Any]:
    """The baseline JSON: when and at which commit it was measured, and each subset's ids,
    figures and per-item outcomes (subsets not run are kept from `old`)."""
    settings = load_settings(environ={})
    commit = _git("rev-parse", "HEAD")
    changes = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    subsets = dict((old or {}).get("subsets", {}))
    for run in runs:
        subsets[run.name] = run.to_baseline()
    return {
        "about": "Quality gate baseline: written by `python -m evals.gate --write-baseline`, "
        "checked by tests/quality/test_quality_gate.py. Regenerate only as evals/gate.py says.",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit,
        "uncommitted_changes": None if changes is None else bool(changes),
        "settings": {
            "defaults": "load_settings(environ={})",
            "answerer": settings.llm.backend,
            "embedder": settings.embedder.backend,
        },
        "subsets": {name: subsets[name] for name in SUBSETS if name in subsets},
    }
