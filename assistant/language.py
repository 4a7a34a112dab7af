"""Which language a text is in, as far as retrieval cares: Chinese or not."""

from __future__ import annotations

import re

# CJK unified ideographs (extension A, basic, compatibility): what counts as Chinese text.
CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK = re.compile(f"[{CJK_CHARS}]")


def detect_language(text: str) -> str:
    """`zh` when Chinese characters make up more than a fifth of the letters, else `en`."""
    sample = text[:4000]
    letters = sum(ch.isalpha() for ch in sample) or 1
    return "zh" if len(CJK.findall(sample)) / letters > 0.2 else "en"


def is_chinese_tag(tag: str) -> bool:
    """Whether a language tag (`zh`, `zh-cn`, `zhcn`) names Chinese."""
    return tag.lower().startswith("zh")


def squash(text: str) -> str:
    """Letters and digits only, lower-cased: how a code is compared however it is written
    ("HX-R20", "HX R20", "hx_r20" all give "hxr20")."""
    return re.sub(r"[\W_]+", "", text.lower())
