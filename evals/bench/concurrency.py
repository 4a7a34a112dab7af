"""Concurrency benchmark: ordinary questions while a heavy one runs, against a real `techkb serve`.

For each setting of `ui.answer_workers` (the configured one, then 1: the old single store
thread, as the baseline), a `techkb serve` process on 127.0.0.1 (a free port) over a copy of
the store answers, over HTTP:

- a 1 MB history (must be refused at once: 413 from the body-size limit or 422 from the
  history bounds; its status and latency are printed);
- `clients` ordinary questions (`/api/ask`) sent at once, then one at a time (what a single
  user sees), each alone and beside heavy questions (one in flight at all times: the largest
  history the bounds allow, see `heavy_body`);
- repeated `rounds` times; the figures are medians over the rounds of each round's p50/p95.

Run: `python -m evals.bench.concurrency [--store DIR] [--clients 20] [--rounds 3]`, or
`techkb bench --part concurrency`. Every loop is bounded and the servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from assistant.errors import TechkbError
from evals.bench.timing import (
    CORPORA,
    Progress,
    median,
    percentile,
    questions,
    ratio,
    stderr_progress,
)

HEAVY_TURNS = 20  # the defaults of ui.max_history_turns and ui.max_history_chars
HEAVY_CHARS = 24000
SHORT_TURN_CHARS = 50
MEGABYTE_TIMEOUT_S = 60  # the refusal must take milliseconds; before the bounds it took minutes


def _corpus_text(chars: int) -> str:
    """`chars` characters of the demo corpus's Markdown (real sentences, deterministic)."""
    text = ""
    for path in sorted(CORPORA.rglob("*.md")):
        text += path.read_text(encoding="utf-8", errors="replace") + "\n"
        if len(text) >= chars:
            break
    return (text * (chars // max(len(text), 1) + 1))[:chars]


def heavy_body() -> dict[str, Any]:
    """The most work the default bounds let one question carry, measured on the demo store:
    20 turns and 24,000 characters, almost all in the last user turn, which the follow-up
    question borrows for its search (about 2 s alone on the 2-core development machine,
    against 0.4 s for the same characters spread over 20 turns)."""
    short = _corpus_text(SHORT_TURN_CHARS)
    big = HEAVY_CHARS - SHORT_TURN_CHARS * (HEAVY_TURNS - 1)
    roles = ("user", "assistant")
    history = [{"role": roles[i % 2], "content": short} for i in range(HEAVY_TURNS)]
    history[-2]["content"] = _corpus_text(big)  # the last user turn
    return {"question": "and what about that one?", "history": history}


def megabyte_body() -> dict[str, Any]:
    return {"question": "and that?", "history": [{"role": "user", "content": "x" * 1_000_000}]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(home: Path, workers: int, timeout_s: float = 240) -> Iterator[str]:
    """`techkb serve` on 127.0.0.1 over `home` with `workers` answer workers; its URL."""
    port = _free_port()
    env = {
        **os.environ,
        "TECHKB_HOME": str(home),
        "TECHKB_UI__ANSWER_WORKERS": str(workers),
        "ANONYMIZED_TELEMETRY": "False",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    env.pop("TECHKB_USERS_FILE", None)
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "techkb", "serve", "--port", str(port), "--host", "127.0.0.1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(f"http://127.0.0.1:{port}", proc, log, timeout_s)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=20)


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            raise TechkbError(f"techkb serve did not start: {log.read()[-2000:]}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)


def _ask(client: httpx.Client, body: dict[str, Any]) -> tuple[float, int]:
    started = time.perf_counter()
    status = client.post("/api/ask", json=body).status_code
    return (time.perf_counter() - started) * 1000, status


def _burst(client: httpx.Client, qs: list[str]) -> list[tuple[float, int]]:
    """All of `qs` sent at once (one thread each): latency in ms and status of each."""
    with ThreadPoolExecutor(len(qs)) as pool:
        return list(pool.map(lambda q: _ask(client, {"question": q}), qs))


def _one_at_a_time(client: httpx.Client, qs: list[str]) -> list[tuple[float, int]]:
    """`qs` one after another (a single user's view)."""
    return [_ask(client, {"question": q}) for q in qs]


def _heavy_loop(client: httpx.Client, stop: threading.Event, out: list[tuple[float, int]]) -> None:
    """Heavy questions one after another until `stop` (at most 200, each bounded by the
    client's timeout)."""
    body = heavy_body()
    for _ in range(200):
        if stop.is_set():
            return
        out.append(_ask(client, body))


def _beside_heavy(
    client: httpx.Client, send: Callable[[], list[tuple[float, int]]], heavy: list[Any]
) -> list[tuple[float, int]]:
    """`send()` while a heavy question is always being answered."""
    stop = threading.Event()
    loop = threading.Thread(target=_heavy_loop, args=(client, stop, heavy), daemon=True)
    loop.start()
    time.sleep(0.2)  # the first heavy question is being answered
    try:
        return send()
    finally:
        stop.set()
        loop.join(timeout=300)


CASES = ("burst", "burst_with_heavy", "one_at_a_time", "one_at_a_time_with_heavy")


def measure(url: str, qs: list[str], rounds: int, progress: Progress) -> dict[str, Any]:
    """One server's figures: the 1 MB refusal, then per round the questions sent at once and
    one at a time, each alone and beside heavy questions."""
    with httpx.Client(base_url=url, timeout=300) as client:
        started = time.perf_counter()
        try:
            status: int | str = client.post(
                "/api/ask", json=megabyte_body(), timeout=MEGABYTE_TIMEOUT_S
            ).status_code
        except httpx.TimeoutException:
            status = "timeout"
        refusal_ms = (time.perf_counter() - started) * 1000
        progress(f"concurrency: 1 MB history -> {status} in {refusal_ms:.0f} ms")
        _burst(client, qs)  # warm-up: models, and every worker's store handle
        _ask(client, heavy_body())
        cases: dict[str, list[dict[str, float]]] = {case: [] for case in CASES}
        heavy: list[tuple[float, int]] = []
        errors = 0
        for r in range(rounds):
            runs = {
                "burst": _burst(client, qs),
                "burst_with_heavy": _beside_heavy(client, lambda: _burst(client, qs), heavy),
                "one_at_a_time": _one_at_a_time(client, qs),
                "one_at_a_time_with_heavy": _beside_heavy(
                    client, lambda: _one_at_a_time(client, qs), heavy
                ),
            }
            for case, results in runs.items():
                cases[case].append(_summary([ms for ms, _ in results]))
                errors += sum(status != 200 for _, status in results)
            progress(
                f"concurrency: round {r + 1}: p95 at once {cases['burst'][-1]['p95_ms']:.0f} ms "
                f"alone, {cases['burst_with_heavy'][-1]['p95_ms']:.0f} ms beside heavy; one at "
                f"a time {cases['one_at_a_time'][-1]['p95_ms']:.0f} / "
                f"{cases['one_at_a_time_with_heavy'][-1]['p95_ms']:.0f} ms"
            )
    return {
        "megabyte_history": {"status": status, "ms": round(refusal_ms, 1)},
        **{case: _medians(found) for case, found in cases.items()},
        "heavy_ms_median": round(median([ms for ms, _ in heavy]), 1),
        "heavy_statuses": sorted({s for _, s in heavy}),
        "errors": errors,
    }


def _summary(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95)}


def _medians(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(median([r[key] for r in rounds]), 1) for key in ("p50_ms", "p95_ms")}


def bench_concurrency(
    home: Path,
    progress: Progress,
    *,
    clients: int = 20,
    rounds: int = 3,
    workers: int | None = None,
) -> dict[str, Any]:
    """The figures with `workers` answer workers (default: the setting) and with one.

    Args:
        home: the store to serve; it is copied first (the server logs every answer).
        progress: receives one line per step.
        clients: ordinary questions per case (sent at once, or one at a time).
        rounds: repetitions (medians are reported).
        workers: answer workers of the measured server (None: `ui.answer_workers`).
    """
    from assistant.settings import load_settings

    workers = workers or load_settings().ui.answer_workers
    qs = questions(clients)
    result: dict[str, Any] = {"clients": clients, "rounds": rounds, "runs": {}}
    with tempfile.TemporaryDirectory(prefix="techkb-concurrency-") as work:
        for n in dict.fromkeys((workers, 1)):
            served = Path(work) / f"store-{n}"
            shutil.copytree(home, served)
            progress(f"concurrency: techkb serve with answer_workers={n}")
            with serve(served, n) as url:
                result["runs"][str(n)] = {"answer_workers": n, **measure(url, qs, rounds, progress)}
    base, best = result["runs"]["1"], result["runs"][str(workers)]
    result["answer_workers"] = workers
    result["p95_ratio_workers_1_vs_n"] = {
        case: ratio(base[case]["p95_ms"], best[case]["p95_ms"]) for case in CASES
    }
    return result


def to_markdown(result: dict[str, Any]) -> list[str]:
    """Table rows of a `bench_concurrency` result."""
    n = result["clients"]
    lines = [
        f"| concurrency, medians of {result['rounds']} rounds: p50 / p95 ms | {n} at once "
        f"| {n} at once beside heavy | one at a time | one at a time beside heavy "
        "| heavy ms | 1 MB history |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in result["runs"].values():
        mb = run["megabyte_history"]
        cells = " | ".join(f"{run[c]['p50_ms']} / {run[c]['p95_ms']}" for c in CASES)
        lines.append(
            f"| answer_workers={run['answer_workers']} | {cells} | {run['heavy_ms_median']} "
            f"| {mb['status']} in {mb['ms']} ms |"
        )
    ratios = result["p95_ratio_workers_1_vs_n"]
    lines += [
        "",
        f"p95 ratio answer_workers=1 / answer_workers={result['answer_workers']}: "
        + ", ".join(f"{case} {value}x" for case, value in ratios.items()),
        "",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="Store to serve (default: demo corpus).")
    parser.add_argument("--clients", type=int, default=20, help="Questions sent at once.")
    parser.add_argument("--rounds", type=int, default=3, help="Repetitions (medians).")
    parser.add_argument("--workers", type=int, help="Answer workers (default: the setting).")
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="techkb-bench-") as work:
        home = args.store
        if home is None:
            from assistant.settings import load_settings
            from evals.bench.query import demo_store

            home = Path(work) / "demo"
            settings = load_settings({"paths": {"home": home}})
            demo_store(home, settings, stderr_progress)
        result = bench_concurrency(
            home,
            stderr_progress,
            clients=max(1, args.clients),
            rounds=max(1, args.rounds),
            workers=args.workers,
        )
    print(json.dumps(result) if args.json else "\n".join(to_markdown(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
