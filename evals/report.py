"""Report files of an eval run: report.json, report.md (tables), report.html (plots embedded)."""

from __future__ import annotations

import base64
import html
import json
import logging
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals import plots

logger = logging.getLogger(__name__)

GROUPINGS = (
    ("persona", "user type"),
    ("mode", "mode"),
    ("lang", "language"),
    ("multi_turn", "multi-turn slice"),
    ("answerability", "answerability class"),
)
# Shown in the breakdowns besides plots.BREAKDOWN_METRICS when some item has them.
EXTRA_BREAKDOWN_METRICS = ("outcome_fits", "lead_recall", "key_fact_recall")
# (per-item metric, summary name) of the key-fact table, split by these item keys.
FACT_COLUMNS = (
    ("lead_recall", "lead_recall"),
    ("key_fact_recall", "key_fact_recall"),
    ("wrong_fact", "wrong_fact_rate"),
)
FACT_SPLITS = (("lang", "language"), ("mode", "mode"))
# The figure that matters for each answerability class (its summary key's prefix).
CLASS_FIGURE = {
    "ANSWERABLE": "wrongful_refusal_rate",
    "PARTIAL": "wrongful_refusal_rate",
    "UNANSWERABLE": "refusal_rate",
    "UNDERSPECIFIED": "clarify_or_refuse_rate",
}
# Summary keys DESIGN.md promises, shown first.
HEADLINE = (
    "recall@5",
    "hit@5",
    "mrr@10",
    "ndcg@10",
    "citation_precision",
    "citation_recall",
    "citation_support",
    "refusal_precision",
    "refusal_recall",
    "wrongful_refusal_rate",
    "attribution_precision",
    "attribution_recall",
    "leaks",
    "latency_p50_ms",
    "latency_p95_ms",
)


@dataclass
class EvalReport:
    """What a run produced; `files` are the paths written."""

    summary: dict[str, Any]
    items: list[dict[str, Any]]
    attribution: dict[str, Any] | None
    settings: dict[str, Any]
    comparison: list[dict[str, Any]] | None = None
    files: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """report.json (DESIGN.md): summary, items, attribution, settings."""
        return {
            "summary": self.summary,
            "items": self.items,
            "attribution": self.attribution,
            "settings": self.settings,
        }


