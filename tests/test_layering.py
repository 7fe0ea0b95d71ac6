"""The layering, checked on the source text (nothing is imported): corpus → index → service.core → the web
adapters, with eval/ and bench/ on top.

1. No import cycle among the first-party modules (corpus, index, service, eval, bench).
2. No private name imported across packages (``from a.b import _x`` from outside ``a.b``'s package), tests
   included; ``module._x`` through an imported first-party module counts as importing ``_x``.
3. The answering core knows nothing of the web: service/core, index and corpus import no fastapi, starlette,
   uvicorn or service.web; corpus imports no other first-party package and index only corpus; eval/ uses the
   service only through its public API (service.core, service.settings, service.startup).

Every import counts: at the top, inside functions, under ``if TYPE_CHECKING:`` or ``try:``. An import of
``a.b.c`` is an edge to the module ``a.b.c`` (not to the packages ``a`` and ``a.b`` that Python also runs: a
package's ``__init__`` re-exporting its modules would otherwise look like a cycle with each of them);
``from a.b import name`` is an edge to ``a.b.name`` when that is a module, else to ``a.b`` (its
``__init__`` when ``a.b`` is a package).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ("corpus", "index", "service", "eval", "bench")
WEB = ("fastapi", "starlette", "uvicorn", "service.web")
CORE = ("service.core", "index", "corpus")
# What each package may import of the others (prefixes of dotted module names).
ALLOWED_FIRST_PARTY = {
    "corpus": ("corpus",),
    "index": ("corpus", "index"),
}
EVAL_MAY_USE = ("service.core", "service.settings", "service.startup")


@dataclass(frozen=True)
class Import:
    importer: str  # dotted name of the importing module
    target: str  # what the statement names: a dotted module, or module + "." + name for `from m import name`
    module: str | None  # the first-party module it resolves to (None: third-party or stdlib)
    names: tuple[str, ...]  # the names taken by `from m import ...` (empty for `import m`)
    where: str  # path:line

    def __str__(self) -> str:
        what = f"from {self.target} import {', '.join(self.names)}" if self.names else f"import {self.target}"
        return f"{self.where}: {what}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    """Every first-party module (library and tests) by dotted name."""
    found = {}
    for top in (*LIBRARY, "research", "tests"):
        for path in sorted((ROOT / top).rglob("*.py")):
            found[_module_name(path)] = path
    return found


SOURCES = _sources()
# Folders of modules without an __init__.py (namespace packages) are packages too.
NAMESPACES = {name.rpartition(".")[0] for name in SOURCES if "." in name} - set(SOURCES)
PACKAGES = {name for name, path in SOURCES.items() if path.name == "__init__.py"} | NAMESPACES


def _package_of(module: str) -> str:
    """The package a module belongs to: itself for a package's ``__init__``, else its parent."""
    return module if module in PACKAGES else module.rpartition(".")[0]


def _first_party(dotted: str) -> str | None:
    """The longest known first-party module that ``dotted`` names or lies in."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in SOURCES or candidate in NAMESPACES:
            return candidate
    return None


def _absolute(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = _package_of(importer).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    where = path.relative_to(ROOT)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(module, alias.name, _first_party(alias.name), (), f"{where}:{node.lineno}"))
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                target = submodule if submodule in SOURCES else _first_party(source)
                found.append(Import(module, source, target, (alias.name,), f"{where}:{node.lineno}"))
    return found


IMPORTS = [imp for module, path in SOURCES.items() for imp in _imports(module, path)]


def _in(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


# 1. No import cycle ------------------------------------------------------------------------------------


def _graph() -> dict[str, dict[str, list[Import]]]:
    """importer → imported first-party module → the statements that make the edge (library modules only)."""
    graph: dict[str, dict[str, list[Import]]] = {m: {} for m in SOURCES if _in(m, LIBRARY)}
    for imp in IMPORTS:
        if imp.importer in graph and imp.module in graph:
            graph[imp.importer].setdefault(imp.module, []).append(imp)
    return graph


def _strongly_connected(graph: dict[str, dict[str, list[Import]]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph is small, but recursion depth should not depend on it)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def _cycle(graph: dict[str, dict[str, list[Import]]], component: list[str]) -> list[str]:
    """One shortest cycle through the component's first module (breadth-first, inside the component)."""
    start, members = component[0], set(component)
    previous: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node]):
            if child not in members:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, start]
            if child not in previous:
                previous[child] = node
                queue.append(child)
    return [start, start]


def _statements(imports: list[Import]) -> list[str]:
    """One line per import statement (``from m import a, b`` is one statement, two Import records)."""
    by_line: dict[str, list[Import]] = {}
    for imp in imports:
        by_line.setdefault(imp.where, []).append(imp)
    return [
        str(Import(imps[0].importer, imps[0].target, imps[0].module, tuple(n for i in imps for n in i.names), where))
        for where, imps in by_line.items()
    ]


def _fail(title: str, problems: list[str]) -> None:
    if problems:
        pytest.fail(f"{title}:\n" + "\n".join(problems), pytrace=False)


def test_no_import_cycle_among_first_party_modules():
    graph = _graph()
    problems = []
    for component in _strongly_connected(graph):
        if len(component) == 1 and component[0] not in graph[component[0]]:
            continue
        lines = [f"cycle {' → '.join(_cycle(graph, component))}; every import among {', '.join(component)}:"]
        for a in component:
            for b in sorted(set(graph[a]) & set(component)):
                lines += [f"    {a} → {b}: {line}" for line in _statements(graph[a][b])]
        problems.append("\n".join(lines))
    _fail("import cycles (break each one; an import inside a function still counts)", problems)


