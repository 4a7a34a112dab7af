"""The web UI's pure helpers, without a browser: citation links, escaping, i18n, errors."""

from __future__ import annotations

import ast
import hashlib
import re
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from assistant.errors import AccessError, NotFoundError, ValidationError
from ui import i18n
from ui.render import (
    anchor_id,
    answer_markdown,
    count_rows,
    highlight_quote,
    jobs_finished,
    jobs_html,
    link_citations,
    records_rows,
    source_card_html,
    sources_html,
)
from ui.security import UploadClaims, session_key
from ui.web_support import UiContext, error_message, take_upload, ui_errors

UI = Path(__file__).resolve().parents[3] / "ui"


def test_each_known_citation_number_links_to_its_card() -> None:
    text = "Use category 0 or 1 [1]. Never category 2 [2][3]. See [9]."
    out = link_citations(text, [1, 2, 3], "ab12")
    for n in (1, 2, 3):
        assert f'<a class="techkb-cite" href="#{anchor_id("ab12", n)}">[{n}]</a>' in out
    assert "See [9]." in out  # no such citation: left as written


def test_a_bracket_with_several_numbers_links_each_known_one() -> None:
    out = link_citations("Evidence [6, 8, 5] and [1,2].", [5, 6], "a")
    assert out == (
        f'Evidence <a class="techkb-cite" href="#{anchor_id("a", 6)}">[6]</a>[8]'
        f'<a class="techkb-cite" href="#{anchor_id("a", 5)}">[5]</a> and [1,2].'
    )


def test_markdown_links_and_escaped_brackets_are_not_citations() -> None:
    text = r"A [1](http://x) link, an escaped \[1\] and a footnote [1]: here."
    assert link_citations(text, [1], "a") == text


def test_anchor_ids_cannot_break_out_of_the_attribute() -> None:
    anchor = anchor_id('x" onmouseover="alert(1)', 2)
    assert re.fullmatch(r"techkb-src-[A-Za-z0-9_-]+-2", anchor)


def test_refused_answer_gets_its_own_box_and_notes() -> None:
    result = {
        "answer_id": "a1",
        "answer": "The knowledge base has nothing reliable on this.",
        "refused": True,
        "citations": [],
        "notes": ["evidence 0.12 (threshold 0.35)", "<script>x</script>"],
    }
    en = answer_markdown(result, "en")
    assert en.startswith('<div class="techkb-refused">') and en.rstrip().endswith("</div>")
    assert "No reliable evidence" in en and "evidence 0.12" not in en  # figures: admins only
    admin = answer_markdown(result, "en", details=True)
    assert "evidence 0.12" in admin
    assert "<script>" not in admin and "&lt;script&gt;" in admin
    assert "没有可靠依据" in answer_markdown(result, "zh")


def test_answered_answer_links_citations_without_refusal_box() -> None:
    result = {
        "answer_id": "a2",
        "answer": "Replace the battery with power ON [1].",
        "refused": False,
        "citations": [{"n": 1}],
        "notes": [],
    }
    out = answer_markdown(result, "en")
    assert "techkb-refused" not in out and 'href="#techkb-src-a2-1"' in out


def test_quote_is_marked_and_everything_escaped() -> None:
    chunk = "Intro <b>bold</b>. The quoted & important sentence. Tail <img src=x onerror=1>"
    quote = "The quoted & important sentence."
    start = chunk.index(quote)
    out = highlight_quote(chunk, quote, start, start + len(quote))
    assert "<mark>The quoted &amp; important sentence.</mark>" in out
    assert "<b>" not in out and "<img" not in out and "&lt;img src=x onerror=1&gt;" in out


def test_quote_found_by_search_when_offsets_are_missing_and_unmarked_when_absent() -> None:
    assert highlight_quote("a b c", "b", -1, -1) == "a <mark>b</mark> c"
    assert highlight_quote("a b c", "zzz", -1, -1) == "a b c"


def test_source_card_shows_fields_escaped_with_the_quote_highlighted() -> None:
    card = {
        "title": "HX-MP-201 <Grease>",
        "contributor": "huaxin-robotics",
        "contributor_name": "Huaxin Robotics Co., Ltd.",
        "source": "huaxin-robotics/procedures/hx-mp-201.md",
        "section": "6 Procedure",
        "page": 3,
        "edition": "Rev C",
        "license": "LicenseRef-Huaxin",
        "kind": "procedure",
        "text": "Step one. Inject at most 0.15 MPa. Step three.",
        "quote": "Inject at most 0.15 MPa.",
        "quote_start": 10,
        "quote_end": 34,
    }
    out = source_card_html(card, 4, "ans", "en")
    assert out.startswith(f'<details class="techkb-card" id="{anchor_id("ans", 4)}">')
    assert "HX-MP-201 &lt;Grease&gt;" in out and "<Grease>" not in out
    assert "Huaxin Robotics Co., Ltd." in out and "Rev C" in out and "LicenseRef-Huaxin" in out
    assert "<dt>Page</dt><dd>3</dd>" in out
    assert "<mark>Inject at most 0.15 MPa.</mark>" in out
    assert "<dt>贡献单位</dt>" in source_card_html(card, 4, "ans", "zh")


