"""The one subject of an exercise set: its anchor and the documents it may draw on.

The anchor is the case (or, when no case fits, the procedure or guide) about what the request
names, else the best-evidenced one; an incident report filed as another kind stands in for a
missing case. Besides it, the set draws on documents (not other cases) about the same model or
about none in particular; a document naming a rival of the subject's model (the HX-R20 or DH-R20
procedure for an HX-R165 case) is not used, nor another document's sentence naming one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.answer.answerability import (
    CLOSE_LOGITS,
    Scorer,
    english_rendering,
    passage_text,
)
from assistant.answer.evidence import Embed, Scored, score_sentences
from assistant.answer.exercise_questions import tells_story
from assistant.answer.kinds import CAUSE_CUE
from assistant.answer.names import are_siblings, named_codes
from assistant.answer.registry import get_mode
from assistant.answer.sentences import collect_sentences
from assistant.answer.terms import is_chinese
from assistant.queries import standalone_query
from assistant.types import Hit, Turn

# What an incident report says and a guide does not.
_INCIDENT = re.compile(
    r"\b(reported|occurred|happened|turned out|near miss|incident|broke down|failed|stopped|"
    r"was found|were found)\b|发生|出现|报告",
    re.IGNORECASE,
)
# Requests that ask for a case by name ("case-based", "案例").
_ASKS_CASE = re.compile(r"\bcases?\b|案例", re.IGNORECASE)
# A case anchors the set when its best sentence scores at least this share of the best
# document's (a case barely about the request does not beat the procedure that is).
_CASE_SHARE = 0.5
# Kinds that never stand in for a case, however much they talk about faults.
_NOT_CASES = frozenset({"procedure", "course", "standard"})


@dataclass(frozen=True)
class Doc:
    """A retrieved document: its hits, what codes it names, how well it answers."""

    doc_id: str
    indices: frozenset[int]  # 0-based indices of its hits
    codes: frozenset[str]  # named in its title, sections and retrieved text (upper case)
    title_codes: frozenset[str]
    best: float  # score of its best sentence (-1 when none is usable)
    case: bool  # a case, or an incident report filed as another kind
    story: bool  # its hits tell what went wrong (a scenario can be built from them)


def asked_codes(question: str, history: Sequence[Turn]) -> frozenset[str]:
    """Codes the request names; when it names none, those of the last user turn before it."""
    asked = named_codes(question)
    if not asked:
        earlier = [t.content for t in history if t.role == "user" and t.content.strip()]
        earlier = [t for t in earlier if t.strip() != question.strip()]
        asked = named_codes(earlier[-1]) if earlier else []
    return frozenset(asked)


def without_codes(question: str, asked: frozenset[str]) -> str:
    """The request with the codes it names taken out: what it asks about them."""
    for code in asked:
        question = re.sub(re.escape(code), " ", question, flags=re.IGNORECASE)
    return question


def best_by_document(
    question: str,
    hits: list[Hit],
    docs: Sequence[Doc],
    *,
    embed: Embed | None,
    embed_chinese: bool,
) -> dict[str, float]:
    """The score of each document's best sentence for `question`, scored among these
    documents' hits only."""
    sub = [hits[i] for d in docs for i in sorted(d.indices)]
    scoring = score_sentences(
        question, sub, collect_sentences(sub), embed=embed, embed_chinese=embed_chinese
    )
    best: dict[str, float] = {}
    for x in scoring.ranked:  # best first
        best.setdefault(sub[x.sentence.hit_index].chunk.doc_id, x.score)
    return best


def _model_like(code: str) -> bool:
    """A code that names a product, model or document (HX-R20, HX-MP-201, MVC-850), not an
    alarm (E-2050), an axis range (J1-J3) or a serial number (R165-1807-0042)."""
    head = code.split("-", 1)[0]
    return "-" in code and head.isalpha() and len(head) >= 2


def _rivals(a: str, b: str) -> bool:
    """Two designations of one kind of thing: siblings (HX-R20 / HX-R165, HX-MP-201 /
    HX-MP-202), or models of two makers numbered alike (DH-R20 / HX-R165: parts of the same
    shapes, the last one the same series letters and a number)."""
    if a == b or not (_model_like(a) and _model_like(b)):
        return False
    if are_siblings(a, b):
        return True
    pa, pb = a.lower().split("-"), b.lower().split("-")
    if len(pa) != len(pb) or [_shape(p) for p in pa] != [_shape(p) for p in pb]:
        return False
    last_a, last_b = _SERIES.fullmatch(pa[-1]), _SERIES.fullmatch(pb[-1])
    return bool(last_a and last_b and last_a.group(1) == last_b.group(1))


_SERIES = re.compile(r"([a-z]+)\d+")  # a model number's last part: "r20", "r165"


def _shape(part: str) -> str:
    return re.sub(r"[a-z]+", "a", re.sub(r"\d+", "9", part))


def _conflicting(code: str, keep: frozenset[str]) -> bool:
    """`code` is a rival of one of `keep` (the HX-R20 or DH-R20 of an HX-R165 case) and not
    one of them."""
    return code not in keep and any(_rivals(code, k) for k in keep)


def conflicts(text: str, keep: frozenset[str]) -> bool:
    """`text` names a rival of one of `keep`."""
    return any(_conflicting(c, keep) for c in named_codes(text))


