"""The app's modules import each other one way: no import cycles.

The graph is built from the source (``ast``), so it counts the imports Python would run
at any time: module level, inside functions, and the parent packages an import
executes (``import postpurchase.models.steps`` runs ``postpurchase/models/__init__.py``).
Only imports under ``if TYPE_CHECKING:`` are left out: they never run.
"""

import ast
from pathlib import Path

import postpurchase

PACKAGE = Path(postpurchase.__file__).parent
ROOT = PACKAGE.name


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if "migrations" in parts:
            continue
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        found[".".join(parts)] = (path, is_package)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(tree: ast.Module, package: str):
    """(name, explicit) for every absolute name an import statement in ``tree`` loads.

    ``explicit`` is False for the module part of ``from module import name``: when that
    module is an ancestor package of the importer it is always loaded already."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            skip.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            yield from ((alias.name, True) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield module, False
            yield from ((f"{module}.{alias.name}", True) for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    modules = _modules()

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        ancestors = {name.rsplit(".", depth)[0] for depth in range(1, name.count(".") + 1)}
        for imported, explicit in _imported_names(ast.parse(path.read_text()), package):
            if not (imported == ROOT or imported.startswith(ROOT + ".")):
                continue
            target = owner(imported)
            if explicit and target in ancestors:
                # ``from . import name`` where name is not a submodule: it needs the
                # package's namespace, which may not be filled in yet.
                graph[name].add(target)
            # Importing a.b.c first runs a/__init__ and a/b/__init__; a module's own
            # ancestors are always loaded before it, so they add no edge.
            while target:
                if target != name and target not in ancestors:
                    graph[name].add(target)
                target = target.rpartition(".")[0] if "." in target else None
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
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
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_graph_sees_function_level_and_parent_package_imports():
    graph = import_graph()
    # postpurchase/apps.py imports its checks inside ready(): the graph must count it.
    assert "postpurchase.checks" in graph["postpurchase.apps"]
    # Any import of a models submodule runs postpurchase/models/__init__.py.
    assert any("postpurchase.models" in targets for targets in graph.values())


def test_cycles_are_found_when_present():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)
