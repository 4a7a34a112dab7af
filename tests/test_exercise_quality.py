"""Quality of case-based exercise sets: one model or case, a coherent scenario, short keys for
short-answer items (essays otherwise), and no citation markers inside question text.

Each property is checked on hand-made hits, where the trap is laid on purpose (an HX-R20
procedure next to an HX-R165 case), and on the real output over the demo corpus, English and
Chinese requests alike. The checks here are written independently of the builder.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from assistant.answer.exercise import build_exercise_set
from assistant.answer.exercise_format import (
    ExerciseQuestion,
    ExerciseSet,
    exercise_to_gift,
    exercise_to_markdown,
    is_short_answer,
)
from assistant.answer.extractive import ExtractiveAnswerer
from assistant.types import Citation, Hit, Identity
from tests.factories import make_chunk

# Robot and machine models of the demo corpus: HX-R20, HX-R165, DH-R20, MVC-850.
MODEL = re.compile(r"(?<![A-Za-z0-9-])(?:[A-Z]{2}-R\d+|MVC-\d+)(?![A-Za-z0-9-])")
# A citation marker as a reader would take it: [3], [1, 2], ［3］, 【3】 (not P[2] of a program).
MARKER = re.compile(
    r"(?<![A-Za-z0-9_])[\[［【]\s*\d{1,4}(?:\s*[,，、;；\-–]\s*\d{1,4})*\s*[\]］】]"
)
# A report's bookkeeping is no part of the story a scenario tells.
BOOKKEEPING = re.compile(r"report issued|report date|service call|报告日期", re.IGNORECASE)
SCENARIO_MARKER = re.compile(r"\s*\[(\d+(?:,\s*\d+)*)\]\s*")
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z0-9]+(?:[-'’.,/·][A-Za-z0-9]+)*")


# --- the four properties, checked on any set ------------------------------------------------


def scenario_refs(exercise: ExerciseSet) -> list[int]:
    return [
        int(n) for m in SCENARIO_MARKER.finditer(exercise.scenario) for n in m.group(1).split(",")
    ]


def anchor_doc(exercise: ExerciseSet, hits: Sequence[Hit]) -> str:
    """The document the set is about: the one its title names."""
    return next(h.chunk.doc_id for h in hits if h.chunk.title == exercise.title)


def models_cited(exercise: ExerciseSet, hits: Sequence[Hit]) -> dict[str, set[str]]:
    """For each cited document, the models its cited chunks (title and text) name."""
    out: dict[str, set[str]] = {}
    for c in exercise.citations:
        chunk = hits[c.n - 1].chunk
        out.setdefault(chunk.doc_id, set()).update(MODEL.findall(f"{chunk.title}\n{chunk.text}"))
    return out


def assert_one_model(exercise: ExerciseSet, hits: Sequence[Hit]) -> None:
    named = models_cited(exercise, hits)
    assert len(set().union(*named.values())) <= 1, named


def _squash(text: str) -> str:
    """Text compared loosely: without citation markers, brackets and spaces."""
    return re.sub(r"[\s\[\]［］【】]+", "", MARKER.sub("", text))


def assert_coherent_scenario(exercise: ExerciseSet, hits: Sequence[Hit]) -> None:
    """The scenario's sentences are one document's, in that document's order."""
    refs = scenario_refs(exercise)
    if not refs:  # the task of a procedure-based set: no source sentence at all
        assert not MARKER.search(exercise.scenario)
        return
    docs = {hits[n - 1].chunk.doc_id for n in refs}
    assert len(docs) == 1, docs
    assert docs == {anchor_doc(exercise, hits)}
    chunks = sorted(
        {h.chunk.chunk_id: h.chunk for h in hits if h.chunk.doc_id in docs}.values(),
        key=lambda c: c.chunk_index,
    )
    where = []
    for piece in filter(None, SCENARIO_MARKER.split(exercise.scenario)[::2]):
        found = [
            (c.chunk_index, _squash(c.text).find(_squash(piece)))
            for c in chunks
            if _squash(piece) in _squash(c.text)
        ]
        assert found, piece
        where.append(found[0])
    assert where == sorted(where) and len(set(where)) == len(where), where
    assert not BOOKKEEPING.search(exercise.scenario), exercise.scenario


