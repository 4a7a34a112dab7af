"""Contributor value over an eval set: answers re-run with contributor subsets, no re-ingest.

Every coalition S of contributors is played by asking each item again with
`Filters(contributors=S)` through a `ReplayStore` (see evals/replay.py): retrieval filters the
item's recorded full rankings instead of searching again, the retriever's own fusion runs on the
result, the item's identity still decides what is visible, and the answerer is called once per
distinct set of hits. `value(S)` is the mean of a per-item answer-quality metric.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.access import can_see
from assistant.retrieve import Filters
from assistant.service import Assistant
from assistant.store import KnowledgeStore
from assistant.types import Answer
from evals.datasets import EvalItem
from evals.metrics.contributor_value import (
    Coalition,
    ShapleyResult,
    leave_one_out,
    shapley,
)
from evals.metrics.text import rouge_l
from evals.replay import CachedEmbedder, MemoAnswerer, ReplayStore, SkipAnswer, cached_texts

logger = logging.getLogger(__name__)

_NOBODY = "\x00no-contributor"  # a contributor id no chunk has: the empty coalition's filter


def _correct_refusal(item: EvalItem, answer: Answer) -> float | None:
    if not item.answerable:
        return 1.0 if answer.refused else 0.0
    if answer.refused or not item.gold_sources:
        return 0.0
    return None


def gold_cited(item: EvalItem, answer: Answer) -> float:
    """1 when an answerable item's answer cites a gold source or an unanswerable one is refused."""
    base = _correct_refusal(item, answer)
    if base is not None:
        return base
    return 1.0 if {c.source for c in answer.citations} & set(item.gold_sources) else 0.0


def gold_recall(item: EvalItem, answer: Answer) -> float:
    """Share of gold sources cited (answerable) or refusal (unanswerable)."""
    base = _correct_refusal(item, answer)
    if base is not None:
        return base
    cited = {c.source for c in answer.citations}
    return len(cited & set(item.gold_sources)) / len(set(item.gold_sources))


def answer_rouge(item: EvalItem, answer: Answer) -> float:
    """ROUGE-L F1 of the answer against the reference (answerable) or refusal (unanswerable)."""
    if not item.answerable:
        return 1.0 if answer.refused else 0.0
    return 0.0 if answer.refused else rouge_l(answer.answer, item.reference)


ITEM_METRICS: dict[str, Callable[[EvalItem, Answer], float]] = {
    "gold_cited": gold_cited,
    "citation_recall": gold_recall,
    "rouge_l": answer_rouge,
}
# Metrics that are 0 for an answerable item whenever no gold source is among the hits: every
# citation points into the hits (the assistant drops any other), so none can be of a gold source.
NEEDS_GOLD_HIT = frozenset({"gold_cited", "citation_recall"})


def replay_assistant(assistant: Assistant, store: KnowledgeStore) -> Assistant:
    """An assistant like `assistant` whose retrieval is served by a `ReplayStore`.

    The given assistant's embedders are wrapped in place with a query cache, so that the main
    eval pass and the replay share the query vectors.
    """
    retriever = assistant.retriever
    if not isinstance(retriever.embedder, CachedEmbedder):
        retriever.embedder = CachedEmbedder(retriever.embedder)
    if retriever.multilingual is not None and not isinstance(
        retriever.multilingual, CachedEmbedder
    ):
        retriever.multilingual = CachedEmbedder(retriever.multilingual)
    answerer = assistant.answerer
    if callable(getattr(answerer, "embed", None)):
        answerer = copy.copy(answerer)
        answerer.embed = cached_texts(answerer.embed)  # type: ignore[attr-defined]
    replay = copy.copy(assistant)  # every other setting of the assistant carries over
    replay.retriever = copy.copy(retriever)  # same settings, embedders and reranker
    replay.retriever.store = ReplayStore(store)  # type: ignore[assignment]
    replay.answerer = MemoAnswerer(answerer)
    return replay


