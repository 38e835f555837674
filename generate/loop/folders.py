"""The iterate folders of a round driver's chain (`generate.loop.driver`): iteration t trains into
WS/runs/<name>-iter<t>, and `<kind>.json` there (spin.json, judge.json) claims the folder for its chain, naming the
reference it trains from and its round, as its sampling starts (before training where it samples nothing). A killed
run's folder is taken up again; another chain's is never overwritten; and only a registered model whose folder is
claimed so is the chain's iterate. A claim is read without following a symlink (`data.files.open_regular`): the loop
never writes one, so a symlink at its name, or a claim that cannot be read as one, is refused in one line naming it,
never taken for a claim (or for none).

One driver at a time runs a chain: `chain_lock` holds ``WS/runs/<name>.lock`` for the whole run, so a second run of
the same chain (a second terminal), which would sample into the same round and train into the same folders, is
refused before it writes anything."""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from functools import partial
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from data.errors import PrefloopError, first_line
from data.files import (
    NotAFileError,
    WriteError,
    atomic_write,
    check_not_link,
    folder_for_writing,
    open_regular,
    remove,
)
from data.import_records import within_depth
from data.in_place import NoLocksError, held_by, hold_lock, let_go
from data.workspace import Workspace
from generate.context import TOO_LONG

if TYPE_CHECKING:
    from generate.loop.driver import Iterate, Loop
    from generate.loop.options import LoopOptions

# what a rerun finds again of the prompts a run left: unsent (too long), or left unpaired by the judge loop's judge
# (`generate.bestofn.pair_best_worst`), which the rerun asks again about them and counts again
FOUND_AGAIN = frozenset({TOO_LONG, "unpaired_prompts", "no_spread", "empty", "duplicate"})


def write_claim(runs: Path, folder: Path, loop: Loop, record: dict, make: bool = False) -> None:
    """Write ``record`` as the claim (`<kind>.json`) of ``folder`` (`iterate_folder`: WS/runs/NAME-iterN), whole,
    through descriptors of ``runs`` and of each folder below it (`chain_folders`): any of them swapped for a link
    since the loop named it (while its training ran) is refused in one line naming it, never written where it
    points (as `train.out_folder.check_own_folders` refuses the folder to the training). With ``make``, each is made
    first where it is missing (in the folder above as opened: never through a link swapped in for it)."""
    text = json.dumps(record, indent=2, default=str) + "\n"
    with chain_folders(runs, folder, make) as opened:
        atomic_write(folder / f"{loop.kind}.json", lambda f: f.write(text.encode()), dir_fd=opened[-1])


@contextmanager
def chain_lock(workspace: Workspace, name: str) -> Iterator[None]:
    """Hold the lock of the chain ``name`` (``WS/runs/<name>.lock``, `data.in_place.hold_lock`: the pid and host
    written in it) while the block runs, or refuse in one line naming the run that holds it: two runs of one chain
    would each sample into its rounds and train into its iterate folders. Only this process holds it (the steps'
    fresh processes inherit nothing, and a child it forks closes its copy); the kernel lets go of it however the run
    ends, so a rerun after a kill goes on as a resume. The file is left in place: removing it would let a third run
    lock a new file beside a held one. On a file system that takes no locks the run goes on, as it did before the
    lock, with a warning."""
    path = workspace.runs / f"{name}.lock"
    # a --spin-name a/b: its iterates and lock in WS/runs/a
    with chain_folders(workspace.runs, path.parent, make=True) as opened:
        try:
            fd = hold_lock(path, partial(held_line, workspace, name), opened[-1])
        except NoLocksError as exc:  # as the run went before the lock: said, not refused
            print(
                f"warning: {exc}: a second run of the chain {name} would not be refused: run one at a time",
                file=sys.stderr,
            )
            fd = None
    try:
        yield
    finally:
        if fd is not None:
            let_go(fd)


def held_line(workspace: Workspace, name: str, by: str) -> str:
    """The line refusing a run of the chain ``name`` while another (``by``: `data.in_place.lock_holder`'s words)
    runs it."""
    return (
        f"{workspace.runs / name}.lock: another run{by} is running the chain {name} ({workspace.runs / name}-iter*) "
        "on this workspace; a second would sample and train into the same iterates: wait for it to end (if it was "
        "killed, just rerun: its lock went with it)"
    )


