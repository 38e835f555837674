"""What an import writes, and says it kept: the checked records appended in one write (rows already stored left
out: `stored_prompts` counts the file's prompts that keep their stored split or gold answer, `kept_lines` says
so), then one line in the workspace's import log (the file by its path and by its content's sha256, with the items
whose rankings, ratings and KTO labels it stored, which `imported_by` reads back to name the file in refusals of a
write that would change them) and the rows left out (``--on-error skip``) in a rejects file beside it, which
`logged_rejects` reads back (`data import --remove`). The rows are committed before the log is written, so a
failure there is a warning, as a merge's carrying of the logs is (`data.merging`): the import is complete, the
warning says what the missing line costs, and rerunning the import (which stores nothing twice) writes it.
`data.import_preview.ImportPreview` reads the workspace as that write will leave it, before it is made."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from data.annotators import IMPORT
from data.errors import counted
from data.files import (
    WriteError,
    atomic_write,
    check_not_link,
    failure_reason,
    folder_for_writing,
)
from data.import_labeller_counts import labels_by_labeller
from data.import_labels import IN_APP, labels_to_write
from data.import_log_lines import json_lines, read_alike, read_lines, read_rejects, rejects_name
from data.import_options import ImportOptions, logged_options
from data.in_place import NoLocksError, append_line, check_one_name, writers_turn
from data.records import Label, Prompt, has_gold, now
from data.schemas import SCHEMAS
from data.store import visible_parts
from data.workspace import Workspace, compaction_after

if TYPE_CHECKING:
    from data.imports import Loaded

log = logging.getLogger(__name__)

LOG_DIR = "imports"  # WS/imports/: log.jsonl (one line per import) and the rejects files beside it
LOG_FILE = "log.jsonl"
# WS/import.lock: held by one import or --remove (of any process) from its checks of what is stored to its rows'
# commit, so that two at once (of one file, or of files sharing prompts) neither store a row twice nor count
# another's, nor store labels that each one's checks would refuse beside the other's
IMPORT_LOCK = "import.lock"
_HOLDING = threading.local()  # ``paths``: the workspaces whose import lock this thread holds (`import_lock`)
# a child forked inside the block holds none of it (`data.in_place` closes its copy): its import takes the lock anew
os.register_at_fork(after_in_child=lambda: vars(_HOLDING).pop("paths", None))
_SAID_NO_LOCKS: set[Path] = set()  # the workspaces whose file system takes no locks, said so (`import_lock`)
# the fields of an import's log line listing the items whose imported labels of each task the file stored (or holds
# already): rank items, and answers (rated, KTO-labelled); `imported_by` reads them back
ITEM_FIELDS = {"rank": "ranked_items", "rate": "rated_items", "kto": "kto_items"}
# at most this many items a field: a 16-digit id takes 20 bytes of the line, so a field stays under ~2 MB (a
# 100,000-row KTO file's, whole), and the log, which every reader reads whole, does not grow by tens of MB with one
# huge file. A file labelling more logs its count in ``items_not_logged``; the field is null, and refusals of its
# items say FILE. The rows of ``gold_conflicts`` and ``opposite_rows`` (~60 bytes each) are listed up to as many,
# the first ones: their ``counts`` say how many there were
MAX_LOGGED_ITEMS = 100_000


def log_folder(workspace: Workspace) -> Path:
    """WS/imports/, where a writer of the import log checks before it writes anything: a symlink at the folder or
    at the log, or a hard link at the log (its append would be refused: `data.in_place`), is refused
    (NotAFileError)."""
    folder = workspace.path / LOG_DIR
    for path in (folder, folder / LOG_FILE):
        check_not_link(path)
    check_one_name(folder / LOG_FILE)
    return folder


def write_records(workspace: Workspace, batch: list[object], counts: Counter) -> Counter:
    """Append ``batch`` (rows already stored are left out, but labels `--remove` withdrew are written anew:
    ``restored_labels``; labeller rows' labels over a labeller's app label are not: ``labelled_in_app``,
    `data.import_labels.labels_to_write`); ``counts`` plus the rows written per table (``new_<table>``), the labels
    written per labeller (`labels_by_labeller`) and the file's prompts already stored (`stored_prompts`). What is
    stored is read and the rest written under `import_lock` (one import of any process at a time: two at once each
    stored every row, each saying so), which the caller holds already where it checked the rows against what is
    stored (`data.imports.guard_files`)."""
    log_folder(workspace)  # its symlinks refused before the records are written, not after
    with import_lock(workspace):
        stored = stored_prompts(workspace, batch)
        batch, kept = labels_to_write(workspace, batch)
        by_labeller = labels_by_labeller(workspace, batch)  # before the write: the labels it stores
        written = workspace.append(batch, skip_existing=True)  # compacted once the lock is let go
    new = Counter({f"new_{table}": n for table, n in written.items()})
    return counts + stored + kept + new + by_labeller


@contextmanager
def import_lock(workspace: Workspace) -> Iterator[None]:
    """The `writers_turn` of the workspace's `IMPORT_LOCK`, held by an import (or ``--remove``) from its checks of
    what is stored to its write; where the file system takes no locks, a warning (once a workspace: imports went so
    before the lock); where it is read-only, none (an import of rows all stored says so, as before the lock; one with
    rows to write is refused at its write).
    Taken again by the thread holding it (`write_records` within an import's checks and writes), it is held already.
    The tables written under it (`write_records`', a gold file's) are compacted once it is let go, not under it
    (`compaction_after`): another import need not wait for a compaction."""
    path, mine = workspace.path.resolve(), vars(_HOLDING).setdefault("paths", set())
    if path in mine:
        yield
        return
    with ExitStack() as held:
        held.enter_context(compaction_after(workspace))  # entered first, so left last: after the lock
        held.enter_context(writers_turn(workspace.path / IMPORT_LOCK, partial(_say_no_locks, path)))
        mine.add(path)
        try:
            yield
        finally:
            mine.discard(path)


def _say_no_locks(path: Path, exc: NoLocksError) -> None:
    """`import_lock` where the file system takes no locks: said once a workspace (a sampling job takes the lock for
    each chunk's write), and the import goes on, as imports went before the lock."""
    if path not in _SAID_NO_LOCKS:
        _SAID_NO_LOCKS.add(path)
        log.warning("%s: a second import at once would not wait for this one; run one at a time", exc)


def stored_state(path: str | Path) -> frozenset[str]:
    """What the workspace at ``path`` stores, as its tables' visible parts (none where there is no workspace yet): an
    import checked before it took `import_lock` checks its files again where this changed since (another import
    stored rows meanwhile), as its checks read what is stored (`data.imports.check_files`)."""
    tables = [Path(path) / name for name in SCHEMAS]
    return frozenset(
        f"{t.name}/{p.name}" for t in tables if t.is_dir() for p in visible_parts(t.parent, t.name)
    )


def stopped_import(exc: OSError, imported: list[Loaded], left: list[Loaded]) -> WriteError:
    """The error of an import of several files whose write of a later file failed (the disk filled up): the files
    before it are stored, their summaries printed; it and those after are not. Running the same command again
    finishes it: each file's write leaves out the rows already stored (`write_records`)."""
    names = ", ".join(str(item.path) for item in left)
    done = ", ".join(str(item.path) for item in imported)
    error = WriteError(
        f"writing {left[0].path} failed ({failure_reason(exc)}): nothing of {names} was written; {done} "
        f"{'was' if len(imported) == 1 else 'were'} imported (summary above): run the same command again to "
        "finish, it skips the rows already stored"
    )
    error.errno, error.reason = exc.errno, failure_reason(exc)
    return error


def stored_prompts(workspace: Workspace, batch: list[object]) -> Counter:
    """The prompts of ``batch`` already stored (``prompts_already_stored``): a prompt's id is its messages, so the
    stored row stays as it is, split and gold answer alike. Those whose stored split is not the one this import gives
    them count ``stored_split_kept``; those given a gold answer that is not the stored one (or where none is stored)
    ``stored_gold_kept``: never changed, but never silently (`kept_lines`). The new ones this import puts in the
    test split count ``new_test_prompts`` (`data.import_summary.split_line` says it), those with a gold answer
    ``new_gold_answers`` (stored in the prompt's row: no ``new_completions``)."""
    prompts = {record.id: record for record in batch if isinstance(record, Prompt)}
    if not prompts:
        return Counter()
    stored = workspace.read(
        "prompts", ["split", "gold"], where=("id", prompts)
    )  # theirs only, not every prompt's
    counts = Counter(prompts_already_stored=stored.num_rows)
    for id_, split, gold in zip(*(stored.column(c).to_pylist() for c in ("id", "split", "gold"))):
        counts["stored_split_kept"] += split != prompts[id_].split
        counts["stored_gold_kept"] += prompts[id_].gold is not None and gold != prompts[id_].gold
    kept = set(stored.column("id").to_pylist())
    new = [prompt for id_, prompt in prompts.items() if id_ not in kept]
    counts["new_test_prompts"] = sum(prompt.split == "test" for prompt in new)
    counts["new_gold_answers"] = sum(has_gold(prompt.gold) for prompt in new)  # a gold answer is its prompt's
    return +counts


def split_news(counts: Counter, asked: bool) -> Counter:
    """``counts`` as said to the user (the import log keeps them whole): prompts already stored keeping their split
    (``stored_split_kept``) are news only to an import that ``asked`` for a split (--split, --test-fraction, rows
    naming theirs); one asking none (README's `import alice.jsonl` after `import cands.jsonl --test-fraction 0.2`)
    was warned its prompts "keep their split, not the one this import gives them"."""
    return counts if asked else counts - Counter(stored_split_kept=counts["stored_split_kept"])


def kept_lines(counts: Counter) -> list[str]:
    """What an import left as it was stored (`stored_prompts`), or stored otherwise than its rows may have meant
    (``null_label``), one line each, for the user."""
    lines = []
    if counts["null_label"]:  # a Parquet file's gold rows beside KTO rows get the column's null, not no label
        lines.append(
            f"{counted(counts['null_label'], 'row')} with a null label: stored unlabelled, for the KTO app's "
            "labellers to label, not as gold (SFT) answers (in a Parquet or CSV file a row without a label, as a gold "
            "answer's beside KTO rows, holds a null one); to import gold answers, give them in a file of their own "
            "without a label column"
        )
    if counts["stored_split_kept"]:
        lines.append(
            f"{counts['stored_split_kept']} of the {counts['prompts_already_stored']} prompts already stored keep "
            "their split, not the one this import gives them (--split, --test-fraction or the rows' own): a "
            "prompt's split is set when it is first stored, and nothing moves it"
        )
    if counts["stored_gold_kept"]:
        lines.append(
            f"{counts['stored_gold_kept']} of the {counts['prompts_already_stored']} prompts already stored keep "
            "their stored gold answer (or none), not this file's: a stored prompt is never rewritten"
        )
    if counts[IN_APP]:
        lines.append(
            f"{counted(counts[IN_APP], 'label')} of labeller rows not stored ({IN_APP}): their labeller labelled "
            "its pair or answer in the app, and the app's label is kept, agreeing or not (an import never replaces "
            "one); to change it, label again in the app"
        )
    return lines


def log_import(workspace: Workspace, loaded: Loaded, counts: Counter, options: ImportOptions) -> Path | None:
    """One line in WS/imports/log.jsonl; the rows left out, if any, in a rejects file beside it (returned where it
    was written). The rows are stored by then: a failure here is a warning (`_warn_unlogged`), never the import's
    error, which would say that nothing was written."""
    rejects = None
    try:
        folder = log_folder(workspace)
        with folder_for_writing(folder, make=True) as fd:  # a link swapped in since log_folder: refused
            if loaded.rejects:
                name = folder / f"{now().strftime('%Y%m%dT%H%M%S%fZ')}-{loaded.path.stem}.rejects.jsonl"
                text = "".join(json.dumps(r) + "\n" for r in loaded.rejects).encode("utf-8")
                rejects = atomic_write(name, lambda handle: handle.write(text), dir_fd=fd)
            line = json.dumps(_log_entry(loaded, counts, options, rejects), default=str)
            append_line(folder / LOG_FILE, line, dir_fd=fd)
    except OSError as exc:
        _warn_unlogged(workspace, loaded, counts, rejects, exc)
    return rejects


def _log_entry(loaded: Loaded, counts: Counter, options: ImportOptions, rejects: Path | None) -> dict:
    return {
        "at": now().isoformat(),
        "file": str(loaded.path.resolve()),
        "path": str(loaded.path),  # as given: the file `ranked_by` names for `data import --remove FILE`
        "sha256": file_digest(loaded.path),  # its content: a copy elsewhere is the same file (`same_file`)
        "format": loaded.format,
        "source": options.source or loaded.path.stem,  # its answers' model, as `check_file` gives it
        "options": logged_options(options),
        "counts": dict(counts),
        "rejects": rejects.name if rejects else None,
        "gold_conflicts": loaded.gold_conflicts[:MAX_LOGGED_ITEMS],  # each row with the first of its prompt
        "opposite_rows": loaded.opposite_rows[:MAX_LOGGED_ITEMS],  # each row with the earlier one it reverses
        "columns_not_read": loaded.unread,
        **_labelled_fields(loaded),  # the items it labelled: `imported_by` reads them back
    }


def _labelled_items(loaded: Loaded) -> dict[str, set[str]]:
    """The items of ``loaded``'s imported labels by task (`ITEM_FIELDS`), stored by its import or held already: the
    `import` annotator's (a labeller row's KTO label is theirs, as an app label: `--remove` of its file would lift no
    refusal of another import's label)."""
    items: dict[str, set[str]] = {task: set() for task in ITEM_FIELDS}
    for record in loaded.records:
        if isinstance(record, Label) and record.task in items and record.annotator == IMPORT:
            items[record.task].add(record.item_id)
    return items


def _labelled_fields(loaded: Loaded) -> dict:
    """`ITEM_FIELDS` of ``loaded``'s log line, each its items sorted, or null past `MAX_LOGGED_ITEMS`, which
    ``items_not_logged`` then counts (by task)."""
    fields, over = {}, {}
    for task, items in _labelled_items(loaded).items():
        fields[ITEM_FIELDS[task]] = sorted(items) if len(items) <= MAX_LOGGED_ITEMS else None
        over |= {task: len(items)} if len(items) > MAX_LOGGED_ITEMS else {}
    return fields | {"items_not_logged": over}


def _warn_unlogged(
    workspace: Workspace, loaded: Loaded, counts: Counter, rejects: Path | None, exc: OSError
) -> None:
    """What an import whose log line failed left (its rows stored), what the missing line costs, and the repair:
    the same import again stores nothing twice (``prompts_already_stored``) and writes the line (and rejects file)."""
    items = _labelled_items(loaded)
    # the rows the workspace refused (`data.import_guard.REFUSED`): a --remove replays them while that stays so
    stays = {"rank_locked": "their items stay locked"} | {
        key[len("skipped_") :]: "the label that refused them stays stored"
        for key in counts
        if key.startswith("skipped_conflicting_stored_")
    }
    refused = sorted(reason for reason in stays if counts[f"skipped_{reason}"])
    locked, ranked = sum(counts[f"skipped_{reason}"] for reason in refused), len(items["rank"])
    labelled = len(items["rate"] | items["kto"])  # answers
    unwritten = "its rejects file and its line" if loaded.rejects and rejects is None else "its line"
    if locked:
        until = " and ".join(sorted({stays[reason] for reason in refused}))
        cost = (
            f"`data import --remove` of it refuses the {counted(locked, 'row')} it left out as {' or '.join(refused)}, as "
            f"labels never stored, unless given --on-error skip while {until}"
        )
    else:
        cost = "`data import --remove` of it works all the same (it reads the file, not the log)"
    if ranked:
        cost += (
            f", and the rank guard's refusals of answers to the {counted(ranked, 'rank item')} it ranked cannot name it "
            "(they say FILE)"
        )
    if labelled:
        cost += (
            f", and refusals of a rating or KTO label that differs from one it stored, of its {counted(labelled, 'answer')}, "
            "cannot name it (they say FILE)"
        )
    log.warning(
        "%s: imported, its rows are stored in %s; writing %s in the import log (%s) afterwards failed (%s): %s; "
        "run the same import again to write it (it stores nothing twice)",
        loaded.path,
        workspace.path,
        unwritten,
        workspace.path / LOG_DIR / LOG_FILE,
        failure_reason(exc),
        cost,
    )


def file_digest(path: Path) -> str:
    """The sha256 of the bytes of the file at ``path`` (of a `datasets` folder: of its files' names and bytes), which
    the import log keeps (``sha256``) to know a file by its content wherever it lies (`same_file`)."""
    path = Path(path)
    if not path.is_dir():
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path).as_posix()}\0{file_digest(file)}\0".encode())
    return digest.hexdigest()


