"""The query searched for a question: a follow-up made standalone from its conversation, a
Chinese question in English dictionary terms."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.answer.names import are_siblings
from assistant.answer.structure import codes
from assistant.translate import translate_terms
from assistant.types import Turn

_FOLLOW_UP = re.compile(
    r"^(and|also|what about|how about|what if|then|and the|same for|which|those|these|it|its|"
    r"they|that|this|there)\b|\b(it|its|they|them|those|these|that one|the same)\b|"
    r"\b(?:for|of|on|about|in|with|from)\s+(?:that|this)\s+\w+|"
    # "that" or "this" standing for what was said ("turn that into an exercise set", "is
    # this for 2024?"), not a noun's determiner ("this alarm").
    r"\b(?:that|this)(?=\s+(?:into|to|for|as|with|is|was|does|means?)\b|\s*[.?!,;:]|\s*$)|"
    r"\b(?:turn|make|use|put|explain|summari[sz]e|rewrite|convert|base)\s+(?:that|this)\b|"
    r"^(那|那么|还有|它|这个|那个|这些|那些|同样)|[呢吗]\s*[？?]?$",
    re.IGNORECASE,
)
# A question that only continues the one before it, by how it begins.
_CONTINUES = re.compile(
    r"^\s*(?:(?:and|also|what about|how about|what if|then|same for)\b|那么|那|还有)", re.IGNORECASE
)
# Codes of the last reply that a follow-up's search borrows, at most.
_REPLY_CODES = 4
# A question naming no code borrows, at most, the last codes of the user's last questions.
_CHAIN_BACK = 3
_SAID_CODES = 2


def standalone_query(question: str, history: Sequence[Turn]) -> str:
    """The retrieval query for a question in a conversation, without an LLM.

    A follow-up ("and what torque for the M8 ones?") borrows the previous user question, so that
    its subject is searched too, and the codes the reply to it named ("give me the steps for
    that inspection" after a reply that pointed to HX-MP-210); a self-contained question is
    searched as it is.
    """
    earlier = [t.content for t in history if t.role == "user" and t.content.strip()]
    if not earlier:
        return question
    words = re.findall(r"\w+", question)
    if _FOLLOW_UP.search(question.strip()) or len(words) <= 5:
        replies = [t.content for t in history if t.role == "assistant" and t.content.strip()]
        named = list(dict.fromkeys(codes(replies[-1])))[:_REPLY_CODES] if replies else []
        # "What about under severe duty?" names no subject of its own: the question it
        # followed up is borrowed too.
        chain = earlier[-2:] if len(earlier) > 1 and _CONTINUES.match(earlier[-1]) else earlier[-1:]
        # "那如果已经出现 E-3062 了呢？" after a question on E-3065 asks about E-3062 instead:
        # what the conversation said of a sibling of a code the question names is not searched.
        replaced = _replaced_codes(question, [*chain, *named])
        if replaced:
            chain = [replaced.sub(" ", q) for q in chain]
            named = [c for c in named if not replaced.fullmatch(c)]
        return " ".join([*chain, *named, question])
    # A question that names no model, part or document in a conversation that did ("How much
    # grease goes into J2?" after questions about the HX-R20) is about the one named last.
    said = [c for q in earlier[-_CHAIN_BACK:] for c in codes(q)]
    if said and not codes(question):
        return " ".join([question, *dict.fromkeys(said[-_SAID_CODES:])])
    return question


def _replaced_codes(question: str, said: Sequence[str]) -> re.Pattern[str] | None:
    """The codes of `said` that are siblings of one the question names (E-3065 for E-3062,
    HX-R20 for HX-R35), as one pattern; None where there are none."""
    asked = codes(question)
    old = {c for text in said for c in codes(text) if any(are_siblings(a, c) for a in asked)}
    if not old:
        return None
    alternatives = "|".join(re.escape(c) for c in sorted(old, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


def translated_query(query: str) -> str:
    """A Chinese query in English dictionary terms, its codes and Latin words kept ("" if none).

    "C305 切削液发臭是什么原因" → "C305 coolant cutting fluid smelly smell bad cause origin root".
    """
    english = translate_terms(query)
    if not english:
        return ""
    latin = re.findall(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*", query)
    return " ".join([*latin, *english])
