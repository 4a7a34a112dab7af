"""How answers are presented, without a browser: citations renumbered by first use, one card per
document, tables as tables (the quoted row marked), notes in plain words, and the ui package
free of modules that import each other."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from tests.factories import import_cycles
from ui.chat_view import documents_of, history_of, renumber, sort_notes
from ui.i18n import text
from ui.render import anchor_id, answer_markdown, chunk_html, document_card_html
from ui.tables import answer_tables, table_html

UI = Path(__file__).resolve().parents[2] / "ui"


def _citation(n: int, doc: str, quote: str = "q") -> dict[str, Any]:
    return {"n": n, "chunk_id": f"{doc}-{n}", "doc_id": doc, "title": doc.upper(), "quote": quote}


def test_citations_are_numbered_one_to_n_in_order_of_first_use() -> None:
    result: dict[str, Any] = {
        "answer_id": "a1",
        "answer": "First [16]. Second [8, 16]. Third [9]. Unknown [40]. Link [8](http://x).",
        "citations": [_citation(8, "b"), _citation(9, "a"), _citation(16, "a"), _citation(16, "a")],
    }
    shown = renumber(result)
    assert (
        shown["answer"] == "First [1]. Second [2, 1]. Third [3]. Unknown [40]. Link [8](http://x)."
    )
    assert [(c["n"], c["chunk_id"]) for c in shown["citations"]] == [(1, "a-16"), (2, "b-8"),
                                                                     (3, "a-9")]  # fmt: skip
    assert result["citations"][0]["n"] == 8, "the answer itself is left as the assistant gave it"
    numbers = [int(n) for n in re.findall(r">\[(\d+)\]<", answer_markdown(shown, "en"))]
    assert numbers == [1, 2, 1, 3]


def test_a_citation_the_text_never_names_comes_after_the_named_ones() -> None:
    shown = renumber({"answer": "Only [5].", "citations": [_citation(2, "x"), _citation(5, "y")]})
    assert [(c["n"], c["doc_id"]) for c in shown["citations"]] == [(1, "y"), (2, "x")]


def test_cards_are_grouped_by_document_with_each_passage_inside() -> None:
    shown = renumber(
        {
            "answer": "A [3]. B [7]. C [4].",
            "citations": [_citation(3, "d1"), _citation(7, "d2"), _citation(4, "d1")],
        }
    )
    groups = documents_of(shown["citations"])
    assert [(g["doc_id"], [c["n"] for c in g["citations"]]) for g in groups] == [
        ("d1", [1, 3]), ("d2", [2]),
    ]  # fmt: skip
    card = {"title": "D1 <x>", "contributor_name": "Org", "text": "One. Two.", "quote": "Two.",
            "quote_start": -1, "quote_end": -1, "section": "2 Intro"}  # fmt: skip
    out = document_card_html([(1, card), (3, None)], "ans", "en", anchor="ans-doc0")
    assert out.count('<details class="techkb-card"') == 1 and 'id="ans-doc0"' in out
    assert f'id="{anchor_id("ans", 1)}"' in out and f'id="{anchor_id("ans", 3)}"' in out
    assert "D1 &lt;x&gt;" in out and "<mark>Two.</mark>" in out
    assert text("card_unavailable", "en") in out


def test_a_quoted_table_row_is_marked_in_its_card_and_answers_show_tables() -> None:
    rows = [
        "| Test | Object | Tolerance |",
        "|---|---|---|",
        "| G3 | Straightness of Z | 0.010 mm |",
        "| G4 | Squareness <XY> | 0.015 mm |",
    ]
    out = table_html(rows, "Test: G3; Object: Straightness of Z; Tolerance: 0.010 mm.")
    assert "<th>Test</th>" in out and "Squareness &lt;XY&gt;" in out
    assert re.search(r'<tr class="techkb-quoted"><td><mark>G3</mark>', out)
    assert out.count("techkb-quoted") == 1
    stored = "Table 1\nTest | Object | Tolerance\nG3 | Straightness of Z | 0.010 mm\nAfter."
    card = chunk_html(stored, "Test: G3; Object: Straightness of Z; Tolerance: 0.010 mm.")
    assert card.startswith("Table 1\n<table") and card.endswith("</table>After.")
    assert '<tr class="techkb-quoted"><td><mark>G3</mark>' in card
    prose = chunk_html("a | b once in prose\nnext", "next")
    assert prose == "a | b once in prose\n<mark>next</mark>"
    answer = (
        "The limits are these. Test: G3; Object: Straightness of Z; Tolerance: 0.010 mm. [1] "
        "Test: G4; Object: Squareness; Tolerance: 0.015 mm. [2] Keep the log [1]."
    )
    table = answer_tables(answer)
    assert "| Test | Object | Tolerance |  |" in table
    assert "| G3 | Straightness of Z | 0.010 mm | [1] |" in table
    assert table.startswith("The limits are these.") and table.endswith("Keep the log [1].")
    prose = "Note: one thing; Caution: another [1]. Done."
    assert answer_tables(prose) == prose, "a single row-like sentence stays prose"


def test_users_get_notes_in_plain_words_and_admins_the_figures_behind_details() -> None:
    notes = [
        "evidence 0.87 (threshold 0.35)",
        "answerability 0.97 (threshold 0.50; cross-encoder 4.8)",
        "The openai backend failed (timeout); this is the extractive answer.",
        "something new <b>",
    ]
    shown, details = sort_notes(notes, "zh")
    assert shown == [text("note_fallback", "zh")] and details == notes
    result = {"answer_id": "a", "answer": "x [1].", "citations": [_citation(1, "d")],
              "notes": notes}  # fmt: skip
    student = answer_markdown(result, "en")
    assert "0.87" not in student and "threshold" not in student and "<b>" not in student
    assert text("note_fallback", "en") in student
    admin = answer_markdown(result, "en", details=True)
    assert '<details class="techkb-details"><summary>details</summary>' in admin
    assert "evidence 0.87 (threshold 0.35)" in admin and "something new &lt;b&gt;" in admin


def test_history_sent_with_a_follow_up_keeps_the_assistants_own_text() -> None:
    turns: list[dict[str, Any]] = [
        {"question": "q1", "result": {"answer": "a1 [8]."}},
        {"question": "q2", "result": {"answer": "secret"}, "withheld": True},
    ]
    assert history_of(turns) == [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1 [8]."},
        {"role": "user", "content": "q2"},
    ]


def _ui_imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in UI.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "ui":
                deps |= {f"ui.{a.name}" for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ui."):
                deps.add(str(node.module))
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("ui.")}
        graph[f"ui.{path.stem}"] = deps
    return graph


def test_no_ui_module_imports_one_that_imports_it_back() -> None:
    graph = _ui_imports()
    cycles = import_cycles(graph)
    assert cycles == [], f"modules on an import cycle: {cycles}"
    assert "ui.documents" in graph["ui.handlers"] and "ui.handlers" not in graph["ui.documents"]


def test_gift_is_exported_only_for_the_exercise_set_shown() -> None:
    from types import SimpleNamespace

    from assistant.answer.exercise_format import (
        ExerciseQuestion,
        ExerciseSet,
        exercise_to_markdown,
    )
    from ui.handlers import _exercise_formats

    made = ExerciseSet(
        title="Reducer grease",
        scenario="A J1 reducer runs hot [1].",
        questions=(ExerciseQuestion("short_answer", "Which grease?", "Grease A", (1,)),),
        citations=(),
    )
    assistant = SimpleNamespace(answerer=SimpleNamespace(exercise_set=lambda *a: made))
    shown = SimpleNamespace(answer=exercise_to_markdown(made), retrieved=())
    same = _exercise_formats(assistant, "q", shown, [])  # type: ignore[arg-type]
    assert same is not None and same["markdown"] == shown.answer and "::Q1::" in same["gift"]
    written = SimpleNamespace(
        answer="## A set a model wrote\n\n1. Another question [1]", retrieved=()
    )
    other = _exercise_formats(assistant, "q", written, [])  # type: ignore[arg-type]
    assert other == {"markdown": written.answer, "gift": ""}
