"""What the Ask tab and the sidebar do: answer (streamed), keep the conversation, reopen,
start and delete conversations, rate answers, choose the language.

Each event reads the caller from the request (`UiContext.identity`), never from its inputs:
an event fired straight at Gradio's queue with another user's conversation id finds nothing.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterator
from typing import Any

import gradio as gr

from assistant.conversations import kept_result
from assistant.errors import TechkbError
from assistant.types import Identity
from ui import conversations as convs
from ui import handlers
from ui.chat_render import answer_ids_of, conversation_choices, messages_of, sources_of
from ui.chat_tab import ChatParts
from ui.chat_view import citation_order, history_of, renumber_text
from ui.i18n import text
from ui.render import sources_html
from ui.sidebar import SidebarParts
from ui.web_support import UiContext, error_message, new_session_dir, ui_errors, write_session_file

logger = logging.getLogger(__name__)
EMPTY: dict[str, Any] = {"id": None, "turns": []}
# The language chosen is kept by the browser (storage, read by the page script of ui.app) and
# in a cookie (read by the server, which renders answers and cards in it); the page reloads in
# it. On page load, a signed-in user's kept choice is applied the same way, when this browser
# does not hold it yet (at most once per language and tab: no reload loop).
CHOOSE_LANGUAGE_JS = """(lang) => {
  if (lang !== "en" && lang !== "zh") { return; }
  localStorage.setItem("techkb-lang", lang);
  document.cookie = "techkb_lang=" + lang + "; path=/; SameSite=Strict";
  location.reload();
}"""
APPLY_LANGUAGE_JS = """(lang) => {
  if (lang !== "en" && lang !== "zh") { return; }
  var cookie = (document.cookie.match(/(?:^|; )techkb_lang=([^;]*)/) || [])[1] || "";
  if (localStorage.getItem("techkb-lang") === lang && cookie.slice(0, 2) === lang) { return; }
  var tried = "techkb-lang-applied-" + lang;
  if (sessionStorage.getItem(tried)) { return; }
  sessionStorage.setItem(tried, "1");
  localStorage.setItem("techkb-lang", lang);
  document.cookie = "techkb_lang=" + lang + "; path=/; SameSite=Strict";
  location.reload();
}"""


def _details(identity: Identity) -> bool:
    """Whether answers carry the assistant's own figures (under "details"): admins only."""
    return not identity.anonymous and identity.role == "admin"


def _saved(ctx: UiContext, identity: Identity, shelf: Any) -> list[dict[str, Any]]:
    """The caller's conversations: the server's, or (anonymous) the browser's."""
    if identity.anonymous:
        return convs.clean_shelf(shelf)
    return convs.list_conversations(ctx.services, identity)


def _hidden_downloads() -> tuple[Any, Any]:
    hidden = gr.DownloadButton(value=None, visible=False)
    return hidden, hidden


def _downloads(result: dict[str, Any], folder: str | None) -> tuple[Any, Any, str | None]:
    """Download buttons for an exercise set, written into this session's private folder."""
    exercise = result.get("exercise") or {}
    # Numbered as on screen (ui.chat_view.renumber), so the files say what the chat says.
    order = citation_order(
        str(result.get("answer") or ""), [int(c["n"]) for c in result.get("citations") or []]
    )
    markdown = renumber_text(str(exercise.get("markdown") or ""), order)
    gift = renumber_text(str(exercise.get("gift") or ""), order)
    if not markdown and not gift:
        return (*_hidden_downloads(), folder)
    folder = folder or new_session_dir()
    stem = f"exercise-{str(result.get('answer_id', 'set'))[:12]}"
    buttons = []
    for content, suffix in ((markdown, ".md"), (gift, ".gift.txt")):
        if content:
            path = write_session_file(folder, stem + suffix, content)
            buttons.append(gr.DownloadButton(value=path, visible=True))
        else:
            buttons.append(gr.DownloadButton(value=None, visible=False))
    return buttons[0], buttons[1], folder


