"""What `python -m data validate` checks of a workspace (and a merge's check after its write): the references
between tables, the parts of interrupted batches, what is planted where the commands read (symlinks among the parts
and beside the tables, a hard link at a file written in place), and the import log's lines its readers pass over.
It reads the tables children first (workspace.READ_ORDER), as `data.stats` does, on Arrow columns.
"""

from __future__ import annotations

import os
import re
import stat
from contextlib import suppress
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from data.arena_runs import missing_answers
from data.errors import counted
from data.files import not_a_file_line
from data.gold import GOLD_LOCK
from data.import_log_lines import rejects_problems, unreadable_lines
from data.import_unlisted import unlisted_rows
from data.import_write import IMPORT_LOCK, LOG_DIR, LOG_FILE
from data.in_place import hard_link_line
from data.merge_left_out import unlisted_labels
from data.model_load import run_in_models_line
from data.ranking import rank_of
from data.selection import (
    ARENA_RECORD_COLUMNS,
    EXCLUDED_FILE,
    EXCLUDED_LOCK,
    arena_answers,
    arena_label_counts,
)
from data.stats import TABLES
from data.workspace import HOLDINGS_FOLDER, LOGOUTS_FILE, READ_ORDER, SESSION_KEY_FILE, Workspace

# The columns that reference other tables' rows (besides each table's ids)
REFERENCES = {
    # the answers it gave (and those it found ordinary); the prompts and models it names are what it found then
    "arenas": ARENA_RECORD_COLUMNS,
    "gold": ["task", "item_id"],
    "reflogps": [],  # a cache keyed by texts: its pair_id may be a ranking's or an edit's pair, in no table
    "completions": ["prompt_id", "parent_id"],
    "pairs": ["prompt_id", "completion_a", "completion_b"],
    "labels": ["task", "item_id", "ranking"],
    "models": ["parent_id"],
    "scores": ["pair_id", "model_id"],
}

ITERATE = re.compile(r"-iter\d+$")  # a round driver's iterate folder, WS/runs/<name>-iter<t>

# The files commands read beside the tables, each refusing a symlink or special file there as a part: the excluded
# labellers (stats, export, train), the import log (import, import --remove), and the app's session key and logout
# record (annotate); and the locks its writers wait on, refusing one there too: the admin tab's exclusions', every
# gold write's and every import's (`data.in_place.waiting_lock`: a hard link there is harmless). The folders are
# checked on opening, but for the app's holds (`HOLDINGS_FOLDER`), read at its start
BESIDE = (
    EXCLUDED_FILE,
    EXCLUDED_LOCK,
    GOLD_LOCK,
    IMPORT_LOCK,
    f"{LOG_DIR}/{LOG_FILE}",
    SESSION_KEY_FILE,
    LOGOUTS_FILE,
)


def planted_beside(root: Path) -> tuple[list[str], list[str]]:
    """A line for each file of `BESIDE` under ``root`` that is a symlink (never followed) or another kind of
    non-file; the app's `HOLDINGS_FOLDER` where it is no folder (a symlink, a file), else its entries that are no
    file (the app refuses to start on its view's); and apart, as they stop no reader of the tables, one for ``runs``
    or a round driver's lock that is a link or no folder or file (`chain_locks`: the drivers and train refuse it),
    then one for each file written in place (the import log, the app's holds and locks, the round drivers' locks:
    `data.in_place`) that is a hard link, which its writers refuse (`hard_link_line`: a lock a running app or driver
    holds is named as its lock, to be left while it runs)."""
    found, in_place = [], []
    for name in BESIDE:
        try:
            mode = os.lstat(root / name).st_mode
        except (FileNotFoundError, NotADirectoryError):
            continue
        found += [] if stat.S_ISREG(mode) else [root / name]
        in_place += [root / name] if stat.S_ISREG(mode) and name == f"{LOG_DIR}/{LOG_FILE}" else []
    holdings = root / HOLDINGS_FOLDER
    try:
        if not stat.S_ISDIR(os.lstat(holdings).st_mode):
            found.append(holdings)
        else:
            with os.scandir(holdings) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    files = in_place if entry.is_file(follow_symlinks=False) else found
                    files.append(Path(entry.path))
    except (FileNotFoundError, NotADirectoryError):
        pass
    # none for a file gone meanwhile (a temp file renamed)
    linked = [line for path in in_place if (line := hard_link_line(path))]
    locks, planted = chain_locks(root)
    linked += [line for path in locks if (line := hard_link_line(path, "round driver"))]
    return [not_a_file_line(path) for path in found], [not_a_file_line(path) for path in planted] + linked


