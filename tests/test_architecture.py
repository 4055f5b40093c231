"""The house plan holds: no import cycle in the core, no private name used across modules, every public name
exported from one table, the design notes' module table matches the tree, and the old flat module paths still
work (deprecated) for third-party code written against archit-core 0.1."""

from __future__ import annotations

import ast
import importlib
import re
import warnings
from pathlib import Path

import pytest

import archit_core

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "archit_core"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _exports(package: str) -> dict[str, str]:
    """A package's lazy export table, as ``name -> absolute module``."""
    tree = ast.parse(_modules()[package].read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
            table = ast.literal_eval(node.value)
            return {name: importlib.util.resolve_name(module, package) for name, module in table.items()}
    return {}


def _imports(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """``(module, names, line)`` for every import of an archit_core module in ``path``, at any depth."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
                   for stmt in block.body for n in ast.walk(stmt)}  # annotations only: imported by no one at run time
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            module = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level else node.module
            if module and module.startswith("archit_core"):
                found.append((module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("archit_core")]
    return found


def _graph() -> dict[str, set[str]]:
    """Module -> the modules it imports (a name imported from a package counts as its defining module)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        if path.name == "__init__.py" and _exports(name):
            graph[name] = set()  # a lazy table imports nothing
            continue
        edges = graph.setdefault(name, set())
        for module, names, _ in _imports(name, path):
            table = _exports(module) if module in modules and modules[module].name == "__init__.py" else {}
            for imported in names or [None]:
                target = table.get(imported) or (f"{module}.{imported}" if f"{module}.{imported}" in modules else module)
                if target in modules and target != name:
                    edges.add(target)
    return graph


def test_no_import_cycle_in_the_core() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)


def test_no_private_name_is_used_across_modules() -> None:
    sources = [*PKG.rglob("*.py"), *(ROOT / "plugins").glob("*/archit_*/**/*.py")]
    uses = []
    for path in sources:
        name = _module_name(path)
        for module, names, line in _imports(name, path):
            uses += [f"{path.relative_to(ROOT)}:{line} {module}.{n}" for n in names if n.startswith("_") and not n.startswith("__")]
    assert uses == []


def test_all_is_the_export_table_and_every_name_resolves() -> None:
    table = _exports("archit_core")
    assert sorted(archit_core.__all__) == sorted(table)
    for name, module in table.items():
        assert getattr(archit_core, name) is getattr(importlib.import_module(module), name), name


@pytest.mark.parametrize("package", sorted(n for n, p in _modules().items() if p.name == "__init__.py" and n != "archit_core"))
def test_every_subpackage_exports_its_modules_public_names(package: str) -> None:
    table = _exports(package)
    for name, module in table.items():
        assert hasattr(importlib.import_module(module), name), f"{package}: {name} is not in {module}"


def test_the_design_notes_list_every_core_module() -> None:
    """docs/design.md's module table names each module of the core (by its path under archit_core/) once."""
    text = (ROOT / "docs" / "design.md").read_text()
    table = text[text.index("| module |"):]
    table = table[: table.index("\n\n")]
    listed = set(re.findall(r"`([\w/]+\.py)`", table))
    actual = {str(p.relative_to(PKG)) for p in PKG.rglob("*.py") if p.name != "__init__.py"}
    assert listed == actual, f"missing from docs/design.md: {sorted(actual - listed)}; not in the tree: {sorted(listed - actual)}"


@pytest.mark.parametrize(("old", "name"), [("archit_core.configs", "positive"), ("archit_core.word_pooling", "pool_words"),
                                            ("archit_core.modeling", "ModelWithHead"), ("archit_core.backbone", "TransformersBackbone"),
                                            ("archit_core.head", "HeadSpec"), ("archit_core.interop", "import_hf_state_dict")])
def test_old_module_paths_are_deprecated_aliases(old: str, name: str) -> None:
    import sys

    from archit_core._moved import MOVED

    sys.modules.pop(old, None)  # the alias is made (and warns) on import
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(MOVED[old]), name)
    assert any(issubclass(w.category, DeprecationWarning) and MOVED[old] in str(w.message) for w in caught)


def test_importing_the_old_build_module_keeps_archit_core_build_callable() -> None:
    """``archit_core.build`` was both a module and the function; importing the old module path (which rebinds the
    package attribute) must leave ``archit_core.build(...)`` working."""
    import subprocess
    import sys

    code = ("import warnings; warnings.simplefilter('ignore'); import archit_core, archit_core.build; "
            "from archit_core.build import load; "
            "m = archit_core.build('bert', 'token-classification', tiny=True); "
            "print(type(m).__name__, isinstance(m, archit_core.ModelWithHead), load is archit_core.load)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["ArchitForTokenClassification", "True", "True"]


def test_the_tree_is_clean_under_ruff() -> None:
    """pyproject.toml's ruff configuration holds for the whole repository."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", str(ROOT)],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-1000:]
