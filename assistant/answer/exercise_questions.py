"""The scenario and the questions of an exercise set, from the sentences its subject allows.

The scenario is the anchor case's own account of the fault, in document order, never its cause
or fix; without a case, the task of working through the document. The questions: short answer
when the key is a few words, else an essay item whose key is the source sentence; put the steps
in order (a procedure's, else the anchor's own numbered list); fill in a code, a quantity or the
rarest technical word; multiple choice with distractors of the same kind from other hits. A
`Builder` holds what they share: the ranked sentences, those already used, and the quotes cited.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from assistant.answer.citations import inert_markers, split_sentences
from assistant.answer.evidence import Scored
from assistant.answer.exercise_format import (
    BLANK,
    CITATION_MARKER,
    ExerciseQuestion,
    is_short_answer,
)
from assistant.answer.kinds import CAUSE_CUE, FIX_CUE
from assistant.answer.sentences import Sentence
from assistant.answer.structure import (
    answer_choices,
    codes,
    extract_steps,
    parse_step,
    quantities,
)
from assistant.answer.terms import is_chinese
from assistant.store.keyword import tokenize
from assistant.types import Hit

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


_METADATA = re.compile(
    r"\b(licen[cs]e|published|edition|effective|supersedes|revision)\b|·.*·|版本|发布",
    re.IGNORECASE,
)
# A report's bookkeeping, not its story: dates of issue, who wrote it for whom, distribution.
_ADMIN = re.compile(
    r"\b(issued|report date|service call|written|prepared by|distribution|internal document|"
    r"analysis period|owner|contact hours|prerequisites?)\b"
    r"|报告日期|内部|编号|仅限|不得向|学时|课时|先修",
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
_MAX_ORDER_STEPS = 6
_MAX_SCENARIO = 3


@dataclass
class Builder:
    """What the scenario and questions of one set share: the sentences they may use, best
    first, those already used, and the quote each cited hit is shown with."""

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

    def pick(
        self, indices: set[int], want: re.Pattern[str] | None = None, anchored: bool = False
    ) -> Sentence | None:
        """The best unused sentence of these hits (matching `want`, by text or section);
        unless `anchored` (the hits are the set's own case, whose cause and fix are what it
        asks about), one that shares something with the request.

        A lead-in ("Recommended actions:") is not an answer; the sentence it introduces is.
        """
        following = {(x.sentence.hit_index, x.sentence.position): x.sentence for x in self.ranked}
        for x in self.ranked:
            s = x.sentence
            section = self.hits[s.hit_index].chunk.section
            if s.hit_index not in indices or s.text in self.used:
                continue
            if x.support <= 0 and not anchored:
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


def about_question(b: Builder, main_hits: set[int], usable: set[int]) -> list[ExerciseQuestion]:
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
    return [open_question(prompt, s, b.cite(s))]


def question_text(text: str) -> str:
    """Source text as a question or key: no citation markers of the source ("see [6]"), and
    bracketed numbers that belong to the text ("P[2]") made inert."""
    return inert_markers(re.sub(r"[ \t]{2,}", " ", CITATION_MARKER.sub("", text)).strip())


def open_question(prompt: str, s: Sentence, ref: int) -> ExerciseQuestion:
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


def _unnumbered(text: str) -> str:
    """A step's text without its number ("3. Fit the plug." → "Fit the plug.")."""
    step = parse_step(text)
    return step[1] if step else text


def task_scenario(title: str, zh: bool) -> str:
    """The scenario of a set about a document that is not a case: the task it describes."""
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


def tells_story(s: Sentence, section: str) -> bool:
    """A scenario sentence that says what went wrong (in the symptom section, or by its words)."""
    return _scene_sentence(s, section) and bool(
        _STORY_SECTION.search(_heading(section)) or _SYMPTOM.search(s.text)
    )


def compose_scenario(b: Builder, main_hits: set[int], title: str) -> str:
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
        return task_scenario(title, b.zh)
    chosen.sort(key=b.order)
    text = ""
    for i, s in enumerate(chosen):
        # Chinese sentences run on; an English one (of an English case in a Chinese set) is
        # set apart by a space.
        if i and not (b.zh and is_chinese(chosen[i - 1].text)):
            text += " "
        text += f"{question_text(s.text)} [{b.cite(s)}]"
    return text


def order_question(b: Builder, eligible: set[int], anchor: str) -> ExerciseQuestion | None:
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
        if len(run) < 3:  # `extract_steps` reads no aims, scope or references as steps
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


def fill_question(b: Builder, eligible: set[int]) -> ExerciseQuestion | None:
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
            if s.hit_index not in eligible or s.text in b.used or x.match <= 0 or s.lead_in:
                continue
            if _METADATA.search(s.text) or _ADMIN.search(s.text) or CITATION_MARKER.search(s.text):
                continue
            found = [f for f in find(s.text) if f.upper() not in b.asked]
            if found:
                prompt = _unnumbered(s.text).replace(found[0], BLANK, 1)
                b.used.add(found[0])  # not the answer of the multiple choice too
                return ExerciseQuestion("fill_blank", prompt, found[0], (b.cite(s),))
    return None


def choice_question(b: Builder, eligible: set[int]) -> ExerciseQuestion | None:
    """Multiple choice on a quantity or code; distractors of the same kind from other hits.

    Sentences no other question uses come first; a used one serves when nothing else does.
    """
    ordered = sorted(b.ranked, key=lambda x: x.sentence.text in b.used)
    for x in ordered:
        s = x.sentence
        if s.hit_index not in eligible or x.support <= 0 or _METADATA.search(s.text):
            continue
        if _ADMIN.search(s.text) or CITATION_MARKER.search(s.text) or s.lead_in:
            continue
        # Distractors in the statement's language: "4 年" beside "12 months" gives it away.
        zh = is_chinese(s.text)
        others = [
            o.sentence.text
            for o in b.ranked
            if o.sentence.text != s.text and is_chinese(o.sentence.text) == zh
        ]
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
