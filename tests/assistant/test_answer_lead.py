"""An ask-mode answer leads with what answers each part of the question, and a sentence that
leans on the one before it is quoted with it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.material import is_task_prompt
from assistant.answer.sentences import collect_sentences, refers_back
from assistant.answer.terms import question_parts
from assistant.types import Hit, Turn
from tests.factories import make_chunk


class QueryScorer:
    """A cross-encoder stand-in: a passage's logit is that of the first (query words, passage
    words) pair, in the order given, that both contain, else `default`."""

    def __init__(self, logits: dict[tuple[str, str], float], default: float = -6.0) -> None:
        self.logits = logits
        self.default = default

    def score(self, query: str, passages: Sequence[str], batch_size: int = 16) -> np.ndarray:
        out = []
        for p in passages:
            found = [v for (q, w), v in self.logits.items() if q in query and w in p]
            out.append(found[0] if found else self.default)
        return np.array(out, dtype=np.float32)


def _hit(text: str, section: str = "Battery") -> list[Hit]:
    return [Hit(make_chunk("d0-0000", text=text, title="HX-R20 manual", section=section), 1.0)]


def test_a_question_is_split_where_it_asks_a_second_thing() -> None:
    assert question_parts(
        "How is BPFO calculated, and what value did the example get for the 7014 bearing?"
    ) == ["How is BPFO calculated", "what value did the example get for the 7014 bearing?"]
    assert question_parts("实验里排压运转要转多久？J2 轴在什么角度范围内来回动？") == [
        "实验里排压运转要转多久",
        "J2 轴在什么角度范围内来回动？",
    ]
    assert question_parts(
        "How much grease goes into the HX-R20 J1 reducer and at what pressure?"
    ) == ["How much grease goes into the HX-R20 J1 reducer", "at what pressure?"]
    # one question: "and" between nouns, or a part too short to stand alone
    assert question_parts("What is the torque for M8 and M10 screws?") == [
        "What is the torque for M8 and M10 screws?"
    ]
    assert question_parts("Which method does the key expect, and why?") == [
        "Which method does the key expect, and why?"
    ]


def test_a_comparison_asks_about_each_thing_compared() -> None:
    assert question_parts(
        "How accurate is fixture mastering compared to lining up the witness marks?"
    ) == ["How accurate is fixture mastering?", "How accurate is lining up the witness marks?"]
    assert question_parts("What limit should I teach, ITSC's or Meridian's?") == [
        "What limit should I teach, ITSC's?",
        "What limit should I teach, Meridian's?",
    ]
    # which of two holds is one question, not a comparison
    assert question_parts("At three positions, is B the average of them or the biggest one?") == [
        "At three positions, is B the average of them or the biggest one?"
    ]
    assert question_parts("Is it better to pay cash or finance?") == [
        "Is it better to pay cash or finance?"
    ]
    # a difference asked is answered by what each thing is
    assert question_parts(
        "What is the difference between stop category 0 and stop category 1?"
    ) == ["What is stop category 0?", "What is stop category 1?"]
    assert question_parts("How does T1 differ from T2?") == ["What is T1?", "What is T2?"]
    assert question_parts("What's the difference between RV and harmonic reducers?") == [
        "What is RV reducers?",
        "What is harmonic reducers?",
    ]
    assert question_parts("Is there a difference?") == ["Is there a difference?"]
    editions = "What is the difference between the 2016 and 2021 editions?"
    assert question_parts(editions) == [editions]


def test_a_comparison_leads_with_both_sides() -> None:
    text = (
        "Fixture mastering reaches about ± 0.01°. "
        "The fixture is stored in the tool cabinet. "
        "Fixture mastering needs the calibration pin of the axis. "
        "Witness-mark mastering is accurate to about ± 0.1°."
    )
    # The whole question reads the fixture sentences as the best answers; only the witness-mark
    # part finds the other side's figure.
    scorer = QueryScorer(
        {
            ("fixture mastering compared", "0.01°"): 5.0,
            ("fixture mastering compared", "calibration pin"): 4.5,
            ("fixture mastering compared", "0.1°"): 1.0,
            ("witness marks?", "0.1°"): 5.0,
            ("fixture mastering?", "0.01°"): 5.0,
        }
    )
    got = ExtractiveAnswerer(relevance=scorer, ask_sentences=2).answer(
        "How accurate is fixture mastering compared to lining up the witness marks?",
        _hit(text),
        mode="ask",
    )
    lead, second = got.answer.split(" [1] ")[:2]
    assert lead == "Fixture mastering reaches about ± 0.01°."
    assert second.startswith("Witness-mark mastering is accurate to about ± 0.1°.")
    assert "calibration pin" not in got.answer


def test_each_side_of_a_difference_is_answered_by_its_definition() -> None:
    text = (
        "Larger reversal values must be repaired mechanically.\n"
        "3.3 reversal value of an axis, B: the difference between the mean positions reached "
        "from the two approach directions.\n"
        "Backlash compensation is currently 0. "
        "Backlash is the play between the ball nut and the screw."
    )
    # Each side's part reads a sentence that only uses the term best; the definition nearly
    # as well.
    scorer = QueryScorer(
        {
            ("difference between", "approach directions"): 2.0,
            ("What is the reversal value?", "repaired"): 5.0,
            ("What is the reversal value?", "3.3"): 4.0,
            ("What is the backlash?", "currently 0"): 5.0,
            ("What is the backlash?", "play between"): 3.5,
        }
    )
    got = ExtractiveAnswerer(relevance=scorer, ask_sentences=2).answer(
        "What is the difference between the backlash and the reversal value?",
        _hit(text),
        mode="ask",
    )
    first, second = got.answer.split(" [1] ")[:2]
    assert first == "Backlash is the play between the ball nut and the screw."
    assert second.startswith("3.3 reversal value of an axis, B:")
    assert "repaired" not in got.answer and "currently 0" not in got.answer


def test_a_definition_names_its_term_before_saying_what_it_is() -> None:
    from assistant.answer.terms import defines

    assert defines("T1 (manual reduced speed): used for teaching.", "What is T1?")
    assert defines("Pressure relief valve: limits the maximum pressure.", "What is a relief valve?")
    assert defines("3.3 reversal value of an axis, B: maximum of …", "What is reversal value?")
    # using the term is not defining it, nor is a question other than "What is X?"
    assert not defines("Backlash compensation is currently 0.", "What is backlash?")
    assert not defines("Backlash is the play in the nut.", "How large is backlash?")


def test_a_sentence_is_read_after_the_question_the_source_asks_right_before_it() -> None:
    text = (
        'Good problem statement: "MC-07 stopped 3 times in March with alarm SV0411."\n'
        "1. Why did MC-07 stop with SV0411? The Y-axis motor current reached its limit. "
        "2. Why did the axis need more torque? The Y ball nut was damaged."
    )
    # Alone, the answer reads as unrelated; after the question it answers, as answering.
    scorer = QueryScorer(
        {
            ("Why did MC-07 stop", "stop with SV0411? The Y-axis motor"): 6.0,
            ("Why did MC-07 stop", "problem statement"): 3.0,
        }
    )
    got = ExtractiveAnswerer(relevance=scorer, ask_sentences=1).answer(
        "Why did MC-07 stop with SV0411?", _hit(text, section="5-Why example"), mode="ask"
    )
    # the question itself is never quoted
    assert got.answer.startswith("The Y-axis motor current reached its limit.")
    # Only the sentence right after a question that opens its paragraph is read with it, and
    # only where it says something: not a forum reply's filler, not a later question's answer.
    asked = {
        x.text: x.asked for x in collect_sentences(_hit(text + "\nWhy invest? Well, I have a few."))
    }
    assert (
        asked["The Y-axis motor current reached its limit."] == "1. Why did MC-07 stop with SV0411?"
    )
    assert asked["The Y ball nut was damaged."] == ""
    assert asked.get("Well, I have a few.", "") == ""


def test_each_part_of_a_two_part_question_gets_its_answer_up_front() -> None:
    text = (
        "The alarm E-3065 is raised below 3.1 V. "
        "The battery pack is under the base cover. "
        "Replace the pack every 12 months. "
        "The pack holds the encoder counts for 2 weeks after the alarm."
    )
    # The whole question is best answered by the alarm sentence; its second part only by the
    # "2 weeks" one, which the whole question scores too low to be kept as support.
    scorer = QueryScorer(
        {
            ("alarm come up and", "2 weeks"): -4.0,
            ("alarm come up and", "12 months"): 3.0,
            ("alarm come up", "3.1 V"): 5.0,
            ("how long", "2 weeks"): 4.0,
        }
    )
    answerer = ExtractiveAnswerer(relevance=scorer, ask_sentences=2)
    got = answerer.answer(
        "When does the battery alarm come up and how long do I have to change the battery?",
        _hit(text),
        mode="ask",
    )
    assert got.answer.startswith("The alarm E-3065 is raised below 3.1 V.")
    assert "2 weeks" in got.answer
    assert "12 months" not in got.answer


def test_a_sentence_that_leans_on_the_one_before_is_quoted_with_it() -> None:
    text = (
        "Warranty cost so far: CNY 412,600 for 14 field repairs. "
        "The claim against the supplier covers CNY 265,000 of this amount."
    )
    scorer = QueryScorer({("supplier", "265,000"): 5.0, ("supplier", "412,600"): -3.0})
    got = ExtractiveAnswerer(relevance=scorer).answer(
        "How much does the supplier pay back?", _hit(text), mode="ask"
    )
    assert got.answer.index("412,600") < got.answer.index("265,000")
    assert refers_back("Replace the battery within 2 weeks after this alarm.")
    assert refers_back("该值不得超过 0.02 mm。")
    assert not refers_back("The claim covers CNY 265,000.")
    assert not refers_back("This is the maintenance manual of the HX-R20.")


def test_a_sentence_that_answers_only_with_the_one_before_is_read_and_quoted_with_it() -> None:
    text = (
        "11. Measure the insulation resistance between each phase and earth with 500 V DC. "
        "The value shall be at least 10 MΩ.\n"
        "The brake coil resistance of the J4 motor is 96 Ω."
    )
    # Alone, "The value shall be at least 10 MΩ." does not say of what; after the measuring
    # sentence it is the answer. The brake coil, alone, reads as nearly as good as the lead.
    scorer = QueryScorer(
        {
            ("insulation", "DC. The value"): 6.0,
            ("insulation", "Measure the insulation"): 3.0,
            ("insulation", "brake coil"): 2.5,
            ("insulation", "10 MΩ"): -2.0,
        }
    )
    answerer = ExtractiveAnswerer(relevance=scorer, ask_sentences=2)
    got = answerer.answer(
        "What insulation resistance is acceptable on the motor phases?", _hit(text), mode="ask"
    )
    assert got.answer.startswith("11. Measure the insulation resistance")
    assert got.answer.index("500 V DC") < got.answer.index("at least 10 MΩ")
    assert "brake coil" not in got.answer
    # Where the pair reads no better than the sentence before it, nothing changes.
    flat = QueryScorer(
        {
            ("insulation", "DC. The value"): 3.2,
            ("insulation", "Measure the insulation"): 3.0,
            ("insulation", "brake coil"): 2.5,
            ("insulation", "10 MΩ"): -2.0,
        }
    )
    got = ExtractiveAnswerer(relevance=flat, ask_sentences=2).answer(
        "What insulation resistance is acceptable on the motor phases?", _hit(text), mode="ask"
    )
    assert "10 MΩ" not in got.answer


_PRELOAD = (
    "A nut without preload has axial play. Ball nuts are preloaded to 2 % to 5 % of the dynamic "
    "load rating. Preload methods:\n"
    "- Double nut with a spacer between the two halves.\n"
    "- Single nut with oversize balls (four-point contact).\n"
    "- Single nut with an offset lead.\n"
    "Loss of preload through wear is the main reason for increasing backlash."
)


def test_a_list_that_answers_better_whole_is_quoted_whole() -> None:
    # Each item alone answers a little; the list with its lead-in answers the question.
    scorer = QueryScorer(
        {
            ("ways", "Preload methods: Double nut"): 6.0,
            ("ways", "preloaded to 2 %"): 3.0,
            ("ways", "Double nut"): 2.0,
            ("ways", "oversize balls"): 1.5,
            ("ways", "offset lead"): 1.5,
        }
    )
    got = ExtractiveAnswerer(relevance=scorer, ask_sentences=2).answer(
        "What are the ways to preload a ball nut?", _hit(_PRELOAD, section="Preload"), mode="ask"
    )
    assert got.answer.startswith(
        "Preload methods: Double nut with a spacer between the two halves; Single nut with "
        "oversize balls (four-point contact); Single nut with an offset lead. [1]"
    )
    assert "Loss of preload" not in got.answer  # not an item: where the list ends
    assert got.answer.count("Double nut") == 1
    # the citation quotes a sentence of the source, not the joined list
    assert got.citations[0].quote in _PRELOAD


def test_a_list_item_that_answers_alone_is_quoted_alone() -> None:
    scorer = QueryScorer(
        {
            ("four-point", "Preload methods: Double nut"): 2.0,
            ("four-point", "oversize balls"): 6.0,
        }
    )
    got = ExtractiveAnswerer(relevance=scorer, ask_sentences=1).answer(
        "Which preload gives four-point contact?", _hit(_PRELOAD, section="Preload"), mode="ask"
    )
    assert got.answer.startswith("Single nut with oversize balls (four-point contact). [1]")
    assert "Double nut" not in got.answer


_WHEN = (
    "- Every failure that stopped a critical asset for more than 4 hours.\n"
    "- Every repeat failure: the same failure mode on the same asset within 90 days.\n"
    "- Every safety incident or near miss.\n"
    "Target: analysis started within 24 hours."
)


def test_a_list_that_opens_its_section_is_read_whole_under_the_heading() -> None:
    # No sentence introduces the items: the section heading does, and the cross-encoder reads
    # the list after it; the whole answers better than any item.
    scorer = QueryScorer(
        {
            (
                "root-cause",
                "analysis: Every failure that stopped a critical asset for more than 4 hours;",
            ): 6.0,
            ("root-cause", "4 hours"): 3.0,
            ("root-cause", "90 days"): 2.5,
            ("root-cause", "24 hours"): 2.0,
        }
    )
    hits = _hit(_WHEN, section="Slide 3 — When to do a root-cause analysis")
    got = ExtractiveAnswerer(relevance=scorer, ask_sentences=1).answer(
        "When must a root-cause analysis be done?", hits, mode="ask"
    )
    assert got.answer.startswith(
        "Every failure that stopped a critical asset for more than 4 hours; Every repeat failure: "
        "the same failure mode on the same asset within 90 days; Every safety incident or near "
        "miss. [1]"
    )
    assert "Target" not in got.answer  # not an item: where the list ends
    # Where an item answers best alone, it is quoted alone.
    alone = QueryScorer({("repeat", "within 90 days"): 6.0, ("repeat", "analysis: Every"): 4.0})
    got = ExtractiveAnswerer(relevance=alone, ask_sentences=1).answer(
        "What counts as a repeat failure?", hits, mode="ask"
    )
    assert got.answer.startswith("Every repeat failure: the same failure mode on the same asset")
    assert "4 hours" not in got.answer


def test_a_list_whose_items_read_alike_is_quoted_whole() -> None:
    # Each trigger answers "when" in part and the cross-encoder reads them alike; the whole
    # reads about as well as the best of them, not better by `PAIR_LOGITS` (the first trigger
    # had been quoted alone).
    hits = _hit(_WHEN, section="Slide 3 — When to do a root-cause analysis")
    question = "Which failures need a root-cause analysis?"

    def answer(whole: float, items: tuple[float, float, float]) -> str:
        scorer = QueryScorer(
            {
                ("root-cause", "4 hours; Every repeat"): whole,
                ("root-cause", "more than 4 hours."): items[0],
                ("root-cause", "within 90 days"): items[1],
                ("root-cause", "near miss"): items[2],
                ("root-cause", "24 hours"): items[0] - 0.5,
            }
        )
        got = ExtractiveAnswerer(relevance=scorer, ask_sentences=1).answer(
            question, hits, mode="ask"
        )
        return got.answer

    assert answer(5.9, (5.8, 5.7, 5.5)).startswith(
        "Every failure that stopped a critical asset for more than 4 hours; Every repeat failure"
    )
    # One item stands out: it answers alone.
    assert "90 days" not in answer(5.9, (5.8, 2.0, 1.5))
    # Nothing reads as answering: no list is quoted whole on a near tie.
    assert "90 days" not in answer(-6.9, (-7.0, -7.2, -7.3))


def test_a_clear_preference_of_the_cross_encoder_is_not_overruled_by_shared_words() -> None:
    text = (
        "Leave the controller switched on when you change the encoder battery. "
        "Powered by the controller, the encoders keep their revolution count, so no mastering "
        "is needed afterwards."
    )
    question = "Why leave the controller switched on to change the encoder battery?"

    def lead(why: float) -> str:
        scorer = QueryScorer(
            {("controller", "Leave the"): 5.0, ("controller", "revolution count"): why}
        )
        got = ExtractiveAnswerer(relevance=scorer, ask_sentences=1).answer(
            question, _hit(text), mode="ask"
        )
        return got.answer

    # Both confident: the question's words, all in the instruction, decide ...
    assert lead(5.5).startswith("Leave the controller")
    # ... unless the model prefers the reason clearly.
    assert lead(6.5).startswith("Powered by the controller")
    # A follow-up is read with the earlier question, whose answer the model may prefer: there
    # the lexical order stands.
    scorer = QueryScorer(
        {("controller", "Leave the"): 5.0, ("controller", "revolution count"): 6.5}
    )
    follow_up = ExtractiveAnswerer(relevance=scorer, ask_sentences=1).answer(
        "and why?",
        _hit(text),
        mode="ask",
        history=(
            Turn("user", "Do I leave the controller switched on to change the encoder battery?"),
            Turn("assistant", "Yes."),
        ),
    )
    assert follow_up.answer.startswith("Leave the controller")


def test_learning_objectives_are_tasks_not_facts() -> None:
    section = "NLC-CNC-202 > Learning objectives"
    assert is_task_prompt("1. Describe the methods used to preload the ball nut.", section)
    assert is_task_prompt("3. Measure the reversal value of a linear axis.", section)
    assert is_task_prompt("- 能够计算润滑脂更换周期。", "课程模块 > 学习目标")
    chunk = make_chunk(
        "d0-0000",
        section=section,
        text="1. Relate the screw lead and motor speed to the axis feed rate.\n"
        "The feed rate is the screw lead times the motor speed.",
    )
    texts = [s.text for s in collect_sentences([Hit(chunk, 1.0)])]
    assert texts == ["The feed rate is the screw lead times the motor speed."]


def test_a_lead_in_is_not_quoted_without_what_it_leads_into() -> None:
    chunk = make_chunk(
        "d0-0000",
        section="NLC-CNC-202 > Learning objectives",
        text="After this module you will be able to:\n"
        "1. Measure the reversal value of a ball screw axis.\n"
        "The reversal value of a ball screw axis is measured with a dial indicator.",
    )
    scorer = QueryScorer({("reversal", "able to"): 6.0, ("reversal", "dial"): 2.0})
    got = ExtractiveAnswerer(relevance=scorer).answer(
        "How is the reversal value measured?", [Hit(chunk, 1.0)], mode="ask"
    )
    assert got.answer.startswith("The reversal value of a ball screw axis is measured")
    assert "able to" not in got.answer


def test_an_answer_to_how_often_leads_with_the_interval_not_with_the_most_worded_sentence() -> None:
    text = (
        "Replacing the J1 reducer grease on time is the best measure against J1 reducer wear.\n"
        "Replace it every 20,000 h."
    )
    # Both read as relevant (their probabilities saturate); the first shares more words with
    # the question, the second states the interval asked for.
    scorer = QueryScorer({("often", "20,000"): 6.0, ("often", "best measure"): 4.4})
    got = ExtractiveAnswerer(relevance=scorer).answer(
        "How often is the J1 reducer grease replaced?", _hit(text, section="Grease"), mode="ask"
    )
    assert got.answer.startswith("Replace it every 20,000 h.")


def test_the_sentence_that_states_the_kind_asked_for_leads_among_relevant_ones() -> None:
    from assistant.answer.evidence import Scored
    from assistant.answer.reading import _kind_first

    chunk = make_chunk(
        "d0-0000",
        text="Replacing the grease at the specified interval is the best measure against wear. "
        "The grease shall be replaced every 20,000 operating hours. "
        "The J2 reducer was replaced on 2023-03-25.",
    )
    first, interval, dated = collect_sentences([Hit(chunk, 1.0)])

    def scored(s: object, states: bool | None, lexical: float) -> Scored:
        return Scored(s, lexical, lexical, lexical, lexical, states_kind=states)  # type: ignore[arg-type]

    ranked = [scored(first, False, 0.9), scored(dated, False, 0.7), scored(interval, True, 0.7)]
    logit = {id(ranked[0]): 4.4, id(ranked[1]): 6.2, id(ranked[2]): 6.0}
    assert _kind_first(ranked, logit)[0].sentence is interval
    # Not when the sentence stating it is far less relevant than the best one.
    logit[id(ranked[2])] = 2.0
    assert _kind_first(ranked, logit) == ranked
    # Nor when the question asks for no kind of answer.
    plain = [scored(first, None, 0.9), scored(interval, None, 0.7)]
    assert _kind_first(plain, {id(plain[0]): 1.0, id(plain[1]): 6.0}) == plain


def test_among_rows_the_cross_encoder_reads_alike_the_row_the_question_names_leads() -> None:
    table = (
        "Axis | Quantity to inject | Posture\n"
        "--- | --- | ---\n"
        "J1 | 1,050 ml | J2 0°, J3 0°\n"
        "J2 | 780 ml | J2 0°, J3 0°\n"
        "J3 | 520 ml | J2 0°, J3 0°"
    )
    hits = [Hit(make_chunk("d0-0000", text=table, title="HX-MP-201", section="Quantities"), 1.0)]
    # Rows of one table read alike: the model's probabilities saturate and tie.
    scorer = QueryScorer({("grease", "Quantity to inject"): 7.0})
    answer = ExtractiveAnswerer(relevance=scorer).answer(
        "How much grease goes into the J3 reducer?", hits
    )
    assert answer.answer.startswith("Axis: J3; Quantity to inject: 520 ml")


def test_a_table_row_is_no_clear_winner_when_its_table_s_other_rows_read_as_well() -> None:
    # The cross-encoder reads every row of a torque table as about torque (its header says
    # so): the bracket's row is no clear answer for the cover's screws.
    table = (
        "Bolt size | Tightening torque (N·m) | Typical use\n"
        "--- | --- | ---\n"
        "M6 | 15 | Battery box bracket\n"
        "M8 | 36 | J5 gear housing\n"
        "M10 | 72 | J3 motor mounting"
    )
    hits = [
        Hit(make_chunk("d0-0000", text=table, title="HX-R20 torques", section="Torques"), 1.0),
        Hit(
            make_chunk(
                "d1-0000",
                text="Battery box cover screws: 1.2 N·m.",
                title="HX-R20 manual",
                section="Encoder backup battery",
            ),
            0.9,
        ),
    ]
    question = "What torque do the battery box cover screws get?"

    def lead(other_rows: float) -> str:
        scorer = QueryScorer(
            {
                ("torque", "Battery box bracket"): 5.9,
                ("torque", "J5 gear"): other_rows,
                ("torque", "J3 motor"): other_rows,
                ("torque", "cover screws"): 4.6,
            }
        )
        return ExtractiveAnswerer(relevance=scorer).answer(question, hits).answer

    assert lead(5.0).startswith("Battery box cover screws: 1.2 N·m.")
    # A row the model prefers clearly over its table's other rows still leads.
    assert lead(2.0).startswith("Bolt size: M6")


def test_a_question_that_names_a_measure_asks_for_a_quantity() -> None:
    from assistant.answer.kinds import asks_quantity

    for question in (
        "What's the top speed allowed in T1?",
        "Torque for the battery box cover screws",
        "Do ITSC and Huaxin agree on the encoder battery interval?",
        "What is the grease quantity for the J1 axis?",
        "HX-R20 电池盒盖的螺钉要拧多大力矩？",
    ):
        assert asks_quantity(question), question
    for question in (
        "How do I measure the coolant concentration each day?",
        "Why did the pressure drop?",
        "What's the model answer on separate backlash values?",
    ):
        assert not asks_quantity(question), question


def _kind_asked(question: str) -> Callable[[str, str], bool]:
    """What a sentence must state to answer `question` (its kind of answer, asserted asked)."""
    from assistant.answer.kinds import answer_type

    states = answer_type(question, [])
    assert states is not None, question
    return states


def test_how_often_is_answered_by_an_interval_not_by_a_duration() -> None:
    every = "Replacement interval: every 12 months, regardless of alarms."
    within = "Rev B allowed the battery to be changed with the controller off within 3 minutes."
    for question in (
        "How often should the encoder batteries on an HX-R20 be changed?",
        "编码器电池多久更换一次？",
    ):
        states = _kind_asked(question)
        assert states(every, "") and not states(within, ""), question
    # How long a step may take is answered by either.
    states = _kind_asked("How long may the battery change take with the controller off?")
    assert states(within, "") and states(every, "")
    # An interval in words, without a number, is one too; a rate per shift is not.
    states = _kind_asked("How often should a class A spindle's vibration be trended?")
    assert states("AMMA recommends a monthly measurement for class A spindles.", "")
    assert states("检查切削液浓度：每班一次。", "")
    assert not states("The way lube consumption is about 0.35 litres per shift.", "")


def test_which_alarm_is_answered_by_an_alarm_code() -> None:
    from assistant.answer.kinds import answer_type

    raised = "Alarm E-3065 BLAL (battery low) is raised when the pack voltage falls below 3.1 V."
    interval = (
        "6.3.1 The battery shall be replaced every 12 months, or immediately when the "
        "low-battery alarm is displayed."
    )
    for question in (
        "Which alarm appears when the encoder battery is low?",
        "What alarm code shows a high spindle bearing temperature?",
        "电池电压低时会出现什么报警？",
    ):
        states = _kind_asked(question)
        assert states(raised, "HX-MP-212 Encoder battery") and not states(interval, "ITSC-MS 310")
    assert answer_type("What does alarm SP1245 mean?", []) is None


def test_which_lot_or_firmware_version_is_answered_by_its_designation() -> None:
    lot = "Over-curing of oil seal lot L2307-114 at the supplier raised the lip hardness."
    count = "Between August and November 2023, 14 robots at three customers reported leaks."
    for question in (
        "which oil seal lot caused the J3 grease leaks on the HX-R20s built in 2023?",
        "Which HXC-5 firmware versions have the brake check bug?",
        "J3 油封漏油是哪个批次的油封？",
    ):
        states = _kind_asked(question)
        assert states(lot, "Warranty failure analysis HX-WFA-2023-017"), question
        assert not states(count, "Warranty failure analysis HX-WFA-2023-017"), question


def test_how_a_value_is_worked_out_is_answered_by_a_formula() -> None:
    from assistant.answer.kinds import states_formula

    assert states_formula("The force of a cylinder is F = p × A.")
    assert states_formula("Outer race defect: BPFO = (n/2) · fr · (1 − (d/D) cos θ)")
    assert states_formula("Concentration (%) = Brix reading × refractometer factor")
    # Worked results name no symbol on the right: numbers and units only.
    assert not states_formula("Therefore BPFO = 10 × 100 × 0.881 = 881 Hz.")
    assert not states_formula("Pneumatic: F = 0.6 N/mm² × 5,027 mm² = 3,016 N ≈ 3.0 kN.")
    assert not states_formula("First with K = 2000 mm/s: S = 2000 × 0.446 + 128 = 1,020 mm.")
    # A result the sentence goes on from, or a unit that is a product, is no formula either.
    assert not states_formula("FTF = 50 × 0.881 = 44.0 Hz and BSF = 4.05 × 100 × 0.986 = 400 Hz.")
    assert not states_formula("Use torque = 18 N·m for M6.")
    for question in (
        "How is the force of a hydraulic cylinder calculated?",
        "How do I convert a Brix reading to coolant concentration?",
        "光幕安全距离怎么计算？",
    ):
        states = _kind_asked(question)
        assert states("The force of a cylinder is F = p × A.", "")
        assert not states("Hydraulic: F = 6 N/mm² × 5,027 mm² = 30,159 N.", "")


def test_front_matter_is_quoted_only_for_a_question_about_the_document() -> None:
    front = make_chunk(
        "d0-0000",
        title="ITSC-ES 602:2022 Emergency stop",
        section="",
        text="Document code: ITSC-ES 602. Edition: 2022. Effective date: 2022-04-01.",
    )
    clause = make_chunk(
        "d0-0001",
        title="ITSC-ES 602:2022 Emergency stop",
        section="5 Actuators",
        text="5.1 Actuators of emergency stop devices shall be red on a yellow background.",
        chunk_index=1,
    )
    hits = [Hit(front, 1.0), Hit(clause, 0.9)]
    # The cross-encoder reads the front matter under the document's title as relevant.
    scorer = QueryScorer(
        {
            ("take effect", "Effective date"): 7.0,
            ("ITSC", "Document code"): 6.0,
            ("ITSC", "Actuators"): 5.0,
        }
    )
    answerer = ExtractiveAnswerer(relevance=scorer)
    asked = answerer.answer("What does ITSC-ES 602 require of emergency stop buttons?", hits)
    assert "red" in asked.answer and "Document code" not in asked.answer
    when = answerer.answer("When did ITSC-ES 602 take effect?", hits)
    assert "2022-04-01" in when.answer


def _manual_and_brake_check(manual_section: str, manual_text: str) -> list[Hit]:
    """A maintenance manual's numbered list (ranked first) and the brake check procedure."""
    manual = make_chunk(
        "d0-0000",
        title="HX-R20 maintenance manual, chapter 6",
        section=manual_section,
        text=manual_text,
    )
    brake = make_chunk(
        "d1-0000",
        title="HX-MP-207 Motor brake check",
        section="5 Procedure",
        text="1. Run the program BRKCHK in T1.\n2. Measure the drop of J2: at most 0.2 mm.",
    )
    return [Hit(manual, 1.0), Hit(brake, 0.6)]


