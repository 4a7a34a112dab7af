"""Is a question about something the knowledge base covers at all?

Retrieval always returns *something*, and a sentence that shares one common word with the
question ("home" in "a sourdough starter at home") can look like evidence. A question whose
main words occur in no chunk the asker may see is out of scope, whatever the nearest chunks say:
that is decided before any answerer runs, so the extractive and the generative paths refuse
alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from assistant.answer.names import are_siblings, edition_years, named_codes, short_codes
from assistant.answer.refusals import NO_EVIDENCE_EN, NO_EVIDENCE_ZH
from assistant.answer.sentences import table_rows_as_text, with_units
from assistant.answer.terms import query_terms, translated_alternatives
from assistant.answer.values import ValueKind, asked_value_kinds, states_value_of
from assistant.language import squash
from assistant.types import Turn

# Document frequency of tokenized terms among the chunks the asker may see.
DocumentFrequency = Callable[[Iterable[str]], Mapping[str, int]]
# Whether any chunk the asker may see names a code or year.
Mentions = Callable[[str], bool]
# A standard or document asked for in one edition: "ITSC-RS 101:2026", "ISO 9283:1998".
_CODE_EDITION = re.compile(r"([A-Za-z][A-Za-z0-9-]*(?:\s+\d[\d.-]*)?)\s*:\s*((?:19|20)\d{2})(?!\d)")
# A title's own code: the first code within its first characters ("HX-MP-201 Grease ...",
# "Case study HX-CS-301: ...").
_TITLE_CODE_WITHIN = 30


@dataclass(frozen=True)
class ScopeCheck:
    unknown_share: float  # weighted share of the question's content terms found nowhere
    unknown: tuple[str, ...]  # those terms, heaviest first

    def note(self) -> str:
        words = ", ".join(self.unknown[:5])
        return f"{self.unknown_share:.0%} of the question's key terms occur in no source ({words})"


@dataclass(frozen=True)
class NameCheck:
    """Models, parts, documents and editions the question names that the sources lack."""

    unknown: tuple[str, ...] = ()  # codes that no visible source mentions
    unknown_editions: tuple[str, ...] = ()  # edition years that no visible source mentions
    not_held: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (asked document, documents held)
    no_answer_key: bool = False  # answers to exercises asked for; none is visible

    def __bool__(self) -> bool:
        return bool(self.unknown or self.unknown_editions or self.not_held or self.no_answer_key)

    def note(self) -> str:
        named = [*self.unknown, *(f"the {y} edition" for y in self.unknown_editions)]
        parts = [f"no source mentions {', '.join(named)}"] if named else []
        for asked, held in self.not_held:
            parts.append(f"no source is {asked} (the knowledge base holds {'; '.join(held)})")
        if self.no_answer_key:
            parts.append("answers to exercises asked for; no visible source is an answer key")
        return "; ".join(parts)

    def lead(self, chinese: bool) -> str:
        """The refusal's first sentence: nothing reliable, and what is missing."""
        asked = [a for a, _ in self.not_held]
        held = sorted({h for _, hs in self.not_held for h in hs})
        if chinese:
            named = [*self.unknown, *(f"{y} 版" for y in self.unknown_editions)]
            parts = [f"没有任何资料提到 {'、'.join(named)}"] if named else []
            if asked:
                parts.append(f"其中没有 {'、'.join(asked)}（现有 {'、'.join(held)}）")
            if self.no_answer_key:
                parts.append("你可查看的资料中没有参考答案")
            return f"{NO_EVIDENCE_ZH[:-1]}：{'；'.join(parts)}。"
        named = [*self.unknown, *(f"the {y} edition" for y in self.unknown_editions)]
        parts = [f"no source in it mentions {', '.join(named)}"] if named else []
        if asked:
            holds = "; ".join(held)
            parts.append(f"{', '.join(asked)} is not among its documents (it holds {holds})")
        if self.no_answer_key:
            parts.append("none of the documents you may see is an answer key")
        return f"{NO_EVIDENCE_EN[:-1]}: {'; '.join(parts)}."


@dataclass(frozen=True)
class KindCheck:
    """The kinds of value a question asks for by name ("what torque", "base oil viscosity",
    "多大容量的电源（kVA）") of which no passage retrieved for the asker states one."""

    kinds: tuple[ValueKind, ...]

    def note(self) -> str:
        return f"no passage retrieved states a {' or '.join(k.name for k in self.kinds)}"

    def lead(self, chinese: bool) -> str:
        if chinese:
            names = "或".join(k.name_zh for k in self.kinds)
            return f"{NO_EVIDENCE_ZH[:-1]}：检索到的资料都没有给出{names}。"
        return f"{NO_EVIDENCE_EN[:-1]}: {self.note()}."


def check_kinds(question: str, passages: Iterable[str]) -> KindCheck | None:
    """The failed check, when the question asks for values of kinds it names and no passage
    states a value of any of them (nor one relative to a rating, "120 % of the rated torque"):
    whatever the passages say, they cannot give what was asked. A passage's table rows are
    read with their header's units ("Tightening torque (N·m)" over "145")."""
    kinds = asked_value_kinds(question)
    if not kinds:
        return None
    for passage in passages:
        text = "\n".join(with_units(line) for line in table_rows_as_text(passage.splitlines()))
        if any(states_value_of(k, text) for k in kinds):
            return None
    return KindCheck(tuple(kinds))


def _document_codes(labels: Iterable[str]) -> set[str]:
    """Each document's own code: the first code near the start of its title."""
    out = set()
    for label in labels:
        title = label.split("\n", 1)[0]
        codes = named_codes(title[:_TITLE_CODE_WITHIN])
        if codes:
            out.add(codes[0])
    return out


