"""The OpenVINO / ONNX Runtime embedders reproduce the torch embedder (no timings here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.embed_onnx import OnnxRuntimeEmbedder, OpenVINOEmbedder
from tests.conftest import REPO

pytestmark = pytest.mark.slow

TEXTS = [
    "How much grease goes into the J2 reducer of the HX-R20?",
    "Axis 2 grease change — Steps\n1. Switch off and lock out the controller.",
    "数控机床主轴维护：主轴温升不得超过环境温度加二十五摄氏度。",
    "",
    "torque " * 400,  # longer than the model's 256-piece window: truncated like torch
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedder-cache")


@pytest.mark.parametrize("cls", [OpenVINOEmbedder, OnnxRuntimeEmbedder])
def test_vectors_and_token_counts_match_torch(cls: Any, cache_dir: Path, embedder: Any) -> None:
    fast = cls(cache_dir=cache_dir)
    assert fast.name == embedder.name  # same vector space: stores built by either stay usable
    reference = embedder.embed_documents(TEXTS)
    vectors = fast.embed_documents(TEXTS)
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float((vectors * reference).sum(axis=1).min()) > 0.9999
    query = fast.embed_query(TEXTS[0])
    assert float(query @ reference[0]) > 0.9999
    for text in TEXTS:
        assert fast.count_tokens(text) == embedder.count_tokens(text)
    assert fast.embed_documents([]).shape == (0, 384)


def test_openvino_f32_is_torch_to_rounding(cache_dir: Path, embedder: Any) -> None:
    vectors = OpenVINOEmbedder(cache_dir=cache_dir, precision="f32").embed_documents(TEXTS)
    np.testing.assert_allclose(vectors, embedder.embed_documents(TEXTS), atol=2e-5)


def test_a_later_process_reuses_the_export_without_torch_or_telemetry(cache_dir: Path) -> None:
    OpenVINOEmbedder(cache_dir=cache_dir).load()
    exported = sorted(cache_dir.rglob("model.onnx"))
    assert len(exported) == 1
    mtime = exported[0].stat().st_mtime_ns
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from assistant.embed_onnx import OpenVINOEmbedder\n"
        f"e = OpenVINOEmbedder(cache_dir=Path({str(cache_dir)!r}))\n"
        "v = e.embed_query('spindle bearing preload')\n"
        "print(json.dumps({'dim': len(v), 'heavy': sorted(m for m in ('torch', 'transformers',"
        " 'sentence_transformers') if m in sys.modules),"
        " 'telemetry': sys.modules.get('openvino_telemetry', 'absent') is None}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"dim": 384, "heavy": [], "telemetry": True}
    assert exported[0].stat().st_mtime_ns == mtime


def test_unsupported_precision_is_a_config_error() -> None:
    from assistant.errors import ConfigError

    with pytest.raises(ConfigError, match="precision"):
        OpenVINOEmbedder(precision="int4")


def test_default_settings_build_the_openvino_embedder(tmp_path: Path) -> None:
    from assistant.registry import build_embedder
    from assistant.settings import load_settings

    settings = load_settings({"embedder": {"cache_dir": tmp_path}}, environ={})
    built = build_embedder(settings)
    assert isinstance(built, OpenVINOEmbedder) and built.cache_dir == tmp_path