def _procedure_heading(question: str, hits: list[Hit], logits: dict[tuple[str, str], float]) -> str:
    """The first line of the procedure answer when the cross-encoder reads as `logits` say."""
    got = ExtractiveAnswerer(relevance=QueryScorer(logits)).answer(question, hits, mode="procedure")
    return got.answer.split("\n")[0]


def test_the_procedure_the_cross_encoder_reads_as_answering_is_quoted() -> None:
    hits = _manual_and_brake_check(
        "6.1 Safety during maintenance",
        "1. Switch the HX-R20 controller off before any check.\n"
        "2. Check that the pendant display is dark.",
    )
    question = "What's the procedure for the periodic brake check on the HX-R20?"

    def first_step(manual_logit: float, brake_logit: float) -> str:
        logits = {
            ("brake check", "chapter 6"): manual_logit,
            ("brake check", "BRKCHK"): brake_logit,
        }
        return _procedure_heading(question, hits, logits)

    assert "HX-MP-207" in first_step(4.0, 7.5)
    # Where it reads none as answering, the lexical ranking stands (its order is noise there).
    assert "chapter 6" in first_step(-4.0, -2.5)


def test_a_chinese_procedure_request_takes_the_procedure_read_clearly_best_in_english() -> None:
    hits = _manual_and_brake_check(
        "6.4 Brake check",
        "1. Check each motor brake once a year.\n2. Check the brake release noise.",
    )

    def first_step(manual_logit: float, brake_logit: float) -> str:
        # The cross-encoder reads the question put in English words ("brake …").
        logits = {("brake", "chapter 6"): manual_logit, ("brake", "BRKCHK"): brake_logit}
        return _procedure_heading("制动器检查步骤", hits, logits)

    assert "HX-MP-207" in first_step(0.4, 3.4)
    # Read through a rendering, a preference within `CLEAR_LOGITS` leaves the order alone.
    assert "chapter 6" in first_step(5.1, 5.2)


