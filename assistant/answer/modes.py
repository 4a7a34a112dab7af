"""The structured modes without a model: `procedure` (here) and `exercise` (re-exported).

A procedure answer is the best-matching procedure's numbered steps in order, each cited, with
every caution placed right before the step it precedes in the source; where another
contributor's procedure for the same task states a different number for the same quantity, a
note says so and cites both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from assistant.answer.across import Glossing
from assistant.answer.answerability import Scorer, passage_text
from assistant.answer.citations import build_citation, inert_markers, validate_citations
from assistant.answer.evidence import (
    Embed,
    blend,
    embedding_similarity,
    retrieval_signal,
    score_sentences,
)
from assistant.answer.exercise import (
    ExerciseQuestion,
    ExerciseSet,
    build_exercise_set,
    exercise_to_gift,
    exercise_to_markdown,
)
from assistant.answer.reading import CLEAR_LOGITS
from assistant.answer.refusals import refusal_text
from assistant.answer.registry import MODES
from assistant.answer.sentences import Sentence, collect_sentences
from assistant.answer.structure import Quantity, Step, extract_steps, parse_step, quantities
from assistant.answer.terms import content_tokens, coverage, idf_weights, is_chinese, query_terms
from assistant.queries import standalone_query
from assistant.store.keyword import tokenize
from assistant.translate import rendered_question
from assistant.types import Answer, Citation, Hit, Turn

__all__ = [
    "ExerciseQuestion",
    "ExerciseSet",
    "build_exercise_set",
    "compose_procedure",
    "exercise_to_gift",
    "exercise_to_markdown",
    "refusal",
]

# Two procedures cover the same task when this share of the shorter title's terms is shared.
SAME_TASK = 0.5
# Two quantity statements are about the same thing when this share of their words is shared.
SAME_QUANTITY = 0.34
# Tokens that are units or bare numbers say nothing about *what* a quantity measures.
_UNIT_TOKENS = frozenset(
    {
        *("n", "m", "nm", "mpa", "kpa", "bar", "psi", "c", "h", "hour", "ml", "l", "g", "kg"),
        *("mm", "min", "minut", "s", "second", "v", "ppm", "wt", "year", "month", "week", "day"),
        "oper",
    }
)


def refusal(
    mode: str,
    question: str,
    hits: Sequence[Hit],
    notes: Sequence[str] = (),
    lead: str | None = None,
) -> Answer:
    """A refusal in the question's language naming the nearest topics of the hits."""
    record = MODES.get(mode)
    lead = lead or (record.refusal_lead(is_chinese(question)) if record else None)
    return Answer(refusal_text(question, hits, lead), refused=True, mode=mode, notes=tuple(notes))


@dataclass(frozen=True)
class _Doc:
    doc_id: str
    indices: tuple[int, ...]  # into hits, best first
    score: float
    evidence: float


