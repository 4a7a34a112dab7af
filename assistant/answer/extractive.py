"""The default answerer: no model, answers composed only of sentences of the retrieved hits."""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from assistant.answer.answerability import Scorer, readable
from assistant.answer.citations import (
    build_citation,
    inert_markers,
    is_list_item,
    validate_citations,
)
from assistant.answer.evidence import (
    Embed,
    Scored,
    Sentence,
    collect_sentences,
    is_chinese,
    jaccard,
    refers_back,
    refusal_text,
    score_sentences,
    table_rows_as_text,
)
from assistant.answer.exercise import ExerciseSet, build_exercise_set, exercise_to_markdown
from assistant.answer.modes import compose_procedure, refusal
from assistant.answer.registry import get_mode
from assistant.answer.terms import question_parts
from assistant.retrieve import standalone_query
from assistant.types import Answer, Citation, Hit, Turn

logger = logging.getLogger(__name__)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’.,-][A-Za-z0-9]+)*")
_CJK_END = tuple("。！？；：”」』）")
# Procedure mode over sources that give the task as prose, not as numbered steps.
NO_STEPS_EN = "No numbered procedure for this was found; what the sources say:"
NO_STEPS_ZH = "未找到分步操作规程；资料中的相关内容如下："


# Sentences the cross-encoder reads (the lexical ranking's best), and the weight of the
# lexical score beside its probability. A sentence after the lead must itself answer (logit at
# least `SUPPORT_MIN_LOGIT`) and nearly as well (within `SUPPORT_LOGITS` of the lead): a
# neighbouring fact (the bracket's torque beside the cover's) is not support.
RELEVANCE_POOL = 40
LEXICAL_SHARE = 0.25
SUPPORT_MIN_LOGIT = 0.0
SUPPORT_LOGITS = 3.0
# A sentence is also read together with the one before it in its paragraph ("Measure the
# insulation resistance with 500 V DC. The value shall be at least 10 MΩ."); where the two
# answer better than either alone by this many logits, the pair's logit is the sentence's and
# the sentence before is quoted with it.
PAIR_LOGITS = 1.0
# A list is read whole too: the sentence that introduces it ("Preload methods:") with all its
# items. Where the whole answers better than any of its sentences alone (by `PAIR_LOGITS`), it
# is quoted as one sentence, its items joined by semicolons ("What are the ways to preload a
# ball nut?" is answered by the three ways, not by the first). Longer lists are quoted by item.
LIST_MAX_ITEMS = 8
LIST_MAX_WORDS = 90
# The cross-encoder's preference that the lexical share cannot overrule (`_clear_winner_first`):
# the margin at which reading two sentences together counts as better, the one value measured.
CLEAR_LOGITS = PAIR_LOGITS


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, x))))


def _in_context(s: Sentence, hits: list[Hit]) -> str:
    """A sentence as the cross-encoder reads it: after its chunk's title and section, so that
    "Replace it every 12 months." is read as about what the document is about."""
    chunk = hits[s.hit_index].chunk
    head = " — ".join(p for p in (chunk.title, chunk.section.split(" > ")[-1]) if p)
    return f"{head}: {s.text}" if head else s.text


def _first_answers(picks: list[_Pick], n: int) -> list[_Pick]:
    """The first `n` picks in the order chosen (best first), each with its context line."""
    out: list[_Pick] = []
    taken = 0
    for p in picks:
        if not p.context:
            if taken == n:
                break
            taken += 1
        out.append(p)
    return out


def _clear_winner_first(ranked: list[Scored], logit: dict[int, float]) -> list[Scored]:
    """`ranked` with the sentence the cross-encoder scores highest first, when it scores it at
    least `CLEAR_LOGITS` above the lead. Among confident sentences the probabilities saturate
    and the lexical score decides, which must not overrule a clear preference of the model: a
    list read whole (logit 7.0) led by a sentence that only says the nut is preloaded (5.1).
    Only for a question read as it is: a follow-up's query carries the earlier question too, and
    the model may prefer the earlier answer ("and what B for 1,500 mm of travel?" led with the
    compensation limit the previous reply gave)."""
    if not ranked:
        return ranked
    top = max(ranked, key=lambda x: logit[id(x)])
    if logit[id(top)] < logit[id(ranked[0])] + CLEAR_LOGITS:
        return ranked
    return [top, *(x for x in ranked if x is not top)]


