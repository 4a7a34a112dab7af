"""Answerability classes, key facts and fixed subsets of an eval dataset: loading, validation,
per-class figures on a hand-made run, the report tables, and `techkb eval --half/--where`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.errors import ConfigError
from assistant.types import Answer
from evals.datasets import EvalItem, half_of, load_dataset
from evals.metrics.refusal import class_figures
from evals.pipeline import select_items
from evals.report import EvalReport, class_rows, fact_rows, to_markdown
from evals.run import ItemResult, ItemScorer, summarize
from techkb.cli import app

REPO = Path(__file__).resolve().parents[2]
MTRAG = REPO.parent / "shared" / "dev-data" / "mtrag-dev" / "dataset.jsonl"


@dataclass(frozen=True)
class ClarifyingAnswer(Answer):
    """An answer that asks back (the assistant does not produce these yet)."""

    outcome: str = "clarification"


def _write(tmp_path: Path, *rows: dict) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def _row(i: int, **fields: object) -> dict:
    return {"id": f"i{i}", "question": f"What is thing {i}?", **fields}


def test_answerability_key_facts_and_extra_fields_load(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        _row(
            1,
            answerability="PARTIAL",
            key_facts=[["250 ?mm/s", "0\\.25 ?m/s"], ["TCP"]],
            wrong_facts=["500 ?mm/s"],
            multi_turn=["Follow-up"],
        ),
        {"id": "i2", "question": "扭矩是多少？", "answerable": False},
    )
    first, second = load_dataset(path)
    assert first.answerable and first.answerability == "PARTIAL"
    assert [len(f) for f in first.key_facts] == [2, 1]
    assert first.key_facts[0][1].search("0.25 M/S") and first.wrong_facts[0].search("500 mm/s")
    assert first.value_of("multi_turn") == ["Follow-up"] and first.lang == "en"
    assert second.answerability is None and second.lang == "zh"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "missing field 'answerable'"),
        ({"answerability": "MAYBE"}, "'answerability' must be one of ANSWERABLE"),
        ({"answerability": "UNDERSPECIFIED", "answerable": True}, "contradicts"),
        ({"answerable": True, "key_facts": ["250"]}, "key_facts[0] must be a non-empty list"),
        ({"answerable": True, "key_facts": [["ok"], []]}, "key_facts[1] must be a non-empty"),
        ({"answerable": True, "key_facts": [["ok", "(unclosed"]]}, "key_facts[0][1] is not a"),
        ({"answerable": True, "wrong_facts": "84"}, "'wrong_facts' must be a list"),
        ({"answerable": True, "wrong_facts": ["[a-"]}, "wrong_facts[0] is not a valid regex"),
    ],
)
def test_invalid_fields_name_line_and_field(tmp_path: Path, fields: dict, message: str) -> None:
    path = _write(tmp_path, _row(1, answerable=True), _row(2, **fields))
    with pytest.raises(ConfigError) as e:
        load_dataset(path)
    assert f"{path}:2:" in str(e.value) and message in str(e.value)


def test_halves_are_fixed_by_id_and_cover_the_set(tmp_path: Path) -> None:
    rows = [_row(i, answerable=True) for i in range(40)]
    items = load_dataset(_write(tmp_path, *rows))
    tune = select_items(items, None, None, half="tune")
    report = select_items(items, None, None, half="report")
    assert {i.id for i in tune}.isdisjoint(i.id for i in report)
    assert len(tune) + len(report) == 40 and min(len(tune), len(report)) >= 10
    assert (half_of("q001"), half_of("q002")) == ("tune", "report")  # pinned: never reshuffles
    reordered = load_dataset(_write(tmp_path, *reversed(rows)))
    assert {i.id for i in select_items(reordered, None, None, half="tune")} == {i.id for i in tune}


def test_where_filters_on_any_dataset_field(tmp_path: Path) -> None:
    items = load_dataset(
        _write(
            tmp_path,
            _row(1, answerable=True, gold_contributors=["clapnq"], collection="clapnq"),
            _row(2, answerable=True, gold_contributors=["fiqa"], multi_turn=["N/A"]),
            _row(3, answerable=False, gold_contributors=[]),
        )
    )

    def ids(*where: str, half: str | None = None) -> list[str]:
        return [i.id for i in select_items(items, None, None, where, half)]

    assert ids("gold_contributors=fiqa") == ["i2"]
    assert ids("collection=clapnq") == ["i1"]
    assert ids("gold_contributors=") == ["i3"]
    assert ids("answerable=false") == ["i3"]
    assert ids("multi_turn=N/A", "answerable=true") == ["i2"]
    with pytest.raises(ConfigError, match="expected FIELD=VALUE"):
        ids("collection")
    with pytest.raises(ConfigError, match="no eval items left"):
        ids("collection=fiqa")
    with pytest.raises(ConfigError, match="unknown half 'test'"):
        ids(half="test")


def test_cli_subset_errors_exit_2(tmp_path: Path) -> None:
    path = _write(tmp_path, _row(1, answerable=True, collection="clapnq"))
    runner = CliRunner()
    store = str(tmp_path / "s")
    result = runner.invoke(app, ["eval", str(path), "--store", store, "--half", "x"])
    assert result.exit_code == 2 and "unknown half 'x'" in result.output
    result = runner.invoke(app, ["eval", str(path), "--store", store, "--where", "collection=f"])
    assert result.exit_code == 2 and "no eval items left" in result.output


def _item(i: int, label: str, lang: str = "en", **kw: object) -> EvalItem:
    answerable = label in ("ANSWERABLE", "PARTIAL")
    extra = {"multi_turn": [kw.pop("slice")]} if "slice" in kw else {}
    return EvalItem(
        id=f"i{i}",
        question="q?",
        history=(),
        reference="",
        gold_sources=(),
        gold_contributors=(),
        answerable=answerable,
        lang=lang,
        answerability=label,
        extra=extra,
        **kw,  # type: ignore[arg-type]
    )


def _run() -> list[ItemResult]:
    """Ten hand-made answers: 4 ANSWERABLE (1 refused), 2 PARTIAL (1 refused), 2 UNANSWERABLE
    (1 refused), 2 UNDERSPECIFIED (1 clarified, 1 answered)."""
    from evals.metrics.facts import compile_pattern

    fact = ((compile_pattern("250 ?mm/s"),),)
    wrong = (compile_pattern("500 ?mm/s"),)
    said = Answer("Max 250 mm/s [1]. In T1.", False, "ask")
    late = Answer("In T1. Monitored. Max 250 mm/s [1].", False, "ask")
    wrong_answer = Answer("Max 500 mm/s [1]. In T1.", False, "ask")
    refusal = Answer("The knowledge base does not say.", True, "ask")
    rows = [
        (_item(1, "ANSWERABLE", key_facts=fact, slice="N/A"), said),
        (_item(2, "ANSWERABLE", key_facts=fact, wrong_facts=wrong, slice="N/A"), wrong_answer),
        (_item(3, "ANSWERABLE", "zh", key_facts=fact, slice="Follow-up"), late),
        (_item(4, "ANSWERABLE", slice="Follow-up"), refusal),
        (_item(5, "PARTIAL", key_facts=fact, wrong_facts=wrong), said),
        (_item(6, "PARTIAL"), refusal),
        (_item(7, "UNANSWERABLE"), refusal),
        (_item(8, "UNANSWERABLE"), said),
        (_item(9, "UNDERSPECIFIED"), ClarifyingAnswer("Which robot do you mean?", False, "ask")),
        (_item(10, "UNDERSPECIFIED"), said),
    ]
    scorer = ItemScorer(store=None, sentence_embed=None, ragas=None)  # type: ignore[arg-type]
    return [ItemResult(i, a, [], 10.0, scorer.score(i, a, [])) for i, a in rows]


def test_per_class_and_key_fact_figures_of_a_hand_made_run() -> None:
    results = _run()
    s = summarize(results)
    assert s["wrongful_refusal_rate[ANSWERABLE]"] == 0.25
    assert s["wrongful_refusal_rate[PARTIAL]"] == 0.5
    assert s["refusal_rate[UNANSWERABLE]"] == 0.5
    assert s["clarification_rate[UNDERSPECIFIED]"] == 0.5
    assert s["clarify_or_refuse_rate[UNDERSPECIFIED]"] == 0.5
    # items 1, 2, 3, 5 have key facts: 1 and 5 state it up front, 3 late, 2 not at all
    assert s["key_fact_recall"] == 0.75 and s["lead_recall"] == 0.5
    assert s["lead_recall[lang=zh]"] == 0.0 and s["lead_recall[lang=en]"] == pytest.approx(0.6667)
    assert s["wrong_fact_rate"] == 0.5 and s["wrong_fact_rate[mode=ask]"] == 0.5
    assert "wrong_fact" not in s
    # the existing keys stay (UNDERSPECIFIED counts as unanswerable there, clarified or not)
    assert s["wrongful_refusal_rate"] == pytest.approx(2 / 6, abs=1e-4)
    assert s["refusal_recall"] == 0.25 and s["leaks"] == 0 and s["recall@5"] is None
    fits = [r.metrics["outcome_fits"] for r in results]
    assert fits == [1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    items = [r.to_dict() for r in results]
    assert items[8]["outcome"] == "clarification" and items[3]["outcome"] == "refusal"
    assert items[0]["multi_turn"] == "N/A" and items[4]["multi_turn"] is None


def test_class_figures_leave_out_absent_classes() -> None:
    assert class_figures([("UNANSWERABLE", "refusal"), (None, "answer")]) == {
        "refusal_rate[UNANSWERABLE]": 1.0
    }


def test_report_tables_for_classes_key_facts_and_slices() -> None:
    results = _run()
    items = [r.to_dict() for r in results]
    assert class_rows(items)[-1] == [
        "UNDERSPECIFIED",
        2,
        0.5,
        0.0,
        0.5,
        "clarify_or_refuse_rate",
        0.5,
    ]
    rows = {r[0]: r for r in fact_rows(items)}
    assert rows["all"] == ["all", 4, 0.5, 0.75, 0.5]
    assert rows["language zh"][1:3] == [1, 0.0]
    report = EvalReport(summarize(results), items, None, {"dataset": "hand.jsonl"})
    md = to_markdown(report)
    assert "## Answerability classes" in md and "## Key facts" in md
    assert "## By multi-turn slice" in md and "| Follow-up | 2 |" in md
    assert "lead_recall[lang=zh]" not in md.split("## Answerability")[0]  # not in the summary


@pytest.mark.skipif(not MTRAG.is_file(), reason="mtrag-dev is not checked out next to the repo")
def test_mtrag_dev_loads_with_its_classes_and_splits_by_collection() -> None:
    items = load_dataset(MTRAG)
    counts = {c: sum(i.answerability == c for i in items) for c in ("ANSWERABLE", "PARTIAL")}
    assert counts == {"ANSWERABLE": 116, "PARTIAL": 25}
    clapnq = select_items(items, None, None, ["gold_contributors=clapnq"])
    fiqa = select_items(items, None, None, ["gold_contributors=fiqa"])
    none = select_items(items, None, None, ["gold_contributors="])
    assert len(clapnq) + len(fiqa) + len(none) == len(items)
