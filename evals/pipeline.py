"""One eval run from settings to report files: what `techkb eval` does (its one entry point)."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError
from assistant.settings import Settings
from evals.attribution import (
    ITEM_METRICS,
    ContributorGame,
    attribution_section,
    contributor_values,
    replay_assistant,
)
from evals.datasets import HALVES, EvalItem, half_of, item_matches, load_dataset, parse_where
from evals.judge import Judge
from evals.metrics.answer import RagasScorer
from evals.replay import CachedEmbedder, cached_texts
from evals.report import EvalReport, write_reports
from evals.run import ItemResult, ItemScorer, answer_items, compare, summarize, top_chunk_answer

logger = logging.getLogger(__name__)

LATEST = Path("evals") / "latest"  # under the store home: what the web dashboard shows


@dataclass
class EvalOptions:
    """How to run an eval (the `techkb eval` flags)."""

    judge: bool = False
    baseline: Path | None = None
    only: str | None = None
    limit: int | None = None
    attribution: bool = True
    attribution_metric: str = "gold_cited"
    permutations: int = 200
    seed: int = 0
    publish: bool = True
    top_chunk: bool = False
    where: tuple[str, ...] = ()  # FIELD=VALUE filters on dataset fields, all must hold
    half: str | None = None  # tune | report: the fixed half of the items by id hash
    progress: bool | None = None  # None: a bar when stderr is a terminal


def select_items(
    items: list[EvalItem],
    only: str | None,
    limit: int | None,
    where: Sequence[str] = (),
    half: str | None = None,
) -> list[EvalItem]:
    """The items to run: those in the fixed `half` (tune | report, by id hash), matching every
    `where` filter (FIELD=VALUE on dataset fields) and with the tag, mode, persona, language or
    id `only`; at most `limit` of them.

    Raises:
        ConfigError: an unknown half, a malformed filter, or nothing left to evaluate.
    """
    if half is not None:
        if half not in HALVES:
            raise ConfigError(f"unknown half {half!r}; available: {', '.join(HALVES)}")
        items = [i for i in items if half_of(i.id) == half]
    for name, value in parse_where(where):
        items = [i for i in items if item_matches(i, name, value)]
    if only:
        items = [i for i in items if only in i.tags or only in (i.mode, i.persona, i.lang, i.id)]
    if limit is not None:
        items = items[: max(limit, 0)]
    if not items:
        raise ConfigError(
            f"no eval items left (half={half!r}, where={list(where)}, only={only!r}, limit={limit})"
        )
    return items


def _bar(total: int | None, desc: str, enabled: bool | None) -> Any:
    """A tqdm bar on stderr (None: only when stderr is a terminal)."""
    import sys

    from tqdm import tqdm

    disable = (not sys.stderr.isatty()) if enabled is None else not enabled
    return tqdm(total=total, desc=desc, unit="it", disable=disable, file=sys.stderr)


def load_baseline(path: Path) -> dict[str, Any]:
    """The summary of an earlier report.json.

    Raises:
        ConfigError: unreadable, or not a report.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: cannot read baseline report: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("summary"), dict):
        raise ConfigError(f"{path}: not an eval report (no 'summary' object)")
    return data["summary"]


