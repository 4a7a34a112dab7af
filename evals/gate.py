"""Quality gate: answer quality on two small fixed subsets, compared with a committed baseline.

    python -m evals.gate                    # run both subsets, print figures and the comparison
    python -m evals.gate --subset demo      # only one subset (demo | mtrag)
    python -m evals.gate --write-baseline   # re-select the subsets and write the baseline

`tests/quality/test_quality_gate.py` runs the same code under `make test` and fails when a gated
figure is worse than `tests/quality/baseline.json` by more than one item's worth.

Subsets (fixed: chosen by the SHA-256 of each item's id within strata, see DEMO_STRATA and
MTRAG_STRATA, and recorded by id in the baseline, which is what the test then runs):

- demo: 40 items of `evals/datasets/demo.jsonl` (English and Chinese ask items, multi-turn ones,
  items with wrong facts, procedure and exercise items, out-of-scope and access-restricted ones)
  over a store of `corpora/`.
- mtrag: 32 items of mtrag-dev (`../shared/dev-data/mtrag-dev`, or `$TECHKB_MTRAG_DEV`),
  stratified over answerability class and collection, over a store of 100 of its passages: the
  subset's gold passages, the passages that share most words with each conversation (so the
  store holds near misses, also for the items without a gold passage), then a hash-ordered
  fill. Skipped when the data is absent. Nothing of mtrag-dev but item ids and figures is ever
  written into the repository.

Each subset is asked through the code `techkb eval` uses (`evals.run.answer_items` and
`ItemScorer`, the assistant from `assistant.registry.build_assistant`), with the default settings
(the environment ignored: extractive answerer, OpenVINO embedder), over stores this module
builds as `techkb ingest` does: the test builds them exactly as `python -m evals.gate` does.

Gated figures (`FigureSpec.gated`): lead recall (demo), wrongful-refusal rate, refusal rate of
unanswerable items, clarified-or-refused rate of UNDERSPECIFIED items (mtrag); each may be worse
than the baseline by at most one item (1/n of its items). Leaks must be 0. The other figures
(wrong-fact rate, recall@5, splits by language or class) are reported, not gated.

Regenerating the baseline
-------------------------
When: only after a change that is meant to move answer quality (answerer, retrieval, settings,
datasets) AND whose effect was checked on the FULL dev sets, not on these subsets. Never to
make a failing gate pass: a failing gate is a regression to fix, or, when the full dev sets show
the change is better overall, a trade-off to state in the commit that moves the baseline.

How:

1. Measure the full sets before and after the change (stores built with `techkb ingest`):

       techkb eval evals/datasets/demo.jsonl --store DEMO_STORE --out new \
           --baseline old/report.json
       techkb eval ../shared/dev-data/mtrag-dev/dataset.jsonl --store MTRAG_STORE \
           --out new-mtrag --baseline old-mtrag/report.json

2. `python -m evals.gate` shows which gated figures move on the subsets and which items fail.
3. With mtrag-dev present (without it only the demo section is rewritten, the mtrag section is
   kept), on a tree holding exactly the change measured:

       python -m evals.gate --write-baseline

4. Check `git diff tests/quality/baseline.json` (figures moving as the full runs said) and
   commit it with the change, quoting the full-set figures before and after.

Writing re-selects the subsets by id hash (the same ids unless the datasets changed) and records
the commit and whether the tree had uncommitted changes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import TechkbError
from assistant.settings import Settings, load_settings
from evals.datasets import EvalItem, load_dataset
from evals.run import ItemResult, ItemScorer, answer_items, outcome_of

REPO = Path(__file__).resolve().parents[1]
DEMO_DATASET = REPO / "evals" / "datasets" / "demo.jsonl"
CORPORA = REPO / "corpora"
BASELINE = REPO / "tests" / "quality" / "baseline.json"
MTRAG_ENV = "TECHKB_MTRAG_DEV"
MTRAG_DEFAULT = REPO.parent / "shared" / "dev-data" / "mtrag-dev"
MTRAG_POOL_SIZE = 100  # passages in the mtrag gate's store
MTRAG_MAX_GOLD = 6  # items with more gold passages are left out (they would fill the store)
MTRAG_NEIGHBOURS = 2  # nearest non-gold passages per item (by shared words)
SUBSETS = ("demo", "mtrag")
_EPS = 1e-9


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


# ---------------------------------------------------------------------------------------------
# Figures


def _refused(r: ItemResult) -> bool:
    return outcome_of(r.answer) == "refusal"


def _metric(name: str, lang: str | None = None) -> Callable[[ItemResult], float | None]:
    def value(r: ItemResult) -> float | None:
        v = r.metrics.get(name)
        if lang is not None and r.item.lang != lang:
            return None
        return float(v) if isinstance(v, int | float) else None

    return value


def _when(
    test: Callable[[ItemResult], bool], value: Callable[[ItemResult], bool]
) -> Callable[[ItemResult], float | None]:
    return lambda r: float(value(r)) if test(r) else None


@dataclass(frozen=True)
class FigureSpec:
    """A figure: the mean of a per-item value over the items where it is not None (the sum for
    `zero` figures, which must be 0)."""

    name: str
    per_item: Callable[[ItemResult], float | None]
    higher_is_better: bool
    gated: bool = False
    zero: bool = False

    def bad(self, value: float) -> bool:
        """Whether an item's value counts against the figure."""
        if self.zero:
            return value > 0
        return value < 1 - _EPS if self.higher_is_better else value > _EPS


