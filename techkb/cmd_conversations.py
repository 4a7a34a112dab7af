"""`techkb conversations delete|export`: the conversations signed-in users keep in the web app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from assistant.errors import TechkbError
from techkb.common import JsonOpt, StoreOpt, app, fail, settings_for, write_jsonl

conversations_app = typer.Typer(
    no_args_is_help=True, help="The conversations signed-in users keep in the web app."
)
app.add_typer(conversations_app, name="conversations")
UserArg = Annotated[
    str, typer.Option("--user", help="The user name (as in the users file or the database).")
]


@conversations_app.command("delete")
def conversations_delete(user: UserArg, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Delete every conversation of a user (and the user's language choice) from the store."""
    from assistant.conversations import ConversationStore

    try:
        settings = settings_for(store)
        deleted = ConversationStore(settings.paths.home, settings.store.database_url).delete_user(
            user
        )
    except TechkbError as e:
        fail(str(e))
        return
    if as_json:
        typer.echo(json.dumps({"user": user, "deleted": deleted}, ensure_ascii=False))
    else:
        typer.echo(f"deleted {deleted} conversation(s) of {user}")


@conversations_app.command("export")
def conversations_export(
    user: UserArg,
    store: StoreOpt = None,
    users: Annotated[Path | None, typer.Option("--users", help="Users file.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="JSONL file (default stdout).")] = None,
) -> None:
    """A user's own conversations as JSONL, as that user may read them now (answers citing
    sources the user may no longer see are withheld)."""
    from assistant.conversations import ConversationStore
    from techkb.common import resolve_identity

    try:
        settings = settings_for(store, paths={"home": store, "users_file": users})
        identity = resolve_identity(user, None, None, settings)
        items = ConversationStore(settings.paths.home, settings.store.database_url).export(identity)
    except TechkbError as e:
        fail(str(e))
        return
    write_jsonl(items, out, "conversation(s)")
