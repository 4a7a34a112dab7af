"""Report plots (matplotlib, Agg backend): PNG bytes, also saved under OUT/plots/."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

# Scores compared across user types, modes and languages (all 0..1, higher is better).
BREAKDOWN_METRICS = (
    "recall@5",
    "citation_precision",
    "citation_recall",
    "citation_support",
    "correct_refusal",
)


def _figure(width: float = 7.0, height: float = 3.6) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), dpi=100)


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def grouped_bars(
    title: str, groups: Mapping[str, Mapping[str, float | None]], metrics: Sequence[str]
) -> bytes:
    """Bars of each metric (colour) for each group (x axis), 0..1."""
    fig, ax = _figure()
    names = list(groups)
    width = 0.8 / max(len(metrics), 1)
    for j, metric in enumerate(metrics):
        xs = [i + j * width for i in range(len(names))]
        ys = [groups[g].get(metric) or 0.0 for g in names]
        ax.bar(xs, ys, width, label=metric)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))])
    ax.set_xticklabels([f"{g}\n(n={int(groups[g].get('n') or 0)})" for g in names])
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=3, loc="lower right")
    return _png(fig)


def ledger(contributors: Mapping[str, Mapping[str, Any]]) -> bytes:
    """Citations per contributor, labelled with their share."""
    fig, ax = _figure()
    names = sorted(contributors, key=lambda c: -contributors[c]["citations"])
    counts = [contributors[c]["citations"] for c in names]
    bars = ax.barh(names, counts, color="#4c72b0")
    for bar, c in zip(bars, names, strict=True):
        ax.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f" {contributors[c]['share']:.0%}",
            va="center",
            fontsize=8,
        )
    ax.invert_yaxis()
    ax.set_xlabel("citations in the answers")
    ax.set_title("Contributor ledger")
    return _png(fig)


def shapley_bars(contributors: Mapping[str, Mapping[str, Any]], metric: str) -> bytes:
    """Shapley value per contributor (with standard error bars) and leave-one-out values."""
    fig, ax = _figure()
    names = sorted(contributors, key=lambda c: -contributors[c]["shapley"])
    ys = range(len(names))
    ax.barh(
        list(ys),
        [contributors[c]["shapley"] for c in names],
        xerr=[contributors[c].get("shapley_stderr", 0.0) for c in names],
        color="#55a868",
        label="Shapley",
    )
    ax.scatter(
        [contributors[c]["leave_one_out"] for c in names],
        list(ys),
        color="#c44e52",
        zorder=3,
        label="leave-one-out",
    )
    ax.set_yticks(list(ys))
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel(f"contribution to {metric}")
    ax.set_title("Contributor value")
    ax.legend(fontsize=8)
    return _png(fig)


def latency_histogram(latencies_ms: Sequence[float]) -> bytes:
    """Histogram of per-item latency."""
    fig, ax = _figure()
    ax.hist(list(latencies_ms), bins=30, color="#8172b2")
    ax.set_xlabel("latency per item (ms)")
    ax.set_ylabel("items")
    ax.set_title("Latency")
    return _png(fig)
