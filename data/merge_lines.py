"""What `data merge` says of each workspace it merged in: the rows added, those stored apart or held out here, its
gold answers and splits kept behind, what it lost, and what it left out, as lines in the order the CLI prints them.
A warning's line goes to stderr (``True`` beside it), the rest to stdout."""

from __future__ import annotations

from data.errors import counted
from data.merge_splits import STORED_TEST
from data.merging import MergePlan

KEPT = {"stored_gold_kept": "gold answer (or none)", "stored_split_kept": "split"}  # `MergePlan.kept`, said


def plan_lines(plan: MergePlan, shown: int) -> list[tuple[str, bool]]:
    """Each line said of ``plan``'s workspace, with whether it is a warning; the first ``shown`` conflicts (and
    import log lines) named one by one."""
    lines: list[tuple[str, bool]] = []
    added = ", ".join(f"{k} +{v}" for k, v in plan.counts().items())
    lines.append((f"{plan.other.path}: {added or 'nothing new'}", False))
    if plan.near_copies:
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(plan.near_copies.items()))
        lines.append(
            (
                f"  stored apart: {counts} (spelled otherwise than one here only by Unicode normalisation, line "
                "ends or trailing whitespace: a merge keeps each workspace's texts and ids)",
                False,
            )
        )
    if plan.kept:  # its gold answers and splits of prompts held here stay behind: said, as an import says it
        kept = [f"{n} keep their {KEPT[name]}" for name, n in sorted(plan.kept.items())]
        lines.append(
            (
                f"warning: {plan.other.path}: of its prompts held here, {' and '.join(kept)}, not its: a prompt's "
                "id is its messages, and a held prompt is never rewritten",
                True,
            )
        )
    if plan.stored_test:  # its train labels on prompts held here in test: merged, and held out here
        lines.append(
            (
                f"  held out: {counted(plan.stored_test, 'label')} on prompts it holds in train and this workspace "
                f"in test ({STORED_TEST}): merged, they are held out here",
                False,
            )
        )
    lost = (plan.stored_train_line(), plan.passed_over_line(shown), plan.rejects_gone_line(shown))
    lines += [(f"warning: {line}", True) for line in lost if line]  # what it lost, said
    if plan.conflicts:
        counts = ", ".join(f"{n} {reason}" for reason, n in sorted(plan.left_out().items()))
        lines.append((f"  left out (it stays in {plan.other.path}): {counts}", False))
        lines += [(f"    {conflict.line()}", False) for conflict in plan.conflicts[:shown]]
        if len(plan.conflicts) > shown:
            lines.append((f"    ... {len(plan.conflicts) - shown} more", False))
    return lines
