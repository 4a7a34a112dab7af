"""`Assistant`: the Python API the CLI, the web app and the evals all go through."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from assistant.access import can_see, validate_identity
from assistant.answer.answerability import Judge, clarification_text
from assistant.answer.editions import editions_asked
from assistant.answer.evidence import about_what_was_asked, is_chinese
from assistant.answer.kinds import asked_quantity_words
from assistant.answer.modes import refusal
from assistant.answer.names import names_item, numbered_items
from assistant.answer.registry import get_mode
from assistant.answer.scope import (
    KindCheck,
    NameCheck,
    ScopeCheck,
    check_kinds,
    check_names,
    check_scope,
)
from assistant.answer.terms import content_tokens, glossed_tokens
from assistant.errors import BackendError
from assistant.interfaces import Answerer
from assistant.queries import standalone_query
from assistant.retrieve import Filters, HybridRetriever
from assistant.store.keyword import tokenize
from assistant.types import ANONYMOUS, Answer, Chunk, Hit, Identity, Turn

logger = logging.getLogger(__name__)


# What the assistant reads of a conversation: follow-ups refer to the last few turns, and the
# work of a question (query terms, the standalone query, its embedding) grows with the text it
# reads, so one question carrying a long history cannot hold a worker for seconds.
READ_TURNS = 6
READ_TURN_CHARS = 2000


def recent_turns(history: Sequence[Turn]) -> list[Turn]:
    """The last `READ_TURNS` turns, each cut to its first `READ_TURN_CHARS` characters."""
    return [
        Turn(t.role, t.content[:READ_TURN_CHARS]) if len(t.content) > READ_TURN_CHARS else t
        for t in list(history)[-READ_TURNS:]
    ]


class Assistant:
    """Retrieval for an identity, then an answerer; citations re-checked on the way out."""

    def __init__(
        self,
        retriever: HybridRetriever,
        answerer: Answerer,
        fallback: Answerer | None = None,
        out_of_scope_share: float = 1.0,
        judge: Judge | None = None,
    ) -> None:
        self.retriever = retriever
        self.answerer = answerer
        self.fallback = fallback
        self.out_of_scope_share = out_of_scope_share
        self.judge = judge

    def ask(
        self,
        question: str,
        *,
        identity: Identity = ANONYMOUS,
        history: Sequence[Turn] = (),
        mode: str = "ask",
        filters: Filters | None = None,
    ) -> Answer:
        """Answer `question` for `identity` with citations.

        Args:
            question: the user's question (the last turn of a conversation).
            identity: who asks; anonymous sees public material only.
            history: earlier turns of the conversation, oldest first.
            mode: a name in `MODE_NAMES` (ask | procedure | exercise).
            filters: optional contributor / kind / edition filters.

        Raises:
            ConfigError: unknown mode.
            AccessError: invalid identity.
        """
        record = get_mode(mode)
        validate_identity(identity)
        history = recent_turns(history)
        started = time.perf_counter()
        timings: dict[str, float] = {}
        query = self._standalone(question, history)
        hits = self._sources(question, query, identity, mode, filters, timings)
        t_answer = time.perf_counter()
        scope: ScopeCheck | NameCheck | KindCheck | None
        scope = self._scope(question, history, identity)
        if scope is None and record.judged:
            scope = self._kinds(question, hits)
        if isinstance(scope, NameCheck | KindCheck):
            lead = scope.lead(is_chinese(question))
            answer = refusal(mode, question, hits, notes=(scope.note(),), lead=lead)
        elif scope is not None:
            answer = refusal(mode, question, hits, notes=(scope.note(),))
        else:
            decision = None
            if record.judged and self.judge is not None:
                decision = self.judge.decide(question, query, history, hits)
            if decision is None or decision.outcome == "answer":
                answer = self._answer(question, hits, mode, history)
            elif decision.outcome == "clarification":
                answer = Answer(
                    clarification_text(question, decision.candidates),
                    refused=False,
                    mode=mode,
                    asked_back=True,
                )
            else:
                answer = refusal(mode, question, hits)
            if decision is not None:
                answer = replace(
                    answer,
                    notes=(*answer.notes, decision.note()),
                    features={**answer.features, **decision.features, "p": decision.probability},
                )
        timings["answer_ms"] = (time.perf_counter() - t_answer) * 1000
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        return self._checked(answer, hits, identity, timings)

    def _sources(
        self,
        question: str,
        query: str,
        identity: Identity,
        mode: str = "ask",
        filters: Filters | None = None,
        timings: dict[str, float] | None = None,
    ) -> list[Hit]:
        """The retrieved chunks an answer may use, found for the query without the words that
        ask for the mode (`Mode.subject`): none of a sibling model's documents
        (`about_what_was_asked`), only the editions the question is about (`editions_asked`).
        Where other editions were left out, retrieval reaches twice as deep so that the
        edition asked about fills the list (its own annex, not only its front matter)."""
        record = get_mode(mode)

        def retrieve(k: int | None) -> tuple[list[Hit], list[Hit]]:
            found = self.retriever.retrieve(
                record.subject(query), identity, k=k, filters=filters, timings=timings
            )
            if record.whole_kinds:
                found = self._with_whole_documents(found, identity, record.whole_kinds)
            else:
                found = self._sections_asked(query, found, identity)
                found = self._across_languages(query, found, identity)
            found = about_what_was_asked(question, found)
            return found, editions_asked(query, found)

        found, hits = retrieve(record.k or None)
        if len(hits) == len(found):
            return hits
        k = sum(not h.extra for h in found)
        _, hits = retrieve(2 * k)
        return [h for h in hits if not h.extra][:k] + [h for h in hits if h.extra]

    def _standalone(self, question: str, history: Sequence[Turn]) -> str:
        """The retrieval query: an LLM answerer condenses a follow-up, else the heuristic."""
        condense = getattr(self.answerer, "condense_question", None)
        if history and callable(condense):
            condensed = condense(question, history)
            if isinstance(condensed, str) and condensed.strip():
                return condensed
        return standalone_query(question, history)

    def _scope(
        self, question: str, history: Sequence[Turn], identity: Identity
    ) -> ScopeCheck | NameCheck | None:
        """The failed scope check: a model, document or edition the sources lack, or too much
        of the question unknown to them."""
        if self.out_of_scope_share >= 1.0:
            return None
        index = self.retriever.store.keyword_index()
        names = check_names(
            question,
            lambda code: self.retriever.store.mentions(code, identity),
            lambda: index.document_labels(identity),
            lambda: index.sees_instructor_material(identity),
        )
        if names:
            return names
        scope = check_scope(
            question, history, lambda terms: index.document_frequency(terms, identity)
        )
        return scope if scope.unknown_share >= self.out_of_scope_share else None

    def _kinds(self, question: str, hits: Sequence[Hit]) -> KindCheck | None:
        """The failed check of a question asking for a kind of value no passage retrieved
        states (off with the other scope checks)."""
        if self.out_of_scope_share >= 1.0:
            return None
        return check_kinds(question, (f"{h.chunk.section}\n{h.chunk.text}" for h in hits))

    def _answer(self, question: str, hits: list[Hit], mode: str, history: Sequence[Turn]) -> Answer:
        try:
            return self.answerer.answer(question, hits, mode=mode, history=history)
        except Exception as e:
            if self.fallback is None:
                raise
            if not isinstance(e, BackendError):
                raise
            logger.warning(
                "answerer %s failed (%s); using %s", self.answerer.name, e, self.fallback.name
            )
            answer = self.fallback.answer(question, hits, mode=mode, history=history)
            note = f"The {self.answerer.name} backend failed ({e}); this is the extractive answer."
            return replace(answer, notes=(*answer.notes, note))

    def _with_whole_documents(
        self, hits: list[Hit], identity: Identity, kinds: tuple[str, ...], docs: int = 2
    ) -> list[Hit]:
        """Add the rest of the best documents of `kinds` (else of the best document): a
        procedure's steps must come complete and in order, a case's whole story be told."""
        chosen: list[str] = []
        for hit in hits:
            if hit.extra:
                continue
            if hit.chunk.kind in kinds and hit.chunk.doc_id not in chosen:
                chosen.append(hit.chunk.doc_id)
        if not chosen and hits:
            chosen.append(hits[0].chunk.doc_id)
        return hits + self._rest_of(hits, identity, chosen[:docs])

    def _sections_asked(
        self, query: str, hits: list[Hit], identity: Identity, docs: int = 2, most: int = 3
    ) -> list[Hit]:
        """Add, as extras (quotable, never deciding), up to `most` chunks of the best `docs`
        documents whose section is named for the quantity the question asks for
        (`asked_quantity_words`: "2 Interval" for "how often are the J4–J6 cables checked?")
        or for the numbered exercise it names (`numbered_items`: "练习题 6（5 分）" for "练习题 6
        的参考答案是什么？"): a document states it under its heading, which the question's other
        words may not reach."""
        words = asked_quantity_words(query)
        numbers = numbered_items(query)
        if not words and not numbers:
            return hits
        chosen = _best_documents(hits, docs)
        named = self._rest_of(
            hits,
            identity,
            chosen,
            keep=lambda c: bool(words & set(tokenize(c.section))) or names_item(c.section, numbers),
            extra=True,
        )
        return hits + named[:most]

    def _across_languages(
        self, query: str, hits: list[Hit], identity: Identity, docs: int = 2, most: int = 3
    ) -> list[Hit]:
        """For a question not in Chinese, add, as extras, up to `most` chunks of the best `docs`
        documents that are in Chinese, those whose English glosses (`glossed_tokens`) share
        most of the question's words: the multilingual embedding finds such a document, seldom
        the chunk that states the answer ("how long should a changeover take?" found a work
        instruction's purpose and scope, not its "换型标准时间为 25 分钟")."""
        if is_chinese(query):
            return hits
        chinese = {h.chunk.doc_id for h in hits if is_chinese(h.chunk.text)}
        chosen = [d for d in _best_documents(hits, docs) if d in chinese]
        wanted = set(content_tokens(query))
        if not chosen or not wanted:
            return hits
        rest = self._rest_of(hits, identity, chosen, extra=True)
        shared = [len(wanted & glossed_tokens(tokenize(h.chunk.text))) for h in rest]
        order = sorted((k for k in range(len(rest)) if shared[k]), key=lambda k: -shared[k])
        return hits + [rest[k] for k in order[:most]]

    def _rest_of(
        self,
        hits: list[Hit],
        identity: Identity,
        doc_ids: Sequence[str],
        keep: Callable[[Chunk], bool] | None = None,
        extra: bool = False,
    ) -> list[Hit]:
        """The chunks of `doc_ids` this identity may see that `hits` lack (those `keep`
        accepts), in document order, scored at half the lowest hit's score so that they rank
        after every retrieved chunk."""
        have = {h.chunk.chunk_id for h in hits}
        floor = min((h.score for h in hits), default=0.0) / 2
        return [
            Hit(chunk, floor, extra=extra)
            for doc_id in doc_ids
            for chunk in self.retriever.store.document_chunks(doc_id, identity)
            if chunk.chunk_id not in have and (keep is None or keep(chunk))
        ]

    @staticmethod
    def _checked(
        answer: Answer, hits: list[Hit], identity: Identity, timings: dict[str, float]
    ) -> Answer:
        """Drop any citation that is not a retrieved chunk this identity may see."""
        visible = {h.chunk.chunk_id for h in hits if can_see(identity, h.chunk.to_metadata())}
        citations = tuple(c for c in answer.citations if c.chunk_id in visible)
        if len(citations) != len(answer.citations):
            logger.error(
                "dropped %d citations outside the retrieved, visible set",
                len(answer.citations) - len(citations),
            )
        return replace(
            answer,
            citations=citations,
            retrieved=tuple(h for h in hits if h.chunk.chunk_id in visible),
            timings_ms={**answer.timings_ms, **timings},
        )


def _best_documents(hits: Sequence[Hit], n: int) -> list[str]:
    """The first `n` documents among the retrieved (not extra) hits, best first."""
    return list(dict.fromkeys(h.chunk.doc_id for h in hits if not h.extra))[:n]
