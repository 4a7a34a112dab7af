"""Pure functions that turn handler results into Markdown, HTML and table rows.

Everything here is free of Gradio and of retrieval: it formats what the handlers return. Text
that comes from documents or users is always HTML-escaped before it is placed in markup.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ui.chat_view import sort_notes
from ui.i18n import EN, text
from ui.tables import answer_tables, split_tables, table_html

ANCHOR_PREFIX = "techkb-src"
# `[n]` not escaped (`\[n]`) and not a Markdown link label (`[n](url)`, `[n]: url`).
# Several sources in one bracket (`[6, 8, 5]`) are linked one by one.
_CITATION = re.compile(r"(?<!\\)\[(\d{1,4}(?:\s*[,;]\s*\d{1,4})*)\](?![(:])")
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]")
PREVIEW_CHARS = 300  # of a quote, in the tooltip of its citation number


def anchor_id(answer_id: str, n: int) -> str:
    """The element id of source card ``n`` of an answer (safe inside an HTML attribute)."""
    return f"{ANCHOR_PREFIX}-{_UNSAFE_ID.sub('', answer_id)}-{int(n)}"


def doc_anchor(answer_id: str, index: int) -> str:
    """The element id of an answer's card for its `index`-th cited document."""
    return f"{ANCHOR_PREFIX}-{_UNSAFE_ID.sub('', answer_id)}-doc{int(index)}"


def link_citations(
    answer: str,
    numbers: Iterable[int],
    answer_id: str,
    quotes: Mapping[int, str] | None = None,
) -> str:
    """Turn each ``[n]`` that names a citation of this answer into a link to its source card.

    ``[6, 8]`` becomes one link per number. Numbers that match no citation, Markdown link labels
    (``[1](...)``) and escaped brackets are left as they are.

    Args:
        answer: the answer text (Markdown).
        numbers: the citation numbers the answer carries.
        answer_id: the answer's id, part of each card's anchor.
        quotes: the quoted passage of each number, previewed when the pointer rests on it.

    Returns:
        The Markdown with ``<a class="techkb-cite" href="#...">[n]</a>`` links.
    """
    known = {int(n) for n in numbers}
    quotes = quotes or {}

    def link(n: int) -> str:
        preview = " ".join(str(quotes.get(n) or "").split())[:PREVIEW_CHARS]
        extra = ""
        if preview:
            safe = html.escape(preview, quote=True)
            extra = f' title="{safe}"'
        return f'<a class="techkb-cite" href="#{anchor_id(answer_id, n)}"{extra}>[{n}]</a>'

    def replace(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.split(r"\s*[,;]\s*", match.group(1))]
        if not any(n in known for n in numbers):
            return match.group(0)
        return "".join(link(n) if n in known else f"[{n}]" for n in numbers)

    return _CITATION.sub(replace, answer)


def answer_markdown(result: Mapping[str, Any], lang: str, *, details: bool = False) -> str:
    """The chat message for a finished answer: linked citations, refusal styling, notes.

    Args:
        result: the final ``ask``/``ask_stream`` result of the handlers, its citations already
            numbered for display (``ui.chat_view.renumber``).
        lang: "en" or "zh", for the few words added around the answer.
        details: also give the assistant's own notes (evidence figures), folded under a
            "details" toggle (for admins).

    Returns:
        Markdown (with a little inline HTML) for the chat window.
    """
    citations = [c for c in result.get("citations", []) if "n" in c]
    numbers = [int(c["n"]) for c in citations]
    quotes = {int(c["n"]): str(c.get("quote") or "") for c in citations}
    body = link_citations(
        answer_tables(str(result.get("answer", ""))),
        numbers,
        str(result.get("answer_id", "")),
        quotes,
    )
    shown, raw = sort_notes(result.get("notes") or [], lang)
    notes_md = ""
    if shown:
        items = "\n".join(f"- {html.escape(n, quote=False)}" for n in shown)
        notes_md = f"\n\n**{text('notes', lang)}**\n\n{items}"
    if details and raw:
        items = "".join(f"<li>{html.escape(n, quote=False)}</li>" for n in raw)
        notes_md += (
            f'\n\n<details class="techkb-details"><summary>{html.escape(text("details", lang))}'
            f"</summary><ul>{items}</ul></details>"
        )
    if result.get("refused"):
        title = html.escape(text("refused_title", lang))
        return f'<div class="techkb-refused">\n\n**⚠ {title}**\n\n{body}{notes_md}\n\n</div>'
    return body + notes_md


