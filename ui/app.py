"""The Gradio web app: Ask, Contribute and Dashboard tabs over the plain handlers.

`build_ui(services, claims)` lays the app out; `mount_ui(app, services, ...)` mounts it at "/" of
the FastAPI app that also serves the REST and OpenAI-compatible APIs. With a users file, people
sign in on techkb's own page (`ui.login`) and every event acts as the user of the request's live
session (`ui.signin`, read by Gradio through `auth_dependency`); without one, everyone is
anonymous.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
from fastapi import FastAPI

from ui.chat_tab import build_chat_tab
from ui.contribute_tab import build_contribute_tab
from ui.dashboard_tab import build_dashboard_tab
from ui.i18n import I18N, t, text
from ui.login import session_user_of
from ui.render import sources_html
from ui.security import UploadClaims
from ui.signin import SignIn
from ui.web_support import UiContext

if TYPE_CHECKING:
    from ui.handlers import Services

logger = logging.getLogger(__name__)
# Gradio's own temporary files older than an hour are removed every 10 minutes.
DELETE_CACHE = (600, 3600)

CSS = """
.techkb-refused { border-left: 4px solid #b45309; background: #fff7ed; color: #431407;
  padding: 0.5em 0.9em; border-radius: 6px; }
a.techkb-cite { font-size: 0.8em; vertical-align: super; text-decoration: none;
  font-weight: 600; cursor: pointer; }
.techkb-card { border: 1px solid #d4d4d8; border-radius: 6px; padding: 0.4em 0.7em;
  margin: 0.4em 0; }
.techkb-card[open] { border-color: #2563eb; }
.techkb-card.techkb-target { box-shadow: 0 0 0 3px #93c5fd; }
.techkb-card summary { cursor: pointer; }
.techkb-card dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.1em 0.8em;
  margin: 0.5em 0; font-size: 0.9em; }
.techkb-card dt { font-weight: 600; }
.techkb-card dd { margin: 0; }
.techkb-chunk { white-space: pre-wrap; font-size: 0.9em; margin: 0.4em 0; }
.techkb-chunk mark { background: #fde68a; color: inherit; }
.techkb-muted { color: #71717a; }
.techkb-jobs td, .techkb-jobs th { padding: 0.2em 0.6em; text-align: left; }
.techkb-job-failed td { color: #b91c1c; }
"""

# A click on a citation number opens its source card in the sources panel and scrolls to it.
# One listener on the document (capture phase) so it works for messages rendered later.
HEAD = """
<script>
document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest('a[href^="#techkb-src-"]');
  if (!link) { return; }
  event.preventDefault();
  event.stopPropagation();
  var card = document.getElementById(link.getAttribute("href").slice(1));
  if (!card) { return; }
  document.querySelectorAll(".techkb-card.techkb-target").forEach(function (c) {
    c.classList.remove("techkb-target");
  });
  card.open = true;
  card.classList.add("techkb-target");
  card.scrollIntoView({ behavior: "smooth", block: "center" });
}, true);
// Gradio sets <html lang> to the language chosen (browser or Settings panel); a cookie tells
// the server, which renders answers and source cards in that language.
function techkbRememberLanguage() {
  var lang = document.documentElement.lang;
  if (lang) {
    document.cookie = "techkb_lang=" + encodeURIComponent(lang) + "; path=/; SameSite=Strict";
  }
}
new MutationObserver(techkbRememberLanguage).observe(
  document.documentElement, { attributes: true, attributeFilter: ["lang"] });
techkbRememberLanguage();
</script>
"""


def build_ui(services: Services, claims: UploadClaims) -> gr.Blocks:
    """The web app's Blocks (not yet mounted or launched).

    Args:
        services: what the handlers need (see `ui.handlers.Services`).
        claims: what each browser session uploaded (`ui.security`).

    Returns:
        The Blocks; pass `I18N`, `CSS` and `HEAD` when launching it yourself, or use
        :func:`mount_ui`.
    """
    ctx = UiContext(services, claims)
    with gr.Blocks(title="techkb", analytics_enabled=False, delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(f"# {t('app_title')}")
        gr.Markdown(t("intro"))
        who = gr.Markdown(elem_id="techkb-who")
        with gr.Tabs():
            sources = build_chat_tab(ctx)
            _, contribute_outputs, contribute_load = build_contribute_tab(ctx)
            _, dashboard_outputs, dashboard_load = build_dashboard_tab(ctx)
        gr.Markdown(t("language_hint"))

        def on_load(request: gr.Request) -> tuple[Any, ...]:
            lang = ctx.lang(request)
            return (
                _who(ctx, request, lang),
                sources_html([], lang),
                *contribute_load(request),
                dashboard_load(request),
            )

        demo.load(
            on_load,
            None,
            [who, sources, *contribute_outputs, *dashboard_outputs],
            api_visibility="private",
        )
    return demo


def _who(ctx: UiContext, request: gr.Request, lang: str) -> str:
    identity = ctx.identity(request)
    if identity.anonymous:
        return text("anonymous", lang)
    role = f"{identity.role}, {identity.org}"
    sign_out = ""
    if ctx.services.users is not None:
        sign_out = f' · <a href="/logout">{html.escape(text("sign_out", lang))}</a>'
    return (
        f"{html.escape(text('signed_in_as', lang))} **{html.escape(str(identity.user or ''))}** "
        f"({html.escape(role)}){sign_out}"
    )


def mount_ui(
    app: FastAPI,
    services: Services,
    *,
    signin: SignIn | None = None,
    claims: UploadClaims | None = None,
) -> None:
    """Mount the web app at "/" of `app`, signed in through `signin` when there are users.

    Gradio's own checks on files named in events are switched on as under `launch()`: an event
    may name only files in Gradio's upload folder, and the store's home is blocked outright.
    (`mount_gradio_app` leaves the Blocks marked as never launched, which skips those checks.)

    Args:
        app: the FastAPI app that serves the APIs.
        services: what the handlers need.
        signin: sessions of signed-in browsers (None: everyone is anonymous).
        claims: what each browser session uploaded (uploads are refused without it).
    """
    home = Path(services.settings.paths.home).resolve()
    blocked = [str(home)]
    users_file = services.settings.paths.users_file
    if users_file is not None:
        blocked.append(str(Path(users_file).resolve()))
    blocks = build_ui(services, claims or UploadClaims())
    gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        auth_dependency=session_user_of(signin) if signin is not None else None,
        auth_message="techkb",
        allowed_paths=[],
        blocked_paths=blocked,
        show_error=False,
        max_file_size=int(services.settings.ui.max_upload_mb * 1024 * 1024),
        footer_links=["settings"],
        run_history=False,
        i18n=I18N,
        css=CSS,
        head=HEAD,
        mcp_server=False,
        pwa=False,
    )
    blocks.has_launched = True  # what launch() sets; gradio.processing_utils checks it
