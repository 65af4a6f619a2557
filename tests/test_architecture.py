"""The house rules of DESIGN.md that code can check: no two modules import each other, data flows
one way (corpus and nn import no model), optional extras are imported only where they are used."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lmkit"
EXTRAS = ("tensorboardX", "tensorboard", "matplotlib", "optuna", "ray", "sklearn", "torch")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """The modules ``path`` imports (lmkit ones resolved to their module), outside ``if TYPE_CHECKING``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(node, depth: int) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.Import) and (depth == 0 or not top_level_only):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and (depth == 0 or not top_level_only):
            for alias in node.names:  # a submodule by name (from lmkit.nn import optim_kernels), else the module
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
        inner = depth + isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, 0)
    return found


def _graph(top_level_only: bool) -> dict[str, set[str]]:
    return {name: {m for m in _imports(path, top_level_only) if m in MODULES and m != name}
            for name, path in MODULES.items()}


def test_no_two_modules_import_each_other():
    graph = _graph(top_level_only=False)
    pairs = sorted({tuple(sorted((a, b))) for a, targets in graph.items() for b in targets
                    if a in graph.get(b, ()) and not (a.startswith(b + ".") or b.startswith(a + "."))})
    assert pairs == []


def test_module_level_imports_have_no_cycle():
    graph = _graph(top_level_only=True)
    state: dict[str, int] = {}

    def walk(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail(f"import cycle: {' -> '.join(trail[trail.index(nxt):] + [nxt])}")
            if nxt not in state:
                walk(nxt, trail + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])


@pytest.mark.parametrize("package", ["lmkit.corpus", "lmkit.nn"])
def test_lower_layers_import_no_model(package):
    models = ("lmkit.word2vec", "lmkit.lm", "lmkit.cli", "lmkit.training", "lmkit.vectors", "lmkit.evaluate")
    for name, path in MODULES.items():
        if name.startswith(package):
            bad = sorted(m for m in _imports(path, top_level_only=False) if m.startswith(models))
            assert bad == [], f"{name} imports {bad}"


def test_optional_extras_are_imported_only_inside_functions():
    for name, path in MODULES.items():
        top = {m.split(".")[0] for m in _imports(path, top_level_only=True)}
        assert not top & set(EXTRAS), f"{name} imports {sorted(top & set(EXTRAS))} at module level"


def test_help_loads_neither_numpy_nor_numba():
    import subprocess
    import sys

    code = "import sys; from lmkit.cli import build_parser; build_parser(); print(sorted({'numpy', 'numba'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_no_module_imports_another_s_private_names():
    """A leading underscore means "this module's own": reaching for it from elsewhere couples the two."""
    found = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lmkit"):
                found += [f"{name}: {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")
                          and f"{node.module}.{a.name}" not in MODULES]
    assert found == []