def refuse_running(workspace: Workspace, name: str) -> None:
    """Refuse (`held_line`) a run of the chain ``name`` that another process runs, by a look at its lock that
    writes nothing (`data.in_place.held_by`: no lock file made or rewritten), before the checks that read the
    models and fetch them: a second run was refused only once they had passed, minutes later for a hub model.
    `chain_lock`, taken once they pass, stays the guard: a run started meanwhile is refused there, and so is a
    lock file that cannot be looked at here."""
    try:
        with open_regular(workspace.runs / f"{name}.lock") as handle:
            holder = held_by(handle.fileno())
    except NotAFileError:  # a link there: refused as the lock refuses it
        raise
    except OSError:  # none there, another user's, a file system without locks: said by the lock
        return
    if holder is not None:
        raise PrefloopError(held_line(workspace, name, holder))


@contextmanager
def chain_folders(runs: Path, folder: Path, make: bool = False) -> Iterator[list[int]]:
    """Descriptors of ``runs`` (WS/runs) and of each folder from it down to ``folder`` (a chain a/b/c's ``a``,
    ``a/b``, then its iterate ``a/b/c-iter1``), the last ``folder``'s, each opened in the one above it without
    following a link: a link at any of them, planted or swapped in since the loop named it, is refused
    (NotAFileError naming it), nothing read, made, written or removed where it points. With ``make``, each is made
    where missing; a missing one is otherwise a WriteError (errno ENOENT) naming it. ``folder`` is named under
    ``runs`` or, as the manifest stores a model's folder, under where ``runs`` resolves."""
    parts = _parts_below(runs, folder)
    with ExitStack() as opened:
        fds = [opened.enter_context(folder_for_writing(runs, make))]
        for depth in range(1, len(parts) + 1):
            below = runs.joinpath(*parts[:depth])
            fds.append(opened.enter_context(folder_for_writing(below, make, fds[-1])))
        yield fds


def _parts_below(runs: Path, folder: Path) -> tuple[str, ...]:
    """The names of ``folder`` below ``runs`` (or below where it resolves: a registered model's stored folder)."""
    for base in (runs, runs.resolve()):
        with suppress(ValueError):
            return folder.relative_to(base).parts
    raise PrefloopError(f"{folder}: not a folder in {runs}, where the loop claims its iterates' folders")


def iterate_path(options: LoopOptions, workspace: Workspace, loop: Loop, iteration: int) -> Path:
    """``WS/runs/NAME-iterN``: where the chain NAME (--spin-name, --judge-name) trains iteration N, and where its
    iterate of that iteration is (another name is another chain, with iterates of its own)."""
    return workspace.runs / f"{loop.name(options)}-iter{iteration}"


def iterate_folder(options: LoopOptions, workspace: Workspace, loop: Loop, iteration: int) -> Path:
    """`iterate_path`, refused (NotAFileError naming it) where it, ``runs`` or a folder between them (a NAME a/b's
    ``a``) is a link: the loop names the folder itself, so a link there was planted, and its claim and training
    would go where it points."""
    folder = iterate_path(options, workspace, loop, iteration)
    check_no_links(workspace.runs, folder)
    return folder


def check_no_links(runs: Path, path: Path) -> None:
    """Refuse (NotAFileError naming it) a link at ``path`` or at any folder between it and ``runs`` (WS/runs, which
    `Workspace.runs` checks): a chain named a/b opens only its last folder without following a link, so a link
    planted at WS/runs/a took its lock and iterates wherever it pointed."""
    parts = path.relative_to(runs).parts
    for depth in range(1, len(parts) + 1):
        check_not_link(runs.joinpath(*parts[:depth]))


