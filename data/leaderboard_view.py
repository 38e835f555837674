"""How the arena leaderboard (`data.leaderboard`) is shown: the text table (`board_lines`, padded by display width so
a model name in wide characters such as CJK keeps the columns straight), the board as `python -m data leaderboard`
and the round drivers print it (`board_text`), the notes under it (`board_notes`, the admin tab's too) and
WS/leaderboard.png (`plot_leaderboard`, each name's characters the plot's font lacks escaped, as the table escapes
control characters)."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from types import MappingProxyType

import numpy as np

from data.bradley_terry import MIN_PROMPTS
from data.errors import counted, one_line
from data.leaderboard import ALL_SPLITS, FEW_PROMPTS, LEFT_OUT, NO_PROMPT, Board, Row

UNBOUNDED = {"above": "+inf", "below": "-inf", "unrated": "n/a"}
STANDING_NOTES = {
    "above": "+inf: ahead of the reference by every chain of votes (never behind it): no finite strength",
    "below": "-inf: behind the reference by every chain of votes (never ahead of it): no finite strength",
    "unrated": "n/a: no chain of votes relates it to the reference (never compared with it, directly or through "
    "models on both sides): no strength; compare them in one arena",
}


def signed(value: float, digits: int) -> str:
    """``value`` with its sign to ``digits`` decimals; one that rounds to 0 is +0 (a strength tied with the
    reference's is the fit's -1e-17, which printed `-0.000`, as if below the reference's `+0.000`)."""
    return f"{round(value, digits) + 0.0:+.{digits}f}"


def strength_text(row: Row) -> str:
    """A row's strength as the tables print it (+inf, -inf, n/a where the votes give no finite one)."""
    return UNBOUNDED[row.standing] if row.strength is None else signed(row.strength, 3)


def strength_interval(row: Row) -> str:
    """A row's strength interval as the tables print it: "-" where it has none (``no_interval``: too few prompts,
    or no finite strength), ±inf for an end more than 2.5 % of the resamples leave unbounded."""
    if row.no_interval:
        return "-"
    low = "-inf" if row.low is None else signed(row.low, 2)
    high = "+inf" if row.high is None else signed(row.high, 2)
    return f"{low} to {high}"


def win_interval_text(row: Row) -> str:
    """The win rate's 95 % interval as the table shows it; ``-`` where there is none."""
    return "-" if row.win_low is None else f"{row.win_low:.2f}-{row.win_high:.2f}"


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


def display_width(text: str) -> int:
    """The columns ``text`` takes in a terminal: wide and fullwidth characters (CJK) two, combining marks none."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text
    )


def padded(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` terminal columns (str.ljust counts a CJK character as one)."""
    return text + " " * max(0, width - display_width(text))


def board_text(board: Board, excluded_line: str, png: Path | None) -> list[str]:
    """The board as `python -m data leaderboard` prints it, and the round drivers under their own lines: the table,
    its notes (who was excluded: ``excluded_line``, `data.exclusion.Exclusion.line`) and where the plot is (None:
    it could not be written)."""
    notes = (board.sided, board.unvoted, board.inconsistent, board.identical)
    lines = board_lines(
        board.rows, board.by, excluded_line, *notes, split=board.split, left_out=board.left_out,
        votes_by_split=board.votes_by_split,
    )  # fmt: skip
    return [*lines, *([f"plot: {png}"] if png else [])]


def board_lines(
    rows: list[Row],
    by: str,
    excluded_line: str = "",
    sided: dict[str, dict] | None = None,
    unvoted: list[dict] = (),
    inconsistent: int = 0,
    identical: Sequence[dict] = (),
    split: str = ALL_SPLITS,
    left_out: Mapping[str, int] = MappingProxyType({}),
    votes_by_split: Mapping[str, int] = MappingProxyType({}),
) -> list[str]:
    """The table as text: strength with its 95 % interval, win rate against the reference, votes; and its notes
    (`board_notes`). ``split``: the prompts' split whose votes it counts, named in its first line; under it, the
    votes by split (``votes_by_split``: `split_votes_line`), where given."""
    width = max(display_width(r.name) for r in rows)
    lines = [
        f"arena leaderboard by {by}{split_words(split)} (Bradley–Terry logits, reference {rows[0].name} = 0; 95 % bootstrap intervals "
        f"over prompts, never narrower than the model's, from {MIN_PROMPTS} prompts; win rate vs the reference, "
        "ties half, with a Wilson interval discounted for votes that cluster on prompts, from as many prompts)",
        *filter(None, [split_votes_line(split, votes_by_split)]),
        f"{padded('model', width)}  parent    strength  95 % CI          win rate vs ref  95 % CI      votes",
    ]
    for r in rows:
        win = "-" if r.win_rate is None else f"{r.win_rate:.3f} ({r.games})"
        ci = win_interval_text(r)
        interval = strength_interval(r)
        lines.append(
            f"{padded(r.name, width)}  {(r.parent or '-')[:8]:<8}  {strength_text(r):>8}  {interval:<14}  {win:<15}  {ci:<11}  {r.votes}"
        )
    return [
        *lines,
        *board_notes(rows, excluded_line, sided, unvoted, inconsistent, identical, split, left_out),
    ]


def split_words(split: str) -> str:
    """How a board's first line and its plot's title name the split of its votes: nothing for every split's."""
    return "" if split == ALL_SPLITS else f" on split {split}"


# what a split's prompts are to a comparison of models (the loops and `train` train on split train)
SPLIT_PROMPTS = {"test": "held-out prompts", "train": "prompts a trained model may have been trained on"}


def split_votes_line(split: str, votes_by_split: Mapping[str, int]) -> str:
    """The board's line on the splits of its votes, with their counts (`data.leaderboard.votes_by_split`: every
    split's, the board counting those of ``split``), or "" where none is given: a board of every split's said
    nothing of how many of its votes were on prompts a trained model may have trained on, beside held-out ones."""
    if not votes_by_split:
        return ""
    counted = {s: n for s, n in votes_by_split.items() if split in (ALL_SPLITS, s)}
    left = {s: n for s, n in votes_by_split.items() if s not in counted and n}
    line = f"votes by split: {_split_counts(counted)}, {'all ' * (split == ALL_SPLITS)}counted on this board"
    if left:
        line += f"; {_split_counts(left)} left out (`--split all` counts every split's)"
    elif split == ALL_SPLITS and "test" not in counted:
        line += "; none on held-out prompts (`python -m generate --arena ... --split test` samples an arena on them)"
    elif split == ALL_SPLITS and len(counted) > 1:
        line += "; `--split test` counts the held-out ones alone"
    return line


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
    votes leave open (`STANDING_NOTES`), why an interval is missing (`few_prompts_line`), the arena's models with
    no row (``unvoted``: `data.leaderboard.unvoted_models`), the answers never paired as they were the same text
    (``identical``: `data.arena_runs.identical_answers`), the arena pairs a board of one ``split`` left out as of
    no split (``left_out``: `data.leaderboard.split_pairs`, `left_out_line`), a judge's inconsistent ties
    (`inconsistent_line`), who was excluded, and who votes by the side of the screen (``sided``:
    `data.labeller_flags.side_preferences`, `side_line`)."""
    open_ = [standing for standing in STANDING_NOTES if any(r.standing == standing for r in rows)]
    notes = [STANDING_NOTES[s] for s in open_] + [
        few_prompts_line(rows),
        unmet_line(rows),
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
    three models or more, which pairs of them and on how many prompts (``by_models``), where its run recorded it."""
    alike = (
        f"; {counted(arena['identical_prompts'], 'prompt')} got no pair at all"
        if arena["identical_prompts"]
        else ""
    )
    where = f"({arena['split']} round {arena['round']}, {counted(arena['prompts'], 'prompt')}{alike})"
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
    reason: `data.leaderboard.split_pairs`); "" where there is none."""
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


def plot_leaderboard(
    rows: list[Row], by: str, path: Path, excluded: Sequence[str] = (), split: str = ALL_SPLITS
) -> Path:
    """WS/leaderboard.png: each model's strength with its interval, in lineage order (written atomically); a
    strength or bound the votes leave unbounded is drawn to the plot's edge (a triangle: +inf or -inf), an
    unrated model has no point, and a strength without an interval (``no_interval``: too few prompts) no bar. The
    title names whose votes, of which ``split``, and the ``excluded`` labellers (`plot_title`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from data.files import atomic_write

    few = any(r.no_interval == FEW_PROMPTS for r in rows)
    # the interval on a line of its own: "no interval from one prompt" once ran past a figure this wide
    interval = "95 % interval: bootstrap, never narrower than the model's" + (
        f"\nnone under {MIN_PROMPTS} prompts" if few else ""
    )
    title = plot_title(by + split_words(split), excluded, font_glyphs())
    # each line past the usual two gets room: a two-line title squeezed a two-model plot to a sliver
    extra = title.count("\n") + interval.count("\n")
    figure, axis = plt.subplots(figsize=(7, 1.2 + 0.5 * len(rows) + 0.25 * extra))
    y = np.arange(len(rows))[::-1]
    finite = [v for r in rows for v in (r.strength, r.low, r.high) if v is not None]
    spread = max(1.0, max(finite) - min(finite))
    left, right = min(finite) - 0.25 * spread, max(finite) + 0.25 * spread
    for k, r in zip(y, rows):
        if not r.no_interval:  # low to high as they are: a percentile interval need not hold the strength
            low, high = left if r.low is None else r.low, right if r.high is None else r.high
            axis.errorbar((low + high) / 2, k, xerr=(high - low) / 2, fmt="none", capsize=4, color="C0")
        if r.strength is not None:
            axis.plot(r.strength, k, "o", color="C0")
        elif r.standing in ("above", "below"):
            axis.plot(
                right if r.standing == "above" else left, k, ">" if r.standing == "above" else "<", color="C3"
            )
    axis.set_xlim(left, right)
    axis.axvline(0, color="grey", lw=0.8, ls="--")
    names = [plot_label(r.name, font_glyphs()) for r in rows]
    axis.set_yticks(y, [n if r.standing != "unrated" else f"{n} (unrated)" for n, r in zip(names, rows)])
    axis.set_xlabel(f"Bradley–Terry strength (logits vs the reference)\n{interval}")
    axis.set_title(title)
    figure.tight_layout()
    atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=120))
    plt.close(figure)
    return path


