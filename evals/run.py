"""Ask eval items through the assistant and score each answer (the engine of `techkb eval`).

The one entry point is `techkb eval` (`evals.pipeline.run_eval`), which reads the dataset,
calls this module, and writes the reports.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from assistant.errors import BackendError
from assistant.queries import standalone_query
from assistant.service import Assistant
from assistant.store import KnowledgeStore
from assistant.types import Answer, Chunk
from evals.datasets import EvalItem
from evals.judge import Judge
from evals.metrics.answer import AnswerSample, RagasScorer, reference_contexts
from evals.metrics.attribution import attribution_precision_recall, count_leaks
from evals.metrics.citation import Embed, citation_precision_recall, citation_support
from evals.metrics.facts import key_fact_recall, lead_recall, wrong_fact
from evals.metrics.refusal import OUTCOMES, class_figures, outcome_fits, refusal_metrics
from evals.metrics.retrieval import hit_at_k, mrr_at_k, ndcg_at_k, recall_at_k
from evals.metrics.text import number_recall, rouge_l

logger = logging.getLogger(__name__)

# Metrics where a lower value is better (the rest: higher is better), for baseline comparison.
LOWER_IS_BETTER = ("leaks", "latency", "wrongful_refusal_rate", "wrong_fact", "_errors")
# The dataset field that names an item's slice of conversations (mtrag: Follow-up,
# Clarification, N/A), reported as `multi_turn` per item and broken down in the reports.
SLICE_FIELD = "multi_turn"
# Key-fact figures: per-item metric -> summary name; split by these item attributes.
FACT_FIGURES = {
    "lead_recall": "lead_recall",
    "key_fact_recall": "key_fact_recall",
    "wrong_fact": "wrong_fact_rate",
}
FACT_SPLITS = ("lang", "mode")


@dataclass
class ItemResult:
    """One item: the assistant's answer, its ranked sources and its scores."""

    item: EvalItem
    answer: Answer
    ranked_sources: list[str]
    latency_ms: float
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The report.json item (DESIGN.md keys, plus what the breakdowns group by)."""
        data = self.answer.to_dict()
        return {
            "id": self.item.id,
            "answer": data["answer"],
            "outcome": outcome_of(self.answer),
            "refused": data["refused"],
            "citations": data["citations"],
            "retrieved": data["retrieved"],
            "latency_ms": round(self.latency_ms, 1),
            "metrics": {k: _round(v) for k, v in self.metrics.items()},
            "mode": self.item.mode,
            "lang": self.item.lang,
            "persona": persona_of(self.item),
            "answerable": self.item.answerable,
            "answerability": self.item.answerability,
            SLICE_FIELD: slice_of(self.item),
            "tags": list(self.item.tags),
            "ranked_sources": self.ranked_sources,
        }


def _round(value: Any) -> Any:
    return round(value, 6) if isinstance(value, float) else value


def outcome_of(answer: Answer) -> str:
    """answer | refusal | clarification: the answer's own outcome, else read from `refused`."""
    outcome = getattr(answer, "outcome", None)
    if outcome in OUTCOMES:
        return str(outcome)
    return "refusal" if answer.refused else "answer"


def slice_of(item: EvalItem) -> str | None:
    """The item's `multi_turn` slice ("Follow-up"; several joined by "+"), None without one."""
    value = item.value_of(SLICE_FIELD)
    if isinstance(value, list | tuple):
        return "+".join(str(v) for v in value) or None
    return None if value is None else str(value)


def persona_of(item: EvalItem) -> str:
    """The user type an item is asked as: the dataset's persona, else the role or anonymous."""
    if item.persona:
        return item.persona
    return "anonymous" if item.identity.anonymous else str(item.identity.role)


