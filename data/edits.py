"""Edit to gold: a labeller rewrites the better answer of a pair, and the edit becomes training data twice over.

One edit is three rows, written with the labeller's label on the item in one batch (`annotate.service`):
- a completion of model ``human:<labeller>``, engine ``human``, whose ``parent_id`` is the completion it was edited
  from and whose ``params`` name the item it was made on (``{"item": ...}``);
- a pair of kind ``edit``: the edit as ``completion_a``, the original as ``completion_b``;
- that labeller's label on the edit pair: ``a`` (the edit wins) at strength 4, with the same ``created_at`` as their
  label on the item (undo retracts both).

Edit pairs are training data like labelled sampled pairs (`train`, `export --format dpo`) and never go to
labellers; `export --format sft --edits` turns each edit whose pair still says "the edit wins" into an SFT row.
An edit of an answer of a gold item (its pair is gold, or its rank item) is kept out of both: gold answers measure
labellers.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data.aggregate import MAJORITY, verdicts_table
from data.annotators import machine_labeller_column, machine_labeller_mask
from data.conversation import LONE_SURROGATE
from data.errors import PrefloopError
from data.rank_pairs import rank_groups
from data.records import Completion, Label, Pair
from data.selection import choose_labels

HUMAN = "human"  # the engine of an edit
EDIT = "edit"  # the pair kind: the edit (a) vs the original (b)
EDITED_SIDE = "a"
EDIT_STRENGTH = 4  # the editor's verdict: the edit is significantly better than what it fixes
EDITOR_PREFIX = "human:"
Frame = pd.DataFrame | pa.Table


MAX_EDIT_CHARS = 100_000  # an answer rewritten, not a document: 10x a note (annotate.screen.MAX_NOTE_CHARS)


class EditError(PrefloopError):
    """An edit that cannot be saved (empty, the same text as the original, too long); one line for the labeller."""


def editor_model(labeller: str) -> str:
    """The model name of a labeller's edits."""
    return EDITOR_PREFIX + labeller


def unstorable(text: str) -> str | None:
    """What makes a labeller's ``text`` (a note, an edit) unfit to store, in words ("a NUL character at 3"), else
    None: a lone surrogate, which Parquet cannot store (JSON's "\\ud800" decodes to one), or a NUL, which an import refuses too
    (data.import_text.clean_text: C tools and terminals downstream end the text there). Positions count from 1."""
    bad = LONE_SURROGATE.search(text)
    if bad:
        return f"an invalid character (U+{ord(bad.group()):04X}) at {bad.start() + 1}"
    nul = text.find("\x00")
    return f"a NUL character at {nul + 1}" if nul >= 0 else None


def check_edit(original: str, edited: str | None) -> str:
    """The edited text to store (line endings made ``\\n``); an empty edit, one that changes nothing (besides
    surrounding white space), one over `MAX_EDIT_CHARS` and one holding what no file should store (`unstorable`)
    are refused."""
    text = (edited or "").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise EditError("the edit is empty: write the better answer, or press Esc to cancel")
    if len(text) > MAX_EDIT_CHARS:
        raise EditError(
            f"the edit is {len(text):,} characters long, more than {MAX_EDIT_CHARS:,}: shorten it"
        )
    if text.strip() == original.strip():
        raise EditError("the edit changes nothing: fix the answer, or press Esc to cancel")
    bad = unstorable(text)
    if bad:
        raise EditError(f"the edit holds {bad}")
    return text


def edit_records(
    prompt_id: str,
    original_id: str,
    original: str,
    edited: str | None,
    labeller: str,
    item_id: str,
    round: int,
    created_at: datetime,
) -> tuple[Completion, Pair, Label]:
    """The completion, edit pair and the editor's label on it for one edit (checked by `check_edit`)."""
    text = check_edit(original, edited)
    completion = Completion(
        prompt_id,
        text,
        editor_model(labeller),
        HUMAN,
        params=json.dumps({"item": item_id}),
        round=round,
        parent_id=original_id,
    )
    pair = Pair(prompt_id, completion.id, original_id, EDIT, round=round)
    label = Label(pair.id, labeller, "pairwise", EDITED_SIDE, strength=EDIT_STRENGTH, created_at=created_at)
    return completion, pair, label


