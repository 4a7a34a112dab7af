"""Answerability features and a logistic model over them: an experiment, not yet in the assistant.

Issue 14 asks for the answer / refuse / ask-back decision to come from a small fitted model over
features that mean the same on any corpus instead of hand rules. This module computes such
features for one question from what the pipeline already produced, plus one cross-encoder pass
over the best chunks (the bundled ms-marco MiniLM reranker, English only):

- `rr_top`, `rr_second`, `rr_margin`: the cross-encoder's logits of the best and second-best
  chunk for the standalone question, and their difference;
- `rr_close_docs`: how many distinct documents have a chunk within 1.0 logit of the best one;
- `cos_top`: the dense cosine of the question and the best chunk;
- `evidence`: the extractive answerer's evidence score (term coverage of the best sentences);
- `unknown_share`: the weighted share of the question's terms no visible chunk holds;
- `agree`: whether dense and keyword search both ranked the best chunk first;
- `follow_up`, `log_words`: whether earlier turns exist, and the question's length.

`evals/answerability_features.py` dumps them for a dataset and `evals/fit_answerability.py`
fits and reports the model, fitted on one collection and reported on the other. On mtrag-dev
the fitted thresholds did not transfer between ClapNQ and FiQA (README, "Evaluation"), so the
assistant does not use the model yet.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.types import Hit, Turn

RERANK_TOP = 8
CLOSE_LOGITS = 1.0
_WORD = re.compile(r"\w+")


def features(
    query: str,
    question: str,
    history: Sequence[Turn],
    hits: Sequence[Hit],
    *,
    reranker: Any | None,
    embedder: Any | None,
    evidence: float,
    unknown_share: float,
) -> dict[str, float]:
    """The answerability features of one question (see the module docs)."""
    top = list(hits[:RERANK_TOP])
    out = {
        "evidence": float(evidence),
        "unknown_share": float(unknown_share),
        "follow_up": 1.0 if any(t.role == "user" for t in history) else 0.0,
        "log_words": math.log1p(len(_WORD.findall(question))),
        "agree": 1.0 if top and top[0].dense_rank == 0 and top[0].keyword_rank == 0 else 0.0,
        "rr_top": -12.0,
        "rr_second": -12.0,
        "rr_margin": 0.0,
        "rr_close_docs": 0.0,
        "cos_top": 0.0,
    }
    if not top:
        return out
    passages = [h.chunk.text for h in top]
    if reranker is not None:
        logits = np.asarray(reranker.score(query, passages), dtype=np.float64)
        order = np.argsort(-logits)
        best = float(logits[order[0]])
        second = float(logits[order[1]]) if len(order) > 1 else -12.0
        close = {top[i].chunk.doc_id for i in order if logits[i] >= best - CLOSE_LOGITS}
        out.update(
            rr_top=best,
            rr_second=second,
            rr_margin=best - second,
            rr_close_docs=float(len(close)),
        )
    if embedder is not None:
        q = np.asarray(embedder.embed_query(query), dtype=np.float64)
        d = np.asarray(embedder.embed_documents(passages[:3]), dtype=np.float64)
        out["cos_top"] = float(np.max(d @ q))
    return out


@dataclass(frozen=True)
class Logistic:
    """p = sigmoid(bias + sum(weight * (x - mean) / scale))."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

    def probability(self, values: Mapping[str, float]) -> float:
        z = self.bias
        for name, m, s, w in zip(self.names, self.mean, self.scale, self.weights, strict=True):
            z += w * (float(values.get(name, m)) - m) / (s or 1.0)
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Logistic:
        return cls(
            tuple(data["names"]),
            tuple(float(x) for x in data["mean"]),
            tuple(float(x) for x in data["scale"]),
            tuple(float(x) for x in data["weights"]),
            float(data["bias"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "weights": list(self.weights),
            "bias": self.bias,
        }


@dataclass(frozen=True)
class AnswerabilityModel:
    """Whether to answer, and whether the question is too vague to answer without asking."""

    answerable: Logistic
    underspecified: Logistic | None
    fitted_on: str = ""

    def decide(
        self, values: Mapping[str, float], answer_threshold: float, clarify_threshold: float
    ) -> str:
        """One question's outcome: answer, refusal or clarification."""
        if (
            self.underspecified is not None
            and values.get("rr_close_docs", 0) >= 2
            and self.underspecified.probability(values) >= clarify_threshold
        ):
            return "clarification"
        return "answer" if self.answerable.probability(values) >= answer_threshold else "refusal"