def short_enough(answer: str) -> bool:
    cjk = len(CJK.findall(answer))
    words = len(LATIN_WORD.findall(answer))
    return cjk + 2 * words <= 12 if cjk else 0 < words <= 6


def assert_short_keys(exercise: ExerciseSet, hits: Sequence[Hit]) -> None:
    """Short-answer keys are a few words; a sentence-long key is an essay's grading guidance,
    taken from a cited chunk."""
    texts = {c.n: _squash(hits[c.n - 1].chunk.text) for c in exercise.citations}
    for q in exercise.questions:
        if q.kind == "short_answer":
            assert short_enough(q.answer), q.answer
        if q.kind == "essay":
            assert q.answer and not short_enough(q.answer), q.answer
            assert any(_squash(q.answer) in texts[n] for n in q.refs), q.answer
    gift = exercise_to_gift(exercise)
    essays = [q for q in exercise.questions if q.kind == "essay"]
    assert gift.count("{####") == len(essays)


def assert_no_markers_in_questions(exercise: ExerciseSet) -> None:
    """No citation marker in GIFT question text or answers (sources are comments), nor in the
    Markdown scenario and questions (sources have a line of their own, and the answer key)."""
    gift = exercise_to_gift(exercise)
    for line in gift.splitlines():
        if not line.startswith("//"):
            assert not MARKER.search(line), line
    cited = {c.n for c in exercise.citations}
    comments = "\n".join(line for line in gift.splitlines() if line.startswith("//"))
    assert {int(n) for n in re.findall(r"\[(\d+)\]", comments)} == cited
    markdown = exercise_to_markdown(exercise)
    body, _, key = markdown.partition("### ")[2].partition("### ")
    scenario = [line for line in markdown.splitlines() if line.startswith("**")]
    for line in body.splitlines() + scenario:
        assert not MARKER.search(line), line
    for k in range(1, len(exercise.questions) + 1):  # the key keeps each answer's source
        assert any(line.startswith(f"{k}. ") and line.endswith("]") for line in key.splitlines())


def assert_quality(exercise: ExerciseSet, hits: Sequence[Hit]) -> None:
    assert exercise.questions
    assert_one_model(exercise, hits)
    assert_coherent_scenario(exercise, hits)
    assert_short_keys(exercise, hits)
    assert_no_markers_in_questions(exercise)


# --- hand-made hits -------------------------------------------------------------------------

CASE_TITLE = "Case study HX-CS-301: J2 RV reducer wear on a palletizing robot"


def case(idx: int, section: str, text: str) -> Any:
    return make_chunk(
        f"hx-cs-301-{idx:04d}",
        doc_id="hx-cs-301",
        title=CASE_TITLE,
        section=section,
        chunk_index=idx,
        text=text,
        kind="case",
        contributor="huaxin-robotics",
    )


