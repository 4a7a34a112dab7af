"""The answerability decision: answer, refusal or clarification from a fitted model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assistant.answer.answerability import (
    MODEL_FILE,
    Judge,
    Logistic,
    clarification_text,
    decide,
    is_vague,
    load_model,
)
from assistant.answer.deixis import dangling_definites, dangling_demonstratives
from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.terms import is_chinese
from assistant.types import Answer, Hit, Turn
from tests.factories import make_chunk


class FixedScorer:
    """A cross-encoder stand-in: the logit of a passage is looked up by a word it contains."""

    def __init__(self, logits: dict[str, float], default: float = -10.0) -> None:
        self.logits = logits
        self.default = default
        self.calls: list[tuple[str, int]] = []

    def score(self, query: str, passages: Sequence[str], batch_size: int = 16) -> np.ndarray:
        self.calls.append((query, len(passages)))
        out = []
        for p in passages:
            found = [v for word, v in self.logits.items() if word in p]
            out.append(max(found) if found else self.default)
        return np.array(out, dtype=np.float32)


# p = sigmoid(rr_top): answer when the best logit is above 0.
ONLY_TOP = Logistic(("rr_top",), (0.0,), (1.0,), (1.0,), 0.0)


def _hits(*texts: str, titles: Sequence[str] = ()) -> list[Hit]:
    return [
        Hit(
            make_chunk(f"d{i}-0000", text=t, title=(titles[i] if titles else f"Doc {i}")),
            1 / (i + 1),
        )
        for i, t in enumerate(texts)
    ]


def test_the_shipped_model_loads_and_ranks_a_relevant_passage_above_an_unrelated_one() -> None:
    model = load_model()
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert data["fitted_on"]
    strong = model.probability({"rr_top": 6.0, "rr_second": 2.0, "cos_top": 0.7})
    weak = model.probability({"rr_top": -9.0, "rr_second": -10.0, "cos_top": 0.1})
    assert strong > 0.8 > 0.2 > weak


def test_a_broken_model_file_is_named_in_the_error(tmp_path: Path) -> None:
    bad = tmp_path / "model.json"
    bad.write_text('{"answerable": {"names": ["rr_top"]}}', encoding="utf-8")
    with pytest.raises(ValueError, match=str(bad)):
        load_model(bad)


def test_answers_when_a_passage_answers_and_refuses_when_none_does() -> None:
    hits = _hits("Replace the grease every 20,000 h.", "Tighten the cover to 1.2 N·m.")
    scorer = FixedScorer({"grease": 5.0})
    yes = decide(
        "How often is the grease replaced?", "q", [], hits, scorer, threshold=0.5, model=ONLY_TOP
    )
    assert yes is not None and yes.outcome == "answer" and yes.probability > 0.9
    no = decide(
        "Who won the 1998 football world cup final?",
        "q",
        [],
        hits,
        FixedScorer({}),
        threshold=0.5,
        model=ONLY_TOP,
    )
    assert no is not None and no.outcome == "refusal"


def test_a_vague_follow_up_between_equally_relevant_documents_is_asked_back() -> None:
    hits = _hits(
        "The HX-R20 reducer takes 780 ml.",
        "The DH-R20 reducer takes 480 g.",
        titles=["HX-R20 maintenance manual", "DH-R20 lab sheet"],
    )
    scorer = FixedScorer({"reducer": -2.0})
    history = [Turn("user", "Tell me about reducer grease"), Turn("assistant", "...")]
    got = decide("What about that one?", "q", history, hits, scorer, threshold=0.5, model=ONLY_TOP)
    assert got is not None and got.outcome == "clarification"
    assert set(got.candidates) == {"HX-R20 maintenance manual", "DH-R20 lab sheet"}
    text = clarification_text("What about that one?", got.candidates)
    assert "HX-R20 maintenance manual" in text and text.rstrip().endswith(".")
    # A specific question the sources do not answer is refused, not asked back.
    specific = decide(
        "What is the rated lifetime of the reducer's output bearing in hours?",
        "q",
        [],
        hits,
        scorer,
        threshold=0.5,
        model=ONLY_TOP,
    )
    assert specific is not None and specific.outcome == "refusal"


def test_a_demonstrative_that_points_at_nothing_said_is_asked_back() -> None:
    hits = _hits(
        "Red deer stags grow antlers every year.",
        "Reindeer of both sexes have antlers.",
        titles=["Red deer", "Reindeer"],
    )
    # The sources answer well about some animal; which one was never said.
    scorer = FixedScorer({"Red deer": 4.0, "Reindeer": 1.0})
    question = "Does this animal have antlers?"
    got = decide(question, question, [], hits, scorer, threshold=0.5, model=ONLY_TOP)
    assert got.outcome == "clarification" and set(got.candidates) == {"Red deer", "Reindeer"}
    # Said before, in the conversation or the question itself: answered.
    said = [
        Turn("user", "Tell me about the reindeer, the animal of the tundra."),
        Turn("assistant", "…"),
    ]
    assert decide(
        question, question, said, hits, scorer, threshold=0.5, model=ONLY_TOP
    ).outcome == ("answer")
    assert dangling_demonstratives("I saw a reindeer. Does this animal shed its antlers?", []) == []
    # A pronoun ("is this true?") and "that" the conjunction point at no noun.
    assert dangling_demonstratives("Is this true?", []) == []
    assert dangling_demonstratives("I heard that reindeer have antlers", []) == []
    assert dangling_demonstratives("How liquid is this particular index fund?", []) == [
        "this particular index fund"
    ]
    assert dangling_demonstratives("这个动物有角吗？", []) == []


def test_an_individual_picked_out_by_its_kind_alone_is_asked_back() -> None:
    hits = _hits(
        "Michael Jordan was born in 1963 in Brooklyn.",
        "LeBron James was born in 1984 in Akron, Ohio.",
        titles=["Michael Jordan", "LeBron James"],
    )
    scorer = FixedScorer({"Jordan": 5.0, "LeBron": 4.0})
    question = "When was the famous basketball player born?"
    got = decide(question, question, [], hits, scorer, threshold=0.5, model=ONLY_TOP)
    assert got.outcome == "clarification"
    assert set(got.candidates) == {"Michael Jordan", "LeBron James"}
    assert dangling_definites(question, []) == ["the famous basketball player"]
    assert dangling_definites("What sporting events are hosted in the country's stadium?", []) == [
        "the country"
    ]
    # Said before, named within or before it, or picked out by a superlative: answered.
    said = [Turn("user", "Who is the best basketball player ever?"), Turn("assistant", "…")]
    assert dangling_definites(question, said) == []
    for named in (
        "When was the season of Grey's Anatomy premiered?",
        "Who won the battle of the bull run?",
        "Who is the most famous Midwestern athlete of all time?",
        "In Brazil, what is the official language?",
        # technical words are not kinds of individual a question must name
        "How often is the grease of the robot changed?",
        "球员什么时候出生？",
    ):
        assert dangling_definites(named, []) == [], named


def test_a_chinese_question_is_judged_in_english_words_and_by_its_chinese_sources() -> None:
    question = "刹车多久检查一次？"
    english = _hits("The brake check is done every 6 months.", "Coolant is changed yearly.")
    reads = FixedScorer({"brake check": 4.0})
    got = Judge(reads, 0.5, model=ONLY_TOP).decide(question, question, [], english)
    assert got is not None and got.outcome == "answer"
    # the cross-encoder was asked in English words
    assert reads.calls and all("brake" in q and not is_chinese(q) for q, _ in reads.calls)
    unrelated = Judge(FixedScorer({}), 0.5, model=ONLY_TOP)
    refused = unrelated.decide(question, question, [], english)
    assert refused is not None and refused.outcome == "refusal"
    # A Chinese source that holds the question's words answers it, though no English one does.
    chinese = Hit(make_chunk("zh-0000", text="刹车检查每 6 个月做一次。", title="刹车检查"), 0.2)
    got = unrelated.decide(question, question, [], [*english, chinese])
    assert got is not None and got.outcome == "answer" and got.features["zh"] >= 0.35
    # Where the best chunk is Chinese, the lexical evidence decides, as for English questions.
    assert unrelated.decide(question, question, [], [chinese, *english]) is None


def test_a_chinese_question_s_extras_answer_it_only_where_read_as_relevant() -> None:
    # The fused ranking missed the standard's table; the question's English rendering found it.
    question = "主轴锥孔径向跳动的允差是多少？"
    fused = _hits("Ball nuts are preloaded to 2 % of the load rating.", "Why did MC-07 stop?")
    table = _hits("G7 radial run-out of the spindle taper: 0.005 mm.")[0]
    hits = [*fused, replace(table, extra=True)]
    judge = Judge(FixedScorer({"run-out": 5.0}), 0.5, model=ONLY_TOP)
    got = judge.decide(question, question, [], hits)
    assert got is not None and got.outcome == "answer"
    assert judge.decide(question, question, [], fused).outcome == "refusal"  # type: ignore[union-attr]
    # Read as barely relevant, the extra does not answer, though a lenient model would.
    lenient = Logistic(("rr_top",), (0.0,), (1.0,), (1.0,), 3.0)  # answers from logit -3 on
    weak = Judge(FixedScorer({"run-out": -2.0}), 0.5, model=lenient)
    got = weak.decide(question, question, [], hits)
    assert got is not None and got.outcome == "refusal"
    # An English question's extras (BM25's) never decide.
    english = "What is the run-out tolerance of the spindle taper?"
    got = judge.decide(english, english, [], hits)
    assert got is not None and got.outcome == "refusal"


def test_a_chinese_question_is_refused_not_asked_back() -> None:
    # Two documents about equally relevant and a short question naming nothing: an English
    # one would be asked back; what makes a question vague is read from English words.
    hits = _hits("The brake check is done every 6 months.", "Coolant is changed yearly.")
    judge = Judge(FixedScorer({"brake": -1.0, "Coolant": -1.0}), 0.5, model=ONLY_TOP)
    assert judge.decide("How often is it checked?", "q", [Turn("user", "x")], hits).outcome == (
        "clarification"
    )
    got = judge.decide("刹车多久检查一次？", "刹车多久检查一次？", [], hits)
    assert got is not None and got.outcome == "refusal"


def test_vague_means_short_and_naming_nothing_or_leaning_on_the_conversation() -> None:
    earlier = [Turn("user", "x")]
    assert is_vague("Pricing?", [])
    assert is_vague("Can I download them?", [])  # "I" is no name
    assert is_vague("And what does it cost to run each month in total?", earlier)
    assert not is_vague("What does the HX-R20 controller cost to run each month in total?", [])
    # short, but naming its subject: a clear question, refused rather than asked back
    assert not is_vague("Is Sweden politically neutral?", [])
    assert not is_vague("HX-R20 payload?", [])
    # "which" chooses, it points at nothing said before
    assert not is_vague("Which president appointed the most Supreme Court judges?", earlier)
    assert is_vague("Which of those is cheaper to run?", earlier)


def test_clarification_is_its_own_outcome_and_not_a_refusal() -> None:
    asked = Answer("Which one do you mean?", refused=False, mode="ask", asked_back=True)
    assert asked.outcome == "clarification"
    assert asked.to_dict()["outcome"] == "clarification" and asked.to_dict()["refused"] is False
    assert Answer("x", refused=True, mode="ask").outcome == "refusal"


def test_judge_passes_the_dense_cosine_to_the_model() -> None:
    class Embedder:
        def embed_query(self, text: str) -> np.ndarray:
            return np.array([1.0, 0.0])

        def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
            return np.array([[0.6, 0.8]] * len(texts))

    model_on_cosine = Logistic(("cos_top",), (0.5,), (0.1,), (1.0,), 0.0)
    hits = _hits("anything")
    judge = Judge(FixedScorer({}), 0.5, Embedder())
    got = judge.decide("What is the reducer grease?", "q", [], hits)
    assert got is not None and got.features["cos_top"] == pytest.approx(0.6)
    assert model_on_cosine.probability(got.features) > 0.5


def test_with_a_cross_encoder_the_answer_leads_with_the_sentence_that_answers() -> None:
    text = (
        "The battery box is on the base of the robot. "
        "The bracket screws are tightened to 15 N·m. "
        "The cover screws are tightened to 1.2 N·m. "
        "Check the seal before closing."
    )
    hits = _hits(text, titles=["HX-MP-212 Encoder battery replacement"])
    scorer = FixedScorer({"cover screws": 6.0, "bracket": 1.0})
    answerer = ExtractiveAnswerer(relevance=scorer, ask_sentences=2)
    got = answerer.answer("What torque for the battery box cover screws?", hits, mode="ask")
    assert not got.refused
    assert got.answer.startswith("The cover screws are tightened to 1.2 N·m.")
    assert "Check the seal" not in got.answer and "15 N" not in got.answer


def test_a_numbered_task_under_an_exercises_heading_is_never_quoted_as_a_fact() -> None:
    from assistant.answer.material import is_task_prompt
    from assistant.answer.sentences import collect_sentences

    assert is_task_prompt("1. Name three methods of preloading a ball nut.", "NLC > Exercises")
    assert is_task_prompt("2. 简述减速器换油步骤。", "润滑 > 七、思考题")
    assert not is_task_prompt("1. Identify the robots to service.", "8 Step 6 — Review the plan")
    # an answer key's sections are named after the exercises they answer
    assert not is_task_prompt("Answer: a double nut.", "Exercise 7 (3 marks)", instructor=True)
    assert not is_task_prompt("1. 伺服驱动器断电后仍有高压。", "实验 L1 思考题参考答案")
    # the scenario an exercise sets is not a fact either
    assert is_task_prompt("3. 某点焊机器人每天伺服上电 22 小时。", "七、思考题")
    assert is_task_prompt("Use ITSC-MS 310 and BPG-07 for the calculation.", "Exercises")
    exercises = make_chunk(
        "d0-0001",
        section="Ball screws > Exercises",
        text="1. Name three methods of preloading a ball nut.\n"
        "2. A nut is preloaded to 3 % of its load rating. Work out the force.",
    )
    preload = make_chunk(
        "d0-0000",
        section="Ball screws > Preload",
        text="Preload is set with a double nut or oversize balls.",
    )
    texts = [s.text for s in collect_sentences([Hit(exercises, 1.0), Hit(preload, 0.9)])]
    assert texts == ["Preload is set with a double nut or oversize balls."]


def test_an_english_question_whose_best_passage_is_chinese_is_left_to_the_lexical_evidence() -> (
    None
):
    # The cross-encoder reads English only: it would score the Chinese answer as irrelevant.
    chinese_first = _hits(
        "储气罐安全阀的整定压力为 0.88 MPa，每年校验一次。", "The tank is drained daily."
    )
    judge = Judge(FixedScorer({}), 0.5)
    assert judge.decide("What is the safety valve's set pressure?", "q", [], chinese_first) is None
    english_first = list(reversed(chinese_first))
    got = judge.decide("What is the safety valve's set pressure?", "q", [], english_first)
    assert got is not None and got.outcome == "refusal"
    answerer = ExtractiveAnswerer(relevance=FixedScorer({}), min_evidence=0.9)
    refused = answerer.answer("What is the capital of France?", chinese_first, mode="ask")
    assert refused.refused  # the lexical evidence check applies again
