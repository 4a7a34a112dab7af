"""Editions of one document: a question answers from the current one unless it asks otherwise.

A knowledge base of standards and procedures holds superseded editions beside current ones
(ITSC-RS 101:2016 and ITSC-RS 101:2021): both are retrieved for "What is the maximum speed in
T1?", and an answer quoting the 2016 text states a limit that no longer applies. Among the
hits, documents of one contributor that declare an edition (`edition` or `effective_date`) and
whose titles differ only in their edition marks are editions of one document; the one with the
latest effective date (else the latest year of its edition or title) is current. The question
chooses among them: what changed between editions is answered from all of them, "the previous
edition" / "上一版" from the superseded ones, "ITSC-RS 101:2016" from the edition it names,
anything else from the current one; the other editions' chunks are left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.answer.names import years
from assistant.language import squash
from assistant.types import Chunk, Hit

# The edition markers a title may carry besides its year: ":2021", "(2nd edition)", "Rev C".
_EDITION_MARK = re.compile(
    r":\s*(?:19|20)\d{2}|\b(?:19|20)\d{2}\b|\b(?:rev(?:ision)?|edition|ed\.|version)\s*[\w.]+"
    r"|\b\d+(?:st|nd|rd|th)\s+edition\b|第?\S{0,3}版",
    re.IGNORECASE,
)
_EDITION_WORD = r"(?:editions?|versions?|revisions?|issues?|standards?)"
_CHANGE_WORD = r"(?:chang\w*|differ\w*|new|compar\w*|replac\w*|supersed\w*)"
# The question asks what changed between editions: every edition answers it.
_ASKS_CHANGES = re.compile(
    rf"\b{_CHANGE_WORD}\b.*\b{_EDITION_WORD}\b|\b{_EDITION_WORD}\b.*\b{_CHANGE_WORD}\b"
    r"|版.{0,8}(?:变化|区别|不同|差异|改动|修改)|(?:变化|区别|不同|差异|改动|修改).{0,8}版",
    re.IGNORECASE,
)
# The question asks about an earlier edition: the superseded ones answer it.
# ("the first one to check" is not about editions: "first" counts only before "edition").
_ASKS_EARLIER = re.compile(
    r"\b(?:previous|earlier|older|old|former|superseded|withdrawn|prior|original)\s+"
    rf"(?:\w+\s+)?(?:{_EDITION_WORD}|texts?|ones?)\b|\bfirst\s+editions?\b"
    r"|旧版|老版|上一版|上版|前一版|之前的版本|以前的版本|原来的版本|修订前",
    re.IGNORECASE,
)


def _family(chunk: Chunk) -> tuple[str, str]:
    """What editions of one document share: contributor and title without edition marks."""
    return chunk.contributor, squash(_EDITION_MARK.sub(" ", chunk.title))


def _years(chunk: Chunk) -> set[str]:
    """The years a document's edition and title name."""
    return set(years(f"{chunk.edition or ''} {chunk.title}"))


def _recency(chunk: Chunk) -> tuple[str, str]:
    """Later editions sort higher: effective date, then the latest year of edition or title."""
    return (chunk.effective_date or "", max(_years(chunk), default=""))


def asks_changes(query: str) -> bool:
    """Whether the question asks what changed between editions."""
    return bool(_ASKS_CHANGES.search(query))


def asks_earlier(query: str) -> bool:
    """Whether the question asks about an earlier edition ("previous edition", "旧版")."""
    return bool(_ASKS_EARLIER.search(query))


def editions_asked(query: str, hits: Sequence[Hit]) -> list[Hit]:
    """The hits without the editions the question is not about, where two editions or more of
    one document are among them (`query`: the standalone question).

    What changed between editions: all of them. An earlier edition ("the previous edition",
    "旧版"): the superseded ones. Editions named by year ("ITSC-RS 101:2016", "the 2016
    edition"): those. Otherwise: the current one.
    """
    hits = list(hits)
    chunks: dict[tuple[str, str], dict[str, Chunk]] = {}
    for h in hits:
        family = _family(h.chunk)
        # Only documents that declare an edition: "2014 FIFA World Cup" and "2018 FIFA World
        # Cup" are articles about two events, not two editions of one document.
        if (h.chunk.edition or h.chunk.effective_date) and family[1]:
            chunks.setdefault(family, {}).setdefault(h.chunk.doc_id, h.chunk)
    families = {f: docs for f, docs in chunks.items() if len(docs) > 1}
    if not families or asks_changes(query):
        return hits
    named_years = set(years(query))
    earlier = asks_earlier(query)
    left_out: set[str] = set()
    for docs in families.values():
        newest = max(_recency(c) for c in docs.values())
        current = {d for d, c in docs.items() if _recency(c) == newest}
        if len(current) == len(docs):
            continue  # editions that cannot be told apart by date or year
        named = {d for d, c in docs.items() if _years(c) & named_years}
        if earlier:
            keep = set(docs) - current
        elif named:
            keep = named
        else:
            keep = current
        left_out |= set(docs) - keep
    return [h for h in hits if h.chunk.doc_id not in left_out]
