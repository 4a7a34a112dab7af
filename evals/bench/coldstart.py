"""Cold-start benchmark: `techkb ask` in a fresh process, per embedder backend.

Each run is a new `python -m techkb ask QUESTION --store HOME --json` process (imports, model
loads, store open, the answer); wall-clock medians. The slowest imports come from
`python -X importtime`, importing what `ask` imports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from evals.bench.timing import REPO, Progress, median, ratio

QUESTION = "How much grease goes into the J2 reducer of the HX-R20, and which grease?"
_ASK_IMPORTS = (
    "import techkb.cli; from assistant.registry import build_assistant, build_store; "
    "import assistant.retrieve, assistant.answer.extractive, chromadb"
)


def _ask_once(home: Path, backend: str) -> float:
    env = {**os.environ, "TECHKB_EMBEDDER__BACKEND": backend}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "techkb", "ask", QUESTION, "--store", str(home), "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"techkb ask failed ({proc.returncode}): {proc.stderr[-500:]}")
    json.loads(proc.stdout)
    return seconds


def slowest_imports(top: int = 12) -> list[dict[str, Any]]:
    """Top cumulative import times (ms) of what `techkb ask` imports, from -X importtime."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _ASK_IMPORTS],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    rows: list[dict[str, Any]] = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            depth = (len(name) - len(name.lstrip())) // 2
            if depth <= 1:
                rows.append({"module": name.strip(), "cumulative_ms": int(parts[1]) / 1000})
    rows.sort(key=lambda r: -r["cumulative_ms"])
    return rows[:top]


def bench_coldstart(home: Path, runs: int, progress: Progress) -> dict[str, Any]:
    """Median seconds of a fresh `techkb ask` with the torch and the default backend."""
    out: dict[str, Any] = {}
    backends = ("sentence-transformers", "openvino")
    times: dict[str, list[float]] = {b: [] for b in backends}
    _ask_once(home, "openvino")  # first use exports the model once; not a cold start
    for run in range(runs):
        for backend in backends:
            progress(f"coldstart: techkb ask ({backend}) run {run + 1}/{runs}")
            times[backend].append(_ask_once(home, backend))
    out["ask_seconds_median"] = {b: round(median(t), 2) for b, t in times.items()}
    out["ask_seconds_all"] = {b: [round(x, 2) for x in t] for b, t in times.items()}
    out["speedup"] = ratio(median(times["sentence-transformers"]), median(times["openvino"]))
    progress("coldstart: -X importtime")
    out["slowest_imports"] = slowest_imports()
    return out