def copy_warning(workspace: Workspace, loaded: Loaded, counts: Counter, source: str) -> str | None:
    """Where this import stored new answers of a file (`same_file`) an earlier import logged under another source
    (a copy named otherwise, another ``--source``), a warning: an answer's id holds its source, so they are copies."""
    try:  # the rows are stored: a log that cannot be read says nothing here (`log_import` warns of it)
        path, digest = str(loaded.path.resolve()), counts["new_completions"] and file_digest(loaded.path)
        lines = json_lines(log_folder(workspace) / LOG_FILE) if digest else []
    except OSError:
        return None
    earlier = [
        e for e in lines if not e.get("removed") and e.get("source") != source and same_file(e, path, digest)
    ]
    if not earlier:
        return None
    given = f" --source {source}" if source != loaded.path.stem else ""
    labels = f" and labels (`data import --remove {loaded.path}{given}` withdraws the labels)"
    return (
        f"the same content as {earlier[0].get('path')}, imported before as source {earlier[0].get('source')}: its "
        f"{counts['new_completions']} new answers are stored again as source {source}, with their own pairs"
        f"{labels if counts['new_labels'] else ''}"
    )


def same_file(entry: dict, file: str, digest: str | None) -> bool:
    """Whether the import log line ``entry`` is of the file resolved at ``file`` whose content is ``digest``: by
    content where both say it (a copy at another path is the file; the file changed at its path is another), else
    by the resolved path (a line logged before lines kept the digest)."""
    logged = entry.get("sha256")
    if isinstance(logged, str) and digest:
        return logged == digest
    return entry.get("file") == file


