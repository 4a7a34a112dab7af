"""The chat as people use it, in headless Chromium against `techkb serve`: Enter sends, the
conversation is kept and reopened from the sidebar, nobody else sees it (page, REST API and
Gradio's event API), citations run 1..n and open one card per document with the quote marked
(table rows too), delete asks first, the whole UI in Chinese with the choice kept, and the
dashboard for admins and staff. Screenshots for docs/ are taken here, so they stay current.

One small store (four documents of the demo corpus) and two servers per module: one with a
users file, one without (everyone anonymous: conversations kept in the browser).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from assistant.users import UserStore
from tests.processes import Served, serve_techkb
from tests.reliability.web_attacker import dependencies, fire
from tests.reliability.web_attacker import sign_in as http_sign_in
from tests.ui.browser.conftest import TIMEOUT_MS
from ui.i18n import EN, ZH

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
DOCS = REPO / "docs"
PASSWORD = "chat-test-password"
USERS = {
    "alice": ("northlake-college", "student"),
    "bob": ("northlake-college", "student"),
    "carol": ("northlake-college", "student"),
    "root": ("amma", "admin"),
    "chen": ("jiangnan-precision", "staff"),
}
DOCUMENTS = (
    "itsc/standards/itsc-mt-230-2019.md",
    "itsc/standards/itsc-es-602-2022.md",
    "northlake-college/courses/nlc-plc-220-plc-safety-circuits.md",
    "donghai-polytechnic/courses/robot-reducer-lubrication.md",
)
FIRST = "Which stop categories can be used for an emergency stop?"
FOLLOW_UP = "And which one must not be used?"
TABLE_QUESTION = "What is the tolerance for straightness of Z-axis motion?"
FINISHED = """n => {
    const bots = document.querySelectorAll('#techkb-chat [data-testid=bot]');
    return bots.length >= n &&
        bots[bots.length - 1].querySelector('a.techkb-cite, .techkb-refused') !== null;
}"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Four demo documents ingested into a fresh store, and a users file."""
    base = tmp_path_factory.mktemp("chat-ui")
    root = base / "corpus"
    root.mkdir()
    shutil.copy(REPO / "corpora" / "contributors.yaml", root / "contributors.yaml")
    for source in DOCUMENTS:
        (root / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "corpora" / source, root / source)
    home = base / "store"
    done = subprocess.run(
        [sys.executable, "-m", "techkb", "ingest", str(root), "--store", str(home), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    users_file = base / "users.yaml"
    users = UserStore(users_file)
    for name, (org, role) in USERS.items():
        users.add(name, org, role, PASSWORD)
    return {"base": base, "home": home, "users_file": users_file}


@pytest.fixture(scope="module")
def servers(world: dict[str, Path]) -> Iterator[dict[str, Served]]:
    """Both servers over the same store, started side by side (startup is most of the time)."""
    with ExitStack() as stack, ThreadPoolExecutor(2) as pool:
        signed = pool.submit(
            stack.enter_context, serve_techkb(world["home"], world["base"], world["users_file"])
        )
        anonymous = pool.submit(
            stack.enter_context, serve_techkb(world["home"], world["base"], None)
        )
        started = {"signed": signed.result(), "open": anonymous.result()}
        yield started


@pytest.fixture(scope="module")
def served(servers: dict[str, Served]) -> Served:
    """The server with a users file."""
    return servers["signed"]


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """A page in a fresh browser context (its own cookies and storage)."""
    contexts: list[Any] = []

    def open_(url: str, user: str | None = None, locale: str = "en-US", height: int = 1000) -> Any:
        context = browser.new_context(locale=locale, viewport={"width": 1400, "height": height})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.goto(url + "/")
        if user is not None:
            page.fill("#username", user)
            page.fill("#password", PASSWORD)
            page.locator("button[type=submit]").click()
        page.wait_for_selector("#techkb-question textarea")
        return page

    yield open_
    for context in contexts:
        context.close()


def ask(page: Any, question: str) -> Any:
    """Type a question as a person does and press Enter; the finished answer's locator."""
    before = page.locator("#techkb-chat [data-testid=bot]").count()
    box = page.locator("#techkb-question textarea")
    box.click()
    box.press_sequentially(question)
    box.press("Enter")
    page.wait_for_function(FINISHED, arg=before + 1, timeout=120_000)
    return page.locator("#techkb-chat [data-testid=bot]").last


def api(served: Served, user: str) -> httpx.Client:
    return httpx.Client(base_url=served.url, auth=(user, PASSWORD), timeout=60)


def numbers_in(answer: Any) -> list[int]:
    return [int(n.strip("[]")) for n in answer.locator("a.techkb-cite").all_inner_texts()]


def shot(target: Any, name: str) -> None:
    DOCS.mkdir(exist_ok=True)
    target.screenshot(path=str(DOCS / f"{name}.png"))


def test_a_two_turn_conversation_sent_with_enter_is_reopened_after_a_reload(
    served: Served, new_page: Any
) -> None:
    page = new_page(served.url, "alice")
    assert page.get_by_text(EN["enter_hint"]).is_visible()
    box = page.locator("#techkb-question textarea")
    box.click()
    box.press_sequentially("first line")
    box.press("Shift+Enter")
    box.press_sequentially("second line")
    assert box.input_value() == "first line\nsecond line"  # a new line, nothing sent
    assert page.locator("#techkb-chat [data-testid=user]").count() == 0
    box.fill("")

    first = ask(page, FIRST)
    assert numbers_in(first), "the answer cites its sources"
    ask(page, FOLLOW_UP)
    listed = page.locator("#techkb-conversations label")
    assert listed.all_inner_texts() == [FIRST]
    shot(page, "chat")
    shot(page.locator("#techkb-sidebar"), "sidebar")

    with api(served, "alice") as client:
        (summary,) = client.get("/api/conversations").json()
    assert (summary["title"], summary["turns"]) == (FIRST, 2)

    page.reload()
    page.wait_for_selector("#techkb-question textarea")
    assert page.locator("#techkb-chat [data-testid=user]").count() == 0
    page.locator("#techkb-conversations label").filter(has_text=FIRST).click()
    page.wait_for_function(FINISHED, arg=2)
    asked = page.locator("#techkb-chat [data-testid=user]").all_inner_texts()
    assert [a.strip() for a in asked] == [FIRST, FOLLOW_UP]
    reopened = page.locator("#techkb-chat [data-testid=bot]").first
    reopened.locator("a.techkb-cite").first.click()
    card = page.locator("#techkb-sources details.techkb-card[open]")
    card.wait_for()
    assert card.locator("mark").count() >= 1, "reopened with its sources, the quote marked"


def test_the_chat_grows_with_the_window(served: Served, new_page: Any) -> None:
    tall = new_page(served.url, "alice", height=1100)
    short = new_page(served.url, "alice", height=800)
    heights = [p.locator("#techkb-chat").bounding_box()["height"] for p in (tall, short)]
    assert heights[0] - heights[1] > 250, heights


def test_another_user_can_neither_see_nor_open_it(served: Served, new_page: Any) -> None:
    with api(served, "alice") as client:
        owned = client.get("/api/conversations").json()
    assert owned, "the first test keeps alice's conversation"
    cid = owned[0]["conversation_id"]

    page = new_page(served.url, "bob")
    page.wait_for_timeout(1000)
    assert FIRST not in page.locator("#techkb-sidebar").inner_text()

    with api(served, "bob") as client:
        assert client.get("/api/conversations").json() == []
        assert client.get(f"/api/conversations/{cid}").status_code == 404
        assert client.delete(f"/api/conversations/{cid}").status_code == 404
    anonymous = httpx.get(f"{served.url}/api/conversations/{cid}", timeout=30)
    assert anonymous.status_code == 401

    # Every event of the page fired straight at Gradio's queue with alice's id in each slot.
    attacker = http_sign_in(served.url, "bob", PASSWORD)
    deps, _ = dependencies(attacker)
    fired = 0
    for dep in deps:
        if not dep.get("inputs") or not dep.get("backend_fn", True):
            continue
        reply = fire(attacker, dep, [cid] * len(dep["inputs"]))
        fired += 1
        assert FIRST not in reply and FOLLOW_UP not in reply, dep["id"]
    assert fired >= 5
    with api(served, "alice") as client:
        assert client.get(f"/api/conversations/{cid}").json()["title"] == FIRST


def test_citations_run_in_order_and_open_one_card_per_document(
    served: Served, new_page: Any
) -> None:
    page = new_page(served.url, "carol")
    answer = ask(page, FIRST)
    numbers = numbers_in(answer)
    first_use = list(dict.fromkeys(numbers))
    assert first_use == list(range(1, len(first_use) + 1)), numbers
    section = page.locator("#techkb-sources section").first
    titles = section.locator("details.techkb-card .techkb-card-title").all_inner_texts()
    assert len(titles) == len(set(titles)), "one card per document"
    assert section.locator(".techkb-card-n").count() >= len(first_use)

    page.click("#techkb-new-chat")
    page.wait_for_function("() => !document.querySelector('#techkb-chat [data-testid=bot]')")
    table = ask(page, TABLE_QUESTION)
    assert table.locator("table td").count() > 0, "table rows come back as a table"
    link = table.locator("a.techkb-cite").first
    link.hover()
    preview = page.evaluate("el => getComputedStyle(el, '::after').content", link.element_handle())
    assert "Straightness" in preview
    link.click()
    card = page.locator("#techkb-sources details.techkb-card[open]")
    card.wait_for()
    assert "ITSC-MT 230" in card.locator("summary").inner_text()
    row = card.locator("tr.techkb-quoted")
    assert row.count() == 1 and row.locator("mark").count() >= 2
    assert "Straightness" in row.inner_text()
    row.scroll_into_view_if_needed()
    shot(page.locator("#techkb-sources"), "source-card")


def test_deleting_a_conversation_asks_first_and_says_what_goes(
    served: Served, new_page: Any
) -> None:
    page = new_page(served.url, "carol")
    listed = page.locator("#techkb-conversations label")
    listed.first.wait_for()
    before = listed.all_inner_texts()
    listed.filter(has_text=FIRST).click()
    page.wait_for_function(FINISHED, arg=1)
    page.click("#techkb-delete-conv")
    confirm = page.locator("#techkb-confirm-conv").first
    confirm.wait_for(state="visible")
    said = confirm.inner_text()
    assert FIRST in said and "1 question" in said and "kept on the server" in said
    page.click("#techkb-cancel-delete-conv")
    confirm.wait_for(state="hidden")
    assert listed.all_inner_texts() == before

    page.click("#techkb-delete-conv")
    confirm.wait_for(state="visible")
    page.click("#techkb-confirm-delete-conv")
    page.wait_for_function(
        "t => ![...document.querySelectorAll('#techkb-conversations label')]"
        ".some(l => l.innerText.trim() === t)",
        arg=FIRST,
    )
    assert page.locator("#techkb-chat [data-testid=user]").count() == 0
    with api(served, "carol") as client:
        assert [c["title"] for c in client.get("/api/conversations").json()] == [TABLE_QUESTION]


def _chrome_text(page: Any) -> str:
    """What the page says in its own words: everything visible but data (table cells, chat
    messages, source text, choices from the store)."""
    return str(
        page.evaluate(
            """() => {
            const body = document.body.cloneNode(true);
            body.querySelectorAll('td, [data-testid=bot], [data-testid=user], .techkb-chunk, '
                + 'script, style, [style*="display: none"], .hidden, option, '
                + '#techkb-language').forEach(e => e.remove());
            return body.innerText;
        }"""
        )
    )


def _english_left(page: Any) -> list[str]:
    said = _chrome_text(page)
    left = []
    for key, english in EN.items():
        if english == ZH[key] or len(re.sub(r"[^A-Za-z]", "", english)) < 3:
            continue
        for piece in re.split(r"\{[a-z]+\}|\*\*", english):
            piece = piece.strip()
            if len(piece) > 3 and re.search(rf"(?<![A-Za-z]){re.escape(piece)}(?![A-Za-z])", said):
                left.append(f"{key}: {piece}")
    return left


def test_the_whole_ui_in_chinese_and_the_choice_kept(served: Served, new_page: Any) -> None:
    page = new_page(served.url, "root")
    page.locator("#techkb-language label").filter(has_text="中文").click()
    page.get_by_role("tab", name="提问").wait_for()
    page.wait_for_timeout(1500)
    for tab in ("提问", "贡献资料", "统计面板"):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(800)
        assert _english_left(page) == [], tab
    page.get_by_role("tab", name="提问").click()
    ask(page, "减速机润滑脂多久更换一次？")
    assert "Notes" not in page.locator("#techkb-chat").inner_text()
    shot(page, "chinese-ui")

    page.reload()
    page.get_by_role("tab", name="提问").wait_for()
    again = new_page(served.url, "root")  # a fresh browser: the choice comes from the server
    again.get_by_role("tab", name="提问").wait_for()
    assert "当前用户" in again.locator("#techkb-who").inner_text()


def _upload_then_delete(page: Any, licence: str, tmp_path: Path) -> None:
    """Upload a document without a licence (it gets the org's), then delete it: asked first."""
    document = tmp_path / "jn-note-torque-check.md"
    document.write_text("# JN note: torque check\n\nCheck the wrench every 37 days.\n")
    page.set_input_files("#techkb-upload-files input[type=file]", str(document))
    page.locator("#techkb-upload-files .file-name").filter(has_text=document.name).first.wait_for(
        state="attached"
    )
    page.click("#techkb-upload")
    page.locator("#techkb-upload-progress tr[data-state=done]").wait_for(timeout=120_000)
    listed = page.locator("#techkb-documents")
    listed.get_by_text("JN note: torque check").first.wait_for(state="attached")
    assert licence in listed.text_content(), "the org's default licence was applied"
    page.locator("#techkb-document-choice input").click()
    page.get_by_role("option", name=re.compile("JN note: torque check")).click()
    page.click("#techkb-delete")
    confirm = page.locator("#techkb-confirm-doc").first
    confirm.wait_for(state="visible")
    said = confirm.inner_text()
    assert "JN note: torque check" in said and "for everyone" in said
    page.click("#techkb-confirm-delete-doc")
    page.wait_for_function(
        "() => !document.querySelector('#techkb-documents').textContent.includes('JN note')"
    )


@pytest.mark.parametrize("user", ["chen", "root"])
def test_the_dashboard_renders_for_staff_and_admins(
    served: Served, new_page: Any, user: str, tmp_path: Path
) -> None:
    page = new_page(served.url, user, locale="en-US")
    if user == "chen":  # the upload form says which licence an upload gets when left empty
        contributors = yaml.safe_load((REPO / "corpora" / "contributors.yaml").read_text())
        licence = next(
            c["license"] for c in contributors["contributors"] if c["id"] == USERS[user][0]
        )
        page.get_by_role("tab", name="Contribute").click()
        page.locator("#techkb-upload-license").get_by_text(
            EN["license_default"].format(license=licence)
        ).wait_for()
        _upload_then_delete(page, licence, tmp_path)
    page.get_by_role("tab", name=re.compile("Dashboard|统计面板")).click()
    plot = page.locator("#techkb-chunks-plot")
    plot.locator("canvas, svg").first.wait_for()
    assert page.locator(".toast-body.error").count() == 0


def test_an_anonymous_conversation_survives_a_reload(
    servers: dict[str, Served], new_page: Any
) -> None:
    page = new_page(servers["open"].url)  # no users file: everyone is anonymous
    page.locator("#techkb-who").get_by_text("Not signed in").wait_for()
    ask(page, TABLE_QUESTION)
    page.locator("#techkb-conversations label").filter(has_text=TABLE_QUESTION).wait_for()
    page.reload()
    page.wait_for_selector("#techkb-question textarea")
    page.locator("#techkb-conversations label").filter(has_text=TABLE_QUESTION).click()
    page.wait_for_function(FINISHED, arg=1)
    assert TABLE_QUESTION in page.locator("#techkb-chat [data-testid=user]").inner_text()
