"""Gold items: items with a known answer, mixed into every labeller's queue to measure each labeller. An item of the
pairwise task is a pair (answer a, b, tie or both_bad), one of the KTO task a completion (desirable or undesirable),
one of the rank task a rank item (`data.ranking`: the 3-6 answers of one prompt in one round; answer: a full ranking
of them, as a rank label holds it, ``"c3>c1=c4>c2"``), one of the rate task a completion (answer: its ratings on a
rubric's aspects, as a rate label holds them, ``{"helpfulness": 3, ...}``).

Stored as events in the workspace's ``gold`` table (like labels, with the task): an item's current gold answer is its
latest row, and a retracted latest row means the item is no longer gold. Sources (`python -m data gold`):

- a file of preferences or KTO rows (any import format; `data.gold_file`): each row marks the stored pairs or
  completions of its prompt and answer texts, or adds its own unlabelled when none matches; its preference or KTO
  label becomes the gold answer (never a label); rows of rankings or ratings mark rank items and rated answers so
  (`data.gold_file_rank_rate`);
- ``--from-split test``: the imported preferences and KTO labels of the items whose prompt is in that split;
- ``--pair ID --answer CHOICE``, ``--completion ID --answer desirable``, ``--rank-item ID --ranking R``,
  ``--rate-item ID --ratings JSON`` (the admin tab's "make gold" on a decided item calls `mark_gold`).

A labeller's answer on a gold item is stored as their label like any other; verdicts and exports leave gold items
out of training (`data.export`, `data.rank_pairs`, `data.ratings`), and Dawid–Skene clamps them to their answer
(`data.aggregate`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from data.aggregate import latest_positions
from data.errors import quoted
from data.gold_agreement import GoldError, check_kto_agreement, check_pair_agreement
from data.gold_answers import check_ranking, check_ratings
from data.gold_lock import GOLD_LOCK as GOLD_LOCK  # `data.validate` and tests import it from here
from data.gold_lock import gold_lock
from data.rank_guard import kept_items, new_answers
from data.rank_pairs import misfit_groups, rank_groups
from data.ranking import rank_item_id
from data.records import Completion, Pair, now, random_id
from data.rubric import Rubric
from data.schemas import CHOICES, GOLD
from data.selection import stored_arena_answers
from data.workspace import Workspace, rows_by_table

GOLD_TASKS = ("pairwise", "kto", "rank", "rate")  # every task's items can be gold
ANSWER = {"pairwise": "choice", "kto": "choice", "rank": "ranking", "rate": "ratings"}  # the answer's column
NOUN = {"pairwise": "pair", "kto": "completion", "rank": "rank item", "rate": "rate item"}
CLI = "cli"  # the source of the marks given on the command line ...
CLI_FLAGS = {
    "pairwise": "--pair",
    "kto": "--completion",
    "rank": "--rank-item",
    "rate": "--rate-item",
}  # ... named so
ITEM_TABLES = {
    "pairwise": ("pairs", Pair),
    "kto": ("completions", Completion),
    "rate": ("completions", Completion),
}  # where each task's items live (rank items are groups of completions: `data.rank_pairs.rank_groups`)

# Why an answer of the arena's (`data.selection.arena_answers`), or a rank item of them, is no gold item: no kto,
# rate or rank app serves one, so no labeller would meet it
ARENA_NO_GOLD = "which only `--task arena` serves, as pairs, so no gold item"
ARENA_ITEM = (
    "is the arena's (evaluation data, which only `--task arena` serves, as pairs), so it cannot be gold here"
)

# Where a rank item's id comes from: the app derives it (`data.ranking.rank_item_id`), no import names it
UNKNOWN_HINT = {
    "rank": " (a rank item is one prompt's 3-6 answers of one round; its id is the rank labels' item_id, and the "
    "rank app's admin tab lists the least agreed items with their answers)"
}


def _check_answers(item_ids: list[str], choices: list[str | None], source: str, task: str) -> None:
    """Every answer one of ``task``'s choices; the first that is not is a GoldError."""
    for item, choice in zip(item_ids, choices):
        if choice not in CHOICES[task]:
            shown = (
                " has no answer"
                if choice is None
                else f": answer {choice!r} is not one of {', '.join(CHOICES[task])}"
            )
            raise GoldError(f"{source}: gold {NOUN[task]} {item}{shown}")


