"""Fixtures of the browser tests: the real web app (UI included) over a copy of the demo store,
users with each role, and headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.processes import free_port

REPO = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO / "out" / "screenshots"
PASSWORD = "browser-test-password"
# name: (org, role)
USERS = {
    "ui-student": ("northlake-college", "student"),
    "ui-teacher": ("northlake-college", "teacher"),
    "ui-staff": ("jiangnan-precision", "staff"),
    "ui-admin": ("amma", "admin"),
}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 30_000


@dataclass
class WebUI:
    """A running techkb web app (APIs and Gradio UI) over a private copy of the demo store."""

    url: str
    services: Any
    home: Path


def _chromium() -> str | None:
    """A Chromium binary: $TECHKB_CHROMIUM, the system one, or None (Playwright's own)."""
    for candidate in (os.environ.get("TECHKB_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def web_ui(demo_store_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebUI]:
    """uvicorn in a thread on 127.0.0.1 serving `create_app(services, ui=True)`."""
    import uvicorn

    from assistant.settings import load_settings
    from assistant.users import UserStore
    from techkb.cmd_serve import build_web_services
    from ui.server import create_app

    base = tmp_path_factory.mktemp("web-ui")
    home = base / "store"
    shutil.copytree(demo_store_home, home)  # the session store stays read-only
    users_file = base / "users.yaml"
    users = UserStore(users_file)
    for name, (org, role) in USERS.items():
        users.add(name, org, role, PASSWORD)
    settings = load_settings({"paths": {"home": home, "users_file": users_file}}, environ={})
    services = build_web_services(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services, ui=True), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the web server did not start"
    yield WebUI(f"http://127.0.0.1:{port}", services, home)
    server.should_exit = True
    thread.join(timeout=10)
    services.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium (skipped when neither the system nor Playwright has one)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        try:
            chromium = p.chromium.launch(
                executable_path=_chromium(), headless=True, args=CHROMIUM_ARGS
            )
        except playwright_api.Error as e:
            pytest.skip(f"no usable Chromium for the browser tests: {e}")
        yield chromium
        chromium.close()


@pytest.fixture
def open_app(web_ui: WebUI, browser: Any) -> Iterator[Callable[..., Any]]:
    """Open the app in a fresh browser context, signed in as `user`, in `locale`."""
    contexts: list[Any] = []

    def open_(user: str, locale: str = "en-US") -> Any:
        context = browser.new_context(locale=locale, viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.goto(web_ui.url + "/")
        page.wait_for_selector("input[type=password]")
        page.fill("#username", user)
        page.fill("#password", PASSWORD)
        page.locator("button[type=submit]").click()
        page.wait_for_selector("#techkb-question textarea")
        page.wait_for_selector("#techkb-who :text('" + user + "')")
        return page

    yield open_
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under out/screenshots/ (a test artifact)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def ask(page: Any, question: str, mode: str | None = None) -> Any:
    """Type a question, send it, and return the locator of the finished answer message.

    A finished answer is the first bot message after the question that carries a citation
    link or the refusal box (streamed pieces carry neither).
    """
    if mode:
        page.locator("#techkb-mode label").filter(has_text=mode).click()
    before = page.locator("#techkb-chat [data-testid=bot]").count()
    page.fill("#techkb-question textarea", question)
    page.click("#techkb-send")
    page.wait_for_function(
        """n => {
            const bots = document.querySelectorAll('#techkb-chat [data-testid=bot]');
            return bots.length > n &&
                bots[bots.length - 1].querySelector('a.techkb-cite, .techkb-refused') !== null;
        }""",
        arg=before,
        timeout=120_000,
    )
    return page.locator("#techkb-chat [data-testid=bot]").last
