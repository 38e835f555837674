"""Rankings of k answers to one prompt (`annotate --task rank`): the canonical form of a ranking, what a labeller
typed on screen, and a ranking's pair votes (pure functions of strings; the tables are in data.rank_pairs).

A rank item is the non-gold, non-human completions of one prompt in one round (`generate --n k`, or an import's
candidates), when there are ``MIN_K``..``MAX_K`` of them; its id is ``content_id("rank", prompt_id, round)``. A
ranking label stores, in the labels' ``ranking`` column, the completion ids best first: ``>`` between ranks and
``=`` inside a tie, ids sorted inside a tie (``"c3>c1=c4>c2"``), and in ``left`` the ids in the order the labeller
saw them, comma-separated (answer 1 first).

Expansion: each labeller's ranking gives one vote per pair of its answers, for the better one or a tie; ``all``
pairs (k(k-1)/2) or only ``adjacent`` ranks (and ties). The votes go through the same aggregation as pairwise
labels (majority or Dawid–Skene, `data.aggregate`) on a pair id per (item, two answers), so several labellers'
rankings are counted pair by pair; a tie verdict or a split gives no training pair. A vote's strength is the rank
gap (1..4, a gap over 4 counts 4), so a verdict's strength is the mean gap of the votes that agree with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import combinations

from data.errors import PrefloopError, quoted
from data.records import content_id

RANK_PAIRS = ("all", "adjacent", "none")  # --rank-pairs of export and train
MIN_K, MAX_K = 3, 6
MAX_STRENGTH = 4


class RankingError(PrefloopError):
    """A ranking that cannot be read: the message says what is wrong with it."""


def parse_ranking(text: str) -> tuple[tuple[str, ...], ...]:
    """The ranks of ``"c3>c1=c4>c2"``, best first: ``(("c3",), ("c1", "c4"), ("c2",))`` (ids sorted in a tie)."""
    if not isinstance(text, str) or not text.strip():
        raise RankingError("the ranking is empty")
    if "," in text:  # no id holds one: 'c3,c1,c2' is neither an order nor a tie
        raise RankingError(
            f"ranking {text!r}: ids best first, '>' between ranks and '=' in a tie, not ',' (e.g. c3>c1=c4>c2)"
        )
    levels = []
    for part in text.split(">"):
        ids = tuple(sorted(i.strip() for i in part.split("=")))
        if any(not i for i in ids):
            raise RankingError(f"ranking {text!r}: an empty or malformed answer id")
        levels.append(ids)
    flat = [i for level in levels for i in level]
    if len(set(flat)) != len(flat):
        raise RankingError(f"ranking {text!r}: an answer is ranked twice")
    if len(flat) < 2:
        raise RankingError(f"ranking {text!r}: needs at least 2 answers")
    return tuple(levels)


def canonical(levels: Sequence[Sequence[str]]) -> str:
    return ">".join("=".join(sorted(level)) for level in levels)


def canonical_ranking(text: str) -> str:
    """``text`` in canonical form (spaces dropped, ids sorted inside a tie); RankingError when it is not one."""
    return canonical(parse_ranking(text))


def rank_of(text: str) -> dict[str, int]:
    """Answer id -> its rank (0 = best; tied answers share one)."""
    return {i: rank for rank, level in enumerate(parse_ranking(text)) for i in level}


def ranking_votes(text: str, mode: str = "all") -> list[tuple[str, str, int]]:
    """The pair votes of one ranking: (better, worse, gap) per pair, or (a, b, 0) for a tie (a < b); ``adjacent``
    keeps the pairs one rank apart and the ties."""
    if mode not in RANK_PAIRS[:2]:
        raise PrefloopError(f"--rank-pairs {mode!r}: expected one of {', '.join(RANK_PAIRS)}")
    rank = rank_of(text)
    votes = []
    for x, y in combinations(sorted(rank), 2):
        gap = abs(rank[x] - rank[y])
        if mode == "adjacent" and gap > 1:
            continue
        votes.append((x, y, 0) if gap == 0 else ((x, y, gap) if rank[x] < rank[y] else (y, x, gap)))
    return votes


def gap_strength(gap: int) -> int:
    """A vote's strength (1..4, as a pairwise label's): the rank gap, a gap over 4 counting 4."""
    return min(gap, MAX_STRENGTH)


def _answer_number(text: str, count: int) -> int | None:
    """``text`` as an answer number 1..``count``, None where it is not one: ASCII digits only (Python's int() reads
    "٣" and a fullwidth "３" as 3, which no one typed as an answer number), never turned into an int of thousands
    of digits (int() refuses those with a ValueError)."""
    digits = text.lstrip("0")
    if not (text.isascii() and text.isdigit()) or len(digits) > len(str(count)):
        return None
    number = int(digits or "0")
    return number if 1 <= number <= count else None


def screen_ranking(text: str, shown: Sequence[str]) -> str:
    """The canonical ranking of what a labeller typed on screen (``"3 > 1 = 4 > 2"``: answer numbers, 1 = the first
    shown, in ASCII digits), given the completion ids in the order shown. Every answer must be ranked. An error
    quotes the ranking as typed, spaces and all, cut to one line's worth (`data.errors.quoted`)."""
    typed = text or ""
    text = typed.replace(" ", "")
    levels = []
    for part in text.split(">") if text else []:
        numbers = [_answer_number(n, len(shown)) for n in part.split("=")]
        if None in numbers:
            raise RankingError(f"ranking {quoted(typed)}: use the answer numbers 1-{len(shown)}, '>' and '='")
        levels.append([shown[n - 1] for n in numbers])
    ranked = [i for level in levels for i in level]
    if len(set(ranked)) != len(ranked):
        raise RankingError(f"ranking {quoted(typed)}: an answer is ranked twice")
    if len(ranked) != len(shown):
        missing = [str(n) for n, i in enumerate(shown, 1) if i not in ranked]
        raise RankingError(f"rank all {len(shown)} answers (not ranked yet: {', '.join(missing)})")
    return canonical(levels)


def to_screen(ranking: str, shown: Sequence[str]) -> str:
    """The inverse of ``screen_ranking``: ``"3 > 1 = 4 > 2"`` in the numbers of the order shown."""
    number = {i: n for n, i in enumerate(shown, 1)}
    levels = parse_ranking(ranking)
    return " > ".join(" = ".join(str(n) for n in sorted(number[i] for i in level)) for level in levels)


def shown_order(item_id: str, user: str, ids: Sequence[str]) -> tuple[str, ...]:
    """The order a labeller sees an item's answers in: a fixed shuffle per (item, labeller)."""
    key = lambda i: hashlib.sha256(f"{item_id}\0{user}\0{i}".encode()).digest()  # noqa: E731
    return tuple(sorted(ids, key=key))


def rank_item_id(prompt_id: str, round: int) -> str:
    return content_id("rank", prompt_id, int(round))
