"""The house rules, read from the source: no import cycle between modules (imports under TYPE_CHECKING
and inside functions included), and nothing below the HTTP layer imports ``switchyard.server``."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
# Who may import the server: the package's public face (it exports create_app) and the CLI (serve).
MAY_IMPORT_SERVER = {"switchyard", "switchyard.cli"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in SRC.rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of this package that ``name`` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in g:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles() -> None:
    """(At 8da53a9 this found gateway -> policies -> policies.pipeline -> gateway, a TYPE_CHECKING import.)"""
    assert cycles(graph()) == []


def test_only_the_doorways_import_the_server() -> None:
    offenders = {
        name: sorted(w for w in ws if w == "switchyard.server" or w.startswith("switchyard.server."))
        for name, ws in graph().items()
        if not name.startswith("switchyard.server") and name not in MAY_IMPORT_SERVER
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_call_core_knows_no_http() -> None:
    g = graph()
    core = [n for n in g if n.startswith(("switchyard.calls", "switchyard.policies")) or n == "switchyard.resolve"]
    for name in core:
        source = modules()[name].read_text()
        assert "starlette" not in source, name
