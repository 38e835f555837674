"""The workspace: one directory holding a whole project's data as append-only Parquet tables.

WS/
  workspace.json        format marker
  prompts/ completions/ pairs/ labels/ models/   part-*.parquet (see data.store)
  exports/              TRL-ready tables written by `python -m data export`
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa

from data import store
from data.errors import PrefloopError
from data.records import TABLE_OF, to_row
from data.schemas import SCHEMAS

FORMAT = 1
MARKER = "workspace.json"


class WorkspaceError(PrefloopError):
    """The directory is not a usable workspace."""


class Workspace:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        marker = self.path / MARKER
        if not marker.is_file():
            raise WorkspaceError(
                f"{self.path}: not a workspace (no {MARKER}); create it with `python -m data init`"
            )
        fmt = json.loads(marker.read_text()).get("format")
        if fmt != FORMAT:
            raise WorkspaceError(f"{marker}: workspace format {fmt!r}, this version reads format {FORMAT}")
        for name in SCHEMAS:  # tables added in later versions (e.g. reflogps) start empty in older workspaces
            (self.path / name).mkdir(exist_ok=True)

    @classmethod
    def init(cls, path: str | Path, exist_ok: bool = True) -> Workspace:
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise WorkspaceError(f"{path}: is a file, not a workspace directory")
        if (path / MARKER).is_file():
            if not exist_ok:
                raise WorkspaceError(f"{path}: a workspace already exists")
            return cls(path)
        if path.exists() and any(path.iterdir()):
            raise WorkspaceError(f"{path}: directory is not empty and not a workspace")
        for name in SCHEMAS:
            (path / name).mkdir(parents=True, exist_ok=True)
        (path / "exports").mkdir(exist_ok=True)
        tmp = path / f".{MARKER}.tmp"
        tmp.write_text(json.dumps({"format": FORMAT}) + "\n")
        tmp.rename(path / MARKER)
        return cls(path)

    @classmethod
    def open_or_init(cls, path: str | Path) -> Workspace:
        return cls.init(path, exist_ok=True)

    @property
    def exports(self) -> Path:
        return self.path / "exports"

    def read(self, name: str) -> pa.Table:
        return store.read_table(self.path / name, name)

    def frame(self, name: str) -> pd.DataFrame:
        return self.read(name).to_pandas()

    def ids(self, name: str) -> set[str]:
        return set(self.read(name).column("id").to_pylist())

    def append(self, records: Iterable[object], skip_existing: bool = False) -> dict[str, int]:
        """Durably write records (any mix of data.records types); returns rows written per table.

        Tables are committed parents first. With ``skip_existing``, records whose id is already stored are left
        out, which makes imports and resumed jobs idempotent.
        """
        grouped: dict[str, list[dict]] = {name: [] for name in SCHEMAS}
        for record in records:
            grouped[TABLE_OF[type(record)]].append(to_row(record))
        return self.append_rows(grouped, skip_existing=skip_existing)

    def append_rows(self, rows: Mapping[str, list[dict]], skip_existing: bool = False) -> dict[str, int]:
        tables = []
        for name in SCHEMAS:  # parents before children
            batch = _unique(rows.get(name, []))
            if batch and skip_existing:
                existing = self.ids(name)
                batch = [row for row in batch if row["id"] not in existing]
            if batch:
                tables.append((name, pa.Table.from_pylist(batch, schema=SCHEMAS[name])))
        store.write_tables(self.path, tables)
        return {name: table.num_rows for name, table in tables}

    def merge(self, other: Workspace) -> dict[str, int]:
        """Add every row of ``other`` that this workspace lacks (ids are content hashes or random, so rows
        sampled on different machines never collide); parents first, idempotent. Returns rows added per table."""
        if other.path.resolve() == self.path.resolve():
            raise WorkspaceError(f"{other.path}: cannot merge a workspace into itself")
        return self.append_rows({name: other.read(name).to_pylist() for name in SCHEMAS}, skip_existing=True)

    def compact(self) -> dict[str, tuple[int, int]]:
        return {name: store.compact(self.path / name, name) for name in SCHEMAS}


def _unique(rows: list[dict]) -> list[dict]:
    seen: set[str] = set()
    out = []
    for row in rows:
        if row["id"] not in seen:
            seen.add(row["id"])
            out.append(row)
    return out
