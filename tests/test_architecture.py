"""The import rule of ARCHITECTURE.md, checked by reading every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {"data", "generate", "annotate", "train"}
ALLOWED = {"data": set(), "generate": {"data", "train"}, "annotate": {"data"}, "train": {"data"}}
# generate may call train's one public function (the SPIN driver); nothing else crosses between the three.


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
