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
import os
import secrets
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import FastAPI

from ui.chat_events import wire_chat
from ui.chat_tab import build_chat_tab
from ui.contribute_tab import build_contribute_tab
from ui.dashboard_tab import build_dashboard_tab
from ui.i18n import EN, I18N, t, text
from ui.login import session_user_of
from ui.security import UploadClaims
from ui.services import Services
from ui.sidebar import build_sidebar
from ui.signin import SignIn
from ui.web_support import UiContext

logger = logging.getLogger(__name__)
# Gradio's own temporary files older than an hour are removed every 10 minutes.
DELETE_CACHE = (600, 3600)

CSS = """
.techkb-refused { border-left: 4px solid #b45309; background: #fff7ed; color: #431407;
  padding: 0.5em 0.9em; border-radius: 6px; }
a.techkb-cite { font-size: 0.8em; vertical-align: super; text-decoration: none;
  font-weight: 600; cursor: pointer; white-space: nowrap; }
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
.techkb-passage { border-top: 1px dashed #e4e4e7; margin-top: 0.4em; padding-top: 0.3em; }
.techkb-passage.techkb-target { background: #eff6ff; }
.techkb-passage-head { margin: 0; }
.techkb-card-n { font-weight: 600; margin-right: 0.2em; }
.techkb-table { border-collapse: collapse; margin: 0.3em 0; white-space: normal; }
.techkb-table td, .techkb-table th { border: 1px solid #d4d4d8; padding: 0.15em 0.5em;
  text-align: left; vertical-align: top; }
.techkb-table tr.techkb-quoted td { background: #fef3c7; }
a.techkb-cite[data-quote] { position: relative; }
a.techkb-cite[data-quote]:hover::after, a.techkb-cite[data-quote]:focus::after {
  content: attr(data-quote); position: absolute; left: 0; top: 1.6em; z-index: 50;
  width: max-content; max-width: 28em; white-space: normal; font-weight: 400;
  font-size: 0.85rem; line-height: 1.35; background: #18181b; color: #fafafa;
  padding: 0.45em 0.6em; border-radius: 6px; box-shadow: 0 2px 8px #0004; }
.techkb-details summary { cursor: pointer; color: #71717a; font-size: 0.9em; }
#techkb-documents table, #techkb-documents td { font-family: inherit; }
.techkb-jobs td, .techkb-jobs th { padding: 0.2em 0.6em; text-align: left; }
.techkb-job-failed td { color: #b91c1c; }
"""

# A click on a citation number opens its source card in the sources panel and scrolls to it.
# One listener on the document (capture phase) so it works for messages rendered later.
HEAD = r"""
<script>
// The language chosen in the sidebar, kept by the browser (see ui.chat_events). Gradio starts
// in the browser's language; once the app is up, it is switched to the chosen one through
// the same call Gradio's own settings panel makes.
(function () {
  var chosen = null;
  try { chosen = localStorage.getItem("techkb-lang"); } catch (e) { return; }
  if (chosen !== "en" && chosen !== "zh") { return; }
  document.cookie = "techkb_lang=" + chosen + "; path=/; SameSite=Strict";
  var tries = 0;
  function apply() {
    var core = performance.getEntriesByType("resource").map(function (e) { return e.name; })
      .find(function (name) { return /\/core-[^/]*\.js$/.test(name); });
    if (!core || !document.querySelector("#techkb-question")) {
      if (++tries < 150) { setTimeout(apply, 100); }
      return;
    }
    if ((document.documentElement.lang || "").slice(0, 2) === chosen) { return; }
    import(core).then(function (m) {
      if (m.changeLocale) { m.changeLocale(chosen === "zh" ? "zh-CN" : "en"); }
    });
  }
  apply();
})();
// A click on a citation number opens its document's card in the sources panel and scrolls
// to the passage. One listener on the document (capture phase): messages come later.
document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest('a[href^="#techkb-src-"]');
  if (!link) { return; }
  event.preventDefault();
  event.stopPropagation();
  var target = document.getElementById(link.getAttribute("href").slice(1));
  if (!target) { return; }
  var card = target.closest("details.techkb-card");
  document.querySelectorAll(".techkb-target").forEach(function (c) {
    c.classList.remove("techkb-target");
  });
  if (card) { card.open = true; card.classList.add("techkb-target"); }
  target.classList.add("techkb-target");
  target.scrollIntoView({ behavior: "smooth", block: "center" });
}, true);
// The quote behind a citation number shows when the pointer rests on it (styled in CSS):
// the chat keeps a link's title, which becomes the preview's text.
document.addEventListener("mouseover", function (event) {
  var link = event.target.closest && event.target.closest("a.techkb-cite[title]");
  if (!link) { return; }
  link.setAttribute("data-quote", link.getAttribute("title"));
  link.removeAttribute("title");
}, true);
// A cookie tells the server the page's language (it renders answers and source cards in it):
// the one chosen in the sidebar, else the one Gradio shows (<html lang>).
function techkbRememberLanguage() {
  var lang = null;
  try { lang = localStorage.getItem("techkb-lang"); } catch (e) { lang = null; }
  lang = lang || document.documentElement.lang;
  if (lang) {
    document.cookie = "techkb_lang=" + encodeURIComponent(lang) + "; path=/; SameSite=Strict";
  }
}
new MutationObserver(techkbRememberLanguage).observe(
  document.documentElement, { attributes: true, attributeFilter: ["lang"] });
techkbRememberLanguage();
</script>
"""


