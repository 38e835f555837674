"""Labellers kept out of every verdict (``--exclude-labeller`` and the admin tab's WS/excluded.json) without losing
track of anything a user labelled:

- ``check_exclusion``: the flag's names must be annotators of the workspace (a misspelt name would exclude nobody,
  silently), matched as `data.selection.is_excluded` matches them: Unicode NFC (`data.annotators.same_name`), and a
  machine labeller by either of its names (`data.lineage.same_machine`: ``judge:org/x`` or ``judge:`` its snapshot
  folder); the names of excluded.json that have no label yet are a warning, not an error (a labeller may be
  switched off before their first label).
- ``labels_in_force``: the labels that decide (`data.selection.choose_labels` without the excluded labellers') and,
  per task, the items whose every label is an excluded labeller's: each export counts them ``excluded_only``.
- ``not_chosen``: per task, the items labelled only by labellers ``--labels`` does not choose (counted unlabelled).
- ``Exclusion.line``: who was excluded and where each was named, said beside every count exclusion changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data.aggregate import current_labels
from data.annotators import is_machine
from data.errors import PrefloopError, comma_parts, one_line
from data.selection import (
    EXCLUDED_FILE,
    choose_labels,
    is_excluded,
    read_excluded,
    same_name,
    stored_names,
    without_labellers,
)
from data.workspace import Workspace

FLAG = "--exclude-labeller"
EXCLUDED_ONLY = "excluded_only"  # the count of the items whose every label is an excluded labeller's
LABEL_TASKS = ("pairwise", "kto", "rank", "rate")
SHOWN = (
    10  # names listed in the error for an unknown name, of the labellers and of the machine annotators each
)
Labels = pd.DataFrame | pa.Table


@dataclass(frozen=True)
class Exclusion:
    """Who is excluded (`same_name` spellings) -> where they were named (``excluded.json; no labels`` for an idle
    name); ``idle``: the names of excluded.json with no label in the workspace (they exclude nothing yet), ``file``:
    that file."""

    sources: dict[str, str] = field(default_factory=dict)
    idle: tuple[str, ...] = ()
    file: Path | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.sources))

    def line(self) -> str:
        """``excluded labellers: mallory (--exclude-labeller), zoe (excluded.json)``; "" when nobody is."""
        return excluded_line(self.sources)

    def warnings(self) -> list[str]:
        if not self.idle:
            return []
        return [
            f"{self.file}: no labels by {', '.join(map(one_line, self.idle))} in this workspace: excluding "
            f"{'them' if len(self.idle) > 1 else 'that name'} changes nothing yet"
        ]


def excluded_line(sources: dict[str, str]) -> str:
    """Who was excluded and where each was named (`Exclusion.sources`), for a command's summary."""
    if not sources:
        return ""
    # a name the Python API stored with a newline stays on the summary's line (`stats --labellers` likewise)
    named = (f"{one_line(name)} ({where})" for name, where in sorted(sources.items()))
    return "excluded labellers: " + ", ".join(named)


def check_exclusion(workspace: Workspace, names: tuple[str, ...] | list[str] = ()) -> Exclusion:
    """The labellers kept out of the verdicts: ``names`` (the flag's; each must have a label in the workspace)
    and those of excluded.json, with where each was named."""
    listed = read_excluded(workspace.path)
    if not names and not listed:
        return Exclusion()
    annotators = pc.unique(workspace.read("labels", ["annotator"]).column("annotator")).to_pylist()
    known = {same_name(name) for name in annotators}
    names = flag_names(names, known)
    unknown = [name for name in names if not labels_by(name, known)]
    if unknown:
        raise PrefloopError(
            f"{FLAG} {unknown[0]}: no labels by that name in {workspace.path} ({_annotators(annotators)})"
        )
    sources: dict[str, str] = {same_name(name): FLAG for name in names}
    for name in map(same_name, listed):
        sources[name] = f"{FLAG} and {EXCLUDED_FILE}" if name in sources else EXCLUDED_FILE
    idle = tuple(sorted({same_name(name) for name in listed if not labels_by(name, known)}))
    # every summary (`Exclusion.line`, the train report's) says beside it that it excluded nothing
    sources |= {name: f"{sources[name]}; no labels" for name in idle}
    return Exclusion(sources, idle, workspace.path / EXCLUDED_FILE)


