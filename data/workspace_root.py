"""Where a workspace was made, and its stored paths read wherever it is now.

The marker (``workspace.json``) records the absolute folder the workspace was made in (``root``; a workspace of an
older version, which recorded none, records where it is when this version first writes to it). Paths stored inside
the workspace keep that spelling: a copied or moved workspace (``cp -r``, rsync to a cluster node, one NFS mount
at two paths) reads each stored path under its recorded root as the same path under where it is now, and writes
each path under where it is now back under the recorded root. So every copy, and every mount, reads one spelling,
its own. Paths elsewhere (the hub's cache, a user's folders) are stored and read as they are; a path under the
recorded root is read as the copy's own, even one naming the original's folder.

The stored paths (`PATH_COLUMNS`): the manifest's model folders (``models.path``), the model of each answer
(``completions.model``), and the folder an LLM judge's or a reward model's annotator name holds
(``labels.annotator``: ``judge:FOLDER``, ``rm:FOLDER``). `data.store` respells them at its lowest read and write
(`read_new`, `write_tables`), so that every reader sees them one way; a file of the workspace that records a path
(a run's ``train_config.json``, excluded.json's judges named by their folders) reads it through `read_path(s)`;
excluded.json writes its names through `stored_paths`, a run's config records paths as given.

Each of these takes the workspace's `Roots` (where it was made, where it is now), which `data.workspace.Workspace`
works out from the marker it reads when it opens and keeps, so that its reads and writes read no marker again (each
read of a table that holds paths read it: the labels and answers at every poll of the annotate app).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from data.annotators import PREFIXES
from data.files import atomic_write, open_regular
from data.import_records import within_depth
from data.part_reads import Where, WhereIn

MARKER = "workspace.json"
ROOT = "root"  # the marker's field: the folder the workspace was made in, absolute and resolved
# table -> (its column holding paths, the prefixes a path there follows)
PATH_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "models": ("path", ("",)),
    "completions": ("model", ("",)),
    "labels": ("annotator", PREFIXES),
}
Respell = Callable[[pa.Table], pa.Table]
# why a workspace may not lie at the file system's root (`holds_every_path`), as its refusals say it
HOLDS_EVERY_PATH = (
    "the file system's root, which holds every path, so the workspace's own paths could not be told from "
    "others"
)


def holds_every_path(folder: str) -> bool:
    """Whether ``folder`` (absolute, resolved) is the file system's root: every absolute path lies under it, so a
    workspace made there would read a hub cache's paths as its own, and store its own under ``//``. No workspace
    is made there (`data.workspace.Workspace.existing`), and a marker recording it is refused."""
    return folder == os.sep


def _marker(root: Path) -> dict | None:
    """The marker of the workspace at ``root``; None where there is none (a folder of tables alone) or it does not
    read as an object: opening the workspace refuses it (`data.workspace`), naming it."""
    try:
        with open_regular(root / MARKER) as handle:
            meta = within_depth(json.load, handle)
    except FileNotFoundError:
        return None
    except ValueError:  # not JSON, not UTF-8
        return None
    return meta if isinstance(meta, dict) else None


@dataclass
class Roots:
    """Where a workspace was made and where it is now: the folder its marker records (None where it records none:
    one of an older version until its first write, a folder of tables alone) and its folder now, resolved.
    While ``made`` is None, `reading` and `writing` read the marker again (an older workspace records its root at
    its first write, this process's or another's) and keep the root once found: once recorded, it never changes."""

    made: str | None
    here: str


def marked_roots(root: Path, meta: object) -> Roots:
    """The `Roots` of the workspace at ``root`` whose marker holds ``meta`` (as read: `Workspace` reads it once)."""
    made = meta.get(ROOT) if isinstance(meta, dict) else None
    return Roots(made if isinstance(made, str) and made else None, str(root.resolve()))


def read_roots(root: Path) -> Roots:
    """The `Roots` of the workspace at ``root``, its marker read now (a caller that holds no `Workspace`)."""
    return marked_roots(root, _marker(root))


def _known(root: Path, roots: Roots | None) -> Roots:
    """``roots`` where they hold the recorded root; else the marker's, read now (and kept in ``roots``)."""
    if roots is not None and roots.made is not None:
        return roots
    found = read_roots(root)
    if roots is not None and found.made is not None:
        roots.made = found.made
    return found


