"""No two parts of the harness import each other, at module level or inside a function
(imports for type annotations alone, under `if TYPE_CHECKING:`, run never and do not count).

A part is a sub-package (`harness/uboot/`) or a top-level module (`harness/session.py`).
An import cycle between parts is how two of them came to share one job (a hand-off verdict
assembled across two files, in-function imports dodging the loop); this keeps them apart.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[1] / "harness"


def part_of(module: str) -> str:
    """harness.uboot.strategy -> harness.uboot; harness.session -> harness.session."""
    parts = module.split(".")
    return ".".join(parts[:2])


def runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under `if TYPE_CHECKING:` (annotations only: never imported)."""
    out: list[ast.AST] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        out.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return out


def imports() -> dict[str, set[str]]:
    """Every part -> the other parts it imports, from the source (all imports, lazy ones too)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in HARNESS.rglob("*.py"):
        rel = path.relative_to(HARNESS.parent).with_suffix("").parts
        name = ".".join(rel[:-1] if rel[-1] == "__init__" else rel)
        package = name.split(".") if rel[-1] == "__init__" else name.split(".")[:-1]
        for node in runtime_nodes(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level + 1]
                    targets = [".".join(base + ([node.module] if node.module else []))]
                    if not node.module:  # `from . import x`: the parts named
                        targets = [f"{targets[0]}.{a.name}" for a in node.names]
                else:
                    targets = [node.module or ""]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                if target.startswith("harness.") and part_of(target) != part_of(name):
                    graph[part_of(name)].add(part_of(target))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The import loops between parts, each as the path that closes it."""
    found: set[tuple[str, ...]] = set()

    def walk(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                loop = path[path.index(nxt) :]
                i = loop.index(min(loop))
                found.add(tuple(loop[i:] + loop[:i]))
            elif len(path) < 6:
                walk(nxt, path + [nxt])

    for start in sorted(graph):
        walk(start, [start])
    return sorted(found)


def test_no_two_parts_import_each_other() -> None:
    assert cycles(imports()) == []


def test_the_check_sees_a_loop_and_a_lazy_import() -> None:
    """NEGATIVE CONTROL: a made-up graph with one loop (through three parts) is reported."""
    made_up = {"harness.a": {"harness.b"}, "harness.b": {"harness.c"}, "harness.c": {"harness.a"}}
    assert cycles(made_up) == [("harness.a", "harness.b", "harness.c")]
    graph = imports()
    assert "harness.coherence" in graph["harness.session"]  # imported inside a function: seen
    assert "harness.phases" not in graph["harness.payload"]  # under TYPE_CHECKING only: not
