"""The Ask tab's layout: the chat, the question box (Enter sends), mode, downloads, feedback
comment and the sources panel. Its events are wired by `ui.chat_events`."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from assistant.answer.registry import MODE_NAMES
from ui.i18n import t
from ui.web_support import remove_session_dir

# The chat fills the window's height less the header, question box and footer around it.
CHAT_HEIGHT = "calc(100vh - 330px)"
CHAT_MIN_HEIGHT = 320


@dataclass
class ChatParts:
    """The Ask tab's components and per-session state."""

    chatbot: gr.Chatbot
    question: gr.Textbox
    mode: gr.Radio
    send: gr.Button
    download_md: gr.DownloadButton
    download_gift: gr.DownloadButton
    comment: gr.Textbox
    sources: gr.HTML
    conversation: gr.State
    session_dir: gr.State
    shelf: gr.BrowserState


def _chat_column() -> tuple[gr.Chatbot, gr.Textbox, gr.Radio, gr.Button]:
    chatbot = gr.Chatbot(
        label=t("chat_label"),
        elem_id="techkb-chat",
        height=CHAT_HEIGHT,
        min_height=CHAT_MIN_HEIGHT,
        feedback_options=("Like", "Dislike"),
        buttons=["copy"],
    )
    # One line that grows: Enter sends, Shift+Enter starts a new line (said under the box).
    question = gr.Textbox(
        label=t("question"),
        placeholder=t("question_placeholder"),
        info=t("enter_hint"),
        lines=1,
        max_lines=8,
        elem_id="techkb-question",
    )
    with gr.Row():
        mode = gr.Radio(
            choices=[(t(f"mode_{m}"), m) for m in MODE_NAMES],
            value="ask",
            label=t("mode"),
            elem_id="techkb-mode",
            scale=3,
        )
        send = gr.Button(t("send"), variant="primary", elem_id="techkb-send", scale=1)
    return chatbot, question, mode, send


def _downloads() -> tuple[gr.DownloadButton, gr.DownloadButton]:
    # DownloadButton is typed `label: str` but translates I18nData like the others.
    with gr.Row():
        markdown = gr.DownloadButton(
            t("download_md"),  # type: ignore[arg-type]
            visible=False,
            elem_id="techkb-download-md",
        )
        gift = gr.DownloadButton(
            t("download_gift"),  # type: ignore[arg-type]
            visible=False,
            elem_id="techkb-download-gift",
        )
    return markdown, gift


def build_chat_tab(browser_secret: str | None = None) -> ChatParts:
    """Lay out the Ask tab inside the current `gr.Tabs`.

    Args:
        browser_secret: the key of what the browser keeps (None: a new one, so what browsers
            kept is unreadable after a restart).
    """
    with gr.Tab(t("tab_chat"), id="chat", elem_id="techkb-tab-chat"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot, question, mode, send = _chat_column()
                download_md, download_gift = _downloads()
                gr.Markdown(t("feedback_hint"))
                comment = gr.Textbox(
                    label=t("feedback_comment"), max_lines=4, elem_id="techkb-comment"
                )
            with gr.Column(scale=2):
                gr.Markdown(f"### {t('sources')}")
                sources = gr.HTML(elem_id="techkb-sources")
        # Inside the tab: gr.Tabs may hold nothing but tabs. The conversation shown is server
        # state (the Chatbot is never an event input: its messages may name files); the
        # anonymous caller's conversations are kept in the browser too (`shelf`).
        conversation = gr.State({"id": None, "turns": []})
        session_dir = gr.State(None, delete_callback=remove_session_dir)
        shelf = gr.BrowserState(
            {"conversations": []}, storage_key="techkb-conversations", secret=browser_secret
        )
    return ChatParts(
        chatbot,
        question,
        mode,
        send,
        download_md,
        download_gift,
        comment,
        sources,
        conversation,
        session_dir,
        shelf,
    )
