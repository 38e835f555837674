"""How the arena leaderboard (`data.leaderboard`) is shown: the text table (`board_lines`, padded by display width so
a model name in wide characters such as CJK keeps the columns straight), the board as `python -m data leaderboard`
and the round drivers print it (`board_text`), with the sentences around it (`data.leaderboard_notes`) and
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
from data.leaderboard import FEW_PROMPTS, Board, Row
from data.leaderboard_notes import board_notes, signed, split_votes_line
from data.leaderboard_splits import ALL_SPLITS

UNBOUNDED = {"above": "+inf", "below": "-inf", "unrated": "n/a"}


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
        votes_by_split=board.votes_by_split, votes_left_out=board.votes_left_out_in_line,
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
    votes_left_out: Mapping[str, int] = MappingProxyType({}),
) -> list[str]:
    """The table as text: strength with its 95 % interval, win rate against the reference, votes; and its notes
    (`board_notes`). ``split``: the prompts' split whose votes it counts, named in its first line; under it, the
    votes by split and those on no board (``votes_by_split``, ``votes_left_out``: `split_votes_line`), where
    given."""
    width = max(display_width(r.name) for r in rows)
    lines = [
        f"arena leaderboard by {by}{split_words(split)} (Bradley–Terry logits, reference {rows[0].name} = 0; 95 % bootstrap intervals "
        f"over prompts, never narrower than the model's, given where the model's votes and the reference's lie on "
        f"{MIN_PROMPTS} prompts or more (the reference's on {counted(rows[0].prompts, 'prompt')}); win rate vs the "
        "reference, ties half, with a Wilson interval discounted for votes that cluster on prompts, given where the "
        f"two met on {MIN_PROMPTS} prompts or more)",
        *filter(None, [split_votes_line(split, votes_by_split, votes_left_out)]),
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
    votes_left_out: Mapping[str, int] = MappingProxyType({}),
) -> str:
    """The board as strict JSON; ``sided``: `side_preferences` (people's boards); ``unvoted``: `unvoted_models`;
    ``inconsistent``: the judge's inconsistent ties among its votes; ``identical``: `identical_answers`;
    ``split``: the prompts' split whose votes it counts (``all``: every split's); ``left_out``: the arena pairs of
    no split it left out, by reason (`data.leaderboard_splits.split_pairs`); ``votes_by_split`` and
    ``votes_left_out``: `data.leaderboard_splits.split_vote_counts`."""
    board = {
        "by": by,
        "split": split,
        "votes_by_split": dict(votes_by_split),  # every split's votes; the board counts those of "split"
        "votes_left_out": dict(votes_left_out),  # votes on no board of any split, by reason
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
