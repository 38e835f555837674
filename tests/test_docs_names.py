"""The code names ARCHITECTURE.md and README.md put in backticks exist in the code: a function renamed or moved
left the docs naming it (`_check_sft`, now `method_checks.check_sft`). Checked are the names that cannot be a
column or a JSON key: those spelled from a package of ours (`data.intervals.figure_text`) and private ones."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("ARCHITECTURE.md", "README.md")
PACKAGES = ("data", "generate", "annotate", "train")
# a file named in backticks (`workspace.json`, `train.py`), not a module's name
EXTENSIONS = {"csv", "gz", "json", "jsonl", "lock", "md", "parquet", "png", "py", "toml", "txt", "yaml"}
BACKTICKED = re.compile(r"`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?:\(\))?`")


def _bound(node: ast.AST) -> set[str]:
    """The names ``node`` binds in its own scope (a module's: its functions, classes, assigned names and imports),
    not those bound inside a function or class it defines (a local variable, a method)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.alias):
        return {(node.asname or node.name).split(".")[0]}
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
        return {node.id}
    return set().union(*map(_bound, ast.iter_child_nodes(node)))


def _names(tree: ast.AST) -> tuple[set[str], set[str]]:
    """What a module defines at its top level (`_bound`), and every name it has (anything defined at any level, its
    attributes, arguments, and a string that is one name: a key, a column, `"_split"`)."""
    defined, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.alias):
            defined.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            (defined if isinstance(node.ctx, ast.Store) else used).add(name)
        elif isinstance(node, ast.arg | ast.keyword) and node.arg:
            used.add(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            used.add(node.value)
    return _bound(tree), used | defined


def _modules() -> dict[str, tuple[set[str], set[str]]]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = _names(ast.parse(path.read_text()))
    return modules


MODULES = _modules()
EVERY = set().union(*(used for _, used in MODULES.values()))


def _backticked() -> list[tuple[str, str]]:
    """(where, name) for each backticked dotted or bare name of the docs that is not a file's."""
    found = []
    for doc in DOCS:
        for number, line in enumerate((ROOT / doc).read_text().splitlines(), 1):
            for name in BACKTICKED.findall(line):
                if name.rsplit(".", 1)[-1] not in EXTENSIONS:
                    found.append((f"{doc}:{number}", name))
    return found


def missing_qualified(name: str) -> str | None:
    """Why ``data.module.name[.attribute]`` names nothing of ours, or None: its module must exist, define the
    name, and its attributes be used somewhere."""
    parts = name.split(".")
    module = max(i for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in MODULES)  # parts[0]: a package
    rest = parts[module:]
    if rest and rest[0] not in MODULES[".".join(parts[:module])][0]:
        return f"{'.'.join(parts[:module])} defines no {rest[0]}"
    unknown = [part for part in rest[1:] if part not in EVERY]
    return f"no code names {', '.join(unknown)}" if unknown else None


def test_every_name_the_docs_spell_from_a_package_of_ours_is_in_it():
    wrong = [
        f"{where}: `{name}`: {why}"
        for where, name in _backticked()
        if name.split(".")[0] in PACKAGES and "." in name and (why := missing_qualified(name))
    ]
    assert not wrong, "\n".join(wrong)


def missing_private(name: str) -> bool:
    """Whether ``name`` (`_split`, `Loading._withdrawn`) ends in a private name no code has."""
    last = name.rsplit(".", 1)[-1]
    return last.startswith("_") and not last.startswith("__") and last not in EVERY


def test_every_private_name_in_the_docs_is_in_the_code():
    wrong = [f"{where}: `{name}`" for where, name in _backticked() if missing_private(name)]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("data.intervals.figure_text", None),
        ("train.method_checks.check_sft", None),
        ("data.workspace.Workspace.runs", None),
        ("train.methods._check_sft", "train.methods defines no _check_sft"),
        ("data.nowhere.thing", "data defines no nowhere"),
        ("data.workspace.Workspace.no_such_attribute_anywhere", "no code names no_such_attribute_anywhere"),
        # a method, or a local variable, is no name its module defines (a function moved into a class, renamed)
        ("data.workspace.runs", "data.workspace defines no runs"),
        ("data.validate.planted", "data.validate defines no planted"),
    ],
)
def test_a_stale_qualified_name_is_told(name, why):
    assert missing_qualified(name) == why


def test_a_stale_private_name_is_told():
    assert missing_private("_check_sft") and missing_private("annotate.service._no_such_name")
    assert not any(map(missing_private, ["_split", "_served_at", "Loading._withdrawn", "__init__"]))
