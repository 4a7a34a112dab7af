"""Sign-in for the web app and the APIs: throttled password checks and browser sessions.

Every password or token check goes through :class:`SignIn`, so the web page, HTTP Basic and
bearer tokens share one throttle: after `ui.signin_user_failures` failures for one user name, or
`ui.signin_address_failures` from one client address, within `ui.signin_lockout_s`, further tries
for that name or from that address are refused (429) before any password is checked, until the
oldest counted failure is that old. A correct password does not get through a lockout (that is
the point), and it clears the name's count. The cost of a check is the same for unknown and
known names (`assistant.users.PasswordCheck`).

Browser sessions are random tokens kept in memory (only their SHA-256), each bound to the
user's record as it was at sign-in (org, role, password hash): a session ends when it is
`ui.session_hours` old, when the user signs out, or at the first request after the user is
removed, re-scoped or changes password (the users file is re-read when it changes on disk;
the database is read at every request).
A server restart ends every session.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from assistant.errors import AuthError, ThrottledError
from assistant.settings import UISettings
from assistant.types import Identity
from assistant.users import Users

logger = logging.getLogger(__name__)
SESSION_COOKIE = "techkb_session"
MAX_TRACKED = 50_000  # names and addresses remembered at once; the oldest go first


class SignInThrottle:
    """Counts failed sign-ins per user name and per client address in a sliding window."""

    def __init__(
        self,
        user_limit: int,
        address_limit: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {"user": user_limit, "address": address_limit}
        self._window = window_s
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, user: str, address: str) -> None:
        """Raise when this name or this address has used up its tries.

        Raises:
            ThrottledError: with the seconds until the next try is counted.
        """
        now = self._clock()
        with self._lock:
            for key in (("user", user), ("address", address)):
                recent = self._recent(key, now)
                if recent is not None and len(recent) >= self._limits[key[0]]:
                    wait = recent[0] + self._window - now
                    raise ThrottledError(
                        f"too many failed sign-ins; try again in {max(1, round(wait))} s",
                        retry_after_s=wait,
                    )

    def failed(self, user: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            for key in (("user", user), ("address", address)):
                recent = self._recent(key, now) or deque()
                recent.append(now)
                self._failures.pop(key, None)
                self._failures[key] = recent  # re-inserted: dict order is age of last failure
            while len(self._failures) > MAX_TRACKED:
                del self._failures[next(iter(self._failures))]

    def succeeded(self, user: str) -> None:
        with self._lock:
            self._failures.pop(("user", user), None)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float] | None:
        recent = self._failures.get(key)
        while recent and recent[0] <= now - self._window:
            recent.popleft()
        return recent


@dataclass(frozen=True)
class _Session:
    user: str
    fingerprint: str
    expires: float


class SignIn:
    """Throttled password and token checks, and the browser sessions they open."""

    def __init__(
        self, users: Users, settings: UISettings, clock: Callable[[], float] = time.time
    ) -> None:
        self.users = users
        self.session_s = settings.session_hours * 3600
        self.throttle = SignInThrottle(
            settings.signin_user_failures, settings.signin_address_failures,
            settings.signin_lockout_s,
        )  # fmt: skip
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    # -- credentials --------------------------------------------------------------------------
    def password(self, name: str, password: str, address: str) -> Identity:
        """The identity for a name and password, throttled per name and per address.

        Raises:
            ThrottledError: too many failures for this name or from this address.
            AuthError: unknown name or wrong password (one message for both).
        """
        self.throttle.check(name, address)
        try:
            identity = self.users.verify_password(name, password)
        except AuthError:
            self.throttle.failed(name, address)
            logger.info("sign-in refused for %r from %s", name, address)
            raise
        self.throttle.succeeded(name)
        return identity

    def token(self, token: str, address: str) -> Identity:
        """The identity holding an API token; wrong tokens count against the address.

        Raises:
            ThrottledError: too many failures from this address.
            AuthError: unknown or revoked token.
        """
        self.throttle.check("", address)
        try:
            return self.users.verify_token(token)
        except AuthError:
            self.throttle.failed("", address)
            raise

    # -- sessions -----------------------------------------------------------------------------
    def open_session(self, name: str) -> str:
        """A new session for a user who has just signed in; returns the cookie value.

        Raises:
            AuthError: the user no longer exists.
        """
        user = self.users.get(name)
        if user is None:
            raise AuthError("wrong user name or password")
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}
            self._sessions[_digest(token)] = _Session(name, user.fingerprint, now + self.session_s)
        return token

    def session_user(self, token: str | None) -> str | None:
        """The user name of a live session, else None (and the session is forgotten)."""
        if not token:
            return None
        key = _digest(token)
        with self._lock:
            session = self._sessions.get(key)
        if session is None:
            return None
        user = self.users.get(session.user)
        if (
            session.expires <= self._clock()
            or user is None
            or user.fingerprint != session.fingerprint
        ):
            with self._lock:
                self._sessions.pop(key, None)
            return None
        return session.user

    def close_session(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(_digest(token), None)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
