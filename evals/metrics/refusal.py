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
