"""Report files: written, parseable, with tables, embedded plots and baseline flags."""

from __future__ import annotations

import json
from pathlib import Path

from evals.pipeline import publish_latest
from evals.report import EvalReport, breakdown, write_reports
from evals.run import compare


def _items() -> list[dict]:
    out = []
    for i, (persona, mode, lang) in enumerate(
        [("student", "ask", "en"), ("staff", "procedure", "en"), ("teacher", "exercise", "zh")]
    ):
        out.append(
            {
                "id": f"q{i}",
                "answer": "x [1]",
                "refused": False,
                "citations": [],
                "retrieved": [],
                "latency_ms": 100.0 + 50 * i,
                "metrics": {"recall@5": 1.0 - 0.5 * i, "citation_support": 0.5, "leaks": 0},
                "persona": persona,
                "mode": mode,
                "lang": lang,
            }
        )
    return out


def _report() -> EvalReport:
    summary = {"recall@5": 0.5, "leaks": 0, "latency_p50_ms": 150.0, "rouge_score": 0.3}
    attribution = {
        "metric": "gold_cited",
        "value_all": 0.8,
        "value_none": 0.1,
        "method": "exact",
        "contributors": {
            "itsc": {"citations": 3, "share": 0.75, "leave_one_out": 0.2, "shapley": 0.5},
            "amma": {"citations": 1, "share": 0.25, "leave_one_out": 0.1, "shapley": 0.2},
        },
    }
    baseline = {"recall@5": 0.9, "leaks": 0, "latency_p50_ms": 150.0}
    return EvalReport(
        summary=summary,
        items=_items(),
        attribution=attribution,
        settings={"dataset": "demo.jsonl", "baseline": "old.json"},
        comparison=compare(summary, baseline),
    )


def test_breakdown_groups_items() -> None:
    groups = breakdown(_items(), "lang", ["recall@5"])
    assert groups["en"] == {"n": 2.0, "recall@5": 0.75}
    assert groups["zh"]["recall@5"] == 0.0


def test_reports_written_and_parseable(tmp_path: Path) -> None:
    files = write_reports(_report(), tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    assert set(data) == {"summary", "items", "attribution", "settings"}
    assert data["attribution"]["contributors"]["itsc"]["shapley"] == 0.5
    md = (tmp_path / "report.md").read_text()
    assert "| metric | value |" in md and "| recall@5 | 0.5 |" in md
    assert "| itsc | 3 | 0.75 | 0.2 | 0.5 |" in md
    assert "REGRESSION" in md  # recall@5 fell from 0.9 to 0.5
    page = (tmp_path / "report.html").read_text()
    assert page.count('<img src="data:image/png;base64,') == 6
    pngs = sorted(p.name for p in (tmp_path / "plots").glob("*.png"))
    assert pngs == [
        "by_lang.png",
        "by_mode.png",
        "by_persona.png",
        "latency.png",
        "ledger.png",
        "shapley.png",
    ]
    assert all((tmp_path / "plots" / n).read_bytes().startswith(b"\x89PNG") for n in pngs)
    assert json.loads((tmp_path / "comparison.json").read_text())
    assert tmp_path / "report.html" in files


def test_publish_latest_copies_report_and_plots(tmp_path: Path) -> None:
    out, home = tmp_path / "out", tmp_path / "home"
    write_reports(_report(), out)
    publish_latest(out, home)
    publish_latest(out, home)  # replaces the previous one
    latest = home / "evals" / "latest"
    assert json.loads((latest / "report.json").read_text())["summary"]["recall@5"] == 0.5
    assert len(list((latest / "plots").glob("*.png"))) == 6
