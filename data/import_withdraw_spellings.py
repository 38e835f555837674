"""Which spelling of a row's texts `data import --remove FILE` finds the import's labels under.

An import gave each row's texts the spelling that came first then (`data.spellings`): the stored one, else an
earlier row's; a label's id is made of the texts so spelled. `--remove` reads the file with the workspace's spellings
now, which a merge can change: `data merge` keeps each workspace's spellings of one text apart, and an earlier
stored one, or an exact copy of a row's own text, may arrive with it. So a row the import respelled read as labels
never stored (the file refused), or as the labels of another import of the same rows under the other spelling
(withdrawn in the file's place).

Each row's labels are therefore looked for under its candidate readings, in turn, and a row is taken as the first
reading whose labels are all stored (`import_labels.is_of`, under any of `Labelled.ids`):

1. the file's own reading (its rows alone: a text spelled as an earlier row of the file takes that row's spelling),
   the spelling an import stores a text it meets for the first time in;
2. the workspace's stored spellings: the reading `data import` would give the file now, then each text's nth stored
   spelling (`Spellings(nth=...)`, `EARLIEST` first), where some text has several. Two of these holding labels
   is another import of the same rows (the same source, another spelling) beside this file's: which one is the
   file's is a guess, so the row is refused, one line naming file, row and field, and nothing is withdrawn.

A row whose labels no reading finds keeps the reading now (`plan_withdrawals` names it as not stored, or counts it
skipped at import). A reading the file fails under (a conflict only that spelling makes) offers nothing. In a
workspace where every text has one spelling and no row was respelled, the reading now is the only one: nothing is
read again.
"""

from __future__ import annotations

from collections.abc import Callable

from data.import_labels import import_history, is_of
from data.import_rank_rate import Labelled
from data.imports import Loaded
from data.schemas import SchemaError
from data.spellings import Spellings
from data.workspace import Workspace

Labels = dict[str, Labelled]  # label id -> the label and where
# how a reading is made: the file read with these spellings (its refused rows left out)
Read = Callable[[Spellings], tuple[Loaded, Labels]]
NOUN = {"pairwise": "preference", "kto": "KTO label", "rank": "ranking", "rate": "rating"}


def _by_row(labels: Labels) -> dict[int, Labels]:
    rows: dict[int, Labels] = {}
    for id_, labelled in labels.items():
        rows.setdefault(labelled.row, {})[id_] = labelled
    return rows


def _reading(read: Read, spellings: Spellings) -> dict[int, Labels]:
    try:
        return _by_row(read(spellings)[1])
    except SchemaError:  # a reading the file fails under holds no labels of it
        return {}


def stored_spellings(
    workspace: Workspace, path: str, read: Read, now: Spellings, loaded: Loaded, labels: Labels
) -> Labels:
    """``labels`` (the file at ``path`` read as `data import` reads it now: ``loaded``, with the spellings ``now``)
    with each row's taken from the reading its labels are stored under (module docstring); ``read`` makes another
    reading. A SchemaError names the first row two workspace readings find stored."""
    if not loaded.counts["respelled"] and now.most == 1:
        return labels
    current = _by_row(labels)
    own = _reading(read, Spellings())
    readings = [current]
    if now.most > 1:
        readings += [_reading(read, Spellings(now.workspace, nth)) for nth in range(now.most)]
    every = [own, *readings]
    items = {label.label.item_id for reading in every for row in reading.values() for label in row.values()}
    history = import_history(workspace, items)

    def stored(labelled: Labelled) -> bool:
        records = history.get((labelled.label.item_id, labelled.label.task, labelled.label.annotator), [])
        return any(is_of(id_, record) for record in records for id_ in labelled.ids)

    def all_stored(row: Labels) -> bool:
        return all(map(stored, row.values()))

    out: Labels = {}
    for number in sorted({number for reading in every for number in reading}):
        if number in own and all_stored(own[number]):
            out |= own[number]
            continue
        found = {frozenset(r[number]): r[number] for r in readings if number in r and all_stored(r[number])}
        if len(found) > 1:
            raise _ambiguous(path, number, list(found.values()))
        out |= next(iter(found.values()), current.get(number, {}))
    return out


def _ambiguous(path: str, row: int, readings: list[Labels]) -> SchemaError:
    """The row's labels stored under two or more ``readings`` of its texts: which is the file's is a guess."""
    labelled = next(iter(readings[0].values()))
    message = (
        f"its {NOUN[labelled.label.task]} is stored under {len(readings)} spellings of the row's texts, which this "
        "workspace holds apart (merged from workspaces that spelled them otherwise): another import of the same "
        "rows stored the other, and which one this file's import stored is a guess; nothing was withdrawn"
    )
    return SchemaError(path, message, row, labelled.field or None)