def labels_by(name: str, known: set[str]) -> bool:
    """Whether one of the stored annotators ``known`` is labeller ``name`` (`is_excluded`: a judge named by its hub
    id has labels stored under its snapshot folder, and the other way round)."""
    return any(is_excluded(annotator, [name]) for annotator in known)


def flag_names(values: tuple[str, ...] | list[str], known: set[str]) -> list[str]:
    """The names the flag's ``values`` give: a value that names a stored annotator (`labels_by`) as a whole is
    that name, commas and all (a judge's folder may hold one: ``judge:/models/run,v2``); any other is split at its
    commas, spaces around each name dropped."""
    names = []
    for value in values:
        if labels_by(value, known):
            names.append(value)
        else:
            names += comma_parts("--exclude-labeller", value)
    return names


def _annotators(annotators: list[str]) -> str:
    """``labellers: ann, bob; annotators: import, judge:m`` (the first `SHOWN` of each)."""

    def shown(names: list[str]) -> str:
        return ", ".join(names[:SHOWN]) + (", ..." if len(names) > SHOWN else "")

    people = sorted(name for name in annotators if not is_machine(name))
    machines = sorted(name for name in annotators if is_machine(name))
    listing = f"labellers: {shown(people) or 'none yet'}"
    return listing + (f"; annotators: {shown(machines)}" if machines else "")


def labels_in_force(
    labels: Labels, excluded: tuple[str, ...] | list[str], source: str = "all"
) -> tuple[Labels, dict[str, frozenset[str]]]:
    """The labels that decide (``source`` as ``--labels``, `data.selection.choose_labels`, less the ``excluded``
    labellers'), and per task the ids of the items that had a current label among those ``source`` chooses and
    have none once the excluded labellers' are out: each export counts them ``excluded_only``."""
    kept = choose_labels(without_labellers(labels, excluded), source)
    if not excluded:
        return kept, {}
    before = choose_labels(labels, source)
    theirs = _rows_in(before, "annotator", stored_names(_column(before, "annotator"), excluded))
    lost = {}
    for task in LABEL_TASKS:
        items = set(current_labels(theirs, task)["item_id"]) if len(theirs) else set()
        if items:
            still = set(current_labels(_rows_in(kept, "item_id", sorted(items)), task)["item_id"])
            if items - still:
                lost[task] = frozenset(items - still)
    return kept, lost


def not_chosen(
    labels: Labels, source: str, tasks: tuple[str, ...] = ("kto", "rank")
) -> dict[str, frozenset[str]]:
    """Per task, the ids of the items with a current label whose every current label is of labellers ``source``
    (``--labels``, `data.selection.choose_labels`) does not choose: a KTO answer only a judge labelled, with
    ``--labels human``. The exports count them unlabelled, as a pair of the kind (pairs are counted whole)."""
    if source not in ("human", "machine"):  # all: every label; auto chooses among the labels of a pair only
        return {}
    chosen = choose_labels(labels, source)
    out = {}
    for task in tasks:
        items = set(current_labels(labels, task)["item_id"]) - set(current_labels(chosen, task)["item_id"])
        if items:
            out[task] = frozenset(items)
    return out


def _column(labels: Labels, name: str) -> pd.Series | pa.ChunkedArray:
    return labels.column(name) if isinstance(labels, pa.Table) else labels[name]


def _rows_in(labels: Labels, column: str, values: list[str]) -> Labels:
    if isinstance(labels, pa.Table):
        return labels.filter(pc.is_in(labels.column(column), value_set=pa.array(values, pa.string())))
    return labels[labels[column].isin(values)]
