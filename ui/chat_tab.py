"""The Ask tab: streaming cited answers, source cards, feedback, exercise downloads."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import gradio as gr

from assistant.answer.registry import MODE_NAMES
from assistant.errors import NotFoundError
from ui import handlers
from ui.i18n import t, text
from ui.render import answer_markdown, source_card_html, sources_html
from ui.web_support import (
    UiContext,
    new_session_dir,
    remove_session_dir,
    ui_errors,
    write_session_file,
)

logger = logging.getLogger(__name__)
MAX_SOURCE_GROUPS = 5


def build_chat_tab(ctx: UiContext) -> gr.HTML:
    """Lay out the Ask tab inside the current Blocks and wire its events.

    Returns:
        The sources panel, which the app fills on page load (its text needs the request).
    """
    with gr.Tab(t("tab_chat"), id="chat", elem_id="techkb-tab-chat"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label=t("chat_label"),
                    elem_id="techkb-chat",
                    height=480,
                    feedback_options=("Like", "Dislike"),
                    buttons=["copy"],
                )
                question = gr.Textbox(
                    label=t("question"),
                    placeholder=t("question_placeholder"),
                    lines=2,
                    max_lines=6,
                    elem_id="techkb-question",
                )
                mode = gr.Radio(
                    choices=[(t(f"mode_{m}"), m) for m in MODE_NAMES],
                    value="ask",
                    label=t("mode"),
                    elem_id="techkb-mode",
                )
                with gr.Row():
                    send = gr.Button(t("send"), variant="primary", elem_id="techkb-send")
                    clear = gr.Button(t("new_chat"), elem_id="techkb-new-chat")
                # DownloadButton is typed `label: str` but translates I18nData like the others.
                with gr.Row():
                    download_md = gr.DownloadButton(
                        t("download_md"),  # type: ignore[arg-type]
                        visible=False,
                        elem_id="techkb-download-md",
                    )
                    download_gift = gr.DownloadButton(
                        t("download_gift"),  # type: ignore[arg-type]
                        visible=False,
                        elem_id="techkb-download-gift",
                    )
                gr.Markdown(t("feedback_hint"))
                comment = gr.Textbox(
                    label=t("feedback_comment"), max_lines=4, elem_id="techkb-comment"
                )
            with gr.Column(scale=2):
                gr.Markdown(f"### {t('sources')}")
                sources = gr.HTML(elem_id="techkb-sources", js_on_load=None)
        # Per-session state (inside the tab: gr.Tabs may hold nothing but tabs): the plain-text
        # turns sent as history, which chat message carries which answer id, the source groups
        # shown, and the private folder for downloads.
        history = gr.State([])
        # What the chat shows, kept on the server: the Chatbot is never an event input, as its
        # messages may carry files and an event may name any path as one.
        conversation = gr.State([])
        answer_ids = gr.State({})
        groups = gr.State([])
        session_dir = gr.State(None, delete_callback=remove_session_dir)

    def respond(
        question_text: str,
        mode_value: str,
        messages: list[dict[str, Any]],
        turns: list[dict[str, str]],
        ids: dict[int, str],
        shown: list[dict[str, Any]],
        folder: str | None,
        request: gr.Request,
    ) -> Iterator[tuple[Any, ...]]:
        lang = ctx.lang(request)
        question_text = (question_text or "").strip()
        if not question_text:
            gr.Warning(text("empty_question", lang))
            return
        identity = ctx.identity(request)
        messages = [
            *(messages or []),
            {"role": "user", "content": question_text},
            {"role": "assistant", "content": ""},
        ]
        skip = gr.skip()
        yield messages, "", skip, skip, skip, skip, skip, skip, skip, skip
        result: dict[str, Any] | None = None
        partial = ""
        try:
            with ui_errors(lang):
                # The chat's history is server state: past the bounds its oldest turns are
                # left out, the user is not refused.
                for piece in handlers.ask_stream(
                    ctx.services,
                    identity,
                    question_text,
                    list(turns or []),
                    mode_value or "ask",
                    trim_history=True,
                ):
                    if piece.get("done"):
                        result = piece
                        break
                    partial += str(piece.get("delta", ""))
                    messages[-1] = {"role": "assistant", "content": partial}
                    yield messages, skip, skip, skip, skip, skip, skip, skip, skip, skip
            if result is None:
                raise gr.Error(text("error_other", lang))
        except gr.Error:
            # Take the unanswered turn out of the chat and give the question back to edit.
            yield messages[:-2], question_text, skip, skip, skip, skip, skip, skip, skip, skip
            raise
        answer_id = str(result.get("answer_id", ""))
        messages[-1] = {"role": "assistant", "content": answer_markdown(result, lang)}
        turns = [
            *(turns or []),
            {"role": "user", "content": question_text},
            {"role": "assistant", "content": str(result.get("answer", ""))},
        ]
        ids = {**(ids or {}), len(messages) - 1: answer_id}
        cards = _cards(ctx, identity, result, lang)
        if cards:
            shown = [
                {"answer_id": answer_id, "question": question_text, "cards": cards},
                *(shown or []),
            ][:MAX_SOURCE_GROUPS]
        md_button, gift_button, folder = _downloads(result, folder)
        yield (
            messages,
            skip,
            turns,
            ids,
            shown,
            sources_html(shown, lang),
            md_button,
            gift_button,
            folder,
            messages,
        )

    def new_chat(request: gr.Request) -> tuple[Any, ...]:
        lang = ctx.lang(request)
        hidden = gr.DownloadButton(value=None, visible=False)
        return [], "", [], {}, [], sources_html([], lang), hidden, hidden, []

    def rate(data: gr.LikeData, note: str, ids: dict[int, str], request: gr.Request) -> str | Any:
        lang = ctx.lang(request)
        index = data.index if isinstance(data.index, int) else data.index[0]
        answer_id = (ids or {}).get(index)
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

    outputs = [
        chatbot,
        question,
        history,
        answer_ids,
        groups,
        sources,
        download_md,
        download_gift,
        session_dir,
        conversation,
    ]
    inputs = [question, mode, conversation, history, answer_ids, groups, session_dir]
    for trigger in (send.click, question.submit):
        trigger(respond, inputs, outputs, api_visibility="private")
    cleared = [c for c in outputs if c is not session_dir]  # new_chat keeps the folder
    clear.click(new_chat, None, cleared, api_visibility="private")
    chatbot.clear(new_chat, None, cleared, api_visibility="private")
    chatbot.like(rate, [comment, answer_ids], [comment], api_visibility="private")
    return sources


def _cards(ctx: UiContext, identity: Any, result: dict[str, Any], lang: str) -> list[str]:
    """Source cards for every citation of an answer, in citation order."""
    answer_id = str(result.get("answer_id", ""))
    cards = []
    seen: set[int] = set()
    for citation in sorted(result.get("citations", []), key=lambda c: int(c.get("n", 0))):
        n = int(citation.get("n", 0))
        if n in seen:
            continue
        seen.add(n)
        try:
            card: dict[str, Any] | None = handlers.source_card(
                ctx.services, identity, str(citation.get("chunk_id")), str(citation.get("quote"))
            )
        except NotFoundError:
            card = None
        cards.append(
            source_card_html(card, n, answer_id, lang, title=str(citation.get("title", "")))
        )
    return cards


def _downloads(result: dict[str, Any], folder: str | None) -> tuple[Any, Any, str | None]:
    """Download buttons for an exercise set, written into this session's private folder."""
    exercise = result.get("exercise") or {}
    markdown = str(exercise.get("markdown") or "")
    gift = str(exercise.get("gift") or "")
    if not markdown and not gift:
        hidden = gr.DownloadButton(value=None, visible=False)
        return hidden, hidden, folder
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
