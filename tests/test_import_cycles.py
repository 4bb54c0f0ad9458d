"""No new import cycle between the package's parts: the graph is read from the real imports.

Nodes are the parts of `agent_routing` one level down (a subpackage such as `router/`, or a
top-level module such as `config.py`); an edge is any `import` of another part anywhere in a
module, lazy imports inside functions included (they still tie the parts together), imports
under `if TYPE_CHECKING:` excluded (they never run). The cycles that exist today are listed
below with where they come from; a cycle not listed fails the test, and so does a listed one
that is gone (take it off the list, so it cannot come back unnoticed).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "agent_routing"

# Cycles known when this test was written; each is a debt to pay, never a place to add to.
# ({analyzer, evaluation, router} is paid (#15): the signal kinds and the duel strategy name
# live in records.py, the strong shares and quantile helpers in analyzer/quantiles.py, and
# the eval/calibrate glue that scores a file with an analyzer in analyzer/evaluate.py, so
# the layers run router -> analyzer -> evaluation and never back.)
KNOWN_CYCLES: frozenset[frozenset[str]] = frozenset(
    {
        # config checks model names against pricing, and parses ledger URLs with
        # ledger.urls (#14); pricing reads price overrides' types from config; the ledger
        # takes its settings from config and prices orphaned calls with pricing. Moving
        # ledger/urls.py below config would leave config <-> pricing.
        frozenset({"config", "ledger", "pricing"}),
    }
)

Graph = Mapping[str, Mapping[str, list[str]]]


def _part(module: str) -> str | None:
    """`agent_routing.router._fallback` -> `router`; None outside the package."""
    parts = module.split(".")
    if parts[0] != "agent_routing" or len(parts) < 2:
        return None
    return parts[1]


def _module_name(path: Path, package: Path) -> str:
    relative = path.relative_to(package.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return skipped


def _imported_modules(node: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".")
            keep = len(base) - node.level + (1 if is_package else 0)
            target = ".".join(base[:keep] + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        if target == "agent_routing":  # `from agent_routing import config`
            yield from (f"agent_routing.{alias.name}" for alias in node.names)
        else:
            yield target


def import_graph(package: Path = PACKAGE) -> dict[str, dict[str, list[str]]]:
    """part -> {imported part -> ["file:line", ...]} for every import between parts."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in sorted(package.rglob("*.py")):
        module = _module_name(path, package)
        source = _part(module)
        if source is None:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        skipped = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skipped or not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _imported_modules(node, module, path.name == "__init__.py"):
                part = _part(target)
                if part is not None and part != source:
                    where = f"{path.relative_to(package.parent)}:{node.lineno}"
                    graph.setdefault(source, {}).setdefault(part, []).append(where)
    return graph


def cycles(graph: Graph) -> list[frozenset[str]]:
    """The strongly connected components with more than one part (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _explain(graph: Graph, cycle: frozenset[str]) -> str:
    lines = [" <-> ".join(sorted(cycle))]
    for source in sorted(cycle):
        for target, places in sorted(graph.get(source, {}).items()):
            if target in cycle:
                lines.append(f"  {source} -> {target}: {', '.join(places)}")
    return "\n".join(lines)


def test_no_new_import_cycle_between_packages() -> None:
    """The parts of agent_routing import each other without any cycle beyond the known ones."""
    graph = import_graph()
    found = cycles(graph)
    new = [cycle for cycle in found if cycle not in KNOWN_CYCLES]
    assert not new, "new import cycle(s) between packages:\n" + "\n".join(
        _explain(graph, cycle) for cycle in new
    )
    gone = KNOWN_CYCLES - set(found)
    assert not gone, f"known cycle(s) no longer exist; remove them from KNOWN_CYCLES: {gone}"


def test_capture_and_router_do_not_import_each_other() -> None:
    """The provider error classifier lives below both, so capture never imports the router."""
    graph = import_graph()
    assert "router" not in graph.get("capture", {}), graph["capture"]["router"]


def test_router_analyzer_evaluation_are_layered() -> None:
    """router -> analyzer -> evaluation, never back: the analyzer learns and evaluates
    without the router, and the evaluation harness measures scores without the analyzer."""
    graph = import_graph()
    assert "router" not in graph.get("analyzer", {}), graph["analyzer"]["router"]
    assert "router" not in graph.get("evaluation", {}), graph["evaluation"]["router"]
    assert "analyzer" not in graph.get("evaluation", {}), graph["evaluation"]["analyzer"]


def test_cycle_finder_sees_a_cycle_through_a_lazy_import(tmp_path: Path) -> None:
    """A cycle made only by an import inside a function is found; TYPE_CHECKING ones are not."""
    package = tmp_path / "agent_routing"
    (package / "alpha").mkdir(parents=True)
    (package / "beta").mkdir()
    (package / "__init__.py").write_text("")
    (package / "alpha" / "__init__.py").write_text("from agent_routing.beta import thing\n")
    (package / "beta" / "__init__.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from agent_routing.gamma import other\n"
        "thing = 1\n"
        "def later():\n"
        "    from ..alpha import thing\n"
        "    return thing\n"
    )
    (package / "gamma.py").write_text("from agent_routing import beta\n")
    graph = import_graph(package)
    assert cycles(graph) == [frozenset({"alpha", "beta"})]
    assert "gamma" not in graph["beta"]
