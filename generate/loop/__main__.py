"""`prefloop loop` (= `python -m generate.loop`, = `python -m generate --spin-iter N | --judge-iter N`): the round
drivers, each iteration sample -> pair -> train -> register, resuming what is done.

    prefloop loop -w ws --prompts sft --spin-iter 2               # SPIN: gold answer vs the iterate's own
    prefloop loop -w ws --judge-iter 2 --judge rm --n 4           # machine rounds: best vs worst of 4, DPO
    prefloop loop -w ws --config configs/recipes/spin-2iter.yaml  # YAML (training options under `train:`)

Training options are `train`'s own: `--train-learning-rate 1e-5` (or `--train.learning-rate`), `train:` in YAML.
A rerun of the same command continues from the last finished step (see generate/loop/driver.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from data.cli import check_applies, explicit_names, options_parser, run_cli
from data.config import ConfigError, build, load_yaml
from data.config_values import as_written
from data.errors import PrefloopError, number_shown
from data.lineage import is_reward_model_name
from data.workspace import Workspace
from generate.bestofn import check_judge_model
from generate.job_plan import with_gold
from generate.judge import load_template
from generate.loop.folders import chain_lock, refuse_running
from generate.loop.options import DRIVERS, MAX_ITERATIONS, LoopOptions, chain_name, driver_of, loop_flags
from generate.loop.report import spin_report
from generate.options import (
    SPIN_TEST_FRACTION,
    GenerateOptions,
    check_arena,
    check_sample_applies,
    check_sample_options,
    sampling_params,
)
from generate.prepare import (
    check_reward_judge,
    fetch_model,
    file_share_line,
    import_prompts,
    loop_samples,
    preview_prompts,
    quiet_logs,
    read_prompts,
    start_model,
    workspace_models,
)
from generate.report_lines import limit_taken
from generate.sampling import check_pair_params
from train.methods import method_options
from train.options import check_given
from train.options import check_options as check_train_options

if TYPE_CHECKING:
    from generate.loop.driver import Loop

# Options of a single sampling job that a driver sets itself, and why.
NOT_FOR_LOOPS = {
    "round": "iteration t samples at the start model's round + t",
    "shard": "every iteration trains on all its prompts",
}
METHOD = {"--spin-iter": "spin", "--judge-iter": "dpo"}  # what each driver trains


def _spin() -> tuple[Loop, Callable[..., dict]]:
    from generate.loop.spin import SPIN_LOOP, run_spin

    return SPIN_LOOP, run_spin


def _judge() -> tuple[Loop, Callable[..., dict]]:
    from generate.loop.judge import JUDGE_LOOP, run_judge_loop

    return JUDGE_LOOP, run_judge_loop


# Each driver's `Loop` and run function (options, workspace, checked prompt sets, the judge's checked folder),
# imported when it runs: they import the engines.
RUN: dict[str, Callable[[], tuple[Loop, Callable[..., dict]]]] = {
    "--spin-iter": _spin,
    "--judge-iter": _judge,
}


def build_parser(prog: str = "python -m generate.loop") -> argparse.ArgumentParser:
    """Options every driver reads, then each driver's own in a group of its own."""
    groups = {name: f"options of {driver}" for driver, names in DRIVERS.items() for name in names}
    parser = options_parser(LoopOptions, prog, __doc__, groups=groups)
    for action in parser._actions:
        if action.dest in COUNTS:
            action.type = str  # read by `iteration_counts`, in the loop's words
    return parser


def parse_options(argv: list[str], prog: str = "python -m generate.loop") -> LoopOptions:
    """The options object. A sampling job's option the drivers set themselves, another driver's option, or a
    training option the driver's method does not read: one line each."""
    namespace, rest = build_parser(prog).parse_known_args(argv)
    sampling_only = {f.name for f in dataclasses.fields(GenerateOptions)} - {
        f.name for f in dataclasses.fields(LoopOptions)
    }
    for arg in rest:
        name = arg.split("=")[0].lstrip("-").replace("-", "_")
        if arg.startswith("--") and name in sampling_only:
            why = f": {NOT_FOR_LOOPS[name]}" if name in NOT_FOR_LOOPS else " (a single sampling job's option)"
            driver = next((a.split("=")[0] for a in argv if a.split("=")[0] in DRIVERS), "the round drivers")
            raise ConfigError(f"--{name.replace('_', '-')} does not apply to {driver}{why}")
    if rest:
        build_parser(prog).parse_args(argv)  # argparse's own message (nearest flag included)
    iteration_counts(namespace)
    options = build(LoopOptions, namespace)
    check_iterations(options)
    explicit = explicit_names(namespace)
    check_sample_applies(explicit, options)
    driver = driver_of(options)
    if driver:
        owners = {name: (d,) for d, names in DRIVERS.items() for name in names}
        check_applies(explicit, driver, owners, "")
        train = explicit_names(namespace, "train")
        check_applies(train, METHOD[driver], method_options(), "--method", section="train")
        check_train(
            check_given, options, train
        )  # as `python -m train` refuses them (--lora-r 0 --lora-alpha 32)
    return options


