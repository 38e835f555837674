"""A write never changes a rank item under the labels already stored on it.

A rank item is every answer of one prompt in one round, when there are `MIN_K`..`MAX_K` of them
(`data.rank_pairs.rank_groups`): an answer written to that prompt and round joins it. Two such writes are refused
by every writer of answers (`data import`, `data gold FILE`, `generate`'s sampling, `data merge`: `data.merge_guard`),
each naming where the answer comes from and what to do instead:

- any new answer to a **gold** rank item: its gold ranking ranks exactly the item's answers, so it would leave the
  new one out (and a rerun of the gold would be refused);
- any new answer to an item **an import ranked** (a ranking of the `import` annotator in force on it): the rank app
  serves no such item (`data.import_rank_rate`), so the new answer would never be ranked; `data import --remove
  FILE` withdraws the imported ranking (`data.import_withdraw`), and the item grows as any other;
- answers that take a **ranked** item (a ranking in force on it, anyone's) past `MAX_K`: it would stop being a rank
  item, so the rank app would no longer serve it (nor let its labellers undo their rankings) and a gold ranking of
  it would measure no one. Its rankings would still be exported and counted, by their answers' ids.

Any other item growing within 3–6 stays allowed: labellers already served keep the answers they saw
(`annotate.rank_items`), the others are served the whole item, and a ranking made before fills none of its K slots,
so the item is served again, whole, to everyone until rankings of all its answers hold it
(`annotate.rank_items.outgrown`). An item nobody ranked may grow past 6 (nothing
stored on it is lost; it stops being a rank item). Answers of `NO_ITEM_ENGINES` (SPIN gold, edits) and the arena's
(`data.selection.arena_answers`: evaluation data) join no item.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from data.annotators import ADMIN_SOURCE, IMPORT, same_name
from data.errors import counted
from data.import_preview import ImportPreview
from data.import_write import ranked_by
from data.rank_pairs import current_rankings
from data.ranking import MAX_K, MIN_K, rank_item_id
from data.records import Completion
from data.selection import NO_ITEM_ENGINES, answer_items, arena_labels, stored_arena_answers
from data.workspace import Workspace

Key = tuple[str, int]  # (prompt id, round): one rank item's answers
# the way out of an imported ranking (`remove_advice`), as the refusals of a write into one workspace say it where
# the import log names no file (`KeptItem.ranked_by`)
IMPORT_REMOVE = "`data import --remove FILE` (FILE: the file whose import ranked it)"
LABEL_COLUMNS = ["item_id", "annotator", "task", "ranking", "retracted", "created_at"]  # what says who ranked


@dataclass(frozen=True)
class KeptItem:
    """A rank item a write would change: ``answers`` stored, ``added`` by the write; ``gold`` where its gold ranking
    came from (gold items), ``imported`` whether an import ranked it, ``rankings`` in force on it (a gold item's
    too: they say whether withdrawing its gold would let the write through); ``ranked_by``: the file whose import
    ranked it, as given, where the import log names it (`data.import_write.ranked_by`); ``pending``: the imported
    ranking is one an import not written yet would store (an `ImportPreview`'s), so nothing can withdraw it."""

    item: str
    prompt_id: str
    round: int
    answers: int
    added: int
    gold: str | None = None
    rankings: int = 0
    imported: bool = False
    ranked_by: str | None = None
    pending: bool = False

    @property
    def first_changing(self) -> int:
        """Which of the write's new answers (0-based, in the order written) changes the item first: any one joins a
        gold or imported-ranked item, the one past `MAX_K` ends a ranked one."""
        return 0 if self.gold is not None or self.imported else MAX_K - self.answers

    @property
    def lifts(self) -> tuple[str, ...]:
        """What withdrawing lets the write through, where something does: ``gold`` (`data gold --remove ITEM`)
        and ``import`` (`data import --remove FILE`, the imported ranking), those the item has; nothing for a
        ranked item (others' rankings in force) the write takes past `MAX_K`."""
        others = self.rankings - self.imported  # the rankings no withdrawal lifts: people's
        if self.pending or (others and self.answers + self.added > MAX_K):
            return ()
        return ("gold",) * (self.gold is not None) + ("import",) * self.imported

    def remove_advice(self, gold_in: str | None = None, ranked_in: str | None = None) -> str:
        """`data gold --remove ITEM` and `data import --remove FILE` as a way out, to follow other advice, where
        withdrawing the item's gold and its imported ranking lets the write through (`lifts`); else nothing.
        ``gold_in``, ``ranked_in``: the workspace (``-w``) holding the gold, the imported ranking, where the advice
        names it (a merge's: two workspaces). FILE is `ranked_by` where known."""

        def where(workspace: str | None) -> str:
            return f" -w {workspace}" if workspace else ""

        steps = {
            "gold": f"`data gold{where(gold_in)} --remove {self.item}`",
            "import": f"`data import{where(ranked_in)} --remove {shlex.quote(self.ranked_by)}`"
            if self.ranked_by
            else IMPORT_REMOVE.replace("import", f"import{where(ranked_in)}", 1),
        }
        lifted = [steps[what] for what in self.lifts]
        return f", or {' and '.join(lifted)} first" if lifted else ""

    def problem(self) -> str:
        """What the write would do to it, to follow "would" in an error line."""
        where = f"rank item {self.item} (round {self.round} of its prompt"
        if self.gold is not None:
            return f"change {where}), gold from {self.gold}: a gold ranking ranks every answer of its item"
        if self.imported:
            return (
                f"change {where}), ranked by an import: the rank app serves no item an import ranked, so the new "
                "answer would never be ranked"
            )
        return (
            f"take {where}, ranked {counted(self.rankings, 'time')}) from {self.answers} to {self.answers + self.added} "
            f"answers: a rank item is {MIN_K}-{MAX_K} answers, so it would leave the rank app with its rankings"
        )


def new_answers(workspace: Workspace, records: Iterable[object]) -> dict[Key, list[Completion]]:
    """The answers among ``records`` that would join a rank item (not of `NO_ITEM_ENGINES`), not stored yet, each
    once, by prompt and round in the order given."""
    answers = {r.id: r for r in records if isinstance(r, Completion) and r.engine not in NO_ITEM_ENGINES}
    if not answers:
        return {}
    known = set(workspace.read("completions", ["id"], where=("id", answers)).column("id").to_pylist())
    out: dict[Key, list[Completion]] = {}
    for answer in answers.values():
        if answer.id not in known:
            out.setdefault((answer.prompt_id, answer.round), []).append(answer)
    return out


def item_sizes(workspace: Workspace, prompt_ids: Iterable[str]) -> dict[Key, int]:
    """How many answers each round of these prompts holds (a rank item's, where 3-6): the stored completions but
    those of `NO_ITEM_ENGINES` and the arena's (`data.selection.stored_arena_answers`), by prompt and round. Only
    these prompts' completions are read: an answer's id is a digest of its prompt's id (and text, source...), so the
    rows of one id are of one prompt, and filtering the rows before the store keeps one per id keeps the ones it
    would keep after."""
    prompt_ids = set(prompt_ids)
    completions, arena = _answers_of(workspace, prompt_ids)
    return sizes_of(completions, prompt_ids, arena)


def _answers_of(workspace: Workspace, prompt_ids: set[str]) -> tuple[pa.Table, pa.Array]:
    """The completions of ``prompt_ids`` (prompt_id, engine, round), and the arena's answers among them, which
    join no rank item (no pair is read where none of these prompts has an answer stored)."""
    completions = workspace.read(
        "completions", ["prompt_id", "engine", "round"], where=("prompt_id", prompt_ids)
    )
    arena = stored_arena_answers(workspace, prompt_ids) if completions.num_rows else pa.array([], pa.string())
    return completions, arena


def sizes_of(
    completions: pa.Table, prompt_ids: Iterable[str], arena: pa.Array | None = None
) -> dict[Key, int]:
    """`item_sizes` of a completions table (prompt_id, engine, round; id with ``arena``) held in memory, less the
    ``arena``'s answers (`data.selection.arena_answers`), which join no rank item."""
    prompts = pa.array(sorted(set(prompt_ids)), pa.string())
    completions = completions.filter(pc.is_in(completions.column("prompt_id"), value_set=prompts))
    completions = completions.filter(answer_items(completions, arena))
    sizes: dict[Key, int] = {}
    for key in zip(*(completions.column(c).to_pylist() for c in ("prompt_id", "round"))):
        sizes[key] = sizes.get(key, 0) + 1
    return sizes


def kept_items(workspace: Workspace, added: Mapping[Key, int], gold: Mapping[str, str]) -> list[KeptItem]:
    """The rank items that ``added`` new answers (by prompt and round; none of them stored) would change as the
    module docstring says, in ``added``'s order; ``gold``: the gold rank items now -> their source. The labels
    stored say which items are ranked, by an import or anyone; the workspace's import log, which file's import
    ranked an item (`KeptItem.ranked_by`)."""
    if not any(n > 0 for n in added.values()):
        return []
    prompts = {prompt for prompt, _ in added}  # their completions only (`item_sizes`), and pairs
    completions, arena = _answers_of(workspace, prompts)
    labels = item_labels(workspace, [rank_item_id(*key) for key in added])
    items = changed_items(completions, labels, added, gold, arena)
    if isinstance(workspace, ImportPreview):  # rankings only the import would store: nothing to withdraw yet
        stored = _imported(workspace.stored, [item.item for item in items if item.imported])
        items = [replace(item, pending=item.imported and item.item not in stored) for item in items]
    return named_files(workspace.path, spelled_gold(workspace, items))


def spelled_gold(workspace: Workspace, items: list[KeptItem]) -> list[KeptItem]:
    """``items``, those whose gold an admin made in the app (`ADMIN_SOURCE`: ``admin:NAME``) with NAME spelled as
    `data stats` spells it, where the workspace's labels hold the name: one spelling per name, the earliest stored
    (`Workspace.read`). Only a name that is not ASCII has several spellings; the labels are read for one only."""
    given = {i.gold for i in items if i.gold and i.gold.startswith(ADMIN_SOURCE) and not i.gold.isascii()}
    if not given:
        return items
    names = pc.unique(workspace.read("labels", ["annotator"]).column("annotator")).to_pylist()
    shown = {same_name(ADMIN_SOURCE + name): ADMIN_SOURCE + name for name in names}
    return [replace(i, gold=shown.get(same_name(i.gold), i.gold)) if i.gold in given else i for i in items]


def _imported(workspace: Workspace | None, items: list[str]) -> set[str]:
    """Those of ``items`` an import's ranking in force in ``workspace`` (None: none yet) ranks."""
    if workspace is None or not items:
        return set()
    labels = item_labels(workspace, items)
    current = current_rankings(labels) if labels.num_rows else None
    return set(current.loc[current["annotator"] == IMPORT, "item_id"]) if current is not None else set()


def item_labels(workspace: Workspace, items: Iterable[str]) -> pa.Table:
    """The labels (`LABEL_COLUMNS`) of ``items`` only, not every label's: a labeller's rankings in force on an item
    are their labels of it (`data.aggregate.current_labels`), and the names read are in one spelling each among
    them (`Workspace.read`), so each labeller counts once."""
    return workspace.read("labels", LABEL_COLUMNS, where=("item_id", set(items)))


def named_files(workspace: str | Path, items: list[KeptItem]) -> list[KeptItem]:
    """``items``, those an import ranked with the file whose import did (`KeptItem.ranked_by`) where the import log
    of the workspace at ``workspace`` (the one holding the imported ranking) names it."""
    files = ranked_by(workspace, [item.item for item in items if item.imported])
    return [replace(item, ranked_by=files[item.item]) if item.item in files else item for item in items]


def changed_items(
    completions: pa.Table,
    labels: pa.Table,
    added: Mapping[Key, int],
    gold: Mapping[str, str],
    arena: pa.Array | None = None,
) -> list[KeptItem]:
    """`kept_items` of tables held in memory (`data.merging` checks a merge before it writes): ``completions``
    (prompt_id, engine, round; id with ``arena``) and ``labels`` (`LABEL_COLUMNS`) of the side the answers are
    added to. The ``arena``'s answers (`data.selection.arena_answers`) join no rank item, and a ranking that names
    one (stored by an older version, which served them) holds no item: it is left out of every export."""
    added = {key: n for key, n in added.items() if n > 0}
    if not added:
        return []
    sizes = sizes_of(completions, {prompt for prompt, _ in added}, arena)
    items = {key: rank_item_id(*key) for key in added}
    labels = labels.filter(pc.is_in(labels.column("item_id"), value_set=pa.array(list(items.values()))))
    if arena is not None and len(arena):
        labels = labels.filter(pa.array(~arena_labels(labels, arena)))
    current = current_rankings(labels) if labels.num_rows else None
    rankings = current["item_id"].value_counts().to_dict() if current is not None else {}
    imported = set(current.loc[current["annotator"] == IMPORT, "item_id"]) if current is not None else set()
    out = []
    for key, n in added.items():
        item, size = items[key], sizes.get(key, 0)
        if item in gold:
            out.append(
                KeptItem(item, *key, size, n, gold[item], rankings.get(item, 0), imported=item in imported)
            )
        elif item in imported:
            out.append(KeptItem(item, *key, size, n, rankings=rankings[item], imported=True))
        elif rankings.get(item) and size <= MAX_K < size + n:
            out.append(KeptItem(item, *key, size, n, rankings=rankings[item]))
    return out