def _answerable(r: ItemResult) -> bool:
    return r.item.answerable


def _klass(*labels: str) -> Callable[[ItemResult], bool]:
    return lambda r: r.item.answerability in labels


LEAKS = FigureSpec("leaks", _metric("leaks"), False, gated=True, zero=True)

DEMO_FIGURES = (
    FigureSpec("lead_recall", _metric("lead_recall"), True, gated=True),
    FigureSpec("lead_recall[lang=en]", _metric("lead_recall", "en"), True),
    FigureSpec("lead_recall[lang=zh]", _metric("lead_recall", "zh"), True),
    FigureSpec("wrong_fact_rate", _metric("wrong_fact"), False),
    FigureSpec("wrongful_refusal_rate", _when(_answerable, _refused), False, gated=True),
    FigureSpec(
        "wrongful_refusal_rate[lang=en]",
        _when(lambda r: r.item.answerable and r.item.lang == "en", _refused),
        False,
    ),
    FigureSpec(
        "wrongful_refusal_rate[lang=zh]",
        _when(lambda r: r.item.answerable and r.item.lang == "zh", _refused),
        False,
    ),
    FigureSpec(
        "unanswerable_refused_rate",
        _when(lambda r: not r.item.answerable, _refused),
        True,
        gated=True,
    ),
    FigureSpec(
        "refused_rate[out-of-scope]",
        _when(lambda r: demo_kind(r.item) == "out-of-scope", _refused),
        True,
    ),
    FigureSpec(
        "refused_rate[restricted]",
        _when(lambda r: demo_kind(r.item) == "restricted", _refused),
        True,
    ),
    FigureSpec("recall@5", _metric("recall@5"), True),
    LEAKS,
)

MTRAG_FIGURES = (
    FigureSpec(
        "wrongful_refusal_rate", _when(_klass("ANSWERABLE", "PARTIAL"), _refused), False, True
    ),
    FigureSpec("wrongful_refusal_rate[ANSWERABLE]", _when(_klass("ANSWERABLE"), _refused), False),
    FigureSpec("wrongful_refusal_rate[PARTIAL]", _when(_klass("PARTIAL"), _refused), False),
    FigureSpec("unanswerable_refused_rate", _when(_klass("UNANSWERABLE"), _refused), True, True),
    FigureSpec(
        "underspecified_clarified_or_refused_rate",
        _when(_klass("UNDERSPECIFIED"), lambda r: outcome_of(r.answer) != "answer"),
        True,
        True,
    ),
    FigureSpec(
        "underspecified_clarified_rate",
        _when(_klass("UNDERSPECIFIED"), lambda r: outcome_of(r.answer) == "clarification"),
        True,
    ),
    FigureSpec("recall@5", _metric("recall@5"), True),
    LEAKS,
)

FIGURES = {"demo": DEMO_FIGURES, "mtrag": MTRAG_FIGURES}


