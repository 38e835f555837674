"""The training methods' own option checks (`train.methods.Method.check`), and which of the pairs table's options
a method reads at all (`refuse_unread`): run by `train.options` (`check_options`, `check_given`) before anything
loads, so a loss type TRL does not have, or an option the method would ignore, is one line naming the flag.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import fields
from typing import TYPE_CHECKING

from data.errors import PrefloopError, number_shown
from data.ratings import parse_rule
from train.pairs import check_sft_sources
from train.reward import RM_MARGINS

if TYPE_CHECKING:
    from train.options import TrainOptions

DEFAULT_LOSS_TYPE = ("sigmoid",)  # dpo's --loss-type where none is given
OUR_LOSS_TYPES = (DEFAULT_LOSS_TYPE, ("robust",))  # dpo --loss-type values that run our per-pair loss
# TRL's DPO loss types (DPOConfig.loss_type; tests/test_train_seam.py checks the installed TRL lists the same), and
# those of TRL's own losses that read ε (label_smoothing); TRL's sigmoid, ipo, hinge and the others ignore it.
TRL_LOSS_TYPES = (
    "sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot", "aot_unpaired",
    "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm",
)  # fmt: skip
TRL_SMOOTHED_LOSSES = ("robust", "exo_pair", "aot", "aot_unpaired")


def check_dpo(options: TrainOptions) -> None:
    unknown = [name for name in options.loss_type if name not in TRL_LOSS_TYPES]
    if unknown or not options.loss_type:
        raise PrefloopError(
            f"--loss-type {' '.join(unknown) or '(none)'}: expected one or more of {', '.join(TRL_LOSS_TYPES)}"
        )
    twice = sorted({name for name in options.loss_type if options.loss_type.count(name) > 1})
    # TRL sums each type given: a repeat would weigh twice without a word. With --loss-weights every term's weight is
    # the user's own (benchmarks/bench_train.py's "trl" side runs sigmoid as two halves, 0.5 and 0.5, on TRL's head).
    if twice and options.loss_weights is None:
        raise PrefloopError(
            f"--loss-type {' '.join(twice)}: given more than once; name each loss type once "
            "(--loss-weights weighs them)"
        )
    ours = options.loss_type in OUR_LOSS_TYPES
    if options.label_smoothing and not ours and not set(options.loss_type) & set(TRL_SMOOTHED_LOSSES):
        raise PrefloopError(
            f"--label-smoothing needs --loss-type sigmoid or robust (our loss), or one of TRL's losses that read ε "
            f"({', '.join(TRL_SMOOTHED_LOSSES)}): {' '.join(options.loss_type)} ignores it"
        )
    if options.agreement != "off" and not ours:
        raise PrefloopError(
            "--agreement needs --loss-type sigmoid or robust (it is a per-pair term of our loss)"
        )
    if options.machine_weight != 1 and not ours:
        raise PrefloopError(
            "--machine-weight needs --loss-type sigmoid or robust (a per-pair weight of our loss)"
        )
    if options.loss_weights and len(options.loss_weights) != len(options.loss_type):
        n, given = len(options.loss_weights), " ".join(map(number_shown, options.loss_weights))
        types = " ".join(options.loss_type)
        default = ", the default where none is given" if options.loss_type == DEFAULT_LOSS_TYPE else ""
        raise PrefloopError(
            f"--loss-weights {given}: {n} weight{'s' * (n > 1)} for --loss-type {types}{default}; give "
            "one weight per loss type, e.g. --loss-type sigmoid sft --loss-weights 1 0.5"
        )
    if options.loss_weights and not any(options.loss_weights):  # every term 0: a model registered, untrained
        given = " ".join(map(number_shown, options.loss_weights))
        raise PrefloopError(
            f"--loss-weights {given}: weight 0 on every loss type leaves nothing to train; give one above 0"
        )
    if options.loss_weights and ours:  # our per-pair loss is one term, weighted per pair (--agreement)
        raise PrefloopError(
            f"--loss-weights weighs TRL's loss types, and --loss-type {options.loss_type[0]} alone runs our "
            "per-pair loss, which takes none (combine loss types, e.g. --loss-type sigmoid sft --loss-weights 1 0.5)"
        )


def check_rdpo(options: TrainOptions) -> None:
    if options.agreement == "smoothing":
        raise PrefloopError(
            "--method rdpo --agreement smoothing: rDPO's loss is the robust estimator; use --agreement robust "
            "(per-pair ε, rDPO) or --method dpo --agreement smoothing (per-pair ε, cDPO)"
        )


# The options that choose rows of the pairs table, and the general options only pairwise (or reference-anchored)
# methods read: set for SFT, an error (--eval-steps: check_options refuses it for every method outside the DPO family).
PAIR_TABLE = ("kinds", "rounds", "rank_pairs")
PAIR_SETTINGS = (*PAIR_TABLE, "aggregate", "beta")


def off_default(options: TrainOptions, names: Collection[str]) -> list[str]:
    """The options of ``names`` (in their order) not at their default: what a run set, where no command line says
    what was given (`settings_off_default`) or where a set option goes unread (`train.plan_notes`)."""
    defaults = {f.name: f.default for f in fields(options)}
    return [name for name in names if getattr(options, name) != defaults[name]]


def settings_off_default(options: TrainOptions) -> set[str]:
    """The `PAIR_SETTINGS` not at their default: what a run started from code (no command line) set."""
    return set(off_default(options, PAIR_SETTINGS))


def _ratings_flag(options: TrainOptions) -> str | None:
    """The flag that makes the run train on ratings (--kto-from, --rm-from-ratings), else None."""
    return "--kto-from" if options.kto_from else "--rm-from-ratings" if options.rm_from_ratings else None


def _rows_source(options: TrainOptions) -> str | None:
    """What the run trains on where it reads no pairs table (how the refusal of its options starts), else None."""
    if options.method == "kto" and not options.kto_from:
        return "--method kto trains on labelled completions"
    ratings = _ratings_flag(options)
    return f"{ratings} trains on ratings" if ratings else None


def refuse_unread(options: TrainOptions, given: Collection[str]) -> None:
    """Refuse the `PAIR_SETTINGS` in ``given`` that the run reads nowhere: every one for SFT, --beta for a reward
    model, the pairs table's (`PAIR_TABLE`) where the rows are labelled completions or ratings, --aggregate where
    they are ratings (each answer's mean rating). ``given``: the options named on the command line (by flag or
    config file, even at their default: `train.options.check_given`), else `settings_off_default`."""
    flags = {name: f"--{name.replace('_', '-')}" for name in PAIR_SETTINGS}
    if options.method == "sft":
        unread = next((name for name in PAIR_SETTINGS if name in given), None)
        if unread:
            raise PrefloopError(
                f"{flags[unread]} does not apply to --method sft (it trains on gold answers and edits, not on "
                "labelled pairs; --sft-from chooses which)"
            )
        return
    if options.method == "rm" and "beta" in given:  # RewardTrainer's Bradley–Terry loss has no reference term
        raise PrefloopError(
            "--beta does not apply to --method rm (a reward model's loss has no KL anchor to a reference; "
            "--rm-margin and --agreement weight shape it)"
        )
    source = _rows_source(options)
    table = [flags[name] for name in PAIR_TABLE if name in given]
    if source and table:
        raise PrefloopError(
            f"{source}, not on the pairs table: {' and '.join(table)} {'do' if len(table) > 1 else 'does'} "
            "not apply"
        )
    ratings = _ratings_flag(options)
    if ratings and "aggregate" in given:  # --aggregate decides pairwise and KTO verdicts
        raise PrefloopError(
            f"{ratings} uses each answer's mean rating over its raters: --aggregate {options.aggregate} does not "
            "apply (it aggregates pairwise and KTO labels)"
        )


def check_kto(options: TrainOptions) -> None:
    if options.kto_from is not None:
        parse_rule(options.kto_from)
    refuse_unread(options, settings_off_default(options))
    if options.batch_size < 2:
        raise PrefloopError(
            "--method kto needs --batch-size >= 2 (its KL estimate uses the batch's other rows)"
        )


def check_sdpo(options: TrainOptions) -> None:
    if options.resume:
        raise PrefloopError(
            "--method sdpo does not take --resume (each step is a run of its own; start again)"
        )


def check_rm(options: TrainOptions) -> None:
    if options.agreement not in ("off", "weight"):
        raise PrefloopError(
            f"--method rm --agreement {options.agreement}: a reward model takes --agreement weight"
        )
    refuse_unread(options, settings_off_default(options))
    if options.rm_margin not in RM_MARGINS:
        raise PrefloopError(f"--rm-margin {options.rm_margin!r}: expected one of {', '.join(RM_MARGINS)}")


def check_sft(options: TrainOptions) -> None:
    check_sft_sources(options.sft_from)
    refuse_unread(options, settings_off_default(options))
