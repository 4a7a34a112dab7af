"""The answer modes: one `Mode` record each, the one place a mode is declared.

Adding a mode means adding a record here and its extractive composer (a method of
`ExtractiveAnswerer` named by `compose`); the service, the LLM prompts, the web UI, the
OpenAI-compatible API and the CLI all read this table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.errors import ConfigError


@dataclass(frozen=True)
class Mode:
    """One answer mode.

    Attributes:
        name: the value of `mode` in requests and answers (the JSON contract).
        k: chunks to retrieve; None keeps the retriever's default.
        whole_kinds: document kinds read whole: the rest of the best two retrieved documents
            of these kinds is added to the hits (else of the best document), so that a
            procedure's steps come complete and an exercise's case tells its whole story.
        judged: the answerability judge decides answer, refusal or clarification first.
        compose: the `ExtractiveAnswerer` method that answers in this mode.
        refusal_en: the lead of a refusal in English; None for the generic one.
        refusal_zh: the same in Chinese.
        prompt: the task the generative answerer is given, after the shared rules.
        label_en: the web UI's label for the mode.
        label_zh: the same in Chinese.
        api_model: the OpenAI-compatible model name that selects the mode.
        request: the words that ask for this mode ("make some exercises on", "出一组…练习题"),
            left out of the retrieval query (`subject`): they name the mode, not the subject,
            and find every document's exercise section instead of the subject's documents.
    """

    name: str
    k: int | None
    whole_kinds: tuple[str, ...]
    judged: bool
    compose: str
    refusal_en: str | None
    refusal_zh: str | None
    prompt: str
    label_en: str
    label_zh: str
    api_model: str
    request: re.Pattern[str] | None = None

    def subject(self, query: str) -> str:
        """`query` without the words that ask for this mode; as it is when nothing else is left."""
        if self.request is None:
            return query
        left = re.sub(r"\s{2,}", " ", self.request.sub(" ", query)).strip(" ,，。.?？")
        return left if re.search(r"\w", left) else query

    def refusal_lead(self, chinese: bool) -> str | None:
        """The refusal lead in the question's language (None: the generic lead)."""
        return self.refusal_zh if chinese else self.refusal_en


_ALL = (
    Mode(
        name="ask",
        k=None,
        whole_kinds=(),
        judged=True,
        compose="_ask",
        refusal_en=None,
        refusal_zh=None,
        prompt="Task: answer the question directly in a few sentences, each with its citation.",
        label_en="Cited answer",
        label_zh="引用回答",
        api_model="techkb",
    ),
    # Structured modes need more of a document than a short answer does.
    Mode(
        name="procedure",
        k=12,
        whole_kinds=("procedure",),
        judged=False,
        compose="_procedure",
        refusal_en="No procedure for this was found in the knowledge base.",
        refusal_zh="知识库中没有找到相关的操作规程。",
        prompt=(
            "Task: write out the procedure the question asks for.\n"
            "- First line: the procedure's title, edition and contributor as the sources give "
            "them, with its citation.\n"
            "- Then the steps as a numbered list, in the order the sources give, one step per "
            "item, each ending with its citation. Add no step the sources do not contain.\n"
            "- Put every caution, warning or danger note, cited, right before the step it "
            "concerns.\n"
            "- If the sources disagree (editions, contributors, values), say so in a last line "
            "that cites each side."
        ),
        label_en="Procedure",
        label_zh="操作规程",
        api_model="techkb-procedure",
    ),
    Mode(
        name="exercise",
        k=12,
        whole_kinds=("case",),
        judged=False,
        compose="_exercise",
        refusal_en="The knowledge base has nothing reliable to build an exercise on this.",
        refusal_zh="知识库中没有可用于编写此练习的可靠资料。",
        prompt=(
            "Task: write a case-based exercise set for students in Markdown, built only from "
            "the sources.\n"
            "- '## Scenario': a short, realistic workplace case.\n"
            "- '## Questions': numbered, of several kinds: multiple choice (options A-D), short "
            "answer, putting steps in order, and one troubleshooting or judgement question.\n"
            "- '## Answer key': one numbered answer per question.\n"
            "- Every scenario sentence, question and answer ends with the citation of its "
            "source."
        ),
        label_en="Exercise set",
        label_zh="练习题",
        api_model="techkb-exercise",
        request=re.compile(
            # A verb or a quantity only where an exercise noun follows it ("design" of "make
            # exercises on gear design" is the subject); 请 only as the request's first word.
            r"\b(?:please\s+)?(?:make|create|design|write|generate|prepare|put together|give me|"
            r"draft)\s+(?=(?:[\w-]+\s+){0,4}?(?:exercises?|quiz|worksheets?)\b)"
            r"|\b(?:an?|some|a few|several|a set of)\s+(?=(?:[\w-]+\s+){0,3}?(?:exercises?|quiz))"
            r"|\b(?:case-based\s+)?(?:exercise sets?|exercises?|quiz(?:zes)?|worksheets?)\b"
            r"|\bwith (?:worked answers|(?:an )?answer keys?|(?:the )?answers|solutions)\b"
            r"|^\W*请|帮我|给我|(?:出|编|设计|生成|做|写)(?:一组|一套|几道|一些|些|一份|几个)"
            r"|一组|一套|几道|一份|关于"
            r"|(?:案例分析)?(?:练习题|习题|练习|试题|计算题|作业题|题目)|的?题(?=\W*$)"
            r"|附(?:上)?(?:参考)?答案",
            re.IGNORECASE,
        ),
    ),
)

MODES: dict[str, Mode] = {m.name: m for m in _ALL}
MODE_NAMES: tuple[str, ...] = tuple(MODES)


def get_mode(name: str) -> Mode:
    """The mode called `name`.

    Raises:
        ConfigError: no such mode (the message lists those that exist).
    """
    try:
        return MODES[name]
    except KeyError:
        raise ConfigError(f"unknown mode {name!r}; available: {', '.join(MODE_NAMES)}") from None
