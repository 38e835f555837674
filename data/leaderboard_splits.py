"""Which split an arena vote is of, as the leaderboard (`data.leaderboard`) keeps one: a pair and its votes are of
their prompt's split (`prompt_splits`); `split_pairs` keeps one split's arena pairs, `split_vote_counts` counts every
split's votes as a board of it counts them and those no board counts, by reason; `check_split_votes` says where the
votes are when a split's arena pairs have none. Pure functions over the workspace's tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from data.errors import PrefloopError, counted
from data.leaderboard_models import SELF_VOTES, named_once
from data.leaderboard_votes import ARENA, answered_votes, votes_table

# `data leaderboard --split`'s default: the votes on every arena pair, whatever its prompt's split
ALL_SPLITS = "all"
# the board of held-out prompts where there is one: split test where the board's voters voted on test arena pairs,
# else every split's (`workspace_board`; the arena app's admin card): a lead comparing models reads the held-out one
HELD_OUT = "held-out"
TEST = "test"
# why `split_pairs` leaves an arena pair out of every split (`Board.left_out`): its prompt is not in the prompts
# table (a dangling reference `python -m data validate` reports), so it has no split
NO_PROMPT = "prompt_missing"
LEFT_OUT = {NO_PROMPT: "whose prompt is not in the prompts table"}  # each reason, as the notes say it
# why a vote is on no board of any split (`split_vote_counts`, `Board.votes_left_out`), as the line says it
NO_ANSWER = "answer_missing"
VOTES_LEFT_OUT = {NO_ANSWER: "on an arena pair without an answer in the completions table", **SELF_VOTES}


def prompt_splits(prompt_ids: pd.Series, prompts: pd.DataFrame) -> pd.Series:
    """Each of ``prompt_ids``' split in the ``prompts`` table (NaN for a prompt it lacks: `NO_PROMPT`)."""
    return prompt_ids.map(prompts.drop_duplicates("id").set_index("id")["split"])


def votes_by_split(votes: pd.DataFrame, prompts: pd.DataFrame) -> dict[str, int]:
    """``votes`` (`votes_table`; or pairs: any rows with a prompt_id) counted by their prompt's split, `NO_PROMPT`
    for a prompt the prompts table lacks, in name order: a board of every split's said nothing of how many of its
    votes were on held-out prompts."""
    split = prompt_splits(votes["prompt_id"], prompts).fillna(NO_PROMPT)
    return {name: int(n) for name, n in sorted(split.value_counts().items())}


def split_vote_counts(
    votes: pd.DataFrame,
    pairs: pd.DataFrame,
    completions: pd.DataFrame,
    models: pd.DataFrame,
    prompts: pd.DataFrame,
) -> tuple[dict[str, int], dict[str, int], str]:
    """Every split's ``votes`` (`votes_table` of every arena pair) as a board of it counts them (`votes_by_split`),
    those no board counts, by reason (`VOTES_LEFT_OUT`): a vote on a pair without a stored answer
    (`answered_votes`) or comparing a model with itself (`named_once`: two answers under its name, or its hub id
    and its snapshot folder), and `answered_votes`' line naming the pairs of the first ("" where there is none).
    The line counted such a vote among the other splits' but on no board."""
    answered, unanswered = answered_votes(votes, pairs, completions)
    named, why = named_once(answered, models)
    left_out = {NO_ANSWER: len(votes) - len(answered), **{k: int((why == k).sum()) for k in SELF_VOTES}}
    return votes_by_split(named[why.isna()], prompts), {k: n for k, n in left_out.items() if n}, unanswered


