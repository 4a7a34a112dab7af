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
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.errors import TechkbError
from evals.datasets import EvalItem, load_dataset
from evals.gate_figures import (
    BASELINE,
    DEMO_FIGURES,
    FIGURES,
    LEAKS,
    MTRAG_FIGURES,
    Check,
    Figure,
    FigureSpec,
    SubsetRun,
    baseline_document,
    baseline_strata,
    check,
    figure,
    load_baseline,
    outcome_changes,
)
from evals.gate_subsets import (
    CORPORA,
    DEMO_DATASET,
    DEMO_STRATA,
    MTRAG_DEFAULT,
    MTRAG_ENV,
    MTRAG_MAX_GOLD,
    MTRAG_NEIGHBOURS,
    MTRAG_POOL_SIZE,
    MTRAG_STRATA,
    REPO,
    SUBSETS,
    GateError,
    Stratum,
    ask_items,
    build_gate_store,
    by_ids,
    default_embedder,
    demo_kind,
    gate_settings,
    id_hash,
    mtrag_location,
    mtrag_pool,
    mtrag_root,
    select,
)

__all__ = [
    "BASELINE",
    "CORPORA",
    "DEMO_DATASET",
    "DEMO_FIGURES",
    "DEMO_STRATA",
    "FIGURES",
    "LEAKS",
    "MTRAG_DEFAULT",
    "MTRAG_ENV",
    "MTRAG_FIGURES",
    "MTRAG_MAX_GOLD",
    "MTRAG_NEIGHBOURS",
    "MTRAG_POOL_SIZE",
    "MTRAG_STRATA",
    "REPO",
    "SUBSETS",
    "Check",
    "Figure",
    "FigureSpec",
    "GateError",
    "Stratum",
    "SubsetRun",
    "ask_items",
    "baseline_document",
    "baseline_strata",
    "build_gate_store",
    "by_ids",
    "check",
    "default_embedder",
    "demo_kind",
    "figure",
    "gate_settings",
    "id_hash",
    "load_baseline",
    "main",
    "mtrag_location",
    "mtrag_pool",
    "mtrag_root",
    "outcome_changes",
    "run_demo",
    "run_mtrag",
    "select",
]


# ---------------------------------------------------------------------------------------------
# Subset runs


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
