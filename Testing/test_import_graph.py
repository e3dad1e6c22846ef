"""gdbackend's modules import each other without cycles, whichever is imported first: the graph of module-level
imports (read with `ast`, no module is run) has no cycle, counting the package __init__ that importing a
submodule from outside its package runs; nor has the graph of its parts (subpackages and top-level modules),
so that each part can be understood, and moved, on its own. (lesions.py imported detect/boxes.py while
detect/sample.py imported lesions.py, before the shared geometry moved to gdbackend.boxes and gdbackend.grids.)"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import gdbackend

ROOT = Path(gdbackend.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}
PACKAGES = {module_name(p) for p in ROOT.rglob("__init__.py")}


def top_level_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Import statements run on import: not those inside functions (deferred on purpose)."""
    found = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            found.extend(top_level_imports(node))
    return found


def targets(name: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The gdbackend modules an import statement in module `name` runs."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names}
    package = name if name in PACKAGES else name.rpartition(".")[0]
    base = package.rsplit(".", node.level - 1)[0] if node.level else ""
    source = ".".join(p for p in (base, node.module) if p)
    return {f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source for a in node.names}


def graph() -> dict[str, set[str]]:
    """Module -> the modules importing it runs first: each target and the __init__ of each of its packages that
    the importer is not already inside."""
    edges: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        edges[name] = set()
        for node in top_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
            for target in targets(name, node):
                parts = target.split(".")
                chain = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
                edges[name] |= {m for m in chain - own if m in MODULES}
        edges[name].discard(name)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_packages_and_relative_imports():
    edges = graph()
    # a package's `from .registry import` is its own submodule (models keeps its torch-free names eager)
    assert "gdbackend.models.registry" in edges["gdbackend.models"]
    assert {"gdbackend.boxes", "gdbackend.grids"} <= edges["gdbackend.classify.roi"]
    assert {"gdbackend.lesions", "gdbackend.detect.data"} <= edges["gdbackend.detect.sample"]
    # the old lesions.py -> detect/boxes.py import ran detect/__init__, which reached detect/sample.py -> lesions.py
    old = targets("gdbackend.lesions", ast.parse("from .detect.data import DetectionCase").body[0])
    assert old == {"gdbackend.detect.data"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def part(module: str) -> str:
    """The subpackage or top-level module of gdbackend that a module belongs to."""
    return ".".join(module.split(".")[:2])


def test_no_import_cycle():
    assert cycles(graph()) == []


def test_no_cycle_between_parts():
    edges: dict[str, set[str]] = {}
    for module, imported in graph().items():
        edges.setdefault(part(module), set()).update(part(m) for m in imported if part(m) != part(module))
    assert cycles(edges) == []


def test_shared_geometry_imports_no_pipeline():
    """The lesion generator and the shared geometry stand alone: neither detection nor classification loads."""
    code = ("import sys, gdbackend.lesions, gdbackend.boxes; "
            "print(sorted(m for m in sys.modules if m.startswith(('gdbackend.detect', 'gdbackend.classify'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def all_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, deferred ones included: what a module may run at some point."""
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def left_out_of_slicer() -> set[str]:
    """The backend modules gdbackend/CMakeLists.txt keeps out of the extension (its EXCLUDE REGEX filters)."""
    text = (ROOT / "CMakeLists.txt").read_text(encoding="utf-8")
    patterns = [p.replace("\\\\", "\\") for p in
                re.findall(r'list\(FILTER MODULE_PYTHON_SCRIPTS EXCLUDE REGEX "([^"]+)"\)', text)]
    return {name for name, path in MODULES.items() if any(
        re.search(p, path.relative_to(ROOT).as_posix()) for p in patterns)}


def test_what_slicer_gets_never_imports_the_demo_and_sample_code():
    left_out = left_out_of_slicer()
    assert {"gdbackend.sample_data", "gdbackend.lesions", "gdbackend.register.demo", "gdbackend.segment.sample",
            "gdbackend.detect.sample", "gdbackend.segment.sample_brain"} <= left_out
    assert "gdbackend.demo" not in left_out, "`gd demo` itself ships: it says where the demo runs"
    assert all(re.fullmatch(r"demo|sample(_\w+)?|lesions", n.rsplit(".", 1)[-1]) for n in left_out), left_out
    for name, path in MODULES.items():
        if name in left_out:
            continue
        imported = {t for node in all_imports(ast.parse(path.read_text(encoding="utf-8"))) for t in targets(name, node)}
        assert not imported & left_out, f"{name} imports {sorted(imported & left_out)}, which Slicer does not get"
