"""Case-based exercises for teachers, built only from sentences of the retrieved hits.

A set is about one thing, its *anchor*: the case (or, when no case fits, the procedure or
guide) about what the request names, else the best-evidenced one. Its sentences are used, and
those of documents (not other cases) about the same model or about none in particular; a
document naming a rival of the subject's model (the HX-R20 or DH-R20 procedure for an HX-R165
case) is not. The scenario is the anchor's own account of the fault, in document order. The
questions: short answer when the key is a few words (a value, a part), else an essay item with
the source sentence as grading guidance (root cause, fix); put the steps in order (a
procedure's steps, shuffled deterministically by doc_id); fill in the key term; and multiple
choice whose distractors are other values of the same kind (torques, pressures, alarm codes)
found in the usable hits. No question text holds a citation marker.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from assistant.answer.citations import build_citation, inert_markers, split_sentences
from assistant.answer.evidence import Embed, Scored, Sentence, collect_sentences, score_sentences
from assistant.answer.exercise_format import (
    BLANK,
    CITATION_MARKER,
    ExerciseQuestion,
    ExerciseSet,
    exercise_to_gift,
    exercise_to_markdown,
    is_short_answer,
)
from assistant.answer.kinds import CAUSE_CUE, FIX_CUE
from assistant.answer.names import are_siblings, named_codes
from assistant.answer.structure import (
    answer_choices,
    codes,
    extract_steps,
    parse_step,
    quantities,
)
from assistant.answer.terms import is_chinese
from assistant.store.keyword import tokenize
from assistant.types import Citation, Hit, Turn

__all__ = [
    "ExerciseQuestion",
    "ExerciseSet",
    "build_exercise_set",
    "exercise_to_gift",
    "exercise_to_markdown",
]

# Fix sentences by their strongest cue first ("corrective action", "recommended").
_STRONG_FIX = re.compile(
    r"\b(corrective|countermeasure|recommend|remed|solution|resolv|action)\w*|措施|建议|整改|纠正|对策",
    re.IGNORECASE,
)
# Section headings that hold a case's answer rather than its story.
_ANSWER_SECTION = re.compile(
    r"\b(root cause|causes?|findings?|analysis|corrective|countermeasures?|actions?|remed\w*|"
    r"solutions?|fix|lessons?)\b|原因|分析|措施|对策|整改|纠正|处理",
    re.IGNORECASE,
)
# Section headings that hold a case's story: what was seen, before anyone knew why.
_STORY_SECTION = re.compile(
    r"\b(symptoms?|problem|background|description|events?|incident|what happened|"
    r"situation|observations?|complaint)\b|现象|经过|背景|情况|问题描述|事件",
    re.IGNORECASE,
)
# The sentence that says what equipment a case is about ("Equipment: HX-R165 ...").
_EQUIPMENT = re.compile(r"^\s*(?:equipment|machine|robot|设备|机床)\s*[:：]", re.IGNORECASE)


def _heads(cue: re.Pattern[str], section: str) -> bool:
    """The last heading of `section` names an answer part that `cue` stands for."""
    heading = section.split(" > ")[-1]
    return bool(heading) and bool(_ANSWER_SECTION.search(heading)) and bool(cue.search(heading))


# What an incident report says and a guide does not.
_INCIDENT = re.compile(
    r"\b(reported|occurred|happened|turned out|near miss|incident|broke down|failed|stopped|"
    r"was found|were found)\b|发生|出现|报告",
    re.IGNORECASE,
)
_METADATA = re.compile(
    r"\b(licen[cs]e|published|edition|effective|supersedes|revision)\b|·.*·|版本|发布",
    re.IGNORECASE,
)
# A report's bookkeeping, not its story: dates of issue, who wrote it for whom, distribution.
_ADMIN = re.compile(
    r"\b(issued|report date|service call|written|prepared by|distribution|internal document|"
    r"analysis period|owner)\b|报告日期|内部|编号|仅限|不得向",
    re.IGNORECASE,
)
_SYMPTOM = re.compile(
    r"\b(symptom|alarm|noise|vibrat|fault|error|observ|report|fail|leak|stopp|overheat|trip|"
    r"chatter|abnormal|drift|deviat|crash|collid|complain|notic|rejected|scrap)\w*"
    r"|现象|报警|故障|异响|噪声|振动|泄漏|漏油|停机|异常|过热|偏差|超差|报废",
    re.IGNORECASE,
)
# A label before a cause or fix ("Root cause:", "整改措施：", "原因是"): not part of the answer.
_ANSWER_LABEL = re.compile(
    r"^\s*(?:(?:the\s+)?(?:root\s+)?causes?(?:\s+was)?|corrective\s+actions?|fix|"
    r"countermeasures?|根本原因|原因|整改措施|处理措施|纠正措施|措施)\s*(?:[:：]|是|为)\s*",
    re.IGNORECASE,
)
_WORDS = re.compile(r"[A-Za-z][A-Za-z0-9-]{4,}")
_CJK_WORD = re.compile(r"[\u4e00-\u9fff]{2,}")
# Chinese words too general to be the key term of a blank.
_FILLER_ZH = frozenset(
    {"必须", "不得", "之前", "以后", "以上", "以下", "进行", "使用", "然后", "如果"}
)
# Requests that ask for a case by name ("case-based", "案例").
_ASKS_CASE = re.compile(r"\bcases?\b|案例", re.IGNORECASE)
# Numbered lists that are not steps to put in order: aims, scope, references.
_NOT_STEPS = re.compile(
    r"\b(purpose|objectives?|aims?|scope|goals?|references?|contents)\b|目的|目标|范围|参考",
    re.IGNORECASE,
)
_MAX_ORDER_STEPS = 6
_MAX_SCENARIO = 3
# A case anchors the set when its best sentence scores at least this share of the best
# document's (a case barely about the request does not beat the procedure that is).
_CASE_SHARE = 0.5
# Kinds that never stand in for a case, however much they talk about faults.
_NOT_CASES = frozenset({"procedure", "course", "standard"})


@dataclass(frozen=True)
class _Doc:
    """A retrieved document: its hits, what codes it names, how well it answers."""

    doc_id: str
    indices: frozenset[int]  # 0-based indices of its hits
    codes: frozenset[str]  # named in its title, sections and retrieved text (upper case)
    title_codes: frozenset[str]
    best: float  # score of its best sentence (-1 when none is usable)
    case: bool  # a case, or an incident report filed as another kind
    story: bool  # its hits tell what went wrong (a scenario can be built from them)


@dataclass
class _Builder:
    hits: list[Hit]
    ranked: list[Scored]
    zh: bool
    quotes: dict[int, str]
    used: set[str]
    asked: frozenset[str] = frozenset()  # codes the request names: never the key of a blank

    def cite(self, s: Sentence) -> int:
        n = s.hit_index + 1
        self.quotes.setdefault(n, s.text)
        self.used.add(s.text)
        return n

    def pick(self, indices: set[int], want: re.Pattern[str] | None = None) -> Sentence | None:
        """The best unused sentence of these hits (matching `want`, by text or section).

        A lead-in ("Recommended actions:") is not an answer; the sentence it introduces is.
        """
        following = {(x.sentence.hit_index, x.sentence.position): x.sentence for x in self.ranked}
        for x in self.ranked:
            s = x.sentence
            section = self.hits[s.hit_index].chunk.section
            if s.hit_index not in indices or s.text in self.used or x.support <= 0:
                continue
            if want is None or want.search(s.text) or _heads(want, section):
                if s.lead_in:
                    nxt = following.get((s.hit_index, s.position + 1))
                    if nxt is None or nxt.text in self.used:
                        continue
                    s = nxt
                return s
        return None

    def order(self, s: Sentence) -> tuple[int, int, int]:
        """Where a sentence stands in its document."""
        return (self.hits[s.hit_index].chunk.chunk_index, s.hit_index, s.position)


def build_exercise_set(
    question: str,
    hits: Sequence[Hit],
    *,
    history: Sequence[Turn] = (),
    embed: Embed | None = None,
    embed_chinese: bool = False,
    min_evidence: float = 0.35,
) -> ExerciseSet:
    """Build the exercise set; it has no questions when the hits do not support one.

    Args:
        question: the teacher's request ("exercise on reducer grease leaks").
        hits: retrieved, visible hits; `[n]` is the 1-based index into them.
        history: earlier turns; the last user turns count, weighted less.
        embed: optional embedder for sentence relevance.
        embed_chinese: use the embedder for Chinese text too (a multilingual model).
        min_evidence: below this evidence score no exercise is built.
    """
    hits = list(hits)
    zh = is_chinese(question)
    sentences = collect_sentences(hits)
    scoring = score_sentences(
        question, hits, sentences, history=history, embed=embed, embed_chinese=embed_chinese
    )
    note = f"evidence {scoring.evidence:.2f} (threshold {min_evidence:.2f})"
    language = "zh" if zh else "en"
    # Sentences about a sibling of what the question names (another model's values) are left out.
    ranked = [x for x in scoring.ranked if not x.sibling]
    if not ranked or scoring.evidence < min_evidence:
        return ExerciseSet("", "", (), (), language, (note,))
    asked = _asked_codes(question, history)
    docs = _documents(hits, ranked)
    naming = [d for d in docs.values() if d.codes & asked and d.best > 0]
    if len(naming) > 1:
        # Every one of them names the model: which is about the task is told by the rest.
        topic = _without_codes(question, asked)
        best = _best_by_document(topic, hits, naming, embed=embed, embed_chinese=embed_chinese)
        docs = {k: replace(d, best=best.get(k, d.best)) for k, d in docs.items()}
    anchor = _anchor(question, asked, docs)
    if anchor is None:
        return ExerciseSet("", "", (), (), language, (note,))
    keep = _same_subject(anchor, asked)
    usable = {
        i
        for d in docs.values()
        if d is anchor or (not d.case and _compatible(d, keep))
        for i in d.indices
    }
    ranked = [
        x
        for x in ranked
        if x.sentence.hit_index in usable
        and (x.sentence.hit_index in anchor.indices or not _conflicts(x.sentence.text, keep))
    ]
    b = _Builder(hits, ranked, zh, {}, set(), asked)
    main_hits = set(anchor.indices)
    title = hits[min(main_hits)].chunk.title
    scenario = _scenario(b, main_hits, title) if anchor.case else _task(title, zh)
    questions: list[ExerciseQuestion] = []
    for kind, cues in (
        (("cause", (CAUSE_CUE,)), ("fix", (_STRONG_FIX, FIX_CUE))) if anchor.case else ()
    ):
        s = next((s for cue in cues if (s := b.pick(main_hits, cue)) is not None), None)
        if s is not None:
            questions.append(_open_question(_PROMPTS[(kind, zh)], s, b.cite(s)))
    if not questions and not anchor.case:
        questions += _about_question(b, main_hits, usable)
    order = _order_question(b, usable, anchor.doc_id)
    blank = _fill_question(b, main_hits) or _fill_question(b, usable)
    choice = _choice_question(b, main_hits) or _choice_question(b, usable)
    questions += [q for q in (order, blank, choice) if q is not None]
    if not questions:  # a case whose cause and fix were not retrieved, and nothing else
        questions += _about_question(b, main_hits, usable)
    citations: tuple[Citation, ...] = tuple(
        build_citation(n, hits[n - 1], b.quotes[n]) for n in sorted(b.quotes)
    )
    clean = tuple(
        replace(
            q,
            prompt=_question_text(q.prompt),
            answer=_question_text(q.answer),
            items=tuple(_question_text(i) for i in q.items),
        )
        for q in questions
    )
    return ExerciseSet(title, scenario, clean, citations, language, (note,))


_PROMPTS = {
    ("cause", False): "What was the root cause of the fault in this case?",
    ("cause", True): "本案例中故障的根本原因是什么？",
    ("fix", False): "What corrective action was taken to resolve it?",
    ("fix", True): "针对该故障采取了什么纠正措施？",
}


def _about_question(b: _Builder, main_hits: set[int], usable: set[int]) -> list[ExerciseQuestion]:
    """An open question on the best unused sentence: what its document says under its heading."""
    s = b.pick(main_hits) or b.pick(usable)
    if s is None:
        return []
    chunk = b.hits[s.hit_index].chunk
    topic = _heading(chunk.section)
    if topic and topic != chunk.title:
        prompt = (
            f"《{chunk.title}》中关于“{topic}”是怎样规定的？"
            if b.zh
            else f"What does {chunk.title} say about “{topic}”?"
        )
    else:
        prompt = f"《{chunk.title}》说明了什么？" if b.zh else f"What does {chunk.title} state?"
    return [_open_question(prompt, s, b.cite(s))]


def _question_text(text: str) -> str:
    """Source text as a question or key: no citation markers of the source ("see [6]"), and
    bracketed numbers that belong to the text ("P[2]") made inert."""
    return inert_markers(re.sub(r"[ \t]{2,}", " ", CITATION_MARKER.sub("", text)).strip())


def _open_question(prompt: str, s: Sentence, ref: int) -> ExerciseQuestion:
    """A short-answer item when the sentence's answer is a few words; otherwise an essay item
    whose key is the sentence, as guidance for the grader."""
    span = _short_span(s.text)
    if span is not None:
        return ExerciseQuestion("short_answer", prompt, span, (ref,))
    return ExerciseQuestion("essay", prompt, _unnumbered(s.text), (ref,))


def _short_span(text: str) -> str | None:
    """The answer a sentence gives, when it is a few words ("Root cause: a worn seal." →
    "a worn seal"); None when it takes a sentence to give."""
    body = _ANSWER_LABEL.sub("", _unnumbered(CITATION_MARKER.sub("", text))).strip()
    body = body.rstrip("。.；;!！ ").strip()
    return body if is_short_answer(body) else None


# --- one subject ---------------------------------------------------------------------------


def _asked_codes(question: str, history: Sequence[Turn]) -> frozenset[str]:
    """Codes the request names; when it names none, those of the last user turn before it."""
    asked = named_codes(question)
    if not asked:
        earlier = [t.content for t in history if t.role == "user" and t.content.strip()]
        earlier = [t for t in earlier if t.strip() != question.strip()]
        asked = named_codes(earlier[-1]) if earlier else []
    return frozenset(asked)


def _without_codes(question: str, asked: frozenset[str]) -> str:
    for code in asked:
        question = re.sub(re.escape(code), " ", question, flags=re.IGNORECASE)
    return question


def _best_by_document(
    question: str,
    hits: list[Hit],
    docs: Sequence[_Doc],
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


def _conflicts(text: str, keep: frozenset[str]) -> bool:
    return any(_conflicting(c, keep) for c in named_codes(text))


def _documents(hits: list[Hit], ranked: list[Scored]) -> dict[str, _Doc]:
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
            _Doc(
                doc_id=doc_id,
                indices=frozenset(idx),
                codes=frozenset(named_codes(f"{first.title}\n{text}")),
                title_codes=frozenset(named_codes(first.title)),
                best=best.get(doc_id, -1.0),
                case=first.kind == "case" or doc_id in incidents,
                story=any(
                    _tells_story(x.sentence, hits[x.sentence.hit_index].chunk.section)
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


def _anchor(question: str, asked: frozenset[str], docs: dict[str, _Doc]) -> _Doc | None:
    """The document the set is about.

    Among the documents that name a code of the request (all when none does, or it names
    none): the best case, when the request asks for one; else the best case whose hits tell
    what went wrong if it scores at least `_CASE_SHARE` of the best document; else the best
    document.
    """
    pool = sorted((d for d in docs.values() if d.best > 0), key=lambda d: -d.best)
    if not pool:
        return None
    if asked:
        pool = (
            [d for d in pool if d.codes & asked]
            or [d for d in pool if not (d.codes and any(_conflicting(c, asked) for c in d.codes))]
            or pool
        )
    near = [d for d in pool if d.best >= _CASE_SHARE * pool[0].best]
    if _ASKS_CASE.search(question):
        cases = [d for d in pool if d.case]
    else:
        cases = [d for d in near if d.case and d.story]
    return cases[0] if cases else pool[0]


def _same_subject(anchor: _Doc, asked: frozenset[str]) -> frozenset[str]:
    """The codes of the set's subject: those the request names, and those the anchor names that
    are not rivals of them."""
    own = {c for c in anchor.codes if c in asked or not any(_rivals(c, a) for a in asked)}
    return frozenset(asked | own)


def _compatible(doc: _Doc, keep: frozenset[str]) -> bool:
    """A document the set may draw on besides its anchor: one that names no rival of the
    subject's codes, or whose title names the subject codes it names rivals of (a manual of
    both models: its sentences naming the other one are then dropped one by one)."""
    rivals = {k for c in doc.codes if _conflicting(c, keep) for k in keep if _rivals(c, k)}
    return rivals <= doc.title_codes


# --- scenario and questions ------------------------------------------------------------------


def _unnumbered(text: str) -> str:
    """A step's text without its number ("3. Fit the plug." → "Fit the plug.")."""
    step = parse_step(text)
    return step[1] if step else text