def highlight_quote(chunk_text: str, quote: str, start: int, end: int) -> str:
    """Escape a chunk's text and wrap the quoted span in ``<mark>``.

    Args:
        chunk_text: the chunk as stored.
        quote: the quoted sentence.
        start: offset of the quote inside ``chunk_text``, -1 when it is not there.
        end: end offset of the quote (exclusive).

    Returns:
        Safe HTML. When the offsets do not point inside the text, the quote is searched for;
        when it is not found, the text is returned without a mark.
    """
    if not (0 <= start < end <= len(chunk_text)) and quote:
        found = chunk_text.find(quote)
        start, end = (found, found + len(quote)) if found >= 0 else (-1, -1)
    if not (0 <= start < end <= len(chunk_text)):
        return html.escape(chunk_text)
    return (
        html.escape(chunk_text[:start])
        + "<mark>"
        + html.escape(chunk_text[start:end])
        + "</mark>"
        + html.escape(chunk_text[end:])
    )


def chunk_html(chunk_text: str, quote: str, start: int = -1, end: int = -1) -> str:
    """A chunk's text as safe HTML: Markdown tables as tables with the quoted row marked, the
    rest as text with the quoted span marked (see :func:`highlight_quote`)."""
    pieces = split_tables(chunk_text)
    if not any(table for table, _ in pieces):
        return highlight_quote(chunk_text, quote, start, end)
    parts = []
    for table, piece in pieces:
        if table:
            parts.append(table_html([r for r in piece.splitlines() if r.strip()], quote))
        else:
            parts.append(highlight_quote(piece, quote, -1, -1))
    return "".join(parts)


def _card_fields(card: Mapping[str, Any], lang: str, keys: Sequence[str]) -> str:
    values = {
        "card_contributor": card.get("contributor_name") or card.get("contributor"),
        "card_source": card.get("source"),
        "card_section": card.get("section"),
        "card_page": card.get("page"),
        "card_edition": card.get("edition"),
        "card_license": card.get("license"),
        "card_kind": card.get("kind"),
    }
    return "".join(
        f"<dt>{html.escape(text(key, lang))}</dt><dd>{html.escape(str(values[key]))}</dd>"
        for key in keys
        if values.get(key) not in (None, "")
    )


DOCUMENT_FIELDS = ("card_contributor", "card_source", "card_edition", "card_license", "card_kind")
PASSAGE_FIELDS = ("card_section", "card_page")


def source_card_html(
    card: Mapping[str, Any] | None, n: int, answer_id: str, lang: str, *, title: str = ""
) -> str:
    """One collapsible source card for one citation (see :func:`document_card_html`)."""
    return document_card_html(
        [(n, card)], answer_id, lang, title=title, anchor=anchor_id(answer_id, n)
    )


