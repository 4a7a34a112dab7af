"""Small protocols for the swappable parts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from assistant.types import Answer, Hit, Turn


class Embedder(Protocol):
    """Turns text into unit-length vectors."""

    name: str
    multilingual: bool  # its vectors compare across languages (Chinese with English)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


class Answerer(Protocol):
    """Composes an answer from retrieved, visible hits (already filtered for the identity).

    `mode` is ask | procedure | exercise. Citations must point into `hits`; when the hits do not
    support an answer the result is a refusal (`refused=True`) that says so.
    """

    name: str

    def answer(
        self, question: str, hits: Sequence[Hit], *, mode: str, history: Sequence[Turn]
    ) -> Answer: ...
