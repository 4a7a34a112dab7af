"""Who may sign in, their org and role, password hashes and API tokens.

Two stores with one interface (`Users`): the users file here (`UserStore`), for one host, and
the database (`assistant.users_db.DatabaseUserStore`), when `store.database_url` is set, which
every worker and host reads at once (`open_users` picks one).

The users file is YAML (`users: {NAME: {org, role, password, tokens: [...]}}`), written
atomically with 0600 permissions. Passwords are stored only as scrypt hashes with a per-user
salt and the parameters in the string (`scrypt$N$r$p$salt$hash`, N=2**14, r=8, p=1, 32-byte
key); API tokens are random 32-byte secrets, printed once and stored only as their SHA-256 (a
fast hash is enough for a high-entropy secret). Comparisons are constant-time.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from assistant.errors import AuthError, ConfigError, NotFoundError, ValidationError
from assistant.types import ROLES, Identity

logger = logging.getLogger(__name__)

SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN = 2**14, 8, 1, 32
TOKEN_PREFIX = "tkb_"
_ORG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
# A successful Basic check is remembered this long, so each API call does not pay the KDF.
VERIFY_CACHE_S = 300.0


def hash_password(password: str) -> str:
    """An scrypt hash string with a fresh salt and its parameters."""
    salt = os.urandom(16)
    key = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        dklen=SCRYPT_LEN,
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(key).decode()}"


def check_password(password: str, stored: str) -> bool:
    """Whether `password` matches an scrypt hash string (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=128 * int(n) * int(r) * 2,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


@functools.cache
def _dummy_hash() -> str:
    """A hash no password matches, made once, checked against for unknown user names."""
    return hash_password(secrets.token_urlsafe(16))


def token_hash(token: str) -> str:
    """What is stored of a token (SHA-256: enough for a high-entropy secret)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class User:
    """One account of the users file (hashes only)."""

    name: str
    org: str
    role: str
    password: str
    tokens: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def identity(self) -> Identity:
        return Identity(self.name, self.org, self.role)

    @property
    def fingerprint(self) -> str:
        """Changes when the org, role or password changes: sessions opened before end then."""
        record = "\0".join((self.name, self.org, self.role, self.password))
        return hashlib.sha256(record.encode("utf-8")).hexdigest()


def validate_user_fields(name: str, org: str, role: str) -> None:
    """Check a user name, org slug and role.

    Raises:
        ValidationError: a field is malformed; the message names it.
    """
    if not _NAME.match(name):
        raise ValidationError(f"user name {name!r}: letters, digits, . _ @ - only (max 64)")
    if not _ORG.match(org):
        raise ValidationError(f"org {org!r}: must be a slug (a-z, 0-9, -), like a contributor id")
    if role not in ROLES:
        raise ValidationError(f"role {role!r}: must be one of {', '.join(ROLES)}")


def new_user_hash(name: str, org: str, role: str, password: str) -> str:
    """The password hash of a user about to be added, once its fields are checked.

    Raises:
        ValidationError: a malformed field, or a password under 8 characters.
    """
    validate_user_fields(name, org, role)
    if len(password) < 8:
        raise ValidationError("password: at least 8 characters")
    return hash_password(password)


class Users(Protocol):
    """Where users live: the users file or the database. Unknown names cost a password check
    as known ones do; tokens are stored as hashes; a change is seen by the next call."""

    location: str  # the file, or the database URL without its password (for messages)

    def list(self) -> list[User]:
        """Every user, by name."""
        ...

    def get(self, name: str) -> User | None: ...

    def verify_password(self, name: str, password: str) -> Identity:
        """Raises AuthError: unknown user or wrong password (one message for both)."""
        ...

    def verify_token(self, token: str) -> Identity:
        """Raises AuthError: no user holds this token, or it was revoked."""
        ...

    def add(self, name: str, org: str, role: str, password: str, *, replace: bool = False) -> User:
        """Raises ValidationError: bad field, short password, or the user exists."""
        ...

    def remove(self, name: str) -> None:
        """Raises NotFoundError: no such user."""
        ...

    def issue_token(self, name: str, label: str = "") -> tuple[str, str]:
        """(token id, token); raises NotFoundError: no such user."""
        ...

    def revoke_token(self, name: str, token_id: str | None = None) -> int:
        """How many were revoked; raises NotFoundError: no such user or token id."""
        ...


class PasswordCheck:
    """The password check both stores share: a KDF run for unknown names too, and successful
    checks remembered for `VERIFY_CACHE_S` under the stored hash (a changed password or a
    removed user is never served from the cache, since the caller reads the user first)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._verified: dict[tuple[str, str, str], float] = {}

    def verify(self, user: User | None, name: str, password: str) -> Identity:
        """The identity of `user` when `password` is its password.

        Raises:
            AuthError: no such user or wrong password (one message for both).
        """
        if user is None or not user.password:
            # One scrypt run, as for a known user: the time taken must not tell which names exist.
            check_password(password, _dummy_hash())
            raise AuthError("wrong user name or password")
        key = (name, user.password, hashlib.sha256(password.encode("utf-8")).hexdigest())
        now = time.monotonic()
        with self._lock:
            until = self._verified.get(key)
        if until is not None and until > now:
            return user.identity
        if not check_password(password, user.password):
            raise AuthError("wrong user name or password")
        with self._lock:
            self._verified = {k: t for k, t in self._verified.items() if t > now}
            self._verified[key] = now + VERIFY_CACHE_S
        return user.identity


def new_token() -> tuple[str, str, str]:
    """A fresh API token: (token id, token, the hash that is stored)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return secrets.token_hex(4), token, token_hash(token)


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def open_users(users_file: Path | None, home: Path, database_url: str | None) -> Users | None:
    """The users of this installation: in the database when `database_url` is set, else in
    `users_file`; None when neither (everyone is anonymous).

    Raises:
        ConfigError: both a users file and a database URL are given (one place holds users).
        StoreError: the database cannot be opened.
    """
    if database_url:
        if users_file is not None:
            raise ConfigError(
                f"{users_file}: a users file and store.database_url are both set; with a "
                "database, users live in it (`techkb users add` writes there): drop --users "
                "and TECHKB_USERS_FILE"
            )
        from assistant.users_db import DatabaseUserStore

        return DatabaseUserStore(home, database_url)
    return UserStore(users_file) if users_file is not None else None


class UserStore:
    """Reads and writes one users file; re-reads it when it changes on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._users: dict[str, User] = {}
        self._check = PasswordCheck()

    # -- reading ------------------------------------------------------------------------------
    def _load(self) -> dict[str, User]:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            self._users, self._mtime = {}, None
            return self._users
        if mtime == self._mtime:
            return self._users
        if self.path.stat().st_mode & 0o077:
            logger.warning("%s is readable by other users; chmod 600 it", self.path)
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            raise ConfigError(f"{self.path}: cannot read the users file: {e}") from e
        if not isinstance(data, dict) or not isinstance(data.get("users") or {}, dict):
            raise ConfigError(f"{self.path}: expected a mapping 'users: {{NAME: {{...}}}}'")
        users: dict[str, User] = {}
        for name, rec in (data.get("users") or {}).items():
            if not isinstance(rec, dict):
                raise ConfigError(f"{self.path}: users.{name} must be a mapping")
            try:
                validate_user_fields(str(name), str(rec.get("org")), str(rec.get("role")))
            except ValidationError as e:
                raise ConfigError(f"{self.path}: users.{name}: {e}") from e
            tokens = tuple(t for t in rec.get("tokens") or () if isinstance(t, dict))
            users[str(name)] = User(
                str(name), str(rec["org"]), str(rec["role"]), str(rec.get("password", "")), tokens
            )
        self._users, self._mtime = users, mtime
        return users

    def list(self) -> list[User]:
        """Every user, by name."""
        with self._lock:
            return sorted(self._load().values(), key=lambda u: u.name)

    def get(self, name: str) -> User | None:
        with self._lock:
            return self._load().get(name)

    # -- verification -------------------------------------------------------------------------
    def verify_password(self, name: str, password: str) -> Identity:
        """The identity of `name` when `password` is right.

        Raises:
            AuthError: unknown user or wrong password (one message for both).
        """
        return self._check.verify(self.get(name), name, password)

    def verify_token(self, token: str) -> Identity:
        """The identity holding this (unrevoked) API token.

        Raises:
            AuthError: no user holds it, or it was revoked.
        """
        digest = token_hash(token)
        for user in self.list():
            for t in user.tokens:
                if hmac.compare_digest(str(t.get("hash", "")), digest) and not t.get("revoked"):
                    return user.identity
        raise AuthError("invalid or revoked token")

    # -- writing ------------------------------------------------------------------------------
    def _raw(self) -> dict[str, Any]:
        self._load()
        return {
            u.name: {
                "org": u.org,
                "role": u.role,
                "password": u.password,
                "tokens": [dict(t) for t in u.tokens],
            }
            for u in self._users.values()
        }

    def _write(self, users: dict[str, Any]) -> None:
        """Write the file atomically (temp file + rename) with 0600 permissions."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump({"users": users}, sort_keys=True, allow_unicode=True)
        fd, tmp = tempfile.mkstemp(prefix=".users-", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._mtime = None

    def add(self, name: str, org: str, role: str, password: str, *, replace: bool = False) -> User:
        """Add a user (or replace one when `replace`).

        Raises:
            ValidationError: bad name, org, role, empty password, or the user exists.
        """
        pw_hash = new_user_hash(name, org, role, password)
        with self._lock:
            users = self._raw()
            if name in users and not replace:
                raise ValidationError(f"user {name!r} already exists in {self.path}")
            users[name] = {"org": org, "role": role, "password": pw_hash, "tokens": []}
            self._write(users)
        logger.info("user %s added (%s, %s)", name, org, role)
        return User(name, org, role, pw_hash)

    def remove(self, name: str) -> None:
        """Remove a user and all their tokens.

        Raises:
            NotFoundError: no such user.
        """
        with self._lock:
            users = self._raw()
            if name not in users:
                raise NotFoundError(f"no user {name!r} in {self.path}")
            del users[name]
            self._write(users)

    def issue_token(self, name: str, label: str = "") -> tuple[str, str]:
        """Issue an API token for `name`; returns (token id, token). Only its hash is stored.

        Raises:
            NotFoundError: no such user.
        """
        token_id, token, digest = new_token()
        with self._lock:
            users = self._raw()
            if name not in users:
                raise NotFoundError(f"no user {name!r} in {self.path}")
            users[name]["tokens"].append(
                {
                    "id": token_id,
                    "hash": digest,
                    "label": label,
                    "created": utc_now(),
                }
            )
            self._write(users)
        return token_id, token

    def revoke_token(self, name: str, token_id: str | None = None) -> int:
        """Revoke one token of `name` (by id) or all of them (None); returns how many.

        Raises:
            NotFoundError: no such user, or no such token id.
        """
        with self._lock:
            users = self._raw()
            if name not in users:
                raise NotFoundError(f"no user {name!r} in {self.path}")
            count = 0
            for t in users[name]["tokens"]:
                if (token_id is None or t.get("id") == token_id) and not t.get("revoked"):
                    t["revoked"] = True
                    count += 1
            if token_id is not None and not any(
                t.get("id") == token_id for t in users[name]["tokens"]
            ):
                raise NotFoundError(f"user {name!r} has no token {token_id!r}")
            self._write(users)
        return count