def read_claim(folder: str | Path, loop: Loop, dir_fd: int | None = None) -> dict | None:
    """The claim (`<kind>.json`) in ``folder`` (with ``dir_fd``: the folder's descriptor, `chain_folders`); None
    where there is none. A symlink or special file at its name is
    a NotAFileError naming it, and a file that is no claim (unreadable, no JSON object) a PrefloopError naming it:
    neither makes the folder a chain's, nor leaves it to be trained over as nobody's."""
    path = Path(folder) / f"{loop.kind}.json"
    try:
        with open_regular(path, dir_fd) as handle:
            claimed = within_depth(json.load, handle)
    except (FileNotFoundError, NotADirectoryError):  # no claim, or no folder (a hub id's model)
        return None
    except NotAFileError:
        raise
    except (OSError, ValueError) as exc:
        raise PrefloopError(f"{path}: not a {loop.kind} claim ({first_line(exc)}); remove it") from None
    if not isinstance(claimed, dict):
        raise PrefloopError(f"{path}: not a {loop.kind} claim (no JSON object); remove it")
    return claimed


def unreported(folder: str | Path, model_id: str) -> bool:
    """Whether the run in ``folder`` saved the registered model ``model_id`` (its `trained.json`) but was killed
    before its report (`metrics.json`, written last): a `train --resume` there evaluates and reports that model,
    training nothing and registering it once. A `trained.json` train's resume cannot take up (a version's before it
    kept the rows) or of another model would train again over the registered weights and register a second model."""
    from train.run import saved_model_id  # torch: only where a loop has a registered iterate to look at

    return not (Path(folder) / "metrics.json").is_file() and saved_model_id(Path(folder)) == model_id


def saved_unregistered(folder: Path, reference: Iterate, round: int, loop: Loop) -> bool:
    """Whether ``folder``, claimed for this iteration (``reference``'s ``round``), holds the model its run saved
    (`trained.json`) and did not report (no `metrics.json`): killed while it evaluated the model, before registering
    it. Train's --resume there evaluates, reports and registers it, training nothing (`unreported`, once
    registered)."""
    if chain_of(folder, loop) != (reference.id, round) or (folder / "metrics.json").is_file():
        return False
    from train.run import saved_model_id  # torch: only where this chain's folder holds no report

    return saved_model_id(folder) is not None


def training_started(folder: Path, reference: Iterate, round: int, loop: Loop) -> bool:
    """Whether ``folder``, claimed for this iteration (``reference``'s ``round``), holds a training an earlier run
    started and did not report (no `metrics.json`), with the rows it selected as it started
    (`train.run.selected_rows`): train's --resume continues on those, so answers sampled into its round now (a
    rerun's larger --limit) would be pairs nothing trains on."""
    if chain_of(folder, loop) != (reference.id, round) or (folder / "metrics.json").is_file():
        return False
    from train.run import selected_rows  # torch: only where this chain's folder holds no report

    return selected_rows(folder)


def chain_of(folder: str | Path, loop: Loop) -> tuple:
    """(reference id, round) of the chain that claimed ``folder``; (None, None) for a folder no chain claimed."""
    theirs = read_claim(folder, loop) or {}
    return theirs.get("reference_id"), theirs.get("round")


def taken_before(workspace: Workspace, later: Iterable[Path], loop: Loop) -> set[str]:
    """The iterates a run of the chain by a version before 079bb8b0 took for its own from another chain of the same
    start (it trained none of them): the model that the chain's first folder of ``later`` (its folders after this
    iteration's, in order, as many looked at as the manifest has models) claims to train from, and its ancestors."""
    models = workspace.frame("models")
    parent_of = dict(zip(models["id"], models["parent_id"], strict=True))
    first = next((folder for folder in islice(later, len(models)) if folder.exists()), None)
    model, taken = (chain_of(first, loop)[0] if first is not None else None), set()
    while isinstance(model, str) and model not in taken:  # to the start model (no parent)
        taken.add(model)
        model = parent_of.get(model)
    return taken