def split_pairs(
    pairs: pd.DataFrame, prompts: pd.DataFrame, arenas: pd.DataFrame, split: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """``pairs`` less the arena pairs whose prompt is not of ``split``, the ``arenas`` records of ``split``
    (`ALL_SPLITS`: all of both), and the arena pairs of no split by reason (`NO_PROMPT`; they were left out without
    a word): the arena answers test prompts by default and train where a workspace holds no test
    prompt, and votes on prompts a trained model may have been trained on read as held-out ones on one board. An
    arena pair is of its prompt's split, as its arena's record is. A split with no arena pair where another has some
    is one line naming the splits that have them."""
    if split == ALL_SPLITS:
        return pairs, arenas, {}
    of_prompt = prompt_splits(pairs["prompt_id"], prompts)
    arena = pairs["kind"] == ARENA
    orphans = int((arena & of_prompt.isna()).sum())
    left_out = {NO_PROMPT: orphans} if orphans else {}
    if arena.any() and not (arena & (of_prompt == split)).any():
        held = of_prompt[arena].value_counts()
        where = ", ".join(
            [f"{n} in split {name}" for name, n in held.items()]
            + [f"{n} {LEFT_OUT[reason]}" for reason, n in left_out.items()]
        )
        raise PrefloopError(
            f"--split {split}: no arena pairs of split {split} in this workspace ({where}; --split all counts every "
            "split's)"
        )
    return pairs[~arena | (of_prompt == split)], arenas[arenas["split"] == split], left_out


def judge_commands(pairs: pd.DataFrame, prompts: pd.DataFrame | None) -> str:
    """The command that judges the arena pairs of ``pairs``, one per split their prompts are of (``prompts``: None,
    or no split known: without `--split`): `--judge` judges split train unless told, and named no split where the
    arena's pairs were all in test, so it judged none of them."""
    arena = pairs[pairs["kind"] == ARENA]
    splits = [] if prompts is None else sorted(set(prompt_splits(arena["prompt_id"], prompts).dropna()))
    command = "`python -m generate --judge MODEL --kinds arena{}`"
    return " and ".join(command.format(f" --split {s}") for s in splits) or command.format("")


def check_split_votes(
    by_split: Mapping[str, int],
    votes_left_out: Mapping[str, int],
    tables: dict[str, pd.DataFrame],
    by: str,
    gold,
    split: str,
    excluded: Sequence[str],
) -> None:
    """A board of one ``split`` (``tables``' pairs are its, their labels everyone's) whose arena pairs no one of
    ``by`` voted on, or only the ``excluded`` labellers, where other splits' have votes, is one line naming those
    splits, with their votes as their boards count them, and the votes no board counts (``by_split``,
    ``votes_left_out``: `split_vote_counts`): it said "no votes by people on arena pairs yet (label them ...)" of
    votes that were there, "2 in split train" of votes no board counts, and "every vote by people on arena pairs is
    an excluded labeller's" where that was true of split test alone."""
    theirs = len(votes_table(tables["pairs"], tables["completions"], tables["labels"], by, gold))
    held = ", ".join(
        f"{n} on arena pairs {LEFT_OUT[name]}" if name == NO_PROMPT else f"{n} in split {name}"
        for name, n in by_split.items()
        if n
    )
    where = "; ".join(
        filter(None, [held and f"{held}; --split all counts every split's", on_no_board(votes_left_out)])
    )
    if theirs:  # every vote on this split's pairs is an excluded labeller's; elsewhere there may be others
        raise PrefloopError(
            f"--split {split}: every vote by {by} on arena pairs of split {split} is an excluded labeller's "
            f"(excluded: {', '.join(excluded)}): no board without them" + (f" ({where})" if where else "")
        )
    if where:
        raise PrefloopError(
            f"--split {split}: no votes by {by} on arena pairs of split {split} yet ({where})"
        )


def on_no_board(votes_left_out: Mapping[str, int]) -> str:
    """The votes no board of any split counts (`split_vote_counts`), by reason, as the votes-by-split line and
    `check_split_votes` say them; "" where there is none."""
    said = ", ".join(
        f"{counted(n, 'vote')} {VOTES_LEFT_OUT[why]} ({why})" for why, n in votes_left_out.items()
    )
    return f"on no board of any split: {said}" if said else ""
