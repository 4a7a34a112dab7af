"""Answer metrics through ragas: non-LLM metrics always, LLM-judged ones with a judge.

Scores are reported under ragas' own metric names (`metric.name`). Without a judge everything
runs offline: string and ROUGE metrics, the non-LLM context metrics, and `semantic_similarity`
with techkb's own local embedders wrapped as a ragas embeddings object. With a judge (any
OpenAI-compatible server, through ragas' llama-index wrapper) faithfulness, answer relevancy,
factual correctness and the LLM context metrics are added.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.language import detect_language

logger = logging.getLogger(__name__)

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


@dataclass(frozen=True)
class AnswerSample:
    """What ragas scores for one item."""

    question: str
    response: str
    reference: str
    retrieved_contexts: tuple[str, ...]
    reference_contexts: tuple[str, ...]


def _ragas_embeddings_class() -> type:
    from ragas.embeddings.base import BaseRagasEmbeddings

    class TechkbRagasEmbeddings(BaseRagasEmbeddings):  # type: ignore[misc]
        """A techkb `Embedder` (local model, offline) as a ragas embeddings object."""

        def __init__(self, embedder: Any) -> None:
            from ragas.run_config import RunConfig

            super().__init__()
            self.embedder = embedder
            self.set_run_config(RunConfig(max_retries=1))

        def embed_query(self, text: str) -> list[float]:
            return [float(x) for x in self.embedder.embed_query(text)]

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            vectors = np.asarray(self.embedder.embed_documents(list(texts)))
            return [[float(x) for x in row] for row in vectors]

        async def aembed_query(self, text: str) -> list[float]:
            return self.embed_query(text)

        async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.embed_documents(texts)

    return TechkbRagasEmbeddings


def ragas_embeddings(embedder: Any) -> Any:
    """Wrap a techkb embedder (e.g. `SentenceTransformerEmbedder`) for ragas metrics."""
    return _ragas_embeddings_class()(embedder)


def rouge_text(text: str) -> str:
    """Text that rouge_score can tokenise: Chinese words (jieba) as ASCII stand-ins.

    rouge_score keeps only [a-z0-9] and so scores any Chinese answer 0; each Chinese word is
    replaced by the hex of its code points, the same word giving the same token on both sides.
    """
    if not _CJK_RUN.search(text):
        return text
    from assistant.store.keyword import _jieba

    def word_tokens(match: re.Match[str]) -> str:
        words = _jieba().lcut(match.group(0))
        return " " + " ".join("q" + "".join(f"{ord(c):x}" for c in w) for w in words) + " "

    return _CJK_RUN.sub(word_tokens, text)


class RagasScorer:
    """Scores `AnswerSample`s with ragas metrics.

    Args:
        embedder: English embedder for `semantic_similarity` (all-MiniLM-L6-v2).
        multilingual: embedder for Chinese items (MiniLM reads English only); None: `embedder`.
        judge_llm: a llama-index LLM; adds the judged metrics (None: non-LLM only).
        judge_timeout_s: time limit of one judged metric on one item.
    """

    def __init__(
        self,
        embedder: Any,
        multilingual: Any | None = None,
        judge_llm: Any | None = None,
        judge_timeout_s: float = 120.0,
    ) -> None:
        from ragas.metrics import (
            NonLLMContextPrecisionWithReference,
            NonLLMContextRecall,
            NonLLMStringSimilarity,
            RougeScore,
            SemanticSimilarity,
        )

        self.timeout = judge_timeout_s
        self.rouge = RougeScore()
        self.string = NonLLMStringSimilarity()
        self.context_recall = NonLLMContextRecall()
        self.context_precision = NonLLMContextPrecisionWithReference()
        self.similarity = {
            "en": SemanticSimilarity(embeddings=ragas_embeddings(embedder)),
            "zh": SemanticSimilarity(embeddings=ragas_embeddings(multilingual or embedder)),
        }
        self.judged: list[Any] = []
        if judge_llm is not None:
            self.judged = _judged_metrics(judge_llm, ragas_embeddings(multilingual or embedder))

    @property
    def names(self) -> list[str]:
        """The ragas metric names this scorer reports."""
        base = [self.rouge, self.string, self.context_recall, self.context_precision]
        return [m.name for m in base] + [self.similarity["en"].name] + [m.name for m in self.judged]

    def score(self, sample: AnswerSample) -> dict[str, Any]:
        """Every metric for one sample: a float, or `{"error": message}` for a failed judge call."""
        return asyncio.run(self._score(sample))

    async def _score(self, sample: AnswerSample) -> dict[str, Any]:
        from ragas import SingleTurnSample

        out: dict[str, Any] = {}
        full = SingleTurnSample(
            user_input=sample.question,
            response=sample.response,
            reference=sample.reference,
            retrieved_contexts=list(sample.retrieved_contexts),
            reference_contexts=list(sample.reference_contexts),
        )
        rouge = SingleTurnSample(
            response=rouge_text(sample.response), reference=rouge_text(sample.reference)
        )
        out[self.rouge.name] = await self.rouge.single_turn_ascore(rouge)
        out[self.string.name] = await self.string.single_turn_ascore(full)
        lang = "zh" if detect_language(sample.reference or sample.question) == "zh" else "en"
        similarity = self.similarity[lang]
        out[similarity.name] = await similarity.single_turn_ascore(full)
        if sample.retrieved_contexts and sample.reference_contexts:
            out[self.context_recall.name] = await self.context_recall.single_turn_ascore(full)
            out[self.context_precision.name] = await self.context_precision.single_turn_ascore(full)
        for metric in self.judged:
            if "context" in metric.name and not sample.retrieved_contexts:
                continue
            try:
                out[metric.name] = await metric.single_turn_ascore(full, timeout=self.timeout)
            except Exception as e:  # ragas and the HTTP client raise many kinds
                logger.warning("judged metric %s failed: %s", metric.name, e)
                out[metric.name] = {"error": f"{type(e).__name__}: {e}"[:300]}
        return {k: _clean(v) for k, v in out.items()}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return value
    v = float(value)
    return None if np.isnan(v) else v


def _judged_metrics(llm: Any, embeddings: Any) -> list[Any]:
    import warnings

    from ragas.llms import LlamaIndexLLMWrapper
    from ragas.metrics import (
        FactualCorrectness,
        Faithfulness,
        LLMContextPrecisionWithReference,
        LLMContextRecall,
        ResponseRelevancy,
    )
    from ragas.run_config import RunConfig

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        wrapped = LlamaIndexLLMWrapper(llm, run_config=RunConfig(max_retries=1, max_wait=2))
    return [
        Faithfulness(llm=wrapped),
        ResponseRelevancy(llm=wrapped, embeddings=embeddings),
        FactualCorrectness(llm=wrapped),
        LLMContextRecall(llm=wrapped),
        LLMContextPrecisionWithReference(llm=wrapped),
    ]


def reference_contexts(reference: str, passages: Sequence[str], per_source: int = 1) -> list[str]:
    """The passages that best hold the reference answer (token recall of the reference).

    Used when a dataset item gives gold sources but no reference contexts: per gold document,
    its chunk that contains most of the reference's words stands for "what should be retrieved".
    """
    from assistant.store.keyword import tokenize

    wanted = set(tokenize(reference))
    if not wanted or not passages:
        return []
    scored = sorted(passages, key=lambda p: -len(wanted & set(tokenize(p))))
    return scored[:per_source]