class ItemScorer:
    """Scores one answered item: retrieval, citations, refusal, attribution, leaks, ragas.

    Args:
        store: the store (gold passages for ragas' reference contexts, cited chunk metadata).
        sentence_embed: texts -> unit vectors for semantic citation support.
        ragas: the ragas scorer (None skips the ragas metrics).
        judge: the judge (judged citation support), or None.
    """

    def __init__(
        self,
        store: KnowledgeStore,
        sentence_embed: Embed | None,
        ragas: RagasScorer | None,
        judge: Judge | None = None,
    ) -> None:
        self.store = store
        self.embed = sentence_embed
        self.ragas = ragas
        self.judge = judge
        self._by_source: dict[str, list[Chunk]] | None = None

    def gold_passages(self, item: EvalItem) -> list[str]:
        """Reference contexts: the dataset's, else each gold document's best-matching chunk."""
        if item.reference_contexts:
            return list(item.reference_contexts)
        if self._by_source is None:
            self._by_source = {}
            for _, chunk in self.store.catalog.iter_chunks():
                self._by_source.setdefault(chunk.source, []).append(chunk)
        out: list[str] = []
        for source in item.gold_sources:
            texts = [c.text for c in self._by_source.get(source, [])]
            out.extend(reference_contexts(item.reference, texts))
        return out

    def score(self, item: EvalItem, answer: Answer, ranked: list[str]) -> dict[str, Any]:
        """Every per-item metric; a metric that does not apply is left out."""
        m: dict[str, Any] = {}
        by_id = {h.chunk.chunk_id: h.chunk for h in answer.retrieved}
        unknown = [c.chunk_id for c in answer.citations if c.chunk_id not in by_id]
        found = self.store.catalog.get_chunks(unknown) if unknown else {}
        cited_meta = [(by_id.get(c.chunk_id) or found.get(c.chunk_id)) for c in answer.citations]
        m["leaks"] = count_leaks(
            item.identity,
            [c.to_metadata() if c else {} for c in cited_meta],
            [h.chunk.to_metadata() for h in answer.retrieved],
            item.restricted_sources,
        )
        m["refused"] = float(answer.refused)
        m["correct_refusal"] = float(answer.refused != item.answerable)
        if item.answerability:
            m["outcome_fits"] = float(outcome_fits(item.answerability, outcome_of(answer)))
        if item.key_facts:
            m["key_fact_recall"] = key_fact_recall(answer.answer, item.key_facts)
            m["lead_recall"] = lead_recall(answer.answer, item.key_facts)
        if item.wrong_facts:
            m["wrong_fact"] = wrong_fact(answer.answer, item.wrong_facts)
        if not (item.answerable and item.gold_sources):
            return m
        m["recall@5"] = recall_at_k(ranked, item.gold_sources, 5)
        m["hit@5"] = hit_at_k(ranked, item.gold_sources, 5)
        m["mrr@10"] = mrr_at_k(ranked, item.gold_sources, 10)
        m["ndcg@10"] = ndcg_at_k(ranked, item.gold_sources, 10)
        if answer.refused:
            return m
        cited = [c.source for c in answer.citations]
        m["citation_precision"], m["citation_recall"] = citation_precision_recall(
            cited, item.gold_sources
        )
        m["gold_cited"] = 1.0 if set(cited) & set(item.gold_sources) else 0.0
        contributors = [c.contributor for c in answer.citations]
        m["attribution_precision"], m["attribution_recall"] = attribution_precision_recall(
            contributors, item.gold_contributors
        )
        m.update(self._support(answer, by_id, found))
        m["rougeL"] = rouge_l(answer.answer, item.reference)
        m["number_recall"] = number_recall(answer.answer, item.reference)
        if self.ragas is not None:
            sample = AnswerSample(
                question=item.question,
                response=answer.answer,
                reference=item.reference,
                retrieved_contexts=tuple(h.chunk.text for h in answer.retrieved),
                reference_contexts=tuple(self.gold_passages(item)),
            )
            m.update(self.ragas.score(sample))
        return m

    def _support(
        self, answer: Answer, by_id: dict[str, Chunk], found: dict[str, Chunk]
    ) -> dict[str, Any]:
        passages = {}
        for c in answer.citations:
            chunk = by_id.get(c.chunk_id) or found.get(c.chunk_id)
            if chunk is not None:
                passages[c.n] = chunk.text
        heuristic = citation_support(answer.answer, passages, embed=self.embed)
        out: dict[str, Any] = {
            "citation_support": heuristic.support,
            "citation_support_lexical": heuristic.lexical,
            "citation_support_semantic": heuristic.semantic,
        }
        if self.judge is not None:
            try:
                judged = citation_support(answer.answer, passages, judge=self.judge.supports)
            except BackendError as e:
                out["citation_support_judged"] = {"error": str(e)[:300]}
            else:
                out["citation_support_judged"] = judged.support
                out["citation_support"] = judged.support
        return out


