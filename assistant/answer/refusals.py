"""What a refusal says: that the knowledge base has nothing reliable, and the nearest topics."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.answer.terms import is_chinese
from assistant.types import Chunk, Hit

NO_EVIDENCE_EN = "The knowledge base has nothing reliable on this."
NO_EVIDENCE_ZH = "知识库中没有关于此问题的可靠资料。"


def display_title(chunk: Chunk, words: int = 8) -> str:
    """The chunk's document title; for an untitled one (its title is the file name), the
    chunk's opening words: a file stem such as `ibmcld_00691-7371-8668` tells a reader nothing."""
    stem = chunk.source.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if chunk.title and chunk.title != stem:
        return chunk.title
    if is_chinese(chunk.text):
        opening = re.sub(r"\s+", "", chunk.text)[: words * 3]
    else:
        opening = " ".join(chunk.text.split()[:words])
    return f"{opening}…" if opening else chunk.title


def nearest_topics(hits: Sequence[Hit], limit: int = 3) -> list[str]:
    """Up to `limit` distinct document titles (with their section) among the hits."""
    seen: set[str] = set()
    topics: list[str] = []
    for hit in hits:
        c = hit.chunk
        if c.doc_id in seen:
            continue
        seen.add(c.doc_id)
        title = display_title(c)
        section = c.section.split(" > ")[-1] if c.section else ""
        topics.append(f"{title} ({section})" if section and section != c.title else title)
        if len(topics) == limit:
            break
    return topics


def refusal_text(question: str, hits: Sequence[Hit], lead: str | None = None) -> str:
    """Say the knowledge base has nothing reliable, in the question's language, plus topics."""
    zh = is_chinese(question)
    text = lead or (NO_EVIDENCE_ZH if zh else NO_EVIDENCE_EN)
    topics = nearest_topics(hits)
    if topics:
        text += (
            f"相关主题：{'；'.join(topics)}。"
            if zh
            else (f" Nearest topics it covers: {'; '.join(topics)}.")
        )
    return text
