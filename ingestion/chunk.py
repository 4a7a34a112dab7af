"""Cut a parsed document into chunks by structure, each sized for the embedder's window.

A chunk holds part of one section, packed greedily. Each section becomes a tree of nodes:
outermost what we most want kept whole (a procedure, a table, a paragraph), innermost what we
split into only when nothing larger fits (a step, a row, a sentence, a word, a character).
Packing places a node whole when it fits and descends into its children only when it cannot.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeAlias

from assistant.answer.citations import is_list_item
from assistant.errors import ParseError
from ingestion.document import Block, ParsedDocument

# How a text too big to fit is cut, coarsest first: lines, sentences (English and Chinese),
# words, runs of `_WINDOW` characters (None), characters. The runs keep a long unbroken string
# (a base64 blob, a hex dump) from becoming one node per character: packing calls the tokenizer
# once per node.
_SPLITTERS: tuple[re.Pattern[str] | None, ...] = (
    re.compile(r"\s*\n\s*"),
    re.compile(
        r"(?:(?<=[.?!])|(?<=[.?!][\"'”’)\]]))\s+"
        r"|(?:(?<=[。！？；])(?![”’」』）)])|(?<=[。！？；][”’」』）)]))\s*"
    ),
    re.compile(r"\s+"),
    None,
    re.compile(r""),
)
_WINDOW = 32
_TABLE_RULE = re.compile(r"[\s|:+]*-[\s|:+-]*")
_LEAD_IN_END = (":", "：")
# Below this many tokens of room for text the heading path leaves nothing useful to chunk.
_MIN_ROOM = 8


@dataclass(frozen=True)
class ChunkDraft:
    """A chunk before it is embedded and stored.

    Attributes:
        text: the chunk body: clean text, blocks joined by newlines, list items keep numbers
            (an item without one is marked "- ").
        section: the heading path joined with `` > `` ("" when none).
        heading_path: the headings above the chunk, outermost first.
        page: first page the chunk covers (None for unpaged formats).
        chunk_index: position of the chunk in its document, 0..n-1.
    """

    text: str
    section: str
    heading_path: tuple[str, ...]
    page: int | None
    chunk_index: int


@dataclass(frozen=True)
class _Atom:
    """The smallest unit packing handles: never split further."""

    text: str
    sep: str  # put before it when it follows another atom in the same chunk
    page: int | None
    carry: str | None = None  # a table header to repeat when this atom opens a chunk


_Node: TypeAlias = "_Atom | list[_Node]"
_Fits = Callable[[str], bool]


@dataclass
class _Section:
    path: tuple[str, ...]
    blocks: list[Block] = field(default_factory=list)
    merged: bool = False


def embedding_text(title: str, chunk: ChunkDraft) -> str:
    """What gets embedded: ``"title — section"`` on a first line, then the chunk text."""
    return _embed(title, chunk.section, chunk.text)


def chunk_document(
    doc: ParsedDocument,
    *,
    count_tokens: Callable[[str], int],
    max_tokens: int = 230,
    min_tokens: int = 40,
) -> list[ChunkDraft]:
    """Cut a document into chunks that follow its sections and fit the embedder.

    Args:
        doc: the parsed document; heading blocks become the chunks' section, not their text.
            ``doc.title`` must be the title later given to `embedding_text`: it is counted.
        count_tokens: how many tokens the embedder reads for a text (special tokens included).
        max_tokens: the most tokens ``embedding_text(doc.title, chunk)`` may count, for every
            chunk.
        min_tokens: sibling sections both under this size are merged under their parent.

    Returns:
        The chunks in document order, ``chunk_index`` 0..n-1.

    Raises:
        ValueError: ``max_tokens`` is not positive or ``min_tokens`` is negative.
        ParseError: the title and heading path alone leave (almost) no room for text.
    """
    if max_tokens <= 0 or min_tokens < 0:
        raise ValueError(f"need max_tokens > 0 and min_tokens >= 0, got {max_tokens}, {min_tokens}")
    sections = _merge_tiny(_split_sections(doc.blocks), count_tokens, min_tokens)
    drafts: list[ChunkDraft] = []
    for section in sections:
        name = " > ".join(section.path)
        if count_tokens(_embed(doc.title, name, "")) + _MIN_ROOM > max_tokens:
            raise ParseError(
                f"title and section {name!r} of {doc.title!r} leave no room for text "
                f"within {max_tokens} tokens"
            )

        def fits(text: str, name: str = name) -> bool:
            return count_tokens(_embed(doc.title, name, text)) <= max_tokens

        for atoms in _pack(_section_nodes(section.blocks, fits), fits):
            drafts.append(
                ChunkDraft(_render(atoms), name, section.path, atoms[0].page, len(drafts))
            )
    return drafts


def _embed(title: str, section: str, text: str) -> str:
    head = " — ".join(part for part in (title, section) if part)
    return f"{head}\n{text}" if head else text


def _split_sections(blocks: tuple[Block, ...]) -> list[_Section]:
    """Group blocks into runs under one heading path; every heading block starts a new run."""
    sections: list[_Section] = []
    boundary = True
    for block in blocks:
        if block.kind == "heading":
            boundary = True
        elif block.text.strip():
            if boundary or sections[-1].path != block.heading_path:
                sections.append(_Section(block.heading_path))
            sections[-1].blocks.append(block)
            boundary = False
    return sections


def _merge_tiny(
    sections: list[_Section], count_tokens: Callable[[str], int], min_tokens: int
) -> list[_Section]:
    """Merge adjacent sibling sections that are both under ``min_tokens`` into their parent.

    The merged section's own headings are kept as a line above each part's text, since the
    chunk's section then names only the parent.
    """

    def size(section: _Section) -> int:
        return count_tokens("\n".join(block.text for block in section.blocks))

    merged: list[_Section] = []
    for section in sections:
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and section.path
            and (prev.merged or prev.path)
            and (prev.path if prev.merged else prev.path[:-1]) == section.path[:-1]
            and size(section) < min_tokens
            and size(prev) < min_tokens
        ):
            head = prev.blocks if prev.merged else [_heading_line(prev), *prev.blocks]
            blocks = [*head, _heading_line(section), *section.blocks]
            merged[-1] = _Section(section.path[:-1], blocks, merged=True)
        else:
            merged.append(section)
    return merged


def _heading_line(section: _Section) -> Block:
    return Block("text", section.path[-1], section.path[:-1], section.blocks[0].page)


def _section_nodes(blocks: list[Block], fits: _Fits) -> list[_Node]:
    """Build one section's nodes; a run of steps is one node, cautions held with their step."""
    nodes: list[_Node] = []
    steps: list[_Node] = []  # the current run of list items, one node per step
    held: list[_Node] = []  # cautions waiting for the step that follows them
    lead_in = False  # nodes[-1] is a paragraph introducing what follows ("Do this:")

    def close_run() -> None:
        if steps:
            nodes.append(list(steps))
        nodes.extend(held)
        steps.clear()
        held.clear()

    for block in blocks:
        node = _block_node(block, fits)
        if block.kind == "caution":
            held.append(node)
        elif block.kind == "list_item":
            step: _Node = [*held, node] if held else node
            if not steps and lead_in:
                step = [nodes.pop(), step]
            steps.append(step)
            held.clear()
            lead_in = False
        else:
            close_run()
            nodes.append(node)
            lead_in = block.kind == "text" and block.text.rstrip().endswith(_LEAD_IN_END)
    close_run()
    return nodes