def answer_items(
    assistant: Assistant,
    items: Sequence[EvalItem],
    scorer: ItemScorer,
    progress: Callable[[], None] | None = None,
    transform: Callable[[Answer], Answer] | None = None,
) -> list[ItemResult]:
    """Ask every item as its identity, in its mode and conversation, timing each ask.

    One untimed ask first loads the models, so the first item's latency is not a cold start.
    """
    if items:
        warm = items[0]
        assistant.ask(warm.question, identity=warm.identity, history=warm.history, mode=warm.mode)
    results = []
    for item in items:
        started = time.perf_counter()
        answer = assistant.ask(
            item.question, identity=item.identity, history=item.history, mode=item.mode
        )
        latency = (time.perf_counter() - started) * 1000
        query = standalone_query(item.question, item.history)
        ranked = [h.chunk.source for h in assistant.retriever.retrieve(query, item.identity, k=10)]
        if transform is not None:
            answer = transform(answer)
        results.append(
            ItemResult(item, answer, ranked, latency, scorer.score(item, answer, ranked))
        )
        if progress is not None:
            progress()
    return results


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def summarize(results: Sequence[ItemResult]) -> dict[str, Any]:
    """The report's summary: means of per-item metrics, sums of leaks, refusal and latency."""
    out: dict[str, Any] = {"items": len(results)}
    keys = sorted({k for r in results for k in r.metrics})
    for key in keys:
        values = [r.metrics.get(key) for r in results]
        numbers = [float(v) for v in values if isinstance(v, int | float) and v is not None]
        errors = sum(isinstance(v, dict) for v in values)
        if key == "leaks":
            out[key] = int(sum(numbers))
        elif key not in ("refused", *FACT_FIGURES):
            out[key] = _mean(numbers)
        if errors:
            out[f"{key}_errors"] = errors
    refusals = refusal_metrics((r.item.answerable, r.answer.refused) for r in results)
    out.update({k: None if v is None else round(v, 4) for k, v in refusals.items()})
    out.update(fact_figures(results))
    classes = class_figures((r.item.answerability, outcome_of(r.answer)) for r in results)
    out.update({k: round(v, 4) for k, v in classes.items()})
    lat = sorted(r.latency_ms for r in results)
    if lat:
        out["latency_p50_ms"] = round(statistics.median(lat), 1)
        out["latency_p95_ms"] = round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 1)
    for key in ("citation_precision", "citation_recall", "citation_support"):
        out.setdefault(key, None)
    for key in (
        "attribution_precision",
        "attribution_recall",
        "recall@5",
        "hit@5",
        "mrr@10",
        "ndcg@10",
    ):
        out.setdefault(key, None)
    out.setdefault("leaks", 0)
    return out


def fact_figures(results: Sequence[ItemResult]) -> dict[str, float | None]:
    """`lead_recall`, `key_fact_recall` and `wrong_fact_rate` over the items that have key facts
    (wrong facts), overall (None without any) and split by language and mode, as
    `lead_recall[lang=zh]`, `wrong_fact_rate[mode=ask]`."""
    out: dict[str, float | None] = {}
    for metric, name in FACT_FIGURES.items():
        scored = [r for r in results if isinstance(r.metrics.get(metric), int | float)]
        out[name] = _mean([float(r.metrics[metric]) for r in scored])
        for attribute in FACT_SPLITS:
            groups: dict[str, list[float]] = {}
            for r in scored:
                value = getattr(r.item, attribute) or "unknown"
                groups.setdefault(str(value), []).append(float(r.metrics[metric]))
            for value, numbers in sorted(groups.items()):
                out[f"{name}[{attribute}={value}]"] = _mean(numbers)
    return out


def compare(summary: dict[str, Any], baseline: dict[str, Any]) -> list[dict[str, Any]]:
    """Summary deltas against an earlier run; `regression` marks a change for the worse.

    Lower is better for leaks, latency, wrongful refusals and error counts; higher for the rest.
    A change counts when it exceeds 0.005 (rates and scores), 0 (leaks) or 10 % (latency).
    """
    rows = []
    for key in sorted(set(summary) | set(baseline)):
        new, old = summary.get(key), baseline.get(key)
        if not isinstance(new, int | float) or not isinstance(old, int | float):
            rows.append({"metric": key, "old": old, "new": new, "delta": None, "regression": False})
            continue
        delta = float(new) - float(old)
        lower = any(tag in key for tag in LOWER_IS_BETTER)
        worse = delta > 0 if lower else delta < 0
        if "latency" in key:
            tolerance = 0.10 * abs(float(old))
        elif key in ("leaks", "items") or key.endswith("_errors"):
            tolerance = 0.0
        else:
            tolerance = 0.005
        rows.append(
            {
                "metric": key,
                "old": old,
                "new": new,
                "delta": round(delta, 6),
                "direction": "lower" if lower else "higher",
                "regression": bool(worse and abs(delta) > tolerance and key != "items"),
            }
        )
    return rows


def top_chunk_answer(answer: Answer) -> Answer:
    """A baseline answerer: the text of the best retrieved chunk, cited, never refusing."""
    from assistant.answer.citations import build_citation

    if not answer.retrieved:
        return replace(answer, answer="", refused=True, citations=())
    hit = answer.retrieved[0]
    return replace(
        answer,
        answer=f"{hit.chunk.text} [1]",
        refused=False,
        citations=(build_citation(1, hit, hit.chunk.text[:200]),),
    )