@dataclass(frozen=True)
class Mark:
    """Gold answers asked for from one source: ``ids`` of ``task`` (pairs; kto, rate: completions; rank: rank items)
    with ``answers`` (choices; rank: rankings; rate: ratings, checked against ``rubric``); a file's marks name the
    ``rows`` (0-based) and the ``field`` each answer came from."""

    task: str
    ids: list[str]
    answers: list
    source: str
    rubric: Rubric | None = None
    rows: list[int] | None = None
    field: str | None = None

    @property
    def where(self) -> str:
        """How an error names the source: the flag for the command line's marks (``--pair``), else the source."""
        return CLI_FLAGS[self.task] if self.source == CLI else self.source

    def where_of(self, index: int) -> str:
        """How an error names where the ``index``-th answer was given: `where`, with a file's row and field."""
        if self.rows is None:
            return self.where
        return f"{self.source}, row {self.rows[index]}, field '{self.field}'"

    def answer_where(self, index: int) -> str:
        """How a message on the ``index``-th answer itself names it: a file's row and field, else the source, the
        item and the answer's field (``--rank-item: gold rank item ID, field 'ranking'``)."""
        if self.rows is not None:
            return self.where_of(index)
        return f"{self.where}: gold {NOUN[self.task]} {self.ids[index]}, field '{ANSWER[self.task]}'"


def gold_rows(
    item_ids: list[str],
    answers: list,
    source: str,
    task: str = "pairwise",
    retracted: bool = False,
    rubric: str | None = None,
) -> pa.Table:
    """Gold events for ``item_ids`` with their answers, checked before (`apply_gold`: choices by `_check_answers`,
    rankings and ratings as `check_ranking` and `check_ratings` return them)."""
    n, stamp = len(item_ids), now()
    answer = {column: answers if column == ANSWER[task] else [None] * n for column in ANSWER.values()}
    return pa.table(
        {
            "id": [random_id() for _ in range(n)],
            "item_id": item_ids,
            "task": [task] * n,
            "choice": answer["choice"],
            "source": [source] * n,
            "retracted": [retracted] * n,
            "ranking": answer["ranking"],
            "ratings": answer["ratings"],
            "rubric": [rubric] * n,
            "created_at": pa.array([stamp] * n, GOLD.field("created_at").type),
        },
        schema=GOLD,
    )


def current_gold(events: pa.Table, task: str = "pairwise") -> pa.Table:
    """item_id, the answer (``choice``; rank: ``ranking``; rate: ``ratings`` and ``rubric``) and source of the items
    of ``task`` that are gold now, sorted by item_id."""
    columns = ["item_id", ANSWER[task], "source", *(["rubric"] if task == "rate" else [])]
    events = events.filter(pc.equal(events.column("task"), task))
    if not events.num_rows:
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    keyed = events.rename_columns(["annotator" if n == "task" else n for n in events.column_names])
    latest = events.take(latest_positions(keyed))  # one "annotator" (the task): the latest row per item
    latest = latest.filter(pc.invert(latest.column("retracted")))
    return latest.select(columns).sort_by("item_id")


def read_gold(workspace: Workspace, task: str = "pairwise") -> pa.Table:
    """The workspace's current gold items of ``task``: item_id, the answer, source (`current_gold`)."""
    return current_gold(workspace.read("gold"), task)


def gold_now(workspace: Workspace, tasks: tuple[str, ...]) -> dict[str, dict[str, tuple[str, str]]]:
    """Per task of ``tasks``: its gold items now -> (answer, source; the command line's named by its flag)."""
    out = {}
    for task in tasks:
        table = read_gold(workspace, task)
        ids, answers, sources = (table.column(c).to_pylist() for c in ("item_id", ANSWER[task], "source"))
        sources = [CLI_FLAGS[task] if source == CLI else source for source in sources]
        out[task] = dict(zip(ids, zip(answers, sources)))
    return out


def gold_rank_sources(workspace: Workspace) -> dict[str, str]:
    """The gold rank items now -> where their gold came from (`gold_now`): the ``gold`` that
    `data.rank_guard.kept_items` checks a write against."""
    return {item: source for item, (_, source) in gold_now(workspace, ("rank",))["rank"].items()}


def _answers(workspace: Workspace, records: list[object]) -> pa.Table:
    """The workspace's completions as rank items group them, with those among ``records``."""
    stored = workspace.read("completions", ["prompt_id", "engine", "round", "created_at"])
    added = [{c: getattr(r, c) for c in stored.column_names} for r in records if isinstance(r, Completion)]
    return pa.concat_tables([stored, pa.Table.from_pylist(added, schema=stored.schema)]) if added else stored


