"""Key facts: sentences of English and Chinese answers, lead and key-fact recall, wrong facts."""

from __future__ import annotations

from evals.metrics.facts import (
    answer_sentences,
    compile_pattern,
    key_fact_recall,
    lead,
    lead_recall,
    wrong_fact,
)


def _facts(*facts: list[str]) -> tuple[tuple, ...]:
    return tuple(tuple(compile_pattern(p) for p in fact) for fact in facts)


def test_english_sentences_without_markers() -> None:
    answer = (
        "The T1 limit is 250 mm/s [1]. It applies to the TCP, e.g. the flange too. [2] "
        "See clause 5.4.1 for details [1, 3]."
    )
    assert answer_sentences(answer) == [
        "The T1 limit is 250 mm/s.",
        "It applies to the TCP, e.g. the flange too.",
        "See clause 5.4.1 for details.",
    ]


def test_chinese_sentences_end_at_full_width_stops_not_semicolons() -> None:
    answer = "示教模式最高速度为250毫米/秒[1]。适用于TCP；也适用于法兰【2】！还有别的吗？不多。"
    assert answer_sentences(answer) == [
        "示教模式最高速度为250毫米/秒。",
        "适用于TCP；也适用于法兰！",
        "还有别的吗？",
        "不多。",
    ]


def test_lines_are_sentences_and_marker_lines_vanish() -> None:
    assert answer_sentences("Steps:\n1. Loosen the bolt [1].\n[2]\n- Check the torque.") == [
        "Steps:",
        "1. Loosen the bolt.",
        "Check the torque.",
    ]
    assert lead("One. Two [4]. Three.") == "One. Two."


def test_lead_recall_needs_every_fact_in_the_first_two_sentences() -> None:
    facts = _facts([r"250 ?mm/s", r"0\.25 ?m/s"], [r"\bTCP\b"])
    early = "The limit is 0.25 m/s [1]. It applies to the tcp [2]. Nothing else."
    late = "The limit is 250 mm/s [1]. It is monitored. It applies to the TCP [2]."
    assert lead_recall(early, facts) == 1.0 and key_fact_recall(early, facts) == 1.0
    assert lead_recall(late, facts) == 0.0 and key_fact_recall(late, facts) == 1.0
    assert key_fact_recall("The limit is 250 mm/s.", facts) == 0.5
    assert lead_recall("I cannot answer that from the knowledge base.", facts) == 0.0


def test_lead_recall_in_chinese() -> None:
    facts = _facts(["250 ?毫米/秒", "250 ?mm/s"], ["法兰"])
    assert lead_recall("最高速度为250毫米/秒[1]。也适用于法兰[2]。", facts) == 1.0
    assert lead_recall("这是背景。最高速度为250毫米/秒[1]。也适用于法兰[2]。", facts) == 0.0


def test_wrong_fact_only_counts_in_the_lead() -> None:
    wrong = (compile_pattern(r"\b84 ?N·?m"),)
    assert wrong_fact("Torque is 84 N·m [1]. Dry threads.", wrong) == 1.0
    assert wrong_fact("Torque is 71 N·m [1]. Oiled threads. Huaxin says 84 N·m.", wrong) == 0.0
    assert wrong_fact("", wrong) == 0.0