@dataclass
class Figure:
    value: float | None
    n: int
    bad: list[str]  # ids of the items counting against it

    def to_dict(self, spec: FigureSpec) -> dict[str, Any]:
        return {
            "value": None if self.value is None else round(self.value, 4),
            "n": self.n,
            "better": "higher" if spec.higher_is_better else "lower",
            "gated": spec.gated,
        }


def figure(spec: FigureSpec, results: Sequence[ItemResult]) -> Figure:
    pairs = [(r.item.id, v) for r in results if (v := spec.per_item(r)) is not None]
    values = [v for _, v in pairs]
    if spec.zero:
        value: float | None = float(sum(values))
    else:
        value = sum(values) / len(values) if values else None
    return Figure(value, len(values), [i for i, v in pairs if spec.bad(v)])


@dataclass
class SubsetRun:
    """One subset's answers and figures."""

    name: str
    strata: dict[str, list[str]]
    results: list[ItemResult]
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def specs(self) -> tuple[FigureSpec, ...]:
        return FIGURES[self.name]

    def figures(self) -> dict[str, Figure]:
        return {s.name: figure(s, self.results) for s in self.specs}

    def to_baseline(self) -> dict[str, Any]:
        figs = self.figures()
        bad: dict[str, list[str]] = {}
        for spec in self.specs:
            if "[" not in spec.name:
                for item_id in figs[spec.name].bad:
                    bad.setdefault(item_id, []).append(spec.name)
        return {
            **{k: v for k, v in self.info.items() if not k.endswith("seconds")},
            "ids": [x for ids in self.strata.values() for x in ids],
            "strata": self.strata,
            "figures": {s.name: figs[s.name].to_dict(s) for s in self.specs},
            "items": {
                r.item.id: {"outcome": outcome_of(r.answer), "bad": bad.get(r.item.id, [])}
                for r in self.results
            },
        }


def _strata_ids(chosen: dict[str, list[EvalItem]]) -> dict[str, list[str]]:
    return {name: [i.id for i in items] for name, items in chosen.items()}


def run_demo(
    home: Path | None = None,
    strata: dict[str, list[str]] | None = None,
    embedder: Any = None,
    multilingual: Any = None,
    work: Path | None = None,
) -> SubsetRun:
    """The demo subset over the store at `home` (None: corpora/ ingested into `work`, else a
    temporary folder). `strata` (stratum -> ids, as in the baseline) fixes the items; None
    selects them afresh."""
    started = time.perf_counter()
    items = load_dataset(DEMO_DATASET)
    chosen = by_ids(items, strata) if strata is not None else select(items, DEMO_STRATA)
    flat = [i for group in chosen.values() for i in group]
    embedder = embedder or default_embedder()
    with tempfile.TemporaryDirectory(prefix="techkb-gate-demo-") as tmp:
        info: dict[str, Any] = {"dataset": "evals/datasets/demo.jsonl", "store": "corpora/"}
        if home is None:
            home = (work or Path(tmp)) / "store"
            info["chunks"] = build_gate_store(home, [CORPORA], embedder, multilingual)
            info["ingest_seconds"] = round(time.perf_counter() - started, 1)
        asked = time.perf_counter()
        results = ask_items(home, flat, embedder)
        info["ask_seconds"] = round(time.perf_counter() - asked, 1)
    return SubsetRun("demo", _strata_ids(chosen), results, time.perf_counter() - started, info)


def run_mtrag(
    root: Path,
    work: Path | None = None,
    strata: dict[str, list[str]] | None = None,
    embedder: Any = None,
    multilingual: Any = None,
) -> SubsetRun:
    """The mtrag subset: its passages copied into `work` (None: a temporary folder), ingested
    into a store there, and the items asked."""
    started = time.perf_counter()
    items = load_dataset(root / "dataset.jsonl")
    chosen = by_ids(items, strata) if strata is not None else select(items, MTRAG_STRATA)
    flat = [i for group in chosen.values() for i in group]
    passages = mtrag_pool(root, flat)
    embedder = embedder or default_embedder()
    with tempfile.TemporaryDirectory(prefix="techkb-gate-mtrag-") as tmp:
        base = work or Path(tmp)
        pool = base / "pool"
        for name in passages:
            target = pool / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / "pool" / name, target)
        home = base / "store"
        chunks = build_gate_store(home, [pool], embedder, multilingual)
        ingested = time.perf_counter()
        results = ask_items(home, flat, embedder)
    info = {
        "dataset": f"../shared/dev-data/mtrag-dev/dataset.jsonl (or ${MTRAG_ENV})",
        "store": f"{len(passages)} passages of pool/",
        "chunks": chunks,
        "ingest_seconds": round(ingested - started, 1),
        "ask_seconds": round(time.perf_counter() - ingested, 1),
    }
    return SubsetRun("mtrag", _strata_ids(chosen), results, time.perf_counter() - started, info)