def run_eval(settings: Settings, dataset: Path, out: Path, options: EvalOptions) -> EvalReport:
    """Run `dataset` against the store in `settings`, write the reports into `out`.

    Raises:
        ConfigError: bad dataset, metric name, baseline or judge settings.
        BackendError: the judge cannot be reached.
        TechkbError: the store cannot be opened.
    """
    from assistant.registry import build_assistant, build_store

    if options.attribution_metric not in ITEM_METRICS:
        raise ConfigError(
            f"unknown attribution metric {options.attribution_metric!r}; "
            f"available: {', '.join(ITEM_METRICS)}"
        )
    items = select_items(
        load_dataset(dataset), options.only, options.limit, options.where, options.half
    )
    baseline = load_baseline(options.baseline) if options.baseline else None
    judge = None
    if options.judge:
        judge = Judge(settings.llm)
        judge.check()
    started = time.perf_counter()
    store = build_store(settings)
    try:
        assistant = build_assistant(settings, store)
        retriever = assistant.retriever
        sentence_model = retriever.multilingual or retriever.embedder
        ragas = RagasScorer(
            retriever.embedder, retriever.multilingual, judge.llm if judge else None
        )
        scorer = ItemScorer(store, cached_texts(sentence_model.embed_documents), ragas, judge)
        replay = replay_assistant(assistant, store)  # caches query vectors for both passes
        embedders = [e for e in (retriever.embedder, retriever.multilingual) if e is not None]
        for e in embedders:
            if isinstance(e, CachedEmbedder):
                e.fresh = True
        with _bar(len(items), "eval items", options.progress) as bar:
            results = answer_items(
                assistant,
                items,
                scorer,
                progress=bar.update,
                transform=top_chunk_answer if options.top_chunk else None,
            )
        for e in embedders:
            if isinstance(e, CachedEmbedder):
                e.fresh = False
        summary = summarize(results)
        attribution = None
        if options.attribution:
            attribution = _attribution(assistant, store, items, results, options, replay)
            summary["attribution_seconds"] = attribution.pop("seconds")
    finally:
        store.close()
    summary["seconds"] = round(time.perf_counter() - started, 1)
    run_settings = _run_settings(settings, dataset, options, judge, ragas.names)
    report = EvalReport(
        summary=summary,
        items=[r.to_dict() for r in results],
        attribution=attribution,
        settings=run_settings,
        comparison=compare(summary, baseline) if baseline is not None else None,
    )
    report.files = write_reports(report, out)
    if options.publish:
        report.files += publish_latest(out, settings.paths.home)
    return report


def _attribution(
    assistant: Any,
    store: Any,
    items: list[EvalItem],
    results: list[ItemResult],
    options: EvalOptions,
    replay: Any,
) -> dict[str, Any]:
    started = time.perf_counter()
    metric = ITEM_METRICS[options.attribution_metric]
    game = ContributorGame(
        assistant, store, items, metric, metric_name=options.attribution_metric, replay=replay
    )
    n = len(game.contributors)
    total = 2**n if n <= 10 else None
    with _bar(total, "contributor coalitions", options.progress) as bar:
        game.on_evaluation = bar.update
        result, loo, value_all, value_none = contributor_values(
            game, permutations=options.permutations, seed=options.seed
        )
    counts = Counter(c["contributor"] for r in results for c in r.to_dict()["citations"])
    section = attribution_section(
        options.attribution_metric, result, loo, value_all, value_none, dict(counts)
    )
    replayed = getattr(game.replay, "answerer", None)
    section["answerer_calls"] = getattr(replayed, "calls", None)
    section["answers_skipped"] = getattr(replayed, "skipped", None)
    section["asks"] = game.asks
    section["seconds"] = round(time.perf_counter() - started, 1)
    logger.info(
        "contributor values: %d coalitions, %d asks, %s answerer calls in %.1f s",
        result.evaluations,
        game.asks,
        section["answerer_calls"],
        section["seconds"],
    )
    return section


def _run_settings(
    settings: Settings,
    dataset: Path,
    options: EvalOptions,
    judge: Judge | None,
    ragas_metrics: list[str],
) -> dict[str, Any]:
    return {
        "dataset": str(dataset),
        "store": str(settings.paths.home),
        "answerer": "top-chunk" if options.top_chunk else settings.llm.backend,
        "retrieval": settings.retrieval.model_dump(),
        "embedder": settings.embedder.model_dump(mode="json"),
        "judge": {"base_url": judge.base_url, "model": judge.model} if judge else None,
        "ragas_metrics": ragas_metrics,
        "only": options.only,
        "where": list(options.where),
        "half": options.half,
        "limit": options.limit,
        "attribution_metric": options.attribution_metric if options.attribution else None,
        "baseline": str(options.baseline) if options.baseline else None,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def publish_latest(out: Path, home: Path) -> list[Path]:
    """Copy report.json, report.md, report.html and plots/*.png to `<home>/evals/latest/`."""
    target = home / LATEST
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "plots").mkdir(parents=True)
    for name in ("report.json", "report.md", "report.html"):
        if (out / name).is_file():
            shutil.copy2(out / name, tmp / name)
    for png in sorted((out / "plots").glob("*.png")):
        shutil.copy2(png, tmp / "plots" / png.name)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return [target / "report.json"]
