"""The evals package imports one way: no module imports one that imports it back."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.factories import import_cycles

EVALS = Path(__file__).resolve().parents[2] / "evals"


def _module_name(path: Path) -> str:
    parts = path.relative_to(EVALS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _evals_imports() -> dict[str, set[str]]:
    """Each evals module → the evals modules it imports anywhere (lazy and type-only included)."""
    graph: dict[str, set[str]] = {}
    for path in EVALS.rglob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("evals"):
                module = str(node.module)
                submodules = {f"{module}.{a.name}" for a in node.names}
                deps |= {m for m in submodules if _exists(m)} or {module}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("evals.")}
        graph[_module_name(path)] = deps
    return graph


def _exists(module: str) -> bool:
    path = EVALS.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def test_no_evals_module_imports_one_that_imports_it_back() -> None:
    graph = _evals_imports()
    cycles = import_cycles(graph)
    assert cycles == [], f"modules on an import cycle: {cycles}"
    # The eval layers: run (score items) < report (render) < pipeline (the one entry point).
    assert {"evals.run", "evals.report"} <= graph["evals.pipeline"]
    assert "evals.pipeline" not in graph["evals.run"] | graph["evals.report"]


def test_techkb_eval_is_the_one_eval_entry_point() -> None:
    import evals.run

    assert not hasattr(evals.run, "main")