def breakdown(
    items: Sequence[Mapping[str, Any]], key: str, metrics: Sequence[str]
) -> dict[str, dict[str, float | None]]:
    """Mean of each metric per value of `key` (persona, mode, lang), with the item count `n`."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for item in items:
        groups.setdefault(str(item.get(key) or "unknown"), []).append(item)
    out: dict[str, dict[str, float | None]] = {}
    for name in sorted(groups):
        rows = groups[name]
        stats: dict[str, float | None] = {"n": float(len(rows))}
        for metric in metrics:
            values = [
                float(r["metrics"][metric])
                for r in rows
                if isinstance(r["metrics"].get(metric), int | float)
            ]
            stats[metric] = round(statistics.fmean(values), 4) if values else None
        out[name] = stats
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _summary_rows(summary: Mapping[str, Any]) -> list[list[Any]]:
    """Summary keys, contract ones first; split figures (`name[...]`) have their own tables."""
    rest = sorted(k for k in summary if k not in HEADLINE and not k.endswith("]"))
    return [[k, summary[k]] for k in [k for k in HEADLINE if k in summary] + rest]


def groupings(items: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """The breakdowns that apply: item keys (with labels) some item has a value for."""
    return [(k, label) for k, label in GROUPINGS if any(i.get(k) for i in items)]


def breakdown_metrics(items: Sequence[Mapping[str, Any]]) -> list[str]:
    """Metrics of the breakdown tables and plots: the usual ones, plus those items carry."""
    extra = [m for m in EXTRA_BREAKDOWN_METRICS if any(m in i["metrics"] for i in items)]
    return [*plots.BREAKDOWN_METRICS, *extra]


def _breakdown_rows(items: Sequence[Mapping[str, Any]], key: str) -> tuple[list[str], list[Any]]:
    metrics = breakdown_metrics(items)
    groups = breakdown(items, key, metrics)
    rows = [[g, int(s["n"] or 0), *(s[m] for m in metrics)] for g, s in groups.items()]
    return ["n", *metrics], rows


def class_rows(items: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """Per answerability class: n, shares answered / refused / clarified, and its figure."""
    rows = []
    for label, figure in CLASS_FIGURE.items():
        outcomes = [
            i.get("outcome") or _outcome(i) for i in items if i.get("answerability") == label
        ]
        if not outcomes:
            continue
        n = len(outcomes)
        shares = {
            o: sum(x == o for x in outcomes) / n for o in ("answer", "refusal", "clarification")
        }
        value = shares["refusal"] + (shares["clarification"] if label == "UNDERSPECIFIED" else 0)
        rows.append(
            [label, n, shares["answer"], shares["refusal"], shares["clarification"], figure, value]
        )
    return rows


def _outcome(item: Mapping[str, Any]) -> str:
    return "refusal" if item.get("refused") else "answer"


_CLASS_HEADERS = ("class", "n", "answered", "refused", "clarified", "figure", "value")


def fact_rows(items: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """Lead recall, key-fact recall and wrong-fact rate: all items, then by language and mode.

    Each figure is the mean over the group's items that carry its metric; `n` counts items with
    key facts or wrong facts. Empty when no item has either.
    """
    names = [m for m, _ in FACT_COLUMNS]
    scored = [i for i in items if any(m in i["metrics"] for m in names)]
    if not scored:
        return []
    groups: list[tuple[str, list[Mapping[str, Any]]]] = [("all", scored)]
    for key, label in FACT_SPLITS:
        values = sorted({str(i.get(key) or "unknown") for i in scored})
        groups += [
            (f"{label} {v}", [i for i in scored if str(i.get(key) or "unknown") == v])
            for v in values
        ]
    rows = []
    for name, group in groups:
        row: list[Any] = [name, len(group)]
        for metric in names:
            values_ = [float(i["metrics"][metric]) for i in group if metric in i["metrics"]]
            row.append(round(statistics.fmean(values_), 4) if values_ else None)
        rows.append(row)
    return rows


_FACT_HEADERS = ("items", "n", *(name for _, name in FACT_COLUMNS))


def _attribution_rows(attribution: Mapping[str, Any]) -> list[list[Any]]:
    contributors = attribution["contributors"]
    return [
        [
            cid,
            c["citations"],
            c["share"],
            c["leave_one_out"],
            c["shapley"],
            c.get("shapley_stderr", 0.0),
        ]
        for cid, c in sorted(contributors.items(), key=lambda kv: -kv[1]["shapley"])
    ]


_ATTRIBUTION_HEADERS = ("contributor", "citations", "share", "leave-one-out", "Shapley", "± s.e.")


def to_markdown(report: EvalReport) -> str:
    """report.md: summary, breakdowns, contributor ledger and values, baseline comparison."""
    parts = [f"# Eval report: {report.settings.get('dataset')}", ""]
    parts += ["## Summary", "", _table(("metric", "value"), _summary_rows(report.summary)), ""]
    classes = class_rows(report.items)
    if classes:
        parts += ["## Answerability classes", "", _table(_CLASS_HEADERS, classes), ""]
    facts = fact_rows(report.items)
    if facts:
        parts += ["## Key facts", "", _table(_FACT_HEADERS, facts), ""]
    for key, label in groupings(report.items):
        headers, rows = _breakdown_rows(report.items, key)
        parts += [f"## By {label}", "", _table([label, *headers], rows), ""]
    if report.attribution:
        a = report.attribution
        parts += [
            "## Contributor attribution",
            "",
            f"Metric `{a['metric']}`; value(all) = {_fmt(a['value_all'])}, "
            f"value(none) = {_fmt(a['value_none'])}; Shapley values {a.get('method')} "
            f"(sum = value(all) − value(none)).",
            "",
            _table(_ATTRIBUTION_HEADERS, _attribution_rows(a)),
            "",
        ]
    if report.comparison is not None:
        rows = [
            [r["metric"], r["old"], r["new"], r["delta"], "REGRESSION" if r["regression"] else ""]
            for r in report.comparison
        ]
        parts += [
            f"## Compared with {report.settings.get('baseline')}",
            "",
            _table(("metric", "baseline", "this run", "delta", ""), rows),
            "",
        ]
    return "\n".join(parts)


def make_plots(report: EvalReport) -> dict[str, bytes]:
    """The report's plots as PNG bytes, by file name."""
    out: dict[str, bytes] = {}
    metrics = breakdown_metrics(report.items)
    for key, label in groupings(report.items):
        groups = breakdown(report.items, key, metrics)
        out[f"by_{key}.png"] = plots.grouped_bars(f"Metrics by {label}", groups, metrics)
    if report.attribution and report.attribution["contributors"]:
        contributors = report.attribution["contributors"]
        out["ledger.png"] = plots.ledger(contributors)
        out["shapley.png"] = plots.shapley_bars(contributors, report.attribution["metric"])
    latencies = [float(i["latency_ms"]) for i in report.items]
    if latencies:
        out["latency.png"] = plots.latency_histogram(latencies)
    return out


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], flag: int = -1) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cls = ' class="bad"' if flag >= 0 and row[flag] else ""
        cells = "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def to_html(report: EvalReport, images: Mapping[str, bytes]) -> str:
    """report.html: one self-contained page, plots as base64 PNG."""

    def img(name: str) -> str:
        if name not in images:
            return ""
        data = base64.b64encode(images[name]).decode("ascii")
        return f'<img src="data:image/png;base64,{data}" alt="{html.escape(name)}">'

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>techkb eval report</title>",
        "<style>body{font-family:sans-serif;max-width:980px;margin:2em auto}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
        "tr.bad td{background:#fdd}img{max-width:100%}</style></head><body>",
        f"<h1>Eval report: {html.escape(str(report.settings.get('dataset')))}</h1>",
        "<h2>Summary</h2>",
        _html_table(("metric", "value"), _summary_rows(report.summary)),
    ]
    classes = class_rows(report.items)
    if classes:
        parts += ["<h2>Answerability classes</h2>", _html_table(_CLASS_HEADERS, classes)]
    facts = fact_rows(report.items)
    if facts:
        parts += ["<h2>Key facts</h2>", _html_table(_FACT_HEADERS, facts)]
    for key, label in groupings(report.items):
        headers, rows = _breakdown_rows(report.items, key)
        parts += [
            f"<h2>By {html.escape(label)}</h2>",
            img(f"by_{key}.png"),
            _html_table([label, *headers], rows),
        ]
    if report.attribution:
        a = report.attribution
        parts += [
            "<h2>Contributor attribution</h2>",
            f"<p>Metric <code>{html.escape(a['metric'])}</code>: value(all) = "
            f"{_fmt(a['value_all'])}, value(none) = {_fmt(a['value_none'])}; "
            f"Shapley values {html.escape(str(a.get('method')))}.</p>",
            img("ledger.png"),
            img("shapley.png"),
            _html_table(_ATTRIBUTION_HEADERS, _attribution_rows(a)),
        ]
    parts += ["<h2>Latency</h2>", img("latency.png")]
    if report.comparison is not None:
        rows = [
            [r["metric"], r["old"], r["new"], r["delta"], "REGRESSION" if r["regression"] else ""]
            for r in report.comparison
        ]
        parts += [
            f"<h2>Compared with {html.escape(str(report.settings.get('baseline')))}</h2>",
            _html_table(("metric", "baseline", "this run", "delta", ""), rows, flag=4),
        ]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_reports(report: EvalReport, out: Path) -> list[Path]:
    """Write report.json, report.md, report.html and plots/*.png (and comparison.json).

    Returns:
        The files written.
    """
    (out / "plots").mkdir(parents=True, exist_ok=True)
    images = make_plots(report)
    files = []
    for name, data in images.items():
        path = out / "plots" / name
        path.write_bytes(data)
        files.append(path)
    targets = {
        "report.json": json.dumps(report.to_dict(), ensure_ascii=False, indent=1),
        "report.md": to_markdown(report),
        "report.html": to_html(report, images),
    }
    if report.comparison is not None:
        targets["comparison.json"] = json.dumps(report.comparison, indent=1)
    for name, text in targets.items():
        (out / name).write_text(text, encoding="utf-8")
        files.append(out / name)
    return files
