"""The layout keeps its promises: no import cycle in dxgl, and no value of the vocabulary
(``dxgl.contract``) written again as a literal anywhere else in dxgl."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

from dxgl import contract

PACKAGE = Path(contract.__file__).parent


def _cycles(graph: grimp.ImportGraph) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.find_modules_directly_imported_by(node):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_in_dxgl() -> None:
    graph = grimp.build_graph("dxgl", include_external_packages=False)
    # A package's __init__ re-exporting its submodules is not a cycle of the code's own design.
    for module in list(graph.modules):
        for child in graph.find_children(module):
            if graph.direct_import_exists(importer=module, imported=child):
                graph.remove_import(importer=module, imported=child)
    assert _cycles(graph) == []


# Values that say "which render": file names, statuses, effects, tiers, coverages, alignments and
# storage key prefixes. (Short, common words such as "pro" or "web" are left out: they also occur
# in prose and in unrelated names.)
WATCHED = {
    *(str(f) for f in contract.OutputFile),
    *(str(s) for s in contract.RenderStatus if "-" in s),
    *(str(e) for e in contract.Effect if "-" in e),
    *(str(q) for q in contract.DatasetQuality),
    *(str(c) for c in contract.Coverage),
    *(str(a) for a in contract.Alignment if "-" in a),
    "renders/",
    "models/",
    "overlays/",
}


def _literals(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants that are not docstrings."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_no_vocabulary_value_is_written_outside_the_contract() -> None:
    offending = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == Path(contract.__file__) or "migrations" in path.parts:
            continue
        for line, value in _literals(ast.parse(path.read_text())):
            hits = [w for w in WATCHED if value == w or (w.endswith("/") and value.startswith(w))]
            if hits:
                offending.append(f"{path.relative_to(PACKAGE)}:{line}: {value!r}")
    assert offending == []
