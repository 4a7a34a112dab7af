"""A question that sets sources side by side leads with each source's own statement."""

from __future__ import annotations

from dataclasses import replace

from assistant.answer.compared import compares, named_sources
from assistant.answer.extractive import ExtractiveAnswerer
from assistant.types import Hit
from tests.assistant.test_answer_lead import QueryScorer
from tests.factories import make_chunk

_STANDARD = (
    "6.2.2 Cables and dress pack shall be inspected every 2,000 operating hours. "
    "The inspection covers wear and damage."
)
_MANUAL = (
    "Inspect the dress pack every 5,000 operating hours. "
    "Arc welding applications: every 2,500 operating hours."
)
_COURSE = "Students check the dress pack during the lab. Record what you find in the log sheet."


def _hits() -> list[Hit]:
    return [
        Hit(
            make_chunk("std-0000", text=_STANDARD, title="ITSC-MS 310", contributor="itsc"),
            1.0,
        ),
        Hit(
            make_chunk(
                "crs-0000", text=_COURSE, title="Maintenance lab", contributor="northlake-college"
            ),
            0.9,
        ),
        Hit(
            make_chunk(
                "man-0000", text=_MANUAL, title="HX-R20 manual", contributor="huaxin-robotics"
            ),
            0.8,
        ),
    ]


def test_sources_are_named_by_contributor_or_by_acronym_where_compared() -> None:
    hits = _hits()
    assert named_sources("What do Huaxin and ITSC say about dress packs?", hits) == [
        "huaxin",
        "itsc",
    ]
    assert named_sources("Huaxin's interval for dress packs?", hits) == ["huaxin"]
    # an acronym no hit's contributor has names a source only where the question compares
    assert named_sources("Is the AMMA interval the same as ITSC's? They differ.", hits) == [
        "amma",
        "itsc",
    ]
    assert named_sources("What does the AMMA guide recommend?", hits) == []
    # a document code is not an organisation's name
    assert named_sources("Do DH-IR-204 and the MVC-850 manual differ?", hits) == []
    assert compares("ITSC 标准和 AMMA 的说法一样吗？")
    assert compares("The sources I have give different answers.")
    assert not compares("How often should dress packs be inspected?")


def test_each_named_source_leads_with_its_own_statement() -> None:
    # The model prefers the standard's two sentences; Huaxin's value answers too, but more
    # than `SUPPORT_LOGITS` below the best, and is not quoted unless the question names Huaxin.
    scorer = QueryScorer(
        {
            ("inspected", "2,000"): 5.0,
            ("inspected", "wear and damage"): 4.0,
            ("inspected", "5,000"): 1.0,
            ("inspected", "2,500"): 0.5,
            ("inspected", "lab"): -1.0,
        }
    )
    answerer = ExtractiveAnswerer(relevance=scorer, ask_sentences=2)
    plain = answerer.answer("How often should dress packs be inspected?", _hits(), mode="ask")
    assert "5,000" not in plain.answer
    got = answerer.answer(
        "How often should dress packs be inspected — Huaxin and ITSC don't seem to agree?",
        _hits(),
        mode="ask",
    )
    first, second = [s for s in got.answer.split("\n\n") if s][:2]
    assert first.startswith("Inspect the dress pack every 5,000 operating hours.")
    assert second.startswith("6.2.2 Cables and dress pack shall be inspected every 2,000")
    # one source named, nothing compared: what that source says leads
    got = answerer.answer(
        "How often should dress packs be inspected according to Huaxin?", _hits(), mode="ask"
    )
    assert got.answer.startswith("Inspect the dress pack every 5,000 operating hours.")
    # a source is heard only where the model reads its sentence as answering
    far = QueryScorer({("inspected", "2,000"): 5.0, ("inspected", "5,000"): -2.0})
    got = ExtractiveAnswerer(relevance=far, ask_sentences=2).answer(
        "Do Huaxin and ITSC agree on how often dress packs are inspected?", _hits(), mode="ask"
    )
    assert "5,000" not in got.answer


def test_a_named_source_stating_the_value_asked_is_heard_below_the_support_bar() -> None:
    # Read against a question that names the other source too, Huaxin's interval scores below
    # zero; set side by side, it is quoted because it states what was asked (an interval),
    # within `NAMED_LOGITS` of the best. Its course sentence states none and stays out.
    scorer = QueryScorer(
        {
            ("inspected", "2,000"): 5.0,
            ("inspected", "5,000"): -0.5,
            ("inspected", "lab"): -0.2,
        }
    )
    answerer = ExtractiveAnswerer(relevance=scorer, ask_sentences=2)
    got = answerer.answer(
        "How often should dress packs be inspected, Huaxin's or ITSC's interval?",
        _hits(),
        mode="ask",
    )
    first, second = [s for s in got.answer.split("\n\n") if s][:2]
    assert first.startswith("Inspect the dress pack every 5,000 operating hours.")
    assert second.startswith("6.2.2 Cables and dress pack shall be inspected every 2,000")
    assert "lab" not in got.answer
    # one source named, nothing compared: the support bar holds
    got = answerer.answer(
        "How often should dress packs be inspected according to Huaxin?", _hits(), mode="ask"
    )
    assert "5,000" not in got.answer


def test_sources_said_to_differ_lead_with_two_documents() -> None:
    scorer = QueryScorer(
        {
            ("inspected", "2,000"): 5.0,
            ("inspected", "wear and damage"): 4.5,
            ("inspected", "5,000"): 1.0,
        }
    )
    answerer = ExtractiveAnswerer(relevance=scorer, ask_sentences=2)
    got = answerer.answer(
        "How often should dress packs be inspected? My sources give different answers.",
        _hits(),
        mode="ask",
    )
    first, second = [s for s in got.answer.split("\n\n") if s][:2]
    assert first.startswith("6.2.2 Cables and dress pack shall be inspected every 2,000")
    assert second.startswith("Inspect the dress pack every 5,000 operating hours.")


def test_a_chinese_question_naming_sources_leads_with_each() -> None:
    hits = [
        Hit(
            make_chunk(
                "crs-0000",
                text="AMMA 建议中高负荷工况每 15000 小时更换润滑脂。若厂家周期更短，以厂家为准。",
                title="减速器润滑",
                contributor="donghai-polytechnic",
                language="zh",
            ),
            1.0,
        ),
        Hit(
            make_chunk(
                "cmp-0000",
                text="Item: Reducer grease; ITSC-MS 310: 20,000 h (clause 6.1.1); AMMA: 15,000 h.",
                title="AMMA BPG-07",
                contributor="amma",
            ),
            0.8,
        ),
    ]
    got = ExtractiveAnswerer().answer(
        "减速器润滑脂多久换一次？ITSC 标准和 AMMA 的说法一样吗？", hits, mode="ask"
    )
    assert not got.refused
    assert got.answer.startswith("Item: Reducer grease; ITSC-MS 310: 20,000 h")
    # a line that introduces a list is not quoted first, cut off from what it introduces
    lead_in = "ITSC 标准与 AMMA 减速器润滑脂更换周期多久对照："
    hits[1] = Hit(replace(hits[1].chunk, text=f"{lead_in}\n{hits[1].chunk.text}"), 0.8)
    got = ExtractiveAnswerer().answer(
        "减速器润滑脂多久换一次？ITSC 标准和 AMMA 的说法一样吗？", hits, mode="ask"
    )
    assert not got.answer.startswith(lead_in)