def chain_locks(root: Path) -> tuple[list[Path], list[Path]]:
    """The round drivers' locks (``WS/runs/<name>.lock``, `generate.loop.folders.chain_lock`; a name ``a/b``'s in
    WS/runs/a), regular files (a hard link there, as a workspace copied by ``cp -al`` leaves it, is refused by the
    next run of that chain), and apart, a link or special file there, which it refuses too, and ``runs`` itself
    where it is no folder (a link, a file: `Workspace.runs` and the drivers refuse it), none then looked for through
    it. None through a link at a folder below ``runs``, which the drivers refuse as such, nor in an iterate folder
    (``<name>-iter<t>``), where no driver locks."""
    runs = root / "runs"
    locks, planted, folders = [], [], [runs]
    try:
        mode = os.lstat(runs).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return locks, planted
    if not stat.S_ISDIR(mode):
        return locks, [runs]
    while folders:
        with suppress(FileNotFoundError, NotADirectoryError), os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders += [] if ITERATE.search(entry.name) else [Path(entry.path)]
                elif entry.name.endswith(".lock"):
                    (locks if entry.is_file(follow_symlinks=False) else planted).append(Path(entry.path))
    return sorted(locks), sorted(planted)


def integrity_problems(workspace: Workspace, whole: bool = True) -> list[str]:
    """`_checked`' problems."""
    return _checked(workspace, whole)[0]


def validate_workspace(workspace: Workspace) -> tuple[list[str], dict[str, int]]:
    """`data validate`'s problems (`_checked`), and where there are none, the labels in force that other tasks
    hold on the arena's answers, by task (`arena_label_counts`), found in the tables the check read."""
    problems, tables = _checked(workspace)
    if problems:  # a damaged table is not looked through again
        return problems, {}
    return problems, arena_label_counts(tables["labels"], arena_answers(tables["pairs"], tables["arenas"]))


def _checked(workspace: Workspace, whole: bool = True) -> tuple[list[str], dict[str, pa.Table]]:
    """Dangling references between tables, and parts of interrupted batches (each table's own rows are
    validated on read: with ``whole``, every column; else the ids and references only, which is all a merge's
    check after its write needs: the texts are never held); symlinks planted among the parts, which are refused
    unread, and where the commands read beside the tables (`BESIDE`: these stop the check; a link at ``runs`` or a
    round driver's lock, which no reader of the tables opens, and a hard link at a file written in place do not);
    with ``whole``, the import log's lines and rejects files its readers cannot read (`unreadable_lines`,
    `rejects_problems`). With the problems, the tables read (none where a symlink stopped it)."""
    planted, linked = planted_beside(workspace.path)
    planted = [_not_a_part_line(workspace.path, path) for path in workspace.not_files()] + planted
    if planted:  # refused by the readers, which read no further
        return planted + linked, {}
    tables = _tables(workspace, whole)
    # a hard link, or a link in WS/runs, stops no read: the tables are checked all the same
    problems = linked + _dangling(tables)
    problems += _import_log_problems(workspace.path / LOG_DIR / LOG_FILE) if whole else []
    for batch, parts in sorted(workspace.orphans().items()):
        tables_hit = ", ".join(sorted({path.parent.name for path in parts}))
        problems.append(
            f"batch {batch}: {counted(len(parts), 'part')} in {tables_hit} of a write that was interrupted before it "
            "committed (not visible to readers); `python -m data compact` removes them — rerun the import or job"
        )
    return problems, tables


def _not_a_part_line(root: Path, path: Path) -> str:
    """`not_a_file_line` ("remove it"), but for a train run an older version left in ``root``'s models/ folder (its
    default --out then), whose checkpoints or model that advice would throw away: as `train` says it
    (`run_in_models_line`: move it to runs/, and resume it)."""
    if path.parent == root / "models" and path.is_dir() and not path.is_symlink():
        line = run_in_models_line(path, root / "runs")
        if line:
            return line
    return not_a_file_line(path)


