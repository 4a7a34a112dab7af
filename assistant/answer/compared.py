"""Questions that set sources side by side: each source the question names, or two documents
where it says the sources disagree, gets its own best sentence at the head of the answer.

"How often should dress packs be inspected — Huaxin and ITSC don't seem to agree?" is answered
by what Huaxin says and what ITSC says; ranking sentences by relevance alone leads with two
sentences of the one source the model prefers, and the reader never sees the other value. A
source is named by its contributor id's first part ("huaxin" of `huaxin-robotics`, "itsc"),
as people name organisations; a sentence is that source's when its document is the
contributor's or the sentence names it ("ITSC-MS 310:2018 clause 6.1.1 requires …" quoted in a
course). Without a name, a question that says the sources disagree ("the sources I have give
different answers", "do the manuals agree?") gets the best sentence of a second document after
the lead; one that asks for a difference between two things ("EX1001 and EX1002") does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from assistant.answer.evidence import Scored
from assistant.types import Hit

# The question says its sources disagree, or asks which of them holds.
_DISAGREE = re.compile(
    r"\b(?:agree|agrees|disagree|disagrees|contradict\w*|conflict\w*|inconsistent|"
    r"different (?:answers|values|numbers|figures|limits|intervals)|"
    r"which (?:one |value |limit |figure )?(?:is (?:right|correct)|should I use|applies))\b|"
    r"一样吗|不一样|相同吗|矛盾|哪个对|哪个是对|以谁为准|以哪个为准",
    re.IGNORECASE,
)
# Or asks to compare (things or sources): where it names acronyms, they are the sources.
_COMPARES = re.compile(
    r"\b(?:differ|differs|different|difference|differences|versus|vs|compare|compared|"
    r"comparison)\b|不同|区别|差别|差异",
    re.IGNORECASE,
)
# The shortest contributor-id part taken as a name: "cnc" or "ab" would name nothing.
_MIN_NAME = 3
# An organisation's acronym as a word of its own, not a document code's prefix ("ITSC-MS 310").
_ACRONYM = re.compile(r"(?<![A-Za-z0-9-])[A-Z]{3,6}(?![A-Za-z0-9-])")


def disagree(question: str) -> bool:
    """Whether the question says its sources disagree or asks which of them holds."""
    return bool(_DISAGREE.search(question))


def compares(question: str) -> bool:
    """Whether the question compares: says its sources disagree, or asks for a difference."""
    return disagree(question) or bool(_COMPARES.search(question))


def _name_of(contributor: str) -> str:
    return contributor.split("-")[0].lower()


def _names(text: str, name: str) -> re.Match[str] | None:
    return re.search(rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])", text, re.IGNORECASE)


def named_sources(question: str, hits: Sequence[Hit]) -> list[str]:
    """The sources the question names, in the order it names them, as lower-case names: the
    contributors of `hits` it names, and, where it compares, the acronyms it uses ("ITSC",
    "AMMA": organisations whose documents may not be among the hits, though others quote them).
    """
    found: dict[str, int] = {}
    for hit in hits:
        name = _name_of(hit.chunk.contributor)
        m = _names(question, name) if len(name) >= _MIN_NAME else None
        if m is not None and name not in found:
            found[name] = m.start()
    if compares(question):
        for m in _ACRONYM.finditer(question):
            found.setdefault(m.group(0).lower(), m.start())
    return sorted(found, key=found.__getitem__)


def _from(x: Scored, name: str, hits: Sequence[Hit]) -> bool:
    """Whether the sentence is the named source's: in its document, or naming it."""
    return _name_of(hits[x.sentence.hit_index].chunk.contributor) == name or bool(
        _names(x.sentence.text, name)
    )


def side_by_side(
    question: str,
    ranked: Sequence[Scored],
    hits: Sequence[Hit],
    relevant: Callable[[Scored], bool],
    stating: Callable[[Scored], bool] | None = None,
) -> list[Scored]:
    """The sentences to lead with, in order: where the question names sources, the best
    relevant sentence of each ("And what does ITSC say?" is answered by ITSC's, or by a
    sentence quoting ITSC, however well the manufacturer's reads); without a name, where it
    says the sources disagree, the best relevant sentence and the best relevant one of another
    document.

    Where the question sets two or more named sources side by side ("what backlash limit
    should I teach, ITSC's or Meridian's?"), a source's sentence that states the kind of value
    asked for (`stating`: a length for a limit) counts though it reads less relevant: the
    cross-encoder scores each source's sentence against a question that also names the other,
    and the reader asked for both values."""
    candidates = [x for x in ranked if relevant(x)]
    named = named_sources(question, hits)
    out: list[Scored] = []
    if named:  # each named source's best relevant sentence, in the order named
        sided = len(named) > 1 or compares(question)
        for name in named:
            own = [x for x in ranked if _from(x, name, hits)]
            best = next((x for x in own if relevant(x)), None)
            if best is None and sided and stating is not None:
                best = next((x for x in own if stating(x)), None)
            if best is not None and all(best is not y for y in out):
                out.append(best)
        return out
    if not candidates or not disagree(question):
        return out
    lead = candidates[0]
    doc = hits[lead.sentence.hit_index].chunk.doc_id
    other = next((x for x in candidates if hits[x.sentence.hit_index].chunk.doc_id != doc), None)
    return [lead, other] if other is not None else out
