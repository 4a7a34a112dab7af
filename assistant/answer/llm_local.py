"""Cited answers from a local GGUF model through llama-index's `LlamaCPP` (llama-cpp-python).

The optional `gguf` extra installs llama-cpp-python (compiled from source, a few minutes) and
the llama-index integration. The model file must be on disk: nothing is ever downloaded. Prompts
are formatted with the chat template stored in the GGUF file, else ChatML.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assistant.answer.llm import OpenAICompatibleAnswerer
from assistant.errors import BackendError, ConfigError
from assistant.settings import LLMSettings

logger = logging.getLogger(__name__)


def chatml(messages: Sequence[Any]) -> str:
    """ChatML, the format of SmolLM2, Qwen and many other instruction models."""
    parts = [f"<|im_start|>{_role(m)}\n{m.content}<|im_end|>\n" for m in messages]
    return "".join(parts) + "<|im_start|>assistant\n"


def _role(message: Any) -> str:
    role = message.role
    return str(getattr(role, "value", role))


class _TemplatePrompt:
    """`messages_to_prompt` from the GGUF's own chat template, once the model is loaded."""

    def __init__(self) -> None:
        self.formatter: Any = None

    def __call__(self, messages: Sequence[Any]) -> str:
        if self.formatter is None:
            return chatml(messages)
        rendered = self.formatter(
            messages=[{"role": _role(m), "content": m.content} for m in messages]
        )
        return str(rendered.prompt)


class LlamaCppAnswerer(OpenAICompatibleAnswerer):
    """The generative answerer over a local GGUF file instead of an HTTP server."""

    name = "gguf"

    def __init__(
        self,
        model_path: Path,
        *,
        temperature: float = 0.1,
        max_tokens: int = 512,
        context_window: int = 4096,
        threads: int = 0,
    ) -> None:
        """Check the file and the packages; the model loads on first use.

        Raises:
            ConfigError: the file is missing or the `gguf` extra is not installed.
        """
        if not model_path.is_file():
            raise ConfigError(f"llm.model_path {str(model_path)!r}: no such GGUF file")
        from llama_index.core.llms import ChatMessage

        try:
            from llama_index.llms.llama_cpp import LlamaCPP
        except ImportError as e:
            raise ConfigError(
                "the gguf backend needs llama-cpp-python and llama-index-llms-llama-cpp: "
                "pip install 'techkb[gguf]'"
            ) from e
        self.base_url = f"gguf:{model_path.name}"
        self.model = model_path.name
        self.timeout_s = 0.0
        self._path = model_path
        self._prompt = _TemplatePrompt()
        self._llm_class = LlamaCPP  # type: ignore[assignment]
        model_kwargs: dict[str, Any] = {"n_threads": threads} if threads else {}
        self._llm_kwargs = dict(
            model_path=str(model_path),
            temperature=temperature,
            max_new_tokens=max_tokens,
            context_window=context_window,
            messages_to_prompt=self._prompt,
            completion_to_prompt=lambda text: chatml([ChatMessage(role="user", content=text)]),
            model_kwargs=model_kwargs,
            verbose=False,
        )
        self._llm = None

    @classmethod
    def from_settings(cls, llm: LLMSettings) -> LlamaCppAnswerer:  # type: ignore[override]
        """The answerer for `llm.model_path` (TECHKB_LLM_MODEL_PATH).

        Raises:
            ConfigError: no model path set, or the file is missing.
        """
        if llm.model_path is None:
            raise ConfigError(
                "the gguf llm backend needs llm.model_path (TECHKB_LLM_MODEL_PATH), "
                "the path of a .gguf file"
            )
        return cls(llm.model_path, temperature=llm.temperature, max_tokens=llm.max_tokens)

    def _client(self) -> Any:
        if self._llm is None:
            with self._calling():
                self._llm = self._llm_class(**self._llm_kwargs)
            template = self._llm._model.metadata.get("tokenizer.chat_template")
            if template:
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                model = self._llm._model
                self._prompt.formatter = Jinja2ChatFormatter(
                    template,
                    eos_token=model.detokenize([model.token_eos()]).decode(errors="ignore"),
                    bos_token=model.detokenize([model.token_bos()]).decode(errors="ignore"),
                )
        return self._llm

    @contextmanager
    def _calling(self) -> Iterator[None]:
        """Turn a failing local model into a `BackendError` naming the file."""
        try:
            yield
        except (RuntimeError, ValueError, OSError, MemoryError) as e:
            raise BackendError(f"the local model {self._path} failed: {e}") from e
