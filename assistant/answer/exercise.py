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
found in the usable hits. No question text holds a citation marker, and no sentence comes from
material students may not see (an answer key, a teachers-only marking guide).

Choosing the subject is `exercise_subject`'s, building the scenario and questions
`exercise_questions`'s, rendering the set `exercise_format`'s; this module puts them together.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from assistant.answer.answerability import Scorer
from assistant.answer.citations import build_citation
from assistant.answer.evidence import Embed, score_sentences
from assistant.answer.exercise_format import (
    ExerciseQuestion,
    ExerciseSet,
    exercise_to_gift,
    exercise_to_markdown,
)
from assistant.answer.exercise_questions import (
    Builder,
    about_question,
    choice_question,
    compose_scenario,
    fill_question,
    open_question,
    order_question,
    question_text,
    task_scenario,
)
from assistant.answer.exercise_subject import (
    asked_codes,
    best_by_document,
    choose_anchor,
    compatible,
    conflicts,
    documents,
    read_subject,
    request_subject,
    same_subject,
    without_codes,
)
from assistant.answer.kinds import CAUSE_CUE, FIX_CUE
from assistant.answer.material import kept_from_students
from assistant.answer.sentences import collect_sentences
from assistant.answer.terms import is_chinese
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


def build_exercise_set(
    question: str,
    hits: Sequence[Hit],
    *,
    history: Sequence[Turn] = (),
    embed: Embed | None = None,
    embed_chinese: bool = False,
    min_evidence: float = 0.35,
    relevance: Scorer | None = None,
) -> ExerciseSet:
    """Build the exercise set; it has no questions when the hits do not support one.

    Args:
        question: the teacher's request ("exercise on reducer grease leaks").
        hits: retrieved, visible hits; `[n]` is the 1-based index into them.
        history: earlier turns; the last user turns count, weighted less.
        embed: optional embedder for sentence relevance.
        embed_chinese: use the embedder for Chinese text too (a multilingual model).
        min_evidence: below this evidence score no exercise is built.
        relevance: the cross-encoder; where given, it reads which documents are about the
            request's subject (`read_subject`).
    """
    hits = list(hits)
    zh = is_chinese(question)
    sentences = collect_sentences(hits)
    scoring = score_sentences(
        question, hits, sentences, history=history, embed=embed, embed_chinese=embed_chinese
    )
    note = f"evidence {scoring.evidence:.2f} (threshold {min_evidence:.2f})"
    language = "zh" if zh else "en"
    # Sentences about a sibling of what the question names (another model's values) are left
    # out, and so is material students may not see (an answer key): a set is handed to them.
    hidden = {i for i, h in enumerate(hits) if kept_from_students(h.chunk)}
    ranked = [x for x in scoring.ranked if not x.sibling and x.sentence.hit_index not in hidden]
    if not ranked or scoring.evidence < min_evidence:
        return ExerciseSet("", "", (), (), language, (note,))
    asked = asked_codes(question, history)
    docs = {k: d for k, d in documents(hits, ranked).items() if not d.indices <= hidden}
    naming = [d for d in docs.values() if d.codes & asked and d.best > 0]
    if len(naming) > 1:
        # Every one of them names the model: which is about the task is told by the rest.
        topic = without_codes(question, asked)
        best = best_by_document(topic, hits, naming, embed=embed, embed_chinese=embed_chinese)
        docs = {k: replace(d, best=best.get(k, d.best)) for k, d in docs.items()}
    reading = None
    if relevance is not None:
        reading = read_subject(relevance, request_subject(question, history, hits), hits, docs)
    anchor = choose_anchor(question, asked, docs, reading)
    if anchor is None:
        return ExerciseSet("", "", (), (), language, (note,))
    keep = same_subject(anchor, asked)
    usable = {
        i
        for d in docs.values()
        if d is anchor or (not d.case and compatible(d, keep))
        for i in d.indices
    }
    ranked = [
        x
        for x in ranked
        if x.sentence.hit_index in usable
        and (x.sentence.hit_index in anchor.indices or not conflicts(x.sentence.text, keep))
    ]
    b = Builder(hits, ranked, zh, {}, set(), asked)
    main_hits = set(anchor.indices)
    title = hits[min(main_hits)].chunk.title
    scenario = compose_scenario(b, main_hits, title) if anchor.case else task_scenario(title, zh)
    questions: list[ExerciseQuestion] = []
    for kind, cues in (
        (("cause", (CAUSE_CUE,)), ("fix", (_STRONG_FIX, FIX_CUE))) if anchor.case else ()
    ):
        s = next(
            (s for cue in cues if (s := b.pick(main_hits, cue, anchored=True)) is not None),
            None,
        )
        if s is not None:
            questions.append(open_question(_PROMPTS[(kind, zh)], s, b.cite(s)))
    if not questions and not anchor.case:
        questions += about_question(b, main_hits, usable)
    order = order_question(b, usable, anchor.doc_id)
    blank = fill_question(b, main_hits) or fill_question(b, usable)
    choice = choice_question(b, main_hits) or choice_question(b, usable)
    questions += [q for q in (order, blank, choice) if q is not None]
    if not questions:  # a case whose cause and fix were not retrieved, and nothing else
        questions += about_question(b, main_hits, usable)
    citations: tuple[Citation, ...] = tuple(
        build_citation(n, hits[n - 1], b.quotes[n]) for n in sorted(b.quotes)
    )
    clean = tuple(
        replace(
            q,
            prompt=question_text(q.prompt),
            answer=question_text(q.answer),
            items=tuple(question_text(i) for i in q.items),
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
