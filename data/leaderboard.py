"""The arena leaderboard: Bradley–Terry strengths of model versions from blind pairwise votes on `arena` pairs.

A vote on an arena pair (both sides answers of different models to the same prompt; `data.leaderboard_votes`) is a
win for the chosen model, half a win to each side for a tie or ``both_bad`` (a judge's inconsistent tie too,
counted and named under the table); on people's board a gold arena pair is one vote, its gold answer. Strengths θ
maximise Σ wins_ij · log σ(θ_i − θ_j) with the
reference model (the base) fixed at 0, by Newton's method (Chatbot Arena's fit). Intervals are 95 % percentile
bootstrap intervals that resample prompts (a prompt's votes travel together, as they are not independent), seeded,
never narrower than the model's own (`data.bradley_terry.strength_intervals`: votes all tied had none);
a model whose votes, or the reference's, lie on fewer than `MIN_PROMPTS` prompts gets none (None, in the JSON null,
``no_interval`` saying why): resampling so few prompts gives intervals far narrower than the uncertainty (two tied
prompts gave +0.00 to +0.00; the bootstrap's simulated coverage 44 % at 2 prompts, 89 % at 8), as Chatbot Arena shows no rating
under a minimum of battles. Only the strengths the votes determine are
given (`data.bradley_terry.standings`): a model ahead of the reference by every chain of votes is ``above`` (no
finite strength: +inf in the table), one behind ``below``, one no chain of votes relates to it ``unrated``; an
interval bound that more than 2.5 % of the resamples leave unbounded is None (the table's ±inf).
Each model also gets its win rate against the reference (ties half) on the pairs they met, with a Wilson interval
whose number of votes is discounted by how much the votes cluster on prompts (`data.intervals.clustered_wilson_interval`:
votes on one prompt are not independent either), given only where the two met on at least `MIN_PROMPTS` prompts
(``win_no_interval``). A vote on a pair whose answer the completions table lacks is left out, counted and named in
a warning (`data.leaderboard_votes.answered_votes`; the admin card shows it as a note); the answers an arena never
paired as one text are said under the table (`data.arena_runs.identical_answers`): every figure is over the answers
that differed. `data leaderboard --split` keeps one split's arena pairs (`split_pairs`), and every board counts its
votes by split (`votes_by_split`): held-out prompts or ones a trained model may have trained on.

Pure functions over the workspace's tables; `python -m data leaderboard` is the shell, `plot_leaderboard` the PNG.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from data.annotators import JUDGE_PREFIX, RM_PREFIX, is_machine_labeller, stored_machine_name
from data.arena_runs import check_arena_pairs, identical_answers, voted_arenas
from data.bradley_terry import BOOTSTRAP, MIN_PROMPTS, RATED, fit_strengths, standings, strength_intervals
from data.errors import PrefloopError
from data.gold import read_gold
from data.intervals import clustered_wilson_interval
from data.labeller_flags import side_preferences
from data.leaderboard_models import lineage_order, model_renames, one_label_per_model
from data.leaderboard_splits import (
    ALL_SPLITS,
    HELD_OUT,
    NO_ANSWER,
    TEST,
    check_split_votes,
    judge_commands,
    split_pairs,
    split_vote_counts,
    votes_by_split,
)
from data.leaderboard_votes import ARENA, PEOPLE, answered_votes, votes_table, win_matrices
from data.lineage import answer_versions
from data.selection import without_labellers

log = logging.getLogger(__name__)

# why a strength has no interval (Row.no_interval): its votes or the reference's are on < MIN_PROMPTS prompts,
# or the votes give it no finite strength (standing above, below or unrated)
FEW_PROMPTS = "few_prompts"
NO_STRENGTH = "no_strength"


@dataclass(frozen=True)
class Row:
    """One model on the leaderboard."""

    model: str  # manifest id, or the completions' model label when the manifest does not know it
    name: str  # readable: method, round, short id, folder
    round: int | None
    parent: str | None
    strength: float | None  # None unless ``standing`` is rated
    low: float | None  # the strength's 95 % bootstrap interval; None where it has none, or unbounded
    high: float | None
    votes: int
    win_rate: float | None  # against the reference (ties half), None for the reference itself
    win_low: float | None
    win_high: float | None
    games: int  # votes between this model and the reference
    standing: str = RATED  # rated, above, below, unrated (`data.bradley_terry`)
    prompts: int = 0  # prompts with votes on this model
    no_interval: str | None = None  # why it has no interval: FEW_PROMPTS, NO_STRENGTH; None where it has one
    win_prompts: int = 0  # prompts with votes between this model and the reference
    win_no_interval: str | None = None  # why the win rate has no interval: FEW_PROMPTS; None where it has one


def unvoted_models(
    pairs: pd.DataFrame, completions: pd.DataFrame, models: pd.DataFrame, rows: Sequence[Row]
) -> list[dict]:
    """The arena's models (a side of an arena pair) that the board has no row for, as no vote of its voters is on
    their pairs yet, in lineage order: {"model": id or folder, "name": as the table names it}. A model sampled into
    the arena and never voted on was left off the board without a word."""
    arena = pairs[pairs["kind"] == ARENA]
    model = completions.set_index("id")["model"]
    sides = set(model.reindex(pd.concat([arena["completion_a"], arena["completion_b"]])).dropna())
    rename = model_renames(sides, models)
    shown = {r.model for r in rows}
    ordered = lineage_order(models, sorted({rename.get(label, label) for label in sides}))
    return [{"model": m["id"], "name": m["name"]} for m in ordered if m["id"] not in shown]


@dataclass(frozen=True)
class Board:
    """A leaderboard as every caller shows it: its rows, whose votes, and (people's boards) `side_preferences`."""

    rows: list[Row]
    by: str
    sided: dict[str, dict]  # `side_preferences`; {} on a machine's board
    unvoted: list[dict] = field(default_factory=list)  # `unvoted_models`: the arena's models with no row
    inconsistent: int = 0  # of its votes, a judge's inconsistent ties (`votes_table`), counted as ties
    # `data.arena_runs.identical_answers`: per arena, the answers not paired as they were one text
    identical: list[dict] = field(default_factory=list)
    # `data.leaderboard_votes.answered_votes`' line: every split's votes left out as a side of their pair is no
    # stored answer (those of ``votes_left_out``' `NO_ANSWER`), naming the pairs
    unanswered: str = ""
    split: str = ALL_SPLITS  # the split of the prompts whose arena pairs' votes it counts (`split_pairs`)
    left_out: dict[str, int] = field(
        default_factory=dict
    )  # arena pairs of no split, by reason (`split_pairs`)
    # `split_vote_counts`: the votes by their prompt's split, every split's; the board counts those of ``split``
    votes_by_split: dict[str, int] = field(default_factory=dict)
    # `split_vote_counts`: the votes on no board of any split, by reason (`VOTES_LEFT_OUT`)
    votes_left_out: dict[str, int] = field(default_factory=dict)

    @property
    def votes_left_out_in_line(self) -> dict[str, int]:
        """``votes_left_out`` as the votes-by-split line says them: those for a missing answer are ``unanswered``'s
        (its warning names their pairs), said there alone; the line said them too, "(answer_missing)"."""
        return {why: n for why, n in self.votes_left_out.items() if why != NO_ANSWER}


def check_by(by: str) -> None:
    """``--by``: people or a machine labeller with a name (``judge:`` alone was read as the current folder)."""
    if by != PEOPLE and not (is_machine_labeller(by) and by.partition(":")[2].strip()):
        raise PrefloopError(
            f"--by {by}: one of {PEOPLE}, {JUDGE_PREFIX}NAME or {RM_PREFIX}ID (a machine labeller)"
        )


def workspace_board(
    workspace,
    by: str = PEOPLE,
    samples: int = BOOTSTRAP,
    seed: int = 0,
    excluded: Sequence[str] = (),
    split: str = ALL_SPLITS,
) -> Board:
    """`leaderboard` over a workspace's tables, each read once, children first (arenas, labels, pairs, completions,
    models, prompts) so every vote's pair, completions and models are in the snapshot (an answer a folder wrote
    before its newest training is its earlier version's, `data.lineage.answer_versions`); the labels of the
    ``excluded`` labellers left out (`data.exclusion.check_exclusion`: the flag's and WS/excluded.json's); only the
    arena pairs, and arena records, of ``split`` (`split_pairs`; `HELD_OUT`: test where ``by`` has votes the board
    counts on test arena pairs, else all). A people's board carries the `side_preferences` of the same labels and
    pairs, and every board its votes by split and those on no board (`split_vote_counts`). ``by``: as
    `stored_machine_name` finds it."""
    check_by(by)
    names = ("arenas", "labels", "pairs", "completions", "models", "prompts")
    tables = {name: workspace.frame(name) for name in names}
    every = tables["pairs"]
    # answers a folder wrote before it was trained again are its earlier training's (`answer_versions`)
    tables["completions"]["model"] = answer_versions(tables["completions"], tables["models"])
    by = stored_machine_name(by, tables["labels"]["annotator"].dropna().astype(str).unique())
    labels = without_labellers(tables["labels"], list(excluded))
    gold = read_gold(workspace).to_pandas()
    # every split's votes, built once: each board keeps its split's, the line counts them all
    votes = votes_table(every, tables["completions"], labels, by, gold)
    by_split, votes_left_out, unanswered = split_vote_counts(
        votes, every, tables["completions"], tables["models"], tables["prompts"]
    )
    if split == HELD_OUT:
        split = TEST if by_split.get(TEST) else ALL_SPLITS
    tables["pairs"], tables["arenas"], left_out = split_pairs(
        tables["pairs"], tables["prompts"], tables["arenas"], split
    )
    check_arena_pairs(tables["pairs"], tables["arenas"])
    arena = set(tables["pairs"].loc[tables["pairs"]["kind"] == ARENA, "id"])
    mine = votes[votes["pair_id"].isin(arena)]
    if split != ALL_SPLITS and not len(mine):
        check_split_votes(by_split, votes_left_out, tables, by, gold, split, excluded)
    rows, counted = _checked_board(
        tables["pairs"], tables["completions"], labels, tables["models"], by, samples, seed, gold,
        excluded, tables["labels"], mine, "arena pairs" + (f" of split {split}" if split != ALL_SPLITS else ""),
        warn=False, prompts=tables["prompts"],
    )  # fmt: skip
    if unanswered:  # every split's, where the board's own warning counted its split's alone
        log.warning(unanswered)
    sided = side_preferences(arena, labels) if by == PEOPLE else {}
    unvoted = unvoted_models(tables["pairs"], tables["completions"], tables["models"], rows)
    voted = voted_arenas(counted, tables["pairs"], tables["prompts"], tables["models"])
    identical = identical_answers(tables["arenas"], tables["models"], voted)
    inconsistent = int(counted["inconsistent"].sum())
    # 0 for a split whose arena pairs have none: they wait for votes, where a split without arena pairs waits for
    # an arena (`data.leaderboard_notes.split_votes_line` says which)
    paired = dict.fromkeys(votes_by_split(every[every["kind"] == ARENA], tables["prompts"]), 0)
    by_split = dict(sorted({**paired, **by_split}.items()))
    return Board(
        rows, by, sided, unvoted, inconsistent, identical, unanswered, split, left_out, by_split, votes_left_out
    )  # fmt: skip


def _check_votes_left(
    pairs: pd.DataFrame,
    completions: pd.DataFrame,
    everyone: pd.DataFrame | None,
    by: str,
    gold: pd.DataFrame | None,
    excluded: Sequence[str],
) -> None:
    """A board with no vote left whose every vote is an ``excluded`` labeller's says so (``everyone``: the labels
    before they were left out): it said "no votes by people on arena pairs yet (label them ...)" of votes that were
    there, all left out."""
    if excluded and everyone is not None and len(votes_table(pairs, completions, everyone, by, gold)):
        raise PrefloopError(
            f"every vote by {by} on arena pairs is an excluded labeller's (excluded: {', '.join(excluded)}): no "
            "board without them"
        )


def leaderboard(
    pairs: pd.DataFrame,
    completions: pd.DataFrame,
    labels: pd.DataFrame,
    models: pd.DataFrame,
    by: str = PEOPLE,
    samples: int = BOOTSTRAP,
    seed: int = 0,
    gold: pd.DataFrame | None = None,
    excluded: Sequence[str] = (),
    everyone: pd.DataFrame | None = None,
    arenas: pd.DataFrame | None = None,
) -> list[Row]:
    """The leaderboard of the arena pairs' models from the votes of ``by`` (see `votes_table`, which takes
    ``gold``); the reference (strength 0) is the first model in lineage order (the base). ``labels`` are without
    the ``excluded`` labellers', ``everyone`` with them: a board they leave with no vote says so; ``arenas``: the
    arena records, which say why there is no arena pair (`no_arena_why`)."""
    check_by(by)
    check_arena_pairs(pairs, arenas)
    return _checked_board(pairs, completions, labels, models, by, samples, seed, gold, excluded, everyone)[0]


def _checked_board(
    pairs,
    completions,
    labels,
    models,
    by,
    samples,
    seed,
    gold,
    excluded,
    everyone,
    votes=None,
    on="arena pairs",
    warn=True,
    prompts=None,
) -> tuple[list[Row], pd.DataFrame]:
    """`leaderboard` with ``by`` and the arena pairs checked (`workspace_board` checks ``by`` before it reads a
    table) and the votes it counted (`votes_table`; ``votes``: that table, built already); the line on those it
    left out for a missing answer (`answered_votes`) is a warning (``warn``; `workspace_board` warns of every
    split's). ``on``: the pairs, as a board without votes left says them (a board of one split: that split's, where
    "every vote on arena pairs" was true of it alone); ``prompts``: the prompts table, whose splits the command a
    machine's board without votes names says (`judge_commands`)."""
    votes = votes_table(pairs, completions, labels, by, gold) if votes is None else votes
    if not len(votes):
        _check_votes_left(pairs, completions, everyone, by, gold, excluded)
        arena = labels[labels["item_id"].isin(set(pairs.loc[pairs["kind"] == ARENA, "id"]))]["annotator"]
        machines = sorted({str(a) for a in arena if is_machine_labeller(str(a))})
        how = (
            "label them: `python -m annotate --task arena`"
            if by == PEOPLE
            else f"judge them: {judge_commands(pairs, prompts)}"
        )
        voted = f"; machine votes there are by {', '.join(machines)}" if machines else ""
        raise PrefloopError(f"no votes by {by} on arena pairs yet ({how}{voted})")
    votes, unanswered = answered_votes(votes, pairs, completions)
    if not len(votes):
        raise PrefloopError(
            f"every vote by {by} on {on} is on a pair whose answer is not in the completions table: no "
            f"board ({unanswered})"
        )
    if unanswered and warn:
        log.warning(unanswered)
    votes = one_label_per_model(votes, models)
    if not len(votes):
        raise PrefloopError(f"the votes by {by} on {on} all compare a model with itself: no board")
    labels_seen = sorted(set(votes["model_a"]) | set(votes["model_b"]))
    ordered = lineage_order(models, labels_seen)
    _, wins = win_matrices(votes, [m["label"] for m in ordered])
    # below MIN_PROMPTS prompts no row shows an interval: the resamples are not drawn at all
    intervals = strength_intervals(wins, samples=samples, seed=seed) if len(wins) >= MIN_PROMPTS else None
    return board_rows(ordered, wins, intervals), votes


def board_rows(
    ordered: list[dict], wins: np.ndarray, intervals: tuple[np.ndarray, np.ndarray] | None
) -> list[Row]:
    """The rows of the models ``ordered`` (`lineage_order`, the reference first) from ``wins`` (`win_matrices`)
    and the ``intervals`` (`strength_intervals`, None when none is shown)."""
    total = wins.sum(axis=0)
    theta, standing = fit_strengths(total), standings(total)
    prompts = (
        ((wins + wins.transpose(0, 2, 1)) > 0).any(axis=2).sum(axis=0)
    )  # per model: prompts with its votes
    rows = []
    for k, m in enumerate(ordered):
        games = int(round(total[k, 0] + total[0, k]))
        rate = (total[k, 0] / games) if k and games else None
        wl, wh, win_prompts, win_why = win_interval(wins, k)
        votes_k = int(round(total[k].sum() + total[:, k].sum()))
        rated = standing[k] == RATED
        enough = intervals is not None and min(prompts[k], prompts[0]) >= MIN_PROMPTS
        why = None if rated and enough else NO_STRENGTH if not rated else FEW_PROMPTS
        low, high = (None, None) if why else (intervals[0][k], intervals[1][k])
        rows.append(
            Row(
                m["id"],
                m["name"],
                m["round"],
                m["parent"],
                float(theta[k]) if rated else None,
                _bound(low),
                _bound(high),
                votes_k,
                rate,
                wl,
                wh,
                games,
                str(standing[k]),
                int(prompts[k]),
                why,
                win_prompts,
                win_why,
            )  # fmt: skip
        )
    return rows


def win_interval(wins: np.ndarray, k: int) -> tuple[float | None, float | None, int, str | None]:
    """Model ``k``'s win rate against the reference (model 0): its 95 % interval over the prompts they met on
    (`clustered_wilson_interval`; None, None under `MIN_PROMPTS` of them, as the strengths), those prompts, and why
    there is no interval (FEW_PROMPTS; None where there is one, or for the reference and a model it never met)."""
    won, met = wins[:, k, 0], wins[:, k, 0] + wins[:, 0, k]
    count = int(np.count_nonzero(met)) if k else 0
    if not count:
        return None, None, count, None
    if count < MIN_PROMPTS:  # the interval's spread is measured between prompts: too few to measure it
        return None, None, count, FEW_PROMPTS
    low, high = clustered_wilson_interval(won, met)
    return low, high, count, None


def _bound(value: float | None) -> float | None:
    """An interval bound as the rows hold it: None where the resamples leave it unbounded (never ±inf or NaN)."""
    return None if value is None or not np.isfinite(value) else float(value)
