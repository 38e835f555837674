"""Reading the workspace into the labelling service: start-up and every reload read only the part files not read yet
(data.store.read_new), on Arrow columns. `Loading` is mixed into annotate.service.LabelService (it fills the
service's item catalog, queue, edit log and machine picks, under the service's locks).

Which items are queued, and in which order, is annotate.items' (rank: annotate.rank_items); items that appear after
the service started join the end of the queue (rank: also a prompt whose answers arrive over several reads, and answers
that join an item already queued, for the labellers not yet served it: annotate.service; and the items whose
imported label `data import --remove` withdrew); an item whose imported label is in force again (the withdrawn file
imported again) leaves it, as does one that leaves gold while an imported label is in force on it, and a rank item
whose answers pass 6 (annotate.rank_items.past_max): a restart would not queue any of them; nor does an item that
leaves gold join the queue where its kind is nobody's item (an arena, spin or edit pair; a gold answer or an edit),
as a restart would leave it out too. An item made gold that the catalog
lacks (such a kind, or one an import's label closed) is read at the reload that reads its gold event, as a restart
puts every gold item in the catalog. The labellers' labels are applied in bulk
on the first read and one by one afterwards, each once (the ids applied so far are kept); the machine labellers'
labels are kept as a table (the order ``machine-uncertain`` and ``--suggest`` read them), never queued. Under
``--order uncertainty`` the scores `python -m train score` writes while the app runs reorder the queued items at the
next item served (`annotate.score_order`), as a restart would order them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from annotate.items import ArenaAnswers, select_chunk
from annotate.rank_items import outgrown, past_max, rank_chunk, touched_groups
from annotate.score_order import CREATION_ORDER, ScoreOrder
from data import store
from data.aggregate import keep_rows, latest_positions
from data.annotators import IMPORT, machine_column, same_names
from data.gold import current_gold
from data.machine import machine_certainty, machine_picks
from data.rank_pairs import rank_groups
from data.ranking import rank_item_id
from data.records import Label
from data.schemas import SCHEMAS
from data.selection import ARENA_RECORD_COLUMNS, imported_items, off_arena, uncertainty_margins

# What the service reads of each table (None: every column).
READ_COLUMNS = {
    "pairwise": {
        "prompts": ["id", "messages"],
        "completions": ["id", "text"],
        "scores": ["id", "pair_id", "model_id", "margin", "chat_template", "created_at"],
    },
    "kto": {
        "prompts": ["id", "messages"],
        "completions": ["id", "prompt_id", "text", "engine", "round", "created_at"],
        "arenas": ARENA_RECORD_COLUMNS,  # which answers are the arena's (`annotate.items.ArenaAnswers`)
    },
}
READ_COLUMNS["rank"] = READ_COLUMNS["kto"]
READ_COLUMNS["rate"] = READ_COLUMNS["kto"]  # one answer per item, as kto


class Loading(ScoreOrder):
    """LabelService's reads of the workspace (the service provides what is named below)."""

    workspace: object  # data.workspace.Workspace
    view: str
    task: str
    order: str
    suggest: bool
    gold_rate: float
    picks: dict[str, str]
    queue: object  # annotate.queue.LabelQueue
    items: object  # annotate.items.ItemCatalog
    edits: object  # annotate.editing.EditLog
    clock: Callable[[], float]
    _lock: threading.Lock
    _gate: object  # data.group_commit.WriteGate
    _reload_lock: threading.Lock
    _loaded_at: float
    _seen: dict[str, set[str]]  # part files already read, per table
    # prompts, completions, import labels and (pairwise) the pairs' ids read so far
    _tables: dict[str, pa.Table]
    _known: list[pa.Array]  # ids of the labels applied in bulk
    _outgrown: dict[tuple[str, str], Label]  # rank: (labeller, item) -> their ranking the item outgrew
    _gold_before: frozenset[str] = frozenset()  # the gold items at the last read
    _workspace_ids: ItemIds | None = None  # the ids `_in_workspace` looks up, made at the first read
    _arena: ArenaAnswers  # kto, rate, rank: the arena's answers, which are nobody's item (set by the service)

    def reload(self, min_interval: float = 0.0) -> int:
        """Read the part files not read yet (new items and labels; labels already applied are not counted twice),
        unless the last read is younger than ``min_interval`` seconds; returns the number of items."""
        if self.clock() - self._loaded_at < min_interval:
            return len(self.items)
        # first: the items queued so far in the new scores' order, and the new ones by them
        self.follow_scores(wait=True)
        with self._reload_lock:
            self._loaded_at = self.clock()
            # Children first: every label and pair read has its parents among the rows read (Workspace.read); the
            # arena's records after the answers, so an answer is read with the record written with it (ids only)
            names = ("labels", "pairs", "completions", "arenas", "prompts")
            new = {name: self._read_new(name) for name in names}
            known = self._tables.get("completions")  # the answers read before now, which an item may hold
            for name in ("prompts", "completions"):
                self._tables[name] = _concat(self._tables.get(name), new[name])
            if self.task == "pairwise":  # every pair read, of any kind: what `_in_workspace` looks up
                # (and, for the uncertainty order, what `follow_scores` orders by)
                kept = CREATION_ORDER if self.order == "uncertainty" else ("id",)
                self._tables["pairs"] = _concat(self._tables.get("pairs"), new["pairs"].select(list(kept)))
            if self._workspace_ids is None:
                self._workspace_ids = ItemIds(_rank_ids if self.view == "rank" else _column_ids)
            labels = keep_rows(new["labels"], pc.equal(new["labels"].column("task"), self.task))
            machine = machine_column(labels.column("annotator"))
            machine_new = keep_rows(labels, machine)
            self._tables["imported"] = _concat(self._tables.get("imported"), machine_new)
            candidates = new["pairs"] if self.task == "pairwise" else new["completions"]
            if self.view == "rank":  # the new answers' prompts and rounds, with the answers they join
                candidates = touched_groups(self._tables["completions"], candidates)
            # kto, rate, rank: the arena's answers are nobody's item (data.selection.arena_answers); ``left``:
            # the items of the answers an arena pair read now makes the arena's
            left, before = [], self._arena.ids
            if self.task != "pairwise":
                left = self._arena.follow(
                    self.workspace, new["pairs"], new["arenas"], known, self.view == "rank"
                )
                candidates = _joined(candidates, self._ordinary_again(before))
            candidates = self._served(candidates)
            # rank: items the new answers take past 6 leave the app, as a restart leaves them out
            past = left + (past_max(candidates) if self.view == "rank" and self._known else [])
            # after the first read only: then the items are chosen with every import label at hand
            restored = _renewed(machine_new) if self._known else []
            # items whose imported label was withdrawn: for labellers from now on
            candidates = _joined(candidates, self._served(self._withdrawn(machine_new)))
            events = self.workspace.read("gold")
            gold = current_gold(events, self.task).column("item_id").combine_chunks()
            candidates = _joined(candidates, self._served(self._newly_gold(gold)))
            margins = {}
            if self.order == "uncertainty":  # the scores `follow_scores` read
                margins = uncertainty_margins(self._tables["scores"].to_pandas().drop_duplicates("id"))
            elif self.order == "machine-uncertain" or self.suggest:  # judges' and reward models' labels
                machine_labels = self._tables["imported"].to_pandas()
                if self.order == "machine-uncertain":
                    margins = machine_certainty(machine_labels)
                if self.suggest:
                    picks = machine_picks(machine_labels)
                    with self._lock:
                        self.picks = picks
            human = self._without_edits(new, keep_rows(labels, pc.invert(machine)))
            seed = gold_seed(events)
            with ThreadPoolExecutor(max_workers=1) as pool:
                # The first read of a large workspace: the labellers' latest records are found while the items
                # are chosen (both run in Arrow and numpy, outside the GIL).
                latest = pool.submit(latest_positions, human) if not self._known else None
                tables = self._tables["prompts"], self._tables["completions"], candidates
                if self.view == "rank":
                    chunk = rank_chunk(*tables, self.order, self._tables["imported"], gold)
                else:
                    chunk = select_chunk(
                        self.view, *tables, self._tables["imported"], self.order, margins, gold
                    )
                self._apply(chunk, human, latest and latest.result(), gold.to_pylist(), seed, restored, past)
        return len(self.items)

    def _served(self, rows: pa.Table | None) -> pa.Table | None:
        """Candidate ``rows`` less the arena's answers (kto, rate, rank), whichever way a reload came to read them:
        new answers, an item newly gold or one whose imported label was withdrawn (`_withdrawn`, `_newly_gold`)."""
        return rows if rows is None or self.task == "pairwise" else self._arena.without(rows)

    def _ordinary_again(self, before: pa.Array | None) -> pa.Table | None:
        """The candidate rows (rank: with the answers of their prompts and rounds) of the answers that were the
        arena's at the last read (``before``) and are not now: a sampled pair read now reuses them, and a restart
        serves them. None where there are none (the first read reads every answer)."""
        if before is None:
            return None
        back = before.filter(pc.invert(pc.is_in(before, value_set=self._arena.ids)))
        if not len(back):
            return None
        rows = self._rows(back)
        return touched_groups(self._tables["completions"], rows) if self.view == "rank" else rows

    def off_arena(self, labels: pd.DataFrame) -> pd.DataFrame:
        """``labels`` less those on the arena's answers (`data.selection.off_arena`, as `data stats --labellers`
        counts them; of the answers the last reload knew as the arena's), of which the kto, rate and rank apps
        serve none (the pairwise and arena apps: ``labels`` as they are, the arena's votes)."""
        return labels if self.task == "pairwise" else off_arena(labels, self._arena.ids)

    def _without_edits(self, new: dict[str, pa.Table], human: pa.Table) -> pa.Table:
        """``human`` (the people's labels of the app's task read now) less those on edit pairs, which the edit log
        keeps. The rank app's edits are labelled in the pairwise task (data.edits), which ``human`` leaves out: the
        log takes them from ``new``'s labels, or a restarted rank app knew no edit saved with a ranking (its undo
        left the edit in force, and a save resent after the restart said "Not saved")."""
        self.edits.add_pairs(new["pairs"])  # first: labels read now may be on pairs read now
        if self.view == "rank":
            labels = new["labels"]
            pairwise = keep_rows(labels, pc.equal(labels.column("task"), "pairwise"))
            self.edits.split(keep_rows(pairwise, pc.invert(machine_column(pairwise.column("annotator")))))
        return self.edits.split(human)

    def _withdrawn(self, machine: pa.Table) -> pa.Table | None:
        """The candidate rows (pairs, or completions) of the items whose imported label one of the ``machine``
        labels read now withdraws (`data import --remove`), as a restart would read them; None where none does."""
        withdrawals = machine.filter(
            pc.and_(pc.equal(machine.column("annotator"), IMPORT), machine.column("retracted"))
        )
        if not withdrawals.num_rows:
            return None
        items = withdrawals.column("item_id").combine_chunks()
        if self.view != "rank":
            return self._rows(items)
        imported = self._tables["imported"]  # a rank item's answers: those its withdrawn ranking ranked
        superseded = withdrawals.column("supersedes").combine_chunks()
        ranked = imported.filter(pc.is_in(imported.column("id"), value_set=superseded))
        ids = pa.array(
            [i for left in ranked.column("left").to_pylist() if left for i in left.split(",")], pa.string()
        )
        return touched_groups(self._tables["completions"], self._rows(ids))

    def _newly_gold(self, gold: pa.Array) -> pa.Table | None:
        """The candidate rows of the ``gold`` items that became gold since the last read and that the catalog
        lacks: of a kind the app never reads (an arena or spin pair in the pairwise app, a gold answer or an edit),
        or closed by an import label, they were passed over when read; a fresh start reads every gold item. None
        where there is none (the first read: every item is a candidate)."""
        before, self._gold_before = self._gold_before, frozenset(gold.to_pylist())
        with self._lock:
            lacking = [item for item in self._gold_before - before if item not in self.items]
        if not self._known or not lacking:
            return None
        lacking = pa.array(lacking, pa.string())
        if self.view == "rank":  # a rank item's rows: its answers
            groups = rank_groups(self._tables["completions"])
            groups = groups.filter(pc.is_in(groups.column("item_id"), value_set=lacking))
            lacking = pc.list_flatten(groups.column("completion_ids")).combine_chunks()
        return self._rows(lacking)

    def _rows(self, ids: pa.Array) -> pa.Table:
        """The candidate rows with these ``ids``: pairs (the pairwise task: one read of the pairs table, rare, on a
        reload that withdraws an imported label or finds an item newly gold the catalog lacks), else answers."""
        table = self.workspace.read("pairs") if self.task == "pairwise" else self._tables["completions"]
        return table.filter(pc.is_in(table.column("id"), value_set=ids))

    def _in_workspace(self, item_id: str) -> bool:
        """Whether the workspace holds an item of this id for the app's task (a pair; an answer; a rank item's prompt
        and round) although the app does not serve it: closed before this start, which reads no closed item. Asked
        only on a refused action (a tab that outlived a restart), outside the service's lock: the ids of the rows
        the reads so far found, kept as a set from the first refusal on, grown by the rows read since (`ItemIds`),
        so refusals of made-up ids read nothing from disk and make no pass over the table."""
        table = self._tables["pairs" if self.task == "pairwise" else "completions"]
        return self._workspace_ids.holds(table, item_id)

    def _imported(self, items: list[str]) -> set[str]:
        """Those of ``items`` that hold an imported label in force (`data.selection.imported_items`, over the
        import labels of these items only)."""
        if not items:
            return set()
        imported = self._tables["imported"]
        mine = imported.filter(pc.is_in(imported.column("item_id"), value_set=pa.array(items, pa.string())))
        return set(imported_items(mine, self.task).to_pylist())

    def _read_new(self, name: str) -> pa.Table:
        columns = READ_COLUMNS[self.task].get(name)
        with self._lock:
            seen = set(self._seen[name])
        table, names = store.read_new(
            self.workspace.path, name, seen, columns=columns, roots=self.workspace.roots
        )
        with self._lock:
            self._seen[name].update(names)
        if table is None:
            schema = SCHEMAS[name]
            return (
                schema if columns is None else pa.schema([schema.field(c) for c in columns])
            ).empty_table()
        # Rows read twice are harmless here: lookups take the first, items and labels are keyed by id.
        # One labeller's name in two Unicode spellings is one labeller (one of an item's K), whichever part holds
        # which spelling: names compared, never shown (the admin view reads Workspace.read's spelling)
        return same_names(table) if name == "labels" else table

    def _reopen_outgrown(self, user: str, item_id: str) -> None:
        """(Under the lock.) The labeller's ranking of a rank item that outgrew it (`rank_items.outgrown`) fills no
        K slot: the item is served again, whole, to them too."""
        if self.view == "rank" and item_id in self.items:
            label = self.queue.label_of(user, item_id)
            if outgrown(self.items.sources(item_id)[1], label) and self.queue.reopen(user, item_id):
                self._outgrown[(user, item_id)] = label  # what their page says when the item is back

    def _apply(
        self,
        chunk,
        labels: pa.Table,
        latest=None,
        gold: list[str] = (),
        seed: bytes = b"",
        restored: list[str] = (),
        past: list[str] = (),
    ) -> None:
        """Queue the ``chunk``'s items and apply the labellers' ``labels`` (the first read: in bulk); take out of
        the regular queue the items ``restored`` (an import label read now on them) that hold an imported label in
        force, and those ``past`` 6 answers (`rank_items.past_max`), and keep out those leaving gold that hold an
        imported label in force, as a restart would."""
        first = not self._known
        if not first and labels.num_rows:
            known = pa.chunked_array(self._known, pa.string()).combine_chunks()
            labels = labels.filter(pc.invert(pc.is_in(labels.column("id"), value_set=known)))
        self._known.append(labels.column("id").combine_chunks())
        records = [] if first else [Label(**row) for row in labels.sort_by("created_at").to_pylist()]
        is_gold = set(gold)
        with self._gate.applying(), self._lock:  # between submits: none checked before and written after
            renewed = [i for i in chunk.ids if i in self.items] if self.view == "rank" and not first else []
            ids, rounds = self.items.extend(chunk, renew=self.view == "rank")  # rank: new answers join
            regular = [(i, r) for i, r in zip(ids, rounds) if i not in is_gold]
            self.queue.add_items([i for i, _ in regular], [r for _, r in regular])
            was_gold = self.queue.gold
            self.queue.set_gold([g for g in gold if g in self.items], self.gold_rate, seed)
            # no longer gold: a regular item again, at once, where a fresh start would queue it (not an arena pair)
            back = [g for g in was_gold if g not in is_gold and g not in self.items.gold_only]
            closed = self._imported([*back, *restored])  # an import's label in force: nobody labels it
            back = [g for g in back if g not in closed]
            self.queue.add_items(back, [self.items[g].round for g in back])
            self.queue.close([*(item for item in restored if item in closed), *past])
            if first:
                self.queue.load(labels, latest)
                if self.view == "rank":
                    latest = latest_positions(labels) if latest is None else latest
                    for user, item_id in _grown(labels, latest, chunk):
                        self._reopen_outgrown(user, item_id)
            for label in records:
                self.queue.record(label)
                self._outgrown.pop((label.annotator, label.item_id), None)
                self._reopen_outgrown(label.annotator, label.item_id)
            for item_id in renewed:  # answers joined it: the rankings made before rank none of them
                for user in self.queue.labellers():
                    self._reopen_outgrown(user, item_id)


