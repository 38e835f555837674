"""The votes the arena leaderboard (`data.leaderboard`) counts: each annotator's current label on an arena pair as a
score for side a (`votes_table`), summed per prompt (`win_matrices`); votes on a pair whose answer the completions
table lacks are left out, counted and named in one line (`answered_votes`). A judge's inconsistent tie (its two orders
disagreed: confidence 0, position bias rather than a preference) is marked (``inconsistent``) and counted as the
tie it is stored as, as MT-Bench counts it; the board says how many there are. Pure functions over the
workspace's tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from data.aggregate import current_labels
from data.annotators import machine_mask
from data.errors import counted
from data.selection import stored_names

ARENA = "arena"  # the pair kind of head-to-head answers of two models (evaluation data, never trained on by default)
PEOPLE = "people"
SCORE_A = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}  # what a vote gives side a
NAMED = 5  # pairs named in the warning on votes without an answer; the rest counted


def votes_table(
    pairs: pd.DataFrame,
    completions: pd.DataFrame,
    labels: pd.DataFrame,
    by: str = PEOPLE,
    gold: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per current vote on an arena pair: prompt_id, model_a, model_b, score_a (1 a won, 0 b won, 0.5
    tie/both bad), pair_id and inconsistent (a machine's tie with confidence 0: an LLM judge whose two orders
    disagreed, `generate.judge.combine`). A side whose completion the table lacks has model NaN
    (`answered_votes` leaves such votes out). ``by``: ``people`` (every labeller, no machine), or one machine
    annotator (``judge:<name>``, ``rm:<id>``). ``gold``: the pairwise gold items (item_id, choice;
    `data.gold.read_gold`): for ``people`` a gold arena pair is one vote, its gold answer (the lead's decision),
    and the labellers' labels on it, which measure them (every labeller is served it, whatever --overlap), are not
    votes; a machine's votes count on every pair. A machine's name is matched as `data.lineage.same_machine`:
    Unicode NFC (`data.annotators.same_name`), as ``--exclude-labeller`` is, and a judge named by a hub id or its
    snapshot folder is one, as its reruns take it."""
    arena = pairs[pairs["kind"] == ARENA]
    votes = current_labels(labels[labels["item_id"].isin(set(arena["id"]))], "pairwise")
    if by == PEOPLE:
        votes = votes[~machine_mask(votes["annotator"].astype(str))]
        if gold is not None and len(gold):
            decided = gold[gold["item_id"].isin(set(arena["id"]))][["item_id", "choice"]]
            votes = pd.concat([votes[~votes["item_id"].isin(set(decided["item_id"]))], decided])
    else:  # the name as typed, whichever Unicode spelling or name of a hub model (id or snapshot) it is stored in
        names = votes["annotator"].astype(str)
        votes = votes[names.isin(stored_names(names, [by]))]
    votes = votes[votes["choice"].isin(list(SCORE_A))]
    model = completions.set_index("id")["model"]
    merged = votes.merge(
        arena[["id", "prompt_id", "completion_a", "completion_b"]], left_on="item_id", right_on="id"
    )
    confidence = merged["confidence"] if "confidence" in merged else pd.Series(np.nan, index=merged.index)
    machine = machine_mask(merged["annotator"].fillna("").astype(str))  # a gold answer's annotator is NaN
    return pd.DataFrame(
        {
            "prompt_id": merged["prompt_id"].to_numpy(),
            "model_a": model.reindex(merged["completion_a"]).to_numpy(),
            "model_b": model.reindex(merged["completion_b"]).to_numpy(),
            "score_a": merged["choice"].map(SCORE_A).to_numpy(dtype=float),
            "pair_id": merged["item_id"].to_numpy(),
            "inconsistent": ((merged["choice"] == "tie") & (confidence == 0) & machine).to_numpy(dtype=bool),
        }
    )


def answered_votes(
    votes: pd.DataFrame, pairs: pd.DataFrame, completions: pd.DataFrame
) -> tuple[pd.DataFrame, str]:
    """``votes`` (`votes_table`) without those on an arena pair a side of which the completions table lacks (a
    dangling reference `python -m data validate` reports), and the one line that counts and names them ("" where
    there is none; the CLI's warning, the admin card's note): such a side has no model, and the board was a
    TypeError traceback (`model_renames` sorted the NaN among the names)."""
    unknown = (votes["model_a"].isna() | votes["model_b"].isna()).to_numpy()
    if not unknown.any():
        return votes, ""
    ids = sorted(set(votes.loc[unknown, "pair_id"]))
    model = completions.set_index("id")["model"]
    sides = pairs.drop_duplicates("id").set_index("id").loc[ids, ["completion_a", "completion_b"]]
    named = [
        f"pair {pair}: "
        + ", ".join(
            f"{column} {completion} {'does not exist' if completion not in model.index else 'has no model'}"
            for column, completion in row.items()
            if pd.isna(model.get(completion))
        )
        for pair, row in sides.head(NAMED).iterrows()
    ]
    more = f"; and {counted(len(ids) - NAMED, 'more pair')}" if len(ids) > NAMED else ""
    line = (
        f"{counted(int(unknown.sum()), 'vote')} on {counted(len(ids), 'arena pair')} without an answer in the "
        f"completions table left out ({'; '.join(named)}{more}; `python -m data validate` lists every such reference)"
    )
    return votes[~unknown], line


def win_matrices(votes: pd.DataFrame, models: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(prompt ids' order, wins[p, i, j]): per prompt, the wins of model i over model j (ties half each)."""
    index = {m: k for k, m in enumerate(models)}
    prompts, prompt_of = np.unique(votes["prompt_id"].to_numpy(), return_inverse=True)
    wins = np.zeros((len(prompts), len(models), len(models)))
    a = votes["model_a"].map(index).to_numpy()
    b = votes["model_b"].map(index).to_numpy()
    score = votes["score_a"].to_numpy(dtype=float)
    np.add.at(wins, (prompt_of, a, b), score)
    np.add.at(wins, (prompt_of, b, a), 1.0 - score)
    return prompts, wins