def test_unavailable_source_card_says_so() -> None:
    out = source_card_html(None, 2, "ans", "en", title="Gone <doc>")
    assert "no longer available" in out and "Gone &lt;doc&gt;" in out


def test_sources_panel_escapes_the_question() -> None:
    out = sources_html([{"answer_id": "a", "question": "<i>q</i>", "cards": ["<p>c</p>"]}], "en")
    assert "&lt;i&gt;q&lt;/i&gt;" in out and "<p>c</p>" in out
    assert "appear here" in sources_html([], "en")


def test_upload_progress_table_shows_states_and_per_file_errors() -> None:
    jobs = [
        {"filename": "a.md", "state": "running", "progress": 0.5, "message": "embedding"},
        {
            "filename": "<b>.pdf",
            "state": "failed",
            "progress": 0.2,
            "message": "1 file failed",
            "errors": [{"source": "org/<b>.pdf", "error": "encrypted PDF"}],
        },
        {"filename": "c.md", "state": "done", "progress": 0.0},
    ]
    out = jobs_html(jobs, "en")
    assert 'data-state="running"' in out and "50%" in out
    assert "org/&lt;b&gt;.pdf: encrypted PDF" in out and "<b>" not in out
    assert 'data-state="done"' in out and "100%" in out
    assert "失败" in jobs_html(jobs, "zh")
    assert not jobs_finished(jobs) and jobs_finished(jobs[1:])


def test_table_helpers() -> None:
    assert count_rows({"b": 2, "a": 5, "c": 2}) == [["a", 5], ["b", 2], ["c", 2]]
    rows = records_rows([{"q": "x", "who": ["a", "b"], "n": None}], ["q", "who", "n", "missing"])
    assert rows == [["x", "a, b", "", ""]]


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR,zh-TW;q=0.5", "zh"),
        ("de", "en"),
        ("", "en"),
        (None, "en"),
        ("zh;q=0.2,en;q=0.9", "en"),
    ],
)
def test_language_from_accept_language(header: str | None, lang: str) -> None:
    assert i18n.language_of(header) == lang


@pytest.mark.parametrize(
    ("headers", "lang"),
    [
        ({"accept-language": "zh-CN,zh;q=0.9"}, "zh"),
        ({"accept-language": "zh-CN", "cookie": "a=1; techkb_lang=en"}, "en"),
        ({"accept-language": "en-US", "cookie": "techkb_lang=zh-CN"}, "zh"),
        ({"cookie": 'broken="; techkb_lang=zh-TW'}, "zh"),
        ({}, "en"),
    ],
)
def test_page_language_cookie_wins_over_accept_language(headers: dict[str, str], lang: str) -> None:
    assert UiContext.lang(SimpleNamespace(headers=headers)) == lang  # type: ignore[arg-type]
    assert UiContext.lang(None) == "en"


def test_every_string_has_both_languages_and_every_key_used_exists() -> None:
    assert set(i18n.EN) == set(i18n.ZH)
    assert i18n.I18N.translations_dict["zh-CN"] == i18n.ZH
    used: set[str] = set()
    for path in UI.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("t", "text")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                used.add(node.args[0].value)
    assert used, "no UI strings found"
    assert used <= set(i18n.EN), used - set(i18n.EN)
    with pytest.raises(KeyError):
        i18n.t("no-such-key")


def test_domain_errors_become_clean_gradio_errors() -> None:
    assert error_message(AccessError("you may upload for x only"), "en") == (
        "You may not do this. you may upload for x only"
    )
    assert error_message(NotFoundError(""), "zh") == "未找到。"
    with pytest.raises(gr.Error) as caught, ui_errors("en"):
        raise ValidationError("question: must not be empty")
    assert "question: must not be empty" in caught.value.message
    with pytest.raises(gr.Error) as caught, ui_errors("en"):
        raise RuntimeError("/secret/path exploded")
    assert "/secret/path" not in caught.value.message


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_taking_an_upload_deletes_it_from_the_cache(tmp_path: Path) -> None:
    folder = tmp_path / "gradio-cache" / "0123abcd"
    folder.mkdir(parents=True)
    file = folder / "notes.md"
    file.write_bytes(b"# Notes\n")
    ctx = UiContext(SimpleNamespace(), UploadClaims())  # type: ignore[arg-type]
    mine = SimpleNamespace(headers={"cookie": "techkb_session=abc"})
    other = SimpleNamespace(headers={"cookie": "techkb_session=xyz"})
    ctx.claims.record(session_key(mine.headers, "techkb_session") or "", [sha256(b"# Notes\n")])
    with pytest.raises(AccessError):
        take_upload(ctx, other, str(file))  # type: ignore[arg-type]
    assert file.exists(), "a refused take leaves the file alone"
    assert take_upload(ctx, mine, str(file)) == ("notes.md", b"# Notes\n")  # type: ignore[arg-type]
    assert not file.exists() and not folder.exists()
    with pytest.raises(AccessError):  # each upload is taken once
        take_upload(ctx, mine, str(file))  # type: ignore[arg-type]