def rank_items(
    workspace: Workspace, records: list[object] = (), arena: pa.Array | None = None
) -> dict[str, tuple[str, ...]]:
    """The workspace's rank items: item id -> its answers (completion ids), as the rank app groups them (none of
    the ``arena``'s: `data.selection.arena_answers`, read where None); with the completions among ``records`` (a
    gold file's new answers make rank items too)."""
    arena = stored_arena_answers(workspace) if arena is None else arena
    answers = _answers(workspace, records)
    groups = rank_groups(answers.filter(pc.invert(pc.is_in(answers.column("id"), value_set=arena))))
    return dict(
        zip(groups.column("item_id").to_pylist(), map(tuple, groups.column("completion_ids").to_pylist()))
    )


def _unknown(
    workspace: Workspace, marks: list[Mark], records: list[object], ranked: dict, arena: pa.Array
) -> dict[str, dict[str, str]]:
    """Per task asked, the ids of ``marks`` that are neither in the workspace's items of that task (pairs,
    completions: one read of those ids' rows; rank items: ``ranked``) nor among those ``records`` add, each
    with why: a rank item that grew past 6 answers says so (`misfit_groups`), and one of the ``arena``'s answers, or
    the rank item of its prompt and round where no other answer makes one, `ARENA_ITEM`; any other is not in the
    workspace."""
    out = {}
    for task in {mark.task for mark in marks}:
        ids = [i for mark in marks if mark.task == task for i in mark.ids]
        absent = f"is not in {workspace.path}{UNKNOWN_HINT.get(task, '')}"
        if task == "rank":
            misfit = _misfit(_answers(workspace, records), arena) if set(ids) - set(ranked) else {}
            out[task] = {i: misfit.get(i, absent) for i in ids if i not in ranked}
            continue
        asked = pa.array(ids, pa.string())
        table, kind = ITEM_TABLES[task]
        stored = workspace.read(table, ["id"], ("id", asked)).column("id").combine_chunks()
        missing = asked.filter(pc.invert(pc.is_in(asked, value_set=stored))).to_pylist()
        out[task] = dict.fromkeys(set(missing) - {r.id for r in records if isinstance(r, kind)}, absent)
        if task != "pairwise":
            out[task] |= dict.fromkeys(asked.filter(pc.is_in(asked, value_set=arena)).to_pylist(), ARENA_ITEM)
    return out


def _misfit(answers: pa.Table, arena: pa.Array) -> dict[str, str]:
    """Why the prompts and rounds of ``answers`` (`_answers`) that make no rank item make none: too many or too
    few answers (`misfit_groups`, the ``arena``'s left out), else answers of the arena's only."""
    on = pc.is_in(answers.column("id"), value_set=arena)
    keys = answers.filter(on)
    of_arena = zip(keys.column("prompt_id").to_pylist(), keys.column("round").to_pylist())
    return {rank_item_id(*key): ARENA_ITEM for key in of_arena} | misfit_groups(answers.filter(pc.invert(on)))


def _stored_answers(mark: Mark, ranked: dict[str, tuple[str, ...]]) -> list:
    """The mark's answers as the gold table stores them; the first that is not one of its task's is a GoldError."""
    if mark.task == "rank":
        pairs = enumerate(zip(mark.ids, mark.answers))
        return [check_ranking(a, ranked[i], mark.answer_where(n)) for n, (i, a) in pairs]
    if mark.task == "rate":
        return [check_ratings(a, mark.rubric, mark.answer_where(n)) for n, a in enumerate(mark.answers)]
    _check_answers(mark.ids, mark.answers, mark.where, mark.task)
    return list(mark.answers)


