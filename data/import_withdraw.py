"""`python -m data import --remove FILE`: withdraw the labels that importing FILE stored (preferences, KTO labels,
rankings, ratings of the `import` annotator), as `data gold --remove ITEM` withdraws a gold answer.

A withdrawal is an event, never a deletion: one retraction per label (``retracted``, ``supersedes`` the label; its id
a hash of the label's, so two runs at once write it once), after which the label is no longer its annotator's latest
record on the item. Every reader that takes the latest record (exports, `train`, stats: `data.aggregate`; the apps:
`data.selection.imported_items`) stops counting it, the apps serve its item to labellers, and a rank item it ranked
takes new answers again (`data.rank_guard`).

Which labels are the file's is what its rows make, read as `data import` reads them (with the same ``--source``,
``--format``, ``--rubric``, ``--max-record-bytes``, ``--non-text`` and ``--on-error``, whose skip leaves out the
rows the workspace refuses, `data.import_guard.skip_refused`: a label differing from a stored import's, an answer
the rank guard refuses; and with the workspace's spellings: an import label's id is a hash of its content). Every
file is checked before anything is written: a row whose label is not stored is an error naming the file and row (the
file was not imported into this workspace, or with other options), as is a file whose rows make no label; but a row
the import log lists among those an import of the file (of its content, from any path, with the same source, format
and `data.import_log_lines.READ_OPTIONS`: an import read otherwise made other labels of its rows) left out so
(`data.import_guard.REFUSED`, `data.import_write.logged_rejects`) is counted, skipped at import, and passed over:
the rank item its answer would join was locked then, or another import's label held its item, and may be no longer
(that label withdrawn first), so the row reads as a label now. Such a row's label stored all the same, where every
import of the file left the row out, is another file's (a labeller's label's id is its content, not its row):
counted so, never withdrawn; one such import storing the row makes it the file's. A label not in force (withdrawn
already, or another import's in force on its item) is counted, not written again, so a rerun adds nothing; importing
the file again puts the labels back (`data.import_labels.renew_withdrawn`). A labeller row's label never stored
whose labeller holds a label made in the app on its pair was left out by the import
(`data.import_labels.keep_app_labels`): counted ``labelled_in_app`` and passed over, never withdrawn. So is a row
whose label `data merge` left out of a workspace merged in (`stored_train`, `conflicting_label`, ...: the import log
records it, `data.merge_left_out`): it was stored there, never here; counted by its reason. Where a merge's left-out
file is missing (or a line of it not read), a row whose label is not stored may be one it lists: the refusal of that
row names the file and the log's line naming it (`data validate`'s fix), as nothing else can tell it from a row of a
file never imported here; a file none of whose rows that touches is withdrawn.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from data.annotators import IMPORT
from data.errors import counted, one_line
from data.files import failure_reason, folder_for_writing
from data.gold_agreement import quoted
from data.import_guard import skip_refused
from data.import_labels import IN_APP, import_history, is_of, made_in_app
from data.import_log_lines import first_shown, passed_over_warning
from data.import_options import ImportOptions, logged_options
from data.import_rank_rate import Labelled
from data.import_records import RecordError
from data.import_unlisted import LOGGED, READ_SINCE
from data.import_withdraw_spellings import NOUN, stored_spellings
from data.import_write import LOG_DIR, LOG_FILE, file_digest, import_lock, log_folder, logged_rejects
from data.imports import Loaded, check_file
from data.in_place import append_line
from data.merge_left_out import merge_left_out
from data.rank_rate_rows import NA_RATING
from data.records import Label, now, withdrawal_id
from data.schemas import SchemaError
from data.spellings import Spellings
from data.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileLabels:
    """The labels one file's import makes, each with the row (and field, for a ranking or rating) it came from;
    ``locked``: the rows an import of the file left out as the workspace refused them (`REFUSED`: its log says),
    ``left_out``: those this reading left out (``--on-error skip``: so, or as bad rows, an empty answer); each by
    row, with its reason."""

    path: Path
    labels: dict[str, Labelled]  # label id -> the label and where
    locked: Mapping[int, str] = field(default_factory=dict)
    left_out: Mapping[int, str] = field(default_factory=dict)
    digest: str | None = None  # the sha256 of its content, as the import log keeps it (`file_digest`)
    log_passed_over: tuple[tuple[int, str], ...] = ()  # the import log's lines not read (`logged_rejects`)
    # of its lines' rejects files, one missing or a line not read: file, line number, why (`logged_rejects`)
    rejects_not_read: tuple[tuple[Path, int, str], ...] = ()
    # of ``labels``' ids, those a merge left out (stored in the workspace merged in), with why (`merge_left_out`)
    merged_out: Mapping[str, str] = field(default_factory=dict)
    # of ``labels``' ids, those whose every row every import of the file left out (`locked`), with why: a label
    # stored all the same is another file's (a labeller's label's id is its content, not its row), never withdrawn
    never_stored: Mapping[str, str] = field(default_factory=dict)
    # each of ``labels``' ids -> the ids a merge may have recorded it left out under: its own (`Labelled.ids`), and a
    # labeller row's on another stored pair (answer) over its texts (`LabelledPairs.elsewhere`)
    merge_ids: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # of the merges' left-out files, one missing or a line not read: file, line number, why (`merge_left_out`)
    left_out_not_read: tuple[tuple[Path, int, str], ...] = ()
    # its answers rated N/A, which its import stored without their rating (`data.rank_rate_rows.NA_RATING`)
    na_rating: int = 0


@dataclass(frozen=True)
class Withdrawal:
    """What withdrawing one file's labels writes (``retractions``) and finds withdrawn already."""

    path: Path
    retractions: list[Label]
    already: int
    # rows the import left out (`REFUSED`, bad rows), by reason
    skipped: Counter = field(default_factory=Counter)
    merged_out: Counter = field(default_factory=Counter)  # rows whose labels a merge left out, by reason
    na_rating: int = 0  # answers rated N/A, whose rating its import did not store (`FileLabels.na_rating`)

    def line(self) -> str:
        tasks = Counter(label.task for label in self.retractions)
        shown = ", ".join(f"{NOUN[task]}s {n}" for task, n in sorted(tasks.items()))
        already = f"; {self.already} withdrawn already" if self.already else ""
        already += _rows(self.skipped, "skipped at import", "never stored")
        already += _rows(self.merged_out, "left out by a merge", "never stored here")
        if self.na_rating:
            already += f"; {counted(self.na_rating, 'answer')} rated N/A: the import stored no rating"
        # a file imported before its name's newline was refused (`import_options.check_source_name`): one line still
        name, shown = one_line(str(self.path)), f" ({shown})" if shown else ""
        return f"withdrew the labels of {name}: {len(self.retractions)}{shown}{already}"


