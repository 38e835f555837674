"""`ImportPreview`: the workspace as an import's write (`data.import_write.write_records`) will leave it, read before
that write is made, for the checks a command runs before it writes anything (`generate --prompts`, the round
drivers, the rank guard)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from data import store
from data.import_labels import labels_to_write
from data.schemas import SCHEMAS
from data.workspace import Workspace, rows_by_table


class ImportPreview(Workspace):
    """The workspace at ``path`` as `write_records` will leave it once ``records`` (an import's) are written, for the
    checks a command runs before it writes anything (`generate --prompts`, the round drivers): the rows ``stored``
    holds (None: the workspace is not created yet, so none), then the records it does not hold yet (labels
    `--remove` withdrew written anew, labeller rows' over app labels left out, as the import does). Read-only: a write raises, so a check cannot write."""

    def __init__(self, path: str | Path, stored: Workspace | None, records: list[object]):
        self.path = Path(path)  # the real one: messages name it (nothing is read or written there through it)
        self.stored = stored
        batch = labels_to_write(stored, records)[0] if stored is not None else records
        self.added = {
            name: store.unique_ids(pa.Table.from_pylist(rows, schema=SCHEMAS[name]))
            for name, rows in rows_by_table(batch).items()
        }

    def _rows(self, name: str, columns: list[str] | None, where: tuple[str, pa.Array] | None) -> pa.Table:
        """`Workspace.read`'s rows (names as stored) of the workspace as the import will leave it: the stored ones,
        then the import's that are not stored yet; `read` spells the labellers' names over them all, as it will."""
        added = self._added(name, columns, where)
        if self.stored is None:
            return added
        table = self.stored.read(name, columns, where, as_stored=True)
        new = _unstored(added, table)
        return pa.concat_tables([table, new.select(table.column_names).cast(table.schema)])

    def read_each(self, name: str, columns: list[str], each: Callable[[pa.Table], pa.Table]) -> pa.Table:
        """`Workspace.read_each` of the workspace as the import will leave it: what ``each`` makes of the stored
        rows, then of the import's that are not stored yet."""
        added = self._added(name, columns)
        if self.stored is None:
            return store.unique_ids(each(added))
        held = self.stored.read(name, ["id"], where=("id", added.column("id").combine_chunks()))
        made = [self.stored.read_each(name, columns, each), each(_unstored(added, held))]
        return store.unique_ids(pa.concat_tables(made))

    def _added(
        self, name: str, columns: list[str] | None, where: tuple[str, pa.Array] | None = None
    ) -> pa.Table:
        """The import's rows of table ``name``, of ``columns`` (None: all) plus the id; with ``where``, those whose
        column holds one of the values only."""
        added = self.added[name]
        if where is not None:
            added = added.filter(pc.is_in(added.column(where[0]), value_set=where[1]))
        return added if columns is None else added.select(columns if "id" in columns else ["id", *columns])

    def append_tables(self, *args, **kwargs):
        raise TypeError(f"{self.path}: a preview of an import is read-only")

    write_part = maybe_compact = compact = append_tables


def _unstored(added: pa.Table, stored: pa.Table) -> pa.Table:
    """The rows of ``added`` whose id is not among ``stored``'s."""
    held = stored.column("id").combine_chunks()
    return added.filter(pc.invert(pc.is_in(added.column("id"), value_set=held)))
