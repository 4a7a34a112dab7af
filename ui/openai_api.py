"""OpenAI-compatible `/v1/chat/completions` and `/v1/models`, answers with citations as data.

`messages` become the question (the last user message) and the history (earlier user and
assistant messages; system messages are ignored: techkb's answer rules are not promptable).
The mode comes from the body field `mode`, else the model name (each mode's `api_model` in
`assistant.answer.registry`): `techkb` (ask), `techkb-procedure`, `techkb-exercise`. The
completion object, and the final chunk of a stream, carry a top-level `citations` list (as in
`techkb ask --json`, plus edition, licence, section and page) and a `techkb` object
(`answer_id`, `outcome`, `refused`, `mode`, `notes`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from assistant.answer.registry import MODE_NAMES, MODES
from assistant.errors import ValidationError
from assistant.types import Identity
from ui import handlers
from ui.auth import identity_from_request
from ui.history import check_history

router = APIRouter(prefix="/v1", tags=["openai"])
Caller = Annotated[Identity, Depends(identity_from_request)]
MODELS = {m.api_model: m.name for m in MODES.values()}
_CREATED = int(time.time())


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens... are accepted, unused
    model: str = "techkb"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    mode: str | None = Field(default=None, description=" | ".join(MODE_NAMES))


def _text(content: str | list[dict[str, Any]] | None) -> str:
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text", "")) for p in content or [] if p.get("type") == "text")


def split_messages(messages: list[ChatMessage]) -> tuple[str, list[dict[str, str]]]:
    """(question, history) from chat messages.

    Raises:
        ValidationError: the last message is not the user's.
    """
    turns = [
        {"role": m.role, "content": _text(m.content)}
        for m in messages
        if m.role in ("user", "assistant")
    ]
    if not turns or turns[-1]["role"] != "user":
        raise ValidationError("messages: the last one must be the user's question")
    return turns[-1]["content"], turns[:-1]


def check_earlier_messages(messages: list[ChatMessage], request: Request) -> None:
    """Refuse (422) when the messages before the last user message, system messages included,
    are over the history bounds of `ui.max_history_turns` and `ui.max_history_chars`."""
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=len(messages))
    limits = request.app.state.services.settings.ui
    check_history([_text(m.content) for m in messages[:last]], limits, field="messages")


def _mode(body: ChatRequest) -> str:
    if body.mode:
        return body.mode
    if body.model not in MODELS:
        raise ValidationError(f"model {body.model!r}: one of {', '.join(MODELS)}")
    return MODELS[body.model]


def _extras(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "citations": result["citations"],
        "techkb": {
            "answer_id": result["answer_id"],
            "outcome": result["outcome"],
            "refused": result["refused"],
            "mode": result["mode"],
            "notes": result["notes"],
            "exercise": result["exercise"],
        },
    }


@router.get("/models")
def models() -> dict[str, Any]:
    """The model names that select a mode."""
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": _CREATED, "owned_by": "techkb"}
            for name in MODELS
        ],
    }


@router.post("/chat/completions", response_model=None)
def chat_completions(
    body: ChatRequest, request: Request, identity: Caller
) -> dict[str, Any] | StreamingResponse:
    """A cited answer as a chat completion (or an SSE stream of chunks)."""
    services = request.app.state.services
    check_earlier_messages(body.messages, request)
    question, history = split_messages(body.messages)
    mode = _mode(body)
    if body.stream:
        # Errors must be HTTP statuses, so the answer is computed before streaming starts.
        result = handlers.ask(services, identity, question, history, mode)
        return StreamingResponse(_sse(body.model, result), media_type="text/event-stream")
    result = handlers.ask(services, identity, question, history, mode)
    words = len(result["answer"].split())
    return {
        "id": f"chatcmpl-{result['answer_id']}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result["answer"]},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": len(question.split()),
            "completion_tokens": words,
            "total_tokens": len(question.split()) + words,
        },
        **_extras(result),
    }


def _sse(model: str, result: dict[str, Any]) -> Iterator[str]:
    base = {
        "id": f"chatcmpl-{result['answer_id']}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        chunk = {
            **base,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    for piece in handlers.split_words(result["answer"]):
        yield event({"content": piece})
    yield event({}, "stop", **_extras(result))
    yield "data: [DONE]\n\n"