def test_a_lab_sheet_s_objectives_are_not_its_steps() -> None:
    sheet = [
        make_chunk(
            f"d0-000{i}", title="实验指导书：J2 轴减速器润滑脂更换", section=section, text=text
        )
        for i, (section, text) in enumerate(
            [
                ("一、实验目的", "1. 掌握减速器润滑脂更换的完整流程；\n2. 学会能量隔离。"),
                ("五、实验步骤", "1. 拆下 J2 排脂口螺塞。\n2. 从进脂口缓慢注脂。"),
            ]
        )
    ]
    hits = [Hit(c, 1.0) for c in sheet]
    got = ExtractiveAnswerer().answer("J2 轴减速器润滑脂更换步骤", hits, mode="procedure")
    assert "排脂口螺塞" in got.answer and "掌握" not in got.answer and "实验目的" not in got.answer


def test_a_lexically_ranked_answer_leads_with_the_kind_of_answer_asked_for() -> None:
    # Without the cross-encoder (a Chinese question over Chinese sources), the sentence with
    # most of the question's words came first although it states no interval.
    text = (
        "RV减速器润滑脂更换一次要排出全部旧润滑脂，RV减速器润滑脂更换后要试运行。\n"
        "RV减速器润滑脂每 20000 小时更换。"
    )
    hits = [Hit(make_chunk("d0-0000", text=text, title="减速器润滑", section="润滑脂"), 1.0)]
    got = ExtractiveAnswerer(min_evidence=0.0).answer("RV减速器润滑脂多久更换一次？", hits)
    assert not got.refused, got.answer
    assert got.answer.startswith("RV减速器润滑脂每 20000 小时更换。"), got.answer


