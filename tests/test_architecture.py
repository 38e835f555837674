"""The import rule of ARCHITECTURE.md, checked by reading every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {"data", "generate", "annotate", "train", "prefloop"}
ALLOWED = {
    "data": set(),
    "generate": {"data", "train"},
    "annotate": {"data"},
    "train": {"data"},
    "prefloop": set(),  # the dispatcher names each package's __main__ by string (importlib), imports none
}
# generate may call train's public entry points (the round drivers, their held-out statistics); nothing else
# crosses between the three.


def imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & OURS


@pytest.mark.parametrize("package", sorted(OURS))
def test_package_imports_only_what_architecture_allows(package):
    for path in sorted((ROOT / package).rglob("*.py")):
        wrong = imported_packages(path) - ALLOWED[package] - {package}
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}; see ARCHITECTURE.md"


def _module_imports(path: Path, package: str) -> set[str]:
    """Modules of ``package`` that ``path`` imports, at any depth (function-level imports count: they still close
    a cycle), except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    skipped = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
        for child in ast.walk(node)
    }
    names = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    prefix = package + "."
    return {n[len(prefix) :].split(".")[0] for n in names if n.startswith(prefix)} - {path.stem}


def train_import_graph() -> dict[str, set[str]]:
    return {p.stem: _module_imports(p, "train") for p in sorted((ROOT / "train").glob("*.py"))}


def documented_train_graph() -> dict[str, set[str]]:
    """The table under "Modules of `train/`" in ARCHITECTURE.md: | `module` | `a`, `b` (or —) |."""
    text = (ROOT / "ARCHITECTURE.md").read_text().split("### Modules of `train/`", 1)[1]
    graph = {}
    for line in text.splitlines()[1:]:
        if line.startswith("#"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`"):
            graph[cells[0].strip("`")] = {c.strip(" `") for c in cells[1].split(",")} - {"—", ""}
    return graph


def test_train_modules_have_no_import_cycle_and_match_architecture():
    graph = train_import_graph()
    assert documented_train_graph() == graph, "ARCHITECTURE.md's train/ import table differs from the code"
    done, path = set(), []

    def visit(module):
        assert module not in path, f"import cycle in train/: {' -> '.join([*path, module])}"
        if module in done:
            return
        path.append(module)
        for dependency in sorted(graph.get(module, ())):
            visit(dependency)
        path.pop()
        done.add(module)

    for module in graph:
        visit(module)


def test_generate_uses_only_trains_public_entry_points():
    used = set()
    for path in sorted((ROOT / "generate").rglob("*.py")):  # generate/loop too
        used |= _module_imports(path, "train")
    # evaluate: the held-out statistics of a chain of runs; methods: the drivers' check of their train: section
    public = {"run", "options", "evaluate", "methods"}
    assert used <= public, f"generate imports train.{sorted(used - public)}"


def test_no_module_imports_another_modules_private_names():
    """A ``_name`` is its own module's: one that another module needs has a public name (`generate.spin_pairs` and
    `generate.arena` imported five private helpers of `generate.sampling`). Tests may reach inside."""
    found = []
    for package in sorted(OURS):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in OURS:
                    private = [
                        a.name for a in node.names if a.name.startswith("_") and not a.name.endswith("__")
                    ]
                    found += [f"{path.relative_to(ROOT)}: {node.module}.{name}" for name in private]
    assert not found, f"private names imported from another module: {found}"


def test_every_import_module_of_data_is_named_in_architectures_imports_section():
    """ARCHITECTURE.md's "### Imports (...)" heading lists the modules of an import; one split out of
    `data/imports.py` (`data/import_options.py`) must be named there too."""
    heading = next(
        line
        for line in (ROOT / "ARCHITECTURE.md").read_text().splitlines()
        if line.startswith("### Imports (")
    )
    named = {name.strip(" `") for name in heading.removeprefix("### Imports (").rstrip(")").split(",")}
    modules = {f"data/{path.name}" for path in (ROOT / "data").glob("import*.py")}
    assert modules <= named, f"not in ARCHITECTURE.md's Imports heading: {sorted(modules - named)}"


def test_every_benchmark_script_is_named_in_the_docs():
    """A file of benchmarks/ is named in README.md, ARCHITECTURE.md or benchmarks/RESULTS.md, which say what it
    measures or what uses it: `timed_app.py` (the load tests' app side) was named nowhere."""
    docs = " ".join(
        (ROOT / name).read_text() for name in ("README.md", "ARCHITECTURE.md", "benchmarks/RESULTS.md")
    )
    scripts = sorted(path.name for path in (ROOT / "benchmarks").glob("*.py"))
    assert [name for name in scripts if name not in docs] == []


# STYLE.md's ~400 and ~60, with room: past these a file holds two ideas
MODULE_LINES, FUNCTION_LINES = 450, 100


def too_long(path: Path) -> list[str]:
    """``path``'s size over the limits: the module's lines, each function's (its docstring and nested functions
    included), named with its file, line and qualified name (``Export.summary``: one of several ``summary``)."""
    text = path.read_text()
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    found = [f"{name}: {n} lines" for n in [len(text.splitlines())] if n > MODULE_LINES]
    for qualname, node in _functions(ast.parse(text)):
        length = node.end_lineno - node.lineno + 1
        if length > FUNCTION_LINES:
            found.append(f"{name}:{node.lineno}: {qualname}() {length} lines")
    return found


def _functions(node: ast.AST, prefix: str = ""):
    """The functions under ``node`` at any depth, each with its name qualified by its classes and functions."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if not isinstance(child, ast.ClassDef):
                yield prefix + child.name, child
            yield from _functions(child, f"{prefix}{child.name}.")
        else:
            yield from _functions(child, prefix)


def test_size_check_names_file_line_function_and_length(tmp_path):
    body = "".join(f"        x = {i}\n" for i in range(FUNCTION_LINES))
    path = tmp_path / "long.py"
    path.write_text(f"def short():\n    pass\n\n\nclass Box:\n    def long(self):\n{body}")
    assert too_long(path) == [f"{path}:6: Box.long() {FUNCTION_LINES + 1} lines"]
    path.write_text("x = 1\n" * (MODULE_LINES + 1))
    assert too_long(path) == [f"{path}: {MODULE_LINES + 1} lines"]


def test_every_package_is_checked():
    """The import and size checks read the packages of OURS: a new package must be one of them."""
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert packages == OURS


def test_no_module_or_function_is_too_long():
    """Every module of the packages (tests/ and benchmarks/ aside) within STYLE.md's size, with room."""
    found = [
        line
        for package in sorted(OURS)
        for path in sorted((ROOT / package).rglob("*.py"))
        for line in too_long(path)
    ]
    assert not found, (
        f"over STYLE.md's size with room ({MODULE_LINES} lines a module, {FUNCTION_LINES} a function), each holds "
        "two ideas: split it\n" + "\n".join(found)
    )
