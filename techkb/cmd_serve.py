"""`techkb serve`, `techkb users ...`, `techkb feedback export` and `techkb ledger`."""

from __future__ import annotations

import csv
import getpass
import json
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from assistant.errors import ConfigError, TechkbError
from techkb.common import (
    JsonOpt,
    StoreOpt,
    app,
    fail,
    resolve_identity,
    settings_for,
    write_jsonl,
)

UsersOpt = Annotated[
    Path | None,
    typer.Option("--users", help="Users file (default $TECHKB_USERS_FILE)."),
]
users_app = typer.Typer(
    no_args_is_help=True,
    help="Manage who may sign in and their API tokens: in the users file, or in the database "
    "when store.database_url is set.",
)
feedback_app = typer.Typer(no_args_is_help=True, help="The answer ratings users gave.")
app.add_typer(users_app, name="users")
app.add_typer(feedback_app, name="feedback")


def _ingest_factory(settings: Any) -> Any:
    """Upload ingestion: an Ingester with its own store handle, opened in the upload thread."""

    def factory(services: Any) -> Any:
        from assistant.registry import build_store
        from ingestion.pipeline import Ingester

        local = threading.local()
        retriever = services.assistant.retriever

        def ingest(root: Path, key: str | None = None, progress: Any = None) -> dict[str, Any]:
            if not hasattr(local, "ingester"):
                local.ingester = Ingester(
                    build_store(settings),  # SQLite handles belong to the thread that opens them
                    retriever.embedder,
                    settings.ingestion,
                    progress=False,
                    multilingual=retriever.multilingual,
                )
            report = local.ingester.ingest([root], [key], progress=progress)
            return report.to_dict()  # type: ignore[no-any-return]

        return ingest

    return factory


def build_web_services(settings: Any, users: Path | None = None) -> Any:
    """The web services with upload ingestion wired in (used by `serve` and the tests)."""
    from ingestion.parse import SUPPORTED_SUFFIXES
    from ui.server import build_services

    return build_services(
        settings,
        users,
        ingest_factory=_ingest_factory(settings),
        supported=SUPPORTED_SUFFIXES,
    )


