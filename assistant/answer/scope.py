"""Is a question about something the knowledge base covers at all?

Retrieval always returns *something*, and a sentence that shares one common word with the
question ("home" in "a sourdough starter at home") can look like evidence. A question whose
main words occur in no chunk the asker may see is out of scope, whatever the nearest chunks say:
that is decided before any answerer runs, so the extractive and the generative paths refuse
alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from assistant.answer.evidence import query_terms, translated_alternatives
from assistant.types import Turn

# Document frequency of tokenized terms among the chunks the asker may see.
DocumentFrequency = Callable[[Iterable[str]], Mapping[str, int]]


@dataclass(frozen=True)
class ScopeCheck:
    unknown_share: float  # weighted share of the question's content terms found nowhere
    unknown: tuple[str, ...]  # those terms, heaviest first

    def note(self) -> str:
        words = ", ".join(self.unknown[:5])
        return f"{self.unknown_share:.0%} of the question's key terms occur in no source ({words})"


def check_scope(question: str, history: Sequence[Turn], frequency: DocumentFrequency) -> ScopeCheck:
    """How much of the question (by term weight) the visible knowledge base never mentions.

    A Chinese term counts as known when it, or one of its dictionary translations, occurs: the
    English sources answer Chinese questions too.
    """
    terms = query_terms(question, history)
    if not terms:
        return ScopeCheck(0.0, ())
    alternatives = translated_alternatives(terms)
    lookup = set(terms) | {t for alts in alternatives.values() for t in alts}
    df = frequency(lookup)
    total = sum(terms.values())
    unknown = [
        t
        for t in terms
        if not df.get(t, 0) and not any(df.get(a, 0) for a in alternatives.get(t, ()))
    ]
    unknown.sort(key=lambda t: -terms[t])
    share = sum(terms[t] for t in unknown) / total if total else 0.0
    return ScopeCheck(share, tuple(unknown))
