"""What a round driver says when a round it would sample holds a rank item it must not change
(`generate.sampling.check_sampled_rank_items`): the drivers pick their rounds themselves (iteration t samples the
start model's round + t; `--round` does not apply), so the way out is a start model of a later round, or a
workspace of the loop's own."""

from __future__ import annotations

from collections.abc import Callable

from data.lineage import REWARD_MODEL
from data.workspace import Workspace


def loop_advice(workspace: Workspace, driver: str) -> Callable[[int], str]:
    """``instead(free)`` for `check_sampled_rank_items`: a start model whose round is ``free`` - 1 or later makes
    every round the loop samples a new one (no answers, so no rank item)."""

    def instead(free: int) -> str:
        need = free - 1
        policies = workspace.frame("models")
        policies = policies[policies["method"] != REWARD_MODEL].sort_values(
            ["created_at", "id"], kind="stable"
        )
        models = policies[policies["round"] >= need]
        head = f"{driver} samples iteration t into its start model's round + t"
        if not len(models):
            return (
                f"{head}, and no model in the manifest is of round {need} or later: run it in a workspace of its "
                "own (-w NEW_WS --prompts FILE)"
            )
        newest = models.iloc[-1]
        name = "newest" if newest["id"] == policies.iloc[-1]["id"] else newest["path"]
        return f"{head}: start it from a model of round {need} or later (--model {name}, round {newest['round']})"

    return instead
