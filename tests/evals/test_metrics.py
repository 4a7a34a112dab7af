"""Eval metrics on tiny cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assistant.types import Chunk, Identity
from evals.metrics.attribution import attribution_precision_recall, count_leaks
from evals.metrics.citation import (
    citation_precision_recall,
    citation_support,
    citing_sentences,
    lexical_support,
)
from evals.metrics.refusal import refusal_metrics
from evals.metrics.retrieval import hit_at_k, mrr_at_k, ndcg_at_k, recall_at_k
from evals.replay import matches_where
from evals.run import compare


def test_retrieval_metrics_by_hand() -> None:
    ranked = ["a", "x", "a", "b", "y", "c"]  # distinct: a x b y c
    gold = ["b", "c"]
    assert recall_at_k(ranked, gold, 3) == 0.5  # a x b
    assert recall_at_k(ranked, gold, 5) == 1.0
    assert mrr_at_k(ranked, gold, 10) == pytest.approx(1 / 3)
    dcg = 1 / math.log2(4) + 1 / math.log2(6)
    ideal = 1 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(ranked, gold, 10) == pytest.approx(dcg / ideal)
    assert mrr_at_k(["x", "y"], gold, 10) == 0.0
    assert hit_at_k(ranked, gold, 3) == 1.0  # b is third: one gold source is enough
    assert hit_at_k(ranked, gold, 2) == 0.0


def test_citation_precision_and_recall() -> None:
    p, r = citation_precision_recall(["a.md", "a.md", "b.md", "z.md"], ["a.md", "c.md"])
    assert (p, r) == (pytest.approx(1 / 3), 0.5)
    assert citation_precision_recall([], ["a.md"]) == (0.0, 0.0)


def test_citing_sentences_strip_markers() -> None:
    answer = "Torque the M8 bolts to 25 N·m [1]. Check twice [1, 2]. No source here."
    assert citing_sentences(answer) == [
        ("Torque the M8 bolts to 25 N·m.", [1]),
        ("Check twice.", [1, 2]),
    ]


def test_lexical_support_is_containment() -> None:
    passage = "Tighten the M8 bolts to 25 N·m with a calibrated wrench."
    assert lexical_support("Tighten bolts to 25 N·m", passage) == 1.0
    # tokens: tighten, bolt, 25, n, m, weekly -> 5 of 6 in the passage
    assert lexical_support("Tighten bolts to 25 N·m weekly", passage) == pytest.approx(5 / 6)
    assert lexical_support("Lubricate the gearbox", passage) == 0.0


def test_citation_support_lexical_and_judged() -> None:
    passages = {1: "Tighten the M8 bolts to 25 N·m.", 2: "Replace the grease every 20000 h."}
    answer = "Tighten the M8 bolts to 25 N·m [1]. Replace the grease every 20000 h [1]."
    result = citation_support(answer, passages)
    assert result.sentences == 2
    assert result.support == 0.5  # the second sentence cites the wrong chunk
    assert result.semantic is None
    fixed = citation_support(answer.replace("h [1]", "h [2]"), passages)
    assert fixed.support == 1.0
    calls: list[tuple[str, str]] = []

    def judge(passage: str, sentence: str) -> bool:
        calls.append((passage, sentence))
        return "grease" in passage

    judged = citation_support(answer, passages, judge=judge)
    assert judged.support == 0.0 and len(calls) == 2
    assert citation_support("No citations at all.", passages).support is None


def test_citation_support_semantic_signal() -> None:
    # A paraphrase with no shared words is supported through the embedding signal only.
    def embed(texts: list[str]) -> np.ndarray:
        return np.array(
            [[1.0, 0.0] if "paraphrase" in t or "original" in t else [0, 1] for t in texts]
        )

    result = citation_support("A paraphrase here [1].", {1: "The original wording."}, embed=embed)
    assert result.lexical == 0.0 and result.semantic == pytest.approx(1.0)
    assert result.support == 1.0


def test_refusal_metrics_by_hand() -> None:
    outcomes = [(False, True), (False, False), (True, True), (True, False), (True, False)]
    m = refusal_metrics(outcomes)
    assert m["refusal_precision"] == 0.5  # 2 refusals, one of an unanswerable item
    assert m["refusal_recall"] == 0.5
    assert m["wrongful_refusal_rate"] == pytest.approx(1 / 3)
    assert refusal_metrics([(True, False)])["refusal_precision"] is None


def test_attribution_precision_recall() -> None:
    p, r = attribution_precision_recall(["itsc", "itsc", "amma"], ["itsc", "meridian-cnc"])
    assert (p, r) == (0.5, 0.5)
    assert attribution_precision_recall([], ["itsc"]) == (0.0, 0.0)


def _chunk(cid: str, visibility: str, contributor: str, roles: tuple[str, ...] = ()) -> Chunk:
    return Chunk(
        chunk_id=cid,
        doc_id=cid,
        text="t",
        source=f"{contributor}/{cid}.md",
        title="t",
        section="",
        chunk_index=0,
        content_sha256="0",
        contributor=contributor,
        contributor_type="school",
        kind="other",
        visibility=visibility,
        license="x",
        allowed_roles=roles,
    )


def test_leaks_count_invisible_and_restricted_chunks() -> None:
    student = Identity("s", "northlake-college", "student")
    public = _chunk("p", "public", "itsc").to_metadata()
    private = _chunk("h", "org", "huaxin-robotics").to_metadata()
    key = _chunk("k", "public", "northlake-college", ("teacher",)).to_metadata()
    own = _chunk("o", "org", "northlake-college").to_metadata()
    assert count_leaks(student, [public, own], [public, own]) == 0
    assert count_leaks(student, [private], [public, key]) == 2
    assert count_leaks(student, [{}], []) == 1  # a citation of an unknown chunk
    assert count_leaks(student, [], [public], restricted_sources=["itsc/p.md"]) == 1


def test_where_evaluator_matches_chroma_semantics() -> None:
    meta = {"contributor": "itsc", "language": "en"}
    assert matches_where(None, meta)
    assert matches_where({"contributor": {"$in": ["itsc", "amma"]}}, meta)
    assert not matches_where({"contributor": {"$in": ["amma"]}}, meta)
    both = {"$and": [{"contributor": {"$in": ["itsc"]}}, {"language": {"$ne": "zh"}}]}
    assert matches_where(both, meta)
    assert not matches_where({"language": {"$ne": "en"}}, meta)
    assert not matches_where({"edition": {"$ne": "2021"}}, meta)  # missing field
    with pytest.raises(ValueError, match="not supported"):
        matches_where({"x": {"$gt": 1}}, meta)


def test_baseline_comparison_directions() -> None:
    old = {"recall@5": 0.9, "leaks": 0, "latency_p50_ms": 100.0, "wrongful_refusal_rate": 0.1}
    new = {"recall@5": 0.8, "leaks": 1, "latency_p50_ms": 105.0, "wrongful_refusal_rate": 0.05}
    rows = {r["metric"]: r for r in compare(new, old)}
    assert rows["recall@5"]["regression"] and rows["recall@5"]["delta"] == pytest.approx(-0.1)
    assert rows["leaks"]["regression"]
    assert not rows["latency_p50_ms"]["regression"]  # within 10 %
    assert not rows["wrongful_refusal_rate"]["regression"]  # lower is better
    assert rows["wrongful_refusal_rate"]["direction"] == "lower"
