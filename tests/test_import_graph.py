"""The import graph: layers point one way and no module imports itself back.

    cc5 engine  <-  client  <-  service  <-  local (embedded service)  <-  demo  <-  app_support, cli

``errors``, ``progress``, ``statuses``, ``_lazy`` and ``_extras`` are the base
every layer may use. The graph is read from the source (every ``import``,
also those inside functions; ``if TYPE_CHECKING:`` imports count for the
layers but not for cycles, since they never run).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "toolkit"

BASE = {"toolkit", "toolkit.errors", "toolkit.progress", "toolkit.statuses", "toolkit._lazy", "toolkit._extras"}
# Each layer and the layers above it, which it must never import.
ABOVE: dict[str, tuple[str, ...]] = {
    "toolkit.cc5": ("toolkit.client", "toolkit.service", "toolkit.local", "toolkit.demo", "toolkit.app_support",
                    "toolkit.cli"),
    "toolkit.client": ("toolkit.service", "toolkit.local", "toolkit.demo", "toolkit.app_support", "toolkit.cli"),
    "toolkit.service": ("toolkit.local", "toolkit.demo", "toolkit.app_support", "toolkit.cli"),
    "toolkit.local": ("toolkit.demo", "toolkit.app_support", "toolkit.cli"),
    "toolkit.demo": ("toolkit.app_support", "toolkit.cli"),
    "toolkit.app_support": ("toolkit.cli",),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(name: str) -> str:
    """The module a dotted import name lands in (``toolkit.cc5.validate`` may be a function)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


@cache
def imports_of(module: str) -> frozenset[tuple[str, bool]]:
    """(imported toolkit module, typing-only) pairs of ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(inner) for inner in ast.walk(node))
    found: set[tuple[str, bool]] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            if name.split(".")[0] == "toolkit":
                target = _resolve(name)
                if target and target != module:
                    found.add((target, id(node) in typing_only))
    return frozenset(found)


def _within(module: str, layer: str) -> bool:
    return module == layer or module.startswith(layer + ".")


def test_the_graph_is_read() -> None:
    assert ("toolkit.client.api", False) in imports_of("toolkit.local")
    assert ("toolkit.errors", False) in imports_of("toolkit.client.api")


def test_layers_point_one_way() -> None:
    wrong = []
    for module in MODULES:
        for layer, above in ABOVE.items():
            if _within(module, layer):
                wrong += [f"{module} -> {target}" for target, _ in imports_of(module)
                          if any(_within(target, up) for up in above)]
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_the_base_imports_only_the_base() -> None:
    wrong = [f"{module} -> {target}" for module in BASE - {"toolkit"}
             for target, _ in imports_of(module) if target not in BASE]
    assert not wrong, wrong


def test_no_import_cycles() -> None:
    graph = {m: sorted(t for t, typing_only in imports_of(m) if not typing_only) for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"
