"""`Store`: what retrieval and the assistant read from a knowledge store.

`KnowledgeStore` is the store; `evals.replay.ReplayStore` stands in for it in contributor-value
runs. These are the methods `HybridRetriever` and `Assistant` call, with `KnowledgeStore`'s
signatures; writing, migration and the catalog stay `KnowledgeStore`'s own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from assistant.store.chroma import VectorMatch
from assistant.store.keyword import BM25KeywordIndex, KeywordMatch
from assistant.types import Chunk, Identity


@runtime_checkable
class Store(Protocol):
    """Searches and chunk lookups for one identity: only chunks it may see come out."""

    def readable_partitions(self, identity: Identity) -> list[str]:
        """The partitions holding chunks whose every chunk `identity` may see."""
        ...

    def dense_search_by_language(
        self,
        embedding: np.ndarray,
        identity: Identity,
        k: int,
        where: dict[str, Any] | None = None,
        multilingual: bool = False,
        *,
        with_metadata: bool = True,
        skip_languages: Callable[[str], bool] | None = None,
        partitions: Sequence[str] | None = None,
    ) -> dict[str, list[VectorMatch]]:
        """The `k` nearest visible chunks in each language."""
        ...

    def dense_search(
        self,
        embedding: np.ndarray,
        identity: Identity,
        k: int,
        where: dict[str, Any] | None = None,
        multilingual: bool = False,
        *,
        with_metadata: bool = True,
        skip_languages: Callable[[str], bool] | None = None,
        partitions: Sequence[str] | None = None,
    ) -> list[VectorMatch]:
        """The `k` nearest visible chunks, all languages together."""
        ...

    def keyword_search(
        self, query: str, identity: Identity, k: int, filters: Mapping[str, Sequence[str]] | None
    ) -> list[KeywordMatch]:
        """The `k` best BM25 matches the identity may see whose fields pass `filters`."""
        ...

    def chunks(self, chunk_ids: list[str], identity: Identity) -> dict[str, Chunk]:
        """Chunk records by id, only those the identity may see."""
        ...

    def document_chunks(self, doc_id: str, identity: Identity) -> list[Chunk]:
        """All chunks of a document that the identity may see, in document order."""
        ...

    def keyword_index(self) -> BM25KeywordIndex:
        """The keyword index, up to date with the store."""
        ...

    def mentions(self, code: str, identity: Identity, limit: int = 200) -> bool:
        """Whether a chunk the identity may see names `code`, however it is written there."""
        ...