def _rank_procedures(
    question: str,
    hits: Sequence[Hit],
    history: Sequence[Turn],
    weights: tuple[dict[str, float], dict[str, float]],
    embed: Embed | None,
    embed_chinese: bool,
    relevance: Scorer | None = None,
) -> list[_Doc]:
    """Procedure documents among the hits, best first: summed retrieval + title/text match;
    with a cross-encoder, the document whose best chunk it reads as answering the question best
    comes first (the manual's safety list, sharing the words "HX-R20" and "check", had led a
    request for the brake check procedure); for a Chinese question, only where it reads that
    document clearly best."""
    signals = retrieval_signal(hits)
    groups: dict[str, list[int]] = {}
    for i, hit in enumerate(hits):
        if hit.chunk.kind == "procedure":
            groups.setdefault(hit.chunk.doc_id, []).append(i)
    if not groups:
        # No document is declared a procedure: bulletins and notices still carry steps.
        for i, hit in enumerate(hits):
            if any(parse_step(line) for line in hit.chunk.text.splitlines()):
                groups.setdefault(hit.chunk.doc_id, []).append(i)
        groups = {doc: [i for i, h in enumerate(hits) if h.chunk.doc_id == doc] for doc in groups}
    if not groups:
        return []
    terms, idf = weights
    top_sum = max(sum(signals[i] for i in idx) for idx in groups.values()) or 1.0
    titles = [hits[idx[0]].chunk.title for idx in groups.values()]
    similarity = embedding_similarity(embed, question, titles, chinese=embed_chinese)
    docs = []
    for k, (doc_id, idx) in enumerate(groups.items()):
        first = hits[idx[0]].chunk
        text = "\n".join(f"{hits[i].chunk.section}\n{hits[i].chunk.text}" for i in idx)
        title_cov = coverage(terms, idf, set(tokenize(first.title)))
        text_cov = coverage(terms, idf, set(tokenize(f"{first.title}\n{text}")))
        summed = sum(signals[i] for i in idx) / top_sum
        score = 0.4 * summed + 0.3 * title_cov + 0.3 * blend(text_cov, similarity[k])
        evidence = 0.8 * text_cov + 0.2 * max(signals[i] for i in idx)
        if is_chinese(question) != is_chinese(text):
            # Across languages few terms can match: weigh the procedure's sentences as the
            # ask mode does (dictionary translations, multilingual similarity).
            own = [hits[i] for i in idx]
            across = score_sentences(
                question,
                own,
                collect_sentences(own),
                history=history,
                embed=embed,
                embed_chinese=embed_chinese,
            )
            evidence = max(evidence, across.evidence)
        docs.append(_Doc(doc_id, tuple(idx), score, evidence))
    docs.sort(key=lambda d: (-d.score, d.indices[0]))
    if relevance is None or len(docs) < 2:
        return docs
    query = standalone_query(question, history)
    chinese = is_chinese(question)
    if chinese:
        # Read as ask mode reads across languages: the question in English words
        # (`rendered_question`), Chinese procedures in their English glosses (`Glossing`).
        reader = Glossing.over(relevance, question, hits)
        query = rendered_question(question, reader.sources, query)
        if not query:
            return docs
        relevance = reader
    read = [i for d in docs for i in d.indices]
    logits = dict(
        zip(read, relevance.score(query, [passage_text(hits[i]) for i in read]), strict=True)
    )
    best = {d.doc_id: max(float(logits[i]) for i in d.indices) for d in docs}
    if chinese:
        # Read through a rendering and glosses, only a clear preference (`CLEAR_LOGITS`, the
        # margin ask mode trusts) overrules the match in the question's own words: "RV减速器润滑脂
        # 更换的步骤" (Huaxin staff) had been answered with a Chinese student lab sheet for
        # another robot, not with the manufacturer's English procedure (8.2 against 5.7).
        top = max(docs, key=lambda d: best[d.doc_id])
        if best[top.doc_id] < max(0.0, best[docs[0].doc_id] + CLEAR_LOGITS):
            return docs
        return [top, *(d for d in docs if d is not top)]
    # Only documents it reads as answering (a logit of at least 0) are reordered: among the
    # others its order is noise (a battery procedure had led a lockout question at -2.7).
    relevant = sorted((d for d in docs if best[d.doc_id] >= 0.0), key=lambda d: -best[d.doc_id])
    return relevant + [d for d in docs if best[d.doc_id] < 0.0]


