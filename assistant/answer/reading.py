"""How the extractive answerer reads sentences with the cross-encoder and picks an answer's
sentences by relevance to the question: each sentence alone and after its chunk's title, together
with the sentence before it, a list whole; the clear winner or the sentence of the kind asked for
leads, then only what nearly as relevant supports it."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from assistant.answer.answerability import Scorer
from assistant.answer.compared import side_by_side
from assistant.answer.evidence import Scored, jaccard
from assistant.answer.kinds import asks_formula, asks_quantity
from assistant.answer.lists import QuotedList, quotable_lists
from assistant.answer.sentences import Sentence, refers_back, with_units, works_out
from assistant.answer.terms import defines, question_parts
from assistant.store.keyword import tokenize
from assistant.types import Hit

# Sentences the cross-encoder reads (the lexical ranking's best), and the weight of the
# lexical score beside its probability. A sentence after the lead must itself answer (logit at
# least `SUPPORT_MIN_LOGIT`) and nearly as well (within `SUPPORT_LOGITS` of the lead): a
# neighbouring fact (the bracket's torque beside the cover's) is not support.
RELEVANCE_POOL = 40
LEXICAL_SHARE = 0.25
SUPPORT_MIN_LOGIT = 0.0
SUPPORT_LOGITS = 3.0
# A named source's sentence that states the kind of value asked for, where the question sets
# named sources side by side, is quoted within this many logits of the best sentence
# (`compared.side_by_side`).
NAMED_LOGITS = 2 * SUPPORT_LOGITS
# A formula, where the question asks how a value is worked out, leads within this many logits
# of the best sentence (`_kind_first`).
FORMULA_LOGITS = 2 * SUPPORT_LOGITS
# A sentence is also read together with the one before it in its paragraph ("Measure the
# insulation resistance with 500 V DC. The value shall be at least 10 MΩ."); where the two
# answer better than either alone by this many logits, the pair's logit is the sentence's and
# the sentence before is quoted with it.
PAIR_LOGITS = 1.0
# A list is read whole too (`lists.quotable_lists`): the sentence that introduces it ("Preload
# methods:") with all its items. Where the whole answers better than any of its sentences alone
# (by `PAIR_LOGITS`), it is quoted as one sentence, its items joined by semicolons ("What are
# the ways to preload a ball nut?" is answered by the three ways, not by the first); so too
# where its items read alike and the whole reads within `LIST_SLACK` of the best of them.
LIST_SLACK = 0.5
# The cross-encoder's preference that the lexical share cannot overrule (`_clear_winner_first`):
# the margin at which reading two sentences together counts as better, the one value measured.
CLEAR_LOGITS = PAIR_LOGITS


# A table row whose first cell (the row's key: "Axis: J1") the question names gains this much
# (`_names_row`): rows of one table read alike to the cross-encoder, whose near-equal
# probabilities saturate ("Axis: J3; …; Quantity to inject: 520 ml" led a question about J1).
ROW_KEY_SHARE = 0.05


def _names_row(s: Sentence, asked: frozenset[str]) -> bool:
    """Whether `s` is a table row whose key the question names."""
    key = set(tokenize(s.row_key or ""))
    return bool(key) and key <= asked


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, x))))


def _in_context(s: Sentence, hits: list[Hit]) -> str:
    """A sentence as the cross-encoder reads it: after its chunk's title and section, so that
    "Replace it every 12 months." is read as about what the document is about, and after the
    question it answers where the source asks one right before it in its paragraph ("1. Why
    did MC-07 stop? The Y-axis motor current reached the limit …": a sentence that asks is
    never quoted, but it says what the one after it answers)."""
    chunk = hits[s.hit_index].chunk
    head = " — ".join(p for p in (chunk.title, chunk.section.split(" > ")[-1]) if p)
    text = f"{s.asked} {s.text}".strip()
    return f"{head}: {text}" if head else text


def _clear_winner_first(ranked: list[Scored], logit: dict[int, float]) -> list[Scored]:
    """`ranked` with the sentence the cross-encoder scores highest first, when it scores it at
    least `CLEAR_LOGITS` above the lead. Among confident sentences the probabilities saturate
    and the lexical score decides, which must not overrule a clear preference of the model: a
    list read whole (logit 7.0) led by a sentence that only says the nut is preloaded (5.1).
    Only for a question read as it is: a follow-up's query carries the earlier question too, and
    the model may prefer the earlier answer ("and what B for 1,500 mm of travel?" led with the
    compensation limit the previous reply gave)."""
    if not ranked:
        return ranked
    top = max(ranked, key=lambda x: logit[id(x)])
    if logit[id(top)] < logit[id(ranked[0])] + CLEAR_LOGITS or _among_rows(top, ranked, logit):
        return ranked
    return [top, *(x for x in ranked if x is not top)]


def _among_rows(top: Scored, ranked: list[Scored], logit: dict[int, float]) -> bool:
    """Whether `top` is a table row that another row of its table scores nearly as well
    (within `SUPPORT_LOGITS`, as a sentence supporting it would): the cross-encoder then
    prefers the table, whose header says what was asked ("Tightening torque (N·m)"), not that
    row ("Battery box bracket" led a question on the battery box cover's screws)."""
    s = top.sentence
    if s.row_key is None:
        return False
    return any(
        x is not top
        and x.sentence.hit_index == s.hit_index
        and x.sentence.row_key is not None
        and logit[id(x)] >= logit[id(top)] - SUPPORT_LOGITS
        for x in ranked
    )


def _promoted(
    ranked: list[Scored],
    logit: dict[int, float],
    wanted: Callable[[Scored], bool],
    margin: float = SUPPORT_LOGITS,
) -> list[Scored]:
    """`ranked` with the sentence `wanted` picks that the cross-encoder scores highest first,
    of those it reads as relevant (logit at least `SUPPORT_MIN_LOGIT` and within `margin` of
    the best); unchanged when it finds none."""
    top = max(logit[id(x)] for x in ranked)
    bar = max(SUPPORT_MIN_LOGIT, top - margin)
    picked = [x for x in ranked if wanted(x) and logit[id(x)] >= bar]
    if not picked:
        return ranked
    lead = max(picked, key=lambda x: logit[id(x)])
    return [lead, *(x for x in ranked if x is not lead)]


def _kind_first(
    ranked: list[Scored], logit: dict[int, float], margin: float = SUPPORT_LOGITS
) -> list[Scored]:
    """`ranked` with the sentence that states the kind of answer asked for (a time for "how
    often", a torque for "what torque") first, when the lead does not (`_promoted`). Among
    confident sentences the probabilities saturate and the lexical score decides, which put
    "replacing it at the specified interval is the most effective measure" before the interval
    itself."""
    if not ranked or ranked[0].states_kind is not False:
        return ranked
    return _promoted(ranked, logit, lambda x: bool(x.states_kind), margin)


def _holding_first(ranked: list[Scored], logit: dict[int, float]) -> list[Scored]:
    """`ranked` with the sentence whose range or limit holds the value the question states
    first ("Values between 1 MΩ and 10 MΩ require the harness to be replaced at the next
    planned stop" for "it gave 4 MOhm, can the robot keep running?"), when the lead's does not
    (`_promoted`): the cross-encoder reads the measuring step, which repeats the question's
    words, as better."""
    if not ranked or ranked[0].holds:
        return ranked
    return _promoted(ranked, logit, lambda x: bool(x.holds))


def _before_in_paragraph(
    s: Sentence, by_position: dict[tuple[int, int], Sentence]
) -> Sentence | None:
    """The sentence before `s` in its paragraph (same chunk, same line), if any."""
    before = by_position.get((s.hit_index, s.position - 1))
    return before if before is not None and before.line == s.line else None


def _referred_to(s: Sentence, by_position: dict[tuple[int, int], Sentence]) -> Sentence | None:
    """The sentence before `s` in its paragraph when `s` leans on it ("… of this amount")."""
    return _before_in_paragraph(s, by_position) if refers_back(s.text) else None


def _leads_on(s: Sentence, nxt: Sentence) -> bool:
    """Whether `s` is not whole without `nxt`: it introduces it ("Use grease:") or is a clause
    its semicolon cuts off from the rest of its sentence ("…正常工况下不超过 20000 运行小时或 4
    年；" before "严苛工况下为 10000 运行小时或 2 年。")."""
    return s.lead_in or (s.text.rstrip().endswith((";", "；")) and nxt.line == s.line)


@dataclass(frozen=True)
class Pick:
    scored: Scored
    context: bool = False  # taken because the sentence before it leads into it
    shown: str | None = None  # the text quoted, when not the sentence's own (a whole list)
    logit: float | None = None  # the cross-encoder's reading of an answer it chose

    @property
    def s(self) -> Sentence:
        return self.scored.sentence

    @property
    def text(self) -> str:
        """What is quoted: table rows with their units after their values (`with_units`)."""
        return with_units(self.shown if self.shown is not None else self.scored.sentence.text)


def select_by_relevance(
    relevance: Scorer,
    question: str,
    query: str,
    usable: list[Scored],
    sentences: list[Sentence],
    hits: list[Hit],
    *,
    ask_sentences: int,
    redundancy: float,
) -> list[Pick]:
    """The sentence that best answers `query` first, then up to `ask_sentences - 1` that
    support or qualify it (each nearly as relevant, none redundant), each followed by the
    line it leads into ("Use grease:" before the grease's name) or the rest of the sentence
    its semicolon cut it from.

    A question that sets sources side by side ("Huaxin and ITSC don't seem to agree?") leads
    with each one's best answer (`assistant.answer.compared`). A question that asks two things
    ("How is BPFO calculated, and what value did the example get?") leads with the best
    answer to each, in the order asked, so that one
    part's answer does not crowd out the other's. A sentence whose words overlap a chosen
    one's by `redundancy` (token Jaccard) or more is left out.
    """
    pool = usable[:RELEVANCE_POOL]
    texts = [_in_context(x.sentence, hits) for x in pool]
    logits = relevance.score(query, texts)
    logit = {id(x): float(v) for x, v in zip(pool, logits, strict=True)}
    following = {(s.hit_index, s.position): s for s in sentences}
    leans = _read_with_before(relevance, query, pool, following, hits, logit)
    whole = _read_lists(relevance, query, pool, sentences, hits, logit)
    asked = frozenset(tokenize(question))
    value = {
        id(x): sigmoid(logit[id(x)])
        + LEXICAL_SHARE * x.score
        + ROW_KEY_SHARE * _names_row(x.sentence, asked)
        for x in pool
    }
    ranked = sorted(pool, key=lambda x: -value[id(x)])
    if query == question:  # a follow-up's query carries the earlier question too
        ranked = _clear_winner_first(ranked, logit)
    # The cross-encoder reads a worked step ("S = 1600 × 0.446 + 128 = 842 mm") as a better
    # answer to "how is it calculated" than the formula; a formula leads from further below.
    ranked = _kind_first(
        ranked, logit, FORMULA_LOGITS if asks_formula(question) else SUPPORT_LOGITS
    )
    ranked = _holding_first(ranked, logit)
    floor = max(SUPPORT_MIN_LOGIT, logit[id(ranked[0])] - SUPPORT_LOGITS)
    quantity = asks_quantity(question)
    pooled = {id(x.sentence): x for x in pool}
    chosen: list[Pick] = []
    quoted: set[int] = set()  # ids of the sentences quoted, a whole list's members too

    def take(x: Scored) -> bool:
        lead = not chosen
        if id(x.sentence) in quoted or any(
            jaccard(set(x.sentence.words), set(p.s.words)) >= redundancy for p in chosen
        ):
            return False
        listed = whole.get(id(x.sentence))
        if listed is not None:
            chosen.append(Pick(x, shown=listed.text, logit=logit[id(x)]))
            quoted.update(id(m) for m in listed.members)
            return True
        nxt = following.get((x.sentence.hit_index, x.sentence.position + 1))
        if x.sentence.lead_in and nxt is None:
            return False  # "You will be able to:" before what cannot be quoted
        before = leans.get(id(x.sentence)) or _referred_to(x.sentence, following)
        if before is not None and id(before) not in quoted:
            chosen.append(Pick(replace(x, sentence=before), context=True))
            quoted.add(id(before))
        chosen.append(Pick(x, logit=logit[id(x)]))
        quoted.add(id(x.sentence))
        if nxt is not None and _leads_on(x.sentence, nxt) and id(nxt) not in quoted:
            chosen.append(Pick(replace(x, sentence=nxt), context=True))
            quoted.add(id(nxt))
        elif lead and quantity and works_out(x.sentence, nxt) and id(nxt) not in quoted:
            # The lead states a worked example's givens: the step working out the value asked
            # follows, where the cross-encoder reads it as answering too.
            step = pooled.get(id(nxt))
            if step is not None and logit[id(step)] >= SUPPORT_MIN_LOGIT:
                chosen.append(Pick(step, context=True))
                quoted.add(id(nxt))
        return True

    lead_logit = max(logit.values())
    for x in side_by_side(
        question,
        ranked,
        hits,
        lambda x: logit[id(x)] >= SUPPORT_MIN_LOGIT,
        lambda x: bool(x.states_kind) and logit[id(x)] >= lead_logit - NAMED_LOGITS,
    ):
        take(x)
    for part in question_parts_of(question, query):
        part_logits = [float(v) for v in relevance.score(part, texts)]
        best = max(range(len(pool)), key=lambda i: part_logits[i] + LEXICAL_SHARE * pool[i].score)
        if part_logits[best] < SUPPORT_MIN_LOGIT:
            continue
        # "What is B?" of a difference asked: the sentence that defines B, if one nearly as
        # relevant does, rather than one that only uses it.
        bar = max(SUPPORT_MIN_LOGIT, part_logits[best] - SUPPORT_LOGITS)
        defining = [
            i
            for i, x in enumerate(pool)
            if part_logits[i] >= bar and defines(x.sentence.text, part)
        ]
        take(pool[max(defining, key=lambda i: part_logits[i])] if defining else pool[best])
    for x in ranked:
        if len([p for p in chosen if not p.context]) >= ask_sentences:
            break
        if chosen and logit[id(x)] < floor:
            continue
        take(x)
    return chosen


def _read_with_before(
    relevance: Scorer,
    query: str,
    pool: list[Scored],
    following: dict[tuple[int, int], Sentence],
    hits: list[Hit],
    logit: dict[int, float],
) -> dict[int, Sentence]:
    """Raise to the pair's logit each pooled sentence that answers `query` better together
    with the sentence before it in its paragraph than either does alone (by `PAIR_LOGITS`),
    and return those sentences' ids with the sentence to quote before them. A sentence that
    itself leans on an earlier one cannot be that context: its own antecedent is missing.
    """
    pairs: list[tuple[Scored, Sentence]] = []
    for x in pool:
        before = _before_in_paragraph(x.sentence, following)
        if before is not None and not refers_back(before.text):
            pairs.append((x, before))
    if not pairs:
        return {}
    # The sentence before, alone, is read once (most are in the pool already).
    read = {id(x.sentence): logit[id(x)] for x in pool}
    unread = list({id(b): b for _, b in pairs if id(b) not in read}.values())
    together = [f"{_in_context(b, hits)} {x.sentence.text}" for x, b in pairs]
    scores = [
        float(v) for v in relevance.score(query, together + [_in_context(b, hits) for b in unread])
    ]
    read.update((id(b), v) for b, v in zip(unread, scores[len(pairs) :], strict=True))
    leans: dict[int, Sentence] = {}
    for (x, before), pair in zip(pairs, scores[: len(pairs)], strict=True):
        if pair >= max(logit[id(x)], read[id(before)]) + PAIR_LOGITS:
            logit[id(x)] = pair
            leans[id(x.sentence)] = before
    return leans


def _reads_whole(value: float, members: list[float]) -> bool:
    """Whether a list is quoted whole, read by the cross-encoder as `value` whole and as
    `members` by its pooled sentences: where the whole answers better than any of them (by
    `PAIR_LOGITS`), or where it answers (`SUPPORT_MIN_LOGIT`) about as well as the best of them
    (within `LIST_SLACK`) and no item stands out (the best two within `CLEAR_LOGITS`), the list
    answering as a set ("When does a root-cause analysis have to be done?": five triggers read
    alike, each a part of the answer)."""
    ranked = sorted(members, reverse=True)
    if value >= ranked[0] + PAIR_LOGITS:
        return True
    alike = len(ranked) > 1 and ranked[0] - ranked[1] < CLEAR_LOGITS
    return alike and value >= max(SUPPORT_MIN_LOGIT, ranked[0] - LIST_SLACK)


def _read_lists(
    relevance: Scorer,
    query: str,
    pool: list[Scored],
    sentences: list[Sentence],
    hits: list[Hit],
    logit: dict[int, float],
) -> dict[int, QuotedList]:
    """Raise to the whole list's logit each pooled sentence of a list (`quotable_lists`) that
    answers `query` whole (`_reads_whole`), and return those sentences' ids with their list, to
    be quoted whole."""
    pooled = {id(x.sentence): x for x in pool}
    candidates = [
        (lst, [pooled[id(m)] for m in lst.members if id(m) in pooled])
        for lst in quotable_lists(sentences, hits)
    ]
    candidates = [(lst, members) for lst, members in candidates if members]
    if not candidates:
        return {}
    texts = [
        _in_context(replace(lst.members[0], text=lst.text, asked=""), hits) for lst, _ in candidates
    ]
    whole: dict[int, QuotedList] = {}
    for (lst, members), value in zip(candidates, relevance.score(query, texts), strict=True):
        if not _reads_whole(float(value), [logit[id(x)] for x in members]):
            continue
        for x in members:
            logit[id(x)] = max(logit[id(x)], float(value))
            whole.setdefault(id(x.sentence), lst)
    return whole


def question_parts_of(question: str, query: str) -> list[str]:
    """The separate questions asked, each with what the standalone query borrowed from the
    conversation; none when the question asks one thing."""
    parts = question_parts(question)
    if len(parts) < 2:
        return []
    borrowed = query[: -len(question)].strip() if query.endswith(question) else ""
    return [f"{borrowed} {p}".strip() for p in parts]
