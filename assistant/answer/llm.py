"""Cited answers from any OpenAI-compatible server (vLLM, llama.cpp, Ollama, hosted APIs).

The model sees the hits as numbered, fenced sources; its reply is checked on the way back:
numbers matching no source are dropped, uncited sentences counted, and `NO_ANSWER` (or no valid
citation at all) becomes a refusal.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from assistant.answer.citations import (
    build_citation,
    number_sources,
    parse_citations,
    split_sentences,
    validate_citations,
)
from assistant.answer.evidence import refusal_text
from assistant.answer.prompts import (
    MARKER_RUN,
    NO_ANSWER,
    Message,
    build_messages,
    condense_messages,
)
from assistant.errors import BackendError, ConfigError
from assistant.settings import LLMSettings
from assistant.store.keyword import tokenize
from assistant.types import Answer, Citation, Hit, Turn

logger = logging.getLogger(__name__)

_CONTEXT_WINDOW = 8192

_LEADING_MARKERS = re.compile(rf"^({MARKER_RUN})\s*")
_ANY_MARKERS = re.compile(MARKER_RUN)
_OPTION = re.compile(r"^\(?[A-Ha-h][.)]\s")
_NO_ANSWER = re.compile(rf"^\W*{NO_ANSWER}\b", re.IGNORECASE)


def claim_sentences(text: str) -> list[tuple[str, list[int]]]:
    """The sentences of a reply that assert something, each with the numbers it cites.

    Headings, labels ending in ":", questions, multiple-choice options ("B. 25 N·m") and lines
    of under three words ("**Answer key**") assert nothing and are left out; a marker opening a
    sentence ("... 8 N·m. [1] Then ...") belongs to the sentence before it.
    """
    sentences: list[str] = []
    for sentence in split_sentences(text):
        lead = _LEADING_MARKERS.match(sentence)
        if lead and sentences:
            sentences[-1] += " " + lead.group(1).strip()
            sentence = sentence[lead.end() :]
        if sentence.strip():
            sentences.append(sentence.strip())
    out = []
    for sentence in sentences:
        bare = _ANY_MARKERS.sub("", sentence).strip().strip("*_ ").strip()
        if (
            not re.search(r"\w", bare)
            or bare.startswith("#")
            or bare.endswith((":", "：", "?", "？"))
            or _OPTION.match(bare)
            or (len(bare.split()) < 3 and not re.search(r"[\u4e00-\u9fff]{6}", bare))
        ):
            continue
        out.append((sentence, parse_citations(sentence)))
    return out


def best_quote(hit: Hit, claims: Sequence[str]) -> str:
    """The sentence of the hit's text sharing the most words with a sentence that cites it."""
    candidates = split_sentences(hit.chunk.text) or [hit.chunk.text.strip()]
    wanted = [set(tokenize(c)) for c in claims]
    best, best_key = candidates[0], (0, 0)
    for position, sentence in enumerate(candidates):
        words = set(tokenize(sentence))
        shared = max((len(words & w) for w in wanted), default=0)
        key = (shared, -position)
        if shared and key > best_key:
            best, best_key = sentence, key
    return best


def refusal(question: str, hits: Sequence[Hit], mode: str, notes: Sequence[str] = ()) -> Answer:
    """The answer that says the knowledge base has nothing reliable on the question."""
    return Answer(refusal_text(question, hits), refused=True, mode=mode, notes=tuple(notes))


def finish_answer(reply: str, question: str, hits: Sequence[Hit], mode: str) -> Answer:
    """Turn a model's reply into a checked `Answer` (hits as given to `build_messages`)."""
    sources = number_sources(hits)
    text = reply.strip()
    if not text or _NO_ANSWER.match(text):
        return refusal(question, sources, mode)
    cleaned, used = validate_citations(text, sources)
    notes: list[str] = []
    invalid = [n for n in parse_citations(text) if n not in used]
    if invalid:
        listed = ", ".join(f"[{n}]" for n in invalid)
        notes.append(f"Removed citations that match no retrieved source: {listed}.")
    if not used:
        logger.warning("the model's reply cites no retrieved source; refusing instead")
        notes.append("The model's reply cited none of the retrieved sources, so it is not shown.")
        return refusal(question, sources, mode, notes)
    claims = claim_sentences(cleaned)
    uncited = sum(1 for _, numbers in claims if not numbers)
    if uncited:
        notes.append(f"{uncited} sentence{'s' if uncited != 1 else ''} without a citation")
    citations: list[Citation] = []
    for n in used:
        citing = [s for s, numbers in claims if n in numbers] or [cleaned]
        citations.append(build_citation(n, sources[n - 1], best_quote(sources[n - 1], citing)))
    return Answer(
        cleaned.strip(), refused=False, mode=mode, citations=tuple(citations), notes=tuple(notes)
    )


