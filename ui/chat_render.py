"""A conversation's turns as the chat shows them: messages, source cards, the sidebar list.

Turns are ``{"question", "mode", "result", "withheld"?}`` dicts (`assistant.conversations`):
the same shape whether they come from the answer just given, the server's store or the
browser's. Source cards are fetched again under the access rule every time they are shown.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from assistant.errors import NotFoundError
from assistant.types import Identity
from ui import handlers
from ui.chat_view import documents_of, renumber
from ui.i18n import text
from ui.render import answer_markdown, doc_anchor, document_card_html, sources_html
from ui.services import Services

MAX_SOURCE_GROUPS = 5  # answers whose sources the panel shows, newest first


def messages_of(turns: Sequence[Mapping[str, Any]], lang: str, *, details: bool) -> list[Any]:
    """The chat messages of a conversation (citations numbered for display)."""
    messages: list[dict[str, str]] = []
    for turn in turns:
        messages.append({"role": "user", "content": str(turn.get("question", ""))})
        if turn.get("withheld"):
            content = f'<p class="techkb-muted">{html.escape(text("answer_withheld", lang))}</p>'
        else:
            content = answer_markdown(renumber(turn.get("result") or {}), lang, details=details)
        messages.append({"role": "assistant", "content": content})
    return messages


def answer_ids_of(turns: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    """Chat message index -> answer id of the answers (for ratings)."""
    ids = {}
    for i, turn in enumerate(turns):
        answer_id = (turn.get("result") or {}).get("answer_id")
        if answer_id and not turn.get("withheld"):
            ids[2 * i + 1] = str(answer_id)
    return ids


def document_cards(
    services: Services, identity: Identity, result: Mapping[str, Any], lang: str
) -> list[str]:
    """One card per cited document of an answer (numbered for display), passages inside."""
    shown = renumber(result)
    answer_id = str(shown.get("answer_id") or "")
    cards = []
    for i, group in enumerate(documents_of(shown["citations"])):
        passages = []
        for citation in group["citations"]:
            try:
                card: dict[str, Any] | None = handlers.source_card(
                    services, identity, str(citation.get("chunk_id")), str(citation.get("quote"))
                )
            except NotFoundError:
                card = None
            passages.append((int(citation["n"]), card))
        cards.append(
            document_card_html(
                passages, answer_id, lang, title=group["title"], anchor=doc_anchor(answer_id, i)
            )
        )
    return cards


def sources_of(
    services: Services, identity: Identity, turns: Sequence[Mapping[str, Any]], lang: str
) -> str:
    """The sources panel for a conversation: its latest answers' cards, newest first."""
    groups = []
    for turn in reversed(turns):
        result = turn.get("result") or {}
        if turn.get("withheld") or not result.get("citations"):
            continue
        cards = document_cards(services, identity, result, lang)
        groups.append(
            {"answer_id": result.get("answer_id"), "question": turn.get("question"), "cards": cards}
        )
        if len(groups) == MAX_SOURCE_GROUPS:
            break
    return sources_html(groups, lang)


def conversation_choices(items: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """The sidebar's list: (title, conversation id), most recent first."""
    return [(str(c.get("title") or "…"), str(c.get("conversation_id"))) for c in items]
