"""Evidence for the extractive modes: candidate sentences of the hits, scored against the question.

`sentences.collect_sentences` cuts the hits into candidate sentences (table rows restated with
their header); `score_sentences` ranks them by how much of the question they cover (`terms`), the
kind of answer they give (`kinds`) and the codes they name (`names`), and says how strongly the
evidence backs answering at all. What a refusal says lives in `refusals`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.answer.kinds import (
    QUANTITY_CUE,
    answer_type,
    asks_quantity,
    intent_cues,
)
from assistant.answer.limits import holds_value, stated_values
from assistant.answer.names import long_camel_names, missing_identifiers
from assistant.answer.sentences import Sentence
from assistant.answer.terms import (
    TRANSLATE_BELOW,
    TRANSLATED_TERM_WEIGHT,
    coverage,
    idf_weights,
    translated_alternatives,
)
from assistant.language import CJK
from assistant.store.keyword import tokenize
from assistant.types import Hit, Turn

# isort: split
# Re-exported for extractive/service (refusal_text for llm.py too; is_chinese is used here).
from assistant.answer.names import about_what_was_asked as about_what_was_asked
from assistant.answer.refusals import refusal_text as refusal_text
from assistant.answer.terms import is_chinese as is_chinese
from assistant.answer.terms import jaccard as jaccard

# isort: split
# Re-exported for the tests written before the split (test_answer, test_named_things), which
# the split did not edit (some are used here as well); new code imports them from their own
# modules.
from assistant.answer.names import are_siblings as are_siblings
from assistant.answer.names import edition_years as edition_years
from assistant.answer.names import named_codes as named_codes
from assistant.answer.names import sibling_conflicts as sibling_conflicts
from assistant.answer.refusals import nearest_topics as nearest_topics
from assistant.answer.terms import glossed_tokens as glossed_tokens
from assistant.answer.terms import query_terms as query_terms

Embed = Callable[[list[str]], np.ndarray]

INTENT_BOOST = 0.25
RANK_BOOST = 0.1
# Share of the best sentence's evidence kept when no sentence has the kind of answer asked for.
UNTYPED_EVIDENCE = 0.3
# How much a cross-language sentence's similarity counts as lexical evidence.
CROSS_LANGUAGE_FACTOR = 1.2
MISSING_IDENTIFIER_PENALTY = 0.5
# A sentence, or a whole document by its title, about a sibling of what the question names
# (the DH-R20 when it asks about the HX-R20, HX-MP-201 when it asks about HX-MP-202) counts
# this much of itself.
SIBLING_FACTOR = 0.3


def retrieval_signal(hits: Sequence[Hit]) -> list[float]:
    """How strongly retrieval backs each hit, in [0, 1].

    With the ranks the hybrid retriever records, a hit found by both dense and keyword search
    near the top scores high; one found only by the dense side (which always returns something,
    however unrelated) at most 0.5. Without ranks, position and relative score stand in.
    """
    if not hits:
        return []
    top = max(h.score for h in hits)

    def prior(rank: int | None) -> float:
        return 0.0 if rank is None else 1.0 / (1.0 + rank / 3.0)

    out = []
    for position, hit in enumerate(hits):
        if hit.dense_rank is None and hit.keyword_rank is None:
            relative = hit.score / top if top > 0 else 0.0
            out.append(0.5 / (1.0 + 0.5 * position) + 0.5 * max(0.0, relative))
        else:
            out.append(0.5 * prior(hit.dense_rank) + 0.5 * prior(hit.keyword_rank))
    return out


def embedding_similarity(
    embed: Embed | None,
    question: str,
    texts: Sequence[str],
    *,
    chinese: bool = False,
    across_only: bool = False,
) -> list[float | None]:
    """Cosine of the question with each text mapped to [0, 1] (0.3 or less → 0, 0.8 → 1).

    None for every text when there is no embedder, and for Chinese texts (or all, for a
    Chinese question) unless `chinese`: an English embedder's cosines there are noise. With
    `across_only`, None for texts in the question's language too (only those are embedded).
    """
    zh_question = is_chinese(question)
    if embed is None or not texts or (zh_question and not chinese):
        return [None] * len(texts)
    usable = [
        k
        for k, t in enumerate(texts)
        if (chinese or not is_chinese(t)) and not (across_only and is_chinese(t) == zh_question)
    ]
    out: list[float | None] = [None] * len(texts)
    if not usable:
        return out
    vectors = np.asarray(embed([question, *(texts[k] for k in usable)]), dtype=np.float32)
    for k, cosine in zip(usable, vectors[1:] @ vectors[0], strict=True):
        out[k] = float(min(1.0, max(0.0, (cosine - 0.3) / 0.5)))
    return out


def blend(lexical: float, similarity: float | None) -> float:
    """Lexical score with embedding similarity mixed in (70/30) where there is one."""
    return lexical if similarity is None else 0.7 * lexical + 0.3 * similarity


@dataclass(frozen=True)
class Scored:
    """A sentence with its relevance to the question."""

    sentence: Sentence
    score: float  # for ranking: support plus the hit's retrieval signal
    support: float  # how much of the question the sentence (in its chunk) covers, in [0, 1]
    match: float  # the sentence's own share of support: its coverage (and similarity)
    lexical: float  # support from question terms alone: what evidence is judged on
    sibling: bool = False  # about a sibling of a code the question names: never quoted
    # States the kind of answer the question asks for (a time for "how often"); None: no kind
    # asked.
    states_kind: bool | None = None
    # A range or limit of it holds a value the question states ("between 1 MΩ and 10 MΩ" for
    # "gave 4 MOhm"); None: no value stated, or no range or limit of its family.
    holds: bool | None = None


@dataclass(frozen=True)
class Scoring:
    """Every candidate sentence scored, best first, and the evidence for answering at all."""

    ranked: list[Scored]
    evidence: float
    signals: list[float]


# Identifier-like words of a question: upper-case codes and numbers (ITSC-ES, 602, MVC-850).
_CODE_WORD = re.compile(r"\b[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+\b|\b[A-Z]{2,}\d*\b|\b\d+\b")


def score_sentences(
    question: str,
    hits: Sequence[Hit],
    sentences: Sequence[Sentence],
    *,
    history: Sequence[Turn] = (),
    embed: Embed | None = None,
    embed_chinese: bool = False,
    translated_weight: float = TRANSLATED_TERM_WEIGHT,
    read: Sequence[float | None] | None = None,
) -> Scoring:
    """Score sentences against the question (and, weighted less, the last user turns).

    own = IDF-weighted coverage of the question terms by the sentence, terms found only in its
    title, section or contributor counting half (so do the codes the question names that are
    its document's own: "Document code: ITSC-ES 602." does not answer about ITSC-ES 602)
    (+0.25 when it states a cause or fix the question asks for); an English question's term
    found only among a Chinese sentence's dictionary glosses (CC-CEDICT) counts
    `translated_weight` of itself; for a Chinese question whose evidence is below
    `TRANSLATE_BELOW`, scored again with a Chinese term that an English sentence has only in
    translation counting `translated_weight` (0 turns translation off both ways), kept if its
    evidence is higher;
    lexical = 0.65 × own + 0.35 × coverage by the whole chunk, for a sentence in the other
    language than the question at least `CROSS_LANGUAGE_FACTOR` × its embedding similarity,
    or, where `read` gives one (`assistant.answer.across`), at least that probability, which
    then counts as its own too;
    match = own and support = lexical;
    a sentence naming a sibling of a code the question names (the DH-R20 for the HX-R20) keeps
    `SIBLING_FACTOR` of its lexical, match and support (whole documents titled for a sibling
    are left out before: `about_what_was_asked`);
    score = 0.8 × support + 0.2 × the hit's retrieval signal, + `RANK_BOOST` when the sentence
    states the kind of answer asked for, ± `RANK_BOOST` when its range or limit holds (or not)
    a value the question states (`assistant.answer.limits`);
    evidence = 0.8 × best lexical + 0.2 × best retrieval signal,
    where a question asking for a quantity (of the unit family it names, if any: a length for
    "what repeatability") or a model designation takes its best lexical from sentences that
    state one (else `UNTYPED_EVIDENCE` of the best). Within one language embeddings neither
    rank sentences nor decide refusals: similar topic is not an answer.
    """
    signals = retrieval_signal(hits)
    terms = query_terms(question, history)
    if not sentences or not terms:
        return Scoring([], 0.0, signals)
    idf = idf_weights(terms, [set(s.tokens) for s in sentences])
    # Who contributed a chunk is part of what it is about: "Donghai's lab", "at Jiangnan".
    heads = [
        set(tokenize(f"{h.chunk.title}\n{h.chunk.section}\n{h.chunk.contributor}")) for h in hits
    ]
    texts = [heads[i] | set(tokenize(h.chunk.text)) for i, h in enumerate(hits)]
    # The codes a question names that are its document's own (ITSC-ES 602 in "ITSC-ES 602
    # 对急停按钮有哪些要求"): they say which document, not what answers, so in that document's
    # sentences ("Document code: ITSC-ES 602.") they count as its title's words do.
    asked_codes = frozenset(tokenize(" ".join(_CODE_WORD.findall(question))))
    own_codes = [
        asked_codes & set(tokenize(h.chunk.title)) if asked_codes else asked_codes for h in hits
    ]
    # The embedder reads only sentences in the other language than the question, where no term
    # can match. Within one language its cosine ranked sentences worse than their terms (and,
    # for English, the cross-encoder) do (README, "Rules left beside the model").
    similarity = embedding_similarity(
        embed, question, [s.text for s in sentences], chinese=embed_chinese, across_only=True
    )
    read = read or [None] * len(sentences)
    intents = intent_cues(question)
    names = named_codes(question)
    wants = answer_type(question, names)
    quantity_asked = asks_quantity(question)
    camel_names = long_camel_names(question)

    decides = [not h.extra for h in hits]  # BM25's extras are quoted, never evidence
    chinese_hit = [
        bool(CJK.search(f"{h.chunk.title}{h.chunk.section}{h.chunk.text}")) for h in hits
    ]
    # Whether each sentence states the kind of answer asked for (None: no kind asked).
    kinds = [
        None if wants is None else wants(s.text, hits[s.hit_index].chunk.title) for s in sentences
    ]
    # Whether each sentence's range or limit holds a value the question states ("1,500 mg/kg
    # iron: normal?" asks which range holds it; None: no value stated, or no range or limit).
    stated = stated_values(question)
    holds = [holds_value(stated, s.text) for s in sentences]

    def rank(alts: Mapping[str, frozenset[str]], gloss: bool = False) -> Scoring:
        def cover(tokens: set[str] | frozenset[str], hit: int) -> float:
            glossed = glossed_tokens(tokens) if gloss and chinese_hit[hit] else frozenset()
            return coverage(terms, idf, tokens, alts, translated_weight, glossed)

        chunk_cov = [cover(t, i) for i, t in enumerate(texts)]
        ranked = []
        typed = []  # lexical support of the sentences that state the kind asked for
        best_counted = 0.0
        for s, sim, kind, held, probability in zip(
            sentences, similarity, kinds, holds, read, strict=True
        ):
            said = s.tokens - own_codes[s.hit_index]
            own = cover(said, s.hit_index)
            own += 0.5 * cover(heads[s.hit_index] - said, s.hit_index)
            if any(cue.search(s.text) for cue in intents):
                own = min(1.0, own + INTENT_BOOST)
            # Ranking only, never evidence: the kind of answer asked for (a quantity for a "how
            # much" question), and a range or limit holding the value the question states.
            prefer = 0.0
            if kind or (quantity_asked and QUANTITY_CUE.search(s.text)):
                prefer += RANK_BOOST
            if held is not None:  # its range or limit holds the value asked about, or not
                prefer += RANK_BOOST if held else -RANK_BOOST
            lexical = 0.65 * own + 0.35 * chunk_cov[s.hit_index]
            if probability is not None:  # read in the question's English words
                own, lexical = max(own, probability), max(lexical, probability)
            elif sim is not None:
                # Across languages no term can match: the multilingual similarity is evidence.
                lexical = max(lexical, CROSS_LANGUAGE_FACTOR * sim)
            support, match = lexical, own
            sibling = bool(sibling_conflicts(names, s.text))
            if sibling:
                # About the DH-R20 when the question asks about the HX-R20: not evidence.
                lexical, support, match = (SIBLING_FACTOR * v for v in (lexical, support, match))
            score = 0.8 * support + 0.2 * signals[s.hit_index] + prefer
            ranked.append(Scored(s, score, support, match, lexical, sibling, kind, held))
            # Retrieval's extra chunks are read; they are evidence only by what the
            # cross-encoder reads in them (a Chinese question's English extras), never by terms.
            counted = lexical if decides[s.hit_index] else min(lexical, probability or 0.0)
            best_counted = max(best_counted, counted)
            # "How much", "what model": a sentence without a number (or a code) does not answer,
            # nor does one in a chunk that never names the alert or function asked about.
            if kind and camel_names <= texts[s.hit_index] and counted > 0:
                typed.append(counted)
        ranked.sort(key=lambda x: (-x.score, x.sentence.hit_index, x.sentence.position))
        best = best_counted
        if wants is not None:
            best = max(max(typed, default=0.0), UNTYPED_EVIDENCE * best)
        evidence = 0.8 * best + 0.2 * max(
            (v for v, d in zip(signals, decides, strict=True) if d), default=0.0
        )
        if missing_identifiers(question, [h for h, d in zip(hits, decides, strict=True) if d]):
            evidence *= MISSING_IDENTIFIER_PENALTY
        return Scoring(ranked, evidence, signals)

    gloss = translated_weight > 0 and not is_chinese(question)
    scoring = rank({}, gloss=gloss)
    if translated_weight <= 0 or scoring.evidence >= TRANSLATE_BELOW:
        return scoring
    # Only to rescue a refusal: an answer the question's own terms support keeps its sentences.
    if is_chinese(question):
        alts = translated_alternatives(terms)
        translated = rank(alts) if alts else scoring
    else:
        return scoring
    return translated if translated.evidence > scoring.evidence else scoring
