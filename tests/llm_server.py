"""A small OpenAI-compatible chat server on 127.0.0.1 with scripted, deterministic behaviour.

It speaks the wire format of the OpenAI API (`/v1/chat/completions`, JSON or `stream: true`
server-sent events ending in `data: [DONE]`, and `/v1/models`), records every request, and
replies as the running test chose: a reply function of the request, an HTTP error, malformed
JSON, or a delay longer than the client's timeout.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

ReplyFn = Callable[[dict[str, Any]], str]


def last_user_message(request: dict[str, Any]) -> str:
    """The content of the last user message of a chat request."""
    for message in reversed(request.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content", "")
            if isinstance(content, list):  # content parts
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content)
    return ""


def system_message(request: dict[str, Any]) -> str:
    """The content of the first system message of a chat request ("" when there is none)."""
    for message in request.get("messages", []):
        if message.get("role") == "system":
            return str(message.get("content", ""))
    return ""


def cite_every_source(request: dict[str, Any]) -> str:
    """One cited sentence per `[n]` source number found in the prompt (the default reply)."""
    numbers = sorted({int(n) for n in re.findall(r"\[(\d+)\]", last_user_message(request))})
    if not numbers:
        return "NO_ANSWER"
    return " ".join(f"Source {n} covers this part of the question [{n}]." for n in numbers)


@dataclass
class Behaviour:
    """What the server does with the next chat request."""

    reply: ReplyFn = cite_every_source
    status: int = 200
    malformed: bool = False
    delay_s: float = 0.0


class FakeLLMServer:
    """An OpenAI-compatible server in a background thread; `base_url` ends in `/v1`."""

    model = "stub-model"

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.behaviour = Behaviour()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            self._app(), log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting ------------------------------------------------------------------------

    def reply_with(self, reply: str | ReplyFn) -> None:
        """Answer every chat request with this text, or with `reply(request)`."""
        self.behaviour.reply = (lambda _r: reply) if isinstance(reply, str) else reply

    def fail_with(self, status: int) -> None:
        """Answer with an OpenAI-shaped error body and this HTTP status."""
        self.behaviour.status = status

    def send_malformed_json(self) -> None:
        self.behaviour.malformed = True

    def delay(self, seconds: float) -> None:
        """Wait this long before answering (longer than the client's timeout, to test it)."""
        self.behaviour.delay_s = seconds

    @property
    def last_request(self) -> dict[str, Any]:
        return self.requests[-1]

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the stub LLM server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()

    # -- the HTTP API ---------------------------------------------------------------------

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {
                "object": "list",
                "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "techkb"}],
            }

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Response:
            body = await request.json()
            self.requests.append(body)
            self.headers.append(dict(request.headers))
            b = self.behaviour
            if b.delay_s:
                await asyncio.sleep(b.delay_s)
            if b.status != 200:
                error = {
                    "message": f"scripted failure {b.status}",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
                return JSONResponse({"error": error}, status_code=b.status)
            text = b.reply(body)
            model = str(body.get("model") or self.model)
            if body.get("stream"):
                include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                return StreamingResponse(
                    _sse(text, model, malformed=b.malformed, include_usage=include_usage),
                    media_type="text/event-stream",
                )
            if b.malformed:
                return Response(
                    '{"id": "chatcmpl-stub", "choices": [{"ind', media_type="application/json"
                )
            return JSONResponse(_completion(text, model, body))

        return app


def _usage(prompt: str, reply: str) -> dict[str, int]:
    p, c = len(prompt.split()), len(reply.split())
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _completion(text: str, model: str, request: dict[str, Any]) -> dict[str, Any]:
    prompt = " ".join(str(m.get("content", "")) for m in request.get("messages", []))
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(prompt, text),
    }


def _chunk(model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def stream_pieces(text: str) -> list[str]:
    """How the server splits a reply into deltas: one word and its trailing space each."""
    return re.findall(r"\s*\S+\s*", text) or [text]


async def _sse(
    text: str, model: str, *, malformed: bool, include_usage: bool
) -> AsyncIterator[str]:
    def event(data: dict[str, Any]) -> str:
        return f"data: {json.dumps(data)}\n\n"

    yield event(_chunk(model, {"role": "assistant", "content": ""}, None))
    if malformed:
        yield 'data: {"id": "chatcmpl-stub", "choices": [\n\n'
        return
    for piece in stream_pieces(text):
        yield event(_chunk(model, {"content": piece}, None))
    yield event(_chunk(model, {}, "stop"))
    if include_usage:
        final = _chunk(model, {}, None)
        final["choices"] = []
        final["usage"] = _usage("", text)
        yield event(final)
    yield "data: [DONE]\n\n"
