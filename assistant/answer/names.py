"""Things a question names: model and document codes, edition years, joined-word names.

A question about the HX-R35 is not answered from HX-R20 documents: `missing_identifiers` finds
the codes no retrieved text mentions, `sibling_conflicts` the texts about a sibling of what was
asked (the DH-R20 for the HX-R20), and `about_what_was_asked` leaves out documents titled for
one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from assistant.language import squash
from assistant.store.keyword import camel_parts, tokenize
from assistant.types import Hit

# Model numbers, document codes, part numbers: "HX-R35", "MVC-1100", "M20", "ECN-2024-031".
_NAMED = re.compile(r"(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
# Codes of two or more parts ("HX-R20", "JN-WI-C-011"), wherever they stand, Chinese text too.
_CODE = re.compile(r"(?<![A-Za-z0-9-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+")
# One-part codes: capitals, then digits ("M20", "KR16", "J7", "SP1245"), wherever they stand.
_SHORT_CODE = re.compile(r"(?<![A-Za-z0-9.-])([A-Z]{1,4})(\d{1,5})(?![A-Za-z0-9-]|\.\d)")
# A number joined to a word is an adjective, not a code: "a 4-day holiday", "a 20-bit encoder".
_COMPOUND = re.compile(r"\d+(?:[.,]\d+)?(?:-[a-z]+)+")
# A plural "s" after a code's last digit: "our MVC-850s" are MVC-850 machines.
_PLURAL = re.compile(r"(?<=\d)s(?![\w-])")
# A year that names an edition: "101:2026", "the 2026 edition", "2026 版".
_EDITION_YEAR = re.compile(
    r":((?:19|20)\d{2})(?!\d)"
    r"|(?<!\d)((?:19|20)\d{2})\s*(?:年版|版|edition|version|revision|issue)"
    r"|(?:edition|version|revision|issue)\s+(?:of\s+)?((?:19|20)\d{2})(?!\d)",
    re.IGNORECASE,
)


def long_camel_names(text: str) -> set[str]:
    """The tokens of names of three or more joined words in a text ("KubeNodeNotReady",
    "etcdNoLeader"): alerts, functions, classes, one thing each."""
    return {
        tokenize(word)[0]
        for word in re.findall(r"[A-Za-z][A-Za-z0-9]*", text)
        if len(camel_parts(word)) >= 3
    }


def missing_identifiers(question: str, hits: Sequence[Hit]) -> list[str]:
    """Codes the question names that no retrieved text mentions.

    A question about the HX-R35 answered from HX-R20 documents is not answered: a named
    model, document or part that the evidence never mentions means the evidence is about
    something else, however similar.
    """
    names = {
        m.group(0)
        for m in _NAMED.finditer(_singular(question))
        if len(m.group(0)) >= 2 and not _COMPOUND.fullmatch(m.group(0))
    }
    names |= set(years(question))  # "the 2026 edition" when sources stop at 2021
    if not names:
        return []
    corpus = squash(" ".join(f"{h.chunk.title} {h.chunk.section} {h.chunk.text}" for h in hits))
    return sorted(n for n in names if squash(n) not in corpus)


def _singular(text: str) -> str:
    """The text with the plural "s" of codes left out ("the HX-R20s" names the HX-R20)."""
    return _PLURAL.sub("", text)


def named_codes(text: str) -> list[str]:
    """The multi-part codes a text names, upper-cased, in order, without repeats."""
    found = (m.group(0) for m in _CODE.finditer(_singular(text)))
    return list(dict.fromkeys(c.upper() for c in found if not _COMPOUND.fullmatch(c)))


def short_codes(text: str) -> list[tuple[str, str]]:
    """The one-part codes a text names, each as written and spelled in two parts ("M20",
    "M-20": a source may write "M 20"), in order, without repeats."""
    found = {
        m.group(0): f"{m.group(1)}-{m.group(2)}" for m in _SHORT_CODE.finditer(_singular(text))
    }
    return list(found.items())


def years(text: str) -> list[str]:
    """The years (1900–2099) a text names, as written."""
    return _YEAR.findall(text)


def edition_years(text: str) -> list[str]:
    """Years the text names as an edition ("ITSC-RS 101:2026", "the 2026 edition")."""
    return list(dict.fromkeys(y for m in _EDITION_YEAR.finditer(text) for y in m.groups() if y))


def _shape(part: str) -> str:
    return re.sub(r"[a-z]+", "a", re.sub(r"\d+", "9", part))


def are_siblings(a: str, b: str) -> bool:
    """Two codes of one family differing in one part: HX-R20 / DH-R20, HX-MP-201 / HX-MP-202."""
    pa, pb = a.lower().split("-"), b.lower().split("-")
    if len(pa) != len(pb) or pa == pb:
        return False
    if [_shape(p) for p in pa] != [_shape(p) for p in pb]:
        return False
    return sum(x != y for x, y in zip(pa, pb, strict=True)) == 1


def sibling_conflicts(names: Sequence[str], text: str) -> list[tuple[str, str]]:
    """(asked, named instead): codes of `text` that are siblings of an asked code it lacks."""
    if not names:
        return []
    own = named_codes(text)
    squashed = squash(text)
    return [
        (name, other)
        for name in names
        if squash(name) not in squashed
        for other in own
        if are_siblings(name, other)
    ]


def about_what_was_asked(question: str, hits: list[Hit]) -> list[Hit]:
    """The hits without documents whose title names a sibling of a code the question names
    (the HX-R20 manual for a question about the DH-R20): no answerer should read them as
    sources on the thing asked about."""
    names = named_codes(question)
    if not names:
        return hits
    return [h for h in hits if not sibling_conflicts(names, h.chunk.title)]


def contributors_named(question: str, contributors: Iterable[str]) -> tuple[str, ...]:
    """The contributors a question names by the first word of their id, written as a name is
    ("In Donghai's lab" → donghai-polytechnic, "AMMA warned" → amma) or as a code's first part
    ("ITSC-MT 230" → itsc)."""
    named = []
    for contributor in sorted(contributors):
        head = contributor.split("-")[0]
        if len(head) < 3 or not head.isalpha():
            continue
        spelled = "|".join(re.escape(w) for w in {head.capitalize(), head.upper()})
        if re.search(rf"(?<![\w-])(?:{spelled})(?!\w)", question):
            named.append(contributor)
    return tuple(named)


# A numbered exercise or question ("exercise 4", "练习题 6", "第 6 题"), in a question or in a
# section heading ("Exercise 4 (6 marks)", "练习题 6（5 分）").
_NUMBERED_ITEM = re.compile(
    r"(?:\bexercises?|\bquestions?|\btasks?|\bproblems?|\bassignments?|练习题|思考题|习题|练习|作业)"
    r"\s*(?:no\.?\s*)?(\d{1,3})(?![\d.])|第\s*(\d{1,3})\s*道?题",
    re.IGNORECASE,
)


def numbered_items(text: str) -> frozenset[str]:
    """The numbers of the exercises or questions a text names ("练习题 6" → {"6"})."""
    return frozenset(a or b for a, b in _NUMBERED_ITEM.findall(text))


def names_item(section: str, numbers: frozenset[str]) -> bool:
    """Whether a section's own heading (its last part) names one of these numbered items."""
    return bool(numbers and numbered_items(section.split(" > ")[-1]) & numbers)
