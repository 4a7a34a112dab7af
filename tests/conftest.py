"""Shared fixtures: no network beyond loopback, one embedder per session, a demo-corpus store."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import assistant  # noqa: F401  (sets the offline environment before any library loads)

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO / "corpora"
OPEN_CORPUS = REPO.parent / "shared" / "open-corpus"


def _is_loopback(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection off this machine fails the test."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded(sock: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(sock, address)

    def guarded_ex(sock: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_ex)


@pytest.fixture(scope="session")
def embedder() -> Any:
    from assistant.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def multilingual() -> Any:
    from assistant.embed_multilingual import UniversalSentenceEncoderEmbedder

    return UniversalSentenceEncoderEmbedder()


@pytest.fixture(scope="session")
def demo_store_home(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, multilingual: Any
) -> Iterator[Path]:
    """The demo corpus ingested once per session (read-only for the tests that use it)."""
    from assistant.settings import load_settings
    from assistant.store import KnowledgeStore
    from ingestion.pipeline import Ingester

    home = tmp_path_factory.mktemp("demo-store")
    settings = load_settings({"paths": {"home": home}}, environ={})
    store = KnowledgeStore(home)
    ingester = Ingester(
        store, embedder, settings.ingestion, progress=False, multilingual=multilingual
    )
    report = ingester.ingest([CORPORA])
    store.close()
    assert report.failed == [], report.failed
    yield home


@pytest.fixture
def llm_server() -> Iterator[Any]:
    """A scripted OpenAI-compatible server on 127.0.0.1 (see tests/llm_server.py)."""
    from tests.llm_server import FakeLLMServer

    server = FakeLLMServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A PostgreSQL server on 127.0.0.1 with its own data directory (tests/postgres.py);
    the test skips, saying why, where Debian's `postgresql` is not installed."""
    from tests.postgres import running_server

    with running_server() as server:
        yield server


@pytest.fixture
def database_url(postgres_server: Any) -> str:
    """The URL of a fresh, empty PostgreSQL database on the session's server."""
    return str(postgres_server.new_database())


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest) -> str | None:
    """Each back end in turn: None (the SQLite files in the store home), then a fresh
    PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("database_url"))