def test_where_the_model_reads_no_english_sentence_as_answering_the_chinese_ones_answer() -> None:
    english = make_chunk(
        "d0-0000",
        text="Supply pressure of machine tool pneumatics is typically 0.5 to 0.7 MPa.",
        title="NLC-CNC-201 Pneumatics",
        section="Air supply",
    )
    chinese = make_chunk(
        "d1-0000",
        text="8. 连接气管，打开供气阀，确认夹爪供气压力为 0.5～0.6 MPa。",
        title="JN-WI-R-003 机器人换型点检作业指导书",
        section="5 换型步骤",
        language="zh",
    )
    hits = [Hit(english, 1.0), Hit(chinese, 0.9)]
    question = "What air pressure should the gripper supply have after a changeover?"

    def answer(english_logit: float, gloss_logit: float = -3.5) -> str:
        # The Chinese sentence is read as its English gloss ("… gripper supply pressure …").
        logits = {("pressure", "typically"): english_logit, ("pressure", "gripper"): gloss_logit}
        scorer = QueryScorer(logits, default=-8.0)
        return ExtractiveAnswerer(relevance=scorer).answer(question, hits).answer

    # The model reads the English sentence as not answering, the gloss nearly as well or better.
    assert answer(-3.0).startswith("8. 连接气管"), answer(-3.0)
    # Where it reads it as answering, the English sentence leads.
    assert answer(2.0).startswith("Supply pressure"), answer(2.0)
    # A gloss read far worse than the English sentence does not displace it.
    assert answer(-3.0, gloss_logit=-6.0).startswith("Supply pressure"), answer(-3.0, -6.0)