def claimed(runs: Path, folder: Path, reference: Iterate, round: int, loop: Loop) -> dict | None:
    """This iteration's claim in ``folder`` (a killed run's), None where there is none (nor any folder yet), read
    once through descriptors of ``runs`` and the folders below it (`chain_folders`: a link swapped in for any is
    refused, never read through); a folder of another chain, or one not empty and unclaimed, is refused: never
    overwritten. A ``reference`` without an id (not trained or registered yet) has no folder yet."""
    flag = f"--{loop.kind}-name NAME"
    try:
        with chain_folders(runs, folder) as opened:
            theirs = read_claim(folder, loop, opened[-1])
            unclaimed_files = theirs is None and bool(os.listdir(opened[-1]))
    except WriteError as exc:
        if exc.errno == errno.ENOENT:  # no folder yet
            return None
        raise
    if unclaimed_files:
        raise PrefloopError(f"{folder}: not empty and not a {loop.kind} iterate folder; pass {flag}")
    if theirs is not None and (theirs.get("reference_id"), theirs.get("round")) != (reference.id, round):
        raise PrefloopError(
            f"{folder}: holds round {theirs.get('round')} of another {loop.kind.upper()} chain (reference "
            f"{theirs.get('reference')}); pass {flag} to put this chain's iterates elsewhere"
        )
    return theirs


def claim(
    runs: Path, folder: Path, reference: Iterate, round: int, loop: Loop, ours: dict | None, sampling: dict
) -> None:
    """Make ``folder`` this iteration's: ``ours`` (the claim an earlier run wrote there, `claimed`; None: none)
    with ``sampling``, what the runs that sampled for it did (`add_sampling`, `sampling_under_way`), so the rerun
    that continues a killed run's training keeps the first run's."""
    record = ours or {"reference_id": reference.id, "reference": reference.path, "round": round}
    write_claim(runs, folder, loop, record | sampling, make=True)


def unclaim(runs: Path, folder: Path, loop: Loop, ours: dict | None) -> None:
    """Put back the claim of ``folder`` as it was before this run's sampling (`sampling_under_way`), which stored
    nothing: ``ours``, or none where there was none (the folder, left empty, removed too). Through the folders'
    descriptors, as `write_claim` writes it: any swapped for a link is refused, nothing removed."""
    if ours is not None:
        write_claim(runs, folder, loop, ours)
        return
    with chain_folders(runs, folder) as opened:
        remove(folder / f"{loop.kind}.json", dir_fd=opened[-1])
        with suppress(OSError):  # not empty: someone else's files; kept
            os.rmdir(folder.name, dir_fd=opened[-2])


def _runs(earlier: dict) -> int:
    """The runs that sampled for the iteration, by its claim: an older version's recorded none (its one run)."""
    return earlier.get("sample_runs", 1 if earlier else 0)


def sampling_under_way(earlier: dict) -> dict:
    """The claim's sampling while this run samples: one run more, its seconds unknown (None) and its counts
    missing until it records them (`add_sampling`), so a run killed while it samples leaves a claim that says an
    earlier run's sampling was not recorded, never a rerun's counts alone as the iteration's."""
    return {"sampled": earlier.get("sampled", {}), "sample_seconds": None, "sample_runs": _runs(earlier) + 1}


def add_sampling(earlier: dict, sampled: dict, seconds: float) -> dict:
    """An iteration's sampling over the runs that sampled it: ``earlier`` (a claim's ``sampled`` counts per split,
    ``sample_seconds``, ``sample_runs``) with this run's added, count by count. A count of what a run found
    (`FOUND_AGAIN`, ``already_*``) is this run's where it sampled that split: those prompts are found again and
    counted again, so adding would count one prompt twice. A run that sampled nothing (``sampled`` empty: all
    done before) adds no run and no seconds. Seconds an earlier run did not record (None: an older version's
    claim, written before training, or a run killed while it sampled, `sampling_under_way`) stay unknown; with no
    claim at all, answers sampled before were no recorded run's."""
    if not sampled:  # seconds None where no claim recorded them
        recorded = {"sampled": earlier.get("sampled", {}), "sample_seconds": earlier.get("sample_seconds")}
        return recorded | {"sample_runs": _runs(earlier)}
    merged = {split: dict(counts) for split, counts in earlier.get("sampled", {}).items()}
    for split, counts in sampled.items():
        kept = {
            k: v
            for k, v in merged.get(split, {}).items()
            if k not in FOUND_AGAIN and not k.startswith("already_")
        }
        merged[split] = kept | {k: kept.get(k, 0) + v for k, v in counts.items()}
    before = earlier.get("sample_seconds", None if earlier else 0)
    return {
        "sampled": merged,
        "sample_seconds": None if before is None else round(before + seconds, 1),
        "sample_runs": _runs(earlier) + 1,
    }
