"""Helpers for tests that start a real server on 127.0.0.1: a free port, a bounded wait, a stop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_http(
    url: str,
    proc: subprocess.Popen[bytes] | subprocess.Popen[str],
    timeout_s: float,
    what: str,
    log: Callable[[], str] = lambda: "",
) -> None:
    """Poll `url` until it answers 200; fail the test if `proc` exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}: {log()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{what} did not answer within {timeout_s:g} s: {log()[-2000:]}")


def stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """Terminate, then kill if it does not exit within 20 s."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=20)


@dataclass
class Served:
    """A running server: its base URL, process and log file."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def serve_techkb(
    home: Path, tmp: Path, users_file: Path | None, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """`python -m techkb serve` over `home` on a free port, stopped on exit."""
    port = free_port()
    log = tmp / f"serve-{port}.log"
    environ = {**os.environ, "TECHKB_HOME": str(home), **(env or {})}
    environ.pop("TECHKB_USERS_FILE", None)
    args = [sys.executable, "-m", "techkb", "serve", "--port", str(port)]
    if users_file is not None:
        args += ["--users", str(users_file)]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=environ, stdout=out, stderr=subprocess.STDOUT)
    served = Served(f"http://127.0.0.1:{port}", proc, log)
    try:
        wait_for_http(f"{served.url}/api/health", proc, 180, "techkb serve", log=served.log_text)
        yield served
    finally:
        stop(proc)
