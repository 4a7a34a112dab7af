"""What every `techkb` subcommand shares: the typer app, common options, identity and errors."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from assistant.errors import ConfigError
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


def settings_for(store: Path | None, **sections: dict[str, Any]) -> Settings:
    overrides: dict[str, dict[str, Any]] = {"paths": {"home": store}}
    overrides.update(sections)
    return load_settings(overrides)


def fail(message: str, code: int = EXIT_ERROR) -> None:
    typer.echo(f"techkb: error: {message}", err=True)
    raise typer.Exit(code)


def write_jsonl(items: list[dict[str, Any]], out: Path | None, noun: str) -> None:
    """Items as JSON lines to `out`, or to stdout when None (saying on stderr what was written)."""
    text = "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {len(items)} {noun} to {out}", err=True)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def resolve_identity(
    user: str | None, org: str | None, role: str | None, settings: Settings
) -> Any:
    """The identity from --user (users file) or --org/--role; anonymous when none is given."""
    from assistant.access import validate_identity
    from assistant.types import Identity

    if user is not None:
        from assistant.errors import AccessError
        from assistant.users import UserStore

        users_file = settings.paths.users_file
        if users_file is None or not users_file.is_file():
            raise AccessError(
                f"--user {user!r} needs a users file (--users FILE or TECHKB_USERS_FILE)"
            )
        record = UserStore(users_file).get(user)
        if record is None:
            raise AccessError(f"{users_file}: no user {user!r}")
        return validate_identity(record.identity)
    if (org is None) != (role is None):
        raise ConfigError("give both --org and --role, or neither (anonymous)")
    return validate_identity(Identity(None, org, role))


def read_history(path: Path | None) -> list[Any]:
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