CASE_INTRO = case(
    0,
    "",
    "Equipment: HX-R165 palletizing robot (165 kg payload), HXC-5 controller, installed in July "
    "2018. Report issued: 2023-06-20.",
)
CASE_SYMPTOM = case(
    1,
    "Symptom",
    "From February 2023 the operators reported a low rumbling noise from the J2 reducer during "
    "the lift stroke. On 2023-03-13 the robot stopped three times with alarm E-2050 (collision "
    "detected, J2). The plant raised the collision-detection threshold to 150 %.",
)
CASE_CAUSE = case(
    2,
    "Root cause",
    "The J2 RV reducer was worn because its grease had never been changed in 31,800 hours, "
    "about three times the severe-duty interval of 10,000 hours.",
)
CASE_FIX = case(
    3,
    "Fix",
    "The J2 reducer was replaced on 2023-03-25. J1 and J3 grease was changed according to the "
    "HX-R165 grease procedure, with 1,400 ml of grease injected per axis.",
)
R20_TITLE = "HX-MP-201 Grease replacement of the RV reducers, axes J1 to J3 (HX-R20)"
R20_STEPS = make_chunk(
    "hx-mp-201-0001",
    doc_id="hx-mp-201",
    title=R20_TITLE,
    section="6 Procedure",
    chunk_index=1,
    contributor="huaxin-robotics",
    text="1. Run the HX-R20 for 10 minutes so that the grease warms up.\n"
    "2. Remove the outlet plug of the reducer first.\n"
    "3. Inject 780 ml of HXG-RV0 grease at no more than 0.15 MPa.\n"
    "4. Refit the plugs and tighten them to 8 N·m.",
)
R20_SCOPE = make_chunk(
    "hx-mp-201-0000",
    doc_id="hx-mp-201",
    title=R20_TITLE,
    section="1 Scope",
    chunk_index=0,
    contributor="huaxin-robotics",
    text="This procedure covers the grease replacement of the J1 to J3 reducers of the HX-R20. "
    "The severe-duty grease interval of the HX-R20 is 10,000 operating hours.",
)
DH_LAB = make_chunk(
    "dh-lab-0000",
    doc_id="dh-lab",
    title="实验指导书：DH-R20 机器人 J2 轴减速器润滑脂更换",
    section="四、实验步骤",
    contributor="donghai-polytechnic",
    language="zh",
    text="1．按下急停并上锁挂牌。\n2．先拆下排脂口螺塞。\n"
    "3．注入 420 g 润滑脂，注脂压力不超过 0.2 MPa。\n4．装回螺塞，拧紧力矩 6 N·m。",
)
STANDARD = make_chunk(
    "itsc-ms-310-0000",
    doc_id="itsc-ms-310",
    title="ITSC-MS 310:2018 Lubrication of industrial robots",
    section="5.3 Reducer lubrication",
    contributor="itsc",
    kind="standard",
    text="The grease of robot reducers shall be replaced every 20,000 operating hours or 4 years, "
    "whichever comes first. Under severe duty the interval is 10,000 operating hours. A grease "
    "sample with more than 0.1 wt% iron indicates abnormal reducer wear.",
)
# The traps first: the HX-R20 procedure ranks above the HX-R165 case it must not be mixed into.
MIXED = (R20_STEPS, R20_SCOPE, CASE_SYMPTOM, CASE_FIX, CASE_CAUSE, CASE_INTRO, STANDARD, DH_LAB)


def hits(*chunks: Any) -> list[Hit]:
    return [Hit(c, 1.0 / (i + 1)) for i, c in enumerate(chunks)]


def cited_docs(exercise: ExerciseSet, hs: Sequence[Hit]) -> set[str]:
    return {hs[c.n - 1].chunk.doc_id for c in exercise.citations}


def rendered(exercise: ExerciseSet, hs: Sequence[Hit]) -> str:
    quotes = " ".join(hs[c.n - 1].chunk.text for c in exercise.citations)
    return f"{exercise_to_markdown(exercise)}\n{exercise_to_gift(exercise)}\n{quotes}"


@pytest.mark.parametrize(
    "request_",
    [
        "Make exercises on reducer grease replacement for the HX-R165",
        "Case-based exercise on J2 reducer wear after missed grease changes",  # no model named
        "为HX-R165减速器磨损案例编写练习题",
    ],
)
def test_exercise_on_an_hx_r165_case_uses_no_hx_r20_or_dh_r20_source(request_: str) -> None:
    hs = hits(*MIXED)
    exercise = build_exercise_set(request_, hs)
    assert exercise.title == CASE_TITLE
    assert cited_docs(exercise, hs) <= {"hx-cs-301", "itsc-ms-310"}
    text = rendered(exercise, hs)
    for other in ("HX-R20", "DH-R20", "HXG-RV0", "780 ml", "420 g"):
        assert other not in text
    assert_quality(exercise, hs)


