"""Quality gate, part one: which items each subset holds, and the stores they are asked over.

The gate's paths and mtrag-dev constants, GateError, the strata (DEMO_STRATA, MTRAG_STRATA) and
the selection by id hash (`select`, `by_ids`), where mtrag-dev is found and which of its passages
the mtrag store holds (`mtrag_pool`), and the store building and asking as `techkb ingest` and
`techkb eval` do them (`build_gate_store`, `ask_items`). How the gate works: evals/gate.py.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import TechkbError
from assistant.settings import Settings, load_settings
from evals.datasets import EvalItem
from evals.run import ItemResult, ItemScorer, answer_items

REPO = Path(__file__).resolve().parents[1]
DEMO_DATASET = REPO / "evals" / "datasets" / "demo.jsonl"
CORPORA = REPO / "corpora"
MTRAG_ENV = "TECHKB_MTRAG_DEV"
MTRAG_DEFAULT = REPO.parent / "shared" / "dev-data" / "mtrag-dev"
MTRAG_POOL_SIZE = 100  # passages in the mtrag gate's store
MTRAG_MAX_GOLD = 6  # items with more gold passages are left out (they would fill the store)
MTRAG_NEIGHBOURS = 2  # nearest non-gold passages per item (by shared words)
SUBSETS = ("demo", "mtrag")


class GateError(TechkbError):
    """The gate cannot run: data missing, a baseline id gone, a store that failed to build."""


# ---------------------------------------------------------------------------------------------
# Subsets


@dataclass(frozen=True)
class Stratum:
    """`count` items passing `test`, those with the smallest SHA-256 of their id."""

    name: str
    count: int
    test: Callable[[EvalItem], bool]


def id_hash(item_id: str) -> str:
    return hashlib.sha256(item_id.encode("utf-8")).hexdigest()


def demo_kind(item: EvalItem) -> str:
    """restricted | out-of-scope | the mode (answerable items)."""
    if item.restricted_sources:
        return "restricted"
    if not item.answerable:
        return "out-of-scope"
    return item.mode


def _demo(kind: str, lang: str | None = None, multi: bool | None = None) -> Callable[..., bool]:
    def test(item: EvalItem) -> bool:
        return (
            demo_kind(item) == kind
            and (lang is None or item.lang == lang)
            and (multi is None or bool(item.history) == multi)
        )

    return test


DEMO_STRATA = (
    Stratum("restricted en", 4, _demo("restricted", "en")),
    Stratum("restricted zh", 2, _demo("restricted", "zh")),
    Stratum("out-of-scope en", 4, _demo("out-of-scope", "en")),
    Stratum("out-of-scope zh", 2, _demo("out-of-scope", "zh")),
    Stratum("ask, wrong facts", 3, lambda i: _demo("ask")(i) and bool(i.wrong_facts)),
    Stratum("ask en multi-turn", 2, _demo("ask", "en", True)),
    Stratum("ask zh multi-turn", 2, _demo("ask", "zh", True)),
    Stratum("ask en", 10, _demo("ask", "en")),
    Stratum("ask zh", 5, _demo("ask", "zh")),
    Stratum("procedure en", 3, _demo("procedure", "en")),
    Stratum("procedure zh", 1, _demo("procedure", "zh")),
    Stratum("exercise en", 1, _demo("exercise", "en")),
    Stratum("exercise zh", 1, _demo("exercise", "zh")),
)


def _mtrag(label: str, collection: str | None = None) -> Callable[[EvalItem], bool]:
    def test(item: EvalItem) -> bool:
        held = item.gold_contributors[0] if item.gold_contributors else "none"
        return (
            item.answerability == label
            and (collection is None or held == collection)
            and len(item.gold_sources) <= MTRAG_MAX_GOLD
        )

    return test


MTRAG_STRATA = (
    Stratum("ANSWERABLE clapnq", 6, _mtrag("ANSWERABLE", "clapnq")),
    Stratum("ANSWERABLE fiqa", 5, _mtrag("ANSWERABLE", "fiqa")),
    Stratum("PARTIAL clapnq", 4, _mtrag("PARTIAL", "clapnq")),
    Stratum("PARTIAL fiqa", 2, _mtrag("PARTIAL", "fiqa")),
    Stratum("UNANSWERABLE", 8, _mtrag("UNANSWERABLE")),
    Stratum("UNDERSPECIFIED clapnq", 4, _mtrag("UNDERSPECIFIED", "clapnq")),
    Stratum("UNDERSPECIFIED no gold", 3, _mtrag("UNDERSPECIFIED", "none")),
)


def select(items: Sequence[EvalItem], strata: Sequence[Stratum]) -> dict[str, list[EvalItem]]:
    """Stratum name -> its items: in stratum order, each takes the items passing its test that
    no earlier stratum took, smallest id hash first.

    Raises:
        GateError: a stratum has fewer items than it asks for.
    """
    taken: set[str] = set()
    out: dict[str, list[EvalItem]] = {}
    for stratum in strata:
        pool = sorted(
            (i for i in items if i.id not in taken and stratum.test(i)), key=lambda i: id_hash(i.id)
        )
        if len(pool) < stratum.count:
            raise GateError(
                f"stratum {stratum.name!r} wants {stratum.count} items, the dataset has {len(pool)}"
            )
        out[stratum.name] = pool[: stratum.count]
        taken.update(i.id for i in out[stratum.name])
    return out


def by_ids(items: Sequence[EvalItem], strata: dict[str, list[str]]) -> dict[str, list[EvalItem]]:
    """The baseline's subset (stratum name -> ids) as items.

    Raises:
        GateError: an id is no longer in the dataset.
    """
    index = {i.id: i for i in items}
    missing = [x for ids in strata.values() for x in ids if x not in index]
    if missing:
        raise GateError(
            f"baseline items no longer in the dataset: {', '.join(missing[:10])}"
            f"{' …' if len(missing) > 10 else ''}; regenerate the baseline (evals/gate.py)"
        )
    return {name: [index[x] for x in ids] for name, ids in strata.items()}


def mtrag_location() -> Path:
    """Where mtrag-dev is looked for: `$TECHKB_MTRAG_DEV`, else ../shared/dev-data/mtrag-dev."""
    env = os.environ.get(MTRAG_ENV)
    return Path(env).expanduser() if env else MTRAG_DEFAULT


def mtrag_root() -> Path | None:
    """The mtrag-dev folder (with dataset.jsonl and pool/), or None when it is absent."""
    root = mtrag_location()
    if (root / "dataset.jsonl").is_file() and (root / "pool").is_dir():
        return root
    return None


_WORD = re.compile(r"[a-z0-9]{3,}")
_STOP_WORDS = (
    "the and for are but not you your with this that have has had was were what when where "
    "which who how why can could would should will does did from they them their there then "
    "than about into out its it's also just more some any all one get got like know want need "
    "use used using make made much many very well yes thanks thank please tell"
)
_STOP = frozenset(_STOP_WORDS.split())


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def mtrag_pool(root: Path, items: Sequence[EvalItem], size: int = MTRAG_POOL_SIZE) -> list[str]:
    """The passages (paths under pool/) of the mtrag gate's store: every gold passage of the
    items; then, round by round, each item's next nearest passage by shared words with its
    conversation's user turns (idf-weighted), up to MTRAG_NEIGHBOURS each; then passages by
    the hash of their name, up to `size` in all.

    Raises:
        GateError: a gold passage is not in the pool.
    """
    pool = root / "pool"
    names = sorted(p.relative_to(pool).as_posix() for p in pool.glob("*/*.txt"))
    known = set(names)
    chosen = dict.fromkeys(s for i in items for s in i.gold_sources)
    missing = [s for s in chosen if s not in known]
    if missing:
        raise GateError(f"{pool}: gold passages missing: {', '.join(missing[:5])}")
    words = {n: _words((pool / n).read_text(encoding="utf-8", errors="replace")) for n in names}
    df = Counter(w for ws in words.values() for w in ws)
    idf = {w: math.log(len(names) / c) for w, c in df.items()}
    ranked: list[list[str]] = []
    for item in sorted(items, key=lambda i: id_hash(i.id)):
        asked = " ".join(t.content for t in item.history if t.role == "user") + " " + item.question
        query = _words(asked)
        scores = {n: sum(idf[w] for w in query & ws) for n, ws in words.items()}
        order = sorted((n for n in names if scores[n] > 0), key=lambda n: (-scores[n], n))
        ranked.append([n for n in order if n not in item.gold_sources])
    for _ in range(MTRAG_NEIGHBOURS):
        for order in ranked:
            if len(chosen) >= size:
                break
            fresh = next((n for n in order if n not in chosen), None)
            if fresh is not None:
                chosen[fresh] = None
    for name in sorted(names, key=id_hash):
        if len(chosen) >= size:
            break
        chosen.setdefault(name, None)
    return sorted(chosen)


# ---------------------------------------------------------------------------------------------
# Running


def gate_settings(home: Path) -> Settings:
    """Default settings over `home`, the environment ignored."""
    return load_settings({"paths": {"home": home}}, environ={})


def build_gate_store(
    home: Path, roots: Sequence[Path], embedder: Any = None, multilingual: Any = None
) -> int:
    """Ingest `roots` into a store at `home` (what `techkb ingest` does); returns the chunks.

    Raises:
        GateError: a file failed to ingest.
    """
    from assistant.registry import build_embedder, build_multilingual_embedder, build_store
    from ingestion.pipeline import Ingester

    settings = gate_settings(home)
    store = build_store(settings)
    try:
        ingester = Ingester(
            store,
            embedder or build_embedder(settings),
            settings.ingestion,
            progress=False,
            multilingual=multilingual or build_multilingual_embedder(settings),
        )
        report = ingester.ingest(list(roots))
    finally:
        store.close()
    if report.failed:
        raise GateError(f"ingest failed: {report.failed[:3]}")
    return report.chunks


def default_embedder() -> Any:
    """The embedder the default settings name (one model for ingest and asks)."""
    from assistant.registry import build_embedder

    return build_embedder(load_settings(environ={}))


def ask_items(home: Path, items: Sequence[EvalItem], embedder: Any = None) -> list[ItemResult]:
    """Every item asked and scored as `techkb eval` does (no ragas, no attribution)."""
    from assistant.registry import build_assistant, build_store

    settings = gate_settings(home)
    store = build_store(settings)
    try:
        assistant = build_assistant(settings, store, embedder)
        return answer_items(assistant, items, ItemScorer(store, None, None))
    finally:
        store.close()