def logged_rejects(
    workspace: Workspace,
    path: Path,
    options: ImportOptions,
    fmt: str,
    reasons: Collection[str],
    digest: str | None,
) -> tuple[dict[int, str], set[int], list[tuple[int, str]], list[tuple[Path, int, str]]]:
    """The rows of ``path`` (its content ``digest``) that an import of it left out for one of ``reasons``, each with
    its reason, as the workspace's import log and its rejects files list them: an import of the same file
    (`same_file`: the same content, from any path) that read it as ``options`` and format ``fmt`` do (the source its
    rows were given, the file's name without ``--source``, and the format they were read in, detected or given);
    none where nothing was logged; a line naming its rejects file otherwise than by its name beside the log is
    refused (`rejects_name`). Then those of them every such import left out (none stored them: a line naming no
    rejects file, or one not read, left none out). With them, for the caller to name, what was not read: the log's
    lines passed over (`read_lines`: line number, why), and of those lines' rejects files, a file missing or a line
    passed over (`read_rejects`: file, line number, why)."""
    folder, file = workspace.path / LOG_DIR, str(Path(path).resolve())
    read_as, read_with = (options.source or Path(path).stem, fmt), logged_options(options)
    rows: dict[int, str] = {}
    every: set[int] | None = None  # the rows each import so far left out
    log = folder / LOG_FILE
    read, unread = read_lines(log)
    rejects_unread: list[tuple[Path, int, str]] = []
    for number, entry in read:
        source = (
            entry.get("source") or (entry.get("options") or {}).get("source") or Path(file).stem
        )  # older lines
        same = (source, entry.get("format")) == read_as and read_alike(entry, read_with)
        if entry.get("removed") or not same or not same_file(entry, file, digest):
            continue
        rejects: list[dict] = []
        if name := rejects_name(log, number, entry):
            rejects, not_read = read_rejects(log, number, name)
            rejects_unread += not_read
        mine = {r["row"]: r["reason"] for r in rejects if r["reason"] in reasons and r["row"] is not None}
        rows |= mine
        every = set(mine) if every is None else every & set(mine)
    return rows, every or set(), unread, rejects_unread


