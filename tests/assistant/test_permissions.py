"""The identity matrix: nobody sees a chunk they may not see, by any path or mode; owners do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.registry import build_assistant
from assistant.settings import load_settings
from assistant.store import KnowledgeStore
from assistant.types import ANONYMOUS, Chunk, Identity

PERSONAS = {
    "student-northlake": Identity("ana", "northlake-college", "student"),
    "student-donghai": Identity("li", "donghai-polytechnic", "student"),
    "staff-huaxin": Identity("wang", "huaxin-robotics", "staff"),
    "staff-meridian": Identity("mia", "meridian-cnc", "staff"),
    "staff-jiangnan": Identity("zhao", "jiangnan-precision", "staff"),
    "teacher-northlake": Identity("tom", "northlake-college", "teacher"),
    "anonymous": ANONYMOUS,
}

# Questions aimed at restricted documents, with a string only that document contains.
PROBES = [
    ("Which seal lot caused the HX-R20 J3 oil seal leaks and what did the warranty cost?",
     "huaxin-robotics/cases/hx-wfa-2023-017-j3-oil-seal-leakage.md", "L2307-114"),
    ("Which HXC-5 firmware versions check J5 against the wrong brake threshold?",
     "huaxin-robotics/procedures/hx-isb-2024-05-brake-check-firmware.md", "7731"),
    ("How many disc springs are in the new BT40 drawbar stack of ECN-2024-031?",
     "meridian-cnc/guides/mc-ecn-2024-031-drawbar-disc-springs.md", "SL-2024-06"),
    ("春节停机后机器人编码器数据丢失的内部案例是怎么回事？",
     "jiangnan-precision/cases/jn-cs-2024-002-robot-position-loss-after-holiday.md",
     "JN-QA-2024-007"),
    ("What is the answer to exercise 4 of NLC-ROB-102 robot mastering?",
     "northlake-college/answer-keys/nlc-rob-102-answer-key.md", None),
    ("How much grease goes into the HX-R20 J1 reducer?",
     "huaxin-robotics/procedures/hx-mp-201-rv-reducer-grease-replacement-j1-j3.md", None),
]  # fmt: skip
MODES = ("ask", "procedure", "exercise")


def allowed(identity: Identity, chunk: Chunk) -> bool:
    """The rule of DESIGN.md, written out here independently of assistant.access."""
    member = identity.org is not None and identity.role is not None
    if chunk.visibility == "public":
        ok = True
    elif chunk.visibility == "consortium":
        ok = member
    elif chunk.visibility == "org":
        ok = member and identity.org == chunk.contributor
    else:
        ok = False
    if ok and chunk.allowed_roles:
        ok = member and (identity.role in chunk.allowed_roles or identity.role == "admin")
    return ok


@pytest.fixture(scope="module")
def world(demo_store_home: Path, embedder: Any) -> Iterator[dict[str, Any]]:
    settings = load_settings({"paths": {"home": demo_store_home}}, environ={})
    store = KnowledgeStore(demo_store_home)
    chunks = {c.chunk_id: c for _, c in store.catalog.iter_chunks()}
    assistant = build_assistant(settings, store, embedder)
    yield {"store": store, "chunks": chunks, "assistant": assistant, "home": demo_store_home}
    store.close()


def _canary_is_unique(chunks: dict[str, Chunk], source: str, canary: str) -> bool:
    return all(canary not in c.text for c in chunks.values() if c.source != source)


def test_restricted_documents_exist_in_the_store(world: dict[str, Any]) -> None:
    chunks = world["chunks"]
    for _, source, canary in PROBES:
        mine = [c for c in chunks.values() if c.source == source]
        assert mine, source
        if canary:
            assert any(canary in c.text for c in mine), (source, canary)
            assert _canary_is_unique(chunks, source, canary), canary


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_no_path_or_mode_returns_a_forbidden_chunk(world: dict[str, Any], persona: str) -> None:
    identity = PERSONAS[persona]
    store: KnowledgeStore = world["store"]
    chunks: dict[str, Chunk] = world["chunks"]
    assistant = world["assistant"]
    forbidden_canaries = [
        canary
        for _, source, canary in PROBES
        if canary and not any(allowed(identity, c) for c in chunks.values() if c.source == source)
    ]
    for question, _, _ in PROBES:
        seen: list[str] = []
        seen += [m.chunk_id for m in store.keyword_search(question, identity, 50, None)]
        vector = assistant.retriever.embedder.embed_query(question)
        seen += [m.chunk_id for m in store.dense_search(vector, identity, 50)]
        if assistant.retriever.multilingual is not None:
            ml = assistant.retriever.multilingual.embed_query(question)
            seen += [m.chunk_id for m in store.dense_search(ml, identity, 50, multilingual=True)]
        seen += [h.chunk.chunk_id for h in assistant.retriever.retrieve(question, identity, k=20)]
        for mode in MODES:
            answer = assistant.ask(question, identity=identity, mode=mode)
            seen += [h.chunk.chunk_id for h in answer.retrieved]
            seen += [c.chunk_id for c in answer.citations]
            text = answer.answer + " ".join(c.quote for c in answer.citations)
            for canary in forbidden_canaries:
                assert canary not in text, (persona, mode, question, canary)
        bad = [cid for cid in seen if not allowed(identity, chunks[cid])]
        assert not bad, (persona, question, [chunks[c].source for c in bad])


@pytest.mark.parametrize(
    ("persona", "probe"),
    [("staff-huaxin", 0), ("staff-huaxin", 1), ("staff-meridian", 2), ("staff-jiangnan", 3),
     ("teacher-northlake", 4)],
)  # fmt: skip
def test_owners_find_their_own_restricted_documents(
    world: dict[str, Any], persona: str, probe: int
) -> None:
    question, source, canary = PROBES[probe]
    answer = world["assistant"].ask(question, identity=PERSONAS[persona])
    assert source in {h.chunk.source for h in answer.retrieved}
    if canary:
        assert not answer.refused
        assert source in {c.source for c in answer.citations}


def test_student_gets_no_teacher_answer_key_in_exercise_mode(world: dict[str, Any]) -> None:
    chunks = world["chunks"]
    for persona in ("student-northlake", "student-donghai", "anonymous"):
        answer = world["assistant"].ask(
            "Make an exercise set on robot mastering after encoder battery loss",
            identity=PERSONAS[persona],
            mode="exercise",
        )
        used = [h.chunk for h in answer.retrieved] + [chunks[c.chunk_id] for c in answer.citations]
        assert used, persona  # the public course module on mastering is there for them
        assert not any("teacher" in c.allowed_roles for c in used), persona


def test_cli_ask_json_respects_identity(world: dict[str, Any]) -> None:
    env = {**os.environ, "TECHKB_HOME": str(world["home"])}
    exe = str(Path(sys.executable).with_name("techkb"))
    question = PROBES[0][0]
    outs = {}
    personas = {
        "student": ["--org", "northlake-college", "--role", "student"],
        "owner": ["--org", "huaxin-robotics", "--role", "staff"],
    }
    for label, flags in personas.items():
        proc = subprocess.run(
            [exe, "ask", question, "--json", *flags],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        outs[label] = json.loads(proc.stdout)
    for key in ("answer", "refused", "mode", "citations", "retrieved", "timings_ms"):
        assert key in outs["owner"]
    for c in outs["owner"]["citations"]:
        assert set(c) >= {"n", "source", "doc_id", "chunk_id", "title", "locator", "contributor",
                          "quote"}  # fmt: skip
    student_sources = {r["source"] for r in outs["student"]["retrieved"]}
    assert PROBES[0][1] not in student_sources
    assert "L2307-114" not in outs["student"]["answer"]
    assert PROBES[0][1] in {c["source"] for c in outs["owner"]["citations"]}
