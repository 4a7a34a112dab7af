"""Nothing phones home: the embedding engine's usage telemetry stays off in every process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("openvino", reason="openvino is not installed")


def test_openvino_sends_no_usage_telemetry(tmp_path: Path) -> None:
    # openvino_telemetry keeps its client id and counters under ~/intel when it is active.
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("CI", None)
    code = (
        "import assistant, openvino, sys\n"
        "openvino.Core().available_devices\n"
        "assert sys.modules.get('openvino_telemetry') is None\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert not (tmp_path / "intel").exists()