def _check_rank_items_kept(
    workspace: Workspace, marks: list[Mark], records: list[object], gold: pa.Table, removing: pa.Array
) -> None:
    """The answers a gold file adds (``records``) change no rank item under labels stored on it
    (`data.rank_guard`): none joins a gold rank item (``gold``: `current_gold`'s, less those ``removing``
    withdraws), whose gold ranking would leave it out, or one an import ranked, and none takes a ranked item past 6
    answers. A GoldError names the row (of the first mark on the answer, or on a pair of it) and the item."""
    added = new_answers(workspace, records)
    kept = gold.filter(pc.invert(pc.is_in(gold.column("item_id"), value_set=removing)))
    sources = [CLI_FLAGS["rank"] if s == CLI else s for s in kept.column("source").to_pylist()]
    changed = kept_items(
        workspace,
        {key: len(new) for key, new in added.items()},
        dict(zip(kept.column("item_id").to_pylist(), sources)),
    )
    if not changed:
        return
    item = changed[0]
    answer = added[item.prompt_id, item.round][item.first_changing]
    pairs = {r.id: (r.completion_a, r.completion_b) for r in records if isinstance(r, Pair)}
    where = next(
        (
            mark.where_of(index)
            for mark in marks
            for index, marked in enumerate(mark.ids)
            if answer.id == marked or answer.id in pairs.get(marked, ())
        ),
        "a gold file",
    )
    raise GoldError(
        f"{where}: its answer {quoted(answer.text)} is not stored, and adding it would {item.problem()}; give "
        f"one of the item's answers (the text exactly){item.remove_advice()}"
    )


@dataclass(frozen=True)
class GoldChange:
    """What `apply_gold` wrote: answers marked (``changed`` of them replacing another gold answer of the item),
    answers already gold as given, gold items withdrawn (per task: one id gold for KTO and rating counts two); per
    (task, item) given an answer: that answer as stored and the item's gold (answer, source) before, read under the
    lock as written (None: not gold), so a caller's "was X" is what this write replaced, not what another replaced."""

    marked: int
    unchanged: int
    removed: int
    changed: int = 0
    items: dict[tuple[str, str], tuple] = field(default_factory=dict)


def _asked(
    workspace: Workspace, marks: list[Mark], records: list[object], arena: pa.Array
) -> dict[tuple[str, str], tuple]:
    """(task, item) -> (stored answer, source, rubric name) of every mark, checked; a GoldError at the first bad."""
    ranked = rank_items(workspace, records, arena) if any(mark.task == "rank" for mark in marks) else {}
    unknown = _unknown(workspace, marks, records, ranked, arena)
    asked: dict[tuple[str, str], tuple] = {}
    for mark in marks:
        noun = NOUN[mark.task]
        for index, item in enumerate(mark.ids):
            if item in unknown[mark.task]:
                raise GoldError(f"{mark.where_of(index)}: {noun} {item} {unknown[mark.task][item]}")
        rubric = mark.rubric.name if mark.task == "rate" and mark.rubric else None
        for index, (item, answer) in enumerate(zip(mark.ids, _stored_answers(mark, ranked))):
            where = mark.where_of(index)
            first = asked.setdefault((mark.task, item), (answer, mark.source, rubric, where))
            if first[0] != answer:
                raise GoldError(
                    f"{noun} {item} is given two gold answers: {first[0]} ({first[3]}) and {answer} ({where}); "
                    "give one"
                )
    return asked


def apply_gold(
    workspace: Workspace,
    marks: list[Mark],
    remove: list[str] = (),
    records: list[object] = (),
    arena: pa.Array | None = None,
) -> GoldChange:
    """Check every mark and removal, then write them (with the prompts, completions and pairs ``records`` add) in
    one batch; a GoldError leaves the workspace as it was. An item given two different answers, an unknown item,
    an answer not of its task (a ranking that misses one of the item's answers, a rating off its rubric), and a
    removal of an item that is not gold (or is made gold in the same call), and a new answer among ``records`` that
    would change a gold or ranked rank item (`_check_rank_items_kept`) are errors. An answer an item already
    has as gold is not written again (counted as unchanged). A removal retracts the item in every task it is gold
    in (a completion can be a KTO and a rate gold item). A call with something to write is checked again and
    written under the `waiting_lock` of `GOLD_LOCK` (one of any process at a time: two at once both wrote); one
    refused or with nothing to write takes no lock (a read-only workspace lists); no locks there: a warning.
    ``arena``: the arena's answers (`stored_arena_answers`) of the marks' prompts (`data.gold_file`'s); None: all."""
    if arena is None:  # the arena's answers are no KTO, rate or rank items; pairs need none
        others = any(mark.task != "pairwise" for mark in marks)
        arena = stored_arena_answers(workspace) if others else pa.array([], pa.string())
    change = _applied(workspace, marks, remove, records, arena, write=False)
    if not (change.marked or change.removed or records):
        return change
    with gold_lock(workspace, "`data gold`"):
        return _applied(workspace, marks, remove, records, arena)


