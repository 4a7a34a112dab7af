"""Plain handler functions behind the web app, the REST API and the OpenAI-compatible API.

Every function takes the `Services` and the caller's `Identity` and enforces the access rule
itself, so the Gradio UI and the HTTP routes cannot disagree about who sees what. The store's
SQLite catalog may only be used from the thread that opened it: questions are answered by the
workers of `Services.answers` (each with its own store handle, see `ui.answer_pool`), every
other store call runs on one dedicated thread (`Services.call`); the usage log opens its own
connections. A question's history is bounded (`ui.max_history_turns`, `ui.max_history_chars`)
before any of it is read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.access import can_see, validate_identity
from assistant.answer.registry import MODE_NAMES
from assistant.errors import AccessError, AuthError, NotFoundError, ValidationError
from assistant.settings import UISettings
from assistant.types import ANONYMOUS, Identity, Turn
from ui.answer_pool import Reader
from ui.documents import (
    dashboard,
    delete_document,
    ledger,
    list_documents,
    replace_document,
    start_upload,
    upload_status,
)
from ui.history import check_history, check_turns, recent_history
from ui.services import Services

if TYPE_CHECKING:
    from assistant.service import Assistant

logger = logging.getLogger(__name__)
CONTRIBUTOR_ROLES = ("staff", "teacher", "admin")
MAX_QUESTION_CHARS = 4000
_WORDS = re.compile(r"\S+\s*")


# -- identity -----------------------------------------------------------------------------------
def sign_in(services: Services, username: str, password: str) -> Identity:
    """The identity for a user name and password from the users file.

    Raises:
        AuthError: no users file, unknown user or wrong password.
    """
    if services.users is None:
        raise AuthError("sign-in is off on this server (no users file): everyone is anonymous")
    return services.users.verify_password(username, password)


def identity_for_user(services: Services, username: str | None) -> Identity:
    """The identity of a signed-in user name; None or unknown -> anonymous."""
    if services.users is None or not username:
        return ANONYMOUS
    user = services.users.get(username)
    return user.identity if user is not None else ANONYMOUS


def _history(history: list[dict[str, Any]] | None, limits: UISettings) -> list[Turn]:
    items = history or []
    if not isinstance(items, list):
        raise ValidationError("history: must be a list of turns")
    check_turns(len(items), limits)  # first: a huge history is refused before it is read
    turns = []
    for i, item in enumerate(items):
        if (
            not isinstance(item, dict)
            or item.get("role") not in ("user", "assistant")
            or not isinstance(item.get("content"), str)
        ):
            raise ValidationError(f'history[{i}]: must be {{"role": user|assistant, "content"}}')
        turns.append(Turn(item["role"], item["content"]))
    check_history([t.content for t in turns], limits)
    return turns


# -- asking -------------------------------------------------------------------------------------
def ask(
    services: Services,
    identity: Identity,
    question: str,
    history: list[dict[str, Any]] | None = None,
    mode: str = "ask",
    *,
    trim_history: bool = False,
) -> dict[str, Any]:
    """Answer a question for `identity` and log it; see the module docs for the shape.

    Args:
        trim_history: leave out the oldest turns over the bounds instead of refusing them.

    Raises:
        ValidationError: empty or over-long question, history over the bounds, bad history
            or mode.
        BusyError: no answer within `ui.answer_timeout_s`.
    """
    question = (question or "").strip()
    if not question:
        raise ValidationError("question: must not be empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValidationError(f"question: at most {MAX_QUESTION_CHARS} characters")
    if mode not in MODE_NAMES:
        raise ValidationError(f"mode {mode!r}: one of {', '.join(MODE_NAMES)}")
    limits = services.settings.ui
    if trim_history and isinstance(history, list):
        history = recent_history(history, limits)
    turns = _history(history, limits)
    validate_identity(identity)
    return services.answers.run(_answer, services, identity, question, turns, mode)


def _answer(
    reader: Reader,
    services: Services,
    identity: Identity,
    question: str,
    turns: list[Turn],
    mode: str,
) -> dict[str, Any]:
    """The answer on an answer worker, over that worker's store handle."""
    answer = reader.assistant.ask(question, identity=identity, history=turns, mode=mode)
    ids = [c.chunk_id for c in answer.citations]
    chunks = reader.store.chunks(ids, identity)
    citations = []
    for c in answer.citations:
        chunk = chunks.get(c.chunk_id)
        if chunk is None:  # re-checked: never hand out what the identity may not see
            continue
        citations.append(
            {
                **c.to_dict(),
                "edition": chunk.edition,
                "license": chunk.license,
                "section": chunk.section,
                "page": chunk.page,
                "kind": chunk.kind,
                "visibility": chunk.visibility,
                "allowed_roles": list(chunk.allowed_roles),
            }
        )
    result: dict[str, Any] = {
        "answer": answer.answer,
        "outcome": answer.outcome,
        "refused": answer.refused,
        "mode": answer.mode,
        "citations": citations,
        "notes": list(answer.notes),
        "exercise": None,
        "timings_ms": {k: round(v, 2) for k, v in answer.timings_ms.items()},
    }
    if mode == "exercise" and not answer.refused:
        result["exercise"] = _exercise_formats(reader.assistant, question, answer, turns)
    retrieved = [
        {"chunk_id": h.chunk.chunk_id, "source": h.chunk.source, "contributor": h.chunk.contributor}
        for h in answer.retrieved
    ]
    history = [{"role": t.role, "content": t.content} for t in turns]
    result["answer_id"] = services.feedback.log_answer(
        identity, question, history, result, retrieved
    )
    return result


