"""List the content words of a store's Chinese chunks that neither CC-CEDICT nor the glossary
(`assistant/glossary_zh.json`) knows, most frequent first, and the known ones whose first senses
the English chunks never use (candidates for a glossary entry: 零点 is "midnight" first).

    python -m evals.gloss_gaps --store DIR [--top 60]

A Chinese question is put in English word by word (`assistant.translate.english_question`) and
a Chinese sentence is read by the cross-encoder as its gloss; a word the dictionary lacks is lost
("夹爪" became "press either side foot bird animal"). Read the list, add the technical words with
the senses the English sources use, and measure on the Chinese rows of the eval sets.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

from assistant.language import CJK_CHARS
from assistant.store.keyword import tokenize

_TERM = re.compile(f"[{CJK_CHARS}]{{2,}}")


def gaps(texts_zh: list[str], texts_en: list[str]) -> tuple[Counter[str], Counter[str]]:
    """(unknown words, known words none of whose first senses the English texts use), each
    with its count in `texts_zh`."""
    from assistant import translate

    tagger = translate._posseg()
    english = Counter(w for t in texts_en for w in tokenize(t))
    unknown: Counter[str] = Counter()
    unused: Counter[str] = Counter()
    for text in texts_zh:
        for word, flag in tagger.cut(text):
            if not _TERM.fullmatch(word) or not translate._content_word(word, flag):
                continue
            senses = translate._senses(word)
            if senses is None:
                unknown[word] += 1
            elif not any(english[t] for s in senses for t in tokenize(s)):
                unused[word] += 1
    return unknown, unused


def main(argv: list[str] | None = None) -> int:
    from assistant.answer.terms import is_chinese
    from assistant.store.catalog import Catalog

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="store directory")
    parser.add_argument("--top", type=int, default=60, help="words listed of each kind")
    args = parser.parse_args(argv)
    catalog = Catalog.open(args.store)
    try:
        texts = [chunk.text for _scope, chunk in catalog.iter_chunks()]
    finally:
        catalog.close()
    unknown, unused = gaps(
        [t for t in texts if is_chinese(t)], [t for t in texts if not is_chinese(t)]
    )
    print(f"unknown to the dictionary and the glossary ({len(unknown)}):")
    print(" ".join(f"{w}:{n}" for w, n in unknown.most_common(args.top)))
    print(f"\nknown, in senses the English sources do not use ({len(unused)}):")
    print(" ".join(f"{w}:{n}" for w, n in unused.most_common(args.top)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
