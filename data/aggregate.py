"""Label aggregation: pure functions from the append-only label log to one verdict per item.

Rules (documented in ARCHITECTURE.md):
- an annotator's current label on an item is their latest record (by created_at); a retracted latest means none;
- the verdict is the majority choice among current labels; a tie between the top choices is the verdict "split";
- agreement = votes for the verdict / all current votes (1.0 for a single annotator);
- strength = mean strength of the votes that agree with the verdict, where given.

Everything runs on whole columns (Arrow and numpy: integer codes per item and annotator, one sort, bincounts), never
one Python object per label, so a million labels aggregate in well under a second. Inputs may be an Arrow table
(what the workspace reads) or a pandas frame with the labels columns.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data import dawid_skene
from data.errors import PrefloopError
from data.schemas import CHOICES, LABELS

SPLIT = "split"  # no single majority choice
MAJORITY, DAWID_SKENE = "majority", "dawid-skene"
AGGREGATIONS = (MAJORITY, DAWID_SKENE)  # --aggregate of stats, export and train
VERDICT_COLUMNS = ["item_id", "verdict", "votes", "agreement", "strength"]
Labels = pd.DataFrame | pa.Table


def _table(labels: Labels) -> pa.Table:
    if isinstance(labels, pa.Table):
        return labels
    columns = ["item_id", "annotator", "task", "choice", "strength", "retracted", "created_at"]
    frame = labels[columns].reset_index(drop=True)
    table = pa.Table.from_pandas(frame.astype({"strength": "Float64"}), preserve_index=False)
    # A column of nulls (no choice in a workspace of rankings only) is still the labels' own type.
    for i, field in enumerate(table.schema):
        if pa.types.is_null(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(LABELS.field(field.name).type))
    return table


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    encoded = pc.dictionary_encode(
        column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    )
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary


def _numpy(column: pa.ChunkedArray, fill) -> np.ndarray:
    return pc.fill_null(column, fill).to_numpy(zero_copy_only=False)


def latest_positions(labels: pa.Table, item_codes: np.ndarray | None = None) -> np.ndarray:
    """Row positions of the latest record of each (item, annotator), retracted ones included, in created_at
    order; ``labels`` holds one task. ``item_codes``: `_codes` of its item_id column, where known."""
    if not labels.num_rows:
        return np.zeros(0, dtype=np.int64)
    items = _codes(labels.column("item_id"))[0] if item_codes is None else item_codes
    annotators, names = _codes(labels.column("annotator"))
    key = items * max(len(names), 1) + annotators
    times = pc.cast(labels.column("created_at"), pa.int64()).to_numpy(zero_copy_only=False)
    order = np.lexsort((times, key))  # stable: among equal times the later row wins, as in the log
    ordered = key[order]
    last = order[np.append(ordered[1:] != ordered[:-1], True)]
    return last[np.lexsort((last, times[last]))]


def current_positions(labels: pa.Table, item_codes: np.ndarray | None = None) -> np.ndarray:
    """Row positions of the current labels (latest per item and annotator, retracted ones removed), in created_at
    order; ``labels`` holds one task."""
    last = latest_positions(labels, item_codes)
    return last[~_numpy(labels.column("retracted"), False)[last]]


def keep_rows(table: pa.Table, mask: pa.ChunkedArray | pa.Array) -> pa.Table:
    """``table.filter(mask)``, without copying a million rows when the mask keeps all or none of them (all labels
    of one task, no machine labels: the usual workspace)."""
    kept = pc.sum(mask).as_py() or 0
    if kept == table.num_rows and mask.null_count == 0:
        return table
    return table.slice(0, 0) if kept == 0 else table.filter(mask)


def _of_task(labels: pa.Table, task: str) -> pa.Table:
    return keep_rows(labels, pc.equal(labels.column("task"), task))


def current_labels(labels: Labels, task: str) -> pd.DataFrame:
    """The latest label of each (item, annotator) for ``task``, retracted ones removed."""
    if isinstance(labels, pa.Table):
        rows = _of_task(labels, task)
        return rows.take(current_positions(rows)).to_pandas()
    rows = labels[labels["task"] == task]
    return rows.iloc[current_positions(_table(rows))].reset_index(drop=True)


def _counts(items: np.ndarray, choice: np.ndarray, n: int, k: int) -> np.ndarray:
    return np.bincount(items * k + choice, minlength=n * k).reshape(n, k)


def _gold_codes(gold: pa.Table | None, ids: pa.Array, choices: tuple[str, ...]) -> np.ndarray | None:
    """Per item (in ``ids`` order) the code of its gold answer, or -1; None without gold."""
    if gold is None or not gold.num_rows:
        return None
    at = pc.index_in(ids, value_set=gold.column("item_id").combine_chunks())
    answer = pc.index_in(gold.column("choice").combine_chunks().take(pc.fill_null(at, 0)), pa.array(choices))
    known = pc.and_(pc.is_valid(at), pc.is_valid(answer))
    return np.where(_numpy(known, False), _numpy(answer, 0), -1).astype(np.int64)


def _majority(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(leader code, decided?) per item by the majority of its counts."""
    if not len(counts):
        return np.zeros(0, dtype=np.int64), np.ones(0, dtype=bool)
    single = (counts == counts.max(axis=1)[:, None]).sum(axis=1) == 1
    return counts.argmax(axis=1), single


