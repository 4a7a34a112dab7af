"""Conversation handlers: the signed-in user's conversations on the server, the anonymous
caller's in the browser.

Signed-in users' conversations live in `assistant.conversations.ConversationStore`, each
visible to its owner only (another user's id is "not found", over the web app's events and the
REST API alike). Without sign-in there is nobody to own a conversation on the server: the web
app keeps the anonymous caller's conversations in the browser's storage (`gr.BrowserState`),
and what comes back from the browser is untrusted — :func:`clean_shelf` keeps only well-formed,
bounded values, and source cards are always fetched again under the access rule.
"""

from __future__ import annotations

import uuid
from typing import Any

from assistant.conversations import CITATION_KEYS, RESULT_KEYS, kept_result, title_from
from assistant.errors import NotFoundError
from assistant.types import Identity
from ui.services import Services

MAX_BROWSER_CONVERSATIONS = 20
MAX_BROWSER_TURNS = 30
MAX_BROWSER_TEXT = 20_000  # characters of one question or answer kept in the browser


def list_conversations(services: Services, identity: Identity) -> list[dict[str, Any]]:
    """The caller's conversations, most recent first (anonymous callers: none on the server)."""
    return services.conversations.summaries(identity)


def open_conversation(
    services: Services, identity: Identity, conversation_id: str
) -> dict[str, Any]:
    """One of the caller's conversations with its turns as the caller may read them now.

    Raises:
        NotFoundError: unknown, or somebody else's.
    """
    return services.conversations.get(identity, conversation_id).to_dict()


def delete_conversation(services: Services, identity: Identity, conversation_id: str) -> None:
    """Delete one of the caller's conversations.

    Raises:
        NotFoundError: unknown, or somebody else's.
    """
    services.conversations.delete(identity, conversation_id)


# -- the anonymous caller's conversations, kept in the browser ----------------------------------
def _text(value: Any) -> str:
    return value[:MAX_BROWSER_TEXT] if isinstance(value, str) else ""


def _clean_turn(turn: Any) -> dict[str, Any] | None:
    if not isinstance(turn, dict) or not isinstance(turn.get("result"), dict):
        return None
    question = _text(turn.get("question")).strip()
    if not question:
        return None
    raw = turn["result"]
    result = {k: raw.get(k) for k in RESULT_KEYS}
    result["answer"] = _text(raw.get("answer"))
    result["refused"] = bool(raw.get("refused"))
    result["answer_id"] = _text(raw.get("answer_id"))[:64] or None
    result["notes"] = [_text(n) for n in raw.get("notes") or [] if isinstance(n, str)][:10]
    citations = []
    for c in raw.get("citations") or []:
        if (
            isinstance(c, dict)
            and isinstance(c.get("n"), int)
            and isinstance(c.get("chunk_id"), str)
        ):
            citations.append({k: c.get(k) for k in CITATION_KEYS if k in c})
    result["citations"] = citations[:50]
    return {"question": question, "mode": _text(turn.get("mode"))[:20] or "ask", "result": result}


def clean_shelf(value: Any) -> list[dict[str, Any]]:
    """The conversations a browser sent back, reduced to well-formed, bounded ones."""
    items = value.get("conversations") if isinstance(value, dict) else None
    shelf = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("conversation_id"), str):
            continue
        turns = [t for t in map(_clean_turn, item.get("turns") or []) if t]
        if turns:
            shelf.append(
                {
                    "conversation_id": item["conversation_id"][:64],
                    "title": title_from(turns[0]["question"]),
                    "turns": turns[-MAX_BROWSER_TURNS:],
                }
            )
    return shelf[:MAX_BROWSER_CONVERSATIONS]


def shelf_with_turn(
    shelf: list[dict[str, Any]],
    conversation_id: str | None,
    question: str,
    mode: str,
    result: dict[str, Any],
) -> tuple[list[dict[str, Any]], str]:
    """The browser's conversations with a turn added (a new conversation goes first)."""
    turn = {"question": question, "mode": mode, "result": kept_result(result)}
    for item in shelf:
        if item["conversation_id"] == conversation_id:
            item["turns"] = [*item["turns"], turn][-MAX_BROWSER_TURNS:]
            rest = [i for i in shelf if i is not item]
            return [item, *rest], item["conversation_id"]
    new_id = f"b-{uuid.uuid4().hex}"
    item = {"conversation_id": new_id, "title": title_from(question), "turns": [turn]}
    return [item, *shelf][:MAX_BROWSER_CONVERSATIONS], new_id


def shelf_conversation(shelf: list[dict[str, Any]], conversation_id: str) -> dict[str, Any]:
    """One of the browser's conversations.

    Raises:
        NotFoundError: not among them.
    """
    for item in shelf:
        if item["conversation_id"] == conversation_id:
            return item
    raise NotFoundError(f"no conversation {conversation_id!r}")
