"""Fixtures of the web back end: a writable copy of the demo store, users, a live server."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import free_port

PASSWORD = "correct horse battery"
# name: (org, role)
USERS = {
    "nl-student": ("northlake-college", "student"),
    "nl-teacher": ("northlake-college", "teacher"),
    "mc-staff": ("meridian-cnc", "staff"),
    "mc-student": ("meridian-cnc", "student"),
    "root": ("amma", "admin"),
}


@dataclass
class Web:
    """A running API server over a private copy of the demo store."""

    url: str
    services: Any
    home: Path
    users_file: Path
    tokens: dict[str, str]

    def client(self, user: str | None = None, token: str | None = None) -> httpx.Client:
        auth = (user, PASSWORD) if user else None
        headers = {"Authorization": f"Bearer {token}"} if token else None
        return httpx.Client(base_url=self.url, auth=auth, headers=headers, timeout=300)


@pytest.fixture(scope="session")
def web(demo_store_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """uvicorn in a thread on 127.0.0.1, API only (the Gradio UI is tested elsewhere)."""
    import uvicorn

    from assistant.settings import load_settings
    from assistant.users import UserStore
    from techkb.cmd_serve import build_web_services
    from ui.server import create_app

    base = tmp_path_factory.mktemp("web")
    home = base / "store"
    shutil.copytree(demo_store_home, home)  # the session store stays read-only
    users_file = base / "users.yaml"
    users = UserStore(users_file)
    for name, (org, role) in USERS.items():
        users.add(name, org, role, PASSWORD)
    tokens = {name: users.issue_token(name)[1] for name in ("nl-student", "mc-staff")}
    settings = load_settings(
        {"paths": {"home": home, "users_file": users_file}, "ui": {"max_upload_mb": 0.05}},
        environ={},
    )
    services = build_web_services(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services, ui=False), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the API server did not start"
    yield Web(f"http://127.0.0.1:{port}", services, home, users_file, tokens)
    server.should_exit = True
    thread.join(timeout=10)
    services.close()