def _leaders(
    counts: np.ndarray, method: str, fit_inputs: tuple, gold: np.ndarray | None, apart: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(leader code, decided?, posterior of the leader or None, checked? or None) per item, by the majority or
    Dawid–Skene (a pair whose posterior ties a and b is undecided, `dawid_skene.decided`; not checked: one
    labeller's answer that nobody checks, `dawid_skene.unchecked`, its posterior that labeller's trust).
    ``fit_inputs``: items, labellers, choice codes, number of labellers and the task's `dawid_skene.side_swap`;
    ``apart`` (per item): items whose labels stay out of the Dawid–Skene fit; they keep their majority, with its
    vote share as posterior."""
    leader, single = _majority(counts)
    if method != DAWID_SKENE:
        return leader, single, None, None
    items, labellers, choice, n_labellers, swap = fit_inputs
    n, k = counts.shape
    posterior = counts[np.arange(n), leader] / np.maximum(counts.sum(axis=1), 1) if n else np.zeros(0)
    kept = ~apart
    fitted = kept[items]
    items, labellers, choice = np.cumsum(kept)[items[fitted]] - 1, labellers[fitted], choice[fitted]
    if apart.any():  # the fit sees the workspace as it would be without those items: labellers renumbered
        labellers = np.unique(labellers, return_inverse=True)[1].reshape(-1)
        n_labellers = int(labellers.max()) + 1 if len(labellers) else 0
    gold = None if gold is None else gold[kept]
    result = dawid_skene.fit(items, labellers, choice, int(kept.sum()), n_labellers, k, gold, swap=swap)
    fit = result.posterior
    best, sure = dawid_skene.decided(fit, swap)
    leader, single, checked = leader.copy(), single.copy(), np.ones(n, dtype=bool)
    leader[kept], single[kept], posterior[kept] = best, sure, fit[np.arange(len(fit)), best]
    if result.apart is not None:
        checked[kept] = ~result.apart
    return leader, single, posterior, checked


def verdicts_table(
    labels: Labels,
    task: str,
    method: str = MAJORITY,
    gold: pa.Table | None = None,
    edits: Iterable[str] = (),
) -> pa.Table:
    """One row per labelled item (sorted by id): item_id, verdict (a choice, or SPLIT), votes, agreement,
    strength, posterior (Dawid–Skene's confidence in the verdict; null for the majority), checked (false: one
    labeller's answer that no second labeller or gold checks, `dawid_skene.unchecked`, its posterior that
    labeller's `dawid_skene.trust`; null for the majority and for ``edits``), and n_<choice> counts.
    ``method``: majority or dawid-skene (`AGGREGATIONS`); ``gold``: item_id, choice of gold items, clamped to
    their answer by Dawid–Skene; ``edits``: ids of items whose labels are their labeller's own verdict by
    construction (edit pairs, `data.edits`), no judgement of the item: kept out of the Dawid–Skene fit, they keep
    their majority verdict, its vote share as posterior."""
    if method not in AGGREGATIONS:
        raise PrefloopError(f"--aggregate {method!r}: expected one of {', '.join(AGGREGATIONS)}")
    choices = CHOICES[task]
    rows = _of_task(_table(labels), task)
    codes, ids = _codes(rows.column("item_id"))  # every item with a record; those without a current label go
    positions = current_positions(rows, codes)
    current = rows.select(["annotator", "choice", "strength"]).take(positions)
    items = codes[positions]
    choice = _numpy(pc.index_in(current.column("choice"), value_set=pa.array(choices)), 0).astype(np.int64)
    k, n = len(choices), len(ids)
    counts = _counts(items, choice, n, k)
    labelled = counts.sum(axis=1) > 0
    if not labelled.all():  # items whose every record was retracted: not labelled
        renumber = np.cumsum(labelled) - 1
        items, counts, ids = renumber[items], counts[labelled], ids.filter(pa.array(labelled))
        n = len(ids)
    labellers, names = _codes(current.column("annotator"))
    apart = _numpy(pc.is_in(ids, value_set=pa.array(sorted(set(edits)), pa.string())), False)
    leader, single, posterior, checked = _leaders(
        counts,
        method,
        (items, labellers, choice, len(names), dawid_skene.side_swap(choices)),
        _gold_codes(gold, ids, choices),
        apart,
    )
    votes = counts.sum(axis=1)
    top = counts[np.arange(n), leader] if n else np.zeros(0, dtype=np.int64)
    strength = pc.cast(current.column("strength"), pa.float64())
    agree = single[items] & (choice == leader[items]) & _numpy(pc.is_valid(strength), False)
    total = np.bincount(items[agree], weights=_numpy(strength, 0.0)[agree], minlength=n)
    given = np.bincount(items[agree], minlength=n)
    verdict = np.where(single, np.array(choices, dtype=object)[leader], SPLIT)
    # checked: null for an edit pair (``apart``), its editor's verdict by construction, which no fit judges
    columns = {
        "item_id": ids,
        "verdict": pa.array(verdict, pa.string()),
        "votes": pa.array(votes, pa.int64()),
        "agreement": pa.array(top / np.maximum(votes, 1), pa.float64()),
        "strength": pa.array(
            np.where(given > 0, total / np.maximum(given, 1), np.nan), pa.float64(), given == 0
        ),
        "posterior": pa.array(posterior, pa.float64())
        if posterior is not None
        else pa.nulls(n, pa.float64()),
        "checked": pa.nulls(n, pa.bool_()) if checked is None else pa.array(checked, pa.bool_(), mask=apart),
    }
    columns.update({f"n_{c}": pa.array(counts[:, i], pa.int64()) for i, c in enumerate(choices)})
    table = pa.table(columns)
    return table.take(pc.sort_indices(table, [("item_id", "ascending")]))


def aggregate(
    labels: Labels,
    task: str,
    method: str = MAJORITY,
    gold: pa.Table | None = None,
    edits: Iterable[str] = (),
) -> pd.DataFrame:
    """One row per labelled item: verdict (a choice, or SPLIT), votes, agreement, strength, posterior,
    checked, n_<choice> counts (`verdicts_table`)."""
    return verdicts_table(labels, task, method, gold, edits).to_pandas()


def label_distribution(
    labels: Labels, verdicts: dict[str, pa.Table] | None = None
) -> dict[str, dict[str, int]]:
    """Counts of current labels per task and choice (the sums of `verdicts_table`'s n_<choice> columns;
    ``verdicts``: those tables per task, where already computed)."""
    out = {}
    for task, choices in CHOICES.items():
        table = verdicts[task] if verdicts and task in verdicts else verdicts_table(labels, task)
        if table.num_rows:
            out[task] = {c: int(pc.sum(table.column(f"n_{c}")).as_py() or 0) for c in choices}
    return out


def mean_agreement(verdicts: pd.DataFrame | pa.Table) -> float | None:
    """Mean agreement over items with at least two annotators (None when there are none)."""
    if isinstance(verdicts, pa.Table):
        verdicts = verdicts.select(["votes", "agreement"]).to_pandas()
    multi = verdicts[verdicts["votes"] >= 2]
    return float(multi["agreement"].mean()) if len(multi) else None
