"""What every request to `techkb serve` passes first, whatever route or Gradio event it reaches.

- **Origin**: a state-changing request (POST, PUT, PATCH, DELETE) that carries an `Origin` other
  than the server's own or one of `ui.allowed_origins` is refused (403), and so is a WebSocket
  from one. CORS is answered by Starlette's `CORSMiddleware` for `ui.allowed_origins` only;
  its presence also makes Gradio's own CORS handler (which echoes any origin behind a real host
  name, with credentials) step aside.
- **Size**: a body over `ui.max_body_kb` (uploads: `ui.max_upload_mb` per file) is refused with
  413 before it is read: by its Content-Length, or while it streams in when it has none.
- **Cookies** leave with `SameSite=Lax`, and `Secure` when the request came over TLS (uvicorn
  takes the scheme from `X-Forwarded-Proto` of a trusted proxy); responses say `nosniff` and may
  not be framed by other sites.
- **Uploads through the web app** are remembered per browser session, by content hash, as
  Gradio's upload route answers; the Contribute tab ingests only files whose content this
  session uploaded (:class:`UploadClaims`), so an event naming some other file is refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.auth import error_body

logger = logging.getLogger(__name__)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
GRADIO_UPLOAD = "/gradio_api/upload"
MAX_FILES_PER_UPLOAD = 10
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def origin_of(url: str) -> str | None:
    """`scheme://host:port` of a URL or Origin header (default port written out); None if odd."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.hostname.lower()}:{port or DEFAULT_PORTS[scheme]}"


class UploadClaims:
    """Which file contents each browser session uploaded through Gradio (bounded, 1 h each)."""

    TTL_S = 3600.0
    MAX_PER_SESSION = 200

    def __init__(self) -> None:
        self._claims: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def record(self, session: str, digests: Iterable[str]) -> None:
        now = time.monotonic()
        with self._lock:
            mine = self._claims.setdefault(session, {})
            for digest in digests:
                mine[digest] = now + self.TTL_S
            while len(mine) > self.MAX_PER_SESSION:
                del mine[min(mine, key=mine.__getitem__)]

    def claim(self, session: str | None, data: bytes) -> bool:
        """Whether this session uploaded exactly this content (each upload claims once)."""
        if not session:
            return False
        digest = hashlib.sha256(data).hexdigest()
        now = time.monotonic()
        with self._lock:
            mine = self._claims.get(session, {})
            until = mine.pop(digest, None)
        return until is not None and until > now


def session_key(headers: Headers | Any, cookie: str) -> str | None:
    """A stable key for the browser session: the hash of its session cookie, if any."""
    raw = headers.get("cookie") or ""
    for part in raw.split(";"):
        name, _, value = part.strip().partition("=")
        if name == cookie and value:
            return hashlib.sha256(value.encode("utf-8")).hexdigest()
    return None


class GuardMiddleware:
    """Origin check, body limits, cookie attributes and upload claims (see the module docs)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_origins: Iterable[str],
        body_limit: int,
        upload_limit: int,
        claims: UploadClaims,
        session_cookie: str,
    ) -> None:
        self.app = app
        self.allowed = {o for o in (origin_of(x) for x in allowed_origins) if o}
        self.body_limit = body_limit
        self.upload_limit = upload_limit
        self.claims = claims
        self.session_cookie = session_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["type"] == "websocket":
            if not self.origin_ok(headers, scope):
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method not in SAFE_METHODS and not self.origin_ok(headers, scope):
            logger.info("refused %s %s from origin %r", method, scope["path"], headers["origin"])
            await _error(scope, receive, send, 403, "permission_error", "cross-origin request")
            return
        limit = self._limit(scope)
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _error(scope, receive, send, 413, "request_too_large", _too_large(limit))
            return
        upload_body: list[bytes] | None = (
            [] if scope["path"] == GRADIO_UPLOAD and method == "POST" else None
        )
        https = scope.get("scheme") == "https"
        received = 0
        exceeded = responded = False

        async def limited_receive() -> Message:
            # Past the limit the app is told the client left; whatever it then answers is
            # replaced by a 413 below (frameworks turn errors raised here into a 400).
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal upload_body, responded
            if exceeded:
                if message["type"] == "http.response.start" and not responded:
                    responded = True
                    await _error(scope, receive, send, 413, "request_too_large", _too_large(limit))
                return
            responded = True
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                _harden_cookies(out, https)
                out.setdefault("x-content-type-options", "nosniff")
                out.setdefault("x-frame-options", "SAMEORIGIN")
                out.setdefault("referrer-policy", "same-origin")
                if message.get("status") != 200:
                    upload_body = None
            elif message["type"] == "http.response.body" and upload_body is not None:
                upload_body.append(message.get("body", b""))
                if not message.get("more_body"):
                    self._record_upload(headers, b"".join(upload_body))
            await send(message)

        await self.app(scope, limited_receive, guarded_send)
        if exceeded and not responded:
            await _error(scope, receive, send, 413, "request_too_large", _too_large(limit))

    def origin_ok(self, headers: Headers, scope: Scope) -> bool:
        """No Origin (not a browser's cross-site request), the server's own, or an allowed one."""
        raw = headers.get("origin")
        if raw is None:
            return True
        origin = origin_of(raw)
        if origin is None:
            return False  # "null" (sandboxed frames, file: pages) and anything odd
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        own = origin_of(f"{scheme}://{headers.get('host', '')}")
        return origin == own or origin in self.allowed

    def _limit(self, scope: Scope) -> int:
        path, method = scope["path"], scope["method"]
        if path == GRADIO_UPLOAD:
            return self.upload_limit * MAX_FILES_PER_UPLOAD
        if path.startswith("/api/documents") and method in ("POST", "PUT"):
            return self.upload_limit + 64 * 1024  # multipart framing
        return self.body_limit

    def _record_upload(self, headers: Headers, body: bytes) -> None:
        key = session_key(headers, self.session_cookie)
        if key is None:
            return
        try:
            paths = json.loads(body)
        except ValueError:
            return
        digests = []
        for path in paths if isinstance(paths, list) else []:
            try:
                digests.append(hashlib.sha256(Path(str(path)).read_bytes()).hexdigest())
            except OSError:
                continue
        self.claims.record(key, digests)


def _harden_cookies(headers: MutableHeaders, https: bool) -> None:
    cookies = headers.getlist("set-cookie")
    if not cookies:
        return
    del headers["set-cookie"]
    for cookie in cookies:
        attrs = [a.strip() for a in cookie.split(";")]
        kept = [a for a in attrs[1:] if a.lower().split("=")[0] not in ("samesite", "secure")]
        samesite = next(
            (a for a in attrs[1:] if a.lower() in ("samesite=strict", "samesite=lax")), None
        )
        kept.append(samesite or "SameSite=Lax")
        if https:
            kept.append("Secure")
        headers.append("set-cookie", "; ".join([attrs[0], *kept]))


def _too_large(limit: int) -> str:
    return f"request body over the limit of {limit // 1024} KiB"


async def _error(
    scope: Scope, receive: Receive, send: Send, status: int, kind: str, message: str
) -> None:
    await JSONResponse(error_body(status, kind, message), status)(scope, receive, send)
