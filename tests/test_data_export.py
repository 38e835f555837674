"""Exact-value tests of the conversion to TRL's columns."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pyarrow as pa

from data.export import to_dpo, to_kto, to_sft
from data.records import Completion, Label, Pair, Prompt, to_row

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
USER = [{"role": "user", "content": "Name a colour."}]


def frame(records) -> pd.DataFrame:
    return pd.DataFrame([to_row(r) for r in records])


def world():
    prompt = Prompt(USER, source="t", gold="Blue.")
    test_prompt = Prompt([{"role": "user", "content": "Held out?"}], source="t", split="test")
    texts = ["Red.", "Green.", "Green. ", "", "Blue.", "Held."]
    c = [Completion(prompt.id, t, "m", "hf", seed=i) for i, t in enumerate(texts)]
    held = [Completion(test_prompt.id, t, "m", "hf", seed=i) for i, t in enumerate(["x", "y"])]
    pairs = {
        "win_b": Pair(prompt.id, c[0].id, c[1].id, "sampled", created_at=T0),
        "same": Pair(prompt.id, c[1].id, c[2].id, "sampled", created_at=T0 + timedelta(seconds=1)),
        "empty": Pair(prompt.id, c[3].id, c[4].id, "sampled", created_at=T0 + timedelta(seconds=2)),
        "tie": Pair(prompt.id, c[0].id, c[4].id, "sampled", created_at=T0 + timedelta(seconds=3)),
        "unlabelled": Pair(prompt.id, c[1].id, c[4].id, "sampled", created_at=T0 + timedelta(seconds=4)),
        "test": Pair(test_prompt.id, held[0].id, held[1].id, "sampled", created_at=T0 + timedelta(seconds=5)),
    }
    labels = [
        Label(pairs["win_b"].id, "ann1", "pairwise", "b", strength=4),
        Label(pairs["win_b"].id, "ann2", "pairwise", "b"),
        Label(pairs["same"].id, "ann1", "pairwise", "a"),
        Label(pairs["empty"].id, "ann1", "pairwise", "b"),
        Label(pairs["tie"].id, "ann1", "pairwise", "tie"),
        Label(pairs["test"].id, "ann1", "pairwise", "a"),
        Label(c[0].id, "ann1", "kto", "undesirable"),
        Label(c[4].id, "ann1", "kto", "desirable"),
        Label(c[3].id, "ann1", "kto", "desirable"),
    ]
    return (
        frame([prompt, test_prompt]),
        frame(c + held),
        frame(pairs.values()),
        frame(labels),
        pairs,
        c,
    )


def test_dpo_rows_and_drop_counts_exact():
    prompts, completions, pairs_df, labels, pairs, _ = world()
    rows, counts = to_dpo(prompts, completions, pairs_df, labels, split="train")
    assert rows == [
        {
            "prompt": USER,
            "chosen": [{"role": "assistant", "content": "Green."}],
            "rejected": [{"role": "assistant", "content": "Red."}],
            "pair_id": pairs["win_b"].id,
            "kind": "sampled",
            "round": 0,
            "votes": 2,
            "agreement": 1.0,
            "strength": 4.0,
            "posterior": None,
            "checked": None,  # Dawid–Skene's: whether anyone checks its one labeller (majority: none)
            "split": "train",  # the prompt's: an import of the file puts the row's prompt there
        }
    ]
    assert dict(counts) == {"exported": 1, "degenerate": 2, "tie": 1, "unlabelled": 1, "other_split": 1}
    all_rows, _ = to_dpo(prompts, completions, pairs_df, labels)
    assert len(all_rows) == 2 and all_rows[1]["prompt"] == [{"role": "user", "content": "Held out?"}]


def test_kto_rows_exact():
    prompts, completions, _, labels, _, c = world()
    rows, counts = to_kto(prompts, completions, labels)
    assert [(r["completion"][0]["content"], r["label"]) for r in rows] == [("Red.", False), ("Blue.", True)]
    assert rows[0]["prompt"] == USER and rows[0]["completion_id"] == c[0].id and rows[0]["split"] == "train"
    # every answer is a KTO item (the app serves it): the five nobody labelled are counted too
    assert dict(counts) == {"exported": 2, "desirable": 1, "undesirable": 1, "degenerate": 1, "unlabelled": 5}
    _, held_out = to_kto(prompts, completions, labels, split="test")  # every KTO label is on a train prompt
    assert held_out == {"exported": 0, "desirable": 0, "undesirable": 0, "other_split": 6, "unlabelled": 2}
    # A labelled gold completion is counted once, as gold (it was also counted as other_split: 7 + 1 + 1 of 8)
    gold = pa.table({"item_id": [c[4].id], "choice": ["desirable"]})
    rows, counts = to_kto(prompts, completions, labels, gold=gold)
    assert dict(counts) == {
        "exported": 1,
        "desirable": 0,
        "undesirable": 1,
        "degenerate": 1,
        "gold": 1,
        "unlabelled": 5,
    }
    # gold answers (engine gold) and labellers' edits (engine human) are nobody's item
    others = completions.assign(engine=["hf", "gold", "human", "hf", "hf", "hf", "hf", "hf"])
    assert to_kto(prompts, others, labels)[1]["unlabelled"] == 3


def test_sft_rows_exact():
    prompts, *_ = world()
    rows, counts = to_sft(prompts)
    assert rows == [
        {
            "messages": USER + [{"role": "assistant", "content": "Blue."}],
            "prompt_id": rows[0]["prompt_id"],
            "split": "train",
        }
    ]
    assert dict(counts) == {"exported": 1, "no_gold": 1}
    assert to_sft(prompts, "train")[1] == {"exported": 1, "other_split": 1}  # the test prompt: counted too