def _keep_turn(
    ctx: UiContext,
    identity: Identity,
    conversation: dict[str, Any],
    shelf: Any,
    question: str,
    mode: str,
    result: dict[str, Any],
) -> tuple[str | None, list[dict[str, Any]], Any]:
    """Store the answered turn; returns the conversation id, the list and the browser's value."""
    if identity.anonymous:
        kept, cid = convs.shelf_with_turn(
            convs.clean_shelf(shelf), conversation.get("id"), question, mode, result
        )
        return cid, kept, {"conversations": kept}
    cid = ctx.services.conversations.add_turn(
        identity, conversation.get("id"), question, mode, result
    )
    return cid, convs.list_conversations(ctx.services, identity), gr.skip()


def respond(
    ctx: UiContext,
    question: str,
    mode: str,
    conversation: dict[str, Any],
    shelf: Any,
    folder: str | None,
    request: gr.Request,
) -> Iterator[tuple[Any, ...]]:
    """Stream the answer into the chat, then keep the turn and show its sources.

    Yields:
        chatbot, question box, conversation, sources, two downloads, folder, list, shelf.
    """
    lang = ctx.lang(request)
    question = (question or "").strip()
    skip = gr.skip()
    if not question:
        gr.Warning(text("empty_question", lang))
        return
    identity = ctx.identity(request)
    conversation = conversation or dict(EMPTY)
    turns = list(conversation.get("turns") or [])
    details = _details(identity)
    messages = [
        *messages_of(turns, lang, details=details),
        {"role": "user", "content": question},
        {"role": "assistant", "content": ""},
    ]
    yield messages, "", skip, skip, skip, skip, skip, skip, skip
    result: dict[str, Any] | None = None
    partial = ""
    try:
        with ui_errors(lang):
            # The history is server state: past the bounds its oldest turns are left out.
            for piece in handlers.ask_stream(
                ctx.services, identity, question, history_of(turns), mode or "ask",
                trim_history=True,
            ):  # fmt: skip
                if piece.get("done"):
                    result = piece
                    break
                partial += str(piece.get("delta", ""))
                messages[-1] = {"role": "assistant", "content": partial}
                yield messages, skip, skip, skip, skip, skip, skip, skip, skip
        if result is None:
            raise gr.Error(text("error_other", lang))
    except gr.Error:
        # Take the unanswered turn out of the chat and give the question back to edit.
        yield messages[:-2], question, skip, skip, skip, skip, skip, skip, skip
        raise
    turn = {"question": question, "mode": mode or "ask", "result": kept_result(result)}
    cid, items, shelf_out = conversation.get("id"), skip, skip
    try:
        cid, kept, shelf_out = _keep_turn(
            ctx, identity, conversation, shelf, question, mode or "ask", result
        )
        items = gr.Radio(choices=conversation_choices(kept), value=cid)
    except TechkbError as e:  # the answer stands; only keeping it failed
        logger.warning("conversation not kept: %s", e)
        gr.Warning(error_message(e, lang))
    shown_turns = [*turns, turn]
    shown = {"id": cid, "turns": shown_turns}
    md_button, gift_button, folder = _downloads(result, folder)
    yield (
        messages_of(shown_turns, lang, details=details),
        skip,
        shown,
        sources_of(ctx.services, identity, shown_turns, lang),
        md_button,
        gift_button,
        folder,
        items,
        shelf_out,
    )


def show(
    ctx: UiContext, identity: Identity, conversation: dict[str, Any], lang: str
) -> tuple[Any, ...]:
    """Chatbot, conversation state, sources, downloads (hidden) and the confirm box (hidden)."""
    turns = conversation.get("turns") or []
    return (
        messages_of(turns, lang, details=_details(identity)),
        conversation,
        sources_of(ctx.services, identity, turns, lang) if turns else sources_html([], lang),
        *_hidden_downloads(),
        gr.Group(visible=False),
    )


