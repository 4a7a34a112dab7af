"""Eval datasets: JSONL items as in DESIGN.md, validated on load."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError
from assistant.language import detect_language
from assistant.types import ANONYMOUS, Identity, Turn
from evals.metrics.facts import Fact, compile_pattern

# What the right reply to an item is: an answer (ANSWERABLE, PARTIAL: what the sources hold), a
# refusal (UNANSWERABLE) or a question back (UNDERSPECIFIED).
ANSWERABILITY = ("ANSWERABLE", "PARTIAL", "UNANSWERABLE", "UNDERSPECIFIED")
ANSWERABLE_CLASSES = ("ANSWERABLE", "PARTIAL")
HALVES = ("tune", "report")
# Keys read into EvalItem attributes; every other key of an item is kept in `extra`.
_KNOWN = frozenset(
    {
        *("id", "question", "messages", "reference", "gold_sources", "gold_contributors"),
        *("answerable", "answerability", "key_facts", "wrong_facts", "user", "mode", "lang"),
        *("tags", "restricted_sources", "persona", "reference_contexts"),
    }
)


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
    answerability: str | None = None
    key_facts: tuple[Fact, ...] = ()
    wrong_facts: tuple[re.Pattern[str], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def value_of(self, name: str) -> Any:
        """A dataset field by its JSON name (`extra` first, then the attribute), else None."""
        if name in self.extra:
            return self.extra[name]
        return getattr(self, name, None) if name in _KNOWN else None


def _message(m: Any) -> bool:
    return (
        isinstance(m, dict)
        and m.get("role") in ("user", "assistant")
        and isinstance(m.get("content"), str)
    )


def _regex(pattern: Any, where: str, name: str) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern.strip():
        raise ConfigError(f"{where}: {name} must be a non-empty regex string")
    try:
        return compile_pattern(pattern)
    except re.error as e:
        raise ConfigError(f"{where}: {name} is not a valid regex ({e}): {pattern!r}") from e


def _key_facts(value: Any, where: str) -> tuple[Fact, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{where}: 'key_facts' must be a list of facts, each a list of regexes")
    facts = []
    for i, fact in enumerate(value):
        if not isinstance(fact, list) or not fact:
            raise ConfigError(
                f"{where}: key_facts[{i}] must be a non-empty list of alternative regexes"
            )
        facts.append(tuple(_regex(p, where, f"key_facts[{i}][{j}]") for j, p in enumerate(fact)))
    return tuple(facts)


def _wrong_facts(value: Any, where: str) -> tuple[re.Pattern[str], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{where}: 'wrong_facts' must be a list of regexes")
    return tuple(_regex(p, where, f"wrong_facts[{i}]") for i, p in enumerate(value))


def _answerability(raw: dict[str, Any], where: str) -> tuple[bool, str | None]:
    """`answerable` and `answerability`; either may be left out when the other is given."""
    label = raw.get("answerability")
    if label is not None and label not in ANSWERABILITY:
        raise ConfigError(
            f"{where}: 'answerability' must be one of {', '.join(ANSWERABILITY)}, not {label!r}"
        )
    if "answerable" not in raw:
        if label is None:
            raise ConfigError(f"{where}: missing field 'answerable'")
        return label in ANSWERABLE_CLASSES, label
    if not isinstance(raw["answerable"], bool):
        raise ConfigError(f"{where}: 'answerable' must be true or false")
    if label is not None and raw["answerable"] != (label in ANSWERABLE_CLASSES):
        raise ConfigError(
            f"{where}: 'answerable' {str(raw['answerable']).lower()} contradicts "
            f"'answerability' {label} (true for {' and '.join(ANSWERABLE_CLASSES)} only)"
        )
    return raw["answerable"], label


def _item(raw: Any, where: str) -> EvalItem:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: an item must be a JSON object")
    if "id" not in raw:
        raise ConfigError(f"{where}: missing field 'id'")
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
    answerable, answerability = _answerability(raw, where)
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
        answerable=answerable,
        identity=identity,
        mode=str(raw.get("mode") or "ask"),
        lang=raw.get("lang") or detect_language(question),
        tags=tuple(raw.get("tags") or ()),
        restricted_sources=tuple(raw.get("restricted_sources") or ()),
        persona=raw.get("persona"),
        reference_contexts=tuple(raw.get("reference_contexts") or ()),
        answerability=answerability,
        key_facts=_key_facts(raw.get("key_facts"), where),
        wrong_facts=_wrong_facts(raw.get("wrong_facts"), where),
        extra={k: v for k, v in raw.items() if k not in _KNOWN},
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


def half_of(item_id: str) -> str:
    """The fixed half an item belongs to: `tune` or `report`, by the parity of the first byte of
    the SHA-256 of its id (so the halves never change, whatever else the dataset holds)."""
    return HALVES[hashlib.sha256(item_id.encode("utf-8")).digest()[0] % 2]


def parse_where(expressions: Sequence[str]) -> list[tuple[str, str]]:
    """`FIELD=VALUE` filters as (field, value) pairs.

    Raises:
        ConfigError: an expression without `=` or without a field name.
    """
    pairs = []
    for expression in expressions:
        name, sep, value = expression.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--where {expression!r}: expected FIELD=VALUE, e.g. mode=ask")
        pairs.append((name.strip(), value.strip()))
    return pairs


def item_matches(item: EvalItem, name: str, value: str) -> bool:
    """Whether the item's dataset field `name` is `value` (a list field: holds it; booleans as
    true/false; an empty value: the field is absent or empty)."""
    actual = item.value_of(name)
    if value == "":
        return actual is None or actual in ("", [], ())
    if isinstance(actual, list | tuple):
        return value in [_text(v) for v in actual]
    return actual is not None and _text(actual) == value


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
