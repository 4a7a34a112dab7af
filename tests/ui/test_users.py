"""The users file, the users in the database, and `techkb users ...`: hashes only, atomic 0600
writes, tokens, validation; every store behaves alike (the file, the database on SQLite and on
PostgreSQL)."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from assistant.errors import AuthError, ConfigError, NotFoundError, ValidationError
from assistant.settings import load_settings
from assistant.types import Identity
from assistant.users import Users, UserStore, check_password, hash_password, open_users
from assistant.users_db import DatabaseUserStore
from techkb.cli import app
from techkb.common import resolve_identity

runner = CliRunner()


def test_password_hash_is_salted_scrypt_and_checks() -> None:
    a, b = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert a != b and a.startswith("scrypt$16384$8$1$")
    assert "s3cret-pass" not in a
    assert check_password("s3cret-pass", a)
    assert not check_password("s3cret-pasS", a)
    assert not check_password("s3cret-pass", "bcrypt$garbage")


def test_store_add_verify_and_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    users = UserStore(path)
    users.add("ana", "northlake-college", "teacher", "long enough pw")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = path.read_text()
    assert "long enough pw" not in raw
    assert yaml.safe_load(raw)["users"]["ana"]["org"] == "northlake-college"
    assert users.verify_password("ana", "long enough pw") == Identity(
        "ana", "northlake-college", "teacher"
    )
    assert users.verify_password("ana", "long enough pw").role == "teacher"  # cached path
    with pytest.raises(AuthError):
        users.verify_password("ana", "wrong password")
    with pytest.raises(AuthError):
        users.verify_password("nobody", "long enough pw")
    assert not list(tmp_path.glob(".users-*")), "temp files are cleaned up"


@pytest.mark.parametrize(
    ("name", "org", "role"),
    [
        ("ana", "Northlake College", "teacher"),
        ("ana", "northlake-college", "dean"),
        ("../ana", "northlake-college", "student"),
    ],
)
def test_store_rejects_bad_fields(tmp_path: Path, name: str, org: str, role: str) -> None:
    with pytest.raises(ValidationError):
        UserStore(tmp_path / "u.yaml").add(name, org, role, "long enough pw")


def test_tokens_issue_and_revoke(tmp_path: Path) -> None:
    users = UserStore(tmp_path / "users.yaml")
    users.add("bo", "meridian-cnc", "staff", "long enough pw")
    token_id, token = users.issue_token("bo", "ci")
    assert token not in (tmp_path / "users.yaml").read_text()
    assert users.verify_token(token).user == "bo"
    assert users.revoke_token("bo", token_id) == 1
    with pytest.raises(AuthError):
        users.verify_token(token)
    with pytest.raises(NotFoundError):
        users.revoke_token("bo", "nope")


def test_users_cli_add_list_token_remove(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    args = ["users", "add", "cy", "--org", "donghai-polytechnic", "--role", "student"]
    result = runner.invoke(
        app, [*args, "--users", str(path), "--password-stdin"], input="pw for cy 123\n"
    )
    assert result.exit_code == 0, result.output
    assert "pw for cy 123" not in path.read_text()
    assert UserStore(path).verify_password("cy", "pw for cy 123").org == "donghai-polytechnic"

    dup = runner.invoke(app, [*args, "--users", str(path), "--password-stdin"], input="x" * 9)
    assert dup.exit_code == 2 and "already exists" in dup.output

    listed = runner.invoke(app, ["users", "list", "--users", str(path), "--json"])
    assert json.loads(listed.stdout)["users"] == [
        {"name": "cy", "org": "donghai-polytechnic", "role": "student", "tokens": 0}
    ]

    issued = runner.invoke(app, ["users", "token", "cy", "--users", str(path)])
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[-1]
    assert UserStore(path).verify_token(token).user == "cy"
    revoked = runner.invoke(app, ["users", "token", "cy", "--users", str(path), "--revoke-all"])
    assert "revoked 1" in revoked.stdout
    with pytest.raises(AuthError):
        UserStore(path).verify_token(token)

    settings = load_settings({"paths": {"users_file": path}}, environ={})
    assert resolve_identity("cy", None, None, settings).role == "student"

    removed = runner.invoke(app, ["users", "remove", "cy", "--users", str(path)])
    assert removed.exit_code == 0
    assert UserStore(path).get("cy") is None
    gone = runner.invoke(app, ["users", "remove", "cy", "--users", str(path)])
    assert gone.exit_code == 1


def test_users_cli_prompts_and_confirms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["first password", "second password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    path = tmp_path / "users.yaml"
    result = runner.invoke(
        app, ["users", "add", "dee", "--org", "amma", "--role", "admin", "--users", str(path)]
    )
    assert result.exit_code == 2 and "differ" in result.output
    assert not path.exists()


# -- one interface, two stores: the users file and the database (SQLite file or PostgreSQL) -----
@pytest.fixture(params=["file", "database-sqlite", "database-postgresql"])
def users_at(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Users]:
    """Opens the same users again each call (as another worker would)."""
    if request.param == "file":
        return lambda: UserStore(tmp_path / "users.yaml")
    url = None if request.param == "database-sqlite" else request.getfixturevalue("database_url")
    return lambda: DatabaseUserStore(tmp_path, url)


def test_every_store_adds_verifies_and_removes(users_at: Callable[[], Users]) -> None:
    users = users_at()
    users.add("ana", "northlake-college", "teacher", "long enough pw")
    other = users_at()  # another process: sees the new user at once
    assert other.verify_password("ana", "long enough pw") == Identity(
        "ana", "northlake-college", "teacher"
    )
    assert other.verify_password("ana", "long enough pw").role == "teacher"  # cached path
    stored = other.get("ana")
    assert stored is not None and stored.password.startswith("scrypt$")
    assert "long enough pw" not in stored.password
    for name, password in (("ana", "wrong password"), ("nobody", "long enough pw")):
        with pytest.raises(AuthError, match="wrong user name or password"):
            other.verify_password(name, password)
    with pytest.raises(ValidationError, match="already exists"):
        users.add("ana", "amma", "admin", "long enough pw")
    with pytest.raises(ValidationError):
        users.add("../ana", "amma", "admin", "long enough pw")
    with pytest.raises(ValidationError):
        users.add("bo", "amma", "admin", "short")
    users.add("ana", "amma", "admin", "another long pw", replace=True)
    assert other.verify_password("ana", "another long pw").org == "amma"
    with pytest.raises(AuthError):
        other.verify_password("ana", "long enough pw")  # the old password's cache is gone too
    assert [u.name for u in other.list()] == ["ana"]
    users.remove("ana")
    assert other.get("ana") is None and other.list() == []
    with pytest.raises(AuthError):
        other.verify_password("ana", "another long pw")
    with pytest.raises(NotFoundError):
        users.remove("ana")


def test_every_store_issues_and_revokes_tokens(users_at: Callable[[], Users]) -> None:
    users = users_at()
    users.add("bo", "meridian-cnc", "staff", "long enough pw")
    first_id, first = users.issue_token("bo", "ci")
    second_id, second = users.issue_token("bo")
    other = users_at()
    assert other.verify_token(first) == Identity("bo", "meridian-cnc", "staff")
    assert other.verify_token(second).user == "bo"
    stored = other.get("bo")
    assert stored is not None and {t["id"] for t in stored.tokens} == {first_id, second_id}
    assert first not in repr(stored.tokens) and {t["label"] for t in stored.tokens} == {"ci", ""}
    assert users.revoke_token("bo", first_id) == 1
    with pytest.raises(AuthError):
        other.verify_token(first)
    assert other.verify_token(second).user == "bo"
    with pytest.raises(NotFoundError):
        users.revoke_token("bo", "nope")
    with pytest.raises(NotFoundError):
        users.issue_token("nobody")
    assert users.revoke_token("bo") == 1  # the one left
    with pytest.raises(AuthError):
        other.verify_token(second)
    with pytest.raises(AuthError):
        other.verify_token("tkb_never-issued")
    _, third = users.issue_token("bo")
    users.remove("bo")  # the tokens go with the user
    with pytest.raises(AuthError):
        other.verify_token(third)


def test_unknown_names_cost_a_password_check(
    users_at: Callable[[], Users], monkeypatch: pytest.MonkeyPatch
) -> None:
    import assistant.users as users_module

    users = users_at()
    users.add("cy", "amma", "student", "long enough pw")
    checks: list[str] = []
    real = users_module.check_password
    monkeypatch.setattr(
        users_module, "check_password", lambda pw, stored: checks.append(stored) or real(pw, stored)
    )
    for name in ("cy", "nobody"):
        with pytest.raises(AuthError):
            users_at().verify_password(name, "wrong password")
    assert len(checks) == 2 and all(c.startswith("scrypt$16384$") for c in checks)


def test_a_users_file_and_a_database_url_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"users file and store\.database_url"):
        open_users(tmp_path / "users.yaml", tmp_path, "postgresql://u@127.0.0.1:9/x")
    assert open_users(None, tmp_path, None) is None
    assert isinstance(open_users(tmp_path / "u.yaml", tmp_path, None), UserStore)


def test_users_cli_manages_the_database_and_remove_deletes_conversations(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.conversations import ConversationStore

    monkeypatch.delenv("TECHKB_USERS_FILE", raising=False)
    monkeypatch.setenv("TECHKB_STORE__DATABASE_URL", database_url)
    home = tmp_path / "store"
    args = ["users", "add", "cy", "--org", "donghai-polytechnic", "--role", "student"]
    added = runner.invoke(app, [*args, "--password-stdin"], input="pw for cy 123\n")
    assert added.exit_code == 0, added.output
    assert "127.0.0.1" in added.stdout and not list(tmp_path.glob("*.yaml"))
    users = DatabaseUserStore(home, database_url)
    assert users.verify_password("cy", "pw for cy 123").org == "donghai-polytechnic"
    both = runner.invoke(app, [*args, "--users", str(tmp_path / "u.yaml"), "--password-stdin"])
    assert both.exit_code == 2 and "store.database_url" in both.output

    issued = runner.invoke(app, ["users", "token", "cy"])
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[-1]
    assert users.verify_token(token).user == "cy"
    listed = runner.invoke(app, ["users", "list", "--json"])
    assert json.loads(listed.stdout)["users"] == [
        {"name": "cy", "org": "donghai-polytechnic", "role": "student", "tokens": 1}
    ]
    settings = load_settings(
        {"paths": {"home": home}}, environ={"TECHKB_DATABASE_URL": database_url}
    )
    assert resolve_identity("cy", None, None, settings).role == "student"

    conversations = ConversationStore(home, database_url)
    cy, dee = Identity("cy", "donghai-polytechnic", "student"), Identity("dee", "amma", "staff")
    conversations.add_turn(cy, None, "mine", "ask", {"answer": "a", "citations": []})
    conversations.add_turn(dee, None, "not mine", "ask", {"answer": "a", "citations": []})
    removed = runner.invoke(app, ["users", "remove", "cy", "--store", str(home)])
    assert removed.exit_code == 0, removed.output
    assert "removed cy and 1 conversation(s)" in removed.stdout
    assert users.get("cy") is None and conversations.summaries(cy) == []
    assert len(conversations.summaries(dee)) == 1
    with pytest.raises(AuthError):
        users.verify_token(token)
    assert runner.invoke(app, ["users", "remove", "cy"]).exit_code == 1


def test_users_remove_deletes_the_conversations_in_the_store_home(tmp_path: Path) -> None:
    from assistant.conversations import ConversationStore

    path, home = tmp_path / "users.yaml", tmp_path / "store"
    UserStore(path).add("cy", "amma", "student", "long enough pw")
    conversations = ConversationStore(home)
    cy = Identity("cy", "amma", "student")
    conversations.add_turn(cy, None, "mine", "ask", {"answer": "a", "citations": []})
    removed = runner.invoke(
        app, ["users", "remove", "cy", "--users", str(path), "--store", str(home)]
    )
    assert removed.exit_code == 0, removed.output
    assert conversations.summaries(cy) == [] and UserStore(path).get("cy") is None
