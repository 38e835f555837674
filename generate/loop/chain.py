"""What a finished chain of iterates shows (the SPIN driver's last step): each iterate's samples.md (gold, the
previous iterate's answer and its own, for a few held-out prompts) and the held-out gold log-likelihood followed
through the chain, with intervals."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from data.files import atomic_write, strict_json
from data.workspace import Workspace
from generate.job_plan import model_sampled
from generate.loop.folders import chain_folders

if TYPE_CHECKING:
    from generate.loop.driver import Iterate


def _answers(workspace: Workspace, label: str, round: int) -> dict[str, str]:
    mine = model_sampled(workspace, label, round)
    return dict(zip(mine["prompt_id"], mine["text"]))


def write_samples(
    workspace: Workspace, iterate: Iterate, previous: Iterate, prompt_ids: list[str]
) -> Path | None:
    """ITERATE/samples.md: for a few held-out prompts, the gold answer, the previous iterate's answer (sampled in
    the iterate's round) and the iterate's own (sampled in the next round), once both exist."""
    before = _answers(workspace, previous.label, iterate.round)
    after = _answers(workspace, iterate.label, iterate.round + 1)
    shown = [p for p in prompt_ids if p in before and p in after]
    if not shown:
        return None
    prompts = workspace.frame("prompts").set_index("id")
    parts = [
        f"# {Path(iterate.path).name}: held-out answers before and after round {iterate.round}\n",
        f"Previous iterate: `{previous.label}`; this iterate: `{iterate.label}`.\n",
    ]
    for number, prompt_id in enumerate(shown, start=1):
        prompt = prompts.loc[prompt_id]
        question = prompt["messages"][-1]["content"]
        parts.append(f"## {number}. prompt `{prompt_id}`\n\n" + _block(question))
        for title, text in (
            ("gold", prompt["gold"]),
            (f"previous iterate (round {iterate.round} sample)", before[prompt_id]),
            (f"this iterate (round {iterate.round + 1} sample)", after[prompt_id]),
        ):
            parts.append(f"**{title}**\n\n" + _block(text))
    path = Path(iterate.path) / "samples.md"
    # through descriptors of WS/runs and each folder below it: a link swapped in for any since the folder was
    # claimed is refused (one line naming it), never a samples.md written or replaced wherever it points
    with chain_folders(workspace.runs, path.parent) as opened:
        atomic_write(path, lambda f: f.write("\n".join(parts).encode()), dir_fd=opened[-1])
    return path


def _block(text: str) -> str:
    fence = "~~~~" if "```" in text else "```"
    return f"{fence}text\n{text.strip()}\n{fence}\n"


def gold_chain(workspace: Workspace, iterations: list[dict]) -> dict | None:
    """The held-out log-likelihood of the gold answers, prompt by prompt, from each iteration's held_out.json: each
    iteration's change (iterate t against iterate t − 1 on the very same inputs: the prompts of round t's held-out
    pairs, fitted to the length once) and base → last as the per-prompt sum of those changes, each with 95 %
    intervals (`train.evaluate.paired_change`). None when an iteration has no per-row held-out numbers. A prompt
    whose log-likelihood is null (a diverged iterate's) cannot be compared: it is left out of that step and of base →
    last, and counted in ``not_comparable``.

    Iterations are not compared through their "after" numbers: a held-out pair's prompt may be cut to fit the length
    differently in each round (the generated side changes), so only the before/after of one run share their inputs."""
    from train.evaluate import paired_change, read_held_out

    prompt_of = workspace.frame("pairs").set_index("id")["prompt_id"]
    steps, base, reached, lost = [], {}, {}, set()
    for number, it in enumerate(iterations, start=1):
        held = read_held_out(it["path"])
        if not held or "chosen" not in held["after"]:
            return None
        prompts = list(prompt_of.reindex(held["ids"]))
        before = dict(zip(prompts, held["before"]["chosen"]))
        after = dict(zip(prompts, held["after"]["chosen"]))
        common = [p for p in before if p in after]
        null = {p for p in common if before[p] is None or after[p] is None}
        common = [p for p in common if p not in null]
        change = paired_change([before[p] for p in common], [after[p] for p in common])
        steps.append({"iteration": number, **change, "not_comparable": len(null)})
        if number == 1:
            base, reached = dict(before), dict(before)
        lost |= null & set(reached)
        reached = {p: value + after[p] - before[p] for p, value in reached.items() if p in common}
    common = list(reached)
    overall = paired_change([base[p] for p in common], [reached[p] for p in common])
    return {
        "metric": "held-out log p(gold answer), summed over its tokens",
        "steps": steps,
        "overall": {**overall, "not_comparable": len(lost)},
    }


def write_gold_chain(path: Path, chain: dict) -> None:
    """WS/runs/<name>-chain.json: `gold_chain`'s figures as strict JSON (a figure that is no finite number: null)."""
    text = strict_json(chain, indent=2) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))