def check_train(check: Callable[..., None], options: LoopOptions, *args) -> None:
    """One of train's checks (`check_options`, `check_given`) on the loop's train options, as the driver's method
    trains them; its line names train's flags as the loop's `--train-*`."""
    try:
        check(dataclasses.replace(options.train, method=METHOD[driver_of(options)]), *args)
    except PrefloopError as exc:
        raise PrefloopError(loop_flags(str(exc))) from exc


# the iteration counts' fields, by flag, and their range
COUNTS = {"spin_iter": "--spin-iter", "judge_iter": "--judge-iter"}
COUNT_RANGE = f"[1, {MAX_ITERATIONS}] (the iterations to run)"


def iteration_counts(namespace: argparse.Namespace) -> None:
    """The iteration counts, as flags or in the --config file, read as numbers and checked against the loop's cap
    before anything else reads them: `--spin-iter abc` got argparse's "invalid int value", and a count past 2^63
    was refused naming 2^63 ("at most 9223372036854775807"), not the cap."""
    config = getattr(namespace, "config", None)
    spelled: dict[str, str] = {}  # a key as the file writes it (`spin-iter`)
    in_file = load_yaml(config, LoopOptions, spelled) if config else {}
    for name, flag in COUNTS.items():
        text = getattr(namespace, name, None)  # a flag's
        if text is not None:
            setattr(namespace, name, read_count(flag, text))
        elif in_file.get(name) is not None:  # `spin_iter: abc` got the reader's "expected int", not the range
            read_count(f"{config}, key {spelled[name]}", in_file[name])


def read_count(flag: str, value: object) -> int:
    """``value`` (a flag's text, a --config file's value) as a count in the loop's range."""
    try:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError
        count = int(value)
    except ValueError:
        shown = value if isinstance(value, str) else as_written(value)  # a flag's text, a file's value
        raise PrefloopError(f"{flag} {shown}: must be a whole number in {COUNT_RANGE}") from None
    check_count(flag, count)
    return count


def check_count(flag: str, count: int) -> None:
    """0 is left to `check_options`, whose line asks for a driver."""
    if not 0 <= count <= MAX_ITERATIONS:
        raise PrefloopError(f"{flag} {count}: must be in {COUNT_RANGE}")


def check_iterations(options: LoopOptions) -> None:
    """The iteration counts, before anything reads the options by driver: both drivers were refused as "--judge
    applies to --judge-iter, not --spin-iter", and a count of millions planned each round before it said a word."""
    for name, flag in COUNTS.items():
        check_count(flag, getattr(options, name))
    if options.spin_iter and options.judge_iter:
        raise PrefloopError("--spin-iter and --judge-iter are two drivers: run one at a time")


def check_options(options: LoopOptions) -> None:
    check_sample_options(options)
    check_iterations(options)
    # one flag each: a line starting with a flag the --config file set names the file's key (`data.config.from_file`)
    for flag, value, least in (
        ("--limit", options.limit or 0, 0),
        ("--spin-test-limit", options.spin_test_limit, 0),
    ):
        if value < least:
            raise PrefloopError(f"{flag} {value}: must be >= {least}")
    driver = driver_of(options)
    if driver is None:
        # `--spin-iter 0` lands here too: it named a driver, so "which driver?" did not answer it
        raise PrefloopError(
            f"nothing to run: give {' N or '.join(DRIVERS)} N, N >= 1 (the iterations to run)"
        )
    check_chain_name(options)
    if options.test_fraction is not None and not 0 <= options.test_fraction < 1:
        raise PrefloopError(f"--test-fraction {number_shown(options.test_fraction)}: must be in [0, 1)")
    if options.test_fraction is not None and not options.prompts and driver == "--judge-iter":
        # the judge loop imports --prompts alone (SPIN without it imports the sft sample set, split so)
        raise PrefloopError(
            "--test-fraction does not apply to --judge-iter without --prompts, which it splits as they are "
            "imported: the workspace's prompts keep their split (import a file with `python -m data import "
            "--test-fraction`)"
        )
    if options.judge_iter and not options.judge:
        raise PrefloopError("--judge-iter needs --judge (rm, rm:<id>, or a chat model)")
    if options.judge_iter and not is_reward_model_name(options.judge):
        load_template(options.judge_template)  # a bad template file fails before any model loads
    check_train(check_train_options, options)
    if options.arena is not None:
        check_arena(options)


