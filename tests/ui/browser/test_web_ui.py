"""The Gradio web app in headless Chromium: sign in, ask, cite, rate, upload, dashboard, Chinese.

Every check reads what a user sees on the page and, where the page's word is not enough, what
the server stored (usage log, ratings, catalog).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from assistant.types import Identity
from tests.ui.browser.conftest import USERS, WebUI, ask, screenshot
from ui import handlers
from ui.chat_view import renumber

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

STUDENT = Identity("ui-student", *USERS["ui-student"])
UPLOAD_TITLE = "JN-WI-Q-077 Torque wrench calibration check"
UPLOAD_MD = f"""# {UPLOAD_TITLE}

## Purpose

This work instruction sets how the assembly line checks its click-type torque wrenches.

## Interval

Every click-type torque wrench on line 4 is checked on the Zorvath bench tester every 37 days,
and again after any drop onto a hard floor. A wrench that reads more than 4 % off its set value
is tagged red and sent to the metrology room.
"""


def _tabs(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("button[role=tab]").all_inner_texts()]


def _logged(web_ui: WebUI, question: str) -> Any:
    """The usage-log entry the server wrote for a question (latest first)."""
    for entry in web_ui.services.feedback.answers():
        if entry.question == question:
            return entry
    raise AssertionError(f"no logged answer for {question!r}")


def _words(text: str) -> str:
    return " ".join(text.split())


def _wait_until(check: Any, seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    return check()


def test_student_gets_a_cited_answer_opens_its_source_and_rates_it(
    open_app: Any, web_ui: WebUI
) -> None:
    page = open_app("ui-student")
    assert _tabs(page) == ["Ask"], "a student must not get the contributor or dashboard tabs"
    assert page.locator("#techkb-upload").count() == 0
    question = "Which stop categories can be used for an emergency stop?"
    answer = ask(page, question)
    link = answer.locator("a.techkb-cite").first
    n = int(link.inner_text().strip("[]"))
    logged = _logged(web_ui, question)
    # The chat numbers citations by first use; the log keeps the assistant's numbers.
    shown = renumber({"answer": logged.answer, "citations": logged.citations})
    citation = next(c for c in shown["citations"] if int(c["n"]) == n)
    source = handlers.source_card(web_ui.services, STUDENT, citation["chunk_id"])

    link.click()
    card = page.locator("#techkb-sources details.techkb-card[open]")
    card.wait_for()
    assert card.count() == 1  # one card per document, the cited passages inside
    summary = card.locator("summary").inner_text()
    assert source["title"] in summary and source["contributor_name"] in summary
    passage = page.locator(f"[id='{str(link.get_attribute('href'))[1:]}']")
    mark = passage.locator("blockquote.techkb-chunk mark")
    assert mark.count() >= 1
    assert _words(mark.first.inner_text()) in _words(source["text"])
    screenshot(page, "01-answer-with-source-card")

    comment = "Clear, and the clause was easy to find."
    page.fill("#techkb-comment textarea", comment)
    page.locator("#techkb-chat button[aria-label=Like]").last.click()
    page.wait_for_function("() => document.querySelector('#techkb-comment textarea').value === ''")
    rated = _wait_until(
        lambda: next(
            (
                a
                for a in web_ui.services.feedback.answers(rated_only=True)
                if a.question == question
            ),
            None,
        )
    )
    assert rated is not None and rated.rating > 0
    assert comment in rated.comments
    screenshot(page, "02-feedback-given")

    follow_up = "And which one must not be used?"
    ask(page, follow_up)
    history = _logged(web_ui, follow_up).history
    assert [turn["role"] for turn in history] == ["user", "assistant"]
    assert history[0]["content"] == question  # the conversation went with the follow-up


def test_refusal_is_shown_as_such(open_app: Any) -> None:
    page = open_app("ui-student")
    answer = ask(page, "What is the best recipe for a chocolate birthday cake?")
    refused = answer.locator(".techkb-refused")
    assert refused.count() == 1
    assert "No reliable evidence" in refused.inner_text()
    assert answer.locator("a.techkb-cite").count() == 0
    screenshot(page, "03-refusal")

    # A domain error (here: a question over the length limit) is a clean message, no trace.
    bots = page.locator("#techkb-chat [data-testid=bot]").count()
    page.fill("#techkb-question textarea", "torque " * 700)
    page.click("#techkb-send")
    page.get_by_text("at most 4000 characters").first.wait_for()
    assert page.get_by_text("Traceback").count() == 0
    page.wait_for_function(
        "n => document.querySelectorAll('#techkb-chat [data-testid=bot]').length === n", arg=bots
    )
    assert page.locator("#techkb-question textarea").input_value().startswith("torque")


def test_chinese_ui_follows_the_browser_language(open_app: Any, web_ui: WebUI) -> None:
    page = open_app("ui-student", locale="zh-CN")
    assert _tabs(page) == ["提问"]
    assert page.locator("#techkb-send").inner_text().strip() == "提问"
    assert "您的问题" in page.locator("#techkb-question").inner_text()
    answer = ask(page, "刚换完润滑脂能马上取样测铁含量吗？")
    answer.locator("a.techkb-cite").first.click()
    card = page.locator("#techkb-sources details.techkb-card[open]")
    card.wait_for()
    assert "贡献单位" in card.inner_text()  # server-rendered card labels in Chinese too
    screenshot(page, "04-chinese-ui")


def test_language_switch_in_the_sidebar(open_app: Any) -> None:
    page = open_app("ui-student", locale="en-US")
    assert _tabs(page) == ["Ask"]
    page.locator("#techkb-language label").filter(has_text="中文").click()
    page.get_by_role("tab", name="提问").wait_for()
    assert page.locator("#techkb-send").inner_text().strip() == "提问"
    answer = ask(page, "Which stop categories can be used for an emergency stop?")
    answer.locator("a.techkb-cite").first.click()
    card = page.locator("#techkb-sources details.techkb-card[open]")
    card.wait_for()
    assert "贡献单位" in card.inner_text()  # the server follows the language chosen on the page
    screenshot(page, "05-language-switched-in-sidebar")
    page.locator("#techkb-language label").filter(has_text="English").click()
    page.get_by_role("tab", name="Ask").wait_for()  # and back: the choice is the user's


def test_teacher_downloads_an_exercise_set(open_app: Any, tmp_path: Path) -> None:
    page = open_app("ui-teacher")
    answer = ask(
        page,
        "Create case-based exercises on intermittent encoder alarms caused by harness wear, "
        "with an answer key.",
        mode="Exercise set",
    )
    assert answer.locator("a.techkb-cite").count() > 0
    downloads = {}
    for button, suffix in (("#techkb-download-md", ".md"), ("#techkb-download-gift", ".txt")):
        page.locator(button).wait_for(state="visible")
        with page.expect_download() as info:
            page.click(button)
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        assert path.name.endswith(suffix)
        downloads[suffix] = path.read_text(encoding="utf-8")
    assert re.search(r"\[\d+(?:, \d+)*\]", downloads[".md"])  # the key keeps its citations
    assert "::Q1::" in downloads[".txt"]  # Moodle GIFT questions
    screenshot(page, "06-exercise-downloads")


def test_staff_uploads_a_document_and_then_finds_it_cited(
    open_app: Any, web_ui: WebUI, tmp_path: Path
) -> None:
    page = open_app("ui-staff")
    assert _tabs(page) == ["Ask", "Contribute", "Dashboard"]
    page.get_by_role("tab", name="Contribute").click()
    document = tmp_path / "jn-wi-q-077-torque-wrench-check.md"
    document.write_text(UPLOAD_MD, encoding="utf-8")
    page.set_input_files("#techkb-upload-files input[type=file]", str(document))
    # The file is sent to the server as soon as it is chosen; its row appears when it is there.
    page.locator("#techkb-upload-files .file-name").filter(has_text=document.name).first.wait_for(
        state="attached"
    )
    page.click("#techkb-upload")
    page.locator("#techkb-upload-progress tr.techkb-job").first.wait_for()
    screenshot(page, "07-upload-progress")
    page.locator("#techkb-upload-progress tr[data-state=done]").wait_for(timeout=240_000)
    page.locator("#techkb-documents").get_by_text(UPLOAD_TITLE).first.wait_for()
    screenshot(page, "08-upload-done")
    uploaded = list((web_ui.home / "uploads" / "jiangnan-precision").glob("*.md"))
    assert [p.name for p in uploaded] == [document.name]

    page.get_by_role("tab", name="Ask").click()
    answer = ask(page, "How often are the click-type torque wrenches on line 4 checked?")
    assert "37 days" in answer.inner_text()
    answer.locator("a.techkb-cite").first.click()
    card = page.locator("#techkb-sources details.techkb-card[open]")
    card.wait_for()
    assert UPLOAD_TITLE in card.locator("summary").inner_text()
    quotes = page.locator("#techkb-sources section").first.locator("mark").all_text_contents()
    assert any("37 days" in q for q in quotes), quotes
    screenshot(page, "09-uploaded-document-cited")


def test_admin_dashboard_shows_documents_and_ledger(open_app: Any) -> None:
    page = open_app("ui-admin")
    page.get_by_role("tab", name="Dashboard").click()
    ledger = page.locator("#techkb-ledger")
    ledger.wait_for()
    page.locator("#techkb-tab-dashboard").get_by_text("northlake-college").first.wait_for()
    screenshot(page, "10-dashboard")