def test_a_question_of_two_parts_is_answered_part_by_part_from_chinese_sentences() -> None:
    lab = make_chunk(
        "dh-0000",
        title="实验指导书：J2 轴减速器润滑脂更换",
        section="五、实验步骤",
        text=(
            "15. 称量注脂枪，注入量应达到 420 g。\n"
            "16. 装回进脂口和排脂口螺塞，按 8 N·m 拧紧。\n"
            "17. 运行 30 分钟后测量 J2 减速器外壳温度，应不高于 60 °C。"
        ),
        contributor="donghai-polytechnic",
        language="zh",
    )
    hits = [Hit(lab, 1.0)]
    question = "In the J2 grease lab, what torque do the plugs get, and how hot may the reducer be?"
    # Against the whole question the glossed grease amount reads best; each part's own best
    # sentence leads, in the order asked.
    scorer = QueryScorer(
        {
            ("and how hot", "grease injection"): 3.0,
            ("and how hot", "temperature"): 2.0,
            ("and how hot", "torque"): 1.0,
            ("how hot", "temperature"): 4.0,
            ("plugs get", "torque"): 1.0,
        },
        default=-8.0,
    )
    got = ExtractiveAnswerer(relevance=scorer, ask_sentences=2).answer(question, hits, mode="ask")
    lines = [line for line in got.answer.splitlines() if line.strip()]
    assert lines[0].startswith("16. 装回") and "60 °C" in lines[1], got.answer