# 2. No private name across packages --------------------------------------------------------------------


def _bound_names(tree: ast.AST, importer: str) -> tuple[dict[str, str], dict[str, str]]:
    """Local names bound to first-party modules (``import a.b as m``; ``import a.b``, which binds ``a``;
    ``from a import b``), and names bound to what a first-party module defines (``from a.b import Klass`` →
    ``a.b``). Collected over the whole file, whatever the scope."""
    modules, defined = {}, {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound, module = (alias.asname, alias.name) if alias.asname else ((alias.name.split(".")[0],) * 2)
                if module in SOURCES:
                    modules[bound] = module
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(importer, node)
            for alias in node.names:
                local = alias.asname or alias.name
                if f"{source}.{alias.name}" in SOURCES:
                    modules[local] = f"{source}.{alias.name}"
                elif (owner := _first_party(source)) is not None:
                    defined[local] = owner
    return modules, defined


def _dotted(node: ast.expr) -> list[str] | None:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return [*base, node.attr] if base else None
    return None


def _private_imports() -> list[str]:
    """``from m import _x`` (``_x`` belongs to m's package) and ``import a._b`` (``_b`` belongs to ``a``)."""
    problems = []
    for imp in IMPORTS:
        if imp.module is None:
            continue
        parts = imp.target.split(".")
        owners = [(".".join(parts[:i]), part) for i, part in enumerate(parts) if i and _private(part)]
        source = _first_party(imp.target) or imp.module
        owners += [(_package_of(source), name) for name in imp.names if _private(name)]
        problems += [
            f"{imp}  (private {name} of package {owner}, imported by {imp.importer})"
            for owner, name in owners
            if _package_of(imp.importer) != owner
        ]
    return problems


def _private_attributes() -> list[str]:
    """``m._x`` where ``m`` is an imported first-party module, and ``Klass._x`` where ``Klass`` was imported
    from one: the same as importing ``_x``. (A private method reached through an instance,
    ``answerer._score``, is not visible to a check of the source text.)"""
    problems = []
    for importer, path in SOURCES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules, defined = _bound_names(tree, importer)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and _private(node.attr)):
                continue
            chain = _dotted(node.value)
            if not chain:
                continue
            owner: str | None = None
            if chain[0] in defined and len(chain) == 1:
                owner = defined[chain[0]]
            elif chain[0] in modules:
                owner = modules[chain[0]]
                for part in chain[1:]:  # through submodules (index.store._x), not into what they hold
                    owner = f"{owner}.{part}" if f"{owner}.{part}" in SOURCES else None
                    if owner is None:
                        break
            if owner and _package_of(importer) != _package_of(owner):
                problems.append(
                    f"{path.relative_to(ROOT)}:{node.lineno}: {'.'.join(chain)}.{node.attr}  "
                    f"(private {node.attr} of {owner}, used by {importer})"
                )
    return problems


def test_no_private_name_is_imported_across_packages():
    _fail(
        "private names used outside their package (make them public, or move the code that needs them)",
        sorted(set(_private_imports() + _private_attributes())),
    )


# 3. The core knows nothing of the web; eval uses the public API ----------------------------------------


def test_the_core_imports_nothing_of_the_web():
    problems = [
        f"{imp}  ({imp.importer} is part of the core)"
        for imp in IMPORTS
        if _in(imp.importer, CORE) and (_in(imp.target, WEB) or imp.module and _in(imp.module, WEB))
    ]
    _fail("the answering core imports the web", problems)


def test_corpus_and_index_import_only_the_layers_below_them():
    problems = []
    for imp in IMPORTS:
        layer = imp.importer.split(".")[0]
        if layer in ALLOWED_FIRST_PARTY and imp.module and imp.module.split(".")[0] in LIBRARY:
            if not _in(imp.module, ALLOWED_FIRST_PARTY[layer]):
                problems.append(f"{imp}  ({layer} may import only {', '.join(ALLOWED_FIRST_PARTY[layer])})")
    _fail("a lower layer imports a higher one", problems)


def test_eval_uses_only_the_public_api_of_the_service():
    reaching = [
        imp
        for imp in IMPORTS
        if _in(imp.importer, ("eval",))
        and imp.module
        and _in(imp.module, ("service",))
        and not _in(imp.module, EVAL_MAY_USE)
    ]
    _fail(f"eval/ reaches into the service beyond its public API ({', '.join(EVAL_MAY_USE)})", _statements(reaching))


def test_nothing_of_the_product_imports_the_experiments():
    """research/ is not installed: a product module (or a product test) that imported it would break there."""
    reaching = [
        imp for imp in IMPORTS if not _in(imp.importer, ("research",)) and imp.module and _in(imp.module, ("research",))
    ]
    _fail("the product imports research/", _statements(reaching))


def test_the_checker_finds_a_cycle_a_self_import_and_resolves_relative_imports():
    toy: dict[str, dict[str, list[Import]]] = {
        "a": {"b": []},
        "b": {"c": []},
        "c": {"a": []},
        "d": {"d": []},
        "e": {"a": []},
    }
    components = _strongly_connected(toy)
    assert sorted(components) == [["a", "b", "c"], ["d"], ["e"]]
    assert _cycle(toy, ["a", "b", "c"]) == ["a", "b", "c", "a"] and _cycle(toy, ["d"]) == ["d", "d"]
    node = ast.parse("from ..store import _x").body[0]
    assert isinstance(node, ast.ImportFrom) and _absolute("index.sub.mod", node) == "index.store"
    assert _package_of("index") == "index" and _package_of("index.store") == "index"
    assert _private("_x") and not _private("__version__")