def _task(title: str, zh: bool) -> str:
    if zh:
        return f"你需要按照《{title}》完成这项工作。"
    return f"You are asked to work through “{title}” as the document describes."


def _heading(section: str) -> str:
    return section.split(" > ")[-1]


def _scene_sentence(s: Sentence, section: str) -> bool:
    """A sentence a scenario may hold: a statement of the case (not an action, a list fragment,
    a lead-in or bookkeeping) that gives away neither the cause nor the fix."""
    return not (
        s.is_step
        or s.lead_in
        or s.text[:1].islower()
        or CAUSE_CUE.search(s.text)
        or FIX_CUE.search(s.text)
        or _METADATA.search(s.text)
        or _ADMIN.search(s.text)
        or _ANSWER_SECTION.search(_heading(section))
    )


def _tells_story(s: Sentence, section: str) -> bool:
    """A scenario sentence that says what went wrong (in the symptom section, or by its words)."""
    return _scene_sentence(s, section) and bool(
        _STORY_SECTION.search(_heading(section)) or _SYMPTOM.search(s.text)
    )


def _scenario(b: _Builder, main_hits: set[int], title: str) -> str:
    """The case's own account of the fault, from its one document in document order, each
    sentence cited: the sentence naming the equipment, then the first sentences of its symptom
    section (else its best symptom sentences); never its cause or fix, nor its bookkeeping."""

    def usable(s: Sentence) -> bool:
        return s.hit_index in main_hits and _scene_sentence(s, b.hits[s.hit_index].chunk.section)

    candidates = [x.sentence for x in b.ranked if usable(x.sentence)]  # best first
    in_order = sorted(candidates, key=b.order)
    story = [
        s for s in in_order if _STORY_SECTION.search(_heading(b.hits[s.hit_index].chunk.section))
    ]
    chosen = story[:_MAX_SCENARIO]
    if not chosen:
        chosen = [s for s in candidates if _SYMPTOM.search(s.text)][:_MAX_SCENARIO]
    equipment = next((s for s in in_order if _EQUIPMENT.search(s.text)), None)
    if equipment is not None and equipment not in chosen:
        chosen.append(equipment)
    if not chosen:
        chosen = candidates[:2]
    if not chosen:
        return _task(title, b.zh)
    chosen.sort(key=b.order)
    parts = [f"{_question_text(s.text)} [{b.cite(s)}]" for s in chosen]
    return ("" if b.zh else " ").join(parts)


