"""`techkb eval`: run an eval dataset and write report.json, report.md and report.html."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assistant.errors import ConfigError, TechkbError
from techkb.common import EXIT_ERROR, StoreOpt, app, fail, settings_for


@app.command("eval")
def eval_command(
    dataset: Annotated[Path, typer.Argument(help="Eval dataset (JSONL, one item a line).")],
    store: StoreOpt = None,
    out: Annotated[
        Path, typer.Option("--out", help="Report folder (report.json, .md, .html, plots/).")
    ] = Path("eval-out"),
    judge: Annotated[
        bool,
        typer.Option(
            "--judge",
            help="Add LLM-judged metrics, judged by TECHKB_LLM_BASE_URL / TECHKB_LLM_MODEL.",
        ),
    ] = False,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Earlier report.json to compare with.")
    ] = None,
    only: Annotated[
        str | None, typer.Option("--only", help="Only items with this tag, mode, persona or lang.")
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            help="Only items whose dataset FIELD is VALUE (FIELD=VALUE; a list field holds it; "
            "FIELD= means absent or empty). Repeat to require several.",
        ),
    ] = None,
    half: Annotated[
        str | None,
        typer.Option(
            "--half",
            help="Only the fixed half of the items: tune | report (by a hash of the item id).",
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N items.")] = None,
    attribution: Annotated[
        bool,
        typer.Option(
            "--attribution/--no-attribution", help="Contributor values (Shapley, leave-one-out)."
        ),
    ] = True,
    attribution_metric: Annotated[
        str,
        typer.Option(
            "--attribution-metric",
            help="Per-item value for contributor values: gold_cited | citation_recall | rouge_l.",
        ),
    ] = "gold_cited",
    permutations: Annotated[
        int, typer.Option("--permutations", help="Monte Carlo permutations beyond 10 contributors.")
    ] = 200,
    publish: Annotated[
        bool,
        typer.Option(
            "--publish/--no-publish", help="Also copy the report to <store>/evals/latest/."
        ),
    ] = True,
) -> None:
    """Evaluate answers, citations, refusals and contributor attribution on a dataset."""
    from evals.datasets import ANSWERABILITY
    from evals.pipeline import EvalOptions, run_eval

    options = EvalOptions(
        judge=judge,
        baseline=baseline,
        only=only,
        limit=limit,
        where=tuple(where or ()),
        half=half,
        attribution=attribution,
        attribution_metric=attribution_metric,
        permutations=permutations,
        publish=publish,
    )
    try:
        report = run_eval(settings_for(store), dataset, out, options)
    except TechkbError as e:
        fail(str(e), 2 if isinstance(e, ConfigError) else EXIT_ERROR)
        return
    s = report.summary
    keys = ("recall@5", "mrr@10", "citation_precision", "citation_recall", "citation_support")
    typer.echo(", ".join(f"{k} {s.get(k)}" for k in keys))
    typer.echo(
        f"refusal P/R {s.get('refusal_precision')}/{s.get('refusal_recall')}, wrongful "
        f"{s.get('wrongful_refusal_rate')}, leaks {s.get('leaks')}, latency p50/p95 "
        f"{s.get('latency_p50_ms')}/{s.get('latency_p95_ms')} ms"
    )
    classes = [k for k in s if k.endswith("]") and k.rsplit("[", 1)[-1][:-1] in ANSWERABILITY]
    if classes:
        typer.echo(", ".join(f"{k} {s[k]}" for k in classes))
    if s.get("key_fact_recall") is not None or s.get("wrong_fact_rate") is not None:
        typer.echo(
            f"lead recall {s.get('lead_recall')}, key-fact recall {s.get('key_fact_recall')}, "
            f"wrong-fact rate {s.get('wrong_fact_rate')}"
        )
    if report.comparison:
        worse = [r["metric"] for r in report.comparison if r["regression"]]
        typer.echo(f"regressions against the baseline: {', '.join(worse) or 'none'}")
    typer.echo(f"report: {out / 'report.html'} ({s.get('items')} items, {s.get('seconds')} s)")
