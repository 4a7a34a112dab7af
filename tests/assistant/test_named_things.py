"""Questions that name a model, document or edition: answered from sources about that thing.

A question about the DH-R20 is not answered from the HX-R20 manual, a question about HX-MP-202
not from HX-MP-201, and a question about the 2026 edition not from the 2021 one — however
similar their wording. Scope checks refuse before any answerer runs when the visible sources
never mention the thing or do not hold the document; the answerers discount sentences about a
sibling of what was asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest

from assistant.answer.evidence import (
    about_what_was_asked,
    are_siblings,
    edition_years,
    glossed_tokens,
    named_codes,
    score_sentences,
    sibling_conflicts,
)
from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.names import contributors_named, missing_identifiers, short_codes
from assistant.answer.scope import NameCheck, check_names
from assistant.answer.sentences import collect_sentences
from assistant.store import KnowledgeStore
from assistant.store.keyword import BM25KeywordIndex, tokenize
from assistant.types import ANONYMOUS, Chunk, Hit, Identity
from tests.factories import make_chunk


def test_named_codes_in_english_and_chinese_text() -> None:
    assert named_codes("Grease for the HX-R20 (see HX-MP-201, JN-WI-C-011).") == [
        "HX-R20",
        "HX-MP-201",
        "JN-WI-C-011",
    ]
    assert named_codes("实训中心DH-R20型机器人，实验 DH-IR-204-L1") == ["DH-R20", "DH-IR-204-L1"]
    # One-part tokens, plain numbers and words with hyphens are not codes.
    assert named_codes("M8 bolts, 2,700 mAh, a well-known step-by-step guide") == []


def test_a_code_s_plural_names_the_code() -> None:
    # "Our MVC-850s" are MVC-850 machines: no unknown "MVC-850S" to refuse over, and BM25
    # finds the sources that write "MVC-850"; a model whose name ends in a capital S stays.
    assert named_codes("What oil goes in the cam box of our MVC-850s?") == ["MVC-850"]
    assert named_codes("the MVC-850S") == ["MVC-850S"]
    assert short_codes("the M6s") == [("M6", "M-6")]
    assert tokenize("our MVC-850s") == tokenize("our MVC-850")
    chunk = make_chunk("d0-0000", text="Oil for the MVC-850 cam box: ISO VG 220.")
    assert missing_identifiers("Which oil do our MVC-850s take?", [Hit(chunk, 1.0)]) == []


def test_a_number_joined_to_a_word_is_no_code() -> None:
    # "a 4-day holiday" names no model "4-DAY" to refuse over; codes keep their digits.
    question = "Our MVC-850 was shut down over a 4-day holiday. How long should it warm up?"
    assert named_codes(question) == ["MVC-850"]
    assert named_codes("a 20-bit encoder, a 3-jaw chuck, a 2-year interval") == []
    assert named_codes("ECN-2024-031 and JN-WI-C-011") == ["ECN-2024-031", "JN-WI-C-011"]
    chunk = make_chunk("d0-0000", text="After a stop of more than 3 days, run the MVC-850 in.")
    assert missing_identifiers(question, [Hit(chunk, 1.0)]) == []


def test_a_contributor_is_named_by_the_first_word_of_its_id_written_as_a_name() -> None:
    known = ["amma", "donghai-polytechnic", "itsc", "meridian-cnc", "nlc"]
    assert contributors_named("In Donghai's J2 grease lab, how long?", known) == (
        "donghai-polytechnic",
    )
    assert contributors_named("Do ITSC and AMMA agree?", known) == ("amma", "itsc")
    assert contributors_named("What does ITSC-MT 230 allow?", known) == ("itsc",)
    assert contributors_named("Meridian 改进后的碟簧组", known) == ("meridian-cnc",)
    # Not a name: lower case, inside a word or a code, a head of fewer than three letters.
    assert contributors_named("the meridian line of the spindle", known) == ()
    assert contributors_named("What does AMMAX-7 stand for? XITSC?", known) == ()
    assert contributors_named("The NLC course", ["nl-college"]) == ()


@pytest.mark.parametrize(
    ("a", "b", "siblings"),
    [
        ("HX-R20", "DH-R20", True),
        ("HX-MP-202", "HX-MP-201", True),
        ("HX-R20", "HX-R35", True),
        ("HX-R20", "HX-R20", False),  # the same thing
        ("HX-BAT-36", "HX-MP-212", False),  # two parts differ: another family
        ("HX-R20", "HX-MM-R20", False),  # different length
        ("MVC-850", "MVC-A50", False),  # different shape
    ],
)
def test_siblings_differ_in_exactly_one_part_of_the_same_shape(
    a: str, b: str, siblings: bool
) -> None:
    assert are_siblings(a, b) is siblings


def test_sibling_conflicts_need_the_asked_code_to_be_absent() -> None:
    assert sibling_conflicts(["DH-R20"], "This chapter applies to the HX-R20 robot.") == [
        ("DH-R20", "HX-R20")
    ]
    # A text naming both (a comparison) is about the asked thing too.
    assert sibling_conflicts(["DH-R20"], "The DH-R20 is a rebadged HX-R20.") == []
    assert sibling_conflicts(["DH-R20"], "Payload 20 kg.") == []


def test_edition_years_only_where_a_year_names_an_edition() -> None:
    assert edition_years("What changed in ITSC-RS 101:2026?") == ["2026"]
    assert edition_years("and what does the 2026 edition change?") == ["2026"]
    assert edition_years("ITSC-RS 101 2026 版有哪些变化") == ["2026"]
    assert edition_years("The robot crashed in 2024 after the shutdown.") == []


def hits_of(*chunks: Chunk) -> list[Hit]:
    return [Hit(c, 1.0 / (i + 1)) for i, c in enumerate(chunks)]


def evidence(question: str, *chunks: Chunk, **kwargs: float) -> float:
    """The extractive evidence for answering `question` from these chunks."""
    hs = hits_of(*chunks)
    return score_sentences(question, hs, collect_sentences(hs), **kwargs).evidence


HX_MANUAL = make_chunk(
    "hx-manual-0000",
    text="This chapter applies to the HX-R20 robot (payload 20 kg, reach 1,722 mm, position "
    "repeatability ±0.05 mm according to ISO 9283) with the HXC-5 controller.",
    title="HX-R20 Maintenance Manual, Chapter 6",
)


def test_a_sibling_models_manual_does_not_answer() -> None:
    answerer = ExtractiveAnswerer()
    hs = hits_of(HX_MANUAL)
    asked = "What position repeatability does the HX-R20 have according to ISO 9283?"
    sibling = "What position repeatability does the DH-R20 have according to ISO 9283?"
    answer = answerer.answer(asked, hs)
    assert not answer.refused and "±0.05 mm" in answer.answer
    refused = answerer.answer(sibling, hs)
    assert refused.refused and not refused.citations
    # Beside a source about the DH-R20 itself, the HX-R20's figures are never quoted.
    dh = make_chunk(
        "dh-lab-0000",
        text="The DH-R20 lab robot has a position repeatability of ±0.08 mm according to ISO "
        "9283, measured at the training centre.",
        title="DH-R20 lab robot data sheet",
    )
    answer = answerer.answer(sibling, hits_of(HX_MANUAL, dh))
    assert not answer.refused and "±0.08 mm" in answer.answer
    assert "±0.05 mm" not in answer.answer
    assert {c.chunk_id for c in answer.citations} == {"dh-lab-0000"}


def procedure_chunk(code: str, n: int) -> Chunk:
    return make_chunk(
        f"{code.lower()}-{n:04d}",
        text="1. Warm the grease by running the robot for 10 minutes.\n"
        "2. Move the axis to its injection posture and lock out the controller.\n"
        "3. Open the outlet plug, then inject grease at no more than 0.15 MPa.",
        title=f"{code} Grease replacement of the reducers (HX-R20)",
        kind="procedure",
    )


def test_procedure_mode_does_not_substitute_a_sibling_document() -> None:
    # As the assistant does: documents titled for a sibling are left out before answering.
    answerer = ExtractiveAnswerer()
    hs = hits_of(procedure_chunk("HX-MP-201", 0))
    held_q = "Steps of HX-MP-201 for the grease injection posture"
    held = answerer.answer(held_q, about_what_was_asked(held_q, hs), mode="procedure")
    assert not held.refused and held.citations
    other_q = "Steps of HX-MP-202 for the grease injection posture"
    other = answerer.answer(other_q, about_what_was_asked(other_q, hs), mode="procedure")
    assert other.refused and not other.citations


def test_quantity_question_needs_a_sentence_with_a_quantity() -> None:
    # The same sentence with and without the value it is asked for.
    stated = make_chunk(text="The J3 cover bolts are tightened to 12 N·m in a cross pattern.")
    unstated = make_chunk(text="The J3 cover bolts are tightened in a cross pattern.")
    question = "What torque are the J3 cover bolts tightened to?"
    with_value = evidence(question, stated)
    without = evidence(question, unstated)
    assert without < 0.8 * with_value


def test_english_question_matches_a_chinese_sentence_through_its_glosses() -> None:
    assert {"drawbar", "forc"} <= glossed_tokens(tokenize("拉刀力"))
    zh = make_chunk(
        text="用拉刀力测试仪测量主轴拉刀力，三次读数分别为 9.4 kN、9.6 kN、9.5 kN。",
        language="zh",
        title="案例：主轴拉刀力不足导致面铣刀松脱",
    )
    question = "What drawbar force was measured on the spindle?"
    assert evidence(question, zh) > evidence(question, zh, translated_weight=0.0)


# --- scope checks on names -------------------------------------------------------------------


def mentions_of(known: Iterable[str]) -> Callable[[str], bool]:
    squashed = {k.lower() for k in known}
    return lambda code: code.lower() in squashed


LABELS = [
    "HX-MP-201 Grease replacement of the RV reducers, axes J1 to J3 (HX-R20)\nRev C\n"
    "huaxin-robotics/procedures/hx-mp-201-rv-reducer-grease.md",
    "HX-MP-204 Mastering after encoder battery loss (HX-R20)\nRev A\n"
    "huaxin-robotics/procedures/hx-mp-204-mastering.md",
    "ITSC-RS 101:2021 Industrial robots — Safety requirements\n2021\n"
    "itsc/standards/itsc-rs-101-2021.pdf",
    "MVC-1100 Operator manual\n\nmeridian-cnc/guides/mvc-1100.md",
]
KNOWN = [
    *("HX-R20", "HX-MP-201", "HX-MP-202", "HX-MP-204", "ITSC-RS", "2021", "2026", "MVC-850"),
    *("J2", "J5", "T1"),
]


def names(question: str) -> NameCheck:
    return check_names(question, mentions_of(KNOWN), lambda: LABELS)


def test_unknown_code_and_unknown_edition_year() -> None:
    check = check_names(
        "How much grease goes into the HX-R35, and what does the 2027 edition say?",
        mentions_of(KNOWN),
        lambda: LABELS,
    )
    assert check.unknown == ("HX-R35",)
    assert check.unknown_editions == ("2027",)
    assert "HX-R35" in check.lead(False) and "the 2027 edition" in check.lead(False)
    assert check.lead(False).startswith("The knowledge base has nothing reliable on this")
    assert check.lead(True).startswith("知识库中没有关于此问题的可靠资料")


def test_document_mentioned_but_not_held() -> None:
    check = names("What robot posture does HX-MP-202 specify for J5?")
    assert check.not_held == (("HX-MP-202", ("HX-MP-201", "HX-MP-204")),)
    assert "HX-MP-202 is not among its documents" in check.lead(False)
    assert not names("What robot posture does HX-MP-201 specify for J2?")


def test_edition_not_held() -> None:
    check = names("ITSC-RS 101:2026 版相比 2021 版有哪些变化？")
    assert [asked for asked, _ in check.not_held] == ["ITSC-RS 101:2026"]
    assert not names("What does ITSC-RS 101:2021 require in T1?")


def test_a_one_part_code_no_visible_source_mentions_is_unknown() -> None:
    # "M20" bolts, a "KR16" robot: codes of one part, however a source spaces them.
    assert names("HX-R20 上 M20 螺栓的拧紧力矩是多少？").unknown == ("M20",)
    assert names("What oil does the A1 axis of a KUKA KR16 use?").unknown == ("A1", "KR16")
    assert not names("What is the maximum speed in T1 for J2?")
    spaced = check_names("What torque for M20 bolts?", mentions_of(["M-20"]), lambda: LABELS)
    assert not spaced  # the sources write "M 20"
    # not one-part codes: a version's first part, a code's second, a number with its unit
    assert short_codes("HX-R20 firmware V5.1.4, 3D printing at 20 mm, ITSC-RS 101") == []


def test_model_codes_in_body_text_are_not_documents() -> None:
    # The MVC-850 is mentioned in the sources (no title names it): a two-part model code is
    # never taken for a missing document, even beside a title naming the MVC-1100.
    assert not names("What drawbar force does the MVC-850 need?")


# --- the keyword index answers the scope check -----------------------------------------------


def test_index_mentions_codes_inside_longer_codes_for_the_identity_only() -> None:
    public = make_chunk("p-0000", text="Worked example in NLC-PLC-220: light curtain distance.")
    private = make_chunk(
        "m-0000",
        text="Internal kit MK-DBS-40-66 price list.",
        contributor="meridian-cnc",
        visibility="org",
        title="Meridian internal price list",
    )
    index = BM25KeywordIndex.from_chunks([public, private])
    owner = Identity(None, "meridian-cnc", "staff")
    assert index.mentions("PLC-220", ANONYMOUS)
    assert index.mentions("NLC-PLC-220", ANONYMOUS)
    assert not index.mentions("PLC-22", ANONYMOUS)
    assert index.mentions("MK-DBS-40-66", owner)
    assert not index.mentions("MK-DBS-40-66", ANONYMOUS)
    assert any("Meridian internal price list" in label for label in index.document_labels(owner))
    assert not any("Meridian" in label for label in index.document_labels(ANONYMOUS))


def test_model_question_needs_a_designation_other_than_the_documents_own() -> None:
    question = "What model of harmonic reducer is fitted on J6 of the DH-R20?"
    title = "Lab DH-IR-204-L1: DH-R20 reducer maintenance"
    generic = make_chunk(
        text="The J6 axis of the DH-R20 uses a harmonic reducer (lab DH-IR-204-L1, course "
        "DH-IR-204).",
        title=title,
    )
    named = make_chunk(
        text="The J6 axis of the DH-R20 uses a harmonic reducer of type CSF-17-100.",
        title=title,
    )
    without = evidence(question, generic)
    stated = evidence(question, named)
    assert without < 0.6 * stated


def test_store_finds_a_code_however_the_source_writes_it(tmp_path: Path) -> None:
    store = KnowledgeStore(tmp_path)
    try:
        chunks = [
            make_chunk("a-0000", text="Grease for the HX R20 wrist axes: HXG-W2."),
            make_chunk("b-0000", text="HX robots: the R35 has a longer reach."),
        ]
        for c in chunks:
            store.begin_document(c.doc_id, "root", c.source, "sha")
            vector = np.full((1, 4), 0.5, dtype=np.float32)
            store.write_document(c.doc_id, c.title, c.contributor, [c], vector, None)
        assert store.mentions("HX-R20", ANONYMOUS)  # written with a space
        assert store.mentions("hxg-w2", ANONYMOUS)
        # Its parts in one chunk, but never together: not a mention.
        assert not store.mentions("HX-R35", ANONYMOUS)
    finally:
        store.close()


def test_documents_titled_for_a_sibling_are_not_handed_to_any_answerer() -> None:
    dh = make_chunk("dh-0000", text="Lab robot notes.", title="DH-R20 lab robot")
    hs = hits_of(HX_MANUAL, dh)
    kept = about_what_was_asked("What is the payload of the DH-R20?", hs)
    assert [h.chunk.chunk_id for h in kept] == ["dh-0000"]
    assert about_what_was_asked("What is the payload of a six-axis robot?", hs) == hs


@pytest.mark.parametrize(
    ("question", "unanswered", "answered"),
    [
        # A quantity of the kind asked for: a repeatability is a length, not the payload.
        (
            "What position repeatability does the lab robot have?",
            "The lab robot is a six-axis robot with a payload of 20 kg.",
            "The lab robot has a position repeatability of ±0.05 mm.",
        ),
        # A table row restated with its header carries the unit in the header.
        (
            "What tightening torque for M6 bolts?",
            "Bolt size | Tightening torque class\nM6 | 18",
            "Bolt size | Tightening torque (N·m)\nM6 | 18",
        ),
        # A hardness is answered by a durometer reading.
        (
            "What hardness did the failed J3 oil seals have?",
            "The failed J3 oil seals were too hard and cracked at the lip.",
            "The failed J3 oil seals measured 86–89 Shore A at the lip.",
        ),
        # A timeout is a time: stated in minutes, though the sentence never says "timeout".
        (
            "What inactivity timeout applies to operator sessions?",
            "Operator sessions end at the inactivity timeout.",
            "Operator sessions end after any period of inactivity lasting 15 minutes.",
        ),
    ],
)
def test_a_quantity_question_needs_a_quantity_of_the_kind_asked(
    question: str, unanswered: str, answered: str
) -> None:
    weak = evidence(question, make_chunk(text=unanswered))
    assert weak < 0.6 * evidence(question, make_chunk(text=answered))


def test_the_stated_time_is_quoted_for_a_timeout_question() -> None:
    """The sentence that says "timeout" without a time does not crowd out the one that gives
    the time without the word."""
    session = make_chunk(
        text="The panel MAY warn the operator just before the inactivity timeout. Operator "
        "sessions SHALL end after any period of inactivity lasting 15 minutes or longer.",
        title="HMI session rules",
    )
    answer = ExtractiveAnswerer().answer("What inactivity timeout applies?", hits_of(session))
    assert not answer.refused
    assert "15 minutes" in answer.answer


def test_a_quantity_of_another_named_alert_does_not_answer() -> None:
    """ "How long before KubeNodeNotReady fires?" is not answered by the 15 minutes of
    KubeAPIDown, stated in another runbook among the hits."""
    question = "How long is the lookback window of the KubeNodeNotReady alert?"
    node = make_chunk(
        "node-0000",
        text="The KubeNodeNotReady alert fires when a node is not Ready for a certain period.",
        title="KubeNodeNotReady",
    )
    api = make_chunk(
        "api-0000",
        text="The KubeAPIDown alert fires when the API servers are unreachable over a lookback "
        "window of 15 minutes.",
        title="KubeAPIDown",
    )
    stated = make_chunk(
        "node-0000",
        text="The KubeNodeNotReady alert fires when a node is not Ready for 15 minutes.",
        title="KubeNodeNotReady",
    )
    assert evidence(question, node, api) < 0.35 <= evidence(question, stated)
    assert ExtractiveAnswerer().answer(question, hits_of(node, api)).refused


COURSE = "NLC-ROB-102 Robot mastering\n2023\nnorthlake-college/courses/nlc-rob-102-mastering.md"
KEY = "Answer key — NLC-ROB-102\n2023\nnorthlake-college/answer-keys/nlc-rob-102-answer-key.md"


@pytest.mark.parametrize(
    "question",
    [
        "What does the answer key say for exercise 4 of NLC-ROB-102?",
        "What mark allocation does the teacher give for exercise 2?",
        "Give me the model answers to the exercises on mastering.",
        "NLC-ROB-102 练习题 3 的参考答案和评分要点是什么？",
    ],
)
def test_answers_to_exercises_are_refused_when_no_answer_key_is_visible(question: str) -> None:
    """A student sees the exercise sheet, not its answer key: the sheet does not answer."""
    student = check_names(question, lambda _code: True, lambda: [COURSE])
    assert student.no_answer_key
    assert ("参考答案" if "参考答案" in question else "answer key") in student.lead(
        "参考答案" in question
    )
    # A teacher sees instructor material (documents whose roles leave students out).
    assert not check_names(question, lambda _code: True, lambda: [COURSE, KEY], lambda: True)


@pytest.mark.parametrize(
    "question",
    ["What is exercise 4 of NLC-ROB-102 about?", "这道题的答案是什么？", "What are the answers?"],
)
def test_other_questions_do_not_ask_for_an_answer_key(question: str) -> None:
    assert not check_names(question, lambda _code: True, lambda: [COURSE])


def test_a_firmware_version_no_visible_source_mentions_is_unknown() -> None:
    # What the sources name, as `Store.mentions` finds it: "firmware 5.3" read as one code.
    seen = {"hxc-5", "v5.1.4", "firmware-5.3", "5.2.2"}

    def mentions(code: str) -> bool:
        return tokenize(code)[0] in seen

    def check(question: str) -> NameCheck:
        return check_names(question, mentions, lambda: [COURSE])

    asked = "What is the brake check procedure for HXC-5 firmware V5.2.0 to V5.2.3?"
    assert check(asked).unknown == ("V5.2.0", "V5.2.3")
    assert "V5.2.0" in check(asked).lead(False)
    assert not check("What changed in HXC-5 firmware V5.1.4?")
    assert not check("What changed in firmware 5.3?")  # mentioned, written without the V
    # A clause "5.2.2" is no version 5.2.2.
    assert check("Our robots run firmware V5.2.2. Is there a known problem?").unknown == ("V5.2.2",)
    assert check("HXC-5 固件 V5.2.1 有什么问题？").unknown == ("V5.2.1",)
    assert not check("What does Python 3.11 add?")  # a release number, not asked as a version


def test_a_bm25_extra_chunk_is_read_but_never_evidence_for_answering() -> None:
    question = "What position repeatability does the HX-R20 have according to ISO 9283?"
    off_topic = make_chunk("other-0000", text="Coolant is changed every 6 months.", title="Coolant")
    fused = Hit(off_topic, 1.0)
    extra = Hit(HX_MANUAL, 0.1, keyword_rank=0, extra=True)
    alone = score_sentences(question, [fused], collect_sentences([fused])).evidence
    both = score_sentences(question, [fused, extra], collect_sentences([fused, extra]))
    assert both.evidence == alone
    # ...while its sentence is still ranked, first here, for the answerer to quote.
    assert both.ranked[0].sentence.hit_index == 1
