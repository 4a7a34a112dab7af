"""Out-of-scope questions are refused before any answerer runs; in-scope ones are not."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.answer.scope import check_kinds, check_scope
from assistant.registry import build_assistant
from assistant.settings import load_settings
from assistant.store import KnowledgeStore
from assistant.store.keyword import tokenize
from assistant.types import ANONYMOUS, Identity, Turn


def frequency_from(words: dict[str, int]) -> Any:
    """A document-frequency lookup over tokenized (stemmed) forms of `words`."""
    vocabulary = {token: n for word, n in words.items() for token in tokenize(word)}

    def frequency(terms: Iterable[str]) -> dict[str, int]:
        return {t: vocabulary.get(t, 0) for t in terms}

    return frequency


def test_share_is_weighted_by_the_question_terms() -> None:
    known = frequency_from({"grease": 4, "reducer": 2, "home": 3})
    scope = check_scope("sourdough starter at home", (), known)
    assert scope.unknown == ("sourdough", "starter")
    assert scope.unknown_share == pytest.approx(2 / 3)
    assert check_scope("grease for the reducer", (), known).unknown_share == 0.0


def test_identifier_parts_and_numbers_weigh_less_than_words() -> None:
    # "hx-r99" is unknown as a whole (weight 1) while its parts (0.3 each) are known.
    known = frequency_from({"grease": 1, "hx": 5, "r99": 0})
    scope = check_scope("grease HX-R99", (), known)
    assert scope.unknown[0] == "hx-r99"
    assert scope.unknown_share == pytest.approx((1 + 0.3) / (1 + 1 + 0.3 + 0.3))


def test_chinese_term_is_known_through_its_translation() -> None:
    # 润滑脂 (grease; jieba also yields 润滑, "lubrication") has no Chinese source, but its
    # translations occur in English ones.
    known = frequency_from({"grease": 7, "lubrication": 1})
    assert check_scope("润滑脂", (), known).unknown_share == 0
    only_grease = check_scope("润滑脂", (), frequency_from({"grease": 7}))
    assert only_grease.unknown == ("润滑",)


def test_earlier_turns_count_less_than_the_question() -> None:
    known = frequency_from({"torque": 3})
    history = [Turn("user", "sourdough"), Turn("assistant", "...")]
    scope = check_scope("torque", history, known)
    assert 0 < scope.unknown_share < 0.5


@pytest.fixture(scope="module")
def demo(demo_store_home: Path, embedder: Any) -> Iterator[dict[str, Any]]:
    settings = load_settings({"paths": {"home": demo_store_home}}, environ={})
    store = KnowledgeStore(demo_store_home)
    yield {"store": store, "assistant": build_assistant(settings, store, embedder)}
    store.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    ["How do I make a sourdough starter at home?", "How was the Ming dynasty founded?"],
)
@pytest.mark.parametrize("mode", ["ask", "procedure", "exercise"])
def test_out_of_scope_questions_are_refused_in_every_mode(
    demo: dict[str, Any], question: str, mode: str
) -> None:
    answer = demo["assistant"].ask(question, identity=ANONYMOUS, mode=mode)
    assert answer.refused
    assert answer.citations == ()
    assert any("occur in no source" in n for n in answer.notes)


@pytest.mark.slow
def test_in_scope_question_passes_the_gate(demo: dict[str, Any]) -> None:
    answer = demo["assistant"].ask(
        "How much grease goes into the J2 reducer of the HX-R20?",
        identity=Identity(None, "huaxin-robotics", "staff"),
    )
    assert not answer.refused
    assert not any("occur in no source" in n for n in answer.notes)


@pytest.mark.slow
def test_document_frequency_counts_only_what_the_identity_may_see(
    demo: dict[str, Any],
) -> None:
    # "durometer" occurs only in Huaxin's org-private warranty failure analysis.
    index = demo["store"].keyword_index()
    owner = Identity(None, "huaxin-robotics", "staff")
    other = Identity(None, "meridian-cnc", "staff")
    (term,) = tokenize("durometer")
    assert index.document_frequency([term], owner)[term] >= 1
    assert index.document_frequency([term], other)[term] == 0
    assert index.document_frequency([term], ANONYMOUS)[term] == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "identity", "missing"),
    [
        (
            "What robot posture does HX-MP-202 specify for injecting grease into J5?",
            Identity(None, "huaxin-robotics", "staff"),
            "HX-MP-202 is not among its documents",
        ),
        ("ITSC-RS 101:2026 版相比 2021 版有哪些变化？", ANONYMOUS, "2026 版"),
        ("How much grease goes into the J4 gearbox of the HX-R35?", ANONYMOUS, "HX-R35"),
    ],
)
def test_named_document_edition_or_model_the_sources_lack_is_refused(
    demo: dict[str, Any], question: str, identity: Identity, missing: str
) -> None:
    for mode in ("ask", "procedure"):
        answer = demo["assistant"].ask(question, identity=identity, mode=mode)
        assert answer.refused and answer.citations == ()
        assert missing in answer.answer


@pytest.mark.slow
def test_named_document_the_sources_hold_is_answered(demo: dict[str, Any]) -> None:
    answer = demo["assistant"].ask(
        "How much grease does HX-MP-201 specify for the J2 reducer?",
        identity=Identity(None, "huaxin-robotics", "staff"),
    )
    assert not answer.refused
    assert any("hx-mp-201" in c.source for c in answer.citations)


@pytest.mark.slow
def test_a_sibling_models_manual_is_not_among_the_sources(demo: dict[str, Any]) -> None:
    # The HX-R20 manual states a repeatability; the DH-R20's sources state none.
    answer = demo["assistant"].ask(
        "What position repeatability does the DH-R20 lab robot have according to ISO 9283?",
        identity=Identity(None, "donghai-polytechnic", "teacher"),
    )
    assert not any("hx-mm-r20" in h.chunk.source for h in answer.retrieved)
    assert "±0.05" not in answer.answer


def test_a_kind_of_value_no_passage_states_fails_the_kind_check() -> None:
    passages = [
        "Grease replacement J4–J6\nLubricant: HXG-W2 (NLGI 2); Quantity: 110 ml.",
        "Operating conditions\nThe cabinet is rated IP54 only with the door closed.",
    ]
    failed = check_kinds("What's the base oil viscosity of HXG-W2?", passages)
    assert failed is not None and failed.kinds[0].name == "viscosity"
    assert "states a viscosity" in failed.lead(chinese=False)
    assert "黏度" in failed.lead(chinese=True)
    assert check_kinds("HXC-5 控制柜要配多大容量的电源（kVA）？", passages) is not None
    # A value of the kind stated anywhere, in a table under its header's unit, or relative to a
    # rating passes: the check says nothing about which value answers.
    assert check_kinds("What IP rating does the cabinet have?", passages) is None
    table = "Tightening torques\nBolt | Tightening torque (N·m)\n--- | ---\nM6 | 15"
    assert check_kinds("What torque for the M6 bolts?", [table]) is None
    assert check_kinds("What torque for the M6 bolts?", passages) is not None
    relative = "The automatic test applies 120 % of the rated motor torque for 1 s."
    assert check_kinds("自动制动测试用多大的测试力矩？", [relative]) is None
    assert check_kinds("HX-R20 的 J1 轴最大速度是多少度每秒？", [relative]) is not None
    assert check_kinds("扭矩多大？", ["测试转矩为额定转矩的 150 %。"]) is None
    # However a source writes the value: in words, in other units, as a recurrence in minutes.
    for question, passage in (
        ("What coolant concentration does the lathe need?", "It needs 6 to 8 percent."),
        ("How often is the filter checked?", "Check the filter every 30 minutes."),
        ("What temperature may the oil reach?", "The oil may reach 150 °F."),
        ("What supply voltage does it take?", "It takes 230 volts AC."),
        ("What torque for the lid bolts?", "Tighten the lid bolts to 25 ft·lb."),
    ):
        assert check_kinds(question, [passage]) is None, question


def test_words_that_name_no_value_asked_fail_no_kind_check() -> None:
    passages = ["The J2 axis is mastered with the fixture."]
    for question in (
        "Why is the pressure switch there?",  # asks why
        "How accurate is fixture mastering compared to lining up the witness marks?",
        "You mention revenue from interest over the life of the loan; how is it taxed?",
    ):
        assert check_kinds(question, passages) is None, question


@pytest.mark.slow
def test_a_question_for_a_kind_of_value_no_source_gives_is_refused(demo: dict[str, Any]) -> None:
    # No document gives an electrical supply rating in kVA; the nearest passages are about the
    # HX-R20's controller and would otherwise be quoted.
    for question in (
        "How many kVA does the HXC-5 controller of an HX-R20 need from the mains?",
        "HX-R20 的 HXC-5 控制柜需要多少 kVA 的电源？",
    ):
        answer = demo["assistant"].ask(
            question, identity=Identity(None, "huaxin-robotics", "staff")
        )
        assert answer.refused and answer.citations == (), question
        assert "kVA" not in answer.answer.split(".")[0] or "电源" in question
        assert any("no passage retrieved states" in n for n in answer.notes)
