"""How an answer is presented in the chat, free of Gradio: citations renumbered by first use,
citations grouped by document, and notes sorted into what users read and what admins may open.

The assistant numbers citations after the retrieved chunks they point to ([8], [9], [16]...);
a reader expects [1], [2], [3] in the order they appear. :func:`renumber` rewrites the numbers of
one answer, its text and its citations together, for display only: the usage log and the
history sent with a follow-up keep the assistant's own numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ui.i18n import text

# `[n]` or `[n, m]`, not escaped and not a Markdown link label (as `ui.render`).
_CITATION = re.compile(r"(?<!\\)\[(\d{1,4}(?:\s*[,;]\s*\d{1,4})*)\](?![(:])")
_SPLIT = re.compile(r"\s*[,;]\s*")

# Notes the assistant attaches to an answer, sorted by who reads them. A note that matches no
# row is a measurement for admins (fail closed: no debug output reaches other users).
# Each row: (pattern, UI string key for users, or None: admins' details only).
NOTE_TABLE: tuple[tuple[re.Pattern[str], str | None], ...] = (
    (re.compile(r"^The \S+ backend failed"), "note_fallback"),
    (re.compile(r"^Removed citations that match no retrieved source"), "note_removed_citations"),
    (re.compile(r"^The model's reply cited none"), "note_uncited_reply"),
    (re.compile(r"^\d+ sentences? without a citation"), "note_uncited_sentences"),
    (re.compile(r"^no numbered procedure: answered from the sources' text"), "note_no_steps"),
    (re.compile(r"^no numbered steps retrieved"), "note_no_steps_refused"),
    (re.compile(r"^no source (mentions|is) "), "note_not_in_sources"),
    (re.compile(r"^answers to exercises asked for; no visible source is an answer key"),
     "note_no_answer_key"),
)  # fmt: skip


def citation_order(answer: str, numbers: Sequence[int]) -> dict[int, int]:
    """Old citation number -> new one, 1..n in order of first use in `answer`; citations the
    text never names follow in their own order."""
    known = set(numbers)
    order: dict[int, int] = {}
    for match in _CITATION.finditer(answer):
        for part in _SPLIT.split(match.group(1)):
            n = int(part)
            if n in known and n not in order:
                order[n] = len(order) + 1
    for n in numbers:
        if n not in order:
            order[n] = len(order) + 1
    return order


def renumber_text(answer: str, order: Mapping[int, int]) -> str:
    """Rewrite the citation numbers of `answer` by `order` (numbers not in it stay)."""

    def replace(match: re.Match[str]) -> str:
        parts = [int(p) for p in _SPLIT.split(match.group(1))]
        if not any(p in order for p in parts):
            return match.group(0)
        return "[" + ", ".join(str(order.get(p, p)) for p in parts) + "]"

    return _CITATION.sub(replace, answer)


def renumber(result: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an answer whose citations are numbered 1..n in order of first use.

    Citations sharing a number are kept once; the list comes back sorted by the new numbers.
    """
    citations: list[dict[str, Any]] = []
    seen: set[int] = set()
    for c in result.get("citations") or []:
        try:
            n = int(c.get("n"))
        except (TypeError, ValueError):
            continue
        if n not in seen:
            seen.add(n)
            citations.append(dict(c))
    order = citation_order(str(result.get("answer") or ""), [int(c["n"]) for c in citations])
    for c in citations:
        c["n"] = order[int(c["n"])]
    citations.sort(key=lambda c: int(c["n"]))
    return {
        **result,
        "answer": renumber_text(str(result.get("answer") or ""), order),
        "citations": citations,
    }


def documents_of(citations: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Citations grouped by document, in order of each document's first citation.

    Returns:
        ``{"doc_id", "title", "citations": [...]}`` items.
    """
    groups: dict[str, dict[str, Any]] = {}
    for c in sorted(citations, key=lambda c: int(c.get("n") or 0)):
        key = str(c.get("doc_id") or c.get("source") or c.get("chunk_id"))
        group = groups.setdefault(
            key, {"doc_id": key, "title": str(c.get("title") or ""), "citations": []}
        )
        group["citations"].append(c)
    return list(groups.values())


def sort_notes(notes: Sequence[Any], lang: str) -> tuple[list[str], list[str]]:
    """Split an answer's notes into plain words for users and details for admins.

    Returns:
        (user notes, in `lang`, each once; every note as the assistant wrote it).
    """
    shown: list[str] = []
    details: list[str] = []
    for raw in notes:
        note = str(raw).strip()
        if not note:
            continue
        details.append(note)
        for pattern, key in NOTE_TABLE:
            if pattern.search(note):
                if key is not None and text(key, lang) not in shown:
                    shown.append(text(key, lang))
                break
    return shown, details


def history_of(turns: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The plain-text earlier turns sent with a follow-up (the assistant's own numbering);
    a turn whose answer was withheld goes as its question alone."""
    history: list[dict[str, str]] = []
    for turn in turns:
        history.append({"role": "user", "content": str(turn.get("question", ""))})
        answer = str((turn.get("result") or {}).get("answer") or "")
        if answer and not turn.get("withheld"):
            history.append({"role": "assistant", "content": answer})
    return history