def _arrow(frame: Frame) -> pa.Table:
    return frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)


def edit_pair_ids(pairs: Frame) -> set[str]:
    """Ids of the edit pairs: their labels are the editors' own verdicts, which no labeller figure should count."""
    table = _arrow(pairs).select(["id", "kind"])
    return set(table.column("id").filter(pc.equal(table.column("kind"), EDIT)).to_pylist())


def editors_decide(labels: Frame, edit_pairs: Collection[str]) -> Frame:
    """``labels`` less the judges' and reward models' labels on the ``edit_pairs`` (`edit_pair_ids`): an edit
    pair's verdict is its editor's, whatever ``--labels`` chooses (a judge's label there would decide an excluded
    editor's edit, or undo one)."""
    edits = sorted(edit_pairs)
    if not edits:
        return labels
    if isinstance(labels, pa.Table):
        on_edit = pc.is_in(labels.column("item_id"), value_set=pa.array(edits, pa.string()))
        machine = machine_labeller_column(labels.column("annotator"))
        return labels.filter(pc.invert(pc.and_(on_edit, machine)))
    return labels[~(labels["item_id"].isin(set(edits)) & machine_labeller_mask(labels["annotator"]))]


def gold_edits(
    pairs: Frame, gold: pa.Table | None, rank_gold: Collection[str] = (), completions: Frame | None = None
) -> set[str]:
    """Ids of the edit pairs whose original is an answer of a gold item (never trained on or exported): of a gold
    pair (``gold``), or of a gold rank item (``rank_gold``, its answers found among ``completions``)."""
    answers = _rank_answers(completions, rank_gold) if rank_gold and completions is not None else set()
    table = _arrow(pairs).select(["id", "kind", "completion_a", "completion_b"])
    if gold is not None and gold.num_rows:
        golden = table.filter(pc.is_in(table.column("id"), value_set=gold.column("item_id").combine_chunks()))
        for side in ("completion_a", "completion_b"):
            answers |= set(golden.column(side).to_pylist())
    if not answers:
        return set()
    edits = table.filter(pc.equal(table.column("kind"), EDIT))
    originals = edits.column("completion_b").to_pylist()
    return {i for i, original in zip(edits.column("id").to_pylist(), originals) if original in answers}


def _rank_answers(completions: Frame, rank_gold: Collection[str]) -> set[str]:
    """The answers of the gold rank items ``rank_gold`` (`data.rank_pairs.rank_groups`)."""
    columns = ["id", "prompt_id", "engine", "round", "created_at"]  # what rank items are made of
    table = completions if isinstance(completions, pa.Table) else _arrow(completions[columns])
    groups = rank_groups(table.select(columns))
    gold = pa.array(sorted(rank_gold), pa.string())
    golden = groups.filter(pc.is_in(groups.column("item_id"), value_set=gold))
    return {answer for ids in golden.column("completion_ids").to_pylist() for answer in ids}


def without_gold_edits(
    pairs: Frame,
    gold: pa.Table | None,
    counts: Counter | None = None,
    rank_gold: Collection[str] = (),
    completions: Frame | None = None,
) -> Frame:
    """``pairs`` less the edit pairs of gold items' answers (`gold_edits`), counted as ``gold`` in ``counts``."""
    drop = gold_edits(pairs, gold, rank_gold, completions)
    if not drop:
        return pairs
    if counts is not None:
        counts["gold"] += len(drop)
    if isinstance(pairs, pa.Table):
        return pairs.filter(pc.invert(pc.is_in(pairs.column("id"), value_set=pa.array(sorted(drop)))))
    return pairs[~pairs["id"].isin(drop)]