def _kind_first(ranked: list[Scored], logit: dict[int, float]) -> list[Scored]:
    """`ranked` with the sentence that states the kind of answer asked for (a time for "how
    often", a torque for "what torque") first, when the lead does not and one of those the
    cross-encoder found relevant (logit at least `SUPPORT_MIN_LOGIT` and within
    `SUPPORT_LOGITS` of the best) does: the one of them it scores highest. Among confident
    sentences the probabilities saturate and the lexical score decides, which put "replacing
    it at the specified interval is the most effective measure" before the interval itself.
    """
    if not ranked or ranked[0].states_kind is not False:
        return ranked
    top = max(logit[id(x)] for x in ranked)
    bar = max(SUPPORT_MIN_LOGIT, top - SUPPORT_LOGITS)
    stating = [x for x in ranked if x.states_kind and logit[id(x)] >= bar]
    if not stating:
        return ranked
    lead = max(stating, key=lambda x: logit[id(x)])
    return [lead, *(x for x in ranked if x is not lead)]


def _before_in_paragraph(
    s: Sentence, by_position: dict[tuple[int, int], Sentence]
) -> Sentence | None:
    """The sentence before `s` in its paragraph (same chunk, same line), if any."""
    before = by_position.get((s.hit_index, s.position - 1))
    return before if before is not None and before.line == s.line else None


def _referred_to(s: Sentence, by_position: dict[tuple[int, int], Sentence]) -> Sentence | None:
    """The sentence before `s` in its paragraph when `s` leans on it ("… of this amount")."""
    return _before_in_paragraph(s, by_position) if refers_back(s.text) else None


@dataclass(frozen=True)
class _List:
    """A list as quoted: the sentence that introduces it, then its items' sentences."""

    lead_in: Sentence
    items: tuple[Sentence, ...]

    @property
    def members(self) -> tuple[Sentence, ...]:
        return (self.lead_in, *self.items)

    @property
    def text(self) -> str:
        """One sentence: "Preload methods: double nut …; single nut …; single nut …"."""
        lines: dict[int, list[str]] = {}
        for s in self.items:
            lines.setdefault(s.line, []).append(s.text)
        chinese = is_chinese(self.lead_in.text)
        joined = ("；" if chinese else "; ").join(
            " ".join(texts).rstrip(".;；。 ") for texts in lines.values()
        )
        return f"{self.lead_in.text}{'' if chinese else ' '}{joined}{'。' if chinese else '.'}"


def _lists(sentences: list[Sentence], hits: list[Hit]) -> list[_List]:
    """The lists of the hits that can be quoted whole: a sentence ending in a colon, last on
    its line, then 2 to `LIST_MAX_ITEMS` list-item lines, every one of them with sentences that
    can be quoted (none skipped as a question, a repeat or too short), `LIST_MAX_WORDS` at most.
    """
    by_line: dict[tuple[int, int], list[Sentence]] = {}
    for s in sentences:
        by_line.setdefault((s.hit_index, s.line), []).append(s)
    raw: dict[int, list[str]] = {}
    out: list[_List] = []
    for s in sentences:
        if not s.text.rstrip().endswith((":", "：")) or by_line[(s.hit_index, s.line)][-1] is not s:
            continue
        if s.hit_index not in raw:
            raw[s.hit_index] = table_rows_as_text(hits[s.hit_index].chunk.text.splitlines())
        lines = raw[s.hit_index]
        if is_list_item(lines[s.line]):
            continue  # an item that introduces sub-items: the list is its parent's
        end = s.line + 1
        while end < len(lines) and is_list_item(lines[end]):
            end += 1
        count = end - s.line - 1
        if not 2 <= count <= LIST_MAX_ITEMS:
            continue
        quotable = [by_line.get((s.hit_index, n)) for n in range(s.line + 1, end)]
        if not all(quotable):
            continue
        items = tuple(x for line in quotable if line for x in line)
        if sum(len(_WORD.findall(x.text)) for x in (s, *items)) <= LIST_MAX_WORDS:
            out.append(_List(s, items))
    return out


