"""Case-based exercises for teachers, built only from sentences of the retrieved hits.

A set has a scenario (the case's symptoms) and questions of four kinds: short answer (root
cause, fix), put the steps in order (a procedure's steps, shuffled deterministically by
doc_id), fill in the key term, and multiple choice whose distractors are other values of the
same kind (torques, pressures, alarm codes) found in the other hits.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from assistant.answer.citations import build_citation, inert_markers, split_sentences
from assistant.answer.evidence import (
    CAUSE_CUE,
    FIX_CUE,
    Embed,
    Scored,
    Sentence,
    collect_sentences,
    is_chinese,
    score_sentences,
)
from assistant.answer.exercise_format import (
    BLANK,
    ExerciseQuestion,
    ExerciseSet,
    exercise_to_gift,
    exercise_to_markdown,
)
from assistant.answer.structure import (
    answer_choices,
    codes,
    extract_steps,
    parse_step,
    quantities,
)
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
_SYMPTOM = re.compile(
    r"\b(symptom|alarm|noise|vibrat|fault|error|observ|report|fail|leak|stopp|overheat|trip|"
    r"chatter|abnormal|drift|deviat|crash|collid|complain|notic|rejected|scrap)\w*"
    r"|现象|报警|故障|异响|噪声|振动|泄漏|漏油|停机|异常|过热|偏差|超差|报废",
    re.IGNORECASE,
)
_WORDS = re.compile(r"[A-Za-z][A-Za-z0-9-]{4,}")
_CJK_WORD = re.compile(r"[\u4e00-\u9fff]{2,}")
# Chinese words too general to be the key term of a blank.
_FILLER_ZH = frozenset(
    {"必须", "不得", "之前", "以后", "以上", "以下", "进行", "使用", "然后", "如果"}
)
_MAX_ORDER_STEPS = 6
_MAX_SCENARIO = 3


@dataclass
class _Builder:
    hits: list[Hit]
    ranked: list[Scored]
    zh: bool
    quotes: dict[int, str]
    used: set[str]

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
    kinds = ("case", "procedure")
    by_kind = {k: {i for i, h in enumerate(hits) if h.chunk.kind == k} for k in kinds}
    b = _Builder(hits, ranked, zh, {}, set())
    # An incident report filed as another kind (a bulletin) stands in for a missing case.
    cases = by_kind["case"] or _case_like(b, by_kind["procedure"])
    eligible = (by_kind["case"] | by_kind["procedure"] | cases) or set(range(len(hits)))
    main = _main_doc(b, cases or eligible)
    main_hits = {i for i, h in enumerate(hits) if h.chunk.doc_id == main}
    title = hits[min(main_hits)].chunk.title
    scenario = _scenario(b, main_hits, title) if cases else _task(title, zh)
    questions: list[ExerciseQuestion] = []
    for kind, cues in (("cause", (CAUSE_CUE,)), ("fix", (_STRONG_FIX, FIX_CUE))) if cases else ():
        s = next((s for cue in cues if (s := b.pick(main_hits, cue)) is not None), None)
        if s is not None:
            prompt = _PROMPTS[(kind, zh)]
            questions.append(ExerciseQuestion("short_answer", prompt, s.text, (b.cite(s),)))
    if not questions and (s := b.pick(main_hits) or b.pick(eligible)) is not None:
        chunk = hits[s.hit_index].chunk
        topic = chunk.section.split(" > ")[-1] or chunk.title
        prompt = (
            f"《{chunk.title}》中关于“{topic}”是怎样规定的？"
            if zh
            else f"What does {chunk.title} say about “{topic}”?"
        )
        questions.append(ExerciseQuestion("short_answer", prompt, s.text, (b.cite(s),)))
    for make in (_order_question, _fill_question, _choice_question):
        q = (
            make(b, eligible)
            if make is _order_question
            else make(b, main_hits) or make(b, eligible)
        )
        if q is not None:
            questions.append(q)
    citations: tuple[Citation, ...] = tuple(
        build_citation(n, hits[n - 1], b.quotes[n]) for n in sorted(b.quotes)
    )
    inert = tuple(
        replace(
            q,
            prompt=inert_markers(q.prompt),
            answer=inert_markers(q.answer),
            items=tuple(inert_markers(i) for i in q.items),
        )
        for q in questions
    )
    return ExerciseSet(title, scenario, inert, citations, language, (note,))


_PROMPTS = {
    ("cause", False): "What was the root cause of the fault described in the scenario?",
    ("cause", True): "情境中所述故障的根本原因是什么？",
    ("fix", False): "What corrective action resolves it?",
    ("fix", True): "应采取什么纠正措施？",
}


def _main_doc(b: _Builder, indices: set[int]) -> str:
    """The document of the best-scoring sentence among these hits."""
    for x in b.ranked:
        if x.sentence.hit_index in indices:
            return b.hits[x.sentence.hit_index].chunk.doc_id
    return b.hits[min(indices)].chunk.doc_id


def _case_like(b: _Builder, procedures: set[int]) -> set[int]:
    """Hits, not procedures, of documents that report an incident and its cause."""
    found: dict[str, set[str]] = {}
    for x in b.ranked:
        s = x.sentence
        doc = b.hits[s.hit_index].chunk.doc_id
        if s.hit_index in procedures or x.match <= 0:
            continue
        if _INCIDENT.search(s.text):
            found.setdefault(doc, set()).add("symptom")
        if CAUSE_CUE.search(s.text):
            found.setdefault(doc, set()).add("cause")
    docs = {doc for doc, cues in found.items() if len(cues) == 2}
    return {i for i, h in enumerate(b.hits) if h.chunk.doc_id in docs}


def _unnumbered(text: str) -> str:
    """A step's text without its number ("3. Fit the plug." → "Fit the plug.")."""
    step = parse_step(text)
    return step[1] if step else text