def compose_procedure(
    question: str,
    hits: Sequence[Hit],
    *,
    history: Sequence[Turn] = (),
    embed: Embed | None = None,
    embed_chinese: bool = False,
    min_evidence: float = 0.35,
    relevance: Scorer | None = None,
) -> Answer:
    """The steps of the best-matching procedure among `hits`, in order, cautions before steps.

    Args:
        question: what the user asked for ("How do I replace the J1 reducer grease?").
        hits: retrieved, visible hits; `[n]` is the 1-based index into them.
        history: earlier turns; the last user turns count, weighted less.
        embed: optional embedder adding title similarity to the match.
        embed_chinese: use the embedder for Chinese text too (a multilingual model).
        min_evidence: below this, the answer is a refusal.
        relevance: optional cross-encoder that picks the procedure for an English question.

    Returns:
        A Markdown answer (header, steps, cautions, disagreement notes) or a refusal.
    """
    terms = query_terms(question, history)
    weights = terms, idf_weights(terms, [set(s.tokens) for s in collect_sentences(hits)])
    docs = _rank_procedures(question, hits, history, weights, embed, embed_chinese, relevance)
    if not docs:
        return refusal("procedure", question, hits)
    best = docs[0]
    note = f"evidence {best.evidence:.2f} (threshold {min_evidence:.2f})"
    if best.evidence < min_evidence:
        return refusal("procedure", question, hits, notes=(note,))
    steps, trailing = extract_steps(hits, best.indices)
    if not steps:
        return refusal("procedure", question, hits, notes=(note, "no numbered steps retrieved"))
    found, steps = steps, _asked_sections(weights, hits, steps)
    zh = is_chinese(question)
    lines = [_header(hits[best.indices[0]], zh), ""]
    lines += _render_steps(steps, zh, found)
    if trailing:
        lines += ["", *(f"> {c}" for c in trailing)]
    quotes: dict[int, str] = {}
    for step in steps:
        for text, i in step.cautions:
            quotes.setdefault(i + 1, text)
        quotes.setdefault(step.hit_index + 1, step.line)
    differences = _differences(hits, best, docs[1:], zh)
    if differences:
        lines.append("")
        for text, cited in differences:
            lines.append(text)
            for n, quote in cited:
                quotes.setdefault(n, quote)
    markdown = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    body, used = validate_citations(markdown, hits)
    citations: tuple[Citation, ...] = tuple(
        build_citation(n, hits[n - 1], quotes.get(n, "")) for n in used
    )
    notes = (note, *(text for text, _ in differences))
    return Answer(body, refused=False, mode="procedure", citations=citations, notes=notes)


# A section must cover this share of the question's terms (those beyond the title's) to be
# asked for.
SECTION_FOCUS = 0.3
# Sections every part of a procedure needs: kept when the question asks for one part.
_PREREQUISITES = re.compile(
    r"\b(pre-?conditions?|prerequisites?|preparations?|before (?:you )?(?:start|begin)\w*|"
    r"safety)\b|准备|前提|安全",
    re.IGNORECASE,
)
# Verbs that ask for a whole task ("how do I set up ...") name no section ("2. Set up the keys").
_TASK_VERBS = frozenset(
    tokenize(
        "set setup up configure install do perform carry out make start run use get check follow "
        "complete handle prepare 设置 配置 安装 进行 执行 完成 检查"
    )
)


def _asked_sections(
    weights: tuple[dict[str, float], dict[str, float]], hits: Sequence[Hit], steps: list[Step]
) -> list[Step]:
    """The steps of the sections the question names, when a document holds several step lists
    ("Steps for Incident Commander", "Steps for Scribe", ...); all of them otherwise.

    `weights`: the question's terms and their IDF over the hits' sentences.
    """
    sections = list(dict.fromkeys(step.section for step in steps))
    if len(sections) < 2:
        return steps
    # What the question asks beyond the document's title tells its sections apart.
    title = set(tokenize(hits[steps[0].hit_index].chunk.title))
    question_terms, idf = weights
    terms = {t: w for t, w in question_terms.items() if t not in _TASK_VERBS and t not in title}
    if not terms:
        return steps
    named = {sec: coverage(terms, idf, set(tokenize(sec))) for sec in sections}
    top = max(named.values())
    if top < SECTION_FOCUS:
        return steps
    return [
        step
        for step in steps
        if named[step.section] >= 0.5 * top or _PREREQUISITES.search(step.section)
    ]


def _header(hit: Hit, zh: bool) -> str:
    c = hit.chunk
    parts = [f"**{c.title}**"]
    if c.edition:
        parts.append(f"版本 {c.edition}" if zh else f"edition {c.edition}")
    parts.append(c.contributor)
    return " — ".join(parts)


