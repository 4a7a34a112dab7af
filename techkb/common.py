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
    """The identity from --user (the users file, or the database when `store.database_url` is
    set) or --org/--role; anonymous when none is given."""
    from assistant.access import validate_identity
    from assistant.types import Identity

    if user is not None:
        from assistant.errors import AccessError

        users = user_store(settings, must_exist=True)
        if users is None:
            raise AccessError(
                f"--user {user!r} needs a users file (--users FILE or TECHKB_USERS_FILE) or "
                "store.database_url"
            )
        record = users.get(user)
        if record is None:
            raise AccessError(f"{users.location}: no user {user!r}")
        return validate_identity(record.identity)
    if (org is None) != (role is None):
        raise ConfigError("give both --org and --role, or neither (anonymous)")
    return validate_identity(Identity(None, org, role))


def user_store(settings: Settings, *, must_exist: bool = False) -> Any:
    """The users of these settings (`assistant.users.open_users`): the database when
    `store.database_url` is set, else the users file; None when neither is set, or when
    `must_exist` and the users file does not exist.

    Raises:
        ConfigError: both a users file and a database URL are set.
    """
    from assistant.users import open_users

    database_url = settings.store.database_url
    users_file = settings.paths.users_file
    if must_exist and not database_url and users_file is not None and not users_file.is_file():
        return None
    return open_users(users_file, settings.paths.home, database_url)


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