# ---------------------------------------------------------------------------------------------
# Baseline and comparison


def load_baseline(path: Path = BASELINE) -> dict[str, Any]:
    """The committed baseline.

    Raises:
        GateError: missing or unreadable.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise GateError(f"{path}: cannot read the baseline ({e}); see evals/gate.py") from e
    if not isinstance(data, dict) or not isinstance(data.get("subsets"), dict):
        raise GateError(f"{path}: not a gate baseline (no 'subsets')")
    return data


def baseline_strata(baseline: dict[str, Any] | None, subset: str) -> dict[str, list[str]] | None:
    """The subset's stratum -> ids in the baseline, None when it has none."""
    section = (baseline or {}).get("subsets", {}).get(subset)
    return dict(section["strata"]) if section and section.get("strata") else None


@dataclass
class Check:
    """A gated figure against the baseline."""

    subset: str
    figure: str
    old: float | None
    new: float | None
    n: int
    tolerance: float
    better: str
    passed: bool
    failing: list[str]
    newly_failing: list[str]
    outcomes: dict[str, str]

    def message(self) -> str:
        def fmt(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.3f}"

        def ids(xs: list[str]) -> str:
            return ", ".join(f"{x} ({self.outcomes.get(x, '?')})" for x in xs) or "none"

        if self.figure == "leaks":
            head = f"{self.subset}: leaks {fmt(self.new)} (must be 0; baseline {fmt(self.old)})"
        else:
            head = (
                f"{self.subset}: {self.figure} {fmt(self.new)} vs baseline {fmt(self.old)} "
                f"({self.better} is better; n={self.n}, tolerance {self.tolerance:.3f} = one item)"
            )
        return (
            f"{head}\n  newly failing: {ids(self.newly_failing)}\n"
            f"  all failing: {ids(self.failing)}"
        )


def check(section: dict[str, Any], run: SubsetRun) -> list[Check]:
    """Every gated figure of `run` against the baseline `section` of its subset."""
    figs = run.figures()
    outcomes = {r.item.id: outcome_of(r.answer) for r in run.results}
    old_items = section.get("items", {})
    out = []
    for spec in run.specs:
        if not spec.gated:
            continue
        new = figs[spec.name]
        old = section.get("figures", {}).get(spec.name, {}).get("value")
        tolerance = 1 / new.n if new.n else 0.0
        if spec.zero:
            passed = not new.value
        elif old is None or new.value is None:
            passed = True
        elif spec.higher_is_better:
            passed = new.value >= old - tolerance - _EPS
        else:
            passed = new.value <= old + tolerance + _EPS
        newly = [
            x for x in new.bad if spec.name not in old_items.get(x, {}).get("bad", [spec.name])
        ]
        out.append(
            Check(
                run.name,
                spec.name,
                old,
                new.value,
                new.n,
                tolerance,
                "higher" if spec.higher_is_better else "lower",
                passed,
                new.bad,
                newly,
                outcomes,
            )
        )
    return out


def outcome_changes(section: dict[str, Any], run: SubsetRun) -> list[str]:
    """`id: old -> new` for the items whose outcome or failed figures differ from the baseline."""
    old_items = section.get("items", {})
    new_items = run.to_baseline()["items"]
    out = []
    for item_id, new in new_items.items():
        old = old_items.get(item_id)
        if old is None:
            out.append(f"{item_id}: not in the baseline -> {new['outcome']} {new['bad']}")
        elif old != new:
            out.append(f"{item_id}: {old['outcome']} {old['bad']} -> {new['outcome']} {new['bad']}")
    return out


