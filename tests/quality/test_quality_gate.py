"""Quality gate: answer quality on fixed subsets must not fall below tests/quality/baseline.json.

The figures come from `evals.gate` (the same asking and scoring as `techkb eval`); a gated figure
may be worse than the baseline by at most one item's worth, and nothing may leak. When a change
is meant to move these figures, regenerate the baseline as the docstring of evals/gate.py says
(after checking the full dev sets), never to make this test pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.types import Answer
from evals import gate
from evals.datasets import EvalItem, load_dataset
from evals.run import ItemResult


@pytest.fixture(scope="module")
def baseline() -> dict[str, Any]:
    return gate.load_baseline()


def _failures(baseline: dict[str, Any], run: gate.SubsetRun) -> list[str]:
    section = baseline["subsets"][run.name]
    return [c.message() for c in gate.check(section, run) if not c.passed]


def test_baseline_subsets_are_what_their_strata_say(baseline: dict[str, Any]) -> None:
    """The recorded ids still exist and still fit their stratum (else: regenerate)."""
    items = {i.id: i for i in load_dataset(gate.DEMO_DATASET)}
    strata = {s.name: s for s in gate.DEMO_STRATA}
    recorded = baseline["subsets"]["demo"]["strata"]
    assert set(recorded) == set(strata)
    for name, ids in recorded.items():
        assert len(ids) == strata[name].count, name
        misfits = [x for x in ids if x not in items or not strata[name].test(items[x])]
        assert not misfits, f"demo stratum {name!r}: {misfits} no longer fit; regenerate"


def _result(item_id: str, refused: bool, answerable: bool = True, lead: float = 1.0) -> ItemResult:
    item = EvalItem(item_id, "q?", (), "", (), (), answerable)
    answer = Answer(answer="" if refused else "a.", refused=refused, mode="ask")
    metrics: dict[str, Any] = {"leaks": 0}
    if answerable:
        metrics["lead_recall"] = 0.0 if refused else lead
    return ItemResult(item, answer, [], 1.0, metrics)


def _failed(section: dict[str, Any], results: list[ItemResult]) -> list[gate.Check]:
    checks = gate.check(section, gate.SubsetRun("demo", {}, results, 0.0))
    return [c for c in checks if not c.passed]


def test_check_allows_one_item_and_names_the_items() -> None:
    before = [_result(f"a{n}", False) for n in range(10)] + [_result("u1", True, False)]
    old = gate.SubsetRun("demo", {"s": [r.item.id for r in before]}, before, 0.0)
    section = old.to_baseline()
    one = [_result("a0", True), *before[1:]]
    assert _failed(section, one) == []
    two = [_result("a0", True), _result("a1", True), *before[2:]]
    failed = _failed(section, two)
    assert {c.figure for c in failed} == {"lead_recall", "wrongful_refusal_rate"}
    message = failed[0].message()
    assert "baseline 1.000" in message and "0.800" in message
    assert "a0 (refusal), a1 (refusal)" in message
    leaky = [*before[:-1], _result("u1", True, False)]
    leaky[-1].metrics["leaks"] = 1
    failed = _failed(section, leaky)
    assert [c.figure for c in failed] == ["leaks"]


@pytest.fixture(scope="module")
def gate_embedder() -> Any:
    """The default (OpenVINO) embedder, as `python -m evals.gate` uses for its stores and asks:
    the same vectors as the baseline's, and about three times faster than torch."""
    return gate.default_embedder()


@pytest.mark.slow
def test_demo_quality_not_below_baseline(
    tmp_path: Path, gate_embedder: Any, multilingual: Any, baseline: dict[str, Any]
) -> None:
    run = gate.run_demo(
        strata=gate.baseline_strata(baseline, "demo"),
        embedder=gate_embedder,
        multilingual=multilingual,
        work=tmp_path,
    )
    failures = _failures(baseline, run)
    assert not failures, "\n".join(failures)


@pytest.mark.slow
def test_mtrag_quality_not_below_baseline(
    tmp_path: Path, gate_embedder: Any, multilingual: Any, baseline: dict[str, Any]
) -> None:
    root = gate.mtrag_root()
    if root is None:
        pytest.skip(
            f"mtrag-dev not found at {gate.mtrag_location()} (set ${gate.MTRAG_ENV} to run "
            "the mtrag part of the quality gate)"
        )
    strata = gate.baseline_strata(baseline, "mtrag")
    assert strata is not None, "the baseline has no mtrag section: regenerate it with the data"
    run = gate.run_mtrag(root, tmp_path, strata, embedder=gate_embedder, multilingual=multilingual)
    failures = _failures(baseline, run)
    assert not failures, "\n".join(failures)
