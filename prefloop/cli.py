"""`prefloop`: one command for the whole loop, installed as a console script.

    prefloop data import -w ws --sample dpo     # = python -m data import ...
    prefloop generate -w ws --n 2               # = python -m generate ...
    prefloop annotate -w ws                     # = python -m annotate ...
    prefloop train -w ws --method dpo           # = python -m train ...
    prefloop loop -w ws --spin-iter 2           # = python -m generate --spin-iter 2 ...

Each subcommand takes the same options and prints the same help as its `python -m` form. Unlike `python -m train`,
`prefloop train` runs our package even from a folder holding a `train.py` (the current folder is not on the path of
a console script). This package holds only the dispatcher: the four packages never import it.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {  # subcommand -> (module whose main(argv, prog) runs it, one line of help)
    "data": ("data.__main__", "the workspace: {data}"),  # {data}: the names in data.commands.SUBCOMMANDS
    "generate": ("generate.__main__", "sample pairs or SPIN negatives from a model; label pairs by a judge"),
    "annotate": ("annotate.__main__", "serve the labelling app; add users"),
    "train": ("train.__main__", "train a model on the workspace's labels (DPO family, KTO, ORPO, SPIN, ...)"),
    "loop": ("generate.loop.__main__", "round drivers: SPIN iterations, judge iterations"),
}


def usage() -> str:
    lines = [__doc__.splitlines()[0], "", "usage: prefloop COMMAND [options]   (prefloop COMMAND --help)", ""]
    data = ", ".join(importlib.import_module("data.commands").SUBCOMMANDS)  # only when the help is shown
    lines += [f"  {name:9} {help_text.format(data=data)}" for name, (_, help_text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["-h"], ["--help"]):
        print(usage())
        return 0
    if not argv or argv[0] not in COMMANDS:  # as argparse: usage and one error line on stderr, exit 2
        problem = f"unknown command {argv[0]!r}" if argv else "no command given"
        print(f"{usage()}\n\nprefloop: error: {problem}", file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    module = importlib.import_module(COMMANDS[command][0])
    return module.main(rest, prog=f"prefloop {command}")