def test_exercise_for_the_hx_r20_stays_on_the_hx_r20() -> None:
    hs = hits(*MIXED)
    exercise = build_exercise_set("Make exercises on reducer grease replacement for the HX-R20", hs)
    assert exercise.title == R20_TITLE
    assert cited_docs(exercise, hs) <= {"hx-mp-201", "itsc-ms-310"}
    text = rendered(exercise, hs)
    for other in ("HX-R165", "DH-R20", "1,400 ml", "420 g"):
        assert other not in text
    order = next(q for q in exercise.questions if q.kind == "order")
    assert order.items[order.correct[0]].startswith("Run the HX-R20")
    assert_quality(exercise, hs)


ANSWER_KEY = make_chunk(
    "nlc-key-0000",
    doc_id="nlc-key",
    title="Answer key — NLC-ROB-102 Robot mastering (teachers only)",
    section="Exercise 4 (4 marks)",
    kind="course",
    allowed_roles=("teacher",),
    text="The J2 reducer grease must be changed every 10,000 operating hours under severe duty "
    "(2 marks). Typical student error: using the normal interval of 20,000 hours.",
)


@pytest.mark.parametrize(
    "request_",
    ["Make exercises on J2 reducer grease intervals", "Exercise from the NLC-ROB-102 answer key"],
)
def test_an_answer_key_is_never_the_subject_nor_the_source_of_a_set(request_: str) -> None:
    """A set is handed to students: the teachers-only answer key among the hits (first here)
    gives it neither its subject nor any sentence."""
    hs = hits(ANSWER_KEY, CASE_SYMPTOM, CASE_CAUSE, CASE_FIX, CASE_INTRO)
    exercise = build_exercise_set(request_, hs)
    assert exercise.title != ANSWER_KEY.title
    assert "nlc-key" not in cited_docs(exercise, hs)
    assert "Typical student error" not in exercise_to_markdown(exercise)
    alone = build_exercise_set(request_, hits(ANSWER_KEY))
    assert not alone.questions


def test_a_generic_source_may_serve_a_case_set() -> None:
    """A source that names no model (a standard) is not another model's: it may be used."""
    hs = hits(CASE_SYMPTOM, CASE_CAUSE, STANDARD, CASE_INTRO)
    exercise = build_exercise_set("Exercise on reducer grease intervals for the HX-R165 case", hs)
    assert exercise.title == CASE_TITLE
    assert cited_docs(exercise, hs) <= {"hx-cs-301", "itsc-ms-310"}
    assert_quality(exercise, hs)


def test_exercise_scenario_is_one_case_in_document_order() -> None:
    other_case = make_chunk(
        "mc-cs-201-0001",
        doc_id="mc-cs-201",
        title="Case study MC-CS-201: Spindle bearing noise after a grease change",
        section="Symptom",
        chunk_index=1,
        kind="case",
        contributor="meridian-cnc",
        text="In November the spindle reported alarm SP1241 and a rising noise after the grease "
        "change of its bearings. The operators noticed vibration at 9,000 min⁻¹.",
    )
    # The case's chunks out of order, another case between them.
    hs = hits(CASE_SYMPTOM, other_case, CASE_CAUSE, CASE_INTRO, CASE_FIX)
    exercise = build_exercise_set(
        "Case-based exercise on J2 reducer wear with a rumbling noise", hs
    )
    assert exercise.title == CASE_TITLE
    assert re.sub(r"\s*\[\d+\]", "", exercise.scenario) == (
        "Equipment: HX-R165 palletizing robot (165 kg payload), HXC-5 controller, installed in "
        "July 2018. From February 2023 the operators reported a low rumbling noise from the J2 "
        "reducer during the lift stroke. On 2023-03-13 the robot stopped three times with alarm "
        "E-2050 (collision detected, J2). The plant raised the collision-detection threshold to "
        "150 %."
    )
    assert "mc-cs-201" not in cited_docs(exercise, hs)  # another case is never stitched in
    assert_quality(exercise, hs)