def check_chain_name(options: LoopOptions) -> None:
    """The chain's name (--spin-name, --judge-name) names its iterates, its lock and its chain.json in WS/runs
    (`folders.chain_lock`, `folders.iterate_folder`): `..`, an absolute path or an empty part put them outside it
    (`../../x`: beside the workspace), and a line break breaks every line naming them."""
    flag = "--spin-name" if options.spin_iter else "--judge-name"
    name = chain_name(options)
    if not name.isprintable() or any(part in ("", ".", "..") for part in name.split("/")):
        raise PrefloopError(
            f"{flag} {as_written(name)}: the chain's iterates go to WS/runs/<name>-iter<t>: give a name, or names "
            "joined by / (a folder below WS/runs), none of them empty, . or .."
        )


def loop_prompts(options: LoopOptions, existing: Workspace | None) -> str | None:
    """What the loop imports: --prompts, else for SPIN, which needs SFT data, the sample set unless the workspace
    holds train prompts with a gold answer already (the judge loop samples both sides of its pairs: it needs none)."""
    if options.prompts or not options.spin_iter:
        return options.prompts
    if existing is not None:
        prompts = existing.frame("prompts")
        if not with_gold(prompts[prompts["split"] == "train"]).empty:
            return None
    return "sft"


def run(options: LoopOptions) -> dict:
    """The driver the options name, from a checked start (bad input writes nothing); returns its summary."""
    from generate.loop.driver import check_loop

    check_options(options)
    existing = Workspace.existing(options.workspace)  # None: created below, once every check has passed
    if existing is not None:  # a second run of a running chain: refused at once, before a model is looked at
        refuse_running(existing, chain_name(options))
    options = workspace_models(options)  # `runs/x`: the workspace's run, where no ./runs/x is here
    _, model_path = start_model(options)
    if options.judge_iter:
        check_pair_params(options.n, sampling_params(options))
    check_reward_judge(options, existing)
    if options.arena:
        from generate.arena_models import check_arena_names

        check_arena_names(existing, options.arena)
    fraction = options.test_fraction if options.test_fraction is not None else SPIN_TEST_FRACTION
    loaded = read_prompts(loop_prompts(options, existing), fraction, options.workspace)
    loop, run_driver = RUN[driver_of(options)]()
    # Its prompt sets, every round it samples, the arena's: on the workspace as the import will leave it.
    sets, arena_prompts = check_loop(options, preview_prompts(existing, options.workspace, loaded), loop)
    # the models, after the checks that cost nothing: a hub id may be fetched
    fetch_model(options, model_path)
    if options.arena:
        from generate.arena_models import fetch_arena_names

        fetch_arena_names(existing, options.arena, options.max_tokens, options.max_model_len)
    # the judge loads in each iteration's step, after the sampling: found now (last: a hub id may be fetched), and
    # loaded from the folder found (checked once a run, not once an iteration)
    judge_folder = check_judge_model(options)
    workspace = existing or Workspace.init(options.workspace)
    # before anything is written: a second run of this chain is refused, naming the first (`folders.chain_lock`)
    with chain_lock(workspace, chain_name(options)):
        if loaded:
            default_of = driver_of(options) if options.test_fraction is None else None
            # said as `data import` says them
            loaded, said, warnings = import_prompts(workspace, loaded, fraction, default_of)
            for line in said:
                print(line)
            for line in warnings:
                print(f"warning: {line}", file=sys.stderr)
            # the loop's sets, the file's prompts or not, and the --arena's after the loop: the first
            # --spin-test-limit test prompts, gold answer or not (SPIN's test set: those with one; at 0, none, but
            # the arena answers every test prompt: `check_loop_arena`)
            sampled = {split: set(ids) for split, ids in sets.items() if ids}
            if arena_prompts:
                sampled["test"] = sampled.get("test", set()) | set(arena_prompts)
            why = loop_samples(bool(options.spin_iter), options.spin_test_limit if options.arena else None)
            if said := file_share_line(workspace, loaded, sampled, why):
                print(said)
        gold = "with a gold answer " * bool(options.spin_iter)  # what SPIN's pairs need
        for line in limit_taken(options.limit or 0, len(sets["train"]), f"{gold}in split train"):
            print(line)
        summary = run_driver(options, workspace, sets, judge_folder)
        if options.arena:  # the arena on the loop's held-out prompts, and its leaderboard
            from generate.loop.arena import arena_leaderboard

            summary["arena"] = arena_leaderboard(options, workspace, arena_prompts, judge_folder)
    return summary


def _main(argv: list[str] | None, prog: str) -> int:
    options = parse_options(sys.argv[1:] if argv is None else argv, prog)
    quiet_logs(options.verbose)
    summary = run(options)
    print("\n".join(spin_report(summary) + summary.get("arena", [])))
    return 0


def main(argv: list[str] | None = None, prog: str = "python -m generate.loop") -> int:
    return run_cli(lambda args: _main(args, prog), argv)


if __name__ == "__main__":
    sys.exit(main())