def _edits(completions: Frame, pairs: Frame, labels: Frame) -> pd.DataFrame:
    """One row per edit pair: pair_id, prompt_id, the edit (completion_id, text, model, params, created_at,
    round), parent_id and the original's text, and whether the edit still wins (``kept``: its current verdict is
    the edit; false once undone)."""
    pairs = _edit_pairs(pairs)
    columns = ["pair_id", "prompt_id", "completion_id", "text", "model", "params", "created_at", "round"]
    if pairs.empty:
        empty = {c: pd.Series(dtype=object) for c in [*columns, "parent_id", "original"]}
        return pd.DataFrame(empty | {"kept": pd.Series(dtype=bool)})
    completions = _arrow(completions).to_pandas().set_index("id")
    edited = completions.loc[pairs["completion_a"]]
    return pd.DataFrame(
        {
            "pair_id": pairs["id"].to_numpy(),
            "prompt_id": pairs["prompt_id"].to_numpy(),
            "completion_id": pairs["completion_a"].to_numpy(),
            "text": edited["text"].to_numpy(),
            "model": edited["model"].to_numpy(),
            "params": edited["params"].to_numpy(),
            "created_at": edited["created_at"].to_numpy(),
            "round": pairs["round"].to_numpy(),
            "parent_id": pairs["completion_b"].to_numpy(),
            "original": completions.loc[pairs["completion_b"], "text"].to_numpy(),
            "kept": _kept(pairs["id"], labels),
        }
    )


def _edit_pairs(pairs: Frame) -> pd.DataFrame:
    pairs = _arrow(pairs)
    return pairs.filter(pc.equal(pairs.column("kind"), EDIT)).to_pandas()


def _kept(pair_ids: pd.Series, labels: Frame) -> np.ndarray:
    """Per edit pair: is its current verdict still the edit (false once undone). The verdict is the editor's: a
    judge's or reward model's label on an edit pair (`generate --judge --judge-labelled` judged them) undoes
    nothing."""
    if pair_ids.empty:
        return np.zeros(0, dtype=bool)
    verdicts = verdicts_table(choose_labels(_labels_of(labels, pair_ids), "human"), "pairwise", MAJORITY)
    verdicts = verdicts.to_pandas().set_index("item_id")["verdict"]
    return (pair_ids.map(verdicts) == EDITED_SIDE).to_numpy(dtype=bool)


def undone_edits(pairs: Frame, labels: Frame) -> frozenset[str]:
    """Ids of the edit pairs of ``pairs`` whose verdict under ``labels`` (the stored ones: whoever `--labels`
    chooses) is no longer the edit: undone by their editor. An export counts them ``undone``, as
    `sft_edits_table` counts an edit not kept."""
    ids = _edit_pairs(pairs)["id"]
    return frozenset(ids[~_kept(ids, labels)])


def _labels_of(labels: Frame, items: pd.Series) -> Frame:
    """The labels of ``items`` only (the edit pairs: a few among many)."""
    if isinstance(labels, pa.Table):
        return labels.filter(pc.is_in(labels.column("item_id"), value_set=pa.array(items, pa.string())))
    return labels[labels["item_id"].isin(set(items))]