def ranked_by(workspace: str | Path, items: Iterable[str]) -> dict[str, str]:
    """The file whose import ranked each of ``items`` (rank items), as `imported_by` finds it."""
    return imported_by(workspace, "rank", items)


def imported_by(workspace: str | Path, task: str, items: Iterable[str]) -> dict[str, str]:
    """The file (its path as the import was given it) whose import stored the imported label of ``task`` (a key of
    `ITEM_FIELDS`) in force on each of ``items``, as the import log of the workspace at ``workspace`` says: the
    latest line whose field of the task holds the item, unless a ``--remove`` line since, of a file (`same_file`:
    its content, from any path) whose lines hold the item, withdrew it. Such a withdrawal retracts the item's
    imported label, whichever file stored it, where it is one of the file's (the same label stored twice is one);
    the log cannot say where it was not (a KTO label's id holds its row, so two files may hold two), and the item is
    not named then either: never a file whose withdrawal may not lift the refusal. An item no such line names
    (logged before lines said, merged without its log) is left out, and so is one a later line may hold but could
    not list (a null field, `MAX_LOGGED_ITEMS`)."""
    wanted = set(items)
    found: dict[str, str | None] = {}  # item -> the path of the latest line labelling it (None: may be any)
    # the lines labelling some of ``wanted``, with those (None: any)
    lines: list[tuple[dict, set[str] | None]] = []
    for entry in json_lines(Path(workspace) / LOG_DIR / LOG_FILE) if wanted else ():
        if entry.get("removed"):
            mine = [held for line, held in lines if same_file(entry, line.get("file"), line.get("sha256"))]
            gone = wanted if None in mine else set().union(*mine)
            found = {item: path for item, path in found.items() if item not in gone}
            continue
        held, path = _listed_items(entry, task, wanted), entry.get("path")
        if held != set() and isinstance(path, str):
            lines.append((entry, held))
            found |= dict.fromkeys(wanted if held is None else held, None if held is None else path)
    return {item: path for item, path in found.items() if path is not None}


def _listed_items(entry: dict, task: str, wanted: set[str]) -> set[str] | None:
    """Those of ``wanted`` the import log line ``entry`` lists in its field of ``task`` (none where it has no such
    field: logged before lines said); None where it labelled more than it lists (`items_not_logged`)."""
    listed, unlisted = entry.get(ITEM_FIELDS[task]), entry.get("items_not_logged")
    if isinstance(listed, list):
        return wanted.intersection(item for item in listed if isinstance(item, str))
    return None if isinstance(unlisted, dict) and task in unlisted else set()
