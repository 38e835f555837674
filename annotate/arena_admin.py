"""What the arena changes in the admin tabs of the two apps whose labels are task pairwise (`annotate --task
pairwise` and `--task arena`): which pairs each tab counts, lists and acts on (its own app's), why "make gold" leaves
the other app's pair alone, and the arena app's leaderboard of people's votes (as `python -m data leaderboard`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import pyarrow.compute as pc

from annotate.failures import public_line
from annotate.render import message_html, table_html
from data.errors import PrefloopError
from data.exclusion import excluded_line
from data.leaderboard import ALL_SPLITS, ARENA, HELD_OUT, workspace_board
from data.leaderboard_notes import board_notes, split_votes_line
from data.leaderboard_view import split_words, strength_interval, strength_text, win_interval_text

if TYPE_CHECKING:
    from annotate.service import LabelService


def other_app_pairs(pairs: pd.DataFrame, view: str) -> pd.Series:
    """The ids of the pairs that the admin tab of an app serving ``view`` leaves to the other app's: both apps'
    labels are task pairwise, so each tab keeps to the pairs its app serves, the arena app's to the arena pairs, the
    pairwise app's to every other pair. A gold arena pair, which the pairwise app serves too (as any gold pair),
    stays the arena's: its gold answer is a vote on the arena leaderboard. Other views (kto, rank, rate): none."""
    arena = pairs["kind"] == ARENA
    if view == ARENA:
        return pairs.loc[~arena, "id"]
    return pairs.loc[arena, "id"] if view == "pairwise" else pairs["id"].iloc[:0]


def other_apps_pair(service: LabelService, item_id: str, answer: str) -> str | None:
    """Why "make gold" leaves ``item_id`` alone in this app, or None: a pair its tab leaves to the other app
    (`other_app_pairs`). The arena app never serves another pair, gold or not; an arena pair made gold is a vote on
    the arena leaderboard, the arena's decision (the pairwise app would serve it, as any gold pair)."""
    if service.task != "pairwise":
        return None
    pairs = service.workspace.read("pairs", ["kind"], where=("id", [item_id])).to_pandas()
    if not len(other_app_pairs(pairs, service.view)):
        return None
    cli = f"`python -m data gold --pair {item_id} --answer {answer}`"
    if service.view == ARENA:
        return (
            f"{item_id} is a pair of kind {pairs['kind'].iloc[0]}, which the arena app never serves, gold or not "
            f"(arena pairs only): make it gold in the pairwise app's admin tab, or with {cli}."
        )
    return (
        f"{item_id} is an arena pair, whose gold answer would be a vote on the arena leaderboard: make it gold in "
        f"the arena app's admin tab (`python -m annotate --task arena`), or with {cli}."
    )


def arena_html(workspace, excluded: tuple[str, ...] = ()) -> str:
    """The arena leaderboard of people's votes (as `python -m data leaderboard`) without the ``excluded``
    labellers' (WS/excluded.json), or nothing without votes: of split test where people voted on test arena pairs,
    else of every split (`HELD_OUT`), saying which, with the votes by split and the command that prints the same
    board. It counted every split's votes without a word, beside a CLI that keeps split test apart."""
    if not pc.any(pc.equal(workspace.read("pairs", ["kind"]).column("kind"), ARENA)).as_py():
        return ""  # (the kind column only: the board reads the whole table once, below)
    try:
        board = workspace_board(workspace, excluded=excluded, split=HELD_OUT)
    except PrefloopError as exc:
        return message_html(public_line(exc, workspace), "muted")
    # a win rate with the votes it is of (those between the model and the reference), as `data leaderboard` prints it
    win = lambda r: "-" if r.win_rate is None else f"{r.win_rate:.3f} ({r.games})"  # noqa: E731
    cells = [
        [r.name, strength_text(r), strength_interval(r), win(r),
         win_interval_text(r), r.votes]
        for r in board.rows
    ]  # fmt: skip
    # the reference is the first model in lineage order, the base only where the arena holds it (two folders the
    # manifest does not know have none): named, as `data leaderboard` names it, never called the base
    columns = ["model", "strength", "95 % CI", "win rate vs reference (votes)", "95 % CI", "votes"]
    reference = f"reference (strength 0; each win rate is against it): {board.rows[0].name}"
    # as under `data leaderboard`: strengths the votes leave open, why an interval is missing, models without a
    # vote, answers never paired as they were one text, arena pairs of no split, who is left out, who votes by the
    # side of the screen
    excluding = excluded_line(dict.fromkeys(excluded, "excluded.json"))
    notes = board_notes(
        board.rows, excluding, board.sided, board.unvoted, board.inconsistent, board.identical, board.split,
        board.left_out,
    )  # fmt: skip
    # the votes left out for an answer no longer stored, every split's, naming their pairs: the CLI's warning,
    # which the card had no word of; the votes-by-split line counts them no more (it said them twice)
    unanswered = message_html(board.unanswered, "warn") if board.unanswered else ""
    return (
        f"<h3>Arena leaderboard (people's votes, Bradley–Terry){split_words(board.split)}</h3>"
        + unanswered
        + message_html(
            split_votes_line(board.split, board.votes_by_split, board.votes_left_out_in_line), "muted"
        )
        + message_html(same_board(board.split), "muted")
        + message_html(reference, "muted")
        + table_html(columns, cells)
        + "".join(message_html(note, "muted") for note in notes)
    )


def same_board(split: str) -> str:
    """Which board the card shows (`HELD_OUT`) and the command that prints it (people's votes, WS/excluded.json's
    labellers left out, so a vote of theirs on split test is none here; the workspace as WS: the browser is shown no
    server path)."""
    if split == ALL_SPLITS:
        return (
            "the board of every split, as no vote counted here is on split test (held-out prompts): "
            "`python -m data leaderboard -w WS` prints it"
        )
    return (
        f"the board of split {split}, the held-out prompts people voted on: `python -m data leaderboard -w WS "
        f"--split {split}` prints it"
    )
