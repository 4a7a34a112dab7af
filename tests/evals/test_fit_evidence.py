"""The evidence-threshold fit reads what the answerer measured and scores refusals both ways."""

from __future__ import annotations

from evals.fit_evidence import evidence_of, figures, lexical_decides


def test_evidence_is_read_from_the_answer_notes() -> None:
    assert evidence_of(("evidence 0.31 (threshold 0.28)", "no numbered steps")) == 0.31
    assert evidence_of(("no source mentions the 2026 edition",)) is None


def test_only_items_the_model_does_not_decide_are_fitted() -> None:
    assert lexical_decides({"lang": "zh", "mode": "ask"})
    assert lexical_decides({"lang": "en", "mode": "procedure"})
    assert not lexical_decides({"lang": "en", "mode": "ask"})


def test_figures_count_fixed_refusals_and_refusals_below_the_threshold() -> None:
    rows = [
        {"answerable": True, "evidence": 0.5, "fixed": False},
        {"answerable": True, "evidence": 0.2, "fixed": False},  # wrongly refused at 0.3
        {"answerable": False, "evidence": 0.25, "fixed": False},  # refused at 0.3
        {"answerable": False, "evidence": None, "fixed": True},  # a scope rule refused it
        {"answerable": False, "evidence": 0.6, "fixed": False},  # answered: a miss
    ]
    got = figures(rows, 0.3)
    assert got == {"n": 5, "wrongful_refusals": 0.5, "unanswerable_refused": 0.667}
