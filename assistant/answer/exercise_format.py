"""Exercise sets as data, rendered as Markdown (with answer key) or Moodle GIFT."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from assistant.types import Citation

QuestionKind = Literal["short_answer", "order", "fill_blank", "multiple_choice"]
BLANK = "_____"
_GIFT_SPECIAL = re.compile(r"([~=#{}:])")
_LABELS = {
    "en": {
        "exercise": "Exercise",
        "scenario": "Scenario",
        "questions": "Questions",
        "key": "Answer key",
        "short_answer": "Short answer",
        "order": "Put the steps in order",
        "fill_blank": "Fill in the blank",
        "multiple_choice": "Multiple choice",
    },
    "zh": {
        "exercise": "练习",
        "scenario": "情境",
        "questions": "题目",
        "key": "参考答案",
        "short_answer": "简答题",
        "order": "排序题",
        "fill_blank": "填空题",
        "multiple_choice": "选择题",
    },
}


@dataclass(frozen=True)
class ExerciseQuestion:
    """One question with its key.

    Attributes:
        kind: short_answer | order | fill_blank | multiple_choice.
        prompt: the question; for fill_blank and multiple_choice it holds `BLANK` once.
        answer: the key as text (a sentence, a term, "C, A, B" for order, "B. 8 N·m").
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
    scenario: str  # with `[n]` markers
    questions: tuple[ExerciseQuestion, ...]
    citations: tuple[Citation, ...]
    language: str = "en"  # en | zh: the language of the labels
    notes: tuple[str, ...] = ()


def _cite(refs: tuple[int, ...]) -> str:
    return f"[{', '.join(str(n) for n in refs)}]" if refs else ""


def exercise_to_markdown(exercise: ExerciseSet) -> str:
    """The set as Markdown: title, scenario, numbered questions, then the cited answer key."""
    label = _LABELS.get(exercise.language, _LABELS["en"])
    colon, stop = ("：", "：") if exercise.language == "zh" else (": ", ". ")
    lines = [f"## {label['exercise']}{colon}{exercise.title}", ""]
    if exercise.scenario:
        lines += [f"**{label['scenario']}**{stop}{exercise.scenario}", ""]
    lines += [f"### {label['questions']}", ""]
    for k, q in enumerate(exercise.questions, start=1):
        lines.append(f"{k}. *{label[q.kind]}*{stop}{q.prompt}")
        lines += [f"   - {chr(ord('A') + i)}. {item}" for i, item in enumerate(q.items)]
    lines += ["", f"### {label['key']}", ""]
    for k, q in enumerate(exercise.questions, start=1):
        answer = q.answer
        if q.kind == "order":
            answer += " — " + " → ".join(q.items[i] for i in q.correct)
        lines.append(f"{k}. {answer} {_cite(q.refs)}")
    return "\n".join(lines).rstrip() + "\n"


def gift_escape(text: str) -> str:
    """Escape GIFT's special characters (`~ = # { } :` and the backslash) on one line."""
    text = re.sub(r"\s+", " ", text).replace("\\", "\\\\")
    return _GIFT_SPECIAL.sub(r"\\\1", text)


def exercise_to_gift(exercise: ExerciseSet) -> str:
    """The set in Moodle GIFT: the scenario as a description, one `::Qk::` per question.

    Ordering becomes a matching question (step → position); fill in the blank an embedded
    short answer; short answer `{=answer}`; multiple choice `{ =right ~wrong ... }`.
    """
    blocks = [f"// {exercise.title}".replace("\n", " ")]
    if exercise.scenario:
        blocks.append(f"::Scenario:: {gift_escape(exercise.scenario)}")
    for k, q in enumerate(exercise.questions, start=1):
        head = f"::Q{k}::"
        if q.kind == "short_answer":
            blocks.append(f"{head} {gift_escape(q.prompt.strip())} {{={gift_escape(q.answer)}}}")
        elif q.kind == "fill_blank":
            before, _, after = q.prompt.partition(BLANK)
            blocks.append(
                f"{head} {gift_escape(before)}{{={gift_escape(q.answer)}}}{gift_escape(after)}"
            )
        elif q.kind == "multiple_choice":
            options = " ".join(
                ("=" if i in q.correct else "~") + gift_escape(option)
                for i, option in enumerate(q.items)
            )
            blocks.append(f"{head} {gift_escape(q.prompt)} {{ {options} }}")
        else:
            pairs = "\n".join(
                f"  ={gift_escape(q.items[i].replace('->', '→'))} -> {position}"
                for position, i in enumerate(q.correct, start=1)
            )
            blocks.append(f"{head} {gift_escape(q.prompt)} {{\n{pairs}\n}}")
    return "\n\n".join(blocks) + "\n"