def _order_question(b: _Builder, eligible: set[int], anchor: str) -> ExerciseQuestion | None:
    """Put-the-steps-in-order from the most relevant document with three or more steps
    (procedures first, then the anchor, then the rest)."""
    docs: list[str] = []
    for x in b.ranked:
        doc = b.hits[x.sentence.hit_index].chunk.doc_id
        if x.sentence.hit_index in eligible and doc not in docs:
            docs.append(doc)

    def kind(d: str) -> str:
        return next(h.chunk.kind for h in b.hits if h.chunk.doc_id == d)

    # A procedure's steps, else the anchor's own numbered list (a case's diagnosis steps); never
    # another document's list, which may be anything (a course's exercise questions).
    for doc in [d for d in docs if kind(d) == "procedure"] + [d for d in docs if d == anchor]:
        indices = [i for i, h in enumerate(b.hits) if h.chunk.doc_id == doc]
        steps, _ = extract_steps(b.hits, indices)
        run = steps[:1]
        for step in steps[1:]:
            if step.number != run[-1].number + 1 or len(run) == _MAX_ORDER_STEPS:
                break
            run.append(step)
        if len(run) < 3 or _NOT_STEPS.search(_heading(run[0].section)):
            continue
        if any(step.text.rstrip().endswith(("?", "？")) for step in run):  # exercise questions
            continue
        shuffled = list(range(len(run)))
        random.Random(doc).shuffle(shuffled)
        if shuffled == sorted(shuffled):
            shuffled = shuffled[1:] + shuffled[:1]
        items = tuple(run[k].text for k in shuffled)
        correct = tuple(shuffled.index(k) for k in range(len(run)))
        refs: list[int] = []
        for step in run:
            n = step.hit_index + 1
            b.quotes.setdefault(n, step.line)
            b.used.update(split_sentences(step.line))
            if n not in refs:
                refs.append(n)
        title = b.hits[indices[0]].chunk.title
        prompt = (
            f"将《{title}》的下列步骤按正确顺序排列。"
            if b.zh
            else (f"Put these steps of {title} in the correct order.")
        )
        key = ", ".join(chr(ord("A") + i) for i in correct)
        return ExerciseQuestion("order", prompt, key, tuple(refs), items, correct)
    return None


