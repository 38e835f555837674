"""The arena after a round driver (`--arena` with `--spin-iter N` or `--judge-iter N`): once the last iteration is
done, the arena's models answer the loop's held-out prompts (the first `--spin-test-limit` of split test) at the
newest one's round, `--judge` votes, and the leaderboard is printed (`arena_leaderboard`).

The loop picks that round (`--round` does not apply to it), so `check_loop_arena` checks it with the loop's own
rounds before any model loads, for the models the names will be once the loop has trained (``newest`` its last
iterate, ``base`` the root of its lineage), and the arena checks it again as it samples. Both refuse in words a loop
user can follow (`arena_refusal`): the arena by itself once the loop is done, in a round of its own.
"""

from __future__ import annotations

import shlex
from collections import Counter
from dataclasses import fields
from typing import TYPE_CHECKING

from data.errors import PrefloopError
from data.exclusion import check_exclusion
from data.leaderboard import PEOPLE, TEST, workspace_board
from data.leaderboard_view import board_text, plot_leaderboard
from data.lineage import NEWEST, ModelEntry, get_model
from data.workspace import Workspace
from generate.arena import arena_answers, arena_round, check_arena_prompts, run_arena
from generate.arena_models import BASE, lineage_root, resolve_arena
from generate.bestofn import judge_name
from generate.job_plan import prompt_ids
from generate.loop.options import LoopOptions, driver_of
from generate.options import GenerateOptions, SampleOptions, arena_names
from generate.rank_items import check_sampled_rank_items

if TYPE_CHECKING:
    from generate.loop.driver import Iterate


def arena_options(options: SampleOptions) -> GenerateOptions:
    """The arena's options: the loop's sampling options (every option of a sampling job the loop reads)."""
    return GenerateOptions(**{f.name: getattr(options, f.name) for f in fields(SampleOptions)})


def arena_refusal(options: LoopOptions, workspace: Workspace, after: int = -1) -> dict:
    """``where`` and ``instead`` for `check_sampled_rank_items`: the loop picks the arena's round, so the way out is
    the arena by itself (`generate --arena`, which takes `--round`) once the loop is done, in a round no answer is
    in then (past ``after``: the last round the loop will sample)."""
    names = arena_names(options.arena)
    iterations = options.spin_iter or options.judge_iter

    def instead(free: int) -> str:
        command = arena_command(options, workspace, max(free, after + 1))
        return (
            "the arena samples at its newest model's round, which the loop picks (--round does not apply): "
            "leave --arena out, and once the loop is done run the arena by itself in a round of its own, with "
            f"the loop's sampling options: {command}"
        )

    return {"where": f"--arena {names} after {driver_of(options)} {iterations}", "instead": instead}


# SampleOptions fields the command names itself, or that do not bear on an arena's answers or votes
_NOT_PASSED = {"workspace", "model", "prompts", "test_fraction", "limit", "n", "arena", "judge", "verbose"}


def sampling_flags(options: SampleOptions) -> list[str]:
    """The loop's sampling options that differ from `generate`'s defaults, as `generate` flags (the arena by
    itself then samples and judges as the loop's arena would: same temperature, max tokens, seed, engine, ...)."""
    flags: list[str] = []
    for field in fields(SampleOptions):
        value = getattr(options, field.name)
        if field.name in _NOT_PASSED or value == field.default:
            continue
        flag = "--" + field.name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + flag[2:])
        elif value is not None:
            flags += [flag, str(value)]
    return flags


def arena_command(options: LoopOptions, workspace: Workspace, round: int) -> str:
    """The arena by itself with the loop's sampling options, in ``round``, as a shell command: every value quoted
    as the shell needs, each --arena name a value of its own (`arena_names`)."""
    head = shlex.join(["python", "-m", "generate", "-w", str(workspace.path), "--model", options.model])
    tail = ["--split", "test", "--limit", str(options.spin_test_limit)]
    tail += ["--judge", options.judge] if options.judge else []
    tail += sampling_flags(options)
    return f"{head} --arena {arena_names(options.arena)} {shlex.join([*tail, '--round', str(round)])}"


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
    options: LoopOptions,
    workspace: Workspace,
    method: str,
    start: Iterate,
    last: Iterate | None,
    planned: dict[int, tuple[str, dict[str, int]]],
) -> None:
    """The arena after the loop has prompts to answer, and its answers, with those the loop samples into the same
    round (``planned``: by round, the sampling iterate's label and its answers by prompt; that iterate's answers
    count as the arena's where the arena names it), change no rank item under the labels stored on it. Reads
    only: run with the loop's own check, before any model loads."""
    arena = arena_options(options)
    models = planned_models(options, workspace, method, start, last)
    ids = prompt_ids(workspace, "test", options.spin_test_limit)
    check_arena_prompts(workspace, "test", ids)
    round = arena_round(arena, models)
    label, sampled = planned.get(round, ("", {}))
    answers = Counter(sampled) + arena_answers(arena, workspace, models, round, ids, {label: sampled})
    refusal = arena_refusal(options, workspace, after=max(planned, default=-1))
    check_sampled_rank_items(workspace, answers, round, **refusal)


def arena_leaderboard(
    options: LoopOptions, workspace: Workspace, judge_folder: str | None = None
) -> list[str]:
    """After a loop: the arena on the loop's held-out prompts (the first --spin-test-limit of split test), judged
    by --judge when given (``judge_folder``: a chat model's checked folder), and the leaderboard of those votes
    (people's without a judge) on split test as lines, as `data leaderboard --split test` prints it: the board
    counted every split's votes, an earlier arena's on the train prompts the loop trained on among them."""
    result = run_arena(
        arena_options(options),
        workspace,
        split="test",
        limit=options.spin_test_limit,
        refusal=arena_refusal(options, workspace),  # someone may have ranked since the loop's check
        judge_folder=judge_folder,
    )
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
