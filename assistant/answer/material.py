"""Course material that asks rather than tells: exercise prompts and learning objectives. An
answer never quotes them as facts nor reads them as evidence."""

from __future__ import annotations

import re
from collections.abc import Callable

from assistant.answer.citations import is_list_item
from assistant.types import Chunk

# A numbered task in an exercise or review section ("3. Name three methods of preloading a
# ball nut."): it asks, however it ends, and states no fact.
_TASK_SECTION = re.compile(
    r"exercises?\b|questions\b|quiz|self[- ]check|assignments?\b|思考题|练习|习题|作业|复习题",
    re.IGNORECASE,
)
_TASK_PROMPT = re.compile(
    r"^\s*(?:\(?\d{1,2}[.)、]|[a-h][.)])\s*(?:name|list|explain|describe|calculate|state|give|"
    r"identify|compare|discuss|determine|estimate|sketch|work out|justify|outline|define|show|"
    r"why|how|what|which|简述|说明|列出|计算|解释|比较|分析|写出|指出|为什么|如何|什么)",
    re.IGNORECASE,
)


# What a course says its students will be able to do: every item is a task, none a fact.
_OBJECTIVES_SECTION = re.compile(
    r"objectives\b|learning outcomes|学习目标|教学目标|能力目标", re.IGNORECASE
)


# Headings of what answers the exercises: a marking guide's items are answers, not tasks.
_ANSWER_SECTION = re.compile(r"answers?\b|solutions?\b|参考答案|答案|解答", re.IGNORECASE)


def kept_from_students(chunk: Chunk) -> bool:
    """Instructor material: a chunk whose `allowed_roles` leave students out (an answer key)."""
    roles = chunk.allowed_roles
    return bool(roles) and "student" not in roles


def is_task_prompt(text: str, section: str, instructor: bool = False) -> bool:
    """Exercise material, never a fact: an item of a course's learning objectives, or any
    sentence under an exercise, review or question heading (the prompts and the scenarios they
    set). In instructor material (`instructor`: students may not see it, e.g. an answer key,
    whose sections are named after the exercises they answer) only a numbered prompt is."""
    if _OBJECTIVES_SECTION.search(section):
        return is_list_item(text)
    if not _TASK_SECTION.search(section) or _ANSWER_SECTION.search(section):
        return False
    return bool(_TASK_PROMPT.match(text)) if instructor else True


# A document's front matter, restated as sentences ("Document code: ITSC-ES 602.", "Edition:
# 2022.", "Prepared by Technical Committee TC 5 …"): what the document is, not what it says.
_FRONT_MATTER = re.compile(
    r"^\s*(?:document (?:code|number|no\.?)|edition|effective(?: date)?|published(?: by)?|"
    r"publisher|supersedes|approved by|issued by)\s*:|^\s*prepared by\b"
    r"|^\s*(?:文件编号|文件代号|版本|版次|生效日期|实施日期|编制|审核|批准|发布日期|发布单位)\s*[:：]",
    re.IGNORECASE,
)
# A question about the document itself: its edition, date, code or authors.
_ASKS_ABOUT_DOCUMENT = re.compile(
    r"\b(?:edition|version|revision|effective|published|issued|prepared|approved|who wrote|"
    r"who issued|document (?:code|number)|when (?:was|did))\b"
    r"|版本|版次|生效|实施|发布|编号|哪一版|谁编制|谁发布",
    re.IGNORECASE,
)


def is_front_matter(text: str) -> bool:
    """Whether a sentence restates a document's front matter (its code, edition, date,
    authors) rather than saying something of its subject."""
    return bool(_FRONT_MATTER.match(text))


def hidden_front_matter(question: str) -> Callable[[str], bool]:
    """Which sentences an answer to `question` leaves out as front matter: those of
    `is_front_matter`, unless the question asks about a document itself (its edition, date,
    code or authors: "When did ITSC-ES 602 take effect?")."""
    if _ASKS_ABOUT_DOCUMENT.search(question):
        return lambda _text: False
    return is_front_matter