def _rows(reasons: Counter, what: str, so: str) -> str:
    """``; N rows <what> (<reason>[ n], ...), <so>``, for the rows of ``reasons`` (reason -> rows); "" for none."""
    if not reasons:
        return ""
    named = [f"{r} {n}" if len(reasons) > 1 else r for r, n in sorted(reasons.items())]
    return f"; {counted(reasons.total(), 'row')} {what} ({', '.join(named)}), {so}"


def file_labels(
    paths: Sequence[Path], options: ImportOptions, workspace: Workspace, spellings: Spellings
) -> list[FileLabels]:
    """The labels each of ``paths`` makes (`_file_labels`), with those a merge left out (`FileLabels.merged_out`),
    found in one read of the import log's left-out files for all the files (`merge_left_out`, holding only their
    labels' ids: such a file may list millions); writes nothing."""
    files = [_file_labels(path, options, workspace, spellings) for path in paths]
    recorded, unread = merge_left_out(
        workspace, {i for file in files for ids in file.merge_ids.values() for i in ids}
    )
    return [
        replace(file, merged_out=_merged_out(file, recorded), left_out_not_read=tuple(unread))
        for file in files
    ]


def _merged_out(file: FileLabels, recorded: Mapping[str, str]) -> dict[str, str]:
    """Of ``file``'s labels, those a merge left out (``recorded``: `merge_left_out`), each with why."""
    found = {
        label: next((recorded[i] for i in ids if i in recorded), None)
        for label, ids in file.merge_ids.items()
    }
    return {label: reason for label, reason in found.items() if reason}


