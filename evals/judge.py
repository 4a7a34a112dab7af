"""The LLM judge: an OpenAI-compatible model from `settings.llm`, checked before any scoring."""

from __future__ import annotations

import logging
from typing import Any

from assistant.errors import BackendError, ConfigError
from assistant.settings import LLMSettings

logger = logging.getLogger(__name__)

_SUPPORT_PROMPT = (
    "You check citations. Reply with exactly one word, YES or NO.\n"
    "Does the PASSAGE fully support the SENTENCE (every fact in the sentence is stated in the "
    "passage)?\n\nPASSAGE:\n<<<{passage}>>>\n\nSENTENCE:\n<<<{sentence}>>>\n\nAnswer:"
)


def _base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    return url if url.split("://", 1)[-1].count("/") else f"{url}/v1"


class Judge:
    """A judge model: a llama-index `OpenAILike` for ragas, and a citation-support verdict.

    Args:
        llm: the `llm` settings (base_url, model, api_key, timeout_s).
        timeout_s: time limit of one judge request (default: the settings' timeout).

    Raises:
        ConfigError: base URL or model missing.
    """

    def __init__(self, llm: LLMSettings, timeout_s: float | None = None) -> None:
        if not llm.base_url or not llm.model:
            raise ConfigError(
                "--judge needs a model: set TECHKB_LLM_BASE_URL and TECHKB_LLM_MODEL "
                "(and TECHKB_LLM_API_KEY if the server wants one)"
            )
        from llama_index.llms.openai_like import OpenAILike

        self.base_url = _base_url(llm.base_url)
        self.model = llm.model
        self.timeout_s = timeout_s or llm.timeout_s
        self._api_key = llm.api_key.get_secret_value() if llm.api_key else "not-needed"
        self.llm: Any = OpenAILike(
            api_base=self.base_url,
            model=llm.model,
            api_key=self._api_key,
            is_chat_model=True,
            timeout=self.timeout_s,
            max_retries=0,
            temperature=0.0,
            max_tokens=1024,
        )

    def check(self) -> None:
        """Ask the server for its models (short timeout) so an unreachable judge fails at once.

        Raises:
            BackendError: the server cannot be reached or answers with an error.
        """
        import httpx

        url = f"{self.base_url}/models"
        try:
            response = httpx.get(
                url,
                headers={"Authorization": f"Bearer {self._api_key}"},
                timeout=min(self.timeout_s, 10.0),
            )
        except (httpx.HTTPError, OSError, RuntimeError) as e:
            raise BackendError(f"the judge at {self.base_url} cannot be reached: {e}") from e
        if response.status_code >= 400:
            raise BackendError(
                f"the judge at {self.base_url} answered {url} with HTTP {response.status_code}"
            )

    def supports(self, passage: str, sentence: str) -> bool:
        """The judge's verdict: does `passage` support `sentence`?

        Raises:
            BackendError: the request failed.
        """
        prompt = _SUPPORT_PROMPT.format(passage=passage, sentence=sentence)
        try:
            reply = self.llm.complete(prompt)
        except Exception as e:  # the OpenAI client raises many kinds
            raise BackendError(f"the judge at {self.base_url} failed: {e}") from e
        return str(getattr(reply, "text", reply)).strip().upper().startswith("YES")