def test_exercise_short_answer_when_the_key_is_a_few_words_else_essay() -> None:
    labelled = case(2, "Root cause", "Root cause: a worn oil seal.")
    hs = hits(CASE_SYMPTOM, labelled, CASE_FIX, CASE_INTRO)
    exercise = build_exercise_set("Case-based exercise on the J2 reducer wear", hs)
    cause, fix = exercise.questions[:2]
    assert (cause.kind, cause.answer) == ("short_answer", "a worn oil seal")
    assert fix.kind == "essay" and fix.answer == "The J2 reducer was replaced on 2023-03-25."
    gift = exercise_to_gift(exercise)
    assert "{=a worn oil seal}" in gift
    assert "{####The J2 reducer was replaced on 2023-03-25.}" in gift
    markdown = exercise_to_markdown(exercise)
    assert "1. *Short answer*. " in markdown and "2. *Essay*. " in markdown
    assert "2. Grading guidance: The J2 reducer was replaced on 2023-03-25. [3]" in markdown
    assert_quality(exercise, hs)


def test_chinese_exercise_short_answer_and_essay() -> None:
    chunk = make_chunk(
        "jn-case-0000",
        doc_id="jn-case",
        title="案例：J2轴减速机漏油",
        section="案例",
        kind="case",
        language="zh",
        contributor="jiangnan-precision",
        text="2023年5月，一台焊接机器人J2轴减速机在更换润滑脂两天后出现漏油，并伴有报警SRVO-050。"
        "原因：油封老化。"
        "整改措施：更换油封，并在打开排油塞的状态下重新注油，注油压力不超过0.15 MPa。",
    )
    hs = hits(chunk)
    exercise = build_exercise_set("请编写关于J2轴减速机漏油的练习", hs)
    assert exercise.language == "zh" and "SRVO-050" in exercise.scenario
    kinds = {q.kind: q for q in exercise.questions}
    assert kinds["short_answer"].answer == "油封老化"
    assert kinds["essay"].answer.startswith("整改措施：更换油封")
    markdown = exercise_to_markdown(exercise)
    assert "*简答题*" in markdown and "*问答题*" in markdown and "评分要点：整改措施" in markdown
    assert_quality(exercise, hs)


def test_source_markers_never_reach_question_text() -> None:
    marked = make_chunk(
        "hx-mp-201-0002",
        doc_id="hx-mp-201",
        title=R20_TITLE,
        section="6 Procedure",
        chunk_index=2,
        contributor="huaxin-robotics",
        text="5. Tighten the R1/8 plugs of the HX-R20 to 8 N·m [6].\n"
        "6. Move the HX-R20 to P[2] and run the purge program for 20 minutes [7].\n"
        "7. Check the plugs for leaks after 24 hours [6, 7].",
    )
    hs = hits(marked, R20_STEPS, R20_SCOPE)
    exercise = build_exercise_set("Exercise on the HX-R20 grease plugs", hs)
    assert_quality(exercise, hs)
    text = exercise_to_gift(exercise) + exercise_to_markdown(exercise)
    assert "[6]" not in text and "[7]" not in text and "［6］" not in text