def _exercise_formats(
    assistant: Assistant, question: str, answer: Any, turns: list[Turn]
) -> dict[str, str] | None:
    """Markdown (the answer as shown) and, when it is the same set, Moodle GIFT.

    GIFT needs the exercise set as data, which the answer does not carry: the set is made again
    and exported only when its Markdown is the answer shown, word for word (so with the
    extractive answerer, whose sets are deterministic). A set written by a language model is
    not the one made again: it is offered as Markdown only, never as a different set in GIFT.
    """
    from assistant.answer.exercise_format import exercise_to_markdown
    from assistant.answer.modes import exercise_to_gift

    maker = getattr(assistant.answerer, "exercise_set", None) or getattr(
        assistant.fallback, "exercise_set", None
    )
    if maker is None:
        return {"markdown": answer.answer, "gift": ""}
    exercise = maker(question, list(answer.retrieved), turns)
    if exercise_to_markdown(exercise).strip() != str(answer.answer).strip():
        logger.info("exercise set shown differs from the one made again: no GIFT export")
        return {"markdown": answer.answer, "gift": ""}
    return {"markdown": answer.answer, "gift": exercise_to_gift(exercise)}


def ask_stream(
    services: Services,
    identity: Identity,
    question: str,
    history: list[dict[str, Any]] | None = None,
    mode: str = "ask",
    *,
    trim_history: bool = False,
) -> Iterator[dict[str, Any]]:
    """Yield `{"delta": str}` pieces of the answer, then `{"done": True, **ask(...)}`.

    The answer is composed first (the extractive answerer is not incremental), then sent in
    word-sized pieces so clients render it as it comes.
    """
    result = ask(services, identity, question, history, mode, trim_history=trim_history)
    for piece in split_words(result["answer"]):
        yield {"delta": piece}
    yield {"done": True, **result}


def split_words(text: str) -> list[str]:
    """Word-sized pieces (each with its trailing space) that join back to `text`."""
    lead = text[: len(text) - len(text.lstrip())]
    pieces = _WORDS.findall(text)
    if lead and pieces:
        pieces[0] = lead + pieces[0]
    return pieces or ([text] if text else [])


# -- sources ------------------------------------------------------------------------------------
def source_card(
    services: Services, identity: Identity, chunk_id: str, quote: str = ""
) -> dict[str, Any]:
    """The chunk behind a citation, for the identity that may see it.

    Raises:
        NotFoundError: unknown OR invisible chunk (one message: existence is not revealed).
    """
    found = services.call(services.store.chunks, [chunk_id], identity)
    chunk = found.get(chunk_id)
    if chunk is None or not can_see(identity, chunk.to_metadata()):
        raise NotFoundError(f"no source {chunk_id!r}")
    start = chunk.text.find(quote) if quote else -1
    names = services.call(contributor_names, services)
    return {
        "chunk_id": chunk.chunk_id,
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "contributor": chunk.contributor,
        "contributor_name": names.get(chunk.contributor, chunk.contributor),
        "source": chunk.source,
        "locator": chunk.locator,
        "section": chunk.section,
        "page": chunk.page,
        "edition": chunk.edition,
        "license": chunk.license,
        "kind": chunk.kind,
        "text": chunk.text,
        "quote": quote,
        "quote_start": start,
        "quote_end": start + len(quote) if start >= 0 else -1,
    }


def _contributor_entries(services: Services) -> list[dict[str, Any]]:
    """The contributors.yaml entries of every ingested root (first root to declare an id wins)."""
    import yaml

    entries: dict[str, dict[str, Any]] = {}
    for root in sorted({d.root for d in services.store.catalog.documents()}):
        path = Path(root) / "contributors.yaml"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        for entry in data.get("contributors") or []:
            if isinstance(entry, dict) and entry.get("id"):
                entries.setdefault(str(entry["id"]), entry)
    return list(entries.values())


def contributor_names(services: Services) -> dict[str, str]:
    """Contributor id -> display name, from the contributors.yaml of every ingested root."""
    return {str(e["id"]): str(e.get("name") or e["id"]) for e in _contributor_entries(services)}


def contributor_licences(services: Services) -> dict[str, str]:
    """Contributor id -> its default licence, where a contributors.yaml declares one."""
    return {
        str(e["id"]): str(e["license"]) for e in _contributor_entries(services) if e.get("license")
    }


# -- feedback -----------------------------------------------------------------------------------
def give_feedback(
    services: Services, identity: Identity, answer_id: str, rating: int, comment: str = ""
) -> None:
    """Rate an answer the caller was given (+1 / -1, optional comment).

    With a users file, anonymous callers may not rate (AccessError).

    Raises:
        AccessError: anonymous caller on a server with users.
        NotFoundError: no such answer for this caller.
        ValidationError: bad rating or comment.
    """
    if services.users is not None and identity.anonymous:
        raise AccessError("sign in to rate answers")
    services.feedback.rate(answer_id, identity, int(rating), comment or "")


__all__ = [
    "Services",
    "ask",
    "ask_stream",
    "check_history",
    "dashboard",
    "delete_document",
    "give_feedback",
    "identity_for_user",
    "ledger",
    "list_documents",
    "recent_history",
    "replace_document",
    "sign_in",
    "source_card",
    "split_words",
    "start_upload",
    "upload_status",
]
