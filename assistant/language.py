"""Which language a text is in, as far as retrieval cares: Chinese or not."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def detect_language(text: str) -> str:
    """`zh` when Chinese characters make up more than a fifth of the letters, else `en`."""
    sample = text[:4000]
    letters = sum(ch.isalpha() for ch in sample) or 1
    return "zh" if len(_CJK.findall(sample)) / letters > 0.2 else "en"
