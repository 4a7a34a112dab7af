"""`techkb eval` end to end on a slice of the demo eval set, through typer's runner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from techkb.cli import app

REPO = Path(__file__).resolve().parents[2]
SLICE = ("q001", "q008", "q049", "q058", "q064")
CONTRACT = (
    "recall@5",
    "mrr@10",
    "ndcg@10",
    "citation_precision",
    "citation_recall",
    "citation_support",
    "refusal_precision",
    "refusal_recall",
    "wrongful_refusal_rate",
    "attribution_precision",
    "attribution_recall",
    "leaks",
    "latency_p50_ms",
    "latency_p95_ms",
    "rouge_score",
    "non_llm_string_similarity",
    "semantic_similarity",
    "non_llm_context_recall",
    "non_llm_context_precision_with_reference",
)
runner = CliRunner()


def test_bad_dataset_line_names_file_and_line(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"id": "a", "question": "q?", "answerable": true}\n{"id": "b", oops\n')
    result = runner.invoke(app, ["eval", str(data), "--store", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert f"{data}:2" in result.output and "invalid JSON" in result.output
    data.write_text(
        '{"id": "a", "messages": [{"role": "assistant", "content": "x"}], "answerable": true}\n'
    )
    result = runner.invoke(app, ["eval", str(data), "--store", str(tmp_path / "s")])
    assert result.exit_code == 2 and f"{data}:1" in result.output


def test_unreachable_judge_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tmp_path / "one.jsonl"
    data.write_text('{"id": "a", "question": "q?", "answerable": true}\n')
    env = {"TECHKB_LLM_BASE_URL": f"http://127.0.0.1:{port}/v1", "TECHKB_LLM_MODEL": "m"}
    result = runner.invoke(
        app, ["eval", str(data), "--store", str(tmp_path / "s"), "--judge"], env=env
    )
    assert result.exit_code == 1
    assert "judge" in result.output and "cannot be reached" in result.output


@pytest.mark.slow
def test_eval_end_to_end(demo_store_home: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(demo_store_home, store)  # the run publishes into <store>/evals/latest
    lines = (REPO / "evals" / "datasets" / "demo.jsonl").read_text().splitlines()
    chosen = [line for line in lines if json.loads(line)["id"] in SLICE]
    dataset = tmp_path / "slice.jsonl"
    dataset.write_text("\n".join(chosen) + "\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["eval", str(dataset), "--store", str(store), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert set(report) == {"summary", "items", "attribution", "settings"}
    summary = report["summary"]
    assert [k for k in CONTRACT if k not in summary] == []
    assert summary["leaks"] == 0 and summary["items"] == len(SLICE)
    item = report["items"][0]
    assert {"id", "answer", "refused", "citations", "retrieved", "latency_ms", "metrics"} <= set(
        item
    )
    a = report["attribution"]
    assert a["metric"] == "gold_cited" and a["method"] == "exact"
    assert set(a["contributors"]) >= {"itsc", "huaxin-robotics", "northlake-college"}
    shapley_sum = sum(c["shapley"] for c in a["contributors"].values())
    assert shapley_sum == pytest.approx(a["value_all"] - a["value_none"], abs=1e-4)
    cited = sum(len(i["citations"]) for i in report["items"])
    assert sum(c["citations"] for c in a["contributors"].values()) == cited
    assert '<img src="data:image/png;base64,' in (out / "report.html").read_text()
    assert "| metric | value |" in (out / "report.md").read_text()
    latest = store / "evals" / "latest"
    assert json.loads((latest / "report.json").read_text())["summary"] == summary
    assert (latest / "plots" / "shapley.png").is_file()

    again = runner.invoke(
        app,
        [
            "eval",
            str(dataset),
            "--store",
            str(store),
            "--out",
            str(tmp_path / "out2"),
            "--baseline",
            str(out / "report.json"),
            "--no-attribution",
            "--no-publish",
        ],
    )
    assert again.exit_code == 0, again.output
    assert "regressions against the baseline" in again.output
    assert "## Compared with" in (tmp_path / "out2" / "report.md").read_text()
