"""ragas metrics: offline without a judge; with a scripted judge on 127.0.0.1; judge failures."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

from assistant.errors import BackendError
from assistant.settings import LLMSettings
from evals.judge import Judge
from evals.metrics.answer import AnswerSample, RagasScorer, reference_contexts, rouge_text
from tests.llm_server import last_user_message

SAMPLE = AnswerSample(
    question="What torque for the M8 flange bolts?",
    response="Tighten the M8 flange bolts to 25 N·m in a cross pattern [1].",
    reference="The M8 flange bolts are tightened to 25 N·m, in a cross pattern.",
    retrieved_contexts=(
        "Tighten the M8 flange bolts to 25 N·m in a cross pattern.",
        "Coolant concentration is checked every shift.",
    ),
    reference_contexts=("Tighten the M8 flange bolts to 25 N·m in a cross pattern.",),
)


def test_rouge_text_makes_chinese_scorable() -> None:
    assert rouge_text("torque 25 N·m") == "torque 25 N·m"
    a, b = rouge_text("扭矩为25牛米"), rouge_text("扭矩是25牛米")
    assert a.isascii() and b.isascii()
    assert set(a.split()) & set(b.split())  # the shared words survive


def test_reference_contexts_pick_the_passage_holding_the_answer() -> None:
    passages = ["Coolant is checked daily.", "Torque M8 bolts to 25 N·m.", "Safety first."]
    assert reference_contexts("M8 bolts take 25 N·m", passages) == ["Torque M8 bolts to 25 N·m."]


@pytest.mark.slow
def test_non_llm_metrics_run_offline(embedder: Any) -> None:
    # The autouse fixture blocks every non-loopback socket: any network use would fail here.
    scores = RagasScorer(embedder).score(SAMPLE)
    assert set(scores) == {
        "rouge_score",
        "non_llm_string_similarity",
        "semantic_similarity",
        "non_llm_context_recall",
        "non_llm_context_precision_with_reference",
    }
    assert scores["non_llm_context_recall"] == 1.0
    assert scores["non_llm_context_precision_with_reference"] == pytest.approx(1.0)
    assert 0.5 < scores["rouge_score"] < 1.0
    assert scores["semantic_similarity"] > 0.8
    unrelated = RagasScorer(embedder).score(
        AnswerSample(SAMPLE.question, "The canteen opens at noon.", SAMPLE.reference, (), ())
    )
    assert unrelated["semantic_similarity"] < scores["semantic_similarity"]
    assert "non_llm_context_recall" not in unrelated  # no contexts: not scored


def _judge_reply(request: dict[str, Any]) -> str:
    prompt = last_user_message(request)
    if "Break down each sentence" in prompt:
        return json.dumps({"statements": ["M8 bolts take 25 N·m.", "The bolts are gold."]})
    if "judge the faithfulness" in prompt:
        return json.dumps(
            {
                "statements": [
                    {"statement": "M8 bolts take 25 N·m.", "reason": "stated", "verdict": 1},
                    {"statement": "The bolts are gold.", "reason": "not stated", "verdict": 0},
                ]
            }
        )
    if "Generate a question for the given answer" in prompt:
        return json.dumps({"question": SAMPLE.question, "noncommittal": 0})
    if "PASSAGE" in prompt:
        return "YES" if "25 N·m" in prompt.split("SENTENCE:")[0] else "NO"
    return "this is not JSON"


@pytest.mark.slow
@pytest.mark.server
def test_judged_metrics_against_scripted_server(embedder: Any, llm_server: Any) -> None:
    llm_server.reply_with(_judge_reply)
    judge = Judge(LLMSettings(base_url=llm_server.base_url, model="stub-model", timeout_s=10))
    judge.check()
    scorer = RagasScorer(embedder, judge_llm=judge.llm, judge_timeout_s=30)
    scores = scorer.score(SAMPLE)
    assert scores["faithfulness"] == 0.5  # one of the two statements is supported
    assert scores["answer_relevancy"] == pytest.approx(1.0, abs=1e-6)
    assert set(scorer.names) == set(scores)
    for name in ("factual_correctness", "context_recall", "llm_context_precision_with_reference"):
        assert "parse" in scores[name]["error"]  # unparseable replies recorded as errors
    assert judge.supports("Torque to 25 N·m.", "It is 25 N·m.")
    assert not judge.supports("Coolant daily.", "It is 25 N·m.")
    assert llm_server.requests


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_judge_fails_fast_with_a_clear_error() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    judge = Judge(LLMSettings(base_url=url, model="m", timeout_s=5))
    started = time.monotonic()
    with pytest.raises(BackendError, match="cannot be reached"):
        judge.check()
    assert time.monotonic() - started < 10


def test_judge_without_model_is_a_config_error() -> None:
    from assistant.errors import ConfigError

    with pytest.raises(ConfigError, match="TECHKB_LLM_BASE_URL"):
        Judge(LLMSettings())