def sft_edits_table(
    prompts: Frame,
    completions: Frame,
    pairs: Frame,
    labels: Frame,
    split: str | None = None,
    gold: pa.Table | None = None,
    excluded_only: Collection[str] = (),
    unlabelled: Collection[str] = (),
    rank_gold: Collection[str] = (),
) -> tuple[pa.Table, Counter]:
    """TRL SFTTrainer rows from edits: ``messages`` (the prompt, then the edit as the assistant's answer) +
    prompt_id, completion_id, parent_id, editor, pair_id, split; only edits whose pair's verdict is still the edit
    (undone edits count as ``undone``), none of a gold item's answer (``gold``: of a gold pair, or of a gold rank
    item among ``rank_gold``), prompts of ``split``; an edit whose
    editor is excluded (its pair among ``excluded_only``) counts as ``excluded_only``, one labelled only by
    labellers ``--labels`` does not choose (among ``unlabelled``) as ``unlabelled`` (both:
    `data.export_labels.export_labels`)."""
    counts: Counter = Counter()
    pairs = without_gold_edits(pairs, gold, counts, rank_gold, completions)
    edits = _edits(completions, pairs, labels)
    prompts = _arrow(prompts).select(["id", "messages", "split"]).to_pandas().set_index("id")
    if split is not None:
        out = ~edits["prompt_id"].map(prompts["split"]).eq(split)
        counts["other_split"] += int(out.sum())
        edits = edits.loc[~out]
    for reason, pair_ids in (("excluded_only", excluded_only), ("unlabelled", unlabelled)):
        out = edits["pair_id"].isin(set(pair_ids))
        counts[reason] += int(out.sum())
        edits = edits.loc[~out]
    counts["undone"] += int((~edits["kept"]).sum())
    edits = edits.loc[edits["kept"]].sort_values(["round", "created_at", "completion_id"], kind="stable")
    rows = [
        {
            "messages": list(prompts.at[e.prompt_id, "messages"])
            + [{"role": "assistant", "content": e.text}],
            "prompt_id": e.prompt_id,
            "completion_id": e.completion_id,
            "parent_id": e.parent_id,
            "editor": e.model.removeprefix(EDITOR_PREFIX),
            "pair_id": e.pair_id,
            "split": prompts.at[e.prompt_id, "split"],
        }
        for e in edits.itertuples(index=False)
    ]
    counts = Counter({k: v for k, v in counts.items() if v})
    counts["exported"] = len(rows)
    return pa.Table.from_pylist(rows, schema=SFT_EDITS), counts


SFT_EDITS = pa.schema(
    [
        ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("prompt_id", pa.string()),
        ("completion_id", pa.string()),
        ("parent_id", pa.string()),
        ("editor", pa.string()),
        ("pair_id", pa.string()),
        ("split", pa.string()),
    ]
)


def recent_edits(completions: Frame, pairs: Frame, labels: Frame, limit: int = 20) -> list[dict]:
    """The newest ``limit`` edits for the admin: editor, created_at, item (where it was made), original, text
    (the edit), kept (still the verdict of its pair)."""
    edits = _edits(completions, pairs, labels).sort_values("created_at", ascending=False, kind="stable")
    return [
        {
            "editor": e.model.removeprefix(EDITOR_PREFIX),
            "created_at": e.created_at,
            "item": _item(e.params),
            "original": e.original,
            "text": e.text,
            "kept": bool(e.kept),
        }
        for e in edits.head(limit).itertuples(index=False)
    ]


def edit_counts(completions: Frame, pairs: Frame, labels: Frame) -> dict[str, dict[str, int]]:
    """Per labeller: ``edits`` made and ``kept`` (not undone), sorted by name; ``completions`` need only id and
    model."""
    pairs = _edit_pairs(pairs)
    completions = _arrow(completions).select(["id", "model"])
    edited = pc.is_in(completions.column("id"), value_set=pa.array(pairs["completion_a"], pa.string()))
    models = completions.filter(edited).to_pandas().set_index("id")["model"]  # a few among many
    out: dict[str, dict[str, int]] = {}
    for model, kept in sorted(zip(pairs["completion_a"].map(models), _kept(pairs["id"], labels))):
        entry = out.setdefault(str(model).removeprefix(EDITOR_PREFIX), {"edits": 0, "kept": 0})
        entry["edits"] += 1
        entry["kept"] += bool(kept)
    return out


def edit_summary(completions: Frame, pairs: Frame, labels: Frame) -> dict:
    """The edits as `python -m data stats` shows them, apart from the labels' figures (an edit's own label is no
    judgement of an item): ``made``, ``kept``, ``undone``, and ``by_labeller`` (`edit_counts`)."""
    by_labeller = edit_counts(completions, pairs, labels)
    made = sum(e["edits"] for e in by_labeller.values())
    kept = sum(e["kept"] for e in by_labeller.values())
    return {"made": made, "kept": kept, "undone": made - kept, "by_labeller": by_labeller}


def _item(params: str) -> str | None:
    try:
        item = json.loads(params).get("item")
    except (ValueError, AttributeError):
        return None
    return item if isinstance(item, str) else None
