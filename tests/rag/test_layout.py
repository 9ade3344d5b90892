"""The RAG package's wings import one way: lab -> serving -> stores -> types. The gateway must not load
evaluation or tuning code, so nothing under ``rag/serving`` or ``rag/stores`` may import ``rag/lab`` (lazy
imports inside functions included), and the stores know nothing of serving."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import switchyard

SRC = Path(switchyard.__file__).resolve().parent
RAG = SRC / "rag"


def _imported(path: Path) -> set[str]:
    """Every module ``path`` imports, as an absolute dotted name (relative imports resolved)."""
    package = list(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            out.add(module)
            out.update(f"{module}.{alias.name}" for alias in node.names)
    return out


@pytest.mark.parametrize(
    ("wing", "forbidden"),
    [("serving", ("switchyard.rag.lab",)), ("stores", ("switchyard.rag.lab", "switchyard.rag.serving"))],
)
def test_wing_does_not_import_upward(wing: str, forbidden: tuple[str, ...]) -> None:
    offenders = {
        f"{path.relative_to(RAG)} -> {name}"
        for path in sorted((RAG / wing).glob("*.py"))
        for name in _imported(path)
        if name.startswith(forbidden)
    }
    assert not offenders


def test_the_gateway_loads_no_lab_module() -> None:
    code = (
        "import sys\n"
        "import switchyard.gateway, switchyard.server.rag_routes, switchyard.rag.serving.holder\n"
        "print(sorted(m for m in sys.modules if m.startswith('switchyard.rag.lab')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
