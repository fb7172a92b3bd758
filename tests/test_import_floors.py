"""Floors that never climb: a module imports only from its own floor or lower ones, and no
import circle exists anywhere (docs/layout.md). Imports are read with `ast`, so an import
inside a function or under `TYPE_CHECKING` counts as much as one at the top of a file.

    utils  <  algorithms, datasets (siblings: neither imports the other)  <  experiments
           <  main.py, benchmarks
    inside algorithms:  networks  <  generation  <  base  <  the algorithm packages  <  the registry
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: (top-level package, floor); a higher floor may import a lower one, never the reverse
FLOORS = {"utils": 0, "algorithms": 1, "datasets": 1, "experiments": 2, "benchmarks": 3,
          "main": 3}
#: packages on one floor that must not import each other
SIBLINGS = {("algorithms", "datasets"), ("datasets", "algorithms")}
#: floors inside `algorithms/` (the registry, `algorithms/__init__.py`, sits above them all)
ALGORITHM_FLOORS = {"networks": 0, "generation": 1, "base": 2, "flow_forcing": 3,
                    "diffusion_forcing": 3, "predictive": 3, "classical": 3}


def module_names(root: Path) -> dict[str, Path]:
    """Every module of the project under `root` (tests and the venv left out) by dotted name."""
    names = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[0] not in FLOORS:
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names[name] = path
    return names


def imported(node: ast.AST, name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that `node` (an import statement of module `name`) imports."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        if node.level:
            base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1])
            base = f"{base}.{node.module}" if node.module else base
        else:
            base = node.module or ""
        targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
    else:
        return set()
    found = set()
    for target in targets:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    modules = module_names(root)
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        graph[name] = set().union(*(imported(n, name, path, modules) for n in ast.walk(tree)))
    return graph


def floor(module: str) -> tuple[int, int]:
    """(floor of the top-level package, floor inside `algorithms/`)."""
    top, _, rest = module.partition(".")
    inner = ALGORITHM_FLOORS.get(rest.partition(".")[0], 4) if top == "algorithms" else 0
    return FLOORS[top], inner


def climbing_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a higher floor, or between siblings, as `importer -> imported`."""
    bad = []
    for importer, targets in sorted(graph.items()):
        for target in sorted(targets):
            a, b = importer.partition(".")[0], target.partition(".")[0]
            same_package = a == b
            if (a, b) in SIBLINGS or (not same_package and floor(target)[0] > floor(importer)[0]) \
                    or (same_package and a == "algorithms" and floor(target) > floor(importer)):
                bad.append(f"{importer} -> {target}")
    return bad


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles (strongly connected components of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_a_higher_floor() -> None:
    graph = import_graph(REPO)
    assert len(graph) > 50 and graph["experiments.sequence_generation"]  # the real tree was read
    assert climbing_imports(graph) == []


def test_no_import_circles() -> None:
    assert circles(import_graph(REPO)) == []


@pytest.mark.parametrize("files,expected", [
    ({"utils/a.py": "from datasets import b", "datasets/b.py": ""}, ["utils.a -> datasets.b"]),
    ({"algorithms/x.py": "def f():\n    from datasets.y import z", "datasets/y.py": "z = 1"},
     ["algorithms.x -> datasets.y"]),
    ({"algorithms/networks/n.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
      "    from algorithms.generation.g import S", "algorithms/generation/g.py": "S = 1"},
     ["algorithms.networks.n -> algorithms.generation.g"]),
    ({"experiments/e.py": "from algorithms import R\nfrom utils.u import f",
      "algorithms/__init__.py": "", "utils/u.py": ""}, []),
])
def test_the_checker_sees_climbing_imports(tmp_path: Path, files: dict[str, str],
                                           expected: list[str]) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert climbing_imports(import_graph(tmp_path)) == expected


def test_the_checker_sees_circles(tmp_path: Path) -> None:
    (tmp_path / "utils").mkdir()
    (tmp_path / "utils" / "a.py").write_text("from utils.b import x")
    (tmp_path / "utils" / "b.py").write_text("def f():\n    from utils import a")
    (tmp_path / "utils" / "__init__.py").write_text("")
    assert circles(import_graph(tmp_path)) == [["utils.a", "utils.b"]]