def _file_labels(
    path: Path, options: ImportOptions, workspace: Workspace, spellings: Spellings
) -> FileLabels:
    """The labels ``path``'s rows make, read as `data import` reads them (``options``, and the ``workspace``'s
    ``spellings``: the import gave a near-copy of a stored text the stored one before any id was made; with
    ``--on-error skip``, the rows the rank guard refuses left out, as the import left them out, `rank_locked`),
    each row's under the spelling of its texts they are stored under (`stored_spellings`: a merge may have brought
    a spelling the import did not see); not yet those a merge left out (`file_labels`); writes nothing."""
    refused: Mapping[int, RecordError] = MappingProxyType({})
    # a labeller row's label id -> its ids on the other pairs of its texts
    elsewhere: dict[str, tuple[str, ...]] = {}
    rows_of: dict[str, set[int]] = {}  # a label id -> the rows making it (the same label twice is one)

    def read(spelled: Spellings) -> tuple[Loaded, dict[str, Labelled]]:
        found: dict[str, Labelled] = {}

        def on_row(fmt: str, row: int, example: object, records: list[object], questions: object) -> None:
            for record in records:
                if isinstance(record, Label):
                    found.setdefault(record.id, Labelled(record, "", row, ""))
                    rows_of.setdefault(record.id, set()).add(row)

        # no KTO conflict check: an import before it stored both labels of an answer, the later in force
        loaded = check_file(path, options, on_row, refused=refused, spellings=spelled, kto_conflicts=False)
        # rankings, ratings, KTO labels: with the field they came from
        for labelled in loaded.labelled.values():
            found[labelled.label.id] = labelled
            rows_of.setdefault(labelled.label.id, set()).add(labelled.row)
        theirs = (labelled.label for labelled in found.values() if labelled.label.annotator != IMPORT)
        elsewhere.update((label.id, spelled.pairs.elsewhere(label)) for label in theirs)
        return loaded, found

    def recheck(_: Path, rows: Mapping[int, RecordError]) -> Loaded:
        nonlocal refused, found
        refused = rows  # left out of every reading after: a row refused now made labels at the read before
        loaded, found = read(spellings)
        return loaded

    loaded, found = read(spellings)
    if options.on_error == "skip":
        (loaded,) = skip_refused(workspace, [loaded], recheck, replay=True)
    found = stored_spellings(workspace, str(path), read, spellings, loaded, found)
    ids = {x.label.id: (*x.ids, *elsewhere.get(x.label.id, ())) for x in found.values()}
    return _as_logged(workspace, options, loaded, found, rows_of, ids)


def _as_logged(
    workspace: Workspace,
    options: ImportOptions,
    loaded: Loaded,
    found: dict[str, Labelled],
    rows_of: Mapping[str, set[int]],
    ids: Mapping[str, tuple[str, ...]],
) -> FileLabels:
    """The `FileLabels` of the file ``loaded`` read as its import did (``options``), of its labels ``found`` (each
    made by the rows ``rows_of`` says; ``ids``: `FileLabels.merge_ids`), with what the import log says of its rows:
    those its imports left out as the workspace refused them (`logged_rejects`), a label whose every row they left
    out never stored by it."""
    digest = file_digest(loaded.path)
    locked, every, unread, rejects_unread = logged_rejects(
        workspace, loaded.path, options, loaded.format, (*LOGGED, *READ_SINCE), digest
    )
    never = {i: locked[x.row] for i, x in found.items() if rows_of.get(i, {x.row}) <= every}
    return FileLabels(
        Path(loaded.path),
        found,
        locked,
        {reject["row"]: reject["reason"] for reject in loaded.rejects},
        digest,
        tuple(unread),
        tuple(rejects_unread),
        {},
        never,
        ids,
        na_rating=loaded.counts[NA_RATING],
    )