def _task(title: str, zh: bool) -> str:
    if zh:
        return f"你需要按照《{title}》完成这项工作。"
    return f"You are asked to work through “{title}” as the document describes."


def _scenario(b: _Builder, main_hits: set[int], title: str) -> str:
    """The case's symptom sentences in document order (never its cause or fix), each cited."""

    def usable(s: Sentence) -> bool:
        section = b.hits[s.hit_index].chunk.section
        return (
            s.hit_index in main_hits
            and not (s.is_step or s.text[:1].islower())  # actions and list fragments
            and not CAUSE_CUE.search(s.text)
            and not FIX_CUE.search(s.text)
            and not _heads(CAUSE_CUE, section)
            and not _heads(FIX_CUE, section)
        )

    candidates = [x.sentence for x in b.ranked if usable(x.sentence)]  # best first
    chosen = [s for s in candidates if _SYMPTOM.search(s.text)][:_MAX_SCENARIO]
    chosen = chosen or candidates[:2]
    if not chosen:
        return _task(title, b.zh)
    chosen.sort(key=lambda s: (b.hits[s.hit_index].chunk.chunk_index, s.position))
    parts = [f"{inert_markers(s.text)} [{b.cite(s)}]" for s in chosen]
    return ("" if b.zh else " ").join(parts)


def _order_question(b: _Builder, eligible: set[int]) -> ExerciseQuestion | None:
    """Put-the-steps-in-order from the most relevant document with three or more steps."""
    docs: list[str] = []
    for x in b.ranked:
        doc = b.hits[x.sentence.hit_index].chunk.doc_id
        if x.sentence.hit_index in eligible and doc not in docs:
            docs.append(doc)
    procedure_first = sorted(
        docs, key=lambda d: next(h.chunk.kind != "procedure" for h in b.hits if h.chunk.doc_id == d)
    )
    for doc in procedure_first:
        indices = [i for i, h in enumerate(b.hits) if h.chunk.doc_id == doc]
        steps, _ = extract_steps(b.hits, indices)
        run = steps[:1]
        for step in steps[1:]:
            if step.number != run[-1].number + 1 or len(run) == _MAX_ORDER_STEPS:
                break
            run.append(step)
        if len(run) < 3:
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
            if _METADATA.search(s.text):
                continue
            found = find(s.text)
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
        others = [x.sentence.text for x in b.ranked if x.sentence.text != s.text]
        for right, wrong in answer_choices(s.text, others):
            if len(wrong) < 2 or right in b.used:
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