def documents(hits: list[Hit], ranked: list[Scored]) -> dict[str, Doc]:
    """The retrieved documents, best first."""
    indices: dict[str, list[int]] = {}
    for i, h in enumerate(hits):
        indices.setdefault(h.chunk.doc_id, []).append(i)
    best: dict[str, float] = {}
    for x in ranked:  # best first
        best.setdefault(hits[x.sentence.hit_index].chunk.doc_id, x.score)
    incidents = _incident_reports(hits, ranked)
    docs = []
    for doc_id, idx in indices.items():
        first = hits[idx[0]].chunk
        text = "\n".join(f"{hits[i].chunk.section}\n{hits[i].chunk.text}" for i in idx)
        docs.append(
            Doc(
                doc_id=doc_id,
                indices=frozenset(idx),
                codes=frozenset(named_codes(f"{first.title}\n{text}")),
                title_codes=frozenset(named_codes(first.title)),
                best=best.get(doc_id, -1.0),
                case=first.kind == "case" or doc_id in incidents,
                story=any(
                    tells_story(x.sentence, hits[x.sentence.hit_index].chunk.section)
                    for x in ranked
                    if x.sentence.hit_index in idx
                ),
            )
        )
    docs.sort(key=lambda d: -d.best)
    return {d.doc_id: d for d in docs}


def _incident_reports(hits: list[Hit], ranked: list[Scored]) -> set[str]:
    """Documents, not procedures, courses or standards, that report an incident and its cause:
    an incident report filed as another kind (a bulletin) stands in for a missing case."""
    found: dict[str, set[str]] = {}
    for x in ranked:
        s = x.sentence
        chunk = hits[s.hit_index].chunk
        if chunk.kind in _NOT_CASES or x.match <= 0:
            continue
        if _INCIDENT.search(s.text):
            found.setdefault(chunk.doc_id, set()).add("symptom")
        if CAUSE_CUE.search(s.text):
            found.setdefault(chunk.doc_id, set()).add("cause")
    return {doc for doc, cues in found.items() if len(cues) == 2}


def request_subject(question: str, history: Sequence[Turn], hits: Sequence[Hit]) -> str:
    """What the request is about, in English words: the standalone request without the words
    that ask for an exercise, a Chinese one put in the senses its English sources use
    ("出一组关于急停回路的练习题" is "emergency stop circuit" over sources that say circuit);
    "" when nothing is left to read."""
    subject = get_mode("exercise").subject(standalone_query(question, history))
    return english_rendering(subject, hits) if is_chinese(subject) else subject


def read_subject(
    relevance: Scorer, subject: str, hits: Sequence[Hit], docs: dict[str, Doc]
) -> dict[str, float] | None:
    """Each document's best cross-encoder logit for `subject` over its hits (each read after
    its title and section); None without a subject to read, or where the request's own words
    find a Chinese document best: the model reads English only, and would pass over it (a
    Chinese course holding all three duty levels asked for, for an English standard's two)."""
    if not subject or not docs:
        return None
    first = max(docs.values(), key=lambda d: d.best)
    if is_chinese(hits[min(first.indices)].chunk.text):
        return None
    read = sorted({i for d in docs.values() for i in d.indices})
    logits = relevance.score(subject, [passage_text(hits[i]) for i in read])
    by_hit = {i: float(v) for i, v in zip(read, logits, strict=True)}
    return {k: max(by_hit[i] for i in d.indices) for k, d in docs.items()}


def choose_anchor(
    question: str,
    asked: frozenset[str],
    docs: dict[str, Doc],
    reading: dict[str, float] | None = None,
) -> Doc | None:
    """The document the set is about.

    Among the documents that name a code of the request (all when none does, or it names
    none): the best case, when the request asks for one; else the best case whose hits tell
    what went wrong if it scores at least `_CASE_SHARE` of the best document; else the best
    document. With a cross-encoder's `reading` where it reads some document as about the
    request (logit at least 0), only those count, best read first, and a case is preferred
    only where it is read about as well as the best (within `CLOSE_LOGITS`): the words of a
    request rank documents by chance where few of them are shared (a spindle-bearing failure
    case had anchored a set on calculating bearing defect frequencies, a harness-wear case a
    Chinese request for one on encoder battery replacement).
    """
    pool = sorted((d for d in docs.values() if d.best > 0), key=lambda d: -d.best)
    read = reading if reading and any(reading[d.doc_id] >= 0.0 for d in pool) else None
    if read is not None:
        pool = sorted((d for d in pool if read[d.doc_id] >= 0.0), key=lambda d: -read[d.doc_id])
    if not pool:
        return None
    if asked:
        pool = (
            [d for d in pool if d.codes & asked]
            or [d for d in pool if not (d.codes and any(_conflicting(c, asked) for c in d.codes))]
            or pool
        )
    if read is None:
        near = [d for d in pool if d.best >= _CASE_SHARE * pool[0].best]
    else:
        near = [d for d in pool if read[d.doc_id] >= read[pool[0].doc_id] - CLOSE_LOGITS]
    if _ASKS_CASE.search(question):
        cases = [d for d in pool if d.case]
    else:
        cases = [d for d in near if d.case and d.story]
    return cases[0] if cases else pool[0]


def same_subject(anchor: Doc, asked: frozenset[str]) -> frozenset[str]:
    """The codes of the set's subject: those the request names, and those the anchor names that
    are not rivals of them."""
    own = {c for c in anchor.codes if c in asked or not any(_rivals(c, a) for a in asked)}
    return frozenset(asked | own)


def compatible(doc: Doc, keep: frozenset[str]) -> bool:
    """A document the set may draw on besides its anchor: one that names no rival of the
    subject's codes, or whose title names the subject codes it names rivals of (a manual of
    both models: its sentences naming the other one are then dropped one by one)."""
    rivals = {k for c in doc.codes if _conflicting(c, keep) for k in keep if _rivals(c, k)}
    return rivals <= doc.title_codes