@app.command()
def serve(
    store: StoreOpt = None,
    host: Annotated[str | None, typer.Option("--host", help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port.")] = None,
    users: UsersOpt = None,
) -> None:
    """Run the web app at /, the REST API under /api/ and an OpenAI-compatible API at /v1/."""
    import uvicorn

    from ui.server import create_app

    try:
        settings = settings_for(
            store, paths={"home": store, "users_file": users}, ui={"host": host, "port": port}
        )
        services = build_web_services(settings)
    except TechkbError as e:
        fail(str(e), 2 if isinstance(e, ConfigError) else 1)
        return
    try:
        web = create_app(services, ui=True)
        who = f"users in {services.users.location}" if services.users else "anonymous"
        typer.echo(
            f"techkb: serving {settings.paths.home} at http://{settings.ui.host}:"
            f"{settings.ui.port}/ ({who})",
            err=True,
        )
        uvicorn.run(web, host=settings.ui.host, port=settings.ui.port, log_level="warning")
    finally:
        services.close()


# -- users ----------------------------------------------------------------------------------------
def _user_store(users: Path | None, store: Path | None = None) -> Any:
    """The users file, or the database when `store.database_url` is set (not both)."""
    from techkb.common import user_store

    found = user_store(settings_for(store, paths={"home": store, "users_file": users}))
    if found is None:
        raise ConfigError(
            "no users file: give --users FILE or set TECHKB_USERS_FILE (or keep users in the "
            "database: set store.database_url / TECHKB_STORE__DATABASE_URL)"
        )
    return found


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise ConfigError("the two passwords differ")
    return first


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    org: Annotated[str, typer.Option("--org", help="Organisation (contributor id, a slug).")],
    role: Annotated[str, typer.Option("--role", help="student | staff | teacher | admin.")],
    users: UsersOpt = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite an existing user.")] = False,
) -> None:
    """Add a user; the password is stored only as an scrypt hash."""
    try:
        store = _user_store(users)
        store.add(name, org, role, _read_password(password_stdin), replace=replace)
    except TechkbError as e:
        fail(str(e), 2)
        return
    typer.echo(f"added {name} ({org}, {role}) to {store.location}")


@users_app.command("list")
def users_list(users: UsersOpt = None, as_json: JsonOpt = False) -> None:
    """List users (never their hashes)."""
    try:
        rows = [
            {
                "name": u.name,
                "org": u.org,
                "role": u.role,
                "tokens": sum(1 for t in u.tokens if not t.get("revoked")),
            }
            for u in _user_store(users).list()
        ]
    except TechkbError as e:
        fail(str(e), 2)
        return
    if as_json:
        typer.echo(json.dumps({"users": rows}, ensure_ascii=False))
        return
    for r in rows:
        typer.echo(f"{r['name']}\t{r['org']}\t{r['role']}\t{r['tokens']} active token(s)")


@users_app.command("remove")
def users_remove(
    name: Annotated[str, typer.Argument()], users: UsersOpt = None, store: StoreOpt = None
) -> None:
    """Remove a user, their tokens, and the conversations they kept in the web app."""
    from assistant.conversations import CONVERSATIONS_FILE, ConversationStore

    try:
        settings = settings_for(store, paths={"home": store, "users_file": users})
        _user_store(users, store).remove(name)
        database_url, home = settings.store.database_url, settings.paths.home
        deleted = 0
        if database_url or (home / CONVERSATIONS_FILE).is_file():
            deleted = ConversationStore(home, database_url).delete_user(name)
    except TechkbError as e:
        fail(str(e))
        return
    typer.echo(f"removed {name} and {deleted} conversation(s)")


@users_app.command("token")
def users_token(
    name: Annotated[str, typer.Argument()],
    users: UsersOpt = None,
    label: Annotated[str, typer.Option("--label", help="What the token is for.")] = "",
    revoke: Annotated[
        str | None, typer.Option("--revoke", help="Revoke the token with this id.")
    ] = None,
    revoke_all: Annotated[bool, typer.Option("--revoke-all", help="Revoke all.")] = False,
) -> None:
    """Issue an API bearer token (printed once, stored as a hash), or revoke tokens."""
    try:
        store = _user_store(users)
        if revoke is not None or revoke_all:
            n = store.revoke_token(name, None if revoke_all else revoke)
            typer.echo(f"revoked {n} token(s) of {name}")
            return
        token_id, token = store.issue_token(name, label)
    except TechkbError as e:
        fail(str(e))
        return
    typer.echo(
        f"token id {token_id} for {name} (shown once; revoke with --revoke {token_id}):", err=True
    )
    typer.echo(token)


# -- feedback and ledger --------------------------------------------------------------------------
@feedback_app.command("export")
def feedback_export(
    store: StoreOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="JSONL file (default stdout).")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Exporting admin.")] = None,
    org: Annotated[str | None, typer.Option("--org", help="Exporting admin's org.")] = None,
    role: Annotated[str | None, typer.Option("--role", help="admin.")] = None,
    users: UsersOpt = None,
) -> None:
    """Rated answers as eval-dataset JSONL (admins only; only what that admin may read: the
    questions of its own org's users and of anonymous callers, citing chunks it may see)."""
    from assistant.feedback import FeedbackStore

    try:
        settings = settings_for(store, paths={"home": store, "users_file": users})
        identity = resolve_identity(user, org, role, settings)
        items = FeedbackStore(settings.paths.home, settings.store.database_url).export_items(
            identity
        )
    except TechkbError as e:
        fail(str(e), 2 if isinstance(e, ConfigError) else 1)
        return
    write_jsonl(items, out, "items")


LEDGER_FIELDS = ["contributor", "citations", "answers", "up", "down"]


@app.command()
def ledger(
    store: StoreOpt = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Also write CSV here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Whose documents answers cited, how often, and how those answers were rated."""
    from assistant.feedback import FeedbackStore

    try:
        settings = settings_for(store)
        rows = FeedbackStore(settings.paths.home, settings.store.database_url).ledger()
    except TechkbError as e:
        fail(str(e))
        return
    if csv_out is not None:
        with csv_out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, LEDGER_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
    if as_json:
        typer.echo(json.dumps({"ledger": rows}, ensure_ascii=False))
        return
    width = max([len("contributor"), *(len(r["contributor"]) for r in rows)])
    typer.echo(f"{'contributor':<{width}}  citations  answers     up   down")
    for r in rows:
        typer.echo(
            f"{r['contributor']:<{width}}  {r['citations']:>9}  {r['answers']:>7}  "
            f"{r['up']:>5}  {r['down']:>5}"
        )
    if not rows:
        typer.echo("(no answers logged yet)")