def _fill_question(b: _Builder, eligible: set[int]) -> ExerciseQuestion | None:
    """Blank out a code, a quantity or the rarest technical word of a relevant sentence."""
    df: dict[str, int] = {}
    for x in b.ranked:
        for t in x.sentence.tokens:
            df[t] = df.get(t, 0) + 1

    def rare_words(text: str) -> list[str]:
        """Technical words, rarest first: English words past the first, Chinese jieba words."""
        words = [w for w in _WORDS.findall(text)[1:] if tokenize(w) and not w.isupper()]
        words += [t for t in tokenize(text) if _CJK_WORD.fullmatch(t) and t not in _FILLER_ZH]
        return sorted(words, key=lambda w: (min(df.get(t, 0) for t in tokenize(w)), -len(w)))

    finders = (codes, lambda text: [q.text for q in quantities(text)], rare_words)
    for find in finders:
        for x in b.ranked:
            s = x.sentence
            if s.hit_index not in eligible or s.text in b.used or x.match <= 0:
                continue
            if _METADATA.search(s.text) or _ADMIN.search(s.text) or CITATION_MARKER.search(s.text):
                continue
            found = [f for f in find(s.text) if f.upper() not in b.asked]
            if found:
                prompt = _unnumbered(s.text).replace(found[0], BLANK, 1)
                b.used.add(found[0])  # not the answer of the multiple choice too
                return ExerciseQuestion("fill_blank", prompt, found[0], (b.cite(s),))
    return None


