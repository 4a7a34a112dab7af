"""The users file and `techkb users ...`: hashes only, atomic 0600 writes, tokens, validation."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from assistant.errors import AuthError, NotFoundError, ValidationError
from assistant.settings import load_settings
from assistant.types import Identity
from assistant.users import UserStore, check_password, hash_password
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