def _git(*args: str) -> str | None:
    """git's output in the repository, None when git or the repository is not there."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def baseline_document(runs: Sequence[SubsetRun], old: dict[str, Any] | None) -> dict[str, Any]:
    """The baseline JSON: when and at which commit it was measured, and each subset's ids,
    figures and per-item outcomes (subsets not run are kept from `old`)."""
    settings = load_settings(environ={})
    commit = _git("rev-parse", "HEAD")
    changes = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    subsets = dict((old or {}).get("subsets", {}))
    for run in runs:
        subsets[run.name] = run.to_baseline()
    return {
        "about": "Quality gate baseline: written by `python -m evals.gate --write-baseline`, "
        "checked by tests/quality/test_quality_gate.py. Regenerate only as evals/gate.py says.",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit,
        "uncommitted_changes": None if changes is None else bool(changes),
        "settings": {
            "defaults": "load_settings(environ={})",
            "answerer": settings.llm.backend,
            "embedder": settings.embedder.backend,
        },
        "subsets": {name: subsets[name] for name in SUBSETS if name in subsets},
    }


# ---------------------------------------------------------------------------------------------
# Command line


def _table(run: SubsetRun, section: dict[str, Any] | None) -> list[str]:
    figs = run.figures()
    phases = ", ".join(
        f"{k.removesuffix('_seconds')} {run.info[k]:.0f} s"
        for k in ("ingest_seconds", "ask_seconds")
        if k in run.info
    )
    lines = [f"{run.name}: {len(run.results)} items, {run.seconds:.0f} s ({phases})"]
    old_figs = (section or {}).get("figures", {})
    for spec in run.specs:
        f = figs[spec.name]
        new = "n/a" if f.value is None else f"{f.value:.3f}"
        old = old_figs.get(spec.name, {}).get("value")
        was = "" if old is None else f"  (baseline {old:.3f})"
        mark = "*" if spec.gated else " "
        lines.append(f" {mark} {spec.name:<42} {new:>6}  n={f.n:<3}{was}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """`python -m evals.gate`: run the subsets, print figures, compare with the baseline (exit
    1 on a regression), or with --write-baseline re-select the subsets and write the baseline."""
    parser = argparse.ArgumentParser(
        prog="python -m evals.gate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--write-baseline", action="store_true")
    parser.add_argument("--subset", choices=SUBSETS, action="append", default=None)
    parser.add_argument("--baseline", type=Path, default=BASELINE)
    parser.add_argument("--mtrag", type=Path, default=None, help=f"mtrag-dev (${MTRAG_ENV})")
    args = parser.parse_args(argv)
    if args.mtrag is not None:
        os.environ[MTRAG_ENV] = str(args.mtrag)
    subsets = args.subset or list(SUBSETS)
    out = sys.stdout
    old: dict[str, Any] | None = None
    if args.baseline.is_file():
        old = load_baseline(args.baseline)
    elif not args.write_baseline:
        out.write(f"no baseline at {args.baseline}: figures only\n")
    runs: list[SubsetRun] = []
    try:
        for name in subsets:
            strata = None if args.write_baseline else baseline_strata(old, name)
            if name == "demo":
                runs.append(run_demo(strata=strata))
                continue
            root = mtrag_root()
            if root is None:
                out.write(f"mtrag: skipped, no mtrag-dev at {mtrag_location()} (${MTRAG_ENV})\n")
                continue
            runs.append(run_mtrag(root, strata=strata))
    except TechkbError as e:
        sys.stderr.write(f"gate: {e}\n")
        return 2
    failed = False
    for run in runs:
        section = (old or {}).get("subsets", {}).get(run.name)
        out.write("\n".join(_table(run, section)) + "\n")
        if section is not None:
            changes = outcome_changes(section, run)
            out.write(f"  items changed since the baseline: {len(changes)}\n")
            out.writelines(f"    {line}\n" for line in changes)
        if section is not None and not args.write_baseline:
            for c in check(section, run):
                failed |= not c.passed
                if not c.passed:
                    out.write("REGRESSION " + c.message() + "\n")
    if args.write_baseline:
        doc = baseline_document(runs, old)
        args.baseline.parent.mkdir(parents=True, exist_ok=True)
        args.baseline.write_text(
            json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        out.write(f"wrote {args.baseline} ({', '.join(r.name for r in runs)})\n")
        return 0
    if old is not None:
        out.write("gate: " + ("REGRESSION (see above)\n" if failed else "ok\n"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