def test_the_named_contributor_s_chinese_sentence_answers_where_it_reads_as_answering() -> None:
    purge = make_chunk(
        "hx-0000",
        title="HX-MP-201 Grease replacement",
        section="6 Procedure",
        text="10. Purge run: run the purge program for 20 minutes with the outlet open.",
        contributor="huaxin-robotics",
    )
    lab = make_chunk(
        "dh-0000",
        title="实验指导书：J2 轴减速器润滑脂更换",
        section="五、实验步骤",
        text="13. 在 T1 模式下，使 J2 轴在 −30°～+30° 范围内往复运转 15 分钟，释放内部压力。",
        contributor="donghai-polytechnic",
        language="zh",
    )
    hits = [Hit(purge, 1.0), Hit(lab, 0.9)]
    # The English purge run reads better than the lab step's gloss, which still answers.
    scorer = QueryScorer({("venting", "Purge run"): 5.0, ("venting", "15 minutes"): 1.5})
    answerer = ExtractiveAnswerer(relevance=scorer)
    named = answerer.answer("In Donghai's J2 grease lab, how long is the venting run?", hits)
    assert named.answer.startswith("13. 在 T1 模式下"), named.answer
    # Unnamed, the sentence read best answers; named but read as not answering, too.
    assert "Purge run" in answerer.answer("How long is the J2 venting run?", hits).answer
    poor = QueryScorer({("venting", "Purge run"): 5.0, ("venting", "15 minutes"): -1.0})
    asked = ExtractiveAnswerer(relevance=poor).answer(
        "In Donghai's J2 grease lab, how long is the venting run?", hits
    )
    assert "Purge run" in asked.answer


