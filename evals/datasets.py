"""Eval datasets: JSONL items as in DESIGN.md, validated on load."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError
from assistant.types import ANONYMOUS, Identity, Turn


@dataclass(frozen=True)
class EvalItem:
    id: str
    question: str
    history: tuple[Turn, ...]
    reference: str
    gold_sources: tuple[str, ...]
    gold_contributors: tuple[str, ...]
    answerable: bool
    identity: Identity = ANONYMOUS
    mode: str = "ask"
    lang: str | None = None
    tags: tuple[str, ...] = ()
    restricted_sources: tuple[str, ...] = ()
    persona: str | None = None
    reference_contexts: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def _message(m: Any) -> bool:
    return (
        isinstance(m, dict)
        and m.get("role") in ("user", "assistant")
        and isinstance(m.get("content"), str)
    )


def _item(raw: Any, where: str) -> EvalItem:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: an item must be a JSON object")
    for key in ("id", "answerable"):
        if key not in raw:
            raise ConfigError(f"{where}: missing field {key!r}")
    if "messages" in raw:
        msgs = raw["messages"]
        if not isinstance(msgs, list) or not msgs or not all(_message(m) for m in msgs):
            raise ConfigError(f"{where}: 'messages' must be a list of {{role, content}}")
        if msgs[-1]["role"] != "user":
            raise ConfigError(f"{where}: 'messages' must end with the user's question")
        turns = tuple(Turn(m["role"], m["content"]) for m in msgs)
        question, history = turns[-1].content, turns[:-1]
    elif isinstance(raw.get("question"), str):
        question, history = raw["question"], ()
    else:
        raise ConfigError(f"{where}: needs 'question' or 'messages'")
    for key in ("gold_sources", "gold_contributors", "restricted_sources", "reference_contexts"):
        value = raw.get(key)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, str) for v in value)
        ):
            raise ConfigError(f"{where}: {key!r} must be a list of strings")
    if not isinstance(raw["answerable"], bool):
        raise ConfigError(f"{where}: 'answerable' must be true or false")
    user = raw.get("user") or {}
    if not isinstance(user, dict):
        raise ConfigError(f"{where}: 'user' must be an object {{org, role}}")
    identity = Identity(user.get("user"), user.get("org"), user.get("role")) if user else ANONYMOUS
    return EvalItem(
        id=str(raw["id"]),
        question=question,
        history=history,
        reference=str(raw.get("reference") or ""),
        gold_sources=tuple(raw.get("gold_sources") or ()),
        gold_contributors=tuple(raw.get("gold_contributors") or ()),
        answerable=bool(raw["answerable"]),
        identity=identity,
        mode=str(raw.get("mode") or "ask"),
        lang=raw.get("lang"),
        tags=tuple(raw.get("tags") or ()),
        restricted_sources=tuple(raw.get("restricted_sources") or ()),
        persona=raw.get("persona"),
        reference_contexts=tuple(raw.get("reference_contexts") or ()),
    )


def load_dataset(path: Path) -> list[EvalItem]:
    """Read a JSONL dataset.

    Raises:
        ConfigError: unreadable file or an invalid line (named by line number).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read dataset: {e}") from e
    items: list[EvalItem] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}:{n}: invalid JSON: {e}") from e
        items.append(_item(raw, f"{path}:{n}"))
    return items
