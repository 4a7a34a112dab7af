"""The `techkb` command: the application's edge, where errors become messages and exit codes."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from assistant.errors import ConfigError, TechkbError
from assistant.settings import Settings, load_settings

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Shared technical knowledge base."
)
logger = logging.getLogger("techkb")

EXIT_PARTIAL = 3
EXIT_ERROR = 1

StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", help="Store directory (default $TECHKB_HOME or ./.techkb)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _settings(store: Path | None, **sections: dict[str, Any]) -> Settings:
    overrides: dict[str, dict[str, Any]] = {"paths": {"home": store}}
    overrides.update(sections)
    return load_settings(overrides)


def _fail(message: str, code: int = EXIT_ERROR) -> None:
    typer.echo(f"techkb: error: {message}", err=True)
    raise typer.Exit(code)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Folders to sync into the store.")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Parse, chunk and embed folders; unchanged files are skipped, removed ones dropped."""
    from assistant.registry import build_embedder, build_multilingual_embedder, build_store
    from ingestion.pipeline import Ingester

    try:
        settings = _settings(store)
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
        _fail(str(e))
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


def _identity(user: str | None, org: str | None, role: str | None, settings: Settings) -> Any:
    from assistant.access import validate_identity
    from assistant.types import Identity

    if user is not None:
        from assistant.errors import AccessError

        users_file = settings.paths.users_file
        if users_file is None or not users_file.is_file():
            raise AccessError(
                f"--user {user!r} needs a users file (--users FILE or TECHKB_USERS_FILE)"
            )
        import yaml

        data = yaml.safe_load(users_file.read_text(encoding="utf-8")) or {}
        record = (data.get("users") or {}).get(user)
        if not record:
            raise AccessError(f"{users_file}: no user {user!r}")
        return validate_identity(Identity(user, record.get("org"), record.get("role")))
    if (org is None) != (role is None):
        raise ConfigError("give both --org and --role, or neither (anonymous)")
    return validate_identity(Identity(None, org, role))


def _read_history(path: Path | None) -> list[Any]:
    from assistant.types import Turn

    if path is None:
        return []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: cannot read history: {e}") from e
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: history must be a JSON list of {{role, content}}")
    turns = []
    for i, item in enumerate(raw):
        if (
            not isinstance(item, dict)
            or item.get("role") not in ("user", "assistant")
            or not isinstance(item.get("content"), str)
        ):
            raise ConfigError(
                f'{path}: item {i} must be {{"role": user|assistant, "content": str}}'
            )
        turns.append(Turn(item["role"], item["content"]))
    return turns


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
    mode: Annotated[str, typer.Option("--mode", help="ask | procedure | exercise.")] = "ask",
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
        settings = _settings(store, paths={"home": store, "users_file": users})
        identity = _identity(user, org, role, settings)
        turns = _read_history(history)
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
        _fail(str(e), 2 if isinstance(e, ConfigError) else EXIT_ERROR)
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


def main() -> None:
    try:
        app()
    except ConfigError as e:
        typer.echo(f"techkb: error: {e}", err=True)
        sys.exit(2)
