"""PostgreSQL stopped under a running worker: questions get HTTP 503 with Retry-After and a
message that names no server, nothing written is lost, and the worker recovers by itself when
the database is back (no restart)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.postgres import LocalPostgres, running_server
from tests.processes import Served, free_port, stop, wait_for_http

pytestmark = [pytest.mark.server, pytest.mark.slow]

DOC = (
    "# Vortex-9 training lathe coolant\n\nThe Vortex-9 training lathe needs a coolant "
    "concentration of 6 to 8 percent, checked with a refractometer every Monday.\n"
)
QUESTION = "What coolant concentration does the Vortex-9 training lathe need?"


@pytest.fixture
def own_postgres() -> Iterator[LocalPostgres]:
    """A server of this test's own, as the test stops and starts it."""
    with running_server() as server:
        yield server


def _ask(url: str) -> httpx.Response:
    return httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=120)


def test_a_database_outage_is_a_503_and_the_worker_recovers(
    tmp_path: Path, own_postgres: LocalPostgres
) -> None:
    database_url = own_postgres.new_database()
    env = {**os.environ, "TECHKB_STORE__DATABASE_URL": database_url}
    env.pop("TECHKB_USERS_FILE", None)
    corpus = tmp_path / "corpus" / "northlake-college"
    corpus.mkdir(parents=True)
    (corpus / "vortex-9-coolant.md").write_text(DOC, encoding="utf-8")
    home = tmp_path / "home"
    subprocess.run(
        [sys.executable, "-m", "techkb", "ingest", str(tmp_path / "corpus"), "--store", str(home)],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    port, log = free_port(), tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "techkb", "serve", "--store", str(home), "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Served(f"http://127.0.0.1:{port}", proc, log)
    try:
        wait_for_http(f"{server.url}/api/health", proc, 180, "techkb serve", server.log_text)
        before = _ask(server.url)
        assert before.status_code == 200 and "6 to 8" in before.json()["answer"], before.text

        own_postgres.halt()
        down = _ask(server.url)
        assert down.status_code == 503, down.text
        body = down.json()
        assert body["error"]["type"] == "store_unavailable", body
        assert "127.0.0.1" not in down.text and str(own_postgres.port) not in down.text
        assert int(down.headers["retry-after"]) > 0
        assert "catalog" in server.log_text()  # the worker's log says what failed

        own_postgres.resume()
        deadline = time.monotonic() + 60
        after = _ask(server.url)
        while after.status_code != 200 and time.monotonic() < deadline:
            time.sleep(1)
            after = _ask(server.url)
        assert after.status_code == 200 and "6 to 8" in after.json()["answer"], after.text
    finally:
        stop(proc)
