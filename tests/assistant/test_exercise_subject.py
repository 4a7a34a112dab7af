"""What an exercise set is about: the request's subject without the words that ask for an
exercise, and the document the cross-encoder reads as about it."""

from __future__ import annotations

import pytest

from assistant.answer.evidence import score_sentences
from assistant.answer.exercise import build_exercise_set
from assistant.answer.exercise_subject import documents, read_subject, request_subject
from assistant.answer.registry import get_mode
from assistant.answer.sentences import collect_sentences
from assistant.types import Hit
from tests.assistant.test_answer_lead import QueryScorer
from tests.factories import make_chunk


@pytest.mark.parametrize(
    ("request_", "subject"),
    [
        ("出一组关于急停回路的练习题", "急停回路的"),
        ("给我出几道关于编码器电池更换的练习题，附参考答案。", "编码器电池更换的"),
        ("出几道编码器电池更换的题", "编码器电池更换"),
        (
            "Create case-based exercises on intermittent encoder alarms, with an answer key.",
            "on intermittent encoder alarms",
        ),
        ("Make an exercise set on spindle bearing failures.", "on spindle bearing failures"),
        ("Make exercises on gear design", "on gear design"),  # "design" asks nothing here
        ("申请流程的练习题", "申请流程的"),
    ],
)
def test_the_words_that_ask_for_an_exercise_are_not_its_subject(
    request_: str, subject: str
) -> None:
    assert get_mode("exercise").subject(request_) == subject


def test_a_request_with_nothing_but_asking_words_is_searched_as_it_is() -> None:
    assert get_mode("exercise").subject("Make some exercises") == "Make some exercises"
    # Other modes search the question as asked.
    assert get_mode("ask").subject("出几道题") == "出几道题"


BATTERY = make_chunk(
    "hx-mp-212-0001",
    doc_id="hx-mp-212",
    title="HX-MP-212 Replacing the encoder backup battery (HX-R20)",
    section="5 Procedure",
    kind="procedure",
    text="1. Keep the controller main power on for the whole battery change.\n"
    "2. Remove the four screws of the battery box cover.\n"
    "3. Replace the encoder backup battery within 2 minutes.\n"
    "4. Refit the cover and tighten the screws to 1.2 N·m.",
)
HARNESS_CASE = make_chunk(
    "hx-cs-302-0001",
    doc_id="hx-cs-302",
    title="Case study HX-CS-302: J6 encoder alarm caused by harness wear",
    section="Root cause",
    kind="case",
    text="The encoder cable of J6 was found worn through at the wrist, so the encoder and its "
    "battery line lost contact. The root cause was a missing cable guide after a torch change. "
    "The harness was replaced and the cable guide refitted, and the encoder battery alarm did "
    "not return.",
)
HARNESS_SYMPTOM = make_chunk(
    "hx-cs-302-0000",
    doc_id="hx-cs-302",
    title=HARNESS_CASE.title,
    section="Symptom",
    kind="case",
    text="From May 2023 the robot stopped several times a week with an encoder communication "
    "alarm on J6, each time during a fast wrist rotation.",
)
HITS = [Hit(HARNESS_CASE, 1.0), Hit(HARNESS_SYMPTOM, 0.95), Hit(BATTERY, 0.9)]
REQUEST = "Make some exercises on encoder battery replacement"


def test_the_document_read_as_about_the_request_anchors_the_set() -> None:
    # By its words a case that tells a story anchors the set; the cross-encoder reads the
    # replacement procedure as about the request, and the case far less (beyond
    # CLOSE_LOGITS): the procedure anchors it.
    by_words = build_exercise_set(REQUEST, HITS, min_evidence=0.0)
    assert by_words.title == HARNESS_CASE.title
    scorer = QueryScorer({("battery", "HX-MP-212"): 6.0, ("battery", "HX-CS-302"): 1.0})
    read = build_exercise_set(REQUEST, HITS, min_evidence=0.0, relevance=scorer)
    assert read.title == BATTERY.title
    # A case read about as well as the best document still anchors a case-based set.
    close = QueryScorer({("battery", "HX-MP-212"): 6.0, ("battery", "HX-CS-302"): 5.0})
    assert build_exercise_set(REQUEST, HITS, min_evidence=0.0, relevance=close).title == (
        HARNESS_CASE.title
    )


def test_nothing_is_read_where_the_request_s_own_words_find_a_chinese_document_best() -> None:
    lab = make_chunk(
        "dh-lab-0001",
        doc_id="dh-lab",
        title="实验指导书：编码器电池更换",
        section="步骤",
        kind="procedure",
        language="zh",
        text="1. 保持控制柜主电源接通。\n2. 拆下电池盒盖的四颗螺钉。\n"
        "3. 在 2 分钟内更换编码器电池。",
    )
    hits = [Hit(lab, 1.0), Hit(BATTERY, 0.9)]
    request = "出几道编码器电池更换的练习题"
    subject = request_subject(request, [], hits)
    assert subject and "battery" in subject.split()  # put in English words
    assert "exercise" not in subject and "practice" not in subject
    scorer = QueryScorer({("battery", "HX-MP-212"): 6.0})
    built = build_exercise_set(request, hits, min_evidence=0.0, relevance=scorer)
    assert built.title == lab.title
    ranked = score_sentences(request, hits, collect_sentences(hits)).ranked
    assert read_subject(scorer, subject, hits, documents(hits, ranked)) is None
