"""The sentences around the arena leaderboard (`data.leaderboard`), the same under `python -m data leaderboard`, the
round drivers' board and the arena admin card: the splits of its votes (`split_votes_line`, under the first line)
and the notes under the table (`board_notes`): strengths the votes leave open, missing intervals, a strength and a
win rate on opposite sides of the reference's, models without a vote, answers never paired as one text, arena pairs
of no split, a judge's inconsistent ties, who was excluded and who votes by the side of the screen.
`data.leaderboard_view` lays out the table, its JSON and the plot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from data.bradley_terry import MIN_PROMPTS
from data.errors import counted, one_line
from data.leaderboard import FEW_PROMPTS, Row
from data.leaderboard_splits import ALL_SPLITS, LEFT_OUT, NO_PROMPT, on_no_board

STANDING_NOTES = {
    "above": "+inf: ahead of the reference by every chain of votes (never behind it): no finite strength",
    "below": "-inf: behind the reference by every chain of votes (never ahead of it): no finite strength",
    "unrated": "n/a: no chain of votes relates it to the reference (never compared with it, directly or through "
    "models on both sides): no strength; compare them in one arena",
}


def few_prompts_line(rows: list[Row]) -> str:
    """The table's note on the strengths and win rates without an interval for want of prompts; "" when none
    lacks one."""
    counts = sorted({min(r.prompts, rows[0].prompts) for r in rows if r.no_interval == FEW_PROMPTS})
    met = sorted({r.win_prompts for r in rows if r.win_no_interval == FEW_PROMPTS})
    win = (
        f"Win rate's -: it met the reference on {_counted(met)} prompt{'s' * (met[-1] != 1)}, fewer than "
        f"{MIN_PROMPTS}: no win-rate interval (votes on one prompt are not independent, so its width is measured "
        "between prompts)"
        if met
        else ""
    )
    return ". ".join(filter(None, [_few_strength_prompts(counts), win]))


def _counted(counts: list[int]) -> str:
    return f"{counts[0]}" if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"


def _few_strength_prompts(counts: list[int]) -> str:
    if not counts:
        return ""
    on = _counted(counts)
    return (
        f"-: votes on {on} prompt{'s' * (counts[-1] != 1)} (the model's or the reference's), fewer than "
        f"{MIN_PROMPTS}: no strength interval. A bootstrap over so few prompts is far too narrow (simulated, its 95 % "
        "intervals held the true strength 44 % of the time at 2 prompts, 81 % at 4, 89 % at 8): the strength stands "
        f"alone and is less certain than it looks; vote on at least {MIN_PROMPTS} prompts (`generate --arena ... "
        f"--limit {MIN_PROMPTS}`)"
    )


# what a split's prompts are to a comparison of models (the loops and `train` train on split train)
SPLIT_PROMPTS = {"test": "held-out prompts", "train": "prompts a trained model may have been trained on"}


def split_votes_line(
    split: str, votes_by_split: Mapping[str, int], votes_left_out: Mapping[str, int] = MappingProxyType({})
) -> str:
    """The board's line on the splits of its votes, with their counts (`data.leaderboard_splits.split_vote_counts`:
    every split's as its board counts them, this board counting those of ``split``; 0 for a split whose arena pairs
    have none), and the votes no board counts (``votes_left_out``, by reason), or "" where no vote is counted: a
    board of every split's said nothing of how many of its votes were on prompts a trained model may have trained
    on, beside held-out ones."""
    if not any(votes_by_split.values()):
        return ""
    # a split of 0: its arena pairs have no vote counted, and wait for votes, not for an arena
    on_board = {s: n for s, n in votes_by_split.items() if split in (ALL_SPLITS, s) and n}
    left = {s: n for s, n in votes_by_split.items() if s not in on_board and n}
    line = f"votes by split: {_split_counts(on_board)}, {'all ' * (split == ALL_SPLITS)}counted on this board"
    if left:
        line += f"; {_split_counts(left)} left out (`--split all` counts every split's)"
    elif split == ALL_SPLITS and "test" in votes_by_split and "test" not in on_board:
        line += (
            "; none on held-out prompts yet: split test's arena pairs have no vote counted here (`--split test` "
            "counts theirs once they have)"
        )
    elif split == ALL_SPLITS and "test" not in on_board:
        line += "; none on held-out prompts (`python -m generate --arena ... --split test` samples an arena on them)"
    elif split == ALL_SPLITS and len(on_board) > 1:
        line += "; `--split test` counts the held-out ones alone"
    return "; ".join(filter(None, [line, on_no_board(votes_left_out)]))


def _split_counts(counts: Mapping[str, int]) -> str:
    """``counts`` by split as `split_votes_line` says them: `40 on split test (held-out prompts)`."""
    return ", ".join(
        f"{n} on arena pairs {LEFT_OUT[NO_PROMPT]}"
        if name == NO_PROMPT
        else f"{n} on split {name}" + (f" ({SPLIT_PROMPTS[name]})" if name in SPLIT_PROMPTS else "")
        for name, n in counts.items()
    )


def board_notes(
    rows: list[Row],
    excluded_line: str = "",
    sided: dict[str, dict] | None = None,
    unvoted: list[dict] = (),
    inconsistent: int = 0,
    identical: Sequence[dict] = (),
    split: str = ALL_SPLITS,
    left_out: Mapping[str, int] = MappingProxyType({}),
) -> list[str]:
    """The notes under the table (the CLI's, the round drivers' and the admin tab's): one per kind of strength the
    votes leave open (`STANDING_NOTES`), why an interval is missing (`few_prompts_line`), a strength and a win rate
    on opposite sides of the reference's (`opposite_line`), the arena's models with no row (``unvoted``:
    `data.leaderboard.unvoted_models`), the answers never paired as they were the same text (``identical``:
    `data.arena_runs.identical_answers`), the arena pairs a board of one ``split`` left out as of no split
    (``left_out``: `data.leaderboard_splits.split_pairs`, `left_out_line`), a judge's inconsistent ties
    (`inconsistent_line`), who was excluded, and who votes by the side of the screen (``sided``:
    `data.labeller_flags.side_preferences`, `side_line`)."""
    open_ = [standing for standing in STANDING_NOTES if any(r.standing == standing for r in rows)]
    notes = [STANDING_NOTES[s] for s in open_] + [
        few_prompts_line(rows),
        unmet_line(rows),
        opposite_line(rows),
        unvoted_line(unvoted),
        *map(identical_line, identical),
        left_out_line(split, left_out),
        inconsistent_line(inconsistent, sum(r.votes for r in rows) // 2),
        excluded_line,
        side_line(sided or {}),
    ]
    return list(filter(None, notes))


def identical_line(arena: dict) -> str:
    """The table's note on one arena's answers left unpaired as another model's text (`identical_answers`); of
    three models or more, which pairs of them and on how many prompts (``by_models``), where its run recorded it;
    the answer pairs another note's arena holds too (``shares``)."""
    alike = (
        f"; {counted(arena['identical_prompts'], 'prompt')} got no pair at all"
        if arena["identical_prompts"]
        else ""
    )
    shared = "".join(
        f"; the answer pairs of {' and '.join(other['shared'])} on the first {counted(other['prompts'], 'prompt')} "
        f"are also in the arena of {', '.join(other['names'])}: its note counts them too"
        for other in arena["shares"]
    )
    where = f"({arena['split']} round {arena['round']}, {counted(arena['prompts'], 'prompt')}{alike}{shared})"
    found = f"{arena['identical']} of the {arena['compared']} answer pairs compared"
    if len(arena["names"]) == 2:
        said = f"{' and '.join(arena['names'])} gave the same text in {found} {where}"
    else:
        models = f"the arena's {len(arena['names'])} models ({', '.join(arena['names'])})"
        said = f"of {models}, {by_models(arena)}; {found} in all {where}"
    return (
        f"identical answers: {said}: not paired, so never voted on; the win rates and strengths are over the answers "
        "that differed (each identical pair would be a tie, if counted)"
    )


def by_models(arena: dict) -> str:
    """Which pairs of an arena's models gave the same text, how often and on how many prompts (`identical_line`);
    an arena recorded before they were counted says how to count them."""
    if arena.get("by_models") is None:
        return (
            "which pairs gave the same text is not recorded (sampled by an earlier version: the same `generate "
            "--arena` command again samples nothing and records them)"
        )
    return ", ".join(
        f"{' and '.join(pair['names'])} gave the same text in {pair['identical']} of their {pair['compared']} answer "
        f"pairs (on {counted(pair['prompts'], 'prompt')})"
        for pair in arena["by_models"]
    )


def left_out_line(split: str, left_out: Mapping[str, int]) -> str:
    """The table's note on the arena pairs a board of one ``split`` left out as they have none (``left_out``, by
    reason: `data.leaderboard_splits.split_pairs`); "" where there is none."""
    if not left_out:
        return ""
    said = "; ".join(
        f"{counted(n, 'arena pair')} {LEFT_OUT[reason]} ({reason})" for reason, n in left_out.items()
    )
    return (
        f"left out of split {split}, as of no split: {said}; their votes count under --split all only "
        "(`python -m data validate` lists every such reference)"
    )


def inconsistent_line(inconsistent: int, votes: int) -> str:
    """The table's note on a judge's inconsistent ties among the board's ``votes``; "" where there is none."""
    if not inconsistent:
        return ""
    return (
        f"inconsistent ties: {inconsistent} of the {counted(votes, 'vote')} are a judge's tie where its two orders "
        "disagreed (confidence 0: position bias, not a preference; `generate` counts them `inconsistent`): "
        "counted as the ties they are stored as, half a win to each side, as MT-Bench counts them, so they pull "
        "the strengths towards 0"
    )


def unmet_line(rows: list[Row]) -> str:
    """The table's note on the models with a strength but no win rate: never in a voted pair with the reference
    (its "-" went unexplained, and a model whose answers were the reference's on every prompt, so never paired
    with it, showed a strength only the models it met gave it); "" when there is none."""
    names = [r.name for r in rows[1:] if not r.games and r.standing != "unrated"]
    if not names:
        return ""
    return (
        f"win rate -: {', '.join(names)} never met the reference in a voted pair: the strength comes through the "
        "models it met (answers identical to another model's are never paired: `generate --arena` counts them as "
        "`identical`)"
    )


def opposite_line(rows: list[Row]) -> str:
    """The table's note on the models whose strength and win rate, as printed, lie on opposite sides of the
    reference's 0 and 0.5 (`-0.242` beside `0.618` read as a fault of the fit); "" when none does. Both are right:
    they count different votes."""
    crossed = [
        f"{r.name} (strength {signed(r.strength, 3)}, win rate {r.win_rate:.3f} of {counted(r.games, 'vote')})"
        for r in rows[1:]
        if r.strength is not None
        and r.win_rate is not None
        and round(r.strength, 3) * (round(r.win_rate, 3) - 0.5) < 0
    ]
    if not crossed:
        return ""
    return (
        f"strength and win rate on opposite sides of the reference's 0 and 0.5: {', '.join(crossed)}: both are "
        "right: the strength is fitted from every vote, those against the other models too, the win rate counts "
        "the votes against the reference alone"
    )


def signed(value: float, digits: int) -> str:
    """``value`` with its sign to ``digits`` decimals; one that rounds to 0 is +0 (a strength tied with the
    reference's is the fit's -1e-17, which printed `-0.000`, as if below the reference's `+0.000`)."""
    return f"{round(value, digits) + 0.0:+.{digits}f}"


def unvoted_line(unvoted: list[dict]) -> str:
    """The table's note on the arena's models without a row; "" when every one has one."""
    if not unvoted:
        return ""
    names = ", ".join(m["name"] for m in unvoted)
    why = "no vote counted here is on their arena pairs (none yet, or only excluded labellers')"
    return f"not on the board, as {why}: {names}"


def side_line(found: dict[str, dict]) -> str:
    """The table's note on `data.labeller_flags.side_preferences`; "" when nobody has one."""
    if not found:
        return ""
    # a labeller's name the Python API stored with a newline stays on the note's line, as `stats --labellers` writes it
    who = ", ".join(
        f"{one_line(name)} (left {v['left_share']:.0%} of {v['votes']})" for name, v in found.items()
    )
    return (
        f"side preference in arena votes: {who}: their votes follow the screen, not the answers, and pull every "
        "strength towards 0; `--exclude-labeller NAME` leaves them out"
    )
