"""Answer, refuse or ask back: a small fitted model over features that mean the same on any corpus.

Retrieval always returns something; whether it answers the question is read by the bundled
cross-encoder (ms-marco MiniLM, `assistant.rerank`), which scores how well a passage answers a
query. The decision uses its logit for the best of the first chunks (`rr_top`) and the
dense cosine of the question with the best chunk (`cos_top`), combined by a logistic model whose
coefficients `evals/fit_answerability.py` fits on labelled conversations and writes to
`answerability.json` beside this module; the threshold on its probability is the setting
`answer.answer_threshold`.

A question the model would refuse is asked back instead (a clarification naming the candidate
documents) when it is short and names nothing, or leans on the conversation ("what about the
other one?"), and several distinct documents are about equally relevant: it is vague, not out
of scope. A question whose demonstrative points at nothing said ("Does this animal have
antlers?" opening a conversation; `assistant.answer.deixis`) is asked back so even where the
model would answer.

The cross-encoder reads English. A Chinese question whose best-retrieved chunk is English is
answered when either reader finds an answer in what it can read: the model, on the question
put in English words (`assistant.translate.rendered_question`) against the English chunks, or
the lexical evidence of the Chinese chunks in the question's own words (at least the setting
`answer.min_evidence`); it is never asked back (what makes a question vague is read from
English words). Where retrieval's best chunk is Chinese, the extractive answerer's lexical
evidence check decides (`ExtractiveAnswerer.min_evidence`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.answer.deixis import dangling_definites, dangling_demonstratives
from assistant.answer.evidence import score_sentences
from assistant.answer.refusals import display_title
from assistant.answer.sentences import collect_sentences
from assistant.answer.terms import is_chinese
from assistant.translate import rendered_question
from assistant.types import Hit, Turn

MODEL_FILE = Path(__file__).with_name("answerability.json")
# Chunks the cross-encoder reads: retrieval's first ones (recall@5 is ~0.95 on real data).
RERANK_TOP = 6
# Documents within this many logits of the best one are "about equally relevant".
CLOSE_LOGITS = 1.5
# A Chinese question's extras (English chunks its English rendering found, which the fused
# ranking missed) answer it only where the cross-encoder reads one as relevant, probability at
# least a half: read with them, the model alone would answer questions the sources do not.
EXTRA_MIN_LOGIT = 0.0
# A question of at most this many words that names nothing, or one that leans on the
# conversation, may be vague.
VAGUE_WORDS = 6
_WORD = re.compile(r"\w+")
# Words that point at something said before ("is it safer?", "what about the other one?").
# "Which" asks to choose, it points at nothing: "Which president appointed the most judges?"
# is a clear question.
_LEANS = re.compile(
    r"\b(it|its|they|them|their|those|these|that|this|the other|the same|one|ones|what about|"
    r"how about)\b|那个|这个|它|哪个|哪一个",
    re.IGNORECASE,
)
# A name after the first word (Sweden, NASDAQ), a number or a code: a short question that
# names its subject is specific, not vague. "I" is no name.
_NAMES = re.compile(r"(?<=\w)[\s,]+(?:[A-Z][a-z][\w'’-]*|[A-Z]{2,}[\w-]*)|\d")


class Scorer(Protocol):
    """A cross-encoder: one relevance logit per (query, passage)."""

    def score(self, query: str, passages: Sequence[str], batch_size: int = 16) -> np.ndarray: ...


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
class Decision:
    """What to do with a question, and why."""

    outcome: str  # answer | refusal | clarification
    probability: float  # that the sources answer it
    threshold: float  # the probability it was held against
    features: dict[str, float]
    candidates: tuple[str, ...] = ()  # titles to offer in a clarification

    def note(self) -> str:
        return (
            f"answerability {self.probability:.2f} (threshold {self.threshold:.2f}; "
            f"cross-encoder {self.features.get('rr_top', 0.0):.1f})"
        )


@cache
def load_model(path: Path = MODEL_FILE) -> Logistic:
    """The shipped answerability model.

    Raises:
        ValueError: the file is missing a field or does not parse (names the file).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Logistic.from_dict(data["answerable"])
    except (OSError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: not an answerability model ({e})") from e


def features(
    query: str,
    hits: Sequence[Hit],
    scorer: Scorer,
    *,
    cosine: float = 0.0,
) -> tuple[dict[str, float], list[float]]:
    """The decision's features for `query` over the first `RERANK_TOP` hits, and the logits."""
    top = list(hits[:RERANK_TOP])
    values = {"rr_top": -12.0, "rr_second": -12.0, "cos_top": float(cosine), "close_docs": 0.0}
    if not top:
        return values, []
    logits = [float(x) for x in scorer.score(query, [passage_text(h) for h in top])]
    order = sorted(range(len(top)), key=lambda i: -logits[i])
    best = logits[order[0]]
    close = {top[i].chunk.doc_id for i in order if logits[i] >= best - CLOSE_LOGITS}
    values.update(
        rr_top=best,
        rr_second=logits[order[1]] if len(order) > 1 else -12.0,
        close_docs=float(len(close)),
    )
    return values, logits


def readable(hits: Sequence[Hit]) -> bool:
    """Whether the cross-encoder can judge these hits: retrieval's best passage is not
    Chinese (the multilingual index finds Chinese answers to English questions; the
    cross-encoder would score them as irrelevant)."""
    return not hits or not is_chinese(hits[0].chunk.text)


def passage_text(hit: Hit) -> str:
    """What the cross-encoder reads of a chunk: its heading path, then its text."""
    c = hit.chunk
    head = " — ".join(p for p in (c.title, c.section) if p)
    return f"{head}\n{c.text}" if head else c.text


def is_vague(question: str, history: Sequence[Turn]) -> bool:
    """A short question that names nothing ("Regional differences", "Is insurance more
    expensive?"), or one that leans on what came before ("what about the other one")."""
    short = len(_WORD.findall(question)) <= VAGUE_WORDS and not _NAMES.search(question)
    return short or (bool(history) and bool(_LEANS.search(question)))


def decide(
    question: str,
    query: str,
    history: Sequence[Turn],
    hits: Sequence[Hit],
    scorer: Scorer,
    *,
    threshold: float,
    cosine: float = 0.0,
    model: Logistic | None = None,
) -> Decision:
    """Answer, refusal or clarification for `question`, from `query` (the standalone
    question, in English words) read against `hits` (English chunks); a question in Chinese
    is refused, not asked back."""
    model = model or load_model()
    values, logits = features(query, hits, scorer, cosine=cosine)
    p = model.probability(values)
    candidates = _candidates(hits[:RERANK_TOP], logits)
    english = not is_chinese(question)
    # "Does this animal have antlers?" with no animal said, "When was the famous basketball
    # player born?": asked back, however well the sources answer about some animal or player
    # (`deixis`), offering the documents retrieved first, about equally relevant or not.
    if english:
        offered = _candidates(hits[:RERANK_TOP], logits, within=math.inf)
        if len(offered) >= 2 and (
            dangling_demonstratives(question, history) or dangling_definites(question, history)
        ):
            return Decision("clarification", p, threshold, values, tuple(offered))
    if p >= threshold:
        return Decision("answer", p, threshold, values)
    if len(candidates) >= 2 and english and is_vague(question, history):
        return Decision("clarification", p, threshold, values, tuple(candidates))
    return Decision("refusal", p, threshold, values)


def _candidates(
    hits: Sequence[Hit], logits: Sequence[float], limit: int = 3, within: float = CLOSE_LOGITS
) -> list[str]:
    """Distinct document titles within `within` logits of the best chunk, best first."""
    if not logits:
        return []
    best = max(logits)
    out: list[str] = []
    for i in sorted(range(len(logits)), key=lambda k: -logits[k]):
        if logits[i] < best - within:
            break
        title = display_title(hits[i].chunk)
        if title not in out:
            out.append(title)
    return out[:limit]


def clarification_text(question: str, candidates: Sequence[str]) -> str:
    """Ask which of the candidate documents' subjects the question is about."""
    if is_chinese(question):
        listed = "；".join(f"“{c}”" for c in candidates)
        return f"这个问题可以指几件不同的事。你指的是哪一个：{listed}？请说得更具体一些。"
    listed = "; ".join(f"“{c}”" for c in candidates)
    return (
        "Your question could mean more than one thing in the knowledge base. "
        f"Which one do you mean: {listed}? Please say a little more."
    )


def cosine_top(embedder: Any, query: str, hits: Sequence[Hit], n: int = 3) -> float:
    """The best dense cosine of the query with the first `n` chunks (0 without an embedder)."""
    if embedder is None or not hits:
        return 0.0
    q = np.asarray(embedder.embed_query(query), dtype=np.float64)
    d = np.asarray(embedder.embed_documents([h.chunk.text for h in hits[:n]]), dtype=np.float64)
    return float(np.max(d @ q))


def english_rendering(question: str, hits: Sequence[Hit], query: str | None = None) -> str:
    """A Chinese question in English words, each in the sense the hits' English text uses
    most, with the words the standalone `query` borrowed from the conversation
    (`assistant.translate.rendered_question`); "" for a question not in Chinese."""
    if not is_chinese(question):
        return ""
    sources = [h.chunk.text for h in hits if not is_chinese(h.chunk.text)]
    return rendered_question(question, sources, query)


def chinese_evidence(question: str, history: Sequence[Turn], hits: Sequence[Hit]) -> float:
    """The lexical evidence (`score_sentences`) of the Chinese chunks among `hits`: what a
    Chinese question's own words find in the sources written in Chinese (0 without any)."""
    chinese = [h for h in hits if is_chinese(h.chunk.text)]
    if not chinese:
        return 0.0
    sentences = collect_sentences(chinese)
    return score_sentences(question, chinese, sentences, history=history).evidence


@dataclass(frozen=True)
class Judge:
    """The assistant's answerability decision: a cross-encoder, the dense embedder for
    `cos_top`, the shipped model and the threshold setting; `min_evidence`, the lexical
    evidence at which a Chinese question's Chinese sources answer it."""

    scorer: Scorer
    threshold: float
    embedder: Any = None
    model: Logistic | None = None  # None: the shipped one
    min_evidence: float = 0.28  # the default of the `answer.min_evidence` setting

    def decide(
        self, question: str, query: str, history: Sequence[Turn], hits: Sequence[Hit]
    ) -> Decision | None:
        """See `decide`; None when the extractive answerer's lexical evidence decides:
        retrieval's best chunk is Chinese, or a Chinese question has no English rendering.
        BM25's extras never decide. A Chinese question the model would refuse is answered
        where its Chinese sources hold `min_evidence`, or where the English chunks its English
        rendering found (its extras), read first, answer it clearly: the model answers and the
        cross-encoder reads one as relevant (logit at least `EXTRA_MIN_LOGIT`)."""
        fused = [h for h in hits if not h.extra]
        decision = self._decide(question, query, history, fused)
        # The English chunks its English rendering found; Chinese BM25's first, an extra too,
        # is read by the answerer but decides nothing.
        extras = [h for h in hits if h.extra and not is_chinese(h.chunk.text)]
        if (
            decision is None
            or decision.outcome == "answer"
            or not extras
            or not is_chinese(question)
        ):
            return decision
        wide = self._decide(question, query, history, [*extras, *fused])
        if wide is None or wide.outcome != "answer" or wide.features["rr_top"] < EXTRA_MIN_LOGIT:
            return decision
        return wide

    def _decide(
        self, question: str, query: str, history: Sequence[Turn], hits: Sequence[Hit]
    ) -> Decision | None:
        if not readable(hits):
            return None
        english = hits
        if is_chinese(question):
            english = [h for h in hits if not is_chinese(h.chunk.text)]
            query = english_rendering(question, hits, query)
            if not query:
                return None
        decision = decide(
            question,
            query,
            history,
            english,
            self.scorer,
            threshold=self.threshold,
            cosine=cosine_top(self.embedder, query, english),
            model=self.model,
        )
        if decision.outcome == "answer" or not is_chinese(question):
            return decision
        lexical = chinese_evidence(question, history, hits)
        outcome = "answer" if lexical >= self.min_evidence else decision.outcome
        return replace(decision, outcome=outcome, features={**decision.features, "zh": lexical})
