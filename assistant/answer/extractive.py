"""The default answerer: no model, answers composed only of sentences of the retrieved hits."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import replace

from assistant.answer.across import Glossing, read_across, with_chinese_read
from assistant.answer.answerability import Scorer, english_rendering, readable
from assistant.answer.citations import build_citation, inert_markers, validate_citations
from assistant.answer.compared import side_by_side
from assistant.answer.evidence import (
    Embed,
    Scored,
    is_chinese,
    jaccard,
    refusal_text,
    score_sentences,
)
from assistant.answer.exercise import ExerciseSet, build_exercise_set, exercise_to_markdown
from assistant.answer.kinds import intent_cues
from assistant.answer.lists import word_count
from assistant.answer.material import hidden_front_matter
from assistant.answer.modes import compose_procedure, refusal
from assistant.answer.reading import Pick, select_by_relevance
from assistant.answer.registry import get_mode
from assistant.answer.sentences import Sentence, collect_sentences
from assistant.queries import standalone_query
from assistant.types import Answer, Citation, Hit, Turn

logger = logging.getLogger(__name__)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK_END = tuple("。！？；：”」』）")
# Procedure mode over sources that give the task as prose, not as numbered steps.
NO_STEPS_EN = "No numbered procedure for this was found; what the sources say:"
NO_STEPS_ZH = "未找到分步操作规程；资料中的相关内容如下："


def _first_answers(picks: list[Pick], n: int) -> list[Pick]:
    """The first `n` picks in the order chosen (best first), each with its context line."""
    out: list[Pick] = []
    taken = 0
    for p in picks:
        if not p.context:
            if taken == n:
                break
            taken += 1
        out.append(p)
    return out


def _lead_value(x: Scored) -> float:
    """How a lexically ranked answer orders its sentences (before redundancy)."""
    return 0.375 * (x.score + x.match)


def _asked_kind_lead(question: str, pool: list[Scored]) -> Scored | None:
    """The sentence to lead a lexically ranked answer when the one ranked first does not give
    the kind of answer asked for (an interval for "多久更换一次", a cause for "原因") and
    another relevant one does: the best of those (None when the first gives it, or none does).
    The cross-encoder's reading does the same (`reading._kind_first`); here, where it cannot
    read, a sentence on what grease does had led "RV减速器润滑脂多久更换一次"."""
    if not pool:
        return None
    cues = intent_cues(question)

    def gives(x: Scored) -> bool:
        if x.states_kind is not None:
            return x.states_kind
        return bool(cues) and any(c.search(x.sentence.text) for c in cues)

    if gives(max(pool, key=_lead_value)):
        return None
    giving = [x for x in pool if gives(x) and not x.sentence.lead_in]
    return max(giving, key=_lead_value) if giving else None


class ExtractiveAnswerer:
    """Answers with the retrieved sentences that best cover the question, each cited `[n]`.

    Args:
        embed: optional `texts -> unit vectors`, read only for sentences in the other language
            than the question, whose cosine similarity then counts as their evidence (no term
            can match across languages); it also picks the procedure to quote.
        embed_chinese: use `embed` on Chinese text too; leave False for an English-only model
            (the default MiniLM), whose cosines on Chinese are noise.
        min_evidence: below this evidence score (0..1) the answer is a refusal.
        max_sentences: most sentences in an answer.
        max_words: English word budget of an answer (the first sentence is always kept).
        max_cjk_chars: Chinese character budget of an answer.
        redundancy: a sentence this similar (token Jaccard) to a chosen one is dropped.
        relevance_ratio: sentences scoring below this share of the best one are not used.
        relevance: optional cross-encoder. With it, an English question's sentences are ranked
            by how well each answers the (standalone) question, the best one leads and at most
            `ask_sentences` follow; and the lexical `min_evidence` check is left to the
            assistant's answerability model (`assistant.answer.answerability`), which has
            already decided to answer. Chinese questions keep the lexical ranking and check.
        ask_sentences: most sentences of an ask-mode answer ranked by `relevance`.
    """

    name = "extractive"

    def __init__(
        self,
        *,
        embed: Embed | None = None,
        embed_chinese: bool = False,
        min_evidence: float = 0.35,
        max_sentences: int = 5,
        max_words: int = 120,
        max_cjk_chars: int = 250,
        redundancy: float = 0.6,
        relevance_ratio: float = 0.6,
        relevance: Scorer | None = None,
        ask_sentences: int = 3,
    ) -> None:
        self.embed = embed
        self.embed_chinese = embed_chinese
        self.min_evidence = min_evidence
        self.max_sentences = max_sentences
        self.max_words = max_words
        self.max_cjk_chars = max_cjk_chars
        self.redundancy = redundancy
        self.relevance_ratio = relevance_ratio
        self.relevance = relevance
        self.ask_sentences = ask_sentences

    def answer(
        self,
        question: str,
        hits: Sequence[Hit],
        *,
        mode: str = "ask",
        history: Sequence[Turn] = (),
    ) -> Answer:
        """Answer in `mode` (a name in `MODE_NAMES`) from `hits`, or refuse.

        Raises:
            ConfigError: `mode` is not a registered mode.
        """
        start = time.perf_counter()
        hits = list(hits)
        compose = getattr(self, get_mode(mode).compose)
        result = compose(question, hits, history)
        elapsed = (time.perf_counter() - start) * 1000
        return replace(result, retrieved=tuple(hits), timings_ms={"answer_ms": elapsed})

    def _procedure(self, question: str, hits: list[Hit], history: Sequence[Turn]) -> Answer:
        result = compose_procedure(
            question,
            hits,
            history=history,
            embed=self.embed,
            embed_chinese=self.embed_chinese,
            min_evidence=self.min_evidence,
            relevance=self.relevance,
        )
        if result.refused:
            result = self._without_steps(question, hits, history, result)
        return result

    def _without_steps(
        self, question: str, hits: list[Hit], history: Sequence[Turn], refused: Answer
    ) -> Answer:
        """What the sources say, cited, when they hold no numbered procedure for the task
        (runbooks and standards often give it as prose); the refusal when they say nothing."""
        said = self._ask(question, hits, history)
        if said.refused:
            return refused
        lead = NO_STEPS_ZH if is_chinese(question) else NO_STEPS_EN
        return replace(
            said,
            answer=f"{lead}\n\n{said.answer}",
            mode="procedure",
            notes=(*said.notes, "no numbered procedure: answered from the sources' text"),
        )

    def exercise_set(
        self, question: str, hits: Sequence[Hit], history: Sequence[Turn] = ()
    ) -> ExerciseSet:
        """The case-based exercise set for `question` (no questions when evidence is lacking)."""
        return build_exercise_set(
            question,
            list(hits),
            history=history,
            embed=self.embed,
            embed_chinese=self.embed_chinese,
            min_evidence=self.min_evidence,
            relevance=self.relevance,
        )

    def _exercise(self, question: str, hits: list[Hit], history: Sequence[Turn]) -> Answer:
        exercise = self.exercise_set(question, hits, history)
        if not exercise.questions:
            return refusal("exercise", question, hits, notes=exercise.notes)
        return Answer(
            answer=exercise_to_markdown(exercise),
            refused=False,
            mode="exercise",
            citations=exercise.citations,
            notes=exercise.notes,
        )

    def _ask(self, question: str, hits: list[Hit], history: Sequence[Turn]) -> Answer:
        if not hits:
            return Answer(refusal_text(question, hits), refused=True, mode="ask")
        sentences = collect_sentences(hits)
        query = standalone_query(question, history)
        # A Chinese question's English sentences, read by the cross-encoder (else all None).
        english = english_rendering(question, hits, query) if self.relevance else ""
        read = read_across(self.relevance, english, sentences) if self.relevance else None
        scoring = score_sentences(
            question,
            hits,
            sentences,
            history=history,
            embed=self.embed,
            embed_chinese=self.embed_chinese,
            read=read,
        )
        note = f"evidence {scoring.evidence:.2f} (threshold {self.min_evidence:.2f})"
        logger.debug("extractive %s for %r", note, question)
        measured = {"evidence": scoring.evidence}
        # Never quoted as the answer: sentences about a sibling of what the question names, nor
        # front matter ("Document code: ITSC-ES 602.") where it does not ask about a document.
        hidden = hidden_front_matter(question)
        usable = [x for x in scoring.ranked if not x.sibling and not hidden(x.sentence.text)]
        chinese = is_chinese(question)
        # The answerability judge decided to answer (`Judge.decide`: a Chinese question it
        # could put in English words), else the lexical evidence decides.
        judged = self.relevance is not None and readable(hits) and (not chinese or bool(english))
        asked, read_as = question, query
        relevance = self.relevance
        if chinese and judged and usable and not is_chinese(usable[0].sentence.text):
            # An English sentence leads: the English ones are read as an English question's
            # are, against the rendering.
            usable = [x for x in usable if not is_chinese(x.sentence.text)]
            asked = read_as = english
        elif chinese and english and relevance is not None:
            # A Chinese sentence leads: all are read against the rendering, the Chinese ones
            # as their English glosses (picked by shared words, a course's general line, every
            # joint has a reducer, had led "which axes carry RV reducers").
            relevance = Glossing.over(relevance, english, hits)
            asked = read_as = english
        elif chinese:
            relevance = None  # picked by their words
        if usable and relevance is not None and (judged or scoring.evidence >= self.min_evidence):
            picks = select_by_relevance(
                relevance,
                asked,
                read_as,
                usable,
                sentences,
                hits,
                ask_sentences=self.ask_sentences,
                redundancy=self.redundancy,
            )
            if not chinese:  # Chinese sources the model reads only through their glosses
                picks = with_chinese_read(
                    relevance,
                    question,
                    read_as,
                    usable,
                    hits,
                    picks,
                    n=self.ask_sentences,
                    redundancy=self.redundancy,
                )
            text, citations = self._compose(picks, hits, lead_first=True)
            return Answer(text, refused=False, mode="ask", citations=citations, features=measured)
        if not usable or (not judged and scoring.evidence < self.min_evidence):
            return Answer(
                refusal_text(question, hits),
                refused=True,
                mode="ask",
                notes=(note,),
                features=measured,
            )
        picks = _first_answers(self._select(usable, sentences, question, hits), self.ask_sentences)
        if not picks:  # nothing quotable: an empty answer is no answer
            return Answer(
                refusal_text(question, hits),
                refused=True,
                mode="ask",
                notes=(note, "no sentence to quote"),
                features=measured,
            )
        text, citations = self._compose(picks, hits, lead_first=True)
        return Answer(
            text, refused=False, mode="ask", citations=citations, notes=(note,), features=measured
        )

    def _select(
        self,
        ranked: list[Scored],
        sentences: list[Sentence],
        question: str,
        hits: Sequence[Hit],
    ) -> list[Pick]:
        """Greedy MMR over relevant sentences within the budget, pulling in lead-in context;
        where the question sets sources side by side (`side_by_side`), each one's best first."""
        best = max(x.match for x in ranked)
        pool = [x for x in ranked if x.match > 0 and x.match >= self.relevance_ratio * best]
        if not pool:
            # No sentence shares a term with the question (a Chinese question over English
            # sources whose words the dictionary does not bridge): the evidence that passed was
            # the sentences' own score (the multilingual similarity), so it ranks them.
            top = max(x.score for x in ranked)
            pool = [x for x in ranked if x.score > 0 and x.score >= self.relevance_ratio * top]
        following = {(s.hit_index, s.position): s for s in sentences}
        # (not a lead-in: quoted first, it would end on a colon without what it introduces)
        first = side_by_side(
            question, ranked, hits, lambda x: x.match > 0 and not x.sentence.lead_in
        )
        chosen: list[Pick] = [Pick(x) for x in first]
        pool = [x for x in pool if all(x is not y for y in first)]
        lead = None if chosen else _asked_kind_lead(question, pool)
        if lead is not None:
            chosen.append(Pick(lead))
            pool.remove(lead)

        def redundancy(x: Scored) -> float:
            return max((jaccard(set(x.sentence.words), set(p.s.words)) for p in chosen), default=0)

        def fits(s: Sentence) -> bool:
            texts = [p.s.text for p in chosen] + [s.text]
            words = sum(word_count(t) for t in texts)
            cjk = sum(len(_CJK.findall(t)) for t in texts)
            return not chosen or (words <= self.max_words and cjk <= self.max_cjk_chars)

        while pool and len(chosen) < self.max_sentences:
            x = max(pool, key=lambda c: _lead_value(c) - 0.25 * redundancy(c))
            pool.remove(x)
            s = x.sentence
            nxt = following.get((s.hit_index, s.position + 1))
            if redundancy(x) >= self.redundancy or not fits(s) or (s.lead_in and nxt is None):
                continue
            chosen.append(Pick(x))
            continues = nxt is not None and (
                s.lead_in or (s.is_step and nxt.line == s.line and not nxt.is_step)
            )
            if (
                nxt is not None
                and continues
                and all(p.s is not nxt for p in chosen)
                and len(chosen) < self.max_sentences
                and fits(nxt)
            ):
                chosen.append(Pick(replace(x, sentence=nxt), context=True))
                pool = [c for c in pool if c.sentence is not nxt]
        return chosen

    def _compose(
        self, picks: list[Pick], hits: list[Hit], lead_first: bool = False
    ) -> tuple[str, tuple[Citation, ...]]:
        """Order picks (by document then position, or as chosen with `lead_first`), mark each
        `[n]`, cite each hit once."""
        doc_rank: dict[str, int] = {}
        for i, hit in enumerate(hits):
            doc_rank.setdefault(hit.chunk.doc_id, i)

        def order(p: Pick) -> tuple[int, int, int, int]:
            chunk = hits[p.s.hit_index].chunk
            return (doc_rank[chunk.doc_id], chunk.chunk_index, p.s.hit_index, p.s.position)

        ordered = list(picks) if lead_first else sorted(picks, key=order)
        parts: list[str] = []
        prev: Pick | None = None
        for p in ordered:
            n = p.s.hit_index + 1
            chinese_end = p.text.endswith(_CJK_END)
            quoted = inert_markers(p.text)
            marked = f"{quoted}[{n}]" if chinese_end else f"{quoted} [{n}]"
            if prev is not None:
                same_doc = hits[prev.s.hit_index].chunk.doc_id == hits[p.s.hit_index].chunk.doc_id
                if not same_doc:
                    parts.append("\n\n")
                elif p.s.is_step or prev.s.lead_in:
                    parts.append("\n")
                elif not (chinese_end and prev.text.endswith(_CJK_END)):
                    parts.append(" ")
            parts.append(marked)
            prev = p
        text, used = validate_citations("".join(parts), hits)
        best: dict[int, Pick] = {}
        for p in picks:
            n = p.s.hit_index + 1
            current = best.get(n)
            if current is None or (current.context, -current.scored.score) > (
                p.context,
                -p.scored.score,
            ):
                best[n] = p
        citations = tuple(build_citation(n, hits[n - 1], best[n].s.text) for n in used)
        return text, citations
