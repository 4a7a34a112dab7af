"""Exercise sets as data, rendered as Markdown (with answer key) or Moodle GIFT.

Neither rendering puts a citation marker inside what a student reads as a question: the
scenario's sources go on a line of their own (a comment in GIFT), each question's after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from assistant.types import Citation

QuestionKind = Literal["short_answer", "essay", "order", "fill_blank", "multiple_choice"]
BLANK = "_____"
# The longest key a short-answer item may have: a value with its unit, a part name.
MAX_SHORT_WORDS = 6
MAX_SHORT_CJK = 12
_GIFT_SPECIAL = re.compile(r"([~=#{}:])")
# A citation marker ("[3]", "[1, 2]", "[2-4]", full-width "［3］", "【3】"), not one that is part
# of a word, such as a robot program's position register "P[2]".
CITATION_MARKER = re.compile(
    r"[ \t]*(?<![A-Za-z0-9_\]）)】］])[\[［【]\s*"
    r"\d{1,4}(?:\s*(?:[,，、;；]|[-–])\s*\d{1,4})*\s*[\]］】]"
)
_CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z0-9]+(?:[-'’.,/·][A-Za-z0-9]+)*")
_LABELS = {
    "en": {
        "exercise": "Exercise",
        "scenario": "Scenario",
        "questions": "Questions",
        "key": "Answer key",
        "sources": "Sources",
        "guidance": "Grading guidance",
        "short_answer": "Short answer",
        "essay": "Essay",
        "order": "Put the steps in order",
        "fill_blank": "Fill in the blank",
        "multiple_choice": "Multiple choice",
    },
    "zh": {
        "exercise": "练习",
        "scenario": "情境",
        "questions": "题目",
        "key": "参考答案",
        "sources": "来源",
        "guidance": "评分要点",
        "short_answer": "简答题",
        "essay": "问答题",
        "order": "排序题",
        "fill_blank": "填空题",
        "multiple_choice": "选择题",
    },
}


@dataclass(frozen=True)
class ExerciseQuestion:
    """One question with its key.

    Attributes:
        kind: short_answer | essay | order | fill_blank | multiple_choice.
        prompt: the question; for fill_blank and multiple_choice it holds `BLANK` once.
        answer: the key as text: a few words for short_answer ("8 N·m"), the source sentence
            a grader marks against for essay, "C, A, B" for order, "B. 8 N·m" for a choice.
        refs: citation numbers (1-based into the hits) supporting the key.
        items: order: the shuffled steps; multiple_choice: the options.
        correct: order: for each step in the right order, its index in `items`;
            multiple_choice: the index of the right option.
    """

    kind: QuestionKind
    prompt: str
    answer: str
    refs: tuple[int, ...]
    items: tuple[str, ...] = ()
    correct: tuple[int, ...] = ()


@dataclass(frozen=True)
class ExerciseSet:
    """A case-based exercise: scenario, questions, answer key and the sources cited."""

    title: str
    scenario: str  # with `[n]` markers (the renderings move them out of the text)
    questions: tuple[ExerciseQuestion, ...]
    citations: tuple[Citation, ...]
    language: str = "en"  # en | zh: the language of the labels
    notes: tuple[str, ...] = ()


def without_markers(text: str) -> str:
    """The text without citation markers ("… grease bath [2]." → "… grease bath.")."""
    return CITATION_MARKER.sub("", text).strip()


def marker_numbers(text: str) -> tuple[int, ...]:
    """The numbers the citation markers of a text cite, in order, without repeats."""
    out: list[int] = []
    for m in CITATION_MARKER.finditer(text):
        for n in map(int, re.findall(r"\d+", m.group(0))):
            if n not in out:
                out.append(n)
    return tuple(out)


def is_short_answer(text: str) -> bool:
    """A key short enough to type and mark automatically: at most `MAX_SHORT_WORDS` words, or
    `MAX_SHORT_CJK` Chinese characters (a Latin word among them counting as two)."""
    text = text.strip()
    if not text:
        return False
    cjk = len(_CJK_CHAR.findall(text))
    words = len(_LATIN_WORD.findall(text))
    if cjk:
        return cjk + 2 * words <= MAX_SHORT_CJK
    return words <= MAX_SHORT_WORDS


def _cite(refs: Iterable[int]) -> str:
    refs = tuple(refs)
    return f"[{', '.join(str(n) for n in refs)}]" if refs else ""


def exercise_to_markdown(exercise: ExerciseSet) -> str:
    """The set as Markdown: title, scenario and its sources, numbered questions (no markers),
    then the answer key with each answer's citation."""
    label = _LABELS.get(exercise.language, _LABELS["en"])
    colon, stop = ("：", "：") if exercise.language == "zh" else (": ", ". ")
    lines = [f"## {label['exercise']}{colon}{exercise.title}", ""]
    if exercise.scenario:
        lines += [f"**{label['scenario']}**{stop}{without_markers(exercise.scenario)}", ""]
        refs = marker_numbers(exercise.scenario)
        if refs:
            lines += [f"*{label['sources']}{colon}{_cite(refs)}*", ""]
    lines += [f"### {label['questions']}", ""]
    for k, q in enumerate(exercise.questions, start=1):
        lines.append(f"{k}. *{label[q.kind]}*{stop}{without_markers(q.prompt)}")
        lines += [
            f"   - {chr(ord('A') + i)}. {without_markers(item)}" for i, item in enumerate(q.items)
        ]
    lines += ["", f"### {label['key']}", ""]
    for k, q in enumerate(exercise.questions, start=1):
        answer = without_markers(q.answer)
        if q.kind == "order":
            answer += " — " + " → ".join(without_markers(q.items[i]) for i in q.correct)
        elif q.kind == "essay":
            answer = f"{label['guidance']}{colon}{answer}"
        lines.append(f"{k}. {answer} {_cite(q.refs)}".rstrip())
    return "\n".join(lines).rstrip() + "\n"