def plot_title(by: str, excluded: Sequence[str], glyphs: frozenset[int]) -> str:
    """The plot's title: whose votes (``by``) and the labellers left out (``excluded``), wrapped to the figure's
    width; a board without bob's votes had the full board's title, so two plots of different figures read alike."""
    import textwrap

    title = f"arena leaderboard by {by}"
    if excluded:
        title += f" (excluding {', '.join(excluded)})"
    return "\n".join(textwrap.wrap(plot_label(one_line(title), glyphs), 70))


def font_glyphs() -> frozenset[int]:
    """The code points the plot's fonts draw: the default font's and its fallbacks' (`font.sans-serif`)."""
    from matplotlib import font_manager, rcParams

    paths = {font_manager.findfont(font_manager.FontProperties())}
    for family in rcParams["font.sans-serif"]:
        try:
            paths.add(
                font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
            )
        except ValueError:  # not installed
            continue
    return frozenset(code for path in paths for code in font_manager.get_font(path).get_charmap())


def plot_label(name: str, glyphs: frozenset[int]) -> str:
    """``name`` as the plot's tick label: a character its fonts lack escaped (``\\u6a21``), where matplotlib drew
    an empty box and warned once per glyph."""
    return "".join(c if c == " " or ord(c) in glyphs else _escape(ord(c)) for c in name)