def test_a_clause_cut_off_by_its_semicolon_is_quoted_with_the_rest_of_its_sentence() -> None:
    text = (
        "第 6.1.1 条规定：减速器润滑脂的更换周期在正常工况下不超过 20000 运行小时或 4 年；"
        "严苛工况下为 10000 运行小时或 2 年。"
    )
    scorer = QueryScorer({("grease", "20000"): 5.0, ("grease", "10000"): 1.0})
    got = ExtractiveAnswerer(relevance=scorer).answer(
        "How often is reducer grease changed under severe duty (grease)?",
        _hit(text, section="6 Intervals"),
        mode="ask",
    )
    assert "20000" in got.answer and "10000" in got.answer, got.answer


def test_a_table_row_reads_as_a_sentence_with_its_units_after_its_values() -> None:
    from assistant.answer.evidence import Scored
    from assistant.answer.reading import Pick

    text = (
        "Item | Value\n--- | ---\nConsumption | about 0.35 litres per 8-hour shift\n\n"
        "序号 | 点检项目 | 标准\n--- | --- | ---\n3 | 夹爪气压 | 0.5～0.6 MPa\n\n"
        "Bolt size | Tightening torque (N·m) | Typical use\n--- | --- | ---\nM12 | 145 | J2 arm"
    )
    rows = collect_sentences(_hit(text))
    assert [s.text for s in rows] == [
        # A first column headed "Item" names what the row is about; "Value" adds nothing.
        "Consumption: about 0.35 litres per 8-hour shift.",
        # A running number is left out.
        "点检项目: 夹爪气压; 标准: 0.5～0.6 MPa.",
        "Bolt size: M12; Tightening torque (N·m): 145; Typical use: J2 arm.",
    ]
    assert [s.row_key for s in rows] == ["Consumption", "夹爪气压", "M12"]
    # Quoted, the header's unit follows the value, as a technician reads it.
    assert Pick(Scored(rows[2], 1.0, 1.0, 1.0, 1.0)).text == (
        "Bolt size: M12; Tightening torque: 145 N·m; Typical use: J2 arm."
    )


