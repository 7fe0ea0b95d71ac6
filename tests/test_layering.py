"""The architecture, checked: no import cycle between first-party modules, no private name imported
from another package, the answering core free of web code, eval/ on the core's public API only."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("corpus", "index", "service", "eval", "bench")
WEB = ("fastapi", "starlette", "uvicorn", "service.web")
EVAL_MAY_USE = ("service.core", "service.settings", "service.startup")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = modules()


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in the file, at any depth (functions, TYPE_CHECKING blocks)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def first_party(module: str, names: list[str]) -> set[str]:
    """The first-party modules an import statement loads (``from pkg import mod`` loads pkg.mod)."""
    targets = {f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES}
    if module in MODULES and (not names or len(targets) < len(names)):
        targets.add(module)
    return targets


def graph() -> dict[str, set[str]]:
    return {name: {t for m, n in imports(path) for t in first_party(m, n)} - {name} for name, path in MODULES.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def package_of(module: str) -> str:
    return module if module in MODULES and MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_between_first_party_modules():
    assert cycles(graph()) == []


def test_no_private_name_is_imported_from_another_package():
    offenders = []
    for path in [*MODULES.values(), *(ROOT / "tests").rglob("*.py")]:
        importer = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for module, names in imports(path):
            if module.split(".")[0] not in PACKAGES:
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and package_of(module) != importer.rpartition(".")[0]:
                offenders.append(f"{importer}: from {module} import {', '.join(private)}")
    assert offenders == []


def test_the_core_knows_nothing_of_the_web_and_eval_uses_its_public_api():
    offenders = []
    for name, path in MODULES.items():
        for module, _ in imports(path):
            core = name.startswith(("service.core", "service.coverage", "index", "corpus"))
            if core and module.startswith(WEB):
                offenders.append(f"{name} imports {module}")
            if name.startswith("eval") and module.startswith("service") and not module.startswith(EVAL_MAY_USE):
                offenders.append(f"{name} imports {module}")
    assert offenders == []
