"""`ReplayStore` is a `Store`: every method retrieval and the assistant call, same signatures."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.store import KnowledgeStore, Store
from assistant.types import ANONYMOUS, Identity
from evals.replay import ReplayStore
from tests.factories import make_chunk

HUAXIN = Identity(user="li", org="huaxin-robotics", role="staff")
METHODS = sorted(n for n, v in vars(Store).items() if inspect.isfunction(v) and n[0] != "_")


def as_store(store: ReplayStore) -> Store:
    """Checked by mypy: a `ReplayStore` is accepted where a `Store` is expected."""
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KnowledgeStore]:
    """A real store: one public document, one private to Huaxin Robotics."""
    store = KnowledgeStore(tmp_path / "store")
    docs = {
        "pub": [
            make_chunk("pub-0000", text="Tighten the HX-R20 J4 cover bolts to 8 N·m."),
            make_chunk("pub-0001", chunk_index=1, text="Check the J4 grease level every year."),
        ],
        "priv": [
            make_chunk(
                "priv-0000",
                text="The HX-R165 J4 cover bolts take 12 N·m.",
                contributor="huaxin-robotics",
                contributor_type="enterprise",
                visibility="org",
            )
        ],
    }
    rng = np.random.default_rng(0)
    for doc_id, chunks in docs.items():
        store.begin_document(doc_id, "root", f"{doc_id}.md", doc_id)
        vectors = rng.normal(size=(len(chunks), 8)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store.write_document(doc_id, f"doc {doc_id}", chunks[0].contributor, chunks, vectors)
    yield store
    store.close()


def test_the_store_and_its_replay_are_stores(store: KnowledgeStore) -> None:
    assert METHODS  # the protocol lists methods, so the checks below check something
    assert isinstance(store, Store)
    assert isinstance(as_store(ReplayStore(store)), Store)
    assert not hasattr(ReplayStore, "__getattr__")  # nothing passes through unlisted
    for name in METHODS:
        wanted = inspect.signature(getattr(Store, name))
        assert inspect.signature(getattr(KnowledgeStore, name)) == wanted, name
        assert inspect.signature(getattr(ReplayStore, name)) == wanted, name


@pytest.mark.parametrize("identity", [ANONYMOUS, HUAXIN], ids=["anonymous", "huaxin"])
def test_replay_answers_as_the_store_does(store: KnowledgeStore, identity: Identity) -> None:
    replay = ReplayStore(store)
    assert replay.readable_partitions(identity) == store.readable_partitions(identity)
    assert replay.keyword_index() is store.keyword_index()
    for code in ("HX-R20", "hx r165", "HX-R35"):
        assert replay.mentions(code, identity) == store.mentions(code, identity), code
    ids = ["pub-0000", "pub-0001", "priv-0000"]
    assert replay.chunks(ids, identity) == store.chunks(ids, identity)
    for doc_id in ("pub", "priv"):
        assert replay.document_chunks(doc_id, identity) == store.document_chunks(doc_id, identity)
    query = np.ones(8, dtype=np.float32) / np.sqrt(8)
    dense = [m.chunk_id for m in store.dense_search(query, identity, 2)]
    assert dense
    assert [m.chunk_id for m in replay.dense_search(query, identity, 2)] == dense
    for text in ("J4 cover bolts", "grease"):
        found = [m.chunk_id for m in store.keyword_search(text, identity, 5, None)]
        assert found, text
        assert [m.chunk_id for m in replay.keyword_search(text, identity, 5, None)] == found
    # The private document is Huaxin's alone, through the replay as through the store.
    assert replay.mentions("HX-R165", identity) == (identity is HUAXIN)