def test_renderers_move_markers_out_of_question_text() -> None:
    exercise = ExerciseSet(
        title="Plugs",
        scenario="The plug leaked [1]. Grease dripped on the fixture [2].",
        questions=(
            ExerciseQuestion("short_answer", "What leaked [1]?", "the plug [1]", (1,)),
            ExerciseQuestion("essay", "Why did it leak?", "It was not tightened [2].", (2,)),
            ExerciseQuestion("fill_blank", "Tighten to _____ [3] at P[2].", "8 N·m", (3,)),
            ExerciseQuestion(
                "multiple_choice",
                "Pick the torque [3]",
                "A. 8 N·m",
                (3,),
                ("8 N·m", "10 N·m"),
                (0,),
            ),
        ),
        citations=tuple(
            Citation(n, f"src{n}.md", f"d{n}", f"d{n}#0", f"Source {n}", "", "itsc", "q")
            for n in (1, 2, 3)
        ),
    )
    assert_no_markers_in_questions(exercise)
    gift = exercise_to_gift(exercise)
    assert (
        "::Scenario:: The plug leaked. Grease dripped on the fixture.\n// Sources: [1, 2]" in gift
    )
    assert "::Q1:: What leaked? {=the plug}\n// Sources: [1]" in gift
    assert "::Q2:: Why did it leak? {####It was not tightened.}" in gift
    assert "::Q3:: Tighten to {=8 N·m} at P[2].\n// Sources: [3]" in gift
    assert "// [3] Source 3 (itsc; src3.md)" in gift
    markdown = exercise_to_markdown(exercise)
    assert "**Scenario**. The plug leaked. Grease dripped on the fixture.\n\n*Sources: [1, 2]*" in (
        markdown
    )
    assert "2. Grading guidance: It was not tightened. [2]" in markdown


@pytest.mark.parametrize(
    ("answer", "short"),
    [
        ("8 N·m", True),
        ("a worn oil seal", True),
        ("HX-JIG-165", True),
        ("the grease had never been changed in time", False),
        ("油封老化", True),
        ("更换油封，并在打开排油塞的状态下重新注油", False),
        ("HXG-RV0 润滑脂", True),
        ("", False),
    ],
)
def test_exercise_short_answer_length(answer: str, short: bool) -> None:
    assert is_short_answer(answer) is short


# --- the demo corpus ------------------------------------------------------------------------

NORTHLAKE = Identity(None, "northlake-college", "teacher")
DONGHAI = Identity(None, "donghai-polytechnic", "teacher")
DEMO_REQUESTS = [
    # The reported set: an HX-R20 procedure in an HX-R165 case.
    ("Make exercises on reducer grease replacement for the HX-R165", NORTHLAKE),
    ("Exercises on RV reducer grease replacement", NORTHLAKE),
    ("Case-based exercise on J2 reducer wear on a palletizing robot", NORTHLAKE),
    (
        "Create case-based exercises on intermittent encoder alarms caused by harness wear.",
        NORTHLAKE,
    ),
    ("Make an exercise set on spindle bearing failures for my second-year CNC class.", NORTHLAKE),
    ("I need an exercise set on coolant management using a real tramp-oil case.", NORTHLAKE),
    ("为HX-R20减速器换油编写练习题", NORTHLAKE),
    ("编写关于减速器润滑脂更换的练习题", NORTHLAKE),
    ("用华鑫码垛机器人 J2 减速器磨损的案例，给我出一套案例分析练习题，附参考答案。", DONGHAI),
    ("请用江南精密 C304 面铣刀松脱的案例出几道练习题，附答案。", DONGHAI),
    # Names no case: the retrieved case's chunks were its title and diagnosis only.
    ("根据减速器润滑脂更换案例出一套练习题", DONGHAI),
]


@pytest.fixture(scope="module")
def demo_sets(demo_store_home: Path, embedder: Any) -> Iterator[dict[str, Any]]:
    """Each demo request asked in exercise mode: the answer, its exercise set and hits."""
    from assistant.registry import build_assistant
    from assistant.settings import load_settings
    from assistant.store import KnowledgeStore

    settings = load_settings({"paths": {"home": demo_store_home}}, environ={})
    store = KnowledgeStore(demo_store_home)
    assistant = build_assistant(settings, store, embedder)
    answerer = assistant.answerer
    assert isinstance(answerer, ExtractiveAnswerer)
    out = {}
    for request_, identity in DEMO_REQUESTS:
        answer = assistant.ask(request_, identity=identity, mode="exercise")
        hs = list(answer.retrieved)
        exercise = None if answer.refused else answerer.exercise_set(request_, hs)
        out[request_] = {"answer": answer, "exercise": exercise, "hits": hs}
    yield out
    store.close()


