"""A question answers from the current edition of a document unless it asks about an earlier one."""

from __future__ import annotations

from assistant.answer.editions import asks_changes, asks_earlier, editions_asked
from assistant.types import Chunk, Hit
from tests.factories import make_chunk


def _hits() -> list[Hit]:
    old = make_chunk(
        "old-0000",
        text="5.4.1 In T1 the speed of the tool centre point shall not exceed 250 mm/s.",
        title="ITSC-RS 101:2016 Industrial robots — Safety requirements",
        contributor="itsc",
        edition="2016",
        effective_date="2016-09-01",
    )
    new = make_chunk(
        "new-0000",
        text="5.4.1 In T1 the speed of the TCP, the flange and every point of the end-effector "
        "shall not exceed 250 mm/s.",
        title="ITSC-RS 101:2021 Industrial robots — Safety requirements",
        contributor="itsc",
        edition="2021",
        effective_date="2021-07-01",
    )
    course = make_chunk(
        "crs-0000",
        text="T1 limits the speed to 250 mm/s.",
        title="NLC-ROB-101 Robot programming basics (2023)",
        contributor="northlake-college",
        edition="2023",
    )
    return [Hit(old, 1.0), Hit(course, 0.9), Hit(new, 0.8)]


def _docs(hits: list[Hit]) -> list[str]:
    return [h.chunk.doc_id for h in hits]


def test_a_superseded_edition_is_left_out_when_the_current_one_is_there() -> None:
    hits = _hits()
    assert _docs(editions_asked("What is the maximum speed in T1?", hits)) == ["crs", "new"]
    assert _docs(editions_asked("T1 模式下最大速度是多少？", hits)) == ["crs", "new"]
    # Only one edition among the hits: nothing to prefer.
    assert editions_asked("Max speed in T1?", hits[:2]) == hits[:2]


def test_the_question_chooses_the_edition() -> None:
    hits = _hits()
    for earlier in (
        "What did ITSC-RS 101:2016 allow in T1?",
        "and what was it in the previous edition?",
        # a follow-up's query carries the earlier question's edition: "previous" decides
        "What does ITSC-RS 101:2021 allow in T1? and in the previous edition?",
        "旧版标准对 T1 速度怎么规定？",
    ):
        assert _docs(editions_asked(earlier, hits)) == ["old", "crs"], earlier
    assert _docs(editions_asked("In the 2021 edition, what is the T1 limit?", hits)) == [
        "crs",
        "new",
    ]
    for changes in (
        "What changed in T1 between the two editions?",
        "What's new in the 2021 edition?",
        "What were the main changes from ITSC-RS 101:2016 to the 2021 edition?",
        "和上一版有什么区别？",
    ):
        assert editions_asked(changes, hits) == hits, changes


def test_editions_are_one_contributor_s_documents_differing_only_in_their_edition() -> None:
    hits = _hits()
    other = make_chunk(
        "cpy-0000",
        text="Copy.",
        title="ITSC-RS 101:2016 Industrial robots — Safety requirements",
        contributor="northlake-college",
        edition="2016",
    )
    renamed = make_chunk(
        "nxt-0000",
        text="Next.",
        title="ITSC-RS 102:2024 Industrial robots — Safety requirements",
        contributor="itsc",
        edition="2024",
    )
    event = make_chunk("wc14-0000", text="Germany won.", title="2014 FIFA World Cup")
    later = make_chunk("wc18-0000", text="France won.", title="2018 FIFA World Cup")
    # A course's copy of the old text is not an edition of the standard; nor is another code;
    # nor are articles on two events that declare no edition.
    more = [Hit(other, 0.5), Hit(renamed, 0.4), Hit(event, 0.3), Hit(later, 0.2)]
    kept = editions_asked("Max speed in T1?", [*hits, *more])
    assert _docs(kept) == ["crs", "new", "cpy", "nxt", "wc14", "wc18"]


def test_what_asks_for_an_earlier_edition() -> None:
    assert asks_earlier("and the old one?")
    assert not asks_earlier("How old is the grease?")
    assert not asks_earlier("Which one is new?") and not asks_changes("Which one is new?")
    assert not asks_earlier("Which is the first one to check?")
    assert asks_earlier("What did the first edition say?")
    assert asks_changes("What changed in the new version of the standard?")


class _RankingStore:
    """Stands in for the store: a document's chunks are those of the ranking."""

    def __init__(self, ranking: list[Hit]) -> None:
        self.ranking = ranking

    def document_chunks(self, doc_id: str, identity: object) -> list[Chunk]:
        return [h.chunk for h in self.ranking if h.chunk.doc_id == doc_id]


class _ListRetriever:
    """Stands in for HybridRetriever: the first `k` (default 4) of a fixed ranking."""

    def __init__(self, ranking: list[Hit]) -> None:
        self.ranking = ranking
        self.store = _RankingStore(ranking)
        self.asked: list[int | None] = []

    def retrieve(
        self, query: str, identity: object, k: int | None = None, **_: object
    ) -> list[Hit]:
        self.asked.append(k)
        return self.ranking[: k or 4]


def test_where_an_edition_is_left_out_retrieval_reaches_deeper_to_fill_the_list() -> None:
    from assistant.answer.extractive import ExtractiveAnswerer
    from assistant.service import Assistant
    from assistant.types import ANONYMOUS

    old, course, new = _hits()
    annex = make_chunk(
        "new-0001", doc_id="new", text="Annex A.", title=new.chunk.title, contributor="itsc",
        edition="2021", effective_date="2021-07-01",
    )  # fmt: skip
    ranking = [old, course, new, old, Hit(annex, 0.5), course, new, course]
    retriever = _ListRetriever(ranking)
    assistant = Assistant(retriever, ExtractiveAnswerer())  # type: ignore[arg-type]
    got = assistant._sources("Max speed in T1?", "Max speed in T1?", ANONYMOUS)
    assert retriever.asked == [None, 8]
    # as many hits as the first retrieval gave, none of the superseded edition
    assert [h.chunk.chunk_id for h in got] == ["crs-0000", "new-0000", "new-0001", "crs-0000"]
    # nothing left out: one retrieval
    retriever.asked.clear()
    changes = "What changed between the editions?"
    assistant._sources(changes, changes, ANONYMOUS)
    assert retriever.asked == [None]
