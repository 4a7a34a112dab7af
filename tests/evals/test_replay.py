"""Replayed retrieval equals real filtered retrieval (contributor-value runs rely on it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.queries import standalone_query
from assistant.retrieve import Filters
from evals.attribution import ContributorGame, gold_cited, replay_assistant
from evals.datasets import load_dataset

REPO = Path(__file__).resolve().parents[2]
ITEM_IDS = ("q008", "q064", "q044", "q002", "q049", "q080")
COALITIONS = (
    ("itsc", "northlake-college"),
    ("huaxin-robotics", "itsc", "jiangnan-precision"),
    ("amma", "donghai-polytechnic", "meridian-cnc", "huaxin-robotics"),
)


@pytest.fixture(scope="module")
def assistant_and_store(demo_store_home: Path, embedder: Any) -> Iterator[tuple[Any, Any]]:
    from assistant.registry import build_assistant, build_store
    from assistant.settings import load_settings

    settings = load_settings({"paths": {"home": demo_store_home}}, environ={})
    store = build_store(settings)
    yield build_assistant(settings, store, embedder), store
    store.close()


def _tie_groups(matches: list[Any]) -> list[tuple[float, frozenset[str]]]:
    """A BM25 ranking as groups of equal scores (the order inside a tie is arbitrary)."""
    groups: list[tuple[float, set[str]]] = []
    for m in matches:
        if groups and abs(groups[-1][0] - m.score) < 1e-9:
            groups[-1][1].add(m.chunk_id)
        else:
            groups.append((m.score, {m.chunk_id}))
    return [(round(s, 6), frozenset(ids)) for s, ids in groups]


@pytest.mark.slow
def test_replay_equals_filtered_retrieval(assistant_and_store: tuple[Any, Any]) -> None:
    assistant, store = assistant_and_store
    replay = replay_assistant(assistant, store)
    # Everything but retrieval's store and the answerer's memo is the assistant's own.
    for name, value in vars(assistant).items():
        if name not in ("retriever", "answerer"):
            assert getattr(replay, name) is value, name
    assert vars(replay.retriever).keys() == vars(assistant.retriever).keys()
    items = {i.id: i for i in load_dataset(REPO / "evals" / "datasets" / "demo.jsonl")}
    retriever = assistant.retriever
    s = retriever.settings
    for item_id in ITEM_IDS:
        item = items[item_id]
        query = standalone_query(item.question, item.history)
        for members in COALITIONS:
            f = Filters(contributors=members)
            where = f.as_where()
            vector = retriever.multilingual.embed_query(query)
            real = store.dense_search(vector, item.identity, s.dense_k, where, multilingual=True)
            again = replay.retriever.store.dense_search(
                vector, item.identity, s.dense_k, where, multilingual=True
            )
            assert [m.chunk_id for m in real] == [m.chunk_id for m in again], (item_id, members)
            kw_real = store.keyword_search(query, item.identity, s.keyword_k, f.as_fields())
            kw_again = replay.retriever.store.keyword_search(
                query, item.identity, s.keyword_k, f.as_fields()
            )
            # Equal up to tie order; a tie cut by k may keep different members of the tie.
            real_groups, again_groups = _tie_groups(kw_real), _tie_groups(kw_again)
            assert real_groups and again_groups, (item_id, members)
            assert real_groups[:-1] == again_groups[:-1], (item_id, members)
            assert real_groups[-1][0] == again_groups[-1][0]
            assert len(real_groups[-1][1]) == len(again_groups[-1][1])
            a = assistant.ask(
                item.question,
                identity=item.identity,
                history=item.history,
                mode=item.mode,
                filters=f,
            )
            b = replay.ask(
                item.question,
                identity=item.identity,
                history=item.history,
                mode=item.mode,
                filters=f,
            )
            assert {h.chunk.chunk_id for h in a.retrieved} == {
                h.chunk.chunk_id for h in b.retrieved
            }, (item_id, members)
            assert all(h.chunk.contributor in members for h in b.retrieved)
            assert gold_cited(item, a) == gold_cited(item, b), (item_id, members)
            assert a.refused == b.refused


@pytest.mark.slow
def test_game_respects_visibility_and_empty_coalition(
    assistant_and_store: tuple[Any, Any],
) -> None:
    assistant, store = assistant_and_store
    items = {i.id: i for i in load_dataset(REPO / "evals" / "datasets" / "demo.jsonl")}
    anonymous, restricted = items["q002"], items["q049"]
    game = ContributorGame(assistant, store, [anonymous, restricted], gold_cited)
    # Anonymous users see public material only: consortium contributors do not matter to them.
    visible = game.visible_contributors(anonymous)
    assert {"huaxin-robotics", "meridian-cnc", "jiangnan-precision"}.isdisjoint(visible)
    nobody = game.answer(anonymous, frozenset())
    assert nobody.refused and not nobody.retrieved
    everyone = game.answer(restricted, frozenset(game.contributors))
    assert not set(restricted.restricted_sources) & {h.chunk.source for h in everyone.retrieved}
    assert game.value(frozenset()) == pytest.approx(0.5)  # answerable fails, refusal right


@pytest.mark.slow
def test_gold_gate_changes_no_value(assistant_and_store: tuple[Any, Any]) -> None:
    # Skipping the answerer when no gold source is among the hits is exact for gold_cited.
    assistant, store = assistant_and_store
    items = {i.id: i for i in load_dataset(REPO / "evals" / "datasets" / "demo.jsonl")}
    chosen = [items[i] for i in ("q001", "q064", "q049")]
    gated = ContributorGame(assistant, store, chosen, gold_cited, metric_name="gold_cited")
    plain = ContributorGame(assistant, store, chosen, gold_cited)
    for members in (*COALITIONS, ("amma",), ("itsc",)):
        coalition = frozenset(members)
        for i in range(len(chosen)):
            assert gated.item_value(i, coalition) == plain.item_value(i, coalition), (
                chosen[i].id,
                members,
            )
    assert gated.replay is not None and gated.replay.answerer.skipped > 0
