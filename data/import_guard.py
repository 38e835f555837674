"""What an import's files, together, may not change in the workspace before anything is written
(`check_rank_items`): no rank item under labels gains an answer (`data.rank_guard`), and no imported ranking or
rating, nor KTO label, is replaced (`data.import_label_checks.check_labels`). A refused answer whose text an earlier import stored
under another source name (the file was named otherwise, or imported with ``--source``) says so, and which
``--source`` makes the row's answer the stored one: an answer's id is its prompt, text and source.

With ``--on-error skip`` the rows whose labels differ from the stored ones (``conflicting_stored_*``), whose answers
the rank guard refuses (`LOCKED`) or whose ranking does not rank every answer its item would hold (``rank_item_size``)
are left out instead (`skip_refused`), counted by reason with the file's other bad rows: the user asked to go on."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.compute as pc

from data.errors import quoted
from data.gold import gold_rank_sources
from data.import_label_checks import (
    STORED_CONFLICT,
    UNRANKED,
    check_labels,
    stored_conflicts,
    stored_labels,
    unranked_rankings,
)
from data.import_records import RecordError
from data.import_splits import STORED_TRAIN
from data.rank_guard import KeptItem, Key, kept_items, new_answers
from data.rank_rate_rows import NA_RATING
from data.records import Completion
from data.workspace import Workspace

if TYPE_CHECKING:
    from data.imports import Loaded

LOCKED = "rank_locked"  # the reason a row whose answer would change a rank item under labels is skipped by
# the reasons of the rows `skip_refused` (and, for a prompt stored in train, `data.import_splits`) leaves out: the
# workspace refused them, so an import of the file never stored their labels (`data import --remove` of it counts
# them, `data.import_withdraw`)
REFUSED = (*STORED_CONFLICT.values(), LOCKED, UNRANKED, STORED_TRAIN)


def check_rank_items(workspace: Workspace, loaded: Sequence[Loaded]) -> None:
    """The answers of all the files, together, change no rank item under the labels stored on it
    (`data.rank_guard`: none joins a gold or imported-ranked item, none takes a ranked one past 6), nor one their
    own rankings rank, and their rankings, ratings and KTO labels replace no imported one (`data.import_label_checks.check_labels`);
    a SchemaError names the first file and row whose answer or label would. Writes nothing."""
    added = new_answers(workspace, [record for item in loaded for record in item.records])
    check_labels(workspace, [(item.path, item.labelled) for item in loaded], added)
    for _, refusal in _locked(workspace, loaded, added, first=True):
        raise refusal


def count_na_ratings(workspace: Workspace, loaded: Sequence[Loaded]) -> None:
    """Each file's `NA_RATING` count less the answers its N/A leaves unrated that hold a rating all the same: one
    another file of the import rates, or an import before stored (in force). Such an answer is no answer left for
    people to rate, and the rating stays (the file's N/A is no value of the scale, so no conflict)."""
    unrated = frozenset().union(*(item.na_answers for item in loaded))
    if not unrated:
        return
    rated = {answer for item in loaded for task, answer in item.labelled if task == "rate"}
    rated |= {answer for task, answer in stored_labels(workspace, sorted(unrated)) if task == "rate"}
    for item in loaded:
        item.counts[NA_RATING] = len(item.na_answers - rated)
        if not item.counts[NA_RATING]:
            del item.counts[NA_RATING]


def skip_refused(
    workspace: Workspace,
    loaded: list[Loaded],
    recheck: Callable[[Path, Mapping[int, RecordError]], Loaded],
    replay: bool = False,
) -> list[Loaded]:
    """``loaded`` without the rows the workspace refuses: every row whose ranking, rating or KTO label differs from
    the imported one stored on its item (`data.import_label_checks.stored_conflicts`, reason ``conflicting_stored_*``),
    then every row whose answers the rank guard refuses (`LOCKED`), then every row whose ranking does not rank every
    answer its item would hold (`data.import_label_checks.unranked_rankings`, `UNRANKED`). Each file with one is checked
    again by ``recheck`` (its path, its rows to leave out, each with its error), until no row is refused (a row left
    out can only take answers and labels away). ``replay``: `data import --remove` reads the file so
    (`stored_conflicts`). Writes nothing."""
    refused: dict[int, dict[int, RecordError]] = {}
    while True:
        labelled = [(f.path, f.labelled) for f in loaded]
        found = stored_conflicts(workspace, labelled, replay)
        if not found:
            added = new_answers(workspace, [r for f in loaded for r in f.records])
            found = _locked(workspace, loaded, added) or unranked_rankings(workspace, labelled, added, replay)
        if not found:
            return loaded
        for index, refusal in found:
            refused.setdefault(index, {}).setdefault(refusal.row, refusal)
        changed = {index for index, _ in found}
        loaded = [recheck(f.path, refused[i]) if i in changed else f for i, f in enumerate(loaded)]


def _locked(
    workspace: Workspace, loaded: Sequence[Loaded], added: Mapping[Key, list[Completion]], first: bool = False
) -> list[tuple[int, RecordError]]:
    """The refusals of the new answers (``added``) that change a rank item under labels: (file index, the error
    naming its row) for every row that gives one, or (``first``) for the first file and row giving the first."""
    if not added:
        return []
    changed = kept_items(
        workspace, {key: len(new) for key, new in added.items()}, gold_rank_sources(workspace)
    )
    out = []
    for item in changed[:1] if first else changed:
        new = added[item.prompt_id, item.round]
        for answer in new[item.first_changing : item.first_changing + 1 if first else None]:
            message = _refusal(workspace, item, answer)
            for index, file in enumerate(loaded):
                for row in file.answer_rows.get(answer.id, [])[: 1 if first else None]:
                    out.append((index, RecordError(str(file.path), message, row, reason=LOCKED)))
    return out[:1] if first else out


def _refusal(workspace: Workspace, item: KeptItem, answer: Completion) -> str:
    """Why ``answer`` may not join ``item``, and what to do instead."""
    remedy = "leave the row out" + (
        item.remove_advice() or " (an import's answers join round 0 of their prompt)"
    )
    sources = stored_sources(workspace, answer)
    if sources:
        return (
            f"its answer {quoted(answer.text)} is stored under source {', '.join(sources)}, not this import's "
            f"{answer.model!r} (the file's name, or --source): as a new answer it would {item.problem()}; import "
            f"the file with --source {sources[0]} to label the stored answer, or {remedy}"
        )
    return f"its answer {quoted(answer.text)} is not stored, and adding it would {item.problem()}; {remedy}"


def stored_sources(workspace: Workspace, answer: Completion) -> list[str]:
    """The sources (models) an earlier import stored ``answer``'s text under, for its prompt and round (its prompt's
    completions read only: `data.rank_guard.item_sizes`)."""
    columns = ["prompt_id", "text", "model", "engine", "round"]
    stored = workspace.read("completions", columns, where=("prompt_id", [answer.prompt_id]))
    same = pc.and_(
        pc.and_(
            pc.equal(stored.column("prompt_id"), answer.prompt_id),
            pc.equal(stored.column("text"), answer.text),
        ),
        pc.and_(
            pc.equal(stored.column("engine"), answer.engine), pc.equal(stored.column("round"), answer.round)
        ),
    )
    return sorted(set(stored.filter(same).column("model").to_pylist()) - {answer.model})