def moved_path(value: str, old: str, new: str, prefixes: tuple[str, ...] = ("",)) -> str:
    """``value`` (a path after one of ``prefixes``) under folder ``new`` where it is under folder ``old``."""
    for prefix in prefixes:
        base = prefix + old
        if value == base or value.startswith(base + "/"):
            return prefix + new + value[len(base) :]
    return value


def respelled(table: pa.Table, name: str, old: str, new: str) -> pa.Table:
    """``table`` (rows of table ``name``) with each stored path under ``old`` as the same path under ``new``."""
    column, prefixes = PATH_COLUMNS.get(name, ("", ()))
    if column not in table.column_names:
        return table
    values = table.column(column)
    names = pc.unique(values)
    given = names.to_pylist()
    shown = [None if value is None else moved_path(value, old, new, prefixes) for value in given]
    if shown == given:
        return table
    at = table.schema.get_field_index(column)
    moved = pc.take(pa.array(shown, pa.string()), pc.index_in(values, value_set=names))
    return table.set_column(at, table.schema.field(at), moved)


def _unchanged(table: pa.Table) -> pa.Table:
    return table


def reading(
    root: Path, name: str, where: Where | None, roots: Roots | None = None
) -> tuple[Where | None, Respell]:
    """How a read of table ``name`` of the workspace at ``root`` (whose ``roots`` are given, or read from its
    marker where the table holds paths: `Roots`) respells its paths once a row (the copy's own: see the module
    docstring): (the ``where`` to read each part with, what to make of the rows read). A `WhereIn` of another column
    keeps its rows whatever the paths, so the rows it keeps are respelled after it (it still reads its column
    first); any other ``where`` (one of the paths, a digest of rows) is given them respelled."""
    if name not in PATH_COLUMNS:
        return where, _unchanged
    roots = _known(root, roots)
    made, here = roots.made, roots.here
    if made is None or made == here:
        return where, _unchanged
    respell = partial(respelled, name=name, old=made, new=here)
    if where is None or (isinstance(where, WhereIn) and where.column != PATH_COLUMNS[name][0]):
        return where, respell
    return (lambda table: where(respell(table))), _unchanged


def writing(root: Path, roots: Roots | None = None) -> Callable[[str, pa.Table], pa.Table]:
    """How a write to the workspace at ``root`` (whose ``roots`` are given, or read from its marker: `Roots`) stores
    the rows of a table (a name, rows): each path under where the workspace is now, under its recorded root. A
    workspace of an older version records where it is first."""
    if roots is not None and roots.made is not None:
        made, here = roots.made, roots.here
    else:
        meta = _marker(root)
        if meta is None:  # a folder of tables alone: nothing recorded, nothing to record
            return lambda name, table: table
        found = marked_roots(root, meta)
        made, here = found.made, found.here
        if made is None:
            text = (json.dumps({**meta, ROOT: here}) + "\n").encode()
            atomic_write(root / MARKER, lambda handle: handle.write(text))
            made = here
        if roots is not None:
            roots.made = made
    if made == here:
        return lambda name, table: table
    return lambda name, table: respelled(table, name, here, made)


def read_path(roots: Roots, path: str) -> str:
    """``path`` as a file of the workspace of ``roots`` records it (a run's ``train_config.json``), under where the
    workspace is now where it is under the recorded root."""
    return read_paths(roots, [path])[0]


def read_paths(roots: Roots, paths: Iterable[str], prefixes: tuple[str, ...] = ("",)) -> list[str]:
    """`read_path` of each of ``paths`` (each after one of ``prefixes``: excluded.json's ``judge:FOLDER``)."""
    made, here = roots.made, roots.here
    if made is None:
        return list(paths)
    return [moved_path(path, made, here, prefixes) for path in paths]


def stored_paths(roots: Roots, paths: Iterable[str], prefixes: tuple[str, ...] = ("",)) -> list[str]:
    """Each of ``paths`` (after one of ``prefixes``) as a file of the workspace of ``roots`` records it, as `writing`
    stores a table's: under the recorded root where it is under where the workspace is now (`read_paths` reads it
    back)."""
    made, here = roots.made, roots.here
    if made is None:
        return list(paths)
    return [moved_path(path, here, made, prefixes) for path in paths]
