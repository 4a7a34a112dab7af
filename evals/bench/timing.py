"""Small measuring helpers shared by the benchmark parts."""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CORPORA = REPO / "corpora"
OPEN_CORPUS = REPO.parent / "shared" / "open-corpus"
DATASET = REPO / "evals" / "datasets" / "demo.jsonl"

Progress = Callable[[str], None]


def stderr_progress(message: str) -> None:
    """Default progress: one timestamped line on stderr (the CLI's channel for it)."""
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def quiet(message: str) -> None:
    """Progress sink that drops everything."""


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return float(ordered[rank])


def rss_mb() -> float:
    """Resident memory of this process now (MiB), from /proc; peak RSS where /proc is absent."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class Timer:
    """Wall-clock and CPU seconds of a `with` block."""

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = cpu_seconds() - self._cpu


def timed(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[float]:
    """Milliseconds `fn` takes on each item, in order."""
    out = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - started) * 1000)
    return out


def latency_summary(ms: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "n": len(ms),
    }


def questions(limit: int) -> list[str]:
    """Questions of the demo eval set (the last user turn), repeated up to `limit`."""
    items = [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines() if line]
    texts = [
        i.get("question") or next(m["content"] for m in reversed(i["messages"]))
        for i in items
        if i.get("question") or i.get("messages")
    ]
    out = list(texts)
    while len(out) < limit:
        out.extend(texts)
    return out[:limit]


def ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else float("nan")


def env_info() -> dict[str, Any]:
    import os
    import platform

    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "load_avg_1m": round(load[0], 2),
    }
