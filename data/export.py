"""Conversion from workspace tables to TRL's own column names (pure functions) and writing them out.

- dpo: prompt, chosen, rejected (conversational: message lists) + pair_id, kind, round, votes, agreement, strength
- kto: prompt, completion, label (bool) + completion_id, votes, agreement
- sft: messages + prompt_id
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from data.aggregate import SPLIT, aggregate

FORMATS = ("dpo", "kto", "sft")


def _assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def _degenerate(a: str, b: str | None = None) -> bool:
    """Empty, or (for a pair) both sides the same text: nothing to learn from."""
    return not a.strip() or (b is not None and (not b.strip() or a.strip() == b.strip()))


def _with_split(prompts: pd.DataFrame, split: str | None) -> pd.DataFrame:
    return prompts if split is None else prompts[prompts["split"] == split]


def to_dpo(
    prompts: pd.DataFrame,
    completions: pd.DataFrame,
    pairs: pd.DataFrame,
    labels: pd.DataFrame,
    split: str | None = None,
) -> tuple[list[dict], Counter]:
    """Rows for TRL's DPOTrainer from labelled pairs, and counts of what was dropped and why."""
    counts: Counter = Counter()
    messages = _with_split(prompts, split).set_index("id")["messages"]
    text = completions.set_index("id")["text"]
    verdicts = aggregate(labels, "pairwise").set_index("item_id")
    rows = []
    for pair in pairs.sort_values(["round", "created_at", "id"], kind="stable").itertuples(index=False):
        if pair.prompt_id not in messages.index:
            continue
        if pair.id not in verdicts.index:
            counts["unlabelled"] += 1
            continue
        verdict = verdicts.loc[pair.id]
        if verdict["verdict"] not in ("a", "b"):
            counts[verdict["verdict"]] += 1
            continue
        chosen, rejected = text[pair.completion_a], text[pair.completion_b]
        if verdict["verdict"] == "b":
            chosen, rejected = rejected, chosen
        if _degenerate(chosen, rejected):
            counts["degenerate"] += 1
            continue
        rows.append(
            {
                "prompt": list(messages[pair.prompt_id]),
                "chosen": _assistant(chosen),
                "rejected": _assistant(rejected),
                "pair_id": pair.id,
                "kind": pair.kind,
                "round": int(pair.round),
                "votes": int(verdict["votes"]),
                "agreement": float(verdict["agreement"]),
                "strength": None if pd.isna(verdict["strength"]) else float(verdict["strength"]),
            }
        )
    counts["exported"] = len(rows)
    return rows, counts


def to_kto(
    prompts: pd.DataFrame, completions: pd.DataFrame, labels: pd.DataFrame, split: str | None = None
) -> tuple[list[dict], Counter]:
    """Rows for TRL's KTOTrainer from completions labelled desirable/undesirable."""
    counts: Counter = Counter()
    messages = _with_split(prompts, split).set_index("id")["messages"]
    verdicts = aggregate(labels, "kto").set_index("item_id")
    rows = []
    for completion in completions.sort_values(["round", "created_at", "id"], kind="stable").itertuples(
        index=False
    ):
        if completion.id not in verdicts.index or completion.prompt_id not in messages.index:
            continue
        verdict = verdicts.loc[completion.id]
        if verdict["verdict"] == SPLIT:
            counts[SPLIT] += 1
            continue
        if _degenerate(completion.text):
            counts["degenerate"] += 1
            continue
        rows.append(
            {
                "prompt": list(messages[completion.prompt_id]),
                "completion": _assistant(completion.text),
                "label": verdict["verdict"] == "desirable",
                "completion_id": completion.id,
                "votes": int(verdict["votes"]),
                "agreement": float(verdict["agreement"]),
            }
        )
    counts["exported"] = len(rows)
    counts["desirable"] = sum(r["label"] for r in rows)
    counts["undesirable"] = counts["exported"] - counts["desirable"]
    return rows, counts


def to_sft(prompts: pd.DataFrame, split: str | None = None) -> tuple[list[dict], Counter]:
    """Rows for TRL's SFTTrainer: each prompt with a gold answer as one conversation."""
    counts: Counter = Counter()
    rows = []
    for prompt in _with_split(prompts, split).itertuples(index=False):
        if pd.isna(prompt.gold) or _degenerate(prompt.gold):
            counts["no_gold"] += 1
            continue
        rows.append({"messages": list(prompt.messages) + _assistant(prompt.gold), "prompt_id": prompt.id})
    counts["exported"] = len(rows)
    return rows, counts


def write_parquet(rows: list[dict], path: str | Path) -> Path:
    """Write rows atomically (temp file, fsync, rename): a reader never sees half an export."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    table = pa.Table.from_pylist(rows)
    with open(tmp, "wb") as handle:
        pq.write_table(table, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path
