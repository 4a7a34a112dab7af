"""The one place that turns settings into objects (the composition root of the assistant)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from assistant.errors import ConfigError
from assistant.interfaces import Answerer, Embedder
from assistant.settings import Settings
from assistant.store import KnowledgeStore

if TYPE_CHECKING:
    from assistant.service import Assistant


def _sentence_transformer(settings: Settings) -> Embedder:
    from assistant.embed import SentenceTransformerEmbedder

    e = settings.embedder
    return SentenceTransformerEmbedder(e.model_path, batch_size=e.batch_size, threads=e.threads)


EMBEDDERS: dict[str, Callable[[Settings], Embedder]] = {
    "sentence-transformers": _sentence_transformer,
}


def lookup(kind: str, table: dict[str, Any], name: str) -> Any:
    """`table[name]`, or a ConfigError that lists what exists."""
    try:
        return table[name]
    except KeyError:
        raise ConfigError(
            f"unknown {kind} {name!r}; available: {', '.join(sorted(table))}"
        ) from None


def build_embedder(settings: Settings) -> Embedder:
    return lookup("embedder", EMBEDDERS, settings.embedder.backend)(settings)  # type: ignore[no-any-return]


def build_store(settings: Settings) -> KnowledgeStore:
    return KnowledgeStore(
        settings.paths.home, chroma_url=settings.store.chroma_url, prefix=settings.store.prefix
    )


def _extractive(settings: Settings, embedder: Embedder) -> Answerer:
    from assistant.answer.extractive import ExtractiveAnswerer

    return ExtractiveAnswerer(embed=embedder.embed_documents)


def _openai(settings: Settings, embedder: Embedder) -> Answerer:
    from assistant.answer.llm import OpenAICompatibleAnswerer

    return OpenAICompatibleAnswerer.from_settings(settings.llm)


ANSWERERS: dict[str, Callable[[Settings, Embedder], Answerer]] = {
    "extractive": _extractive,
    "openai": _openai,
    # The same client: these servers all speak the OpenAI chat API.
    "vllm": _openai,
    "ollama": _openai,
    "llamacpp": _openai,
}


def build_answerer(settings: Settings, embedder: Embedder) -> Answerer:
    return lookup("llm", ANSWERERS, settings.llm.backend)(settings, embedder)  # type: ignore[no-any-return]


def build_assistant(
    settings: Settings, store: KnowledgeStore, embedder: Embedder | None = None
) -> Assistant:
    """The assistant over `store`, with the answerer the settings name (extractive fallback)."""
    from assistant.retrieve import HybridRetriever
    from assistant.service import Assistant

    embedder = embedder or build_embedder(settings)
    answerer = build_answerer(settings, embedder)
    fallback = None if answerer.name == "extractive" else _extractive(settings, embedder)
    return Assistant(HybridRetriever(store, embedder, settings.retrieval), answerer, fallback)
