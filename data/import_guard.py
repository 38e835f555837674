"""What an import's files, together, may not change in the workspace before anything is written
(`check_rank_items`): no rank item under labels gains an answer (`data.rank_guard`), and no imported ranking or
rating is replaced (`data.import_rank_rate.check_labels`). A refused answer whose text an earlier import stored
under another source name (the file was named otherwise, or imported with ``--source``) says so, and which
``--source`` makes the row's answer the stored one: an answer's id is its prompt, text and source."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow.compute as pc

from data.errors import quoted
from data.gold import gold_rank_sources
from data.import_rank_rate import check_labels
from data.rank_guard import kept_items, new_answers
from data.records import Completion
from data.schemas import SchemaError
from data.workspace import Workspace

if TYPE_CHECKING:
    from data.imports import Loaded


def check_rank_items(workspace: Workspace, loaded: Sequence[Loaded]) -> None:
    """The answers of all the files, together, change no rank item under the labels stored on it
    (`data.rank_guard`: none joins a gold or imported-ranked item, none takes a ranked one past 6), nor one their
    own rankings rank, and their rankings and ratings replace no imported one (`data.import_rank_rate.check_labels`);
    a SchemaError names the first file and row whose answer or label would. Writes nothing."""
    added = new_answers(workspace, [record for item in loaded for record in item.records])
    check_labels(workspace, [(item.path, item.labelled) for item in loaded], added)
    if not added:
        return
    changed = kept_items(
        workspace, {key: len(new) for key, new in added.items()}, gold_rank_sources(workspace)
    )
    if not changed:
        return
    item = changed[0]
    answer = added[item.prompt_id, item.round][item.first_changing]
    path, row = next((f.path, f.answer_rows[answer.id]) for f in loaded if answer.id in f.answer_rows)
    remedy = "leave the row out" + (
        item.remove_advice or " (an import's answers join round 0 of their prompt)"
    )
    sources = stored_sources(workspace, answer)
    if sources:
        message = (
            f"its answer {quoted(answer.text)} is stored under source {', '.join(sources)}, not this import's "
            f"{answer.model!r} (the file's name, or --source): as a new answer it would {item.problem()}; import "
            f"the file with --source {sources[0]} to label the stored answer, or {remedy}"
        )
    else:
        message = (
            f"its answer {quoted(answer.text)} is not stored, and adding it would {item.problem()}; {remedy}"
        )
    raise SchemaError(str(path), message, row)


def stored_sources(workspace: Workspace, answer: Completion) -> list[str]:
    """The sources (models) an earlier import stored ``answer``'s text under, for its prompt and round."""
    stored = workspace.read("completions", ["prompt_id", "text", "model", "engine", "round"])
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
