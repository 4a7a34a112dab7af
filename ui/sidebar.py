"""The sidebar: a new conversation, the list of earlier ones, deleting one (after a question),
and the UI language."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ui.i18n import LANGUAGE_NAMES, t


@dataclass
class SidebarParts:
    """The sidebar's components (its events are wired by `ui.chat_events`)."""

    new_chat: gr.Button
    conversations: gr.Radio
    delete: gr.Button
    confirm_box: gr.Group
    confirm_text: gr.Markdown
    confirm: gr.Button
    cancel: gr.Button
    language: gr.Radio
    preference: gr.Textbox  # hidden: the signed-in user's kept language, for the page script


def build_sidebar() -> SidebarParts:
    """Lay out the sidebar inside the current Blocks."""
    with gr.Sidebar(label="techkb", open=True, elem_id="techkb-sidebar"):
        new_chat = gr.Button(t("new_chat"), variant="primary", elem_id="techkb-new-chat")
        conversations = gr.Radio(
            choices=[],
            value=None,
            label=t("conversations"),
            info=t("conversations_info"),
            elem_id="techkb-conversations",
        )
        delete = gr.Button(
            t("delete_conversation"), size="sm", variant="stop", elem_id="techkb-delete-conv"
        )
        with gr.Group(visible=False, elem_id="techkb-confirm-conv") as confirm_box:
            confirm_text = gr.Markdown()
            with gr.Row():
                confirm = gr.Button(
                    t("confirm_delete"), variant="stop", elem_id="techkb-confirm-delete-conv"
                )
                cancel = gr.Button(t("cancel"), elem_id="techkb-cancel-delete-conv")
        language = gr.Radio(
            choices=[(name, code) for code, name in LANGUAGE_NAMES.items()],
            value=None,
            label=t("language"),
            elem_id="techkb-language",
        )
        preference = gr.Textbox(visible=False)
    return SidebarParts(
        new_chat, conversations, delete, confirm_box, confirm_text, confirm, cancel, language,
        preference,
    )  # fmt: skip
