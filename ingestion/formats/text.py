"""Markdown and plain text, through unstructured's ``partition_md`` and ``partition_text``."""

from __future__ import annotations

import re
from typing import Any

from ingestion.formats.base import (
    Extracted,
    depth_pieces,
    partition_safely,
    use_bundled_spacy_model,
)
from ingestion.formats.html import CleanHtml, clean_html

_MARKDOWN_EXTENSIONS = ["tables", "fenced_code", "admonition", "sane_lists"]
# Liquid/Jinja tags of static-site Markdown ({% slack_channel "x" %}); inline code is kept.
_TEMPLATE_TAG = re.compile(r"(?P<code>`[^`\n]*`)|\{%-?\s*(?P<name>\w+)(?P<args>[^%]*?)-?%\}")
_SILENT_TEMPLATE_TAGS = frozenset(
    {"image", "img", "include", "raw", "comment", "assign", "capture", "if", "elsif", "else",
     "unless", "case", "when", "for", "break", "continue", "cycle", "highlight", "render"}
)  # fmt: skip


def strip_template_tags(text: str) -> str:
    """Replace ``{% tag "Shown text" %}`` by its first quoted argument; drop other tags."""

    def replace(match: re.Match[str]) -> str:
        if match.group("code"):
            return match.group("code")
        name = match.group("name").lower()
        if name.startswith("end") or name in _SILENT_TEMPLATE_TAGS:
            return ""
        quoted = re.search(r'"([^"]*)"|\'([^\']*)\'', match.group("args"))
        return (quoted.group(1) or quoted.group(2) or "") if quoted else ""

    return _TEMPLATE_TAG.sub(replace, text)


def read_markdown(text: str, *, keep_hidden: bool = False) -> Extracted:
    """Markdown (front matter already removed) through ``partition_md``."""
    use_bundled_spacy_model()
    from markdown.extensions import Extension
    from markdown.postprocessors import Postprocessor
    from markdown.preprocessors import Preprocessor
    from unstructured.partition.md import partition_md

    cleaned: list[CleanHtml] = []

    class CleanPostprocessor(Postprocessor):
        def run(self, text: str) -> str:
            result = clean_html(text, keep_hidden=keep_hidden)
            cleaned.append(result)
            return result.html

    class TemplateTagPreprocessor(Preprocessor):
        def run(self, lines: list[str]) -> list[str]:
            return strip_template_tags("\n".join(lines)).split("\n")

    class CleanExtension(Extension):
        """Strips template tags (after fenced code is set aside) and cleans the HTML output."""

        def extendMarkdown(self, md: Any) -> None:
            md.preprocessors.register(TemplateTagPreprocessor(md), "techkb_template_tags", 15)
            md.postprocessors.register(CleanPostprocessor(md), "techkb_clean", 0)

    if not text.strip():
        return Extracted()
    extensions = [*_MARKDOWN_EXTENSIONS, CleanExtension()]
    elements = partition_safely("Markdown", partition_md, text=text, extensions=extensions)
    return Extracted(depth_pieces(elements), hidden_text=any(c.hidden_text for c in cleaned))


def read_plain_text(text: str) -> Extracted:
    """Plain text: paragraphs and list items, no headings (line-shape guesses are too noisy)."""
    use_bundled_spacy_model()
    from unstructured.partition.text import partition_text

    elements = partition_safely("text file", partition_text, text=text)
    return Extracted(depth_pieces(elements, headings=False))