class ItemIds:
    """The ids of the items a table's rows hold (``ids_of``), as a set built when first asked and grown by the rows
    appended since: the table only grows (`Loading.reload` concatenates what each read found), so the rows past the
    count already taken in are the new ones. Its own lock: two refusals at once build the set once."""

    def __init__(self, ids_of: Callable[[pa.Table], Iterable[str]]):
        self._ids_of, self._ids, self._rows = ids_of, set(), 0
        self._lock = threading.Lock()

    def holds(self, table: pa.Table, item_id: str) -> bool:
        with self._lock:
            if table.num_rows > self._rows:
                self._ids.update(self._ids_of(table.slice(self._rows)))
                self._rows = table.num_rows
            return item_id in self._ids


def _column_ids(table: pa.Table) -> list[str]:
    return table.column("id").to_pylist()  # pairs, or answers (kto, rate)


def _rank_ids(completions: pa.Table) -> set[str]:
    """The rank items of these answers: one per prompt and round."""
    pairs = zip(completions.column("prompt_id").to_pylist(), completions.column("round").to_pylist())
    return {rank_item_id(p, r) for p, r in pairs}


def _renewed(machine: pa.Table) -> list[str]:
    """The items of the import labels (not retractions) among the ``machine`` labels read now: labels a fresh
    import wrote, or a withdrawn file's put back (`data.import_labels.renew_withdrawn`)."""
    written = pc.and_(pc.equal(machine.column("annotator"), IMPORT), pc.invert(machine.column("retracted")))
    return list(dict.fromkeys(machine.filter(written).column("item_id").to_pylist()))


