"""The arena after a round driver (`--arena` with `--spin-iter N` or `--judge-iter N`): once the last iteration is
done, the arena's models answer the loop's held-out prompts (the first `--spin-test-limit` of split test) at the
newest one's round, `--judge` votes, and the leaderboard is printed (`arena_leaderboard`).

`check_loop_arena` checks it with the loop's own rounds before any model loads, for the models the names will be
once the loop has trained (``newest`` its last iterate, ``base`` the root of its lineage). The round it samples needs
no rank check: its answers are stored with a record of the arena, so they join no rank item (`generate.arena`).
"""

from __future__ import annotations

import shlex
from dataclasses import fields
from typing import TYPE_CHECKING

from data.errors import PrefloopError
from data.exclusion import check_exclusion
from data.leaderboard import PEOPLE, TEST, workspace_board
from data.leaderboard_view import board_text, plot_leaderboard
from data.lineage import NEWEST, ModelEntry, get_model
from data.workspace import Workspace
from generate.arena import check_arena_prompts, run_arena
from generate.arena_models import BASE, lineage_root, resolve_arena
from generate.bestofn import judge_name
from generate.job_plan import prompt_ids
from generate.loop.options import LoopOptions
from generate.options import GenerateOptions, SampleOptions

if TYPE_CHECKING:
    from generate.loop.driver import Iterate


def arena_options(options: SampleOptions) -> GenerateOptions:
    """The arena's options: the loop's sampling options (every option of a sampling job the loop reads)."""
    return GenerateOptions(**{f.name: getattr(options, f.name) for f in fields(SampleOptions)})


def planned_models(
    options: LoopOptions, workspace: Workspace, method: str, start: Iterate, last: Iterate | None
) -> list[ModelEntry]:
    """The models ``--arena`` will name once the loop has trained ``last`` (None: nothing left to train, so the
    manifest's now): ``newest`` that last iterate, ``base`` the root of its lineage (the start model's, or the
    start model itself where it is new: the loop registers it as `base`)."""
    if last is None:
        return resolve_arena(workspace, options.arena, options.model)
    if start.id:
        root = lineage_root(workspace, get_model(workspace, start.id))
    else:
        root = ModelEntry(start.path, start.path, 0, "base", None)
    newest = ModelEntry(last.path, last.path, last.round, method, None)
    return resolve_arena(workspace, options.arena, options.model, {NEWEST: newest, BASE: root})


def check_loop_arena(
    options: LoopOptions, workspace: Workspace, method: str, start: Iterate, last: Iterate | None
) -> list[str]:
    """The arena after the loop names two models or more, as they will be once the loop has trained
    (`planned_models`), and has prompts to answer: returns them, the loop's held-out prompts (the first
    --spin-test-limit of split test, gold answer or not; all of it at 0), the set the run counts among those it
    samples and the arena answers (`arena_leaderboard`). Reads only: run with the loop's own check, before any
    model loads."""
    planned_models(options, workspace, method, start, last)
    prompts = prompt_ids(workspace, TEST, options.spin_test_limit)
    check_arena_prompts(workspace, TEST, prompts)
    return prompts


def arena_leaderboard(
    options: LoopOptions, workspace: Workspace, prompts: list[str], judge_folder: str | None = None
) -> list[str]:
    """After a loop: the arena on the loop's held-out ``prompts`` (`check_loop_arena`'s, checked), judged
    by --judge when given (``judge_folder``: a chat model's checked folder), and the leaderboard of those votes
    (people's without a judge) on split test as lines, as `data leaderboard --split test` prints it: the board
    counted every split's votes, an earlier arena's on the train prompts the loop trained on among them."""
    result = run_arena(arena_options(options), workspace, TEST, prompts, judge_folder=judge_folder)
    by = judge_name(options, workspace) if options.judge else PEOPLE
    same = shlex.join(["python", "-m", "data", "leaderboard", "-w", str(workspace.path), "--split", TEST])
    same += "" if by == PEOPLE else " --by " + shlex.quote(by)
    votes = f"the votes by {by} on split {TEST}'s arena pairs, as `{same}`"
    header = (
        f"arena: {result['arena_pairs']} pairs of {result['arena_models']} at round {result['arena_round']}, on "
        f"split {TEST}: the loop's held-out prompts (it trains on split train); "
    )
    try:
        exclusion = check_exclusion(workspace)  # WS/excluded.json, as `python -m data leaderboard` reads it
        board = workspace_board(workspace, by, excluded=exclusion.names, split=TEST)
    except PrefloopError as exc:  # no votes yet (the pairs wait for labellers): no board follows, but why
        return [f"{header}no board of {votes} says:", str(exc)]
    png = plot_leaderboard(board.rows, by, workspace.path / "leaderboard.png", exclusion.names, board.split)
    lines = board_text(board, exclusion.line(), png)  # as `python -m data leaderboard` prints it
    return [f"{header}the board below counts {votes} prints it", *lines]