@pytest.mark.parametrize("request_", [r for r, _ in DEMO_REQUESTS])
def test_demo_exercise_set_quality(demo_sets: dict[str, Any], request_: str) -> None:
    got = demo_sets[request_]
    answer, exercise, hs = got["answer"], got["exercise"], got["hits"]
    assert not answer.refused, answer.answer
    assert answer.answer == exercise_to_markdown(exercise)
    assert answer.citations == exercise.citations
    assert exercise.language == ("zh" if CJK.search(request_) else "en")
    assert_quality(exercise, hs)


def test_demo_hx_r165_exercise_is_the_hx_r165_case_alone(demo_sets: dict[str, Any]) -> None:
    got = demo_sets["Make exercises on reducer grease replacement for the HX-R165"]
    exercise, hs = got["exercise"], got["hits"]
    assert exercise.title.startswith("Case study HX-CS-301")
    assert set().union(*models_cited(exercise, hs).values()) == {"HX-R165"}
    assert "HX-R20" not in rendered(exercise, hs) and "DH-R20" not in rendered(exercise, hs)


def test_demo_grease_exercise_mixes_no_models(demo_sets: dict[str, Any]) -> None:
    """Before: an HX-R165 case with HX-MP-201 (HX-R20) steps, or a DH-R20 lab's list."""
    for request_ in (
        "Exercises on RV reducer grease replacement",
        "Case-based exercise on J2 reducer wear on a palletizing robot",
    ):
        got = demo_sets[request_]
        models = set().union(*models_cited(got["exercise"], got["hits"]).values())
        assert len(models) == 1, (request_, models)


def test_demo_chinese_exercise_on_the_hx_r20(demo_sets: dict[str, Any]) -> None:
    got = demo_sets["为HX-R20减速器换油编写练习题"]
    exercise, hs = got["exercise"], got["hits"]
    assert "HX-R20" in exercise.title
    assert set().union(*models_cited(exercise, hs).values()) <= {"HX-R20"}
    markdown = exercise_to_markdown(exercise)
    assert (
        markdown.startswith("## 练习：") and "### 题目" in markdown and "### 参考答案" in markdown
    )


def test_demo_case_set_reads_its_whole_case(demo_sets: dict[str, Any]) -> None:
    """Before: the case's title over a generic task, questions from an answer key and a course,
    because only two of the case's chunks were retrieved; exercise mode reads a retrieved case
    whole (`Mode.whole_kinds`), so the set tells the case's story and asks its cause and fix."""
    got = demo_sets["根据减速器润滑脂更换案例出一套练习题"]
    exercise, hs = got["exercise"], got["hits"]
    case = anchor_doc(exercise, hs)
    assert next(h.chunk.kind for h in hs if h.chunk.doc_id == case) == "case"
    refs = scenario_refs(exercise)
    assert refs and {hs[n - 1].chunk.doc_id for n in refs} == {case}
    # the case is English: its sentences are set apart in the Chinese set's scenario
    scenario = next(line for line in exercise_to_markdown(exercise).splitlines() if "情境" in line)
    assert not re.search(r"[a-z0-9)]\.[A-Z]", scenario), scenario
    essays = [q for q in exercise.questions if q.kind == "essay"]
    assert [q.prompt for q in essays] == [
        "本案例中故障的根本原因是什么？",
        "针对该故障采取了什么纠正措施？",
    ]
    assert all(q.refs and {hs[n - 1].chunk.doc_id for n in q.refs} == {case} for q in essays)