def reopen(ctx: UiContext, chosen: str | None, shelf: Any, request: gr.Request) -> tuple[Any, ...]:
    """Open one of the caller's conversations from the sidebar."""
    if not chosen:
        return tuple(gr.skip() for _ in range(6))
    lang = ctx.lang(request)
    identity = ctx.identity(request)
    with ui_errors(lang):
        if identity.anonymous:
            turns = convs.shelf_conversation(convs.clean_shelf(shelf), chosen)["turns"]
        else:
            turns = convs.open_conversation(ctx.services, identity, chosen)["turns"]
    return show(ctx, identity, {"id": chosen, "turns": turns}, lang)


def start_new(ctx: UiContext, request: gr.Request) -> tuple[Any, ...]:
    """An empty chat; the list stays, nothing is selected."""
    return (*show(ctx, ctx.identity(request), dict(EMPTY), ctx.lang(request)), gr.Radio(value=None))


def ask_to_delete(
    ctx: UiContext, chosen: str | None, shelf: Any, request: gr.Request
) -> tuple[Any, Any]:
    """Say what deleting the chosen conversation removes, and ask to confirm."""
    lang = ctx.lang(request)
    identity = ctx.identity(request)
    if not chosen:
        raise gr.Error(text("select_conversation_first", lang))
    with ui_errors(lang):
        if identity.anonymous:
            item = convs.shelf_conversation(convs.clean_shelf(shelf), chosen)
            title, count = item["title"], len(item["turns"])
        else:
            found = convs.open_conversation(ctx.services, identity, chosen)
            title, count = found["title"], len(found["turns"])
    where = text("kept_in_browser" if identity.anonymous else "kept_on_server", lang)
    message = text("confirm_delete_conversation", lang).format(
        title=html.escape(title), count=count, where=where
    )
    return gr.Group(visible=True), message


def delete(
    ctx: UiContext,
    chosen: str | None,
    conversation: dict[str, Any],
    shelf: Any,
    request: gr.Request,
) -> tuple[Any, ...]:
    """Delete the chosen conversation (after the confirmation); clear the chat if it was open.

    Returns:
        chatbot, conversation, sources, two downloads, confirm box, list, shelf.
    """
    lang = ctx.lang(request)
    identity = ctx.identity(request)
    if not chosen:
        raise gr.Error(text("select_conversation_first", lang))
    shelf_out: Any = gr.skip()
    with ui_errors(lang):
        if identity.anonymous:
            kept = convs.clean_shelf(shelf)
            convs.shelf_conversation(kept, chosen)
            kept = [c for c in kept if c["conversation_id"] != chosen]
            shelf_out = {"conversations": kept}
        else:
            convs.delete_conversation(ctx.services, identity, chosen)
            kept = convs.list_conversations(ctx.services, identity)
    gr.Info(text("conversation_deleted", lang))
    shown = dict(EMPTY) if (conversation or {}).get("id") == chosen else conversation
    return (
        *show(ctx, identity, shown, lang),
        gr.Radio(choices=conversation_choices(kept), value=shown.get("id")),
        shelf_out,
    )


def rate(
    ctx: UiContext,
    data: gr.LikeData,
    note: str,
    conversation: dict[str, Any],
    request: gr.Request,
) -> str | Any:
    """Record a thumbs up or down (with the comment typed) for an answer of this chat."""
    lang = ctx.lang(request)
    index = data.index if isinstance(data.index, int) else data.index[0]
    answer_id = answer_ids_of((conversation or {}).get("turns") or []).get(index)
    if answer_id is None or data.liked not in (True, False):
        return gr.skip()  # a question, or a rating taken back
    with ui_errors(lang):
        handlers.give_feedback(
            ctx.services,
            ctx.identity(request),
            answer_id,
            1 if data.liked is True else -1,
            (note or "").strip(),
        )
    gr.Info(text("feedback_thanks", lang))
    return ""