def test_a_worked_example_s_givens_are_followed_by_the_step_that_works_out_the_value() -> None:
    text = (
        "The J2 motor of the lab robot has a 20-bit absolute encoder (2^20 = 1,048,576 counts "
        "per motor revolution) and the J2 reducer ratio is 121:1.\n"
        "Counts per joint degree = 1,048,576 × 121 / 360 = 352,438 counts per degree.\n"
        "The distance from the J2 axis to the TCP in the check posture is 1,350 mm."
    )
    # The givens repeat the question's words and read far better than the step (6.0 vs 2.5,
    # below the support floor); the step works on the givens' numbers and reads as relevant.
    scorer = QueryScorer(
        {
            ("counts", "20-bit absolute"): 6.0,
            ("counts", "Counts per joint degree ="): 2.5,
            ("counts", "TCP"): 1.0,
        }
    )
    answerer = ExtractiveAnswerer(relevance=scorer, ask_sentences=2)
    question = "With a 20-bit encoder and a 121:1 reducer, how many counts per joint degree?"
    got = answerer.answer(question, _hit(text, section="Worked example"), mode="ask")
    assert got.answer.startswith("The J2 motor of the lab robot")
    assert "352,438 counts per degree" in got.answer
    # A question that asks for no value, or a step the cross-encoder reads as off the
    # question, is not quoted for it.
    off = QueryScorer(
        {
            ("counts", "20-bit absolute"): 6.0,
            ("counts", "Counts per joint degree ="): -1.0,
        }
    )
    got = ExtractiveAnswerer(relevance=off, ask_sentences=2).answer(
        question, _hit(text, section="Worked example"), mode="ask"
    )
    assert "352,438" not in got.answer
    got = answerer.answer(
        "Which encoder counts in the worked example?",
        _hit(text, section="Worked example"),
        mode="ask",
    )
    assert "352,438" not in got.answer
