"""What a round driver says when a round it would sample holds a rank item it must not change
(`generate.rank_items.check_sampled_rank_items`): the drivers pick their rounds themselves (iteration t samples the
start model's round + t; `--round` does not apply), so the way out is a start model of a later round, or a
workspace of the loop's own. The driver checks every round before any model loads, and each sampling step checks
its round again before its engine loads (in a process of its own: someone may rank in between); both say the same
(`LoopRound.check`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from data.lineage import REWARD_MODEL, is_reward_model_name, reward_model_entry
from data.workspace import Workspace
from generate.rank_items import check_sampled_rank_items


@dataclass(frozen=True)
class LoopRound:
    """Iteration ``iteration`` of ``driver`` (``--spin-iter`` or ``--judge-iter``, ``iterations`` of them) samples
    ``round``; ``judge``: the driver's --judge. Plain values: it travels to the sampling step's process."""

    driver: str
    iterations: int
    iteration: int
    round: int
    judge: str | None = None

    def refusal(self, workspace: Workspace) -> dict:
        """``where`` and ``instead`` for `check_sampled_rank_items` (and the sampling functions that call it)."""
        return {
            "where": f"{self.driver} {self.iterations}: iteration {self.iteration} samples round {self.round}",
            "instead": loop_advice(workspace, self.driver, self.judge),
        }

    def check(self, workspace: Workspace, pending: dict[str, list[str]], per_prompt: int) -> None:
        """``per_prompt`` new answers to each prompt of ``pending`` (every split: one round) change no rank item
        under the labels stored on it (`check_sampled_rank_items`); refused in `refusal`'s words. Reads only."""
        self.check_answers(workspace, dict.fromkeys((p for ids in pending.values() for p in ids), per_prompt))

    def check_answers(self, workspace: Workspace, answers: Mapping[str, int]) -> None:
        """`check` of ``answers[prompt]`` new answers to each prompt."""
        check_sampled_rank_items(workspace, answers, self.round, **self.refusal(workspace))


def loop_advice(workspace: Workspace, driver: str, judge: str | None = None) -> Callable[[int], str]:
    """``instead(free)`` for `check_sampled_rank_items`: a start model whose round is ``free`` - 1 or later makes
    every round the loop samples a new one (no answers, so no rank item). Without one, a workspace of the loop's
    own, where a reward-model ``judge`` is named by its folder (the new workspace's manifest holds none)."""

    def instead(free: int) -> str:
        need = free - 1
        policies = workspace.frame("models")
        policies = policies[policies["method"] != REWARD_MODEL].sort_values(
            ["created_at", "id"], kind="stable"
        )
        models = policies[policies["round"] >= need]
        head = f"{driver} samples iteration t into its start model's round + t"
        if not len(models):
            own = "run it in a workspace of its own (-w NEW_WS --prompts FILE)"
            if judge and is_reward_model_name(judge):
                folder = reward_model_entry(judge, workspace).path
                own += f", naming the reward model by its folder there (--judge rm:{folder})"
            return f"{head}, and no model in the manifest is of round {need} or later: {own}"
        newest = models.iloc[-1]
        name = "newest" if newest["id"] == policies.iloc[-1]["id"] else newest["path"]
        return f"{head}: start it from a model of round {need} or later (--model {name}, round {newest['round']})"

    return instead