def build_ui(
    services: Services, claims: UploadClaims, browser_secret: str | None = None
) -> gr.Blocks:
    """The web app's Blocks (not yet mounted or launched).

    Args:
        services: what the handlers need (see `ui.services.Services`).
        claims: what each browser session uploaded (`ui.security`).
        browser_secret: the key of what browsers keep for the app (anonymous conversations);
            None: a new key (what browsers kept before is then unreadable).

    Returns:
        The Blocks; pass `I18N`, `CSS` and `HEAD` when launching it yourself, or use
        :func:`mount_ui`.
    """
    ctx = UiContext(services, claims)
    with gr.Blocks(title="techkb", analytics_enabled=False, delete_cache=DELETE_CACHE) as demo:
        side = build_sidebar()
        gr.Markdown(f"# {t('app_title')}")
        gr.Markdown(t("intro"))
        who = gr.Markdown(elem_id="techkb-who")
        with gr.Tabs():
            chat = build_chat_tab(browser_secret)
            _, contribute_outputs, contribute_load = build_contribute_tab(ctx)
            _, dashboard_outputs, dashboard_load = build_dashboard_tab(ctx)
        wire_chat(demo, ctx, chat, side)

        def on_load(request: gr.Request) -> tuple[Any, ...]:
            lang = ctx.lang(request)
            return (
                _who(ctx, request, lang),
                *contribute_load(request),
                dashboard_load(request),
            )

        demo.load(
            on_load,
            None,
            [who, *contribute_outputs, *dashboard_outputs],
            api_visibility="private",
        )
    return demo


def browser_secret(home: Path) -> str:
    """The key of what browsers keep for the app, made once and kept in the store home (so
    a restart does not lose the anonymous callers' conversations)."""
    path = home / "ui-browser.key"
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(24)
    home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key)
    return key


def _who(ctx: UiContext, request: gr.Request, lang: str) -> str:
    identity = ctx.identity(request)
    if identity.anonymous:
        return text("anonymous", lang)
    key = f"user_{identity.role}"
    role = f"{text(key, lang) if key in EN else identity.role}, {identity.org}"
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
    blocks = build_ui(services, claims or UploadClaims(), browser_secret(home))
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
        # No Settings panel: its developer items (PWA, screen recording) are not for users,
        # and the language is chosen in the sidebar.
        footer_links=[],
        run_history=False,
        i18n=I18N,
        css=CSS,
        head=HEAD,
        mcp_server=False,
        pwa=False,
    )
    blocks.has_launched = True  # what launch() sets; gradio.processing_utils checks it