def _grown(labels: pa.Table, latest, chunk) -> list[tuple[str, str]]:
    """(labeller, item) of each ranking in force among ``labels`` (``latest``: each one's latest record's row) whose
    item in ``chunk`` (a `rank_items.RankChunk`) holds more answers than the ranking was made on (its ``left``),
    found on Arrow columns so that a start builds no object per ranking: an item's answers only grow (completions
    are only appended), so only these can have outgrown their ranking, which `rank_items.outgrown` decides."""
    rows = labels.take(latest)
    rows = rows.filter(pc.and_(pc.invert(rows.column("retracted")), pc.is_valid(rows.column("ranking"))))
    at = pc.index_in(rows.column("item_id"), value_set=pa.array(chunk.ids, pa.string()))
    sizes = pa.array(chunk.sizes, pa.int64()).take(at)  # null: no item of the app's
    shown = pc.add(pc.count_substring(rows.column("left"), ","), 1)  # null: no left, never outgrown
    rows = rows.filter(pc.fill_null(pc.greater(sizes, shown), False))
    return list(zip(rows.column("annotator").to_pylist(), rows.column("item_id").to_pylist()))


def gold_seed(events: pa.Table) -> bytes:
    """The workspace's secret for the gold draws (`LabelQueue.gold_seed`): the first gold event's random id, which
    no labeller sees, so one name's gold schedule differs from one workspace to the next and nobody can work it
    out; it stays the same while the workspace lives (gold events are only appended)."""
    if not events.num_rows:
        return b""
    first = events.sort_by([("created_at", "ascending"), ("id", "ascending")]).column("id")[0]
    return first.as_py().encode()


def _joined(candidates: pa.Table, rows: pa.Table | None) -> pa.Table:
    """``candidates`` and those of ``rows`` (of the same table) they do not hold already."""
    if rows is None or not rows.num_rows:
        return candidates
    read = candidates.column("id").combine_chunks()
    return pa.concat_tables([candidates, rows.filter(pc.invert(pc.is_in(rows.column("id"), value_set=read)))])


def _concat(old: pa.Table | None, new: pa.Table) -> pa.Table:
    return new if old is None else pa.concat_tables([old, new])
