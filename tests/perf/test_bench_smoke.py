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


def test_a_missing_bench_extra_names_the_install_command() -> None:
    from assistant.errors import ConfigError
    from evals.bench import import_bench

    with pytest.raises(ConfigError, match=r"pip install -e '\.\[bench\]'"):
        import_bench("llama_index.no_such_reader")


def test_the_same_budget_chunk_size_gives_techkb_s_chunk_count() -> None:
    from llama_index.core import Document

    from evals.bench.ingest import DEFAULT_CHUNK_SIZE, same_budget_chunk_size, split

    words = [f"word{i % 97}" for i in range(6000)]
    text = ". ".join(" ".join(words[i : i + 12]) for i in range(0, len(words), 12))
    docs = [Document(text=text, metadata={"file_name": "a.txt"})]
    default = len(split(docs, DEFAULT_CHUNK_SIZE))
    target = default // 4  # as on the open corpus: techkb makes a quarter of the chunks
    size = same_budget_chunk_size(docs, target)
    assert size > DEFAULT_CHUNK_SIZE
    assert abs(len(split(docs, size)) - target) <= max(1, target // 20)


@pytest.mark.slow
def test_ingest_part_compares_at_the_same_chunk_budget(tmp_path: Path) -> None:
    from assistant.settings import load_settings
    from evals.bench.run import run_bench, to_markdown

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n in range(2):
        steps = [
            " ".join(f"Check torque {n}.{s}.{w} on the arm." for w in range(30)) for s in range(4)
        ]
        sections = [f"## Step {s}\n\n{text}" for s, text in enumerate(steps)]
        (corpus / f"manual-{n}.md").write_text(f"# Manual {n}\n\n" + "\n\n".join(sections))
    settings = load_settings({"paths": {"home": tmp_path / "home"}}, environ={})
    result = run_bench(settings, ["ingest"], quick=True, corpora=[corpus], progress=lambda m: None)
    (ing,) = result["parts"]["ingest"]
    chunks = ing["chunks"]
    assert chunks["techkb"] > 0
    assert abs(chunks["plain_same_budget"] - chunks["techkb"]) <= max(1, chunks["techkb"] // 10)
    assert chunks["plain"] >= chunks["plain_same_budget"]
    for name in ("techkb", "techkb_ml", "plain_same_budget", "plain"):
        assert ing["tokens_embedded"][name] > 0
        assert ing["chunks_per_s"][name] > 0 and ing["tokens_per_s"][name] > 0
    assert ing["speedup_same_budget"] > 0 and ing["speedup_vs_plain"] > 0
    assert "same budget" in to_markdown(result)