def _choice_question(b: _Builder, eligible: set[int]) -> ExerciseQuestion | None:
    """Multiple choice on a quantity or code; distractors of the same kind from other hits.

    Sentences no other question uses come first; a used one serves when nothing else does.
    """
    ordered = sorted(b.ranked, key=lambda x: x.sentence.text in b.used)
    for x in ordered:
        s = x.sentence
        if s.hit_index not in eligible or x.support <= 0 or _METADATA.search(s.text):
            continue
        if _ADMIN.search(s.text) or CITATION_MARKER.search(s.text):
            continue
        others = [x.sentence.text for x in b.ranked if x.sentence.text != s.text]
        for right, wrong in answer_choices(s.text, others):
            if len(wrong) < 2 or right in b.used or right.upper() in b.asked:
                continue
            options = [right, *wrong[:3]]
            rng = random.Random(f"{b.hits[s.hit_index].chunk.doc_id}:{right}")
            rng.shuffle(options)
            stem = _unnumbered(s.text).replace(right, BLANK, 1)
            prompt = (
                f"哪一项能正确补全下句？“{stem}”"
                if b.zh
                else (f"Which option correctly completes the statement? “{stem}”")
            )
            right_index = options.index(right)
            key = f"{chr(ord('A') + right_index)}. {right}"
            return ExerciseQuestion(
                "multiple_choice", prompt, key, (b.cite(s),), tuple(options), (right_index,)
            )
    return None
