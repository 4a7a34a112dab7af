"""The lists in retrieved chunks that an answer can quote whole: a sentence ending in a colon
(or the chunk's section heading) and the list items after it, each item's sentences quotable."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answer.citations import is_list_item
from assistant.answer.evidence import is_chinese
from assistant.answer.sentences import Sentence, table_rows_as_text
from assistant.types import Hit

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’.,-][A-Za-z0-9]+)*")


def word_count(text: str) -> int:
    """English words (and numbers) in `text`, as answer and list budgets count them."""
    return len(_WORD.findall(text))


# A list of more items or words is quoted by item.
LIST_MAX_ITEMS = 8
LIST_MAX_WORDS = 90


@dataclass(frozen=True)
class QuotedList:
    """A list as quoted: the sentence that introduces it (None where the section's heading
    does: the list opens its chunk), then its items' sentences."""

    lead_in: Sentence | None
    items: tuple[Sentence, ...]

    @property
    def members(self) -> tuple[Sentence, ...]:
        return self.items if self.lead_in is None else (self.lead_in, *self.items)

    @property
    def text(self) -> str:
        """One sentence: "Preload methods: double nut …; single nut …; single nut …"."""
        lines: dict[int, list[str]] = {}
        for s in self.items:
            lines.setdefault(s.line, []).append(s.text)
        chinese = is_chinese(self.members[0].text)
        joined = ("；" if chinese else "; ").join(
            " ".join(texts).rstrip(".;；。 ") for texts in lines.values()
        )
        end = "。" if chinese else "."
        if self.lead_in is None:
            return f"{joined}{end}"
        return f"{self.lead_in.text}{'' if chinese else ' '}{joined}{end}"


def quotable_lists(sentences: list[Sentence], hits: list[Hit]) -> list[QuotedList]:
    """The lists of the hits that can be quoted whole: 2 to `LIST_MAX_ITEMS` list-item lines
    after a sentence ending in a colon, last on its line, or opening a chunk (its section's
    heading introduces them: "Interval", "When the robot must be re-mastered"); every line with
    sentences that can be quoted (none skipped as a question, a repeat or too short),
    `LIST_MAX_WORDS` at most.
    """
    by_line: dict[tuple[int, int], list[Sentence]] = {}
    for s in sentences:
        by_line.setdefault((s.hit_index, s.line), []).append(s)
    starts: list[tuple[int, int, Sentence | None]] = []  # (hit, first item line, lead-in)
    for s in sentences:
        if s.text.rstrip().endswith((":", "：")) and by_line[(s.hit_index, s.line)][-1] is s:
            starts.append((s.hit_index, s.line + 1, s))
    starts.extend((h, 0, None) for h in sorted({s.hit_index for s in sentences}))
    raw: dict[int, list[str]] = {}
    out: list[QuotedList] = []
    for hit, first, lead_in in starts:
        if hit not in raw:
            raw[hit] = table_rows_as_text(hits[hit].chunk.text.splitlines())
        lines = raw[hit]
        if lead_in is not None and is_list_item(lines[lead_in.line]):
            continue  # an item that introduces sub-items: the list is its parent's
        end = first
        while end < len(lines) and is_list_item(lines[end]):
            end += 1
        if not 2 <= end - first <= LIST_MAX_ITEMS:
            continue
        quotable = [by_line.get((hit, n)) for n in range(first, end)]
        if not all(quotable):
            continue
        listed = QuotedList(lead_in, tuple(x for line in quotable if line for x in line))
        if sum(word_count(x.text) for x in listed.members) <= LIST_MAX_WORDS:
            out.append(listed)
    return out
