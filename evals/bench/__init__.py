"""`techkb bench`: ingest, query, cold-start and scale benchmarks.

Every comparison is a ratio measured in the same run (the reference machine has two shared,
noisy cores), with medians over repeated runs. Parts: `ingest` (techkb vs a plain llama-index
pipeline at the same chunk budget, and at its default chunk size; embedding throughput vs pure
`encode`), `query` (retrieval and extractive ask latency vs plain vector retrieval, in-process
and over HTTP), `coldstart` (`techkb ask` in a fresh process, and the slowest imports), `scale`
(synthetic stores of growing size), `concurrency` (questions answered beside a heavy one by
`techkb serve`, vs one answer worker).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from assistant.errors import ConfigError

PARTS = ("ingest", "query", "coldstart", "scale", "concurrency")


def import_bench(module: str) -> ModuleType:
    """Import a module of the `bench` extra (the plain llama-index baseline).

    Raises:
        ConfigError: the module is not installed; the message names the extra.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ConfigError(
            f"the plain llama-index baseline of techkb bench needs {module}: "
            "pip install -e '.[bench]'"
        ) from e
