"""The shell every command line shares: a parser built from an options dataclass (data.config), subcommands
that each have their own dataclass, and one handler that turns a user error into one line.

    parser = options_parser(TrainOptions, "python -m train", __doc__)
    def main(argv=None): return run_cli(_main, argv)

The error contract: a ``PrefloopError`` (bad input, an option out of range) or an ``OSError`` (a missing file, a
full disk) is printed as one ``error: ...`` line on stderr (control characters in it escaped, as repr does) and the
command exits 2; Ctrl-C is one line and status 130; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable

from data.config import FROM_FILE, ConfigError, add_options, did_you_mean, from_file, load_yaml_keys
from data.errors import PrefloopError, one_line

USER_ERRORS = (PrefloopError, OSError)
# Flags of another command that users give to the wrong one (data cannot import that command's parser to ask it):
# each unknown flag here is said to be that command's, with its own invocation. tests/test_data_config.py checks each
# command still has its flag.
FLAGS_ELSEWHERE = {"--gold-rate": "annotate"}  # how often labellers meet gold; `data gold` makes gold items
# A word that starts as a number does (-1e-5, -.5, -1) is a value, never a flag: Python 3.11's argparse read only
# -1 and -0.5 so, and `--learning-rate -1e-5` was "expected one argument" where `=-1e-5` was the range error.
# This is the test Python 3.13's argparse makes; no flag of ours starts with a dash and a digit.
NEGATIVE_NUMBER = re.compile(r"-\.?\d")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and whose unknown flags name the nearest known one. With
    subcommands (``add_subcommands``), an unknown flag is reported by the chosen subcommand's parser: a suggestion
    among its own flags only, or the subcommand the flag belongs to."""

    def __init__(self, *args, **kwargs):
        # a flag's prefix is no flag: `data gold --rate 0.1` was read as --rate-item
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER
        self.subcommands: dict[str, Parser] = {}  # name -> parser, on a parser with subcommands
        self.siblings: dict[str, Parser] = {}  # "data export" -> its parser, on a subcommand's parser
        self.label = self.prog  # "data import": how a sibling names this subcommand

    def parse_args(self, args=None, namespace=None):
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:  # argparse would report a subcommand's unknown flag with the top-level usage
            chosen = self.subcommands.get(getattr(namespace, "command", None), self)
            chosen.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace

    def _parse_known_args(self, arg_strings, *args, **kwargs):
        self.given = list(
            arg_strings
        )  # what error() may name: a required option missing beside a misspelt one
        return super()._parse_known_args(arg_strings, *args, **kwargs)

    def error(self, message: str):
        """argparse's hook for a flag it cannot read: one ``error:`` line and exit 2, as every other mistake (argparse
        prints its usage first: thirty lines for train's options, the error below them). A required option missing
        beside an unknown flag is the unknown flag's error (`export --form dpo` said --format was required)."""
        given = getattr(self, "given", [])
        # past a bare --, every word is positional: no flag
        given = given[: given.index("--")] if "--" in given else given
        unknown = [w.split("=")[0] for w in given if w.startswith("--")]
        unknown = [flag for flag in unknown if flag not in _flags(self)]
        if message.startswith("the following arguments are required") and unknown:
            message = f"unrecognized arguments: {unknown[0]}"
        if message.startswith("unrecognized arguments:"):
            flags = [w.split("=")[0] for w in message.split(":", 1)[1].split() if w.startswith("--")]
            message += "".join(self._hint(flag) for flag in flags[:1])
        self.exit(2, f"{self.prog}: error: {one_line(message)} (the options: {self.prog} --help)\n")

    def _hint(self, flag: str) -> str:
        owners = [label for label, sibling in self.siblings.items() if flag in _flags(sibling)]
        if owners:
            return f" ({flag} is an option of {' and '.join(owners)}, not {self.label})"
        elsewhere = FLAGS_ELSEWHERE.get(flag)
        if elsewhere:
            runner = "prefloop" if self.prog.startswith("prefloop") else "python -m"
            return f" ({flag} is an option of {elsewhere}, not {self.label}: {runner} {elsewhere} {flag} ...)"
        return did_you_mean(flag, [s for s in _flags(self) if s.startswith("--")])


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    return [s for action in parser._actions for s in action.option_strings]