def _applied(
    workspace: Workspace,
    marks: list[Mark],
    remove: list[str],
    records: list[object],
    arena: pa.Array,
    write: bool = True,
) -> GoldChange:
    """`apply_gold`'s check, and its write unless ``write`` is false (the change it would make)."""
    events = workspace.read("gold")
    current = {task: current_gold(events, task) for task in GOLD_TASKS}
    gold_now = {
        task: dict(zip(table.column("item_id").to_pylist(), table.column(ANSWER[task]).to_pylist()))
        for task, table in current.items()
    }
    rubric_now = dict(zip(*(current["rate"].column(c).to_pylist() for c in ("item_id", "rubric"))))
    asked = _asked(workspace, marks, list(records), arena)
    for item in dict.fromkeys(remove):
        if any(key[1] == item for key in asked):
            raise GoldError(f"--remove {item}: the same call makes it gold; give one of the two")
        if not any(item in answers for answers in gold_now.values()):
            raise GoldError(f"--remove {item}: not a gold item in {workspace.path}")
    removing = pa.array(list(remove), pa.string())
    _check_rank_items_kept(workspace, marks, list(records), current["rank"], removing)
    for task, check in (("pairwise", check_pair_agreement), ("kto", check_kto_agreement)):
        new = {item: given for (of_task, item), given in asked.items() if of_task == task}
        if new:
            kept = current[task].filter(
                pc.invert(pc.is_in(current[task].column("item_id"), value_set=removing))
            )
            ids, answers, sources = (kept.column(c).to_pylist() for c in ("item_id", ANSWER[task], "source"))
            after = dict(zip(ids, answers)) | {i: given[0] for i, given in new.items()}
            stored = [CLI_FLAGS[task] if source == CLI else source for source in sources]
            who = dict(zip(ids, stored)) | {i: given[3] for i, given in new.items()}
            check(workspace, after, who, set(new), list(records))
    tables, marked, changed, removed = [], 0, 0, 0
    for task in GOLD_TASKS:
        by_source: dict[tuple[str, str | None], list[tuple[str, str]]] = {}
        for (of_task, item), (answer, source, rubric, _) in asked.items():
            if of_task == task and gold_now[task].get(item) != answer:
                by_source.setdefault((source, rubric), []).append((item, answer))
                changed += item in gold_now[task]
        for (source, rubric), given in by_source.items():
            tables.append(
                gold_rows([i for i, _ in given], [a for _, a in given], source, task, rubric=rubric)
            )
            marked += len(given)
        for item in dict.fromkeys(remove):  # the retracting row repeats the answer it withdraws
            if item in gold_now[task]:
                removed += 1  # per task: an item gold for KTO and for rating is two gold items
                answer, rubric = gold_now[task][item], rubric_now.get(item) if task == "rate" else None
                tables.append(gold_rows([item], [answer], "remove", task, retracted=True, rubric=rubric))
    if write:
        rows = rows_by_table(records)
        rows["gold"] = [row for table in tables for row in table.to_pylist()]
        workspace.append_rows(rows, skip_existing=True)
    return GoldChange(marked, len(asked) - marked, removed, changed, _before(current, asked))


def _before(
    current: dict[str, pa.Table], asked: dict[tuple[str, str], tuple]
) -> dict[tuple[str, str], tuple]:
    """`GoldChange.items`: per (task, item) ``asked``, its answer as stored and the item's gold (answer, source)
    in ``current`` (None: not gold)."""
    gold = {}
    for task, table in current.items():
        ids, answers, sources = (table.column(c).to_pylist() for c in ("item_id", ANSWER[task], "source"))
        gold[task] = dict(zip(ids, zip(answers, sources)))
    return {(task, item): (given[0], gold[task].get(item)) for (task, item), given in asked.items()}


def mark_gold(
    workspace: Workspace,
    item_ids: list[str],
    answers: list,
    source: str,
    task: str = "pairwise",
    rubric: Rubric | None = None,
) -> int:
    """Make these items of ``task`` gold with these answers (`Mark`); returns how many were written (an answer the
    item already has as gold is not written again)."""
    return apply_gold(workspace, [Mark(task, list(item_ids), list(answers), source, rubric)]).marked


def remove_gold(workspace: Workspace, item_ids: list[str]) -> int:
    """Items no longer gold (their labels stay); returns how many gold items were withdrawn (per task). An id that
    is not gold is a GoldError."""
    return apply_gold(workspace, [], item_ids).removed