@dataclass(frozen=True)
class _Pick:
    scored: Scored
    context: bool = False  # taken because the sentence before it leads into it
    shown: str | None = None  # the text quoted, when not the sentence's own (a whole list)

    @property
    def s(self) -> Sentence:
        return self.scored.sentence

    @property
    def text(self) -> str:
        return self.shown if self.shown is not None else self.scored.sentence.text


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
        scoring = score_sentences(
            question,
            hits,
            sentences,
            history=history,
            embed=self.embed,
            embed_chinese=self.embed_chinese,
        )
        note = f"evidence {scoring.evidence:.2f} (threshold {self.min_evidence:.2f})"
        logger.debug("extractive %s for %r", note, question)
        measured = {"evidence": scoring.evidence}
        # Never quoted as the answer: sentences about a sibling of what the question names.
        usable = [x for x in scoring.ranked if not x.sibling]
        ranked_by_model = self.relevance is not None and not is_chinese(question)
        judged = ranked_by_model and readable(hits)  # else the lexical evidence decides
        if usable and ranked_by_model and (judged or scoring.evidence >= self.min_evidence):
            query = standalone_query(question, history)
            picks = self._select_by_relevance(question, query, usable, sentences, hits)
            text, citations = self._compose(picks, hits, lead_first=True)
            return Answer(text, refused=False, mode="ask", citations=citations, features=measured)
        if not usable or scoring.evidence < self.min_evidence:
            return Answer(
                refusal_text(question, hits),
                refused=True,
                mode="ask",
                notes=(note,),
                features=measured,
            )
        picks = _first_answers(self._select(usable, sentences), self.ask_sentences)
        text, citations = self._compose(picks, hits, lead_first=True)
        return Answer(
            text, refused=False, mode="ask", citations=citations, notes=(note,), features=measured
        )

    def _select(self, ranked: list[Scored], sentences: list[Sentence]) -> list[_Pick]:
        """Greedy MMR over relevant sentences within the budget, pulling in lead-in context."""
        best = max(x.match for x in ranked)
        pool = [x for x in ranked if x.match > 0 and x.match >= self.relevance_ratio * best]
        following = {(s.hit_index, s.position): s for s in sentences}
        chosen: list[_Pick] = []

        def redundancy(x: Scored) -> float:
            return max((jaccard(set(x.sentence.words), set(p.s.words)) for p in chosen), default=0)

        def fits(s: Sentence) -> bool:
            texts = [p.s.text for p in chosen] + [s.text]
            words = sum(len(_WORD.findall(t)) for t in texts)
            cjk = sum(len(_CJK.findall(t)) for t in texts)
            return not chosen or (words <= self.max_words and cjk <= self.max_cjk_chars)

        while pool and len(chosen) < self.max_sentences:
            x = max(pool, key=lambda c: 0.375 * (c.score + c.match) - 0.25 * redundancy(c))
            pool.remove(x)
            s = x.sentence
            nxt = following.get((s.hit_index, s.position + 1))
            if redundancy(x) >= self.redundancy or not fits(s) or (s.lead_in and nxt is None):
                continue
            chosen.append(_Pick(x))
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
                chosen.append(_Pick(replace(x, sentence=nxt), context=True))
                pool = [c for c in pool if c.sentence is not nxt]
        return chosen

    def _select_by_relevance(
        self,
        question: str,
        query: str,
        usable: list[Scored],
        sentences: list[Sentence],
        hits: list[Hit],
    ) -> list[_Pick]:
        """The sentence that best answers `query` first, then up to `ask_sentences - 1` that
        support or qualify it (each nearly as relevant, none redundant), each followed by the
        line it leads into ("Use grease:" before the grease's name).

        A question that asks two things ("How is BPFO calculated, and what value did the
        example get?") leads with the best answer to each, in the order asked, so that one
        part's answer does not crowd out the other's.
        """
        assert self.relevance is not None
        pool = usable[:RELEVANCE_POOL]
        texts = [_in_context(x.sentence, hits) for x in pool]
        logits = self.relevance.score(query, texts)
        logit = {id(x): float(v) for x, v in zip(pool, logits, strict=True)}
        following = {(s.hit_index, s.position): s for s in sentences}
        leans = self._read_with_before(query, pool, following, hits, logit)
        whole = self._read_lists(query, pool, sentences, hits, logit)
        value = {id(x): _sigmoid(logit[id(x)]) + LEXICAL_SHARE * x.score for x in pool}
        ranked = sorted(pool, key=lambda x: -value[id(x)])
        if query == question:  # a follow-up's query carries the earlier question too
            ranked = _clear_winner_first(ranked, logit)
        ranked = _kind_first(ranked, logit)
        floor = max(SUPPORT_MIN_LOGIT, logit[id(ranked[0])] - SUPPORT_LOGITS)
        chosen: list[_Pick] = []
        quoted: set[int] = set()  # ids of the sentences quoted, a whole list's members too

        def take(x: Scored) -> bool:
            if id(x.sentence) in quoted or any(
                jaccard(set(x.sentence.words), set(p.s.words)) >= self.redundancy for p in chosen
            ):
                return False
            listed = whole.get(id(x.sentence))
            if listed is not None:
                chosen.append(_Pick(x, shown=listed.text))
                quoted.update(id(m) for m in listed.members)
                return True
            nxt = following.get((x.sentence.hit_index, x.sentence.position + 1))
            if x.sentence.lead_in and nxt is None:
                return False  # "You will be able to:" before what cannot be quoted
            before = leans.get(id(x.sentence)) or _referred_to(x.sentence, following)
            if before is not None and id(before) not in quoted:
                chosen.append(_Pick(replace(x, sentence=before), context=True))
                quoted.add(id(before))
            chosen.append(_Pick(x))
            quoted.add(id(x.sentence))
            if nxt is not None and x.sentence.lead_in and id(nxt) not in quoted:
                chosen.append(_Pick(replace(x, sentence=nxt), context=True))
                quoted.add(id(nxt))
            return True

        for part in self._parts(question, query):
            part_logits = [float(v) for v in self.relevance.score(part, texts)]
            best = max(
                range(len(pool)), key=lambda i: part_logits[i] + LEXICAL_SHARE * pool[i].score
            )
            if part_logits[best] >= SUPPORT_MIN_LOGIT:
                take(pool[best])
        for x in ranked:
            if len([p for p in chosen if not p.context]) >= self.ask_sentences:
                break
            if chosen and logit[id(x)] < floor:
                continue
            take(x)
        return chosen

    def _read_with_before(
        self,
        query: str,
        pool: list[Scored],
        following: dict[tuple[int, int], Sentence],
        hits: list[Hit],
        logit: dict[int, float],
    ) -> dict[int, Sentence]:
        """Raise to the pair's logit each pooled sentence that answers `query` better together
        with the sentence before it in its paragraph than either does alone (by `PAIR_LOGITS`),
        and return those sentences' ids with the sentence to quote before them. A sentence that
        itself leans on an earlier one cannot be that context: its own antecedent is missing.
        """
        assert self.relevance is not None
        pairs: list[tuple[Scored, Sentence]] = []
        for x in pool:
            before = _before_in_paragraph(x.sentence, following)
            if before is not None and not refers_back(before.text):
                pairs.append((x, before))
        if not pairs:
            return {}
        # The sentence before, alone, is read once (most are in the pool already).
        read = {id(x.sentence): logit[id(x)] for x in pool}
        unread = list({id(b): b for _, b in pairs if id(b) not in read}.values())
        together = [f"{_in_context(b, hits)} {x.sentence.text}" for x, b in pairs]
        scores = [
            float(v)
            for v in self.relevance.score(query, together + [_in_context(b, hits) for b in unread])
        ]
        read.update((id(b), v) for b, v in zip(unread, scores[len(pairs) :], strict=True))
        leans: dict[int, Sentence] = {}
        for (x, before), pair in zip(pairs, scores[: len(pairs)], strict=True):
            if pair >= max(logit[id(x)], read[id(before)]) + PAIR_LOGITS:
                logit[id(x)] = pair
                leans[id(x.sentence)] = before
        return leans

    def _read_lists(
        self,
        query: str,
        pool: list[Scored],
        sentences: list[Sentence],
        hits: list[Hit],
        logit: dict[int, float],
    ) -> dict[int, _List]:
        """Raise to the whole list's logit each pooled sentence of a list (`_lists`) that
        answers `query` better whole than any of its pooled sentences alone (by `PAIR_LOGITS`),
        and return those sentences' ids with their list, to be quoted whole."""
        assert self.relevance is not None
        pooled = {id(x.sentence): x for x in pool}
        candidates = [
            (lst, [pooled[id(m)] for m in lst.members if id(m) in pooled])
            for lst in _lists(sentences, hits)
        ]
        candidates = [(lst, members) for lst, members in candidates if members]
        if not candidates:
            return {}
        texts = [_in_context(replace(lst.lead_in, text=lst.text), hits) for lst, _ in candidates]
        whole: dict[int, _List] = {}
        for (lst, members), value in zip(
            candidates, self.relevance.score(query, texts), strict=True
        ):
            if float(value) < max(logit[id(x)] for x in members) + PAIR_LOGITS:
                continue
            for x in members:
                logit[id(x)] = max(logit[id(x)], float(value))
                whole.setdefault(id(x.sentence), lst)
        return whole

    @staticmethod
    def _parts(question: str, query: str) -> list[str]:
        """The separate questions asked, each with what the standalone query borrowed from the
        conversation; none when the question asks one thing."""
        parts = question_parts(question)
        if len(parts) < 2:
            return []
        borrowed = query[: -len(question)].strip() if query.endswith(question) else ""
        return [f"{borrowed} {p}".strip() for p in parts]

    def _compose(
        self, picks: list[_Pick], hits: list[Hit], lead_first: bool = False
    ) -> tuple[str, tuple[Citation, ...]]:
        """Order picks (by document then position, or as chosen with `lead_first`), mark each
        `[n]`, cite each hit once."""
        doc_rank: dict[str, int] = {}
        for i, hit in enumerate(hits):
            doc_rank.setdefault(hit.chunk.doc_id, i)

        def order(p: _Pick) -> tuple[int, int, int, int]:
            chunk = hits[p.s.hit_index].chunk
            return (doc_rank[chunk.doc_id], chunk.chunk_index, p.s.hit_index, p.s.position)

        ordered = list(picks) if lead_first else sorted(picks, key=order)
        parts: list[str] = []
        prev: _Pick | None = None
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
        best: dict[int, _Pick] = {}
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