def gift_escape(text: str) -> str:
    """Escape GIFT's special characters (`~ = # { } :` and the backslash) on one line."""
    text = re.sub(r"\s+", " ", text).replace("\\", "\\\\")
    return _GIFT_SPECIAL.sub(r"\\\1", text)


def _gift_text(text: str) -> str:
    """Question text or an answer for GIFT: no citation markers, escaped."""
    return gift_escape(without_markers(text))


def _gift_comment(text: str) -> str:
    """One GIFT comment line (Moodle drops it on import); no braces that could read as an
    answer block."""
    return "// " + re.sub(r"\s+", " ", text).replace("{", "(").replace("}", ")").strip()


def _sources_label(exercise: ExerciseSet) -> str:
    label = _LABELS.get(exercise.language, _LABELS["en"])["sources"]
    return f"{label}：" if exercise.language == "zh" else f"{label}:"


def _gift_sources(refs: Iterable[int], exercise: ExerciseSet) -> str:
    refs = tuple(refs)
    return _gift_comment(f"{_sources_label(exercise)} {_cite(refs)}") if refs else ""


def exercise_to_gift(exercise: ExerciseSet) -> str:
    """The set in Moodle GIFT: the scenario as a description, one `::Qk::` per question.

    Ordering becomes a matching question (step → position); fill in the blank an embedded
    short answer; short answer `{=answer}`; essay `{####guidance}` (an essay whose general
    feedback is the grading guidance); multiple choice `{ =right ~wrong ... }`. No question
    text or answer holds a citation marker: the sources are listed in comments at the top and
    after each question.
    """
    blocks = [_gift_comment(exercise.title)]
    if exercise.citations:
        listed = [_gift_comment(_sources_label(exercise))]
        for c in exercise.citations:
            where = f", {c.locator}" if c.locator else ""
            listed.append(_gift_comment(f"[{c.n}] {c.title}{where} ({c.contributor}; {c.source})"))
        blocks.append("\n".join(listed))
    if exercise.scenario:
        block = f"::Scenario:: {_gift_text(exercise.scenario)}"
        sources = _gift_sources(marker_numbers(exercise.scenario), exercise)
        blocks.append(f"{block}\n{sources}" if sources else block)
    for k, q in enumerate(exercise.questions, start=1):
        head = f"::Q{k}::"
        if q.kind == "short_answer":
            block = f"{head} {_gift_text(q.prompt)} {{={_gift_text(q.answer)}}}"
        elif q.kind == "essay":
            block = f"{head} {_gift_text(q.prompt)} {{####{_gift_text(q.answer)}}}"
        elif q.kind == "fill_blank":
            before, _, after = q.prompt.partition(BLANK)
            block = (
                f"{head} {gift_escape(CITATION_MARKER.sub('', before))}"
                f"{{={_gift_text(q.answer)}}}{gift_escape(CITATION_MARKER.sub('', after))}"
            )
        elif q.kind == "multiple_choice":
            options = " ".join(
                ("=" if i in q.correct else "~") + _gift_text(option)
                for i, option in enumerate(q.items)
            )
            block = f"{head} {_gift_text(q.prompt)} {{ {options} }}"
        else:
            pairs = "\n".join(
                f"  ={_gift_text(q.items[i].replace('->', '→'))} -> {position}"
                for position, i in enumerate(q.correct, start=1)
            )
            block = f"{head} {_gift_text(q.prompt)} {{\n{pairs}\n}}"
        sources = _gift_sources(q.refs, exercise)
        blocks.append(f"{block}\n{sources}" if sources else block)
    return "\n\n".join(blocks) + "\n"
