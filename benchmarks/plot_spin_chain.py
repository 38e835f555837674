"""The SPIN proof's image: held-out gold log-likelihood of every iterate, from WS/runs/<name>-chain.json.

    python benchmarks/plot_spin_chain.py workspaces/spin/runs/spin-chain.json docs/spin-proof-chain.png

Left: the mean log p(gold) over the held-out prompts under base, then base plus the changes of iterations 1..t
(each measured on the same inputs for iterate t − 1 and t). Right: each iteration's mean change with its 95 %
interval (`train.evaluate.paired_change`; none over one prompt), and the share of prompts that rose with its 95 %
Wilson interval. A held-out prompt whose log p(gold) is null (a diverged iterate's) is left out of the chain and counted
in the left panel's title.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    chain = json.loads(Path(argv[0]).read_text())
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = chain["steps"]
    # no change to draw (the chain's report says so too); a null change (NaN in older files) is none either
    if not all(step["rows"] and math.isfinite(step["mean_change"] or math.nan) for step in steps):
        print(
            f"error: {argv[0]}: an iteration has no held-out prompt in common: nothing to plot",
            file=sys.stderr,
        )
        return 1
    # Base, then base plus each iteration's change (each measured on equal inputs).
    means = [steps[0]["mean_before"]]
    for step in steps:
        means.append(means[-1] + step["mean_change"])
    labels = ["base"] + [f"iter {step['iteration']}" for step in steps]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(12, 3.4))
    left.plot(labels, means, marker="o")
    # prompts whose log-likelihood is null (a diverged iterate's) were left out of the chain: counted here
    left_out = chain["overall"].get("not_comparable", 0)
    left.set_title(
        f"held-out mean log p(gold), {steps[0]['rows']} prompts"
        + (f"\n({left_out} not comparable: null log p)" if left_out else "")
    )
    left.set_ylabel("base + summed changes")
    for ax, key, title, zero in (
        (middle, "mean_change", "change of log p(gold) per iteration", 0.0),
        (right, "rose_share", "share of prompts whose gold rose", 0.5),
    ):
        ax.plot(labels[1:], [step[key] for step in steps], "o")
        # a change over one prompt has no interval (null): its point alone
        shown = [(label, step) for label, step in zip(labels[1:], steps) if step[f"{key}_ci95"]]
        low = [step[key] - step[f"{key}_ci95"][0] for _, step in shown]
        high = [step[f"{key}_ci95"][1] - step[key] for _, step in shown]
        values = [step[key] for _, step in shown]
        ax.errorbar([label for label, _ in shown], values, yerr=[low, high], fmt="none", capsize=4)
        ax.axhline(zero, color="grey", linewidth=0.8, linestyle="--")
        ax.set_title(f"{title} (95 % CI)")
    for ax in (left, middle, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(argv[1], dpi=100)
    print(f"wrote {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
