"""The rank-item check every sampling job runs before it writes (`check_sampled_rank_items`): the answers it adds
to a round must change no rank item under the labels stored on it (`data.rank_guard`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pyarrow.compute as pc

from data.errors import PrefloopError, counted
from data.gold import gold_rank_sources
from data.rank_guard import kept_items
from data.workspace import Workspace


def check_sampled_rank_items(
    workspace: Workspace,
    answers: Mapping[str, int],
    round: int,
    where: str | None = None,
    instead: Callable[[int], str] | None = None,
) -> None:
    """Sampling ``answers[prompt]`` answers for each prompt into ``round`` changes no rank item under the labels
    stored on it (`data.rank_guard`: none joins a gold rank item or one an import ranked, none takes a ranked one
    past 6 answers); a PrefloopError names the first such item and the round to sample into instead (``where`` and
    ``instead(free round)``: what the round drivers, which pick their rounds themselves, say for ``--round N`` and
    ``(--round FREE)``). Writes nothing."""
    added = {(prompt, round): n for prompt, n in answers.items()}
    if not added:
        return
    changed = kept_items(workspace, added, gold_rank_sources(workspace))
    if not changed:
        return
    item, more = changed[0], len(changed) - 1
    rounds = workspace.read("completions", ["round"]).column("round")
    free = max(pc.max(rounds).as_py() or 0, round) + 1
    advice = instead(free) if instead else f"sample into a round of their own (--round {free})"
    raise PrefloopError(
        f"{where or f'--round {round}'}: {counted(item.added, 'new answer')} to its prompt would {item.problem()}"
        f"{'; ' + counted(more, 'more rank item') + ' likewise' if more else ''}; {advice}{item.remove_advice()}"
    )
