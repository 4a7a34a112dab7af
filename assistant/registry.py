"""The one place that turns settings into objects (the composition root of the assistant)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from assistant.errors import ConfigError
from assistant.interfaces import Answerer, Embedder
from assistant.settings import Settings
from assistant.store import KnowledgeStore

if TYPE_CHECKING:
    from assistant.answer.answerability import Judge
    from assistant.service import Assistant


def _sentence_transformer(settings: Settings) -> Embedder:
    from assistant.embed import SentenceTransformerEmbedder

    e = settings.embedder
    return SentenceTransformerEmbedder(e.model_path, batch_size=e.batch_size, threads=e.threads)


def _openvino(settings: Settings) -> Embedder:
    from assistant.embed_onnx import OpenVINOEmbedder

    e = settings.embedder
    return OpenVINOEmbedder(
        e.model_path, e.batch_size, e.threads, cache_dir=e.cache_dir, precision=e.precision
    )


def _onnxruntime(settings: Settings) -> Embedder:
    from assistant.embed_onnx import OnnxRuntimeEmbedder

    e = settings.embedder
    return OnnxRuntimeEmbedder(e.model_path, e.batch_size, e.threads, cache_dir=e.cache_dir)


EMBEDDERS: dict[str, Callable[[Settings], Embedder]] = {
    "sentence-transformers": _sentence_transformer,
    "openvino": _openvino,
    "onnxruntime": _onnxruntime,
}


def _use_multilingual(settings: Settings) -> Embedder:
    from assistant.embed_multilingual import UniversalSentenceEncoderEmbedder

    # One BLAS thread unless set: its small matrices lose more to thread hand-offs than they
    # gain (2 threads were 4x slower per query and per 128-text batch on a busy 2-core machine).
    return UniversalSentenceEncoderEmbedder(threads=settings.embedder.threads or 1)


MULTILINGUAL_EMBEDDERS: dict[str, Callable[[Settings], Embedder]] = {
    "use-multilingual-v3": _use_multilingual,
}


def build_multilingual_embedder(settings: Settings) -> Embedder | None:
    """The second, multilingual embedder, or None when the settings turn it off."""
    name = settings.embedder.multilingual
    if not name:
        return None
    return lookup("multilingual embedder", MULTILINGUAL_EMBEDDERS, name)(settings)  # type: ignore[no-any-return]


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
        settings.paths.home,
        chroma_url=settings.store.chroma_url,
        prefix=settings.store.prefix,
        database_url=settings.store.database_url,
    )


def _extractive(settings: Settings, embedder: Embedder) -> Answerer:
    from assistant.answer.extractive import ExtractiveAnswerer
    from assistant.embed import CachedTextVectors
    from assistant.rerank import shared_reranker

    return ExtractiveAnswerer(
        embed=CachedTextVectors(embedder.embed_documents),
        embed_chinese=embedder.multilingual,
        relevance=shared_reranker(settings.answer.answerability),
        ask_sentences=settings.answer.ask_sentences,
        min_evidence=settings.answer.min_evidence,
    )


def build_judge(settings: Settings, embedder: Embedder) -> Judge | None:
    """The answerability decision the settings name, or None (lexical rules decide)."""
    from assistant.answer.answerability import MODEL_FILE, Judge, load_model
    from assistant.rerank import shared_reranker

    scorer = shared_reranker(settings.answer.answerability)
    if scorer is None:
        return None
    try:
        model = load_model(settings.answer.model_file or MODEL_FILE)
    except ValueError as e:
        raise ConfigError(f"answer.model_file: {e}") from e
    answer = settings.answer
    return Judge(scorer, answer.answer_threshold, embedder, model, answer.min_evidence)


def _openai(settings: Settings, embedder: Embedder) -> Answerer:
    from assistant.answer.llm import OpenAICompatibleAnswerer

    return OpenAICompatibleAnswerer.from_settings(settings.llm)


def _gguf(settings: Settings, embedder: Embedder) -> Answerer:
    from assistant.answer.llm_local import LlamaCppAnswerer

    return LlamaCppAnswerer.from_settings(settings.llm)


ANSWERERS: dict[str, Callable[[Settings, Embedder], Answerer]] = {
    "extractive": _extractive,
    "openai": _openai,
    # The same client: these servers all speak the OpenAI chat API.
    "vllm": _openai,
    "ollama": _openai,
    "llamacpp": _openai,
    # A local GGUF file in-process (the gguf extra), no server.
    "gguf": _gguf,
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
    multilingual = build_multilingual_embedder(settings)
    if multilingual is not None and multilingual.name != store.multilingual_name():
        multilingual = None  # the store has no vectors of this model: do not mix
    sentence_embedder = multilingual or embedder
    extractive = _extractive(settings, sentence_embedder)
    if settings.llm.backend == "extractive":
        answerer, fallback = extractive, None
    else:
        answerer, fallback = build_answerer(settings, sentence_embedder), extractive
    from assistant.rerank import build_reranker

    retriever = HybridRetriever(
        store,
        embedder,
        settings.retrieval,
        multilingual=multilingual,
        reranker=build_reranker(settings.retrieval.reranker),
    )
    return Assistant(
        retriever,
        answerer,
        fallback,
        out_of_scope_share=settings.retrieval.out_of_scope_share,
        judge=build_judge(settings, embedder),
    )


def build_assistant_over(store: KnowledgeStore, like: Assistant) -> Assistant:
    """An assistant over another handle of the same store that shares `like`'s embedders,
    reranker and answerers, so that a second handle (one per thread) costs no second copy
    of the models."""
    from assistant.retrieve import HybridRetriever
    from assistant.service import Assistant

    shared = like.retriever
    retriever = HybridRetriever(
        store,
        shared.embedder,
        shared.settings,
        multilingual=shared.multilingual,
        reranker=shared.reranker,
    )
    return Assistant(
        retriever,
        like.answerer,
        like.fallback,
        out_of_scope_share=like.out_of_scope_share,
        judge=like.judge,
    )
