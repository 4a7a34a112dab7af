"""Settings precedence: defaults < techkb.yaml < TECHKB_* env < flags; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import ConfigError
from assistant.registry import ANSWERERS, build_answerer, lookup
from assistant.settings import load_settings


def test_precedence(tmp_path: Path) -> None:
    cfg = tmp_path / "techkb.yaml"
    cfg.write_text("retrieval:\n  top_k: 4\n  dense_k: 11\nui:\n  port: 9000\n")
    env = {"TECHKB_RETRIEVAL__TOP_K": "5", "TECHKB_HOME": str(tmp_path / "h")}
    s = load_settings({"retrieval": {"top_k": 7, "dense_k": None}}, config_file=cfg, environ=env)
    assert s.retrieval.top_k == 7  # flag beats env beats file
    assert s.retrieval.dense_k == 11  # file beats default; a None flag is ignored
    assert s.ui.port == 9000
    assert s.paths.home == tmp_path / "h"
    assert load_settings(config_file=cfg, environ=env).retrieval.top_k == 5


def test_secret_only_from_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "techkb.yaml"
    cfg.write_text("llm:\n  api_key: sk-in-a-file\n")
    with pytest.raises(ConfigError, match="api_key"):
        load_settings(config_file=cfg, environ={})
    s = load_settings(environ={"TECHKB_LLM_API_KEY": "sk-secret"})
    assert s.llm.api_key is not None and "sk-secret" not in repr(s)


def test_invalid_values_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"retrieval\.top_k"):
        load_settings(environ={"TECHKB_RETRIEVAL__TOP_K": "many"})
    with pytest.raises(ConfigError, match="nosuch"):
        load_settings(environ={"TECHKB_NOSUCH__X": "1"})
    with pytest.raises(ConfigError, match=r"ui\.colour"):
        load_settings({"ui": {"colour": "red"}}, environ={})


def test_unknown_backend_lists_available() -> None:
    with pytest.raises(ConfigError, match=r"unknown llm 'gpt-9'; available: .*extractive"):
        lookup("llm", ANSWERERS, "gpt-9")
    settings = load_settings({"llm": {"backend": "nope"}}, environ={})
    with pytest.raises(ConfigError, match="available"):
        build_answerer(settings, embedder=None)  # type: ignore[arg-type]