def document_card_html(
    passages: Sequence[tuple[int, Mapping[str, Any] | None]],
    answer_id: str,
    lang: str,
    *,
    title: str = "",
    anchor: str = "",
) -> str:
    """One collapsible card for one document with each passage an answer cites from it.

    The summary shows the citation numbers, the title and the contributor; inside come the
    document's fields, then each passage (its number, section and page, and its text with the
    quote marked). A passage's element id is :func:`anchor_id` of its number, which the
    answer's citation links point at.

    Args:
        passages: ``(n, card)`` for each citation of this document, ``card`` a
            ``handlers.source_card`` result or None when the source is no longer visible.
        answer_id: the answer the card belongs to (for the anchors).
        lang: "en" or "zh".
        title: the title when no passage is visible any more (from the citation).
        anchor: the card's own element id.

    Returns:
        Safe HTML: a ``<details class="techkb-card">`` element.
    """
    visible = [card for _, card in passages if card is not None]
    first = visible[0] if visible else None
    numbers = "".join(f'<span class="techkb-card-n">[{int(n)}]</span>' for n, _ in passages)
    head_title = str(first.get("title", "")) if first else title
    contributor = ""
    if first is not None:
        name = first.get("contributor_name") or first.get("contributor") or ""
        contributor = f' — <span class="techkb-card-contributor">{html.escape(str(name))}</span>'
    # A card of one passage is that citation's target itself; one of several holds theirs.
    single = len(passages) == 1
    card_id = anchor_id(answer_id, passages[0][0]) if single else anchor
    own_id = f' id="{card_id}"' if card_id else ""
    parts = [
        f'<details class="techkb-card"{own_id}><summary>{numbers} '
        f'<span class="techkb-card-title">{html.escape(head_title)}</span>{contributor}'
        "</summary>"
    ]
    if first is not None:
        parts.append(f"<dl>{_card_fields(first, lang, DOCUMENT_FIELDS)}</dl>")
    for n, card in passages:
        passage_id = "" if single else f' id="{anchor_id(answer_id, n)}"'
        parts.append(f'<div class="techkb-passage"{passage_id} data-n="{int(n)}">')
        if card is None:
            parts.append(
                f'<p><span class="techkb-card-n">[{int(n)}]</span> '
                f"{html.escape(text('card_unavailable', lang))}</p></div>"
            )
            continue
        where = _card_fields(card, lang, PASSAGE_FIELDS)
        head = "" if single else f'<span class="techkb-card-n">[{int(n)}]</span>'
        parts.append(
            (f'<p class="techkb-passage-head">{head}</p>' if head else "")
            + (f"<dl>{where}</dl>" if where else "")
            + '<blockquote class="techkb-chunk">'
            + chunk_html(
                str(card.get("text", "")),
                str(card.get("quote", "")),
                int(card.get("quote_start", -1)),
                int(card.get("quote_end", -1)),
            )
            + "</blockquote></div>"
        )
    parts.append("</details>")
    return "".join(parts)


def sources_html(groups: Sequence[Mapping[str, Any]], lang: str) -> str:
    """The sources panel: one section per answer, newest first, each with its cards.

    Args:
        groups: ``{"answer_id", "question", "cards": [html, ...]}`` items, newest first.
        lang: "en" or "zh".

    Returns:
        Safe HTML for the panel.
    """
    if not groups:
        return f'<p class="techkb-muted">{html.escape(text("no_sources", lang))}</p>'
    parts = []
    for group in groups:
        question = html.escape(str(group.get("question", "")))
        label = html.escape(text("sources_for", lang))
        parts.append(
            f'<section class="techkb-sources-group"><h4>{label} {question}</h4>'
            + "".join(group.get("cards", []))
            + "</section>"
        )
    return "".join(parts)


_TERMINAL = ("done", "failed")
_STATE_KEYS = {"job_queued", "job_running", "job_done", "job_failed"}


