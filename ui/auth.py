"""HTTP credentials -> Identity, and domain errors -> JSON errors with the right status.

Basic (user name + password from the users file) or `Authorization: Bearer <token>` (a token
issued by `techkb users token`). Without a users file everyone is anonymous and credentials
are ignored (so any OpenAI client's API key works). With one, a call without credentials acts
as anonymous on read routes (public material only) and gets 401 on write routes; wrong or
revoked credentials always get 401.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from assistant.errors import (
    AccessError,
    AuthError,
    BusyError,
    ConfigError,
    NotFoundError,
    PayloadTooLargeError,
    StoreError,
    TechkbError,
    ThrottledError,
    ValidationError,
)
from assistant.types import ANONYMOUS, Identity

logger = logging.getLogger(__name__)

STATUS: tuple[tuple[type[TechkbError], int, str], ...] = (
    (ThrottledError, 429, "rate_limit_error"),
    (AuthError, 401, "authentication_error"),
    (AccessError, 403, "permission_error"),
    (NotFoundError, 404, "not_found_error"),
    (PayloadTooLargeError, 413, "request_too_large"),
    (ValidationError, 422, "invalid_request_error"),
    (ConfigError, 422, "invalid_request_error"),
    (BusyError, 503, "server_busy"),
    (StoreError, 503, "store_unavailable"),
)
# What a client is told when the catalog database or the Chroma server fails: the details
# (which server, why) are in the worker's log, not for callers to read.
STORE_UNAVAILABLE = "the knowledge store is unavailable right now; try again shortly"
STORE_RETRY_AFTER_S = 5


def identity_from_request(request: Request) -> Identity:
    """The caller's identity from the Authorization header.

    Raises:
        AuthError: credentials given but wrong, revoked or malformed (users file present).
    """
    signin = request.app.state.signin
    header = request.headers.get("authorization", "")
    if signin is None or not header:
        return ANONYMOUS
    address = request.client.host if request.client else "unknown"
    scheme, _, value = header.partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "basic":
        try:
            name, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as e:
            raise AuthError("malformed Basic credentials") from e
        if not sep:
            raise AuthError("malformed Basic credentials")
        return signin.password(name, password, address)  # type: ignore[no-any-return]
    if scheme == "bearer" and value:
        return signin.token(value, address)  # type: ignore[no-any-return]
    raise AuthError("use HTTP Basic or a Bearer token")


def require_identity(request: Request) -> Identity:
    """Like `identity_from_request`, but anonymous callers get 401 when there are users."""
    identity = identity_from_request(request)
    if identity.anonymous and request.app.state.services.users is not None:
        raise AuthError("sign in (HTTP Basic or a Bearer token) for this action")
    return identity


def error_body(status: int, kind: str, message: str) -> dict[str, Any]:
    """The one JSON error shape of both APIs (the OpenAI one: `{"error": {...}}`)."""
    return {"error": {"message": message, "type": kind, "code": status}}


def techkb_error_response(request: Request, exc: Exception) -> JSONResponse:
    """Translate a domain error into its HTTP status and JSON body."""
    for cls, status, kind in STATUS:
        if isinstance(exc, cls):
            headers = {"WWW-Authenticate": 'Basic realm="techkb"'} if status == 401 else None
            if isinstance(exc, ThrottledError):
                headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
            message = str(exc)
            if isinstance(exc, StoreError):
                logger.error("store unavailable on %s: %s", request.url.path, exc)
                headers, message = {"Retry-After": str(STORE_RETRY_AFTER_S)}, STORE_UNAVAILABLE
            return JSONResponse(error_body(status, kind, message), status, headers=headers)
    logger.error("unhandled %s on %s: %s", type(exc).__name__, request.url.path, exc)
    return JSONResponse(error_body(500, "server_error", "internal error"), 500)