def _render_steps(steps: list[Step], zh: bool, found: list[Step]) -> list[str]:
    """Steps as a Markdown list, cautions quoted before their step, gaps and sections named.

    `found` holds every step retrieved, in document order (`steps` may be some sections of
    it): a gap is a number missing after the step before it there, within its section or, for
    a section numbered on from the one before, across it.
    """
    lines: list[str] = []
    sections = {step.section for step in steps}
    position = {id(step): k for k, step in enumerate(found)}
    previous: Step | None = None
    for step in steps:
        if len(sections) > 1 and (previous is None or step.section != previous.section):
            lines += ["", f"*{step.section.split(' > ')[-1]}*", ""]
        k = position.get(id(step), 0)
        before = found[k - 1] if k > 0 else None
        if before is None:
            expected = 1
        elif before.section == step.section or step.number > before.number:
            expected = min(before.number + 1, step.number)
        else:
            expected = 1
        if step.number > expected:
            gap = f"{expected}–{step.number - 1}" if step.number > expected + 1 else str(expected)
            plural = "s" if "–" in gap else ""
            lines.append(
                f"*（第 {gap} 步未检索到）*" if zh else f"*(step{plural} {gap} not retrieved)*"
            )
        for text, i in step.cautions:
            lines += ["", f"> {inert_markers(text)} [{i + 1}]", ""]
        lines.append(f"{step.number}. {inert_markers(step.text)} [{step.hit_index + 1}]")
        previous = step
    return lines


def _keywords(sentence: Sentence) -> set[str]:
    return {t for t in sentence.tokens if t not in _UNIT_TOKENS and not re.fullmatch(r"[\d.,]+", t)}


def _statements(hits: Sequence[Hit], indices: Sequence[int]) -> list[tuple[Sentence, Quantity]]:
    chosen = [hits[i] for i in indices]
    out: list[tuple[Sentence, Quantity]] = []
    for s in collect_sentences(chosen, min_tokens=2):
        s = replace(s, hit_index=indices[s.hit_index])
        out.extend((s, q) for q in quantities(s.text))
    return out


def _same_task(a: Hit, b: Hit) -> bool:
    ta, tb = set(content_tokens(a.chunk.title)), set(content_tokens(b.chunk.title))
    return bool(ta and tb) and len(ta & tb) / min(len(ta), len(tb)) >= SAME_TASK


def _differences(
    hits: Sequence[Hit], best: _Doc, others: Sequence[_Doc], zh: bool
) -> list[tuple[str, list[tuple[int, str]]]]:
    """Notes where another contributor's procedure for the same task gives another number."""
    head = hits[best.indices[0]]
    mine = _statements(hits, best.indices)
    notes: list[tuple[str, list[tuple[int, str]]]] = []
    for other in others:
        first = hits[other.indices[0]]
        if first.chunk.contributor == head.chunk.contributor or not _same_task(head, first):
            continue
        theirs = _statements(hits, other.indices)
        pairs = []
        for sa, qa in mine:
            for sb, qb in theirs:
                if qa.family != qb.family or (qa.value, qa.upper) == (qb.value, qb.upper):
                    continue
                ka, kb = _keywords(sa), _keywords(sb)
                shared = len(ka & kb) / min(len(ka), len(kb)) if ka and kb else 0.0
                if shared >= SAME_QUANTITY:
                    pairs.append((shared, sa, qa, sb, qb))
        pairs.sort(key=lambda p: -p[0])
        reported: set[str] = set()
        for _, sa, qa, sb, qb in pairs:
            if qa.family in reported:
                continue
            reported.add(qa.family)
            na, nb = sa.hit_index + 1, sb.hit_index + 1
            a, b = head.chunk.contributor, first.chunk.contributor
            if zh:
                text = (
                    f"注意：{a} 与 {b} 的数值不同：{a} 为 {qa.text} [{na}]；"
                    f"{b} 为 {qb.text} [{nb}]。"
                )
            else:
                text = (
                    f'Note: {a} and {b} differ: {a} gives {qa.text} ("{sa.text}") [{na}]; '
                    f'{b} gives {qb.text} ("{sb.text}") [{nb}].'
                )
            notes.append((text, [(na, sa.text), (nb, sb.text)]))
            if len(reported) == 2:
                break
    return notes