def passed_over_lines(workspace: Workspace, files: list[FileLabels], shown: int) -> list[str]:
    """What reading the import log for ``files`` did not read, as `data validate` names it: the log's lines its
    readers pass over (`FileLabels.log_passed_over`: each file's read of it finds them), counted and named, the
    first ``shown`` (`passed_over_warning`); then, of the rejects files of the lines logging the files' imports, a
    file missing or a line not read (`FileLabels.rejects_not_read`), so too. A row an import left out that such a
    line (or file) lists reads as a label not stored."""
    unread = sorted({line for file in files for line in file.log_passed_over})
    log = workspace.path / LOG_DIR / LOG_FILE
    left = "not read for the rows imports left out"
    lines = [passed_over_warning(log, unread, shown, left, "--remove again")]
    if rejects := sorted({line for file in files for line in file.rejects_not_read}):
        them = "it" if len(rejects) == 1 else "them"
        named = first_shown([f"{path}, line {number}: {why}" for path, number, why in rejects], shown)
        lines.append(
            f"rejects files {left}: {counted(len(rejects), 'problem')}, a row listed there reads as a label not "
            f"stored (fix {them} as `data validate -w {workspace.path}` says, then --remove again): {named}"
        )
    return [line for line in lines if line]


def _missing(workspace: Workspace, file: FileLabels, labelled: Labelled) -> SchemaError:
    """The error of a row of ``file`` whose label is not stored and that nothing says was left out; where a merge's
    left-out file was not read (`FileLabels.left_out_not_read`), the label may be one it lists: named, with the fix."""
    label = labelled.label
    what = NOUN[label.task]
    if label.task == "rank":
        what += f" of rank item {label.item_id}"
    elif label.task == "rate":
        what += f" of the answer {quoted(labelled.text)}"
    message = f"its {what} is not stored in {workspace.path}, so there is none to withdraw: "
    if unread := file.left_out_not_read:
        (path, number, why), more = unread[0], len(unread) - 1
        also = f" (and {counted(more, 'more problem')})" if more else ""
        message += (
            f"a merge may have left it out, but {path}, line {number}: {why}{also}, so the labels merges left out "
            f"are not all known: fix that as `data validate -w {workspace.path}` says, then --remove again."
        )
    else:
        message += (
            "was the file imported there, with the same --source, --format, --rubric, --max-record-bytes and "
            "--non-text?"
        )
    return SchemaError(
        str(file.path), f"{message} Nothing was withdrawn", labelled.row, labelled.field or None
    )


def plan_withdrawals(workspace: Workspace, files: list[FileLabels]) -> list[Withdrawal]:
    """Per file, the retractions of its labels in force (each once over all the files), and the rows its import
    left out (`FileLabels.locked`, and those this reading left out: `FileLabels.left_out`) counted, as are those
    whose labels a merge left out (`FileLabels.merged_out`); a SchemaError names the first file whose rows make no
    label (nor rate an answer N/A: `FileLabels.na_rating`), or the first row whose label is not stored (and not
    left out). Writes nothing."""
    items = {labelled.label.item_id for file in files for labelled in file.labels.values()}
    history = import_history(workspace, items)
    planned: set[str] = set()
    out = []
    for file in files:
        if not file.labels and not file.na_rating:
            raise SchemaError(
                str(file.path),
                "no row holds a label (a preference, KTO label, ranking or rating): its import stored none to "
                "withdraw",
            )
        # rows left out now (`--on-error skip`): their answers are not stored, so neither are their labels,
        # whether or not a log lists them (a log deleted, or not carried by an older version's merge)
        retractions, already, skipped, merged_out = [], 0, dict(file.left_out), {}
        for labelled in file.labels.values():
            label = labelled.label
            records = history.get((label.item_id, label.task, label.annotator), [])
            if not any(is_of(id_, record) for record in records for id_ in labelled.ids):
                at_import, reason = _left_out(workspace, file, labelled, records)
                (skipped if at_import else merged_out)[labelled.row] = reason
                continue
            if reason := file.never_stored.get(label.id):  # stored, but by another file: not this one's
                skipped[labelled.row] = reason
                continue
            latest = records[-1]
            if (
                latest["retracted"]
                or not any(is_of(id_, latest) for id_ in labelled.ids)
                or latest["id"] in planned
            ):
                already += 1  # withdrawn before (or another import's label is in force there)
                continue
            planned.add(latest["id"])
            retractions.append(_retraction(label, latest["id"]))
        out.append(
            Withdrawal(
                file.path,
                retractions,
                already,
                Counter(skipped.values()),
                Counter(merged_out.values()),
                file.na_rating,
            )
        )
    return out


