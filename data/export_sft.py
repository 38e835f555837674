"""SFT rows from the workspace in TRL's conversational columns (pure functions): each prompt's gold answer as one
conversation (`to_sft`: messages + prompt_id, split; the labellers' kept edits are `data.edits.sft_edits_table`), and those
conversations in TRL's prompt-completion form (`prompt_completion`, ``--sft-shape prompt-completion``; `train --method
sft` splits its rows by the same `split_answer`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import pandas as pd
import pyarrow as pa

from data.records import has_gold
from data.schemas import MESSAGES

# The columns of an sft export: messages (TRL's language-modelling form: stock SFTTrainer's loss covers every
# token) or prompt + completion (TRL's prompt-completion form: its loss on the answer alone, as train's)
PROMPT_COMPLETION = "prompt-completion"
SFT_SHAPES = ("messages", PROMPT_COMPLETION)


def to_sft(prompts: pd.DataFrame, split: str | None = None) -> tuple[list[dict], Counter]:
    """Rows for TRL's SFTTrainer: each prompt with a gold answer as one conversation; every other prompt counted,
    ``no_gold`` or ``other_split``."""
    counts: Counter = Counter()
    rows = []
    chosen = prompts if split is None else prompts[prompts["split"] == split]
    counts["other_split"] += len(prompts) - len(chosen)
    for prompt in chosen.itertuples(index=False):
        if not has_gold(prompt.gold):
            counts["no_gold"] += 1
            continue
        answer = {"role": "assistant", "content": prompt.gold}
        rows.append({"messages": [*prompt.messages, answer], "prompt_id": prompt.id, "split": prompt.split})
    counts = +counts
    counts["exported"] = len(rows)
    return rows, counts


def split_answer(messages: Iterable[Mapping]) -> tuple[list[dict], list[dict]]:
    """A conversation as TRL's prompt and completion: every message but the last (a system message and earlier
    turns included), and the last (the answer), each message as a new dict of its role and content alone."""
    messages = [{"role": m["role"], "content": m["content"]} for m in messages]
    return messages[:-1], messages[-1:]


def prompt_completion(rows: pa.Table | list[dict]) -> pa.Table:
    """SFT rows (`to_sft`, `data.edits.sft_edits_table`) in TRL's conversational prompt-completion form: in place
    of ``messages``, ``prompt`` and ``completion`` (`split_answer`), the other columns kept after them. Stock
    `SFTTrainer` computes the loss on the completion alone for such rows (its ``completion_only_loss`` defaults to
    it)."""
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows)
    split = [split_answer(messages) for messages in table.column("messages").to_pylist()]
    return pa.table(
        {
            "prompt": pa.array([prompt for prompt, _ in split], MESSAGES),
            "completion": pa.array([completion for _, completion in split], MESSAGES),
            **{name: table.column(name) for name in table.column_names if name != "messages"},
        }
    )