def _block_node(block: Block, fits: _Fits) -> _Node:
    text = block.text.strip()
    if block.kind == "list_item" and text and not is_list_item(text):
        # Marked, so that readers of the chunk can tell where the list ends (the paragraph
        # after it reads like one more item otherwise).
        text = f"- {text}"
    if block.kind != "table" or fits(text):
        return _text_node(text, block.page, fits)
    rows = [row.strip() for row in text.splitlines() if row.strip()]
    head_rows = 2 if len(rows) > 2 and _TABLE_RULE.fullmatch(rows[1]) else 1
    header, body = "\n".join(rows[:head_rows]), rows[head_rows:]
    if not body or not fits(f"{header}\n{header}"):
        # A header this large is not worth repeating: split the table as plain lines.
        return _text_node("\n".join(rows), block.page, fits)

    def fits_under_header(row: str) -> bool:
        return fits(f"{header}\n{row}")

    nodes = [_text_node(row, block.page, fits_under_header, carry=header) for row in body]
    nodes[0] = _glue_header(nodes[0], header)
    return nodes


def _text_node(
    text: str,
    page: int | None,
    fits: _Fits,
    *,
    sep: str = "\n",
    carry: str | None = None,
    level: int = 0,
) -> _Node:
    """Split ``text`` only as finely as needed for every piece to fit alone."""
    if level == len(_SPLITTERS) or fits(text):
        return _Atom(text, sep, page, carry)
    splitter = _SPLITTERS[level]
    if splitter is None:
        pieces = [("", text[i : i + _WINDOW]) for i in range(0, len(text), _WINDOW)]
    else:
        pieces = _cut(text, splitter)
    if len(pieces) == 1:
        return _text_node(text, page, fits, sep=sep, carry=carry, level=level + 1)
    return [
        _text_node(piece, page, fits, sep=sep if i == 0 else gap, carry=carry, level=level + 1)
        for i, (gap, piece) in enumerate(pieces)
    ]


def _cut(text: str, pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    """Split at ``pattern``, each piece paired with the separator that preceded it."""
    pieces: list[tuple[str, str]] = []
    start, gap = 0, ""
    for match in pattern.finditer(text):
        if match.start() > start:
            pieces.append((gap, text[start : match.start()]))
            gap = ""
        gap += match.group()
        start = match.end()
    if start < len(text):
        pieces.append((gap, text[start:]))
    return [("\n" if "\n" in gap else " " if gap else "", piece) for gap, piece in pieces]


def _glue_header(node: _Node, header: str) -> _Node:
    """Put the table header in front of the first row so the two never part."""
    if isinstance(node, _Atom):
        return replace(node, text=f"{header}\n{node.text}", carry=None)
    return [_glue_header(node[0], header), *node[1:]]


def _flatten(node: _Node) -> list[_Atom]:
    if isinstance(node, _Atom):
        return [node]
    return [atom for child in node for atom in _flatten(child)]


def _render(atoms: list[_Atom]) -> str:
    first = atoms[0]
    parts = [f"{first.carry}\n", first.text] if first.carry else [first.text]
    for atom in atoms[1:]:
        parts += (atom.sep, atom.text)
    return "".join(parts)


def _pack(nodes: list[_Node], fits: _Fits) -> list[list[_Atom]]:
    """Greedily fill chunks with whole nodes, descending into a node only when it cannot fit."""
    chunks: list[list[_Atom]] = []
    current: list[_Atom] = []

    def place(node: _Node) -> None:
        nonlocal current
        atoms = _flatten(node)
        if fits(_render(current + atoms)):
            current += atoms
        elif current and fits(_render(atoms)):
            chunks.append(current)
            current = atoms
        elif isinstance(node, _Atom):
            raise ParseError(f"cannot fit {node.text[:40]!r} within the token budget")
        else:
            for child in node:
                place(child)

    for node in nodes:
        place(node)
    if current:
        chunks.append(current)
    return chunks
