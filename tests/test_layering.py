"""The import direction is one way: core ← domain apps (directory, clients, referrals, partners)
← worklist, api, demo ← the project's own wiring (settings, urls, cli). No module imports one on
a higher floor (not even inside a function), the domain apps' imports of each other form no
circle, and no two modules import each other."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "referloop"
FLOORS = {
    "core": 0,
    "directory": 1,
    "clients": 1,
    "referrals": 1,
    "partners": 1,
    "stays": 1,
    "intake": 1,
    "worklist": 2,
    "reports": 2,
    "api": 2,
    "fhir": 2,
    "demo": 2,
}
PROJECT = 3  # settings, urls, wsgi, asgi, cli: they assemble everything


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported referloop module, at module level?) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from referloop.referrals import packets` imports the module packets.
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.startswith("referloop."):
                found.append((name, id(node) in top_level))
    return found


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in ROOT.rglob("*.py")}


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module an imported name is (or lives in)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _floor(module: str) -> int:
    part = module.split(".")[1] if "." in module else ""
    return FLOORS.get(part, PROJECT)


def _app(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else ""


def _edges() -> dict[str, set[tuple[str, bool]]]:
    edges: dict[str, set[tuple[str, bool]]] = {}
    for module, path in MODULES.items():
        if ".migrations." in module:
            continue  # migrations name models by path; Django orders them
        for name, top in _imports(path):
            target = _resolve(name)
            if target and target != module:
                edges.setdefault(module, set()).add((target, top))
    return edges


EDGES = _edges()


def test_the_walk_sees_the_whole_package():
    assert len(MODULES) > 80
    assert sum(len(targets) for targets in EDGES.values()) > 200


def test_no_module_imports_one_on_a_higher_floor():
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in EDGES.items()
        for target, _ in targets
        if _floor(target) > _floor(module)
    )
    assert upward == []


def test_the_domain_apps_import_each_other_in_one_direction():
    apps: dict[str, set[str]] = {}
    for module, targets in EDGES.items():
        for target, _ in targets:
            if _app(module) != _app(target) and _floor(module) == _floor(target) == 1:
                apps.setdefault(_app(module), set()).add(_app(target))
    both_ways = sorted(
        f"{a} <-> {b}" for a, targets in apps.items() for b in targets if a in apps.get(b, ())
    )
    assert both_ways == [], apps


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("top_level_only", [True, False], ids=["module level", "any import"])
def test_no_modules_import_each_other(top_level_only):
    graph = {
        module: {target for target, top in targets if top or not top_level_only}
        for module, targets in EDGES.items()
    }
    # A package's __init__ importing its own submodules is not a circle of two modules.
    graph = {
        module: {t for t in targets if not module.startswith(f"{t}.")}
        for module, targets in graph.items()
    }
    assert _cycle(graph) is None
