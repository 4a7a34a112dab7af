"""The `techkb` command: the application's edge, where errors become messages and exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from assistant.answer.registry import MODE_NAMES
from assistant.errors import ConfigError, TechkbError
from techkb.common import (
    EXIT_ERROR,
    EXIT_PARTIAL,
    JsonOpt,
    StoreOpt,
    app,
    fail,
    read_history,
    resolve_identity,
    settings_for,
)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Folders to sync into the store.")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    queue: Annotated[
        bool,
        typer.Option(
            "--queue",
            help="Queue a job per folder instead, for a `techkb serve` worker on this host "
            "(one that sees these paths) to run; prints the job id.",
        ),
    ] = False,
) -> None:
    """Parse, chunk and embed folders; unchanged files are skipped, removed ones dropped."""
    from assistant.registry import build_embedder, build_multilingual_embedder, build_store
    from ingestion.pipeline import Ingester

    if queue:
        _queue_ingest(paths, store, as_json)
        return
    try:
        settings = settings_for(store)
        kb = build_store(settings)
        try:
            ingester = Ingester(
                kb,
                build_embedder(settings),
                settings.ingestion,
                progress=sys.stderr.isatty(),
                multilingual=build_multilingual_embedder(settings),
            )
            report = ingester.ingest(paths)
        finally:
            kb.close()
    except TechkbError as e:
        fail(str(e))
        return
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        typer.echo(
            f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
            f"removed {report.removed}, failed {len(report.failed)}; "
            f"{report.chunks} chunks in the store ({report.seconds:.1f} s)"
        )
        for item in report.failed:
            typer.echo(f"  failed: {item['source']}: {item['error']}", err=True)
        for item in report.flagged:
            typer.echo(f"  flagged: {item['source']}: {item['reason']}", err=True)
    if report.failed:
        raise typer.Exit(EXIT_PARTIAL)


def _queue_ingest(paths: list[Path], store: Path | None, as_json: bool) -> None:
    """Queue one `root` job per folder (in the store's jobs database) and say which."""
    import socket

    from assistant.jobs import JobQueue

    try:
        settings = settings_for(store)
        for path in paths:
            if not path.is_dir():
                raise ConfigError(f"{path}: not a folder")
        jobs = JobQueue.open(settings.paths.home, settings.store.database_url)
        queued = [
            {
                "job_id": jobs.enqueue("root", root=str(path.resolve()), host=socket.gethostname()),
                "state": "queued",
                "root": str(path.resolve()),
            }
            for path in paths
        ]
    except TechkbError as e:
        fail(str(e), 2 if isinstance(e, ConfigError) else EXIT_ERROR)
        return
    if as_json:
        extra = {"jobs": queued} if len(queued) > 1 else {}
        typer.echo(json.dumps({**queued[0], **extra}, ensure_ascii=False))
        return
    for job in queued:
        typer.echo(f"{job['job_id']}\tqueued\t{job['root']}")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    store: StoreOpt = None,
    user: Annotated[
        str | None, typer.Option("--user", help="User name from the users file.")
    ] = None,
    org: Annotated[
        str | None, typer.Option("--org", help="Your organisation (contributor id).")
    ] = None,
    role: Annotated[
        str | None, typer.Option("--role", help="student | staff | teacher | admin.")
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help=f"{' | '.join(MODE_NAMES)}.")] = "ask",
    history: Annotated[
        Path | None, typer.Option("--history", help="JSON file of earlier turns.")
    ] = None,
    contributor: Annotated[
        list[str] | None, typer.Option("--contributor", help="Only these contributors.")
    ] = None,
    kind: Annotated[list[str] | None, typer.Option("--kind", help="Only these kinds.")] = None,
    edition: Annotated[
        list[str] | None, typer.Option("--edition", help="Only these editions.")
    ] = None,
    users: Annotated[Path | None, typer.Option("--users", help="Users file.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question from the knowledge base, with numbered citations."""
    from assistant.registry import build_assistant, build_store
    from assistant.retrieve import Filters

    try:
        settings = settings_for(store, paths={"home": store, "users_file": users})
        identity = resolve_identity(user, org, role, settings)
        turns = read_history(history)
        filters = Filters(
            tuple(contributor) if contributor else None,
            tuple(kind) if kind else None,
            tuple(edition) if edition else None,
        )
        kb = build_store(settings)
        try:
            answer = build_assistant(settings, kb).ask(
                question, identity=identity, history=turns, mode=mode, filters=filters
            )
        finally:
            kb.close()
    except TechkbError as e:
        fail(str(e), 2 if isinstance(e, ConfigError) else EXIT_ERROR)
        return
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    typer.echo(answer.answer)
    if answer.citations:
        typer.echo("")
        for c in answer.citations:
            where = f" — {c.locator}" if c.locator else ""
            typer.echo(f"[{c.n}] {c.title}{where} ({c.contributor}; {c.source})")
    for note in answer.notes:
        typer.echo(f"note: {note}", err=True)


# Subcommands kept in their own modules register themselves on `app` when imported here.
from techkb import cmd_bench, cmd_conversations, cmd_eval, cmd_serve, cmd_worker  # noqa: E402,F401


def main() -> None:
    try:
        app()
    except ConfigError as e:
        typer.echo(f"techkb: error: {e}", err=True)
        sys.exit(2)
