"""`techkb serve` as a real process: UI at /, REST, OpenAI API, Basic and bearer auth."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from assistant.users import UserStore
from tests.processes import serve_techkb
from tests.ui.conftest import PASSWORD

pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.fixture
def served(demo_store_home: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    home = tmp_path / "store"
    shutil.copytree(demo_store_home, home)
    users_file = tmp_path / "users.yaml"
    users = UserStore(users_file)
    users.add("mc-staff", "meridian-cnc", "staff", PASSWORD)
    token = users.issue_token("mc-staff")[1]
    with serve_techkb(home, tmp_path, users_file) as server:
        yield server.url, token


def test_serve_answers_over_rest_and_openai(served: tuple[str, str]) -> None:
    url, token = served
    page = httpx.get(url + "/", timeout=60, follow_redirects=True)
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert httpx.get(f"{url}/openapi.json", timeout=30).json()["paths"]["/api/ask"]
    bad = httpx.get(f"{url}/api/me", auth=("mc-staff", "wrong"), timeout=30)
    assert bad.status_code == 401
    me = httpx.get(f"{url}/api/me", auth=("mc-staff", PASSWORD), timeout=30).json()
    assert me["org"] == "meridian-cnc"

    client = openai.OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0, timeout=300)
    completion = client.chat.completions.create(
        model="techkb",
        messages=[{"role": "user", "content": "How is coolant concentration measured?"}],
    )
    text = completion.choices[0].message.content or ""
    citations = (completion.model_extra or {})["citations"]
    assert citations and all(f"[{c['n']}]" in text for c in citations)