def _retraction(label: Label, latest: str) -> Label:
    """The retraction of the record ``latest`` (its id), in force on ``label``'s item, by ``label``'s annotator: the
    import's, or a labeller row's (`data.import_labellers`)."""
    item, annotator, task = label.item_id, label.annotator, label.task
    return Label(item, annotator, task, None, retracted=True, supersedes=latest, id=withdrawal_id(latest))


def _left_out(
    workspace: Workspace, file: FileLabels, labelled: Labelled, records: list[dict]
) -> tuple[bool, str]:
    """Why the label of ``labelled`` (of ``file``; ``records``: its item's history) is not stored here, with
    whether the import left its row out: (True, reason), or a merge the label (False, reason:
    `FileLabels.merged_out`); a SchemaError where nothing says it was left out (`_missing`)."""
    if any(map(made_in_app, records)):  # the import left it out: the labeller's app label held the pair
        return True, IN_APP
    # the import left its row out: the rank item its answer would join was locked then (`REFUSED`: or so)
    if labelled.row in file.locked:
        return True, file.locked[labelled.row]
    for label_id in labelled.ids:  # a merge left it out: it is stored in the workspace merged in
        if label_id in file.merged_out:
            return False, file.merged_out[label_id]
    raise _missing(workspace, file, labelled)


def withdraw_imports(
    workspace: Workspace, files: list[FileLabels], options: ImportOptions
) -> list[Withdrawal]:
    """Check every file (`plan_withdrawals`), then write all the retractions as one batch and one line per file in
    the import log (WS/imports/log.jsonl, in one append), the check and the write under the import's lock
    (`data.import_write.import_lock`); returns what each file's withdrawal wrote. The retractions
    are stored by then: a failure of the log is a warning, never the command's error (`data.import_write.log_import`
    does the same)."""
    folder = log_folder(workspace)  # its symlinks refused before the labels are written, not after
    with import_lock(workspace):  # two at once each wrote every retraction, each saying so
        plans = plan_withdrawals(workspace, files)
        retractions = [label for plan in plans for label in plan.retractions]
        workspace.append(retractions, skip_existing=True)  # compacted once the lock is let go (`import_lock`)
    lines = [json.dumps(_log_entry(plan, file, options), default=str) for plan, file in zip(plans, files)]
    try:
        with folder_for_writing(folder, make=True) as fd:
            append_line(folder / LOG_FILE, "\n".join(lines), dir_fd=fd)
    except OSError as exc:
        log.warning(
            "%s: the labels are withdrawn (stored: every reader stops counting them); writing the withdrawal's "
            "line in the import log (%s) afterwards failed (%s): the log lacks its record, which no command needs "
            "(the rank guard names the file of an imported ranking in force only); run the same command again to "
            "write it (it withdraws nothing twice)",
            workspace.path,
            folder / LOG_FILE,
            failure_reason(exc),
        )
    return plans


def _log_entry(plan: Withdrawal, file: FileLabels, options: ImportOptions) -> dict:
    return {
        "at": now().isoformat(),
        "file": str(plan.path.resolve()),
        "path": str(plan.path),
        "sha256": file.digest,  # `same_file`: this withdraws an import of a copy of it elsewhere too
        "removed": True,
        "options": logged_options(options),
        "counts": {
            "withdrawn": len(plan.retractions),
            "withdrawn_already": plan.already,
            "skipped_at_import": plan.skipped.total(),
            "left_out_by_merge": plan.merged_out.total(),
        }
        | ({NA_RATING: plan.na_rating} if plan.na_rating else {}),
    }
