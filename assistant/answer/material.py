"""Course material that asks rather than tells: exercise prompts and learning objectives. An
answer never quotes them as facts nor reads them as evidence."""

from __future__ import annotations

import re

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
