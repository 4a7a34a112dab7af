"""Personas x routes x documents: no forbidden chunk id or canary in any output; owners find theirs.

The corpus (`tests.reliability.canary`) has one document per visibility case, each with a unique
canary token. Every persona asks every document's question through every route below; the whole
output of each route (answer, citations, quotes, retrieved list, JSON) is searched for the chunk
ids and canaries of every document that persona may not see.

With `store.database_url` set (PostgreSQL: the `canary_world_postgres` corpus, opened through
the composition root and by `techkb ask` with TECHKB_STORE__DATABASE_URL) the retrieval and
source-lookup routes, the `ask` answer and the CLI's `ask` run for `DATABASE_PERSONAS` (the staff
owning the most sensitive document, refused every other org's private documents: each route's
refusals and findings) — a subset, since each persona costs a minute; the procedure and exercise
modes and the follow-up read the same retrieved chunks and run on SQLite, and the web matrix
runs more personas over PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from assistant.retrieve import Filters, HybridRetriever
from assistant.settings import load_settings
from assistant.store import KnowledgeStore
from assistant.types import Identity, Turn
from tests.reliability.canary import (
    PERSONAS,
    CanaryDoc,
    canary_docs,
    chunk_allowed,
    doc_allowed,
)

API_ROUTES = (
    "keyword", "dense", "multilingual", "hybrid", "hybrid-filtered", "source-lookup",
    "api-ask", "api-procedure", "api-exercise", "api-follow-up",
)  # fmt: skip
CLI_ROUTES = ("cli-ask", "cli-procedure", "cli-exercise")
LLM_ROUTES = ("llm-prompt-and-answer",)
SUBPROCESS_PERSONAS = ("student-donghai", "staff-huaxin")
DATABASE_PERSONAS = ("staff-huaxin",)


def _forbidden(world: dict[str, Any], identity: Identity) -> tuple[list[str], list[str]]:
    """Chunk ids and canaries this identity must never receive."""
    ids = [cid for cid, c in world["chunks"].items() if not chunk_allowed(identity, c)]
    canaries = [d.canary for d in world["docs"] if not doc_allowed(identity, d)]
    return ids, canaries


def _assert_clean(output: str, ids: list[str], canaries: list[str], where: tuple[Any, ...]) -> None:
    leaked = [x for x in (*ids, *canaries) if x in output]
    assert not leaked, (where, leaked)


def _world_assistant(world: dict[str, Any], backend: dict[str, Any] | None = None) -> Any:
    from assistant.registry import build_assistant

    settings = load_settings({"paths": {"home": world["home"]}, "llm": backend or {}}, environ={})
    store = KnowledgeStore(world["home"])
    return store, build_assistant(settings, store)


def _api_outputs(
    assistant: Any,
    store: KnowledgeStore,
    doc: CanaryDoc,
    identity: Identity,
    modes: tuple[str, ...] = ("ask", "procedure", "exercise"),
) -> dict[str, str]:
    """Every Python-API route's output for one question, as text to search (the answers in
    `modes` only, and the follow-up when all three are asked)."""
    retriever: HybridRetriever = assistant.retriever
    q = doc.question
    out: dict[str, str] = {}
    out["keyword"] = json.dumps(
        [m.chunk_id for m in store.keyword_search(q, identity, 100, None)]
        + [m.chunk_id for m in store.keyword_search(doc.canary, identity, 100, None)]
    )
    dense = retriever.embedder.embed_query(q)
    out["dense"] = json.dumps(
        [(m.chunk_id, m.metadata) for m in store.dense_search(dense, identity, 100)]
    )
    ml = retriever.multilingual.embed_query(q)
    out["multilingual"] = json.dumps(
        [(m.chunk_id, m.metadata) for m in store.dense_search(ml, identity, 100, multilingual=True)]
    )
    hits = retriever.retrieve(q, identity, k=30)
    out["hybrid"] = json.dumps([h.chunk.to_json() for h in hits])
    filtered = retriever.retrieve(
        q, identity, k=30, filters=Filters(contributors=(doc.contributor,))
    )
    out["hybrid-filtered"] = json.dumps([h.chunk.to_json() for h in filtered])
    all_ids = [c.chunk_id for _, c in store.catalog.iter_chunks()]
    preview = store.chunks(all_ids, identity)
    doc_ids = {d.doc_id for d in store.catalog.documents()}
    whole = [c.to_json() for d in sorted(doc_ids) for c in store.document_chunks(d, identity)]
    out["source-lookup"] = json.dumps([c.to_json() for c in preview.values()] + whole)
    for mode in modes:
        answer = assistant.ask(q, identity=identity, mode=mode)
        out[f"api-{mode}"] = json.dumps(answer.to_dict(), ensure_ascii=False)
    if len(modes) < 3:
        return out
    history = [Turn("user", q), Turn("assistant", "See the steps in the sources.")]
    follow = assistant.ask("And what are the steps for that?", identity=identity, history=history)
    out["api-follow-up"] = json.dumps(follow.to_dict(), ensure_ascii=False)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_python_api_routes_never_return_a_forbidden_chunk(
    canary_world: dict[str, Any], session_models: None, persona: str
) -> None:
    identity = PERSONAS[persona]
    ids, canaries = _forbidden(canary_world, identity)
    store, assistant = _world_assistant(canary_world)
    try:
        for doc in canary_world["docs"]:
            outputs = _api_outputs(assistant, store, doc, identity)
            assert set(outputs) == set(API_ROUTES)
            for route, text in outputs.items():
                _assert_clean(text, ids, canaries, (persona, route, doc.name))
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_owners_and_permitted_readers_find_each_document(
    canary_world: dict[str, Any], session_models: None, persona: str
) -> None:
    identity = PERSONAS[persona]
    store, assistant = _world_assistant(canary_world)
    try:
        for doc in canary_world["docs"]:
            if not doc_allowed(identity, doc):
                continue
            answer = assistant.ask(doc.question, identity=identity)
            assert doc.source in {h.chunk.source for h in answer.retrieved}, (persona, doc.name)
            assert not answer.refused, (persona, doc.name, answer.answer)
            assert doc.source in {c.source for c in answer.citations}, (persona, doc.name)
    finally:
        store.close()


def _cli_args(world: dict[str, Any], identity: Identity, question: str, mode: str) -> list[str]:
    args = ["ask", question, "--json", "--store", str(world["home"]), "--mode", mode]
    if not identity.anonymous:
        args += ["--org", str(identity.org), "--role", str(identity.role)]
    return args


@pytest.mark.slow
@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_cli_json_never_returns_a_forbidden_chunk(
    canary_world: dict[str, Any],
    session_models: None,
    persona: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from techkb.cli import app

    for name in [n for n in os.environ if n.startswith("TECHKB_")]:
        monkeypatch.delenv(name)
    identity = PERSONAS[persona]
    ids, canaries = _forbidden(canary_world, identity)
    runner = CliRunner()
    for doc in canary_world["docs"]:
        for mode in ("ask", "procedure", "exercise"):
            result = runner.invoke(app, _cli_args(canary_world, identity, doc.question, mode))
            assert result.exit_code == 0, (persona, mode, result.output[-2000:])
            out = json.loads(result.stdout)
            _assert_clean(result.output, ids, canaries, (persona, f"cli-{mode}", doc.name))
            if mode == "ask" and doc_allowed(identity, doc):
                assert doc.source in {r["source"] for r in out["retrieved"]}, (persona, doc.name)


@pytest.mark.slow
@pytest.mark.server
@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_generative_backend_is_never_sent_a_forbidden_chunk(
    canary_world: dict[str, Any], session_models: None, llm_server: Any, persona: str
) -> None:
    """What reaches an LLM server is an output too: the prompt holds only visible sources."""
    identity = PERSONAS[persona]
    ids, canaries = _forbidden(canary_world, identity)
    backend = {"backend": "openai", "base_url": llm_server.base_url, "model": "stub-model"}
    store, assistant = _world_assistant(canary_world, backend)
    try:
        for doc in canary_world["docs"]:
            for mode in ("ask", "procedure", "exercise"):
                before = len(llm_server.requests)
                answer = assistant.ask(doc.question, identity=identity, mode=mode)
                sent = json.dumps(llm_server.requests[before:], ensure_ascii=False)
                text = sent + json.dumps(answer.to_dict(), ensure_ascii=False)
                _assert_clean(text, ids, canaries, (persona, f"llm-{mode}", doc.name))
    finally:
        store.close()


@pytest.mark.slow
def test_cli_subprocess_json_contract_and_identity(canary_world: dict[str, Any]) -> None:
    """The installed `techkb` command, as a script would run it."""
    exe = str(Path(sys.executable).with_name("techkb"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TECHKB_")}
    secret = next(d for d in canary_world["docs"] if d.name == "org-huaxin")
    for persona in SUBPROCESS_PERSONAS:
        identity = PERSONAS[persona]
        proc = subprocess.run(
            [exe, *_cli_args(canary_world, identity, secret.question, "ask")],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        out = json.loads(proc.stdout)
        assert set(out) >= {"answer", "refused", "mode", "citations", "retrieved", "timings_ms"}
        ids, canaries = _forbidden(canary_world, identity)
        _assert_clean(proc.stdout + proc.stderr, ids, canaries, (persona, "cli-subprocess"))
        owner = doc_allowed(identity, secret)
        assert (secret.source in {c["source"] for c in out["citations"]}) == owner, persona


@pytest.mark.slow
@pytest.mark.parametrize("persona", DATABASE_PERSONAS)
def test_with_a_database_url_no_route_returns_a_forbidden_chunk(
    request: pytest.FixtureRequest,
    session_models: None,
    persona: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from assistant.registry import build_assistant, build_store
    from techkb.cli import app
    from tests.reliability.database_world import database_world

    world = database_world(request)
    for name in [n for n in os.environ if n.startswith("TECHKB_")]:
        monkeypatch.delenv(name)
    identity = PERSONAS[persona]
    ids, canaries = _forbidden(world, identity)  # its own chunk ids
    settings = load_settings(
        {"paths": {"home": world["home"]}, "store": {"database_url": world["url"]}}, environ={}
    )
    store = build_store(settings)
    try:
        assistant = build_assistant(settings, store)
        for doc in world["docs"]:
            outputs = _api_outputs(assistant, store, doc, identity, modes=("ask",))
            for route, text in outputs.items():
                _assert_clean(text, ids, canaries, (persona, "database", route, doc.name))
            if doc_allowed(identity, doc):
                assert doc.source in outputs["api-ask"], (persona, "database", doc.name)
    finally:
        store.close()
    runner = CliRunner()
    for doc in world["docs"]:
        args = _cli_args(world, identity, doc.question, "ask")
        result = runner.invoke(app, args, env=world["env"])
        assert result.exit_code == 0, (persona, "database", result.output[-2000:])
        _assert_clean(result.output, ids, canaries, (persona, "database-cli", doc.name))
        found = {r["source"] for r in json.loads(result.stdout)["retrieved"]}
        assert (doc.source in found) or not doc_allowed(identity, doc), (persona, doc.name)


ROUTES_PER_QUESTION: dict[str, Callable[[], int]] = {
    "python api": lambda: len(API_ROUTES),
    "cli (in process)": lambda: len(CLI_ROUTES),
    "generative backend (3 modes)": lambda: 3,
}


def test_matrix_size() -> None:
    """The counts RELIABILITY.md reports: personas x routes x documents."""
    docs = canary_docs()
    routes = sum(f() for f in ROUTES_PER_QUESTION.values())
    assert (len(PERSONAS), routes, len(docs)) == (7, 16, 8)
    cases = {(d.visibility, d.roles, d.contributor) for d in docs}
    orgs = {"northlake-college", "donghai-polytechnic", "huaxin-robotics", "meridian-cnc"}
    assert {c for c in cases if c[0] == "org"} == {("org", (), org) for org in orgs}
    assert {c[0] for c in cases} == {"public", "consortium", "org"}
    assert any(c[1] == ("teacher",) for c in cases)
    assert any(d.question.isascii() is False for d in docs), "a Chinese document too"
