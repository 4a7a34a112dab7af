"""The official `openai` client against /v1: cited answers, streaming, modes, errors."""

from __future__ import annotations

import openai
import pytest

from tests.ui.conftest import Web

pytestmark = pytest.mark.slow

QUESTION = "How do I replace the encoder backup battery of the HX-R20 robot?"


def _client(web: Web, api_key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{web.url}/v1", api_key=api_key, max_retries=0, timeout=300)


def test_non_streaming_completion_carries_citations(web: Web) -> None:
    client = _client(web, web.tokens["nl-student"])
    completion = client.chat.completions.create(
        model="techkb",
        messages=[
            {"role": "system", "content": "Ignored: techkb's rules are fixed."},
            {"role": "user", "content": QUESTION},
        ],
    )
    text = completion.choices[0].message.content or ""
    extra = completion.model_extra or {}
    assert "[1]" in text and completion.choices[0].finish_reason == "stop"
    citations = extra["citations"]
    assert citations and 1 in {c["n"] for c in citations}
    assert all(c["chunk_id"] and c["source"] and c["contributor"] for c in citations)
    assert all(f"[{c['n']}]" in text for c in citations)
    assert extra["techkb"]["mode"] == "ask" and extra["techkb"]["answer_id"]


def test_streaming_completion_ends_with_citations(web: Web) -> None:
    client = _client(web, web.tokens["nl-student"])
    stream = client.chat.completions.create(
        model="techkb", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    citations = (final.model_extra or {})["citations"]
    assert "[1]" in text and citations
    assert all(f"[{c['n']}]" in text for c in citations)


def test_model_name_and_mode_field_pick_the_mode(web: Web) -> None:
    client = _client(web, web.tokens["mc-staff"])
    question = "Steps to check the motor brakes of the HX-R20"
    by_model = client.chat.completions.create(
        model="techkb-procedure", messages=[{"role": "user", "content": question}]
    )
    assert (by_model.model_extra or {})["techkb"]["mode"] == "procedure"
    by_field = client.chat.completions.create(
        model="techkb",
        messages=[{"role": "user", "content": question}],
        extra_body={"mode": "procedure"},
    )
    assert (by_field.model_extra or {})["techkb"]["mode"] == "procedure"


def test_errors_are_openai_shaped(web: Web) -> None:
    with pytest.raises(openai.UnprocessableEntityError):
        _client(web, web.tokens["nl-student"]).chat.completions.create(
            model="gpt-4", messages=[{"role": "user", "content": QUESTION}]
        )
    with pytest.raises(openai.AuthenticationError):
        _client(web, "tkb_not-a-real-token").chat.completions.create(
            model="techkb", messages=[{"role": "user", "content": QUESTION}]
        )
    with pytest.raises(openai.UnprocessableEntityError):
        _client(web, web.tokens["nl-student"]).chat.completions.create(
            model="techkb", messages=[{"role": "assistant", "content": "no question"}]
        )
