"""`techkb bench`: argument errors, and a tiny scale run that measures a real store."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from techkb.cli import app


def test_unknown_part_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["bench", "--part", "nope"])
    assert result.exit_code == 2
    assert "available: ingest, query, coldstart, scale" in result.output


@pytest.mark.slow
def test_tiny_scale_run_grows_the_store_and_reports_each_size(
    demo_store_home: Path, tmp_path: Path
) -> None:
    from assistant.settings import load_settings
    from evals.bench.run import run_bench, to_markdown

    settings = load_settings(
        {"paths": {"home": tmp_path}, "embedder": {"backend": "sentence-transformers"}},
        environ={},
    )
    messages: list[str] = []
    result = run_bench(
        settings,
        ["scale"],
        quick=True,
        sizes=[300, 700],
        store=demo_store_home,
        progress=messages.append,
    )
    rows = result["parts"]["scale"]["sizes"]
    assert [r["chunks"] for r in rows] == [300, 700]
    for row in rows:
        assert row["add_chunks_per_s"] > 0 and row["rss_mb"] > 0
        assert row["plain_unfiltered_vector"]["p50_ms"] > 0
        for name in ("dense_with_visibility_staff", "hybrid_english_staff", "hybrid_staff"):
            assert row[name]["p50_ms"] > 0 and row[f"{name}_vs_plain_p50"] > 0
        assert row["ask_extractive"]["p50_ms"] > 0
        assert row["serving_rss_mb"] > 0
    assert any("700 chunks" in m for m in messages)
    table = to_markdown(result)
    assert "| 700 |" in table
