"""A range or limit that holds the value a question states ranks before those that do not."""

from __future__ import annotations

import pytest

from assistant.answer.evidence import score_sentences
from assistant.answer.limits import holds_value, stated_values
from assistant.answer.sentences import collect_sentences
from assistant.types import Hit
from tests.factories import make_chunk

ROWS_ZH = (
    "| 铁含量 | 判定 | 处理 |\n|---|---|---|\n"
    "| 低于 1000 mg/kg | 正常 | 按原周期执行 |\n"
    "| 1000～3000 mg/kg | 注意 | 取样间隔减半，并与同一台机器人其他轴对比 |\n"
    "| 高于 3000 mg/kg | 异常 | 检查减速器，计划更换减速器 |"
)


@pytest.mark.parametrize(
    ("question", "sentence", "held"),
    [
        ("Iron is 1,500 mg/kg. Normal?", "1,000 to 3,000 mg/kg: halve the interval.", True),
        ("Iron is 1,500 mg/kg. Normal?", "Below 1,000 mg/kg: normal.", False),
        ("Iron is 1,500 mg/kg. Normal?", "Above 3,000 mg/kg: plan a replacement.", False),
        ("Iron is 3,500 mg/kg. Normal?", "Above 3,000 mg/kg: plan a replacement.", True),
        ("铁含量是 1500 mg/kg，正常吗？", "铁含量 1000～3000 mg/kg，注意。", True),
        ("铁含量是 800 mg/kg，正常吗？", "铁含量低于 1000 mg/kg，正常。", True),
        ("B for 1,500 mm of travel?", "0.010 mm for axes between 1000 and 2000 mm.", True),
        ("B for 600 mm of travel?", "0.010 mm for axes between 1000 and 2000 mm.", False),
        ("Vibration 0.8 mm/s after run-in: OK?", "Velocity: 1.0 mm/s RMS or less.", True),
        # "Not exceed" is a limit from above; "larger than" one from below.
        ("The pointer is 0.7 mm off. OK?", "The deviation shall not exceed 0.5 mm.", False),
        ("The pointer is 0.3 mm off. OK?", "The deviation shall not exceed 0.5 mm.", True),
        ("The pointer is 0.7 mm off. OK?", "If the deviation is larger than 0.5 mm, stop.", True),
        # Resistances, the lower end of "between" with its unit.
        ("Megger gave 4 MOhm. Keep running?", "Values between 1 MΩ and 10 MΩ: replace.", True),
        ("Megger gave 4 MOhm. Keep running?", "Below 1 MΩ the robot shall not be used.", False),
        ("绝缘电阻 0.5 MΩ，还能用吗？", "低于 1 MΩ 时不得使用机器人。", True),
        ("润滑脂铁含量 1200 mg/kg", "铁含量 1000 mg/kg 以下为正常。", False),
        # "changeover" holds "over" but sets no limit.
        ("It took 30 minutes. Too long?", "A changeover 25 minutes long is standard.", None),
        # Another unit family, no range or limit, or no value asked: nothing to say.
        ("Iron is 1,500 mg/kg. Normal?", "Below 5 mm of wear the seal is kept.", None),
        ("Iron is 1,500 mg/kg. Normal?", "Take about 5 g of grease for the sample.", None),
        ("What iron content is normal?", "Below 1,000 mg/kg: normal.", None),
    ],
)
def test_a_range_or_limit_holds_the_value_stated_or_not(
    question: str, sentence: str, held: bool | None
) -> None:
    assert holds_value(stated_values(question), sentence) is held


def test_the_row_whose_range_holds_the_value_ranks_first() -> None:
    """Asked whether 1500 mg/kg is normal, the "below 1000: normal" row shares as many words as
    the right one; a technician who read it would leave a worn reducer in service."""
    hits = [Hit(make_chunk("dh-0000", text=ROWS_ZH, language="zh", title="减速器润滑"), 1.0)]
    sentences = collect_sentences(hits)
    question = "减速器润滑脂送检，铁含量是 1500 mg/kg，这算正常吗？要怎么处理？"
    ranked = score_sentences(question, hits, sentences).ranked
    assert "1000～3000" in ranked[0].sentence.text
    normal = score_sentences("铁含量是 800 mg/kg，正常吗？", hits, sentences).ranked
    assert "低于 1000" in normal[0].sentence.text


def test_the_sentence_whose_range_holds_the_value_leads_an_answer_read_by_relevance() -> None:
    """The measuring step repeats the question's words and reads better to the cross-encoder;
    the sentence whose range holds the measured value says what to do."""
    from assistant.answer.extractive import ExtractiveAnswerer
    from tests.assistant.test_answer_lead import QueryScorer

    text = (
        "11. Measure the insulation resistance between each phase and PE with 500 V DC.\n"
        "Values between 1 MΩ and 10 MΩ require the harness to be replaced at the next planned "
        "stop; below 1 MΩ the robot shall not be used."
    )
    hits = [Hit(make_chunk("hx-0000", text=text, title="HX-MP-210", section="Procedure"), 1.0)]
    question = "The megger gave 4 MOhm between phase V and PE. Can the robot keep running?"

    def lead(holding: float) -> str:
        scorer = QueryScorer(
            {("megger", "Measure the"): 2.5, ("megger", "Values between"): holding}
        )
        return ExtractiveAnswerer(relevance=scorer).answer(question, hits).answer

    assert lead(1.0).startswith("Values between 1 MΩ and 10 MΩ")
    # Read as off the question (below 0), or far below the best, it does not lead.
    assert lead(-1.0).startswith("11. Measure")