def _escape(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def board_json(
    rows: list[Row],
    by: str,
    excluded: Sequence[str] = (),
    sided: dict[str, dict] | None = None,
    unvoted: Sequence[dict] = (),
    inconsistent: int = 0,
    identical: Sequence[dict] = (),
    split: str = ALL_SPLITS,
    left_out: Mapping[str, int] = MappingProxyType({}),
    votes_by_split: Mapping[str, int] = MappingProxyType({}),
) -> str:
    """The board as strict JSON; ``sided``: `side_preferences` (people's boards); ``unvoted``: `unvoted_models`;
    ``inconsistent``: the judge's inconsistent ties among its votes; ``identical``: `identical_answers`;
    ``split``: the prompts' split whose votes it counts (``all``: every split's); ``left_out``: the arena pairs of
    no split it left out, by reason (`data.leaderboard.split_pairs`); ``votes_by_split``:
    `data.leaderboard.votes_by_split`."""
    board = {
        "by": by,
        "split": split,
        "votes_by_split": dict(votes_by_split),  # every split's votes; the board counts those of "split"
        "reference": rows[0].model,
        "excluded": list(excluded),
        "side_preference": sided or {},
        "unvoted": list(unvoted),  # the arena's models without a vote of ``by`` yet: no row in "models"
        "inconsistent_ties": inconsistent,  # of the votes, a judge's ties from orders that disagreed: counted as ties
        "identical_answers": list(identical),  # per arena, answer pairs not paired as they were one text
        "left_out": dict(left_out),  # arena pairs of no split, by reason: on no one split's board
        "min_prompts": MIN_PROMPTS,  # the fewest prompts a strength's interval is given from (`no_interval`)
        "models": [asdict(r) for r in rows],
    }
    return json.dumps(board, indent=2, allow_nan=False)  # strict JSON: a NaN would be a bug, not a value
