"""The sign-in page, sign-out, and who a browser request is (for Gradio's `auth_dependency`).

techkb signs browsers in itself instead of through Gradio's `auth=`: Gradio's sessions never
expire, outlive the account and use `SameSite=None` cookies. Here the session cookie is
`HttpOnly; SameSite=Lax` (`Secure` behind TLS, see `ui.security`), the password check is
throttled (`ui.signin`), and every Gradio request is re-checked against the session store.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.errors import AuthError, ThrottledError
from ui.i18n import language_of, text
from ui.signin import SESSION_COOKIE, SignIn

PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f4f4f5; margin: 0; }}
main {{ max-width: 22em; margin: 12vh auto; background: #fff; padding: 2em;
  border-radius: 10px; box-shadow: 0 1px 4px #0002; }}
label {{ display: block; margin: 0.8em 0 0.2em; font-weight: 600; }}
input {{ width: 100%; box-sizing: border-box; padding: 0.5em; font-size: 1em; }}
button {{ margin-top: 1.2em; width: 100%; padding: 0.6em; font-size: 1em; border: 0;
  border-radius: 6px; background: #2563eb; color: #fff; cursor: pointer; }}
.error {{ color: #b91c1c; margin-top: 0.8em; }}
</style></head>
<body><main>
<h1>{title}</h1>
<form method="post" action="/login">
<label for="username">{user_label}</label>
<input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">{password_label}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">{button}</button>
{error}
</form></main></body></html>
"""


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _lang(request: Request) -> str:
    return language_of(request.headers.get("accept-language"))


def _page(request: Request, error: str = "", status: int = 200) -> HTMLResponse:
    lang = _lang(request)
    body = PAGE.format(
        lang=lang,
        title=html.escape(text("signin_title", lang)),
        user_label=html.escape(text("signin_user", lang)),
        password_label=html.escape(text("signin_password", lang)),
        button=html.escape(text("signin_button", lang)),
        error=f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "",
    )
    return HTMLResponse(body, status, headers={"cache-control": "no-store"})


def login_router(signin: SignIn) -> APIRouter:
    """GET/POST /login and GET /logout on the app that mounts Gradio (registered before it)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/login")
    def login_page(request: Request) -> Response:
        if signin.session_user(request.cookies.get(SESSION_COOKIE)):
            return RedirectResponse("/", 303)
        return _page(request)

    @router.post("/login")
    def login(request: Request, username: str = Form(""), password: str = Form("")) -> Response:
        lang = _lang(request)
        try:
            signin.password(username.strip(), password, client_address(request))
            token = signin.open_session(username.strip())
        except ThrottledError as e:
            throttled = _page(request, text("signin_throttled", lang), 429)
            throttled.headers["retry-after"] = str(max(1, round(e.retry_after_s)))
            return throttled
        except AuthError:
            return _page(request, text("signin_failed", lang), 401)
        response = RedirectResponse("/", 303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(signin.session_s),
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response

    @router.get("/logout")
    def logout(request: Request) -> Response:
        signin.close_session(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
        return response

    return router


def session_user_of(signin: SignIn) -> Any:
    """Gradio's `auth_dependency`: the signed-in user name of a request, else None (401)."""

    def user(request: Request) -> str | None:
        return signin.session_user(request.cookies.get(SESSION_COOKIE))

    return user


class SignedOutRedirect:
    """Sends a signed-out browser asking for the app's page to the sign-in page."""

    def __init__(self, app: ASGIApp, signin: SignIn) -> None:
        self.app = app
        self.signin = signin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == "/":
            request = Request(scope)
            if not self.signin.session_user(request.cookies.get(SESSION_COOKIE)):
                await RedirectResponse("/login", 303)(scope, receive, send)
                return
        await self.app(scope, receive, send)
