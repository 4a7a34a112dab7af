"""`techkb bench`: measure ingest, query, cold-start, scale and concurrency (see evals/bench)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from assistant.errors import TechkbError
from techkb.common import JsonOpt, app, fail, settings_for

EXIT_BAD_INPUT = 2  # bad settings or arguments (README exit codes)

_PART_HELP = "Part to run (repeatable): ingest, query, coldstart, scale, concurrency. Default: all."


@app.command()
def bench(
    part: Annotated[list[str] | None, typer.Option("--part", help=_PART_HELP)] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="One run, demo corpus, small stores (minutes).")
    ] = False,
    runs: Annotated[int | None, typer.Option("--runs", min=1, help="Repetitions.")] = None,
    size: Annotated[
        list[int] | None, typer.Option("--size", min=100, help="Scale store size (repeatable).")
    ] = None,
    store: Annotated[
        Path | None,
        typer.Option("--store", help="Existing store for the query part (default: temporary)."),
    ] = None,
    no_http: Annotated[bool, typer.Option("--no-http", help="Skip the HTTP timings.")] = False,
    corpus: Annotated[
        list[Path] | None,
        typer.Option(
            "--corpus",
            exists=True,
            file_okay=False,
            help="Folder for the ingest part (repeatable). Default: the demo and open corpora.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Benchmark techkb against a plain llama-index pipeline; ratios from the same run.

    The plain pipeline needs the bench extra: pip install -e '.[bench]'.
    """
    from evals.bench import PARTS
    from evals.bench.run import run_bench, to_markdown
    from evals.bench.timing import stderr_progress

    parts = part or list(PARTS)
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        fail(f"unknown --part {', '.join(unknown)}; available: {', '.join(PARTS)}", EXIT_BAD_INPUT)
    try:
        result = run_bench(
            settings_for(None),
            parts,
            quick=quick,
            runs=runs,
            sizes=sorted(size) if size else None,
            store=store,
            http=not no_http,
            corpora=corpus,
            progress=stderr_progress,
        )
    except TechkbError as e:
        fail(str(e))
        return
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        typer.echo(to_markdown(result))