def jobs_html(jobs: Sequence[Mapping[str, Any]], lang: str) -> str:
    """The upload progress table, one row per file with its state, progress and errors.

    Args:
        jobs: ``{"filename", "state", "progress", "message", "errors": [{"source","error"}]}``.
        lang: "en" or "zh".

    Returns:
        Safe HTML.
    """
    if not jobs:
        return f'<p class="techkb-muted">{html.escape(text("no_jobs", lang))}</p>'
    head = "".join(
        f"<th>{html.escape(text(k, lang))}</th>"
        for k in ("job_file", "job_state", "job_progress", "job_message")
    )
    rows = []
    for job in jobs:
        state = str(job.get("state", "queued"))
        progress = max(0.0, min(1.0, float(job.get("progress") or 0.0)))
        if state == "done":
            progress = 1.0
        state_label = text(f"job_{state}", lang) if f"job_{state}" in _STATE_KEYS else state
        errors = "".join(
            f"<li>{html.escape(str(e.get('source', '')))}: {html.escape(str(e.get('error', '')))}"
            "</li>"
            for e in job.get("errors") or []
        )
        message = html.escape(str(job.get("message") or ""))
        if errors:
            message += f'<ul class="techkb-errors">{errors}</ul>'
        rows.append(
            f'<tr class="techkb-job techkb-job-{html.escape(state)}" '
            f'data-state="{html.escape(state)}">'
            f"<td>{html.escape(str(job.get('filename', '')))}</td>"
            f"<td>{html.escape(state_label)}</td>"
            f'<td><progress max="1" value="{progress:.2f}"></progress> {round(progress * 100)}%'
            f"</td><td>{message}</td></tr>"
        )
    return f'<table class="techkb-jobs"><tr>{head}</tr>{"".join(rows)}</table>'


def jobs_finished(jobs: Sequence[Mapping[str, Any]]) -> bool:
    """True when every job is done or failed."""
    return all(str(job.get("state")) in _TERMINAL for job in jobs)


def count_rows(counts: Mapping[str, Any] | None) -> list[list[Any]]:
    """A ``{name: count}`` mapping as table rows, largest first (counts may be nested dicts)."""
    rows = []
    for name, value in (counts or {}).items():
        if isinstance(value, Mapping):
            value = value.get("documents", value.get("chunks", sum(_numbers(value.values()))))
        rows.append([str(name), value])
    rows.sort(key=lambda r: (-_as_number(r[1]), r[0]))
    return rows


def _numbers(values: Iterable[Any]) -> list[float]:
    return [v for v in values if isinstance(v, int | float)]


def _as_number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


# Columns whose values are words of the knowledge model, shown in the page's language.
VALUE_KEYS = {"kind": "kind_", "visibility": "scope_"}


def translated_rows(rows: list[list[Any]], columns: Sequence[str], lang: str) -> list[list[Any]]:
    """Rows with the values of `VALUE_KEYS` columns in `lang` (unknown values as they are)."""
    out = []
    for row in rows:
        cells = []
        for column, value in zip(columns, row, strict=False):
            key = f"{VALUE_KEYS.get(column, '')}{value}"
            cells.append(text(key, lang) if column in VALUE_KEYS and key in EN else value)
        out.append(cells)
    return out


def records_rows(records: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[list[Any]]:
    """Rows of ``columns`` from a list of dicts; lists are joined with commas."""
    rows = []
    for record in records:
        row = []
        for column in columns:
            value = record.get(column, "")
            if isinstance(value, list | tuple):
                value = ", ".join(str(v) for v in value)
            row.append("" if value is None else value)
        rows.append(row)
    return rows


def column_labels(columns: Sequence[str], lang: str) -> list[str]:
    """Translated table headers (``col_<name>`` strings; the name itself when there is none)."""
    return [text(f"col_{c}", lang) if f"col_{c}" in EN else c for c in columns]


def format_time(value: Any) -> str:
    """A UNIX time as ``YYYY-MM-DD HH:MM`` (UTC); anything else as it is."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return time.strftime("%Y-%m-%d %H:%M", time.gmtime(value))
    return "" if value is None else str(value)


def document_choices(documents: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Dropdown choices ``(title — source, doc_id)`` for a list of documents."""
    return [
        (f"{d.get('title') or d.get('source')} — {d.get('source')}", str(d.get("doc_id")))
        for d in documents
    ]