class AnswerStream:
    """Text deltas of a streamed reply; `answer` holds the checked `Answer` once it ends.

    The deltas are the model's raw text (the UI should show `answer.answer` at the end, where
    invalid numbers are gone), except that a `NO_ANSWER` reply comes out as the refusal text.
    """

    def __init__(self, deltas: Iterable[str], finish: Callable[[str], Answer]) -> None:
        self.answer: Answer | None = None
        self.text = ""
        self._finish = finish
        self._it = self._run(deltas)

    def __iter__(self) -> AnswerStream:
        return self

    def __next__(self) -> str:
        return next(self._it)

    def _run(self, deltas: Iterable[str]) -> Iterator[str]:
        released = False
        for delta in deltas:
            self.text += delta
            if released:
                yield delta
            elif not NO_ANSWER.startswith(self.text.strip().lstrip("*_`'\" ").upper()):
                released = True  # not a NO_ANSWER reply after all: show what was held back
                yield self.text
        self.answer = self._finish(self.text)
        if not released:
            yield self.answer.answer if self.answer.refused else self.text


class OpenAICompatibleAnswerer:
    """Cited answers from an OpenAI-compatible chat server through llama-index's `OpenAILike`."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        temperature: float = 0.1,
        max_tokens: int = 512,
        max_retries: int = 0,
        context_window: int = _CONTEXT_WINDOW,
    ) -> None:
        """Check the settings and the package; the client itself is built on first use.

        Raises:
            ConfigError: the URL is not http(s), or llama-index-llms-openai-like is missing.
        """
        self.base_url = _normal_base_url(base_url)
        self.model = model
        self.timeout_s = timeout_s
        try:
            from llama_index.llms.openai_like import OpenAILike
        except ImportError as e:
            raise ConfigError(
                "the openai backend needs llama-index-llms-openai-like: "
                "pip install llama-index-llms-openai-like"
            ) from e
        self._llm_class = OpenAILike
        self._llm_kwargs: dict[str, Any] = dict(
            api_base=self.base_url,
            model=model,
            api_key=api_key or "not-needed",
            is_chat_model=True,
            timeout=timeout_s,
            max_retries=max_retries,
            temperature=temperature,
            max_tokens=max_tokens,
            context_window=context_window,
        )
        self._llm: Any = None

    @classmethod
    def from_settings(cls, llm: LLMSettings) -> OpenAICompatibleAnswerer:
        """The answerer the `llm` settings describe.

        Raises:
            ConfigError: base URL or model missing (names the environment variables).
        """
        missing = [
            f"llm.{field} (TECHKB_LLM_{field.upper()})"
            for field in ("base_url", "model")
            if not getattr(llm, field)
        ]
        if missing:
            raise ConfigError(
                f"the {llm.backend} llm backend needs {' and '.join(missing)}, e.g. "
                "TECHKB_LLM_BASE_URL=http://127.0.0.1:8000/v1 TECHKB_LLM_MODEL=qwen2.5-7b-instruct"
            )
        return cls(
            str(llm.base_url),
            str(llm.model),
            api_key=llm.api_key.get_secret_value() if llm.api_key else None,
            timeout_s=llm.timeout_s,
            temperature=llm.temperature,
            max_tokens=llm.max_tokens,
        )

    def answer(
        self, question: str, hits: Sequence[Hit], *, mode: str, history: Sequence[Turn]
    ) -> Answer:
        """A cited answer, or a refusal when the sources hold none.

        Raises:
            ConfigError: unknown mode.
            BackendError: the server is unreachable, too slow, fails or replies malformed.
        """
        messages = build_messages(question, hits, mode, history)
        if not number_sources(hits):
            return refusal(question, hits, mode)
        started = time.perf_counter()
        reply, finish_reason = self._chat(messages)
        answer = finish_answer(reply, question, hits, mode)
        notes = answer.notes
        if finish_reason == "length":
            notes = (*notes, "The reply reached the llm.max_tokens limit and may be cut short.")
        return replace(
            answer, notes=notes, timings_ms={"llm_ms": (time.perf_counter() - started) * 1000}
        )

    def stream_answer(
        self, question: str, hits: Sequence[Hit], mode: str = "ask", history: Sequence[Turn] = ()
    ) -> AnswerStream:
        """Stream the reply as text deltas; the stream's `answer` is set once it is exhausted.

        Raises:
            ConfigError: unknown mode (at once).
            BackendError: while iterating, when the server fails.
        """
        messages = build_messages(question, hits, mode, history)
        finish = partial(finish_answer, question=question, hits=hits, mode=mode)
        if not number_sources(hits):
            return AnswerStream((), finish)
        return AnswerStream(self._deltas(messages), finish)

    def condense_question(self, question: str, history: Sequence[Turn]) -> str:
        """Rewrite a follow-up as a standalone question for retrieval; unchanged on any failure."""
        messages = condense_messages(question, history)
        if messages is None:
            return question
        try:
            reply, _ = self._chat(messages)
        except BackendError as e:
            logger.warning("could not condense the question (%s); using it as asked", e)
            return question
        lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
        text = re.sub(r"^standalone question:\s*", "", lines[0], flags=re.I) if lines else ""
        text = text.strip().strip("\"'“”‘’「」").strip()
        if not text or _NO_ANSWER.match(text) or len(text) > 4 * len(question) + 300:
            return question
        return text

    def _client(self) -> Any:
        if self._llm is None:
            self._llm = self._llm_class(**self._llm_kwargs)
        return self._llm

    @staticmethod
    def _chat_messages(messages: Sequence[Message]) -> list[Any]:
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role=role, content=content) for role, content in messages]

    def _chat(self, messages: Sequence[Message]) -> tuple[str, str | None]:
        """The reply text and its finish reason."""
        client, chat = self._client(), self._chat_messages(messages)
        with self._calling():
            response = client.chat(chat)
            choices = getattr(response.raw, "choices", None) or [None]
            return str(response.message.content or ""), getattr(choices[0], "finish_reason", None)

    def _deltas(self, messages: Sequence[Message]) -> Iterator[str]:
        client, chat = self._client(), self._chat_messages(messages)
        with self._calling():
            for response in client.stream_chat(chat):
                if response.delta:
                    yield response.delta

    @contextmanager
    def _calling(self) -> Iterator[None]:
        """Turn what a failing server causes into a `BackendError` that names its URL."""
        import httpx
        import openai

        url = self.base_url
        try:
            yield
        except openai.APITimeoutError as e:
            raise BackendError(
                f"the LLM server at {url} did not answer within {self.timeout_s:g} s"
            ) from e
        except openai.APIConnectionError as e:
            raise BackendError(f"cannot reach the LLM server at {url}: {e.__cause__ or e}") from e
        except openai.APIStatusError as e:
            body = e.body if isinstance(e.body, dict) else {}
            detail = str(body.get("message") or e.response.text[:200] or e.message)
            raise BackendError(
                f"the LLM server at {url} answered HTTP {e.status_code}: {detail}"
            ) from e
        except (openai.OpenAIError, httpx.HTTPError) as e:
            raise BackendError(f"the LLM server at {url} failed: {e}") from e
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
            # json.JSONDecodeError, or JSON of the wrong shape (no choices, no message).
            raise BackendError(
                f"the LLM server at {url} sent a malformed reply ({type(e).__name__}: {e})"
            ) from e


def _normal_base_url(base_url: str) -> str:
    """The URL the OpenAI client appends `/chat/completions` to; a bare host gets `/v1`."""
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"llm.base_url {base_url!r} must be an http(s) URL, e.g. "
            "http://127.0.0.1:8000/v1 (TECHKB_LLM_BASE_URL)"
        )
    return url if parts.path else f"{url}/v1"