# Questions that ask for the answers to exercises: when the asker sees no instructor material
# (by metadata: documents whose roles leave students out), a question for one is refused, not
# answered from the exercise sheet.
_ASKS_ANSWER_KEY = re.compile(
    r"\b(answer[- ]keys?|model answers?|marking (?:scheme|guide|points?)|mark allocations?|"
    r"marks? (?:given|allocated|awarded)|reference answers?|worked solutions?|"
    r"(?:answers?|solutions?) (?:to|for|of) (?:the )?(?:exercises?|questions?|problems?|"
    r"quiz(?:zes)?|tasks?)\b)|参考答案|标准答案|答案要点|评分要点|评分标准",
    re.IGNORECASE,
)


# Software and firmware versions: "V5.2.0", "firmware 5.2", "版本 2.1.3".
_VERSION = re.compile(
    r"(?<![\w.])[vV]\d+(?:\.\d+){1,3}(?![\w.]*\w)"
    r"|(?<=firmware )\d+(?:\.\d+){1,3}(?![\w.]*\w)|(?<=version )\d+(?:\.\d+){1,3}(?![\w.]*\w)"
    r"|(?<=固件)\s*[vV]?\d+(?:\.\d+){1,3}|(?<=版本)\s*[vV]?\d+(?:\.\d+){1,3}",
    re.IGNORECASE,
)


def _versions(question: str) -> list[str]:
    return list(dict.fromkeys(m.group(0).strip() for m in _VERSION.finditer(question)))


_VERSION_WORDS = ("version", "firmware", "software", "release")


def _version_mentioned(version: str, mentions: Mentions) -> bool:
    """Whether a source names the version: "V5.2.2", or "firmware 5.2.2" (asked as one code,
    "firmware-5.2.2", it is found however the source spaces it, and only next to the word)."""
    number = version.lstrip("vV").strip()
    return mentions(f"V{number}") or any(mentions(f"{w}-{number}") for w in _VERSION_WORDS)


def check_names(
    question: str,
    mentions: Mentions,
    documents: Callable[[], Iterable[str]],
    instructor_material: Callable[[], bool] = lambda: False,
) -> NameCheck:
    """The codes and editions the question names that the visible sources do not have.

    Unknown: a model, part or document code ("HX-R35") or an edition year ("the 2026
    edition") that no visible chunk mentions. Not held: a document asked for by a code of the
    same family as documents the knowledge base holds (HX-MP-202 beside HX-MP-201, mentioned
    only as a cross-reference), or by an edition it does not hold (ITSC-RS 101:2026 when it
    holds the 2021 edition). No answer key: the answers to exercises asked for while no
    visible document is instructor material (`instructor_material`: by its metadata, course
    material whose `allowed_roles` leave students out). `documents` gives the
    title, edition and file name of each visible document (asked for only when the question
    names a code or asks for an answer key).
    """
    codes = named_codes(question)
    unknown = [c for c in codes if not mentions(c)]
    # One-part codes ("M20" bolts, a "KR16" robot), however a source spaces them.
    unknown += [c for c, two in short_codes(question) if not mentions(c) and not mentions(two)]
    # Versions ("firmware V5.2.0"): mentioned with their "V", or without it after a word that
    # says it is a version (a bare "5.2.2" is as often a clause).
    unknown += [v for v in _versions(question) if not _version_mentioned(v, mentions)]
    years = tuple(y for y in edition_years(question) if not mentions(y))
    editions = list(_CODE_EDITION.finditer(question))
    asks_key = bool(_ASKS_ANSWER_KEY.search(question))
    if not codes and not editions and not asks_key:
        return NameCheck(tuple(unknown), years)
    labels = list(documents())
    no_key = asks_key and not instructor_material()
    squashed = [squash(label) for label in labels]
    not_held: list[tuple[str, tuple[str, ...]]] = []
    doc_codes = _document_codes(labels)
    for code in codes:
        if code in unknown or len(code.split("-")) < 3 or code in doc_codes:
            continue
        if any(squash(code) in sq for sq in squashed):
            continue
        family = sorted(d for d in doc_codes if are_siblings(code, d))
        if family:
            not_held.append((code, tuple(family)))
    for match in editions:
        code, year = squash(match.group(1)), match.group(2)
        if year in years:
            continue
        held = [label for label, sq in zip(labels, squashed, strict=True) if code in sq]
        if held and not any(year in label for label in held):
            titles = sorted({label.split("\n", 1)[0] for label in held})
            not_held.append((f"{match.group(1)}:{year}", tuple(titles)))
    return NameCheck(tuple(unknown), years, tuple(not_held), no_key)


def check_scope(question: str, history: Sequence[Turn], frequency: DocumentFrequency) -> ScopeCheck:
    """How much of the question (by term weight) the visible knowledge base never mentions.

    A Chinese term counts as known when it, or one of its dictionary translations, occurs: the
    English sources answer Chinese questions too.
    """
    terms = query_terms(question, history)
    if not terms:
        return ScopeCheck(0.0, ())
    alternatives = translated_alternatives(terms)
    lookup = set(terms) | {t for alts in alternatives.values() for t in alts}
    df = frequency(lookup)
    total = sum(terms.values())
    unknown = [
        t
        for t in terms
        if not df.get(t, 0) and not any(df.get(a, 0) for a in alternatives.get(t, ()))
    ]
    unknown.sort(key=lambda t: -terms[t])
    share = sum(terms[t] for t in unknown) / total if total else 0.0
    return ScopeCheck(share, tuple(unknown))
