"""Bounds on the earlier turns a question carries (`ui.max_history_turns`, `max_history_chars`).

A question is capped at `MAX_QUESTION_CHARS`; its history, read by retrieval (a follow-up
borrows the previous question), the scope check and the usage log, is capped here, so one
request's work stays bounded. The APIs refuse a history over the bounds (422 naming the field);
the chat, whose history the server keeps, leaves its oldest turns out instead.
"""

from __future__ import annotations

from typing import Any

from assistant.errors import ValidationError
from assistant.settings import UISettings


def check_turns(count: int, limits: UISettings, field: str = "history") -> None:
    """Refuse more earlier turns than `limits.max_history_turns` (422).

    Raises:
        ValidationError: too many turns.
    """
    if count > limits.max_history_turns:
        raise ValidationError(
            f"{field}: at most {limits.max_history_turns} earlier turns, not {count}"
        )


def check_history(contents: list[str], limits: UISettings, field: str = "history") -> None:
    """Refuse a history over the bounds, before any of it is processed.

    Args:
        contents: the text of each earlier turn, oldest first.
        limits: `max_history_turns`, and `max_history_chars` (one turn and all together).
        field: the request field the message names.

    Raises:
        ValidationError: too many turns, one turn too long, or too many characters in all.
    """
    check_turns(len(contents), limits, field)
    total = 0
    for i, content in enumerate(contents):
        if len(content) > limits.max_history_chars:
            raise ValidationError(
                f"{field}[{i}].content: at most {limits.max_history_chars} characters, "
                f"not {len(content)}"
            )
        total += len(content)
    if total > limits.max_history_chars:
        raise ValidationError(
            f"{field}: at most {limits.max_history_chars} characters in all, not {total}"
        )


def recent_history(history: list[Any], limits: UISettings) -> list[Any]:
    """The most recent turns within the bounds, oldest first (what the chat sends: a long
    conversation goes on with its oldest turns left out rather than refused)."""
    if limits.max_history_turns == 0:
        return []
    kept: list[Any] = []
    total = 0
    for item in reversed(history[-limits.max_history_turns :]):
        content = item.get("content") if isinstance(item, dict) else None
        total += len(content) if isinstance(content, str) else 0
        if total > limits.max_history_chars:
            break
        kept.append(item)
    return kept[::-1]
