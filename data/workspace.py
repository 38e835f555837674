"""The workspace: one directory holding a whole project's data as append-only Parquet tables.

WS/
  workspace.json        format marker, and the folder it was made in (data.workspace_root)
  prompts/ completions/ pairs/ labels/ models/ reflogps/ scores/ gold/ arenas/   part-*.parquet (see data.store)
  batches/              <batch>.commit: multi-table writes that are complete (see data.store)
  exports/              TRL-ready tables written by `python -m data export`
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data import compaction, part_reads, store
from data.annotators import one_spelling
from data.errors import PrefloopError, counted, one_line, quoted, shown
from data.files import (
    NOT_A_FILE,
    NotAFileError,
    atomic_write,
    check_not_link,
    failure_reason,
    not_a_file_line,
    open_regular,
    write_error,
)
from data.import_records import TooDeep, within_depth
from data.records import TABLE_OF, to_row
from data.schemas import SCHEMAS, SchemaError
from data.workspace_root import HOLDS_EVERY_PATH, MARKER, ROOT, holds_every_path, marked_roots

FORMAT = 1
MARKER_TEXT = json.dumps({"format": FORMAT})  # what the marker must hold (and `root`: `data.workspace_root`)
FOLDERS = (store.BATCHES, "exports", "imports")  # besides the tables'; imports/ is data.imports' log
STORED_FOLDERS = frozenset(
    {*SCHEMAS, *FOLDERS} - {"exports"}
)  # a workspace's folders whose files are its data
# The annotate app's files in the workspace (`annotate.sessions`): the key its sessions are signed with and the record
# of who signed out when; here so that the commands' checks (`data.validate.BESIDE`) name the same files
SESSION_KEY_FILE, LOGOUTS_FILE = "session.key", "logouts.json"
HOLDINGS_FOLDER = "holdings"  # which item each labeller holds, per view, for a restart (`annotate.holdings`)
# Children before parents: what a reader of several tables reads first, so that every row it sees has its parents.
READ_ORDER = ("arenas", "gold", "scores", "reflogps", "labels", "pairs", "completions", "prompts", "models")
STRAY_SHOWN = 5  # files `Workspace.stray_line` names; the rest are "..."
# ``tables``, per thread: workspace (resolved path) -> the tables written in its `compaction_after` block
_AFTER = threading.local()
# a child forked inside the block compacts what it writes itself: the parent's block ends in the parent alone
os.register_at_fork(after_in_child=lambda: vars(_AFTER).pop("tables", None))

log = logging.getLogger(__name__)


class WorkspaceError(PrefloopError):
    """The directory is not a usable workspace."""


class Workspace:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        marker = self.path / MARKER
        _refuse_a_file(self.path)
        if not marker.is_file():
            raise WorkspaceError(
                f"{self.path}: not a workspace (no {MARKER}); create it with `python -m data init`"
            )
        meta = _read_marker(marker)
        fmt = meta["format"]
        if isinstance(fmt, bool) or fmt != FORMAT:  # JSON true reads as 1 in Python
            raise WorkspaceError(f"{marker}: workspace format {fmt!r}, this version reads format {FORMAT}")
        for name in [
            *SCHEMAS,
            *FOLDERS,
        ]:  # a folder planted as a symlink would send reads and writes elsewhere
            if (self.path / name).is_symlink():
                raise WorkspaceError(f"{self.path / name}: {NOT_A_FILE}")
        for name in SCHEMAS:  # tables added in later versions (e.g. reflogps) start empty in older workspaces
            try:
                (self.path / name).mkdir(exist_ok=True)
            except (
                FileExistsError
            ):  # a file there: "a file is in the way: nothing was written" said a reader too
                raise WorkspaceError(not_a_file_line(self.path / name)) from None
            except OSError as exc:
                raise write_error(exc, self.path / name) from exc
        # where it was made and where it is now, for every read and write (`data.workspace_root.Roots`)
        self.roots = marked_roots(self.path, meta)

    @classmethod
    def existing(cls, path: str | Path) -> Workspace | None:
        """The workspace at ``path``, or None where `init` would create one (no such path, an empty folder); a path
        `init` refuses raises its error. A command checks its whole input against this before creating anything."""
        path = Path(path)
        _refuse_a_file(path)
        if (path / MARKER).is_file():
            return cls(path)
        if holds_every_path(str(path.resolve())):  # refused before anything is made, not at the next open
            raise WorkspaceError(f"{path}: is {HOLDS_EVERY_PATH}; give a folder below it")
        if path.exists() and any(path.iterdir()):
            raise WorkspaceError(f"{path}: directory is not empty and not a workspace")
        refuse_a_stored_folder(path)
        return None

    @classmethod
    def init(cls, path: str | Path, exist_ok: bool = True) -> Workspace:
        path = Path(path)
        if not exist_ok and (path / MARKER).is_file():
            raise WorkspaceError(f"{path}: a workspace already exists")
        workspace = cls.existing(path)
        if workspace is not None:
            return workspace
        for name in [*SCHEMAS, "exports"]:
            try:
                (path / name).mkdir(parents=True, exist_ok=True)
            # a file in the path, permissions, a name too long: said as a write's error
            except OSError as exc:
                raise write_error(exc, path / name) from exc
        # where it is made: its stored paths are read under where it is later (`data.workspace_root`)
        marker = (json.dumps({"format": FORMAT, ROOT: str(path.resolve())}) + "\n").encode()
        atomic_write(path / MARKER, lambda handle: handle.write(marker))
        return cls(path)

    @classmethod
    def open_or_init(cls, path: str | Path) -> Workspace:
        return cls.init(path, exist_ok=True)

    @property
    def exports(self) -> Path:
        return self.path / "exports"

    @property
    def runs(self) -> Path:
        """``WS/runs``, where the tools put the run folders they name themselves (train's default --out, a round
        driver's iterates and chain); a link there is refused (NotAFileError naming it): they would be written
        wherever it points. An explicit ``--out`` is the user's, link or not."""
        check_not_link(self.path / "runs")
        return self.path / "runs"

    def read(
        self,
        name: str,
        columns: list[str] | None = None,
        where: tuple[str, Iterable[str] | pa.Array] | None = None,
        as_stored: bool = False,
    ) -> pa.Table:
        """All rows of table ``name`` (Arrow), one per id, of committed writes; ``columns``: read (and check)
        only these, plus the id; ``where`` (a column, and values): only the rows whose column holds one of the
        values, read part by part in batches, so that a large table's other rows are never held at once. The
        column of ``where`` need not be among ``columns``: it is read to filter, and left out of the result.

        The labels' annotator column holds one spelling of each labeller's name (`data.annotators.one_spelling`:
        a name stored in several Unicode spellings reads as the earliest stored; with ``where``, the earliest among
        the rows read), so that every reader counts one labeller; ``as_stored`` reads the names as stored (a merge
        copies rows as they are).

        To see rows with their parents, read children before parents (labels, pairs, completions, prompts): a row
        visible now stays visible, and its parents were committed with or before it (``READ_ORDER``)."""
        if where is not None:
            where = where[0], where_values(name, *where)
        named = name == "labels" and not as_stored and (columns is None or "annotator" in columns)
        extra = _extra_columns(columns, where and where[0], "created_at" if named else None)
        table = self._rows(name, None if columns is None else [*columns, *extra], where)
        table = one_spelling(table) if named else table
        return table.drop_columns(extra) if extra else table

    def _rows(self, name: str, columns: list[str] | None, where: tuple[str, pa.Array] | None) -> pa.Table:
        """What `read` reads, names as stored: the rows of table ``name``, of ``columns`` (None: all) plus the id;
        with ``where`` (a column and values), those whose column holds one of the values only."""
        return store.read_table(self.path, name, columns, where and part_reads.where_in(*where), self.roots)

    def read_each(self, name: str, columns: list[str], each: Callable[[pa.Table], pa.Table]) -> pa.Table:
        """What ``each`` makes of the rows of table ``name`` (``columns`` plus the id, checked as `read` checks
        them), given a batch of rows at a time, part by part: a smaller table with an ``id`` column (a digest of a
        text column: `data.spellings`), one row per id (the first), the table's rows never held at once."""
        return store.read_table(self.path, name, columns, each, self.roots)

    def frame(self, name: str) -> pd.DataFrame:
        return self.read(name).to_pandas()

    def ids(self, name: str) -> set[str]:
        return set(self.read(name, columns=["id"]).column("id").to_pylist())

    def append(
        self, records: Iterable[object], skip_existing: bool = False, compact: bool = True
    ) -> dict[str, int]:
        """Durably write records (any mix of data.records types); returns rows written per table.

        Records of several tables are one batch, visible whole or not at all. With ``skip_existing``, records whose
        id is already stored are left out, which makes imports and resumed jobs idempotent. With ``compact``, the
        tables written are compacted afterwards if they hold too many parts (see data.compaction).
        """
        return self.append_rows(rows_by_table(records), skip_existing=skip_existing, compact=compact)

    def append_rows(
        self, rows: Mapping[str, list[dict]], skip_existing: bool = False, compact: bool = True
    ) -> dict[str, int]:
        tables = {name: pa.Table.from_pylist(rows[name], schema=SCHEMAS[name]) for name in rows if rows[name]}
        return self.append_tables(tables, skip_existing=skip_existing, compact=compact)

    def append_tables(
        self, tables: Mapping[str, pa.Table], skip_existing: bool = False, compact: bool = True
    ) -> dict[str, int]:
        """``append`` for Arrow tables (rows with the same id inside one table are kept once). A label whose id is
        another item's label's, stored or in the write, is refused (`_refuse_reused_label_ids`), nothing written."""
        out = []
        for name in SCHEMAS:  # parents before children
            table = tables.get(name)
            if table is None or not table.num_rows:
                continue
            table, given = store.unique_ids(table), table
            ids = table.column("id").combine_chunks()
            # the stored rows of the write's ids only: a large table's others are never held
            if name == "labels":
                stored = self.read(name, ["item_id"], where=("id", ids))
                _refuse_reused_label_ids(self.path / name, given, stored)
            elif skip_existing:
                stored = self.read(name, ["id"], where=("id", ids))
            if skip_existing:
                table = table.filter(pc.invert(pc.is_in(ids, value_set=stored.column("id").combine_chunks())))
            if table.num_rows:
                out.append((name, table))
        store.write_tables(self.path, out, roots=self.roots)
        if compact:
            self.compact_written([name for name, _ in out])
        return {name: table.num_rows for name, table in out}

    def compact_written(self, names: list[str]) -> None:
        """What a writer does once its rows are committed: compact the tables it wrote that hold too many parts.
        A failure here loses nothing and undoes nothing, so it is a warning, never the write's error (an error would
        say the rows were not written): the next writer compacts again, as the app's background compactor does.
        The warning quotes what failed, never a WriteError's "nothing was written", which the complete write
        beside it would contradict. Within `compaction_after` of this workspace (this thread's), at its end."""
        waiting = vars(_AFTER).get("tables", {}).get(self.path.resolve())
        if waiting is not None:
            waiting.update(names)
            return
        for name in names:
            try:
                compaction.maybe_compact(self.path, name)
            except (OSError, PrefloopError) as exc:
                log.warning(
                    "%s: the write is complete; compacting %s afterwards failed (%s): nothing is lost, the next "
                    "write compacts it, or run `python -m data compact -w %s`",
                    self.path,
                    self.path / name,
                    failure_reason(exc),
                    self.path,
                )

    def write_part(self, name: str, table: pa.Table) -> Path:
        """Durably append rows to one table as one part, without compacting; returns the part's path."""
        return store.write_tables(self.path, [(name, table)], roots=self.roots)[0]

    def maybe_compact(self, *names: str) -> None:
        """Compact each table named that holds more parts than the bound (what writers do after writing)."""
        for name in names:
            compaction.maybe_compact(self.path, name)

    def compact(self) -> dict[str, compaction.Compacted]:
        """Merge each table's parts into one; returns, per table, its parts before and after and the dead writers'
        temp files removed (`compaction.Compacted`). A part that is a symlink
        or special file is refused first, in any table, as a read refuses it (`compaction.check_parts`)."""
        compaction.check_parts(self.path)
        return {name: compaction.compact(self.path, name) for name in SCHEMAS}

    def not_files(self) -> list[Path]:
        """Symlinks and other non-files among the workspace's parts and commit markers, and table or `batches`
        folders that are one (`validate` lists them)."""
        return compaction.not_files(self.path)

    def stray_line(self) -> str | None:
        """The files in the table folders that are no part of a table, so no read takes them (a `notes.txt`, a
        Parquet file copied in), named in one line (`validate` warns of them); None where there are none."""
        stray = [one_line(str(path.relative_to(self.path))) for path in compaction.stray_files(self.path)]
        if not stray:
            return None
        named = ", ".join(stray[:STRAY_SHOWN]) + (" ..." if len(stray) > STRAY_SHOWN else "")
        return (
            f"{one_line(str(self.path))}: {counted(len(stray), 'file')} in table folders not read: {named} (a table "
            "is its part-*.parquet files, which data import and the other commands write)"
        )

    def orphans(self) -> dict[str, list[Path]]:
        """Parts of batches whose writer died before committing them (invisible; `compact` removes them)."""
        return compaction.orphans(self.path)


@contextmanager
def compaction_after(workspace: Workspace) -> Iterator[None]:
    """The tables this thread writes to ``workspace`` in the block (`Workspace.compact_written`) compacted at its
    end, not as they are written: `data.import_write.import_lock` lets the import lock go first, so that another
    import need not wait for a compaction (which takes a lock of its own, `data.compaction`, and which readers and
    writers never wait for). Nested, the outermost block compacts."""
    path, held = workspace.path.resolve(), vars(_AFTER).setdefault("tables", {})
    if path in held:
        yield
        return
    held[path] = tables = set()
    try:
        yield
    finally:
        del held[path]
        workspace.compact_written(sorted(tables))  # a failure is a warning: rows written stay written


def refuse_a_stored_folder(path: Path, said: str = "", advice: str = "give a folder outside it") -> None:
    """Refuse a new workspace (or a train run's ``--out``, ``said`` naming the flag) in (or below) a folder of a
    workspace that holds its data (``-w ws/scores``, an empty table's folder; or the app's holds, whose folder may
    hold files only): its folders made the outer workspace fail `data validate`, as `check_out_folder` refuses an
    export there."""
    for inner in (resolved := path.resolve(), *resolved.parents):
        if inner.name in {*STORED_FOLDERS, HOLDINGS_FOLDER} and (inner.parent / MARKER).is_file():
            raise WorkspaceError(
                f"{said}{path}: in the {inner.name}/ folder of workspace {inner.parent}, whose files are its stored "
                f"data: {advice}"
            )


# what a path that is no regular file is, as `_refuse_a_file` names it
_SPECIAL = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


def _refuse_a_file(path: Path) -> None:
    """A file where the workspace should be: said as such (`init` there would not help), a FIFO, device or socket
    as what it is ("is a file" sent the user looking for a regular one)."""
    try:
        mode = path.stat().st_mode
    except OSError:  # nothing there (as `Path.exists` says it): one to make, or to be refused as missing
        return
    if not stat.S_ISDIR(mode):
        what = next((name for test, name in _SPECIAL if test(mode)), "a file")
        raise WorkspaceError(f"{path}: is {what}, not a workspace directory")


def _read_marker(marker: Path) -> dict:
    """A workspace's marker file, holding a ``format`` field; a damaged one (a hand edit, a stray write) is a
    WorkspaceError naming it, since every command opens the workspace first."""
    try:
        with open_regular(marker) as handle:
            meta = within_depth(json.load, handle)
    except NotAFileError as exc:
        raise WorkspaceError(str(exc)) from None
    except (UnicodeDecodeError, json.JSONDecodeError, TooDeep) as exc:
        raise WorkspaceError(f"{marker}: not valid JSON ({exc}); it should read {MARKER_TEXT}") from None
    if not isinstance(meta, dict):
        raise WorkspaceError(f"{marker}: not a JSON object; it should read {MARKER_TEXT}")
    if "format" not in meta:
        raise WorkspaceError(f'{marker}: no "format" field; it should read {MARKER_TEXT}')
    _check_root(marker, meta)
    return meta


def _check_root(marker: Path, meta: dict) -> None:
    """A ``root`` field that is no absolute folder (a hand edit): the first write would have replaced it without a
    word, or (a relative one) stored every path under where the workspace is now under it, relative."""
    if ROOT not in meta:  # an older version's marker: the first write records it
        return
    root = meta[ROOT]
    if not isinstance(root, str) or not os.path.isabs(root) or os.path.normpath(root) != root:
        raise WorkspaceError(
            f'{marker}: "root" {shown(root)} is not the absolute folder the workspace was made in; set it to that '
            "folder, or remove the field (the next write then records where the workspace is now)"
        )
    if holds_every_path(root):
        raise WorkspaceError(
            f'{marker}: "root" {json.dumps(root)} is {HOLDS_EVERY_PATH} (a hand edit?); set it to the folder the '
            "workspace was made in, or remove the field (the next write then records where the workspace is now)"
        )


def _refuse_reused_label_ids(folder: Path, labels: pa.Table, stored: pa.Table) -> None:
    """A SchemaError naming the first label id that ``labels`` (a write's) gives to two items, or to another item
    than ``stored`` (the stored labels of their ids) does. An id names one label of one item: a read keeps one row
    per id, a read of some items' labels keeps theirs, and a retraction (``supersedes``), a withdrawal's id and a
    merge all name a label by its id alone."""
    # the two columns as plain text: a table an API user gives may type them otherwise (nullable, large_string)
    keys = pa.schema([("id", pa.string()), ("item_id", pa.string())])
    rows = pa.concat_tables([table.select(keys.names).cast(keys) for table in (stored, labels)])
    items = rows.group_by("id").aggregate([("item_id", "count_distinct")])
    reused = items.filter(pc.greater(items.column("item_id_count_distinct"), 1)).column("id")
    if len(reused):
        id_ = reused[0].as_py()
        held = rows.filter(pc.equal(rows.column("id"), id_)).column("item_id")
        first, other = pc.unique(held).to_pylist()[:2]
        raise SchemaError(
            str(folder),
            f"label id {quoted(id_)} is given to item {quoted(other)}, but it names a label of item "
            f"{quoted(first)}: an id names one label of one item (leave it out, and a new one is drawn)",
            field="id",
        )


def _extra_columns(columns: list[str] | None, *needed: str | None) -> list[str]:
    """The ``needed`` columns a read of ``columns`` (None: all) must read besides them (a filter's column, the
    labels' created_at that `one_spelling` orders by) and leave out of what it returns."""
    if columns is None:
        return []
    return [column for column in dict.fromkeys(needed) if column and column not in ("id", *columns)]


def where_values(name: str, column: str, values: Iterable[str] | pa.Array) -> pa.Array:
    """``values`` of a read's ``where`` as an Arrow array of the type of table ``name``'s ``column``."""
    return (
        values if isinstance(values, pa.Array) else pa.array(list(values), SCHEMAS[name].field(column).type)
    )


def rows_by_table(records: Iterable[object]) -> dict[str, list[dict]]:
    """Records (any mix of data.records types) as rows per table, for `Workspace.append_rows`."""
    grouped: dict[str, list[dict]] = {name: [] for name in SCHEMAS}
    for record in records:
        grouped[TABLE_OF[type(record)]].append(to_row(record))
    return grouped
