"""The modes of `python -m generate` (sampling, --spin, --judge, --arena, --pairs best-worst) and the options only
they read: each mode's own options are declared with it in `MODES`, shown in their own `--help` group and refused
(one line) when set for another mode (`generate.__main__`)."""

from __future__ import annotations

from generate.options import GenerateOptions

JUDGED = ("--judge", "--pairs best-worst", "--arena")  # the modes that load a machine labeller
# Each mode of `python -m generate` and the options only it reads (the mode is chosen by the flag it is named after).
MODES: dict[str, tuple[str, ...]] = {
    "sampling": ("pairs_per_prompt",),  # n samples per prompt, random pairs for labellers
    "--spin": (),  # SPIN negatives: one sample per gold prompt
    "--judge": ("judge_labelled", "kinds"),  # machine labels on the workspace's pairs
    "--arena": (
        "arena_pairs",
        "arena_n",
        "spin_isolate",
    ),  # model versions head to head (and --judge's votes on them)
    "--pairs best-worst": (),  # best vs worst of n samples, labelled by --judge
}
SHARED = {  # options read by several modes
    "n": ("sampling", "--pairs best-worst"),
    "judge_template": JUDGED,
    "judge_max_tokens": JUDGED,
    "judge_max_length": JUDGED,
}


def mode_of(options: GenerateOptions) -> str:
    if options.arena:
        return "--arena"
    if options.spin:
        return "--spin"
    if options.pairs == "best-worst":
        return "--pairs best-worst"
    return "--judge" if options.judge else "sampling"


def mode_options(modes: dict[str, tuple[str, ...]], shared: dict[str, tuple[str, ...]]) -> dict[str, tuple]:
    """Each mode-specific option and the modes that read it."""
    owners = dict(shared)
    for mode, names in modes.items():
        for name in names:
            owners[name] = (*owners.get(name, ()), mode)
    return owners
