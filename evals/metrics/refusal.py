"""Refusal metrics: refusing unanswerable items is right, refusing answerable ones is wrong."""

from __future__ import annotations

from collections.abc import Iterable


def refusal_metrics(outcomes: Iterable[tuple[bool, bool]]) -> dict[str, float | None]:
    """Refusal precision and recall over unanswerable items, and the wrongful refusal rate.

    Args:
        outcomes: (answerable, refused) per item.

    Returns:
        `refusal_precision` (refusals that were of unanswerable items), `refusal_recall`
        (unanswerable items refused), `wrongful_refusal_rate` (answerable items refused);
        None where the denominator is empty.
    """
    pairs = list(outcomes)
    refused = [answerable for answerable, r in pairs if r]
    unanswerable = [r for answerable, r in pairs if not answerable]
    answerable = [r for a, r in pairs if a]

    def share(hits: int, total: int) -> float | None:
        return hits / total if total else None

    return {
        "refusal_precision": share(sum(not a for a in refused), len(refused)),
        "refusal_recall": share(sum(unanswerable), len(unanswerable)),
        "wrongful_refusal_rate": share(sum(answerable), len(answerable)),
    }


OUTCOMES = ("answer", "refusal", "clarification")


def class_figures(rows: Iterable[tuple[str | None, str]]) -> dict[str, float]:
    """The figure that matters for each answerability class present, by outcome.

    Args:
        rows: (answerability, outcome) per item; outcome is answer | refusal | clarification.

    Returns:
        `wrongful_refusal_rate[ANSWERABLE]` and `[PARTIAL]` (refused although the sources hold an
        answer, or part of one), `refusal_rate[UNANSWERABLE]` (refused, as they should be),
        `clarification_rate[UNDERSPECIFIED]` and `clarify_or_refuse_rate[UNDERSPECIFIED]` (asked
        back, or at least not answered a guess); classes without items are left out.
    """
    by_class: dict[str, list[str]] = {}
    for label, outcome in rows:
        if label:
            by_class.setdefault(label, []).append(outcome)
    out: dict[str, float] = {}
    for label, outcomes in sorted(by_class.items()):
        n = len(outcomes)
        refused = sum(o == "refusal" for o in outcomes) / n
        if label in ("ANSWERABLE", "PARTIAL"):
            out[f"wrongful_refusal_rate[{label}]"] = refused
        elif label == "UNANSWERABLE":
            out[f"refusal_rate[{label}]"] = refused
        elif label == "UNDERSPECIFIED":
            clarified = sum(o == "clarification" for o in outcomes) / n
            out[f"clarification_rate[{label}]"] = clarified
            out[f"clarify_or_refuse_rate[{label}]"] = clarified + refused
    return out


def outcome_fits(answerability: str, outcome: str) -> bool:
    """Whether the outcome is the right reply to an item of this answerability class."""
    if answerability in ("ANSWERABLE", "PARTIAL"):
        return outcome == "answer"
    if answerability == "UNANSWERABLE":
        return outcome == "refusal"
    return outcome in ("clarification", "refusal")
