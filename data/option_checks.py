"""The option combinations `python -m data`'s subcommands refuse (`OPTION_CHECKS`, which `data.__main__.parse`
runs): an option that does nothing for the options chosen beside it, given by flag or in the config file, is one
line, not silently unread."""

from __future__ import annotations

from typing import Any

from data.errors import CONTROL, PrefloopError, number_shown, shown
from data.export_workspace import check_export_options
from data.import_readers import refuse_split_flags

# Options of `data import` that change no label a file makes: refused beside --remove (a label's id is its content)
NOT_WITH_REMOVE = ("split", "test_fraction", "pairs_per_prompt", "unlabelled")


def _check_import_options(args: Any, explicit: set[str]) -> None:
    # a blank --source (taken as none: the file's name) is refused with every blank text option (data.config)
    bad = CONTROL.search(args.source or "")
    if bad and not args.remove:  # the answers' model name: it would break every line that names it
        raise PrefloopError(f"--source {shown(args.source)}: holds a control character ({bad.group()!r})")
    if "split" in explicit and args.test_fraction > 0:  # the fraction draws every split: --split goes unread
        raise PrefloopError(
            f"--split {args.split} does not go with --test-fraction {number_shown(args.test_fraction)} (the "
            "fraction puts each prompt in train or test); leave one out"
        )
    if not args.remove and not args.sample:  # beside a sample or another file the flag sets its split
        refuse_split_flags(args.files, [name for name in ("split", "test_fraction") if name in explicit])
    for name in NOT_WITH_REMOVE if args.remove else ():
        if name in explicit:
            why = (
                "an import with it stores no label"
                if name == "unlabelled"
                else "it changes no label a file makes"
            )
            flag = "--" + name.replace("_", "-")
            raise PrefloopError(f"{flag} does not go with --remove ({why}); leave it out")


def _check_stats_options(args: Any, explicit: set[str]) -> None:
    if args.labellers and "aggregate" in explicit:
        raise PrefloopError(
            "--aggregate does not change --labellers: the report gives every labeller's Dawid–Skene accuracy "
            "and agreement with the others' majority whatever the verdicts' method; leave it out"
        )


OPTION_CHECKS = {
    "export": check_export_options,
    "stats": _check_stats_options,
    "import": _check_import_options,
}  # (options, options given)