def choose_language(ctx: UiContext, language: str | None, request: gr.Request) -> None:
    """Keep a signed-in user's language on the server (the browser keeps it too)."""
    identity = ctx.identity(request)
    if language and not identity.anonymous:
        with ui_errors(ctx.lang(request)):
            ctx.services.conversations.set_language(identity, language)


def on_load(ctx: UiContext, shelf: Any, request: gr.Request) -> tuple[Any, ...]:
    """The sidebar's list, the empty sources panel, the language shown (the signed-in user's
    kept choice, else the page's) and that kept choice alone ("" when none)."""
    identity = ctx.identity(request)
    lang = ctx.lang(request)
    chosen = None if identity.anonymous else ctx.services.conversations.language(identity)
    return (
        gr.Radio(choices=conversation_choices(_saved(ctx, identity, shelf)), value=None),
        sources_html([], chosen or lang),
        chosen or lang,
        chosen or "",
    )


def wire_chat(demo: gr.Blocks, ctx: UiContext, chat: ChatParts, side: SidebarParts) -> None:
    """Register the Ask tab's and the sidebar's events (all private to the web app)."""

    def _respond(q: str, m: str, c: Any, s: Any, f: Any, request: gr.Request) -> Iterator[Any]:
        yield from respond(ctx, q, m, c, s, f, request)

    def _reopen(chosen: str | None, s: Any, request: gr.Request) -> tuple[Any, ...]:
        return reopen(ctx, chosen, s, request)

    def _new(request: gr.Request) -> tuple[Any, ...]:
        return start_new(ctx, request)

    def _ask(chosen: str | None, s: Any, request: gr.Request) -> tuple[Any, Any]:
        return ask_to_delete(ctx, chosen, s, request)

    def _delete(chosen: str | None, c: Any, s: Any, request: gr.Request) -> tuple[Any, ...]:
        return delete(ctx, chosen, c, s, request)

    def _rate(data: gr.LikeData, note: str, c: Any, request: gr.Request) -> Any:
        return rate(ctx, data, note, c, request)

    def _language(language: str | None, request: gr.Request) -> None:
        choose_language(ctx, language, request)

    def _load(s: Any, request: gr.Request) -> tuple[Any, ...]:
        return on_load(ctx, s, request)

    private: dict[str, Any] = {"api_visibility": "private"}
    shown = [chat.chatbot, chat.conversation, chat.sources, chat.download_md, chat.download_gift,
             side.confirm_box]  # fmt: skip
    answered = [chat.chatbot, chat.question, chat.conversation, chat.sources, chat.download_md,
                chat.download_gift, chat.session_dir, side.conversations, chat.shelf]  # fmt: skip
    asked = [chat.question, chat.mode, chat.conversation, chat.shelf, chat.session_dir]
    for trigger in (chat.send.click, chat.question.submit):
        trigger(_respond, asked, answered, **private)
    side.conversations.input(_reopen, [side.conversations, chat.shelf], shown, **private)
    for trigger in (side.new_chat.click, chat.chatbot.clear):
        trigger(_new, None, [*shown, side.conversations], **private)
    side.delete.click(
        _ask, [side.conversations, chat.shelf], [side.confirm_box, side.confirm_text], **private
    )
    side.cancel.click(lambda: gr.Group(visible=False), None, side.confirm_box, **private)
    side.confirm.click(
        _delete,
        [side.conversations, chat.conversation, chat.shelf],
        [*shown, side.conversations, chat.shelf],
        **private,
    )
    chat.chatbot.like(_rate, [chat.comment, chat.conversation], [chat.comment], **private)
    side.language.input(_language, [side.language], None, **private).then(
        None, [side.language], None, js=CHOOSE_LANGUAGE_JS, **private
    )
    loaded = [side.conversations, chat.sources, side.language, side.preference]
    demo.load(_load, [chat.shelf], loaded, **private).then(
        None, [side.preference], None, js=APPLY_LANGUAGE_JS, **private
    )
