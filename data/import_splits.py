"""Which split an import's prompts go to where its rows disagree: test wins. A new prompt that any row of the import
(of any of its files) puts in test is test, so the rows putting it in train have their labels held out: counted
``split_conflicts`` and warned of (`PromptSplits`, `hold_out_across`, `warn_splits`). A held-out figure is only
honest where no held-out row trained, so the rule errs towards test.

A prompt already stored keeps its split. Runs record what they trained on (the manifest's ``data``: pair, answer and
gold prompt ids; a killed run's selection in its own folder, an export in a file the workspace never sees again),
so a stored train prompt's rows may have trained a model, or be training one: moved to test, they would count in
every later held-out figure, and the figures of runs before and after the move would no longer be over the same
kind of rows. A row that names test (its own ``split``, a `datasets` folder's split, ``--split test``; a
``--test-fraction`` draw is no naming) for a prompt stored in train is left out instead (`stored_train_refusals`,
reason `STORED_TRAIN`, whatever ``--on-error`` says; listed in the rejects file, so ``--remove`` passes over it),
counted with ``split_conflicts`` and warned of: stored in train, its labels would train on what its source holds
out."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from data.errors import counted, quoted
from data.import_records import RecordError
from data.records import Prompt
from data.workspace import Workspace

if TYPE_CHECKING:
    from data.imports import Loaded

log = logging.getLogger(__name__)

STORED_TRAIN = "stored_train"  # the reason a row naming test for a prompt stored in train is left out by
SHOWN = 5  # split conflicts warned of one by one, per file (all are counted)


@dataclass
class PromptSplits:
    """The rows of one file putting each prompt (by id) in train and in test, and the rows whose split was drawn by
    ``--test-fraction`` (the row named none)."""

    train: dict[str, list[int]] = field(default_factory=dict)
    test: dict[str, list[int]] = field(default_factory=dict)
    drawn: set[int] = field(default_factory=set)

    def add(self, prompt_id: str, split: str, row: int, drawn: bool) -> None:
        (self.test if split == "test" else self.train).setdefault(prompt_id, []).append(row)
        if drawn:
            self.drawn.add(row)

    def named_test(self) -> dict[str, list[int]]:
        """The rows naming test for each prompt (their own split, a `datasets` folder's, ``--split test``)."""
        named = {pid: [r for r in rows if r not in self.drawn] for pid, rows in self.test.items()}
        return {pid: rows for pid, rows in named.items() if rows}

    def conflicts(self, stored: Callable[[str], bool]) -> list[dict]:
        """The file's train rows of the new prompts (not ``stored``) that another of its rows puts in test: the
        prompt is test, their labels held out. Each with the first test row, by row."""
        return sorted(
            (
                {"row": row, "test_row": self.test[pid][0], "prompt_id": pid}
                for pid, rows in self.train.items()
                if pid in self.test and not stored(pid)
                for row in rows
            ),
            key=lambda conflict: conflict["row"],
        )


def stored_train_refusals(
    workspace: Workspace, loaded: list[Loaded], stored: Callable[[str], bool]
) -> dict[Path, dict[int, RecordError]]:
    """Per file, the rows naming test for a prompt the workspace holds in train (``stored``: whether it holds a
    prompt id, read before the split is), each refused with reason `STORED_TRAIN`. Writes nothing."""
    named = {pid for item in loaded for pid in item.splits.named_test() if stored(pid)}
    if not named:
        return {}
    held = workspace.read("prompts", ["split"], where=("id", sorted(named))).to_pydict()
    in_train = {pid for pid, split in zip(held["id"], held["split"]) if split == "train"}
    refused: dict[Path, dict[int, RecordError]] = {}
    for item in loaded:
        texts = {r.id: r.messages[-1]["content"] for r in item.records if isinstance(r, Prompt)}
        for pid, rows in item.splits.named_test().items():
            if pid not in in_train:
                continue
            message = (
                f"its prompt {quoted(texts[pid])} is stored in the train split, and this row names test (a stored "
                "prompt keeps its split; in train, this row's labels would train)"
            )
            for row in rows:
                refused.setdefault(item.path, {})[row] = RecordError(
                    str(item.path), message, row, reason=STORED_TRAIN
                )
    return refused


def hold_out_across(loaded: list[Loaded], stored: Callable[[str], bool]) -> list[Loaded]:
    """The files of one import with test winning across them: a new prompt (not ``stored``) that one file puts in
    train only and another in test is test in both; the train rows of the first count ``split_conflicts`` there,
    each with the file and row that put it in test."""
    first_test: dict[str, tuple[Path, int]] = {}
    for item in loaded:
        for pid, rows in item.splits.test.items():
            first_test.setdefault(pid, (item.path, rows[0]))
    out = []
    for item in loaded:
        moved = {
            pid
            for pid in item.splits.train
            if pid in first_test and pid not in item.splits.test and not stored(pid)
        }
        if not moved:
            out.append(item)
            continue
        records = [
            replace(r, split="test") if isinstance(r, Prompt) and r.id in moved else r for r in item.records
        ]
        across = [
            {
                "row": row,
                "test_row": first_test[pid][1],
                "test_file": str(first_test[pid][0]),
                "prompt_id": pid,
            }
            for pid in moved
            for row in item.splits.train[pid]
        ]
        conflicts = sorted(item.split_conflicts + across, key=lambda conflict: conflict["row"])
        counts = item.counts + Counter(split_conflicts=len(across))
        out.append(replace(item, records=records, counts=counts, split_conflicts=conflicts))
    return out


def warn_splits(item: Loaded) -> None:
    """A warning each for a file's first `SHOWN` split conflicts (`PromptSplits.conflicts`, `hold_out_across`), and
    one for its rows left out as their prompt is stored in train (`stored_train_refusals`), naming the first."""
    name = str(item.path)
    for conflict in item.split_conflicts[:SHOWN]:
        where = f"{conflict['test_file']}, row" if "test_file" in conflict else "row"
        log.warning(
            "%s, row %d: same prompt as %s %d, which puts it in the test split: the prompt is test (test wins: a "
            "prompt any row holds out never trains), so this row's labels are held out",
            name,
            conflict["row"],
            where,
            conflict["test_row"],
        )
    refused = [reject for reject in item.rejects if reject["reason"] == STORED_TRAIN]
    if refused:
        log.warning(
            "%s: %s named the test split for a prompt stored in train, left out (%s); the first, row %d: %s. "
            "Stored in train, their labels would train on what this file holds out; and a stored prompt never "
            "moves to test: a run may have trained on its rows, which held-out figures would then count",
            name,
            counted(len(refused), "row"),
            STORED_TRAIN,
            refused[0]["row"],
            refused[0]["error"],
        )
