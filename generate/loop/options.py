"""The options of the round drivers (`prefloop loop`, `python -m generate --spin-iter N | --judge-iter N`): what
every sampling job reads (`SampleOptions`) plus the loop's own, with `train`'s own `TrainOptions` nested: `train:`
in the YAML, `--train.learning-rate` (or `--train-learning-rate`) on the command line."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from generate.options import SampleOptions
from train.options import TrainOptions

# TrainOptions fields the driver sets itself for each iteration (not options of `train:`).
SPIN_OWNED = (
    "workspace",
    "model",
    "method",
    "out",
    "kinds",
    "rounds",
    "round",
    "resume",
    "overwrite",
    "register",
)


# each iteration trains and saves a model: more is a typo (a count of millions was planned round by round for hours)
MAX_ITERATIONS = 100
# the loop runs one of them: --help says so, not their default 0
DRIVER_FLAGS = ("--spin-iter", "--judge-iter")


@dataclass(frozen=True)
class LoopOptions(SampleOptions):
    spin_iter: int = field(
        default=0,
        metadata={
            "metavar": "N",
            "help": "SPIN: run N iterations (sample with the current iterate, train the next, register it; at most "
            f"{MAX_ITERATIONS})",
            "one_of": DRIVER_FLAGS,
        },
    )
    judge_iter: int = field(
        default=0,
        metadata={
            "metavar": "N",
            "help": "machine rounds: N iterations of sample --n -> best-worst pairs by --judge -> DPO -> register (at "
            f"most {MAX_ITERATIONS})",
            "one_of": DRIVER_FLAGS,
        },
    )
    spin_test_limit: int = field(
        default=16,
        metadata={
            "help": "SPIN and judge loops: held-out (test) prompts sampled and evaluated per iteration"
        },
    )
    spin_mix_previous: bool = field(
        default=False, metadata={"help": "SPIN: iteration t also trains on iteration t-1's pairs"}
    )
    spin_name: str = field(
        default="spin",
        metadata={
            "metavar": "NAME",
            "help": "SPIN: iterates go to WS/runs/<name>-iter<t> (one name per chain)",
        },
    )
    spin_samples: int = field(
        default=4, metadata={"help": "SPIN: held-out prompts compared in each iterate's samples.md"}
    )
    judge_name: str = field(
        default="judge",
        metadata={
            "metavar": "NAME",
            "help": "judge loop: iterates go to WS/runs/<name>-iter<t> (one per chain)",
        },
    )
    train: TrainOptions = field(
        default_factory=TrainOptions,
        metadata={
            "help": "training options of --spin-iter / --judge-iter (YAML: a `train:` mapping; flags: "
            "--train.NAME or --train-NAME)",
            "owned": SPIN_OWNED,
        },
    )


# Each driver: the option that runs it (its iteration count), and the options only it reads.
DRIVERS: dict[str, tuple[str, ...]] = {
    "--spin-iter": ("spin_mix_previous", "spin_name", "spin_samples"),
    "--judge-iter": ("judge", "judge_name", "n", "judge_template", "judge_max_tokens", "judge_max_length"),
}


def chain_name(options: LoopOptions) -> str:
    """The name of the chain the options run (--spin-name, --judge-name): its iterates, its lock."""
    return options.spin_name if options.spin_iter else options.judge_name


def driver_of(options: LoopOptions) -> str | None:
    """The driver the options run (None: neither iteration count is set)."""
    return "--spin-iter" if options.spin_iter else "--judge-iter" if options.judge_iter else None


# train's own flags (not those the driver sets), as train names them: `--lora-r` is `--train-lora-r` here
_TRAIN_FLAG = re.compile(r"--([a-z][a-z0-9-]*)")
_TRAIN_NAMES = {f.name for f in dataclasses.fields(TrainOptions)} - set(SPIN_OWNED)


def loop_flags(text: str) -> str:
    """A line of `train`'s (a check's refusal, a resume's) with train's own flags named as the loop's ``--train-*``,
    which its user passes: "started with --learning-rate 0.001" told them of a flag the loop does not take."""

    def rename(flag: re.Match) -> str:
        name = flag.group(1)
        return f"--train-{name}" if name.replace("-", "_") in _TRAIN_NAMES else flag.group(0)

    return _TRAIN_FLAG.sub(rename, text)


def loop_option(args: list[str]) -> str | None:
    """The line for the first of ``args`` (what a single sampling job's parser did not know) that is a round
    driver's option, named with the drivers that read it; None where none is. argparse said "unrecognized
    arguments: --spin-test-limit 2" of it, nothing of where it belongs."""
    flags = (arg.split("=")[0] for arg in args if arg.startswith("--"))
    return next((said for flag in flags if (said := _driver_line(flag[2:].replace("-", "_"), flag))), None)


def loop_key(keys: set[str], config: str | Path, spelled: dict[str, str]) -> str | None:
    """`loop_option` for the keys of a single sampling job's --config file (``spelled``: each as the file writes
    it): "unknown option(s) spin_test_limit" said nothing of where it belongs, which the flag's line says."""
    lines = (_driver_line(key, f"{config}: {spelled.get(key, key)}") for key in sorted(keys))
    return next((said for said in lines if said), None)


def _driver_line(name: str, shown: str) -> str | None:
    """The line "``shown`` is an option of --spin-iter N ..." where ``name`` is a round driver's option alone."""
    own = {option: driver for driver, options in DRIVERS.items() for option in options}
    every = {f.name for f in dataclasses.fields(SampleOptions)}
    theirs = {f.name for f in dataclasses.fields(LoopOptions)} - every
    if name not in theirs and not name.startswith(("train_", "train.")):
        return None
    drivers = " or ".join(f"{driver} N" for driver in DRIVERS if own.get(name, driver) == driver)
    return f"{shown} is an option of {drivers} (the round drivers: prefloop loop --help), not of a single sampling job"
