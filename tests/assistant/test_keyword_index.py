"""The keyword index: BM25 equal to a reference implementation, kept up to date in place."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from assistant.store.catalog import Catalog
from assistant.store.keyword import BM25KeywordIndex, keyword_text, tokenize
from assistant.types import ANONYMOUS, Chunk, Identity
from tests.conftest import CORPORA
from tests.factories import make_chunk

QUERIES = [
    "spindle warm-up before machining",
    "coolant concentration refractometer",
    "lockout tagout group lock",
    "J2 reducer grease quantity",
    "torque M10 bolt",
    "主轴 预热",
]


def _paragraphs(limit: int = 240) -> list[str]:
    out: list[str] = []
    for path in sorted(CORPORA.rglob("*.md")):
        for para in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            if len(para.split()) >= 5:
                out.append(para.strip())
    return out[:limit]


def _chunk(i: int, text: str, visibility: str = "public", org: str = "meridian-cnc") -> Chunk:
    return make_chunk(
        f"d{i // 4}-{i % 4:04d}",
        text=text,
        chunk_index=i % 4,
        contributor=org,
        contributor_type="manufacturer",
        visibility=visibility,
    )


def _ranking(index: BM25KeywordIndex, query: str, who: Identity = ANONYMOUS) -> dict[str, float]:
    return {m.chunk_id: m.score for m in index.search(query, who, 10_000)}


def test_scores_equal_a_reference_bm25() -> None:
    bm25s = pytest.importorskip("bm25s")
    chunks = [_chunk(i, t) for i, t in enumerate(_paragraphs())]
    assert len(chunks) > 100
    ours = BM25KeywordIndex.from_chunks(chunks)
    reference = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    reference.index(
        [tokenize(keyword_text(c)) or ["\x00empty"] for c in chunks], show_progress=False
    )
    for query in QUERIES:
        expected = reference.get_scores(tokenize(query))
        got = ours.scores(tokenize(query))
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert all(_ranking(ours, q) for q in QUERIES[:5])


def _commit(catalog: Catalog, doc: str, chunks: list[Chunk]) -> None:
    catalog.mark_pending(doc, "root", f"{doc}.md", "sha")
    catalog.commit_document(
        doc,
        doc,
        chunks[0].contributor,
        [("public.en", c, tokenize(keyword_text(c))) for c in chunks],
    )


def test_updates_in_place_equal_a_fresh_index(tmp_path: Path, backend_url: str | None) -> None:
    """Ingests, re-ingests and removals, synced one at a time, score like a fresh build."""
    catalog = Catalog.open(tmp_path, backend_url)
    texts = _paragraphs(200)
    docs: dict[str, list[Chunk]] = {}
    for i in range(0, len(texts), 4):
        visibility = "org" if i % 12 == 0 else "public"
        docs.setdefault(f"d{i // 4}", []).extend(
            _chunk(j, texts[j], visibility) for j in range(i, min(i + 4, len(texts)))
        )
    index = BM25KeywordIndex()
    names = sorted(docs)
    rng = np.random.default_rng(0)
    for step, doc in enumerate(names):
        _commit(catalog, doc, docs[doc])
        edited = names[int(rng.integers(0, step + 1))]
        if step % 5 == 4 and docs[edited]:  # a document edited: its chunks replaced
            docs[edited] = [
                Chunk.from_json(c.to_json().replace("doc ", "revised doc ")) for c in docs[edited]
            ]
            _commit(catalog, edited, docs[edited])
        if step % 7 == 6:  # a document removed
            gone = names[int(rng.integers(0, step))]
            catalog.remove_document(gone)
            docs[gone] = []
        index.sync(catalog, catalog.version())
    assert len(index._blocks) <= index.max_blocks + 1, "blocks are merged"
    live = [c for doc in names for c in docs[doc]]
    fresh = BM25KeywordIndex.from_chunks(live)
    assert sorted(index.chunk_ids()) == sorted(c.chunk_id for c in live)
    staff = Identity("u", "meridian-cnc", "staff")
    for query in QUERIES:
        for who in (ANONYMOUS, staff):
            got, want = _ranking(index, query, who), _ranking(fresh, query, who)
            assert got.keys() == want.keys(), query
            for cid, score in want.items():
                assert got[cid] == pytest.approx(score, rel=1e-5)
    term = tokenize("coolant")[0]
    assert index.document_frequency([term], ANONYMOUS) == fresh.document_frequency(
        [term], ANONYMOUS
    )
    catalog.close()


def test_camel_case_names_are_indexed_whole_and_by_their_words() -> None:
    assert tokenize("CPUThrottlingHigh fires") == [
        "cputhrottlinghigh",
        "cpu",
        "throttl",
        "high",
        "fire",
    ]
    assert tokenize("etcdNoLeader")[:2] == ["etcdnolead", "etcd"]
    # Words that are not CamelCase, and identifiers, are unchanged.
    assert tokenize("HX-R20 Spindle IPv6") == ["hx-r20", "hx", "r20", "spindl", "ipv6"]
    index = BM25KeywordIndex.from_chunks(
        [make_chunk("a-0000", text="CPU throttling high: raise the limit."), make_chunk("b-0000")]
    )
    assert [m.chunk_id for m in index.search("CPUThrottlingHigh", ANONYMOUS, 2)] == ["a-0000"]


def test_instructor_material_is_course_material_kept_from_students() -> None:
    """An answer key (course, teachers only) is instructor material; a company's staff-only
    case report is kept from students too, but it answers no exercise."""
    sheet = make_chunk("sheet-0000", kind="course", text="Exercise 4: compute the lead.")
    key = make_chunk(
        "key-0000", kind="course", allowed_roles=("teacher",), text="Exercise 4: 30 m/min."
    )
    case = make_chunk(
        "case-0000",
        kind="case",
        contributor="huaxin-robotics",
        visibility="org",
        allowed_roles=("staff", "admin"),
        text="Warranty failure analysis of the J3 oil seals.",
    )
    index = BM25KeywordIndex.from_chunks([sheet, key, case])
    teacher = Identity("t", "northlake-college", "teacher")
    huaxin_staff = Identity("s", "huaxin-robotics", "staff")
    student = Identity("p", "northlake-college", "student")
    assert index.sees_instructor_material(teacher)
    assert not index.sees_instructor_material(huaxin_staff)
    assert not index.sees_instructor_material(student)
    assert not index.sees_instructor_material(ANONYMOUS)
    # The contributors an identity may know of are those of the chunks it may see.
    known = {"northlake-college", "huaxin-robotics"}
    assert index.visible_values("contributor", huaxin_staff) == known
    assert index.visible_values("contributor", student) == {"northlake-college"}