def dangling_references(workspace: Workspace) -> list[str]:
    """The rows of ``workspace`` whose references name no row of it (`_dangling`), and only those: what a merge
    of it would copy (parts of an interrupted write are read by nobody, a hard link stops no read)."""
    return _dangling(_tables(workspace, whole=False))


def _tables(workspace: Workspace, whole: bool) -> dict[str, pa.Table]:
    """Every table's rows (gold and the reference log-probs too): with ``whole`` every column, else the ids and
    references only."""
    return {
        name: workspace.read(name, None if whole else REFERENCES.get(name, []))
        for name in READ_ORDER
        if name in TABLES or name in REFERENCES
    }


def _dangling(tables: dict[str, pa.Table]) -> list[str]:
    """A line for each row of ``tables`` whose reference names a row not there."""
    ids = {name: table.column("id").combine_chunks() for name, table in tables.items()}
    problems: list[str] = []

    def missing(table: str, rows: pa.Table, column: str, known: str) -> None:
        bad = rows.filter(pc.invert(pc.is_in(rows.column(column), value_set=ids[known])))
        for row_id, value in zip(bad.column("id").to_pylist(), bad.column(column).to_pylist()):
            problems.append(f"{table} {row_id}: {column} {value} does not exist")

    labels, models = tables["labels"], tables["models"]
    missing("completion", tables["completions"], "prompt_id", "prompts")
    completions = tables["completions"]  # an edit's parent: the completion it was edited from
    missing(
        "completion",
        completions.filter(pc.is_valid(completions.column("parent_id"))),
        "parent_id",
        "completions",
    )
    for column in ("prompt_id", "completion_a", "completion_b"):
        missing("pair", tables["pairs"], column, "prompts" if column == "prompt_id" else "completions")
    missing("pairwise label", labels.filter(pc.equal(labels.column("task"), "pairwise")), "item_id", "pairs")
    missing("kto label", labels.filter(pc.equal(labels.column("task"), "kto")), "item_id", "completions")
    ranked = labels.filter(pc.is_valid(labels.column("ranking")))
    known = set(ids["completions"].to_pylist()) if ranked.num_rows else set()
    for row_id, ranking in zip(ranked.column("id").to_pylist(), ranked.column("ranking").to_pylist()):
        problems += [
            f"rank label {row_id}: completion {c} does not exist" for c in rank_of(ranking) if c not in known
        ]
    missing("rate label", labels.filter(pc.equal(labels.column("task"), "rate")), "item_id", "completions")
    missing("model", models.filter(pc.is_valid(models.column("parent_id"))), "parent_id", "models")
    for column in ARENA_RECORD_COLUMNS:  # the arena's answers (evaluation data) and those it left ordinary
        problems += missing_answers(tables["arenas"], ids["completions"], column)
    missing("score", tables["scores"], "pair_id", "pairs")
    missing("score", tables["scores"], "model_id", "models")
    # a gold event names its item: a pair (pairwise) or a completion (kto, rate); a rank item's id is derived
    gold = tables["gold"]
    for task, known in (("pairwise", "pairs"), ("kto", "completions"), ("rate", "completions")):
        missing(f"{task} gold", gold.filter(pc.equal(gold.column("task"), task)), "item_id", known)
    return problems


def _import_log_problems(log: Path) -> list[str]:
    """What the import log's readers cannot read at ``log``: its lines they pass over, what it logged lost to them;
    a rejects file missing, or its line passed over; rows left out that no rejects file lists, and labels a merge
    left out that no left-out file lists."""
    passed_over = [
        f"{log}, line {number}: {why}: what it logged is lost to the import log's readers (`data import --remove`, "
        "`data merge`, refusals that name a file); delete the line, then import its file again to log it anew (that "
        "stores nothing twice)"
        for number, why in unreadable_lines(log)
    ]
    return passed_over + rejects_problems(log) + unlisted_rows(log) + unlisted_labels(log)