def options_parser(
    cls: type | None,
    prog: str,
    doc: str | None,
    workspace_alias: bool = True,
    groups: dict[str, str] | None = None,
    **kwargs,
) -> Parser:
    """A parser whose description is the first paragraph of ``doc`` and whose epilog is the rest (the usage
    examples), with one flag per field of ``cls`` (and ``-w`` for ``--workspace``); ``groups`` maps a field to the
    title of the ``--help`` group it is shown in (a method's or mode's own options)."""
    description, _, epilog = (doc or "").strip("\n").partition("\n\n")
    parser = Parser(
        prog=prog,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=epilog or None,
    )
    if cls is not None:
        if workspace_alias:
            parser.add_argument(
                "-w",
                dest="workspace",
                metavar="WS",
                type=str,  # as --workspace: a path as typed, so `-w ''` is refused (`coerce`), not the current folder
                default=argparse.SUPPRESS,
                help="same as --workspace",
            )
        titles = {title: parser.add_argument_group(title) for title in dict.fromkeys((groups or {}).values())}
        containers = {name: titles[title] for name, title in (groups or {}).items()}
        add_options(parser, cls, groups=containers, **kwargs)
    return parser


def add_subcommands(
    parser: Parser, commands: dict[str, tuple[type, str]], prog: str
) -> dict[str, argparse.ArgumentParser]:
    """One subparser per command, each with its own options dataclass: ``{name: (options class, help)}``."""
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    made = {}
    for name, (cls, help_text) in commands.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text, prog=f"{prog} {name}")
        add_options(sub, cls, config=False)
        sub.label = f"{prog.split()[-1]} {name}"  # "data import", from "python -m data" or "prefloop data"
        made[name] = sub
    for sub in made.values():
        sub.siblings = {other.label: other for other in made.values() if other is not sub}
    parser.subcommands = made
    return made


def run_cli(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """``main(argv)``, with a user error printed as one line and exit status 2; output cut short by a closed pipe
    (``... | head``) ends quietly with status 141, as a command killed by SIGPIPE. An error that names a flag the
    ``--config`` file set names the file and key (`data.config.from_file`). Ctrl-C is one line and status 130."""
    FROM_FILE.clear()  # an earlier command's file, in this process (tests), names nothing here
    try:
        status = main(argv)
        sys.stdout.flush()  # a closed pipe shows here rather than in the flush at exit
        return status
    except KeyboardInterrupt:  # Ctrl-C: the user's own stop, not a bug; every write is whole or not there
        print(
            "interrupted: what was written before it stays; the same command again takes it up "
            "(`train`: with --resume)",
            file=sys.stderr,
        )
        return 130  # 128 + SIGINT, the status a shell shows for a command Ctrl-C stopped
    except BrokenPipeError:  # Python's "Note on SIGPIPE": what is left to flush at exit goes nowhere, quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, the status a shell shows for a command the pipe closed on
    except USER_ERRORS as exc:
        # e.g. a WriteError: "the disk is full: nothing was written"
        print(f"error: {one_line(from_file(str(exc)))}", file=sys.stderr)
        return 2


def explicit_names(namespace: argparse.Namespace, section: str = "") -> set[str]:
    """The options the user set by flag or in the ``--config`` file (defaults are not among them); with
    ``section``, those of a nested options section (the SPIN driver's ``train``)."""
    prefix = f"{section}." if section else ""
    names = {d[len(prefix) :] for d in vars(namespace) if d != "config" and d.startswith(prefix)}
    config = getattr(namespace, "config", None)
    return {n.split(".")[0] for n in names} | (load_yaml_keys(config, section) if config else set())


def check_applies(
    explicit: set[str], chosen: str, owners: dict[str, tuple[str, ...]], selector: str, section: str = ""
) -> None:
    """Refuse an option set explicitly that does nothing for the chosen method or mode: ``owners`` maps each
    option to the methods (modes) that read it; ``selector`` is the flag that chooses (``--method``);
    ``section`` names a nested options section (``train``: the flag is ``--train-NAME``)."""
    for name in sorted(explicit):
        belongs = owners.get(name)
        if belongs and chosen not in belongs:
            flag = "--" + (f"{section}_{name}" if section else name).replace("_", "-")
            which = ", ".join(f"{selector} {b}".strip() for b in belongs[:1]) + "".join(
                f", {b}" for b in belongs[1:]
            )
            raise ConfigError(f"{flag} applies to {which}, not {chosen}")
