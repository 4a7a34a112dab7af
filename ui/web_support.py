"""What every tab of the Gradio app shares: the caller's identity and language, domain errors
turned into Gradio messages, and per-session temporary files."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import gradio as gr

from assistant.errors import (
    AccessError,
    AuthError,
    BackendError,
    ConfigError,
    NotFoundError,
    TechkbError,
    ValidationError,
)
from assistant.types import Identity
from ui import handlers
from ui.i18n import language_of, text
from ui.security import UploadClaims, session_key
from ui.services import Services
from ui.signin import SESSION_COOKIE

logger = logging.getLogger(__name__)
CONTRIBUTOR_ROLES = ("staff", "teacher", "admin")
LANGUAGE_COOKIE = "techkb_lang"  # written by the page script in ui.app (HEAD)

# Most specific first: the first matching class gives the message.
_MESSAGES: tuple[tuple[type[TechkbError], str], ...] = (
    (AuthError, "error_auth"),
    (AccessError, "error_access"),
    (NotFoundError, "error_not_found"),
    (ValidationError, "error_invalid"),
    (ConfigError, "error_config"),
    (BackendError, "error_backend"),
    (TechkbError, "error_other"),
)


def error_message(error: TechkbError, lang: str) -> str:
    """A user-facing message for a domain error: a translated lead and the error's own words."""
    for cls, key in _MESSAGES:
        if isinstance(error, cls):
            detail = str(error).strip()
            return f"{text(key, lang)} {detail}".strip() if detail else text(key, lang)
    return text("error_other", lang)


@contextmanager
def ui_errors(lang: str) -> Iterator[None]:
    """Turn domain errors into ``gr.Error`` (a modal with a clean message, no stack trace).

    Unexpected exceptions are logged with their trace on the server and shown as a generic
    message, so no internals reach the browser.

    Raises:
        gr.Error: for every exception raised inside the block.
    """
    try:
        yield
    except gr.Error:
        raise
    except TechkbError as e:
        raise gr.Error(error_message(e, lang)) from e
    except Exception as e:  # the UI edge: log it here, show a clean message there
        logger.exception("unexpected error in the web UI")
        raise gr.Error(text("error_other", lang)) from e


@dataclass(frozen=True)
class UiContext:
    """The services plus how to read the caller from a Gradio request."""

    services: Services
    claims: UploadClaims = field(default_factory=UploadClaims)

    def identity(self, request: gr.Request | None) -> Identity:
        """The signed-in user's identity; anonymous without sign-in."""
        username = getattr(request, "username", None) if request is not None else None
        return handlers.identity_for_user(self.services, username)

    @staticmethod
    def lang(request: gr.Request | None) -> str:
        """The page's language, "zh" or "en": the cookie the page sets, else Accept-Language."""
        headers = getattr(request, "headers", None) if request is not None else None
        if headers is None:
            return "en"
        # Parsed by hand: http.cookies gives up on the whole header at one odd cookie.
        for part in (headers.get("cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == LANGUAGE_COOKIE and value:
                return language_of(unquote(value))
        return language_of(headers.get("accept-language"))

    @staticmethod
    def may_contribute(identity: Identity) -> bool:
        """Staff, teachers and admins of an organisation may upload and see the dashboard."""
        return not identity.anonymous and identity.role in CONTRIBUTOR_ROLES


def new_session_dir() -> str:
    """A private temporary folder (mode 700) for one browser session's downloads."""
    return tempfile.mkdtemp(prefix="techkb-session-")


def remove_session_dir(path: str | None) -> None:
    """Delete a session folder made by :func:`new_session_dir` (called when the session ends)."""
    if path and Path(path).name.startswith("techkb-session-"):
        shutil.rmtree(path, ignore_errors=True)


def write_session_file(folder: str, name: str, content: str) -> str:
    """Write ``content`` to ``folder/name`` (readable by this process's user only).

    Returns:
        The file's path.
    """
    path = Path(folder) / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(content)
    return str(path)


def take_upload(ctx: UiContext, request: gr.Request, path: str) -> tuple[str, bytes]:
    """Read a file Gradio received for this browser session, then delete it from Gradio's cache.

    Only a file whose content this session uploaded through Gradio's upload route is taken
    (`ui.security.UploadClaims`): an event may name any path, and Gradio copies what it names
    into its cache. Gradio keeps uploads in a shared cache folder from which it can serve them;
    removing the file at once means no other session can ever fetch it.

    Returns:
        The original file name and the bytes.

    Raises:
        AccessError: this session did not upload this content (nothing is deleted then).
    """
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as e:
        raise AccessError(f"{file.name}: not an upload of this session") from e
    headers = getattr(request, "headers", None) or {}
    if not ctx.claims.claim(session_key(headers, SESSION_COOKIE), data):
        logger.warning("refused an upload event naming a file this session did not upload")
        raise AccessError(f"{file.name}: not an upload of this session")
    file.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        file.parent.rmdir()  # Gradio's per-upload folder, when now empty
    return file.name, data