@dataclass
class ContributorGame:
    """v(S) = mean over items of `metric(item, answer with only S's knowledge)`."""

    assistant: Assistant
    store: KnowledgeStore
    items: Sequence[EvalItem]
    metric: Callable[[EvalItem, Answer], float]
    metric_name: str | None = None
    on_evaluation: Callable[[], None] | None = None
    replay: Assistant | None = None

    def __post_init__(self) -> None:
        if self.replay is None:
            self.replay = replay_assistant(self.assistant, self.store)
        self.contributors = sorted({d.contributor for d in self.store.catalog.documents()})
        self._visible: dict[str, frozenset[str]] = {}
        self._memo: dict[tuple[int, Coalition], float] = {}
        self._values: dict[Coalition, float] = {}
        self.asks = 0

    def visible_contributors(self, item: EvalItem) -> frozenset[str]:
        """Contributors with at least one chunk the item's identity may see."""
        key = item.identity.key()
        if key not in self._visible:
            self._visible[key] = frozenset(
                c.contributor
                for _, c in self.store.catalog.iter_chunks()
                if can_see(item.identity, c.to_metadata())
            )
        return self._visible[key]

    def answer(self, item: EvalItem, coalition: Coalition) -> Answer:
        """The item answered with only `coalition`'s knowledge (as a filtered ask would)."""
        self.asks += 1
        members = tuple(sorted(coalition)) or (_NOBODY,)
        assert self.replay is not None
        return self.replay.ask(
            item.question,
            identity=item.identity,
            history=item.history,
            mode=item.mode,
            filters=Filters(contributors=members),
        )

    def item_value(self, index: int, coalition: Coalition) -> float:
        item = self.items[index]
        effective = coalition & self.visible_contributors(item)
        key = (index, effective)
        if key not in self._memo:
            self._memo[key] = self._play(item, effective)
        return self._memo[key]

    def _play(self, item: EvalItem, coalition: Coalition) -> float:
        answerer = self.replay.answerer if self.replay is not None else None
        gated = (
            self.metric_name in NEEDS_GOLD_HIT
            and item.answerable
            and bool(item.gold_sources)
            and isinstance(answerer, MemoAnswerer)
        )
        if not gated:
            return self.metric(item, self.answer(item, coalition))
        gold = set(item.gold_sources)
        assert isinstance(answerer, MemoAnswerer)
        answerer.gate = lambda hits: any(h.chunk.source in gold for h in hits)
        try:
            return self.metric(item, self.answer(item, coalition))
        except SkipAnswer:
            return 0.0
        finally:
            answerer.gate = None

    def value(self, coalition: Coalition) -> float:
        """The mean item value with only `coalition`'s knowledge (computed once per coalition)."""
        coalition = frozenset(coalition)
        if coalition not in self._values:
            total = sum(self.item_value(i, coalition) for i in range(len(self.items)))
            self._values[coalition] = total / len(self.items) if self.items else 0.0
            if self.on_evaluation is not None:
                self.on_evaluation()
        return self._values[coalition]


def contributor_values(
    game: ContributorGame, *, permutations: int = 200, seed: int = 0
) -> tuple[ShapleyResult, dict[str, float], float, float]:
    """Shapley values, leave-one-out values, value(all) and value(none) of `game`."""
    players = game.contributors
    result = shapley(players, game.value, permutations=permutations, seed=seed)
    loo = leave_one_out(players, game.value)
    return result, loo, game.value(frozenset(players)), game.value(frozenset())


def attribution_section(
    metric_name: str,
    result: ShapleyResult,
    loo: dict[str, float],
    value_all: float,
    value_none: float,
    citation_counts: dict[str, int],
) -> dict[str, Any]:
    """The report's `attribution` object (DESIGN.md), plus how the values were computed."""
    total = sum(citation_counts.values())
    ids = sorted(set(result.values) | set(citation_counts))
    return {
        "metric": metric_name,
        "value_all": round(value_all, 6),
        "value_none": round(value_none, 6),
        "method": result.method,
        "permutations": result.permutations,
        "coalitions_evaluated": result.evaluations,
        "contributors": {
            cid: {
                "citations": citation_counts.get(cid, 0),
                "share": round(citation_counts.get(cid, 0) / total, 6) if total else 0.0,
                "leave_one_out": round(loo.get(cid, 0.0), 6),
                "shapley": round(result.values.get(cid, 0.0), 6),
                "shapley_stderr": round(result.stderr.get(cid, 0.0), 6),
            }
            for cid in ids
        },
    }
