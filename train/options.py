"""The one typed config of `python -m train` (flags, or `--config run.yaml` with flags overriding)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from data.aggregate import AGGREGATIONS
from data.cli import check_applies
from data.errors import PrefloopError, number_shown
from data.export import check_min_posterior
from data.export_workspace import check_rank_pairs
from data.provision import DEFAULT_MODEL
from data.rank_pairs import RANK_KIND
from data.ranking import RANK_PAIRS
from data.schemas import PAIR_KINDS
from data.selection import LABEL_SOURCES
from train.fit import TRUNCATION_MODES
from train.losses import STRENGTHS
from train.method_checks import DEFAULT_LOSS_TYPE, off_default, refuse_unread
from train.methods import METHODS, get_method, method_options
from train.pairs import AGREEMENT_MODES, SFT_SOURCES
from train.reward import RM_MARGINS

CPU_EVAL_LIMIT = (
    100  # held-out rows scored before and after training on CPU unless --eval-limit says otherwise
)


@dataclass(frozen=True)
class TrainOptions:
    workspace: Path = field(
        default=Path("ws"), metadata={"metavar": "WS", "help": "workspace to read labels from (default: ws)"}
    )
    model: str = field(
        default=DEFAULT_MODEL,
        metadata={
            "path": True,
            "metavar": "M",
            "help": "start (and reference) model: short name, folder (runs/x: here, else the workspace's), hub "
            "id (org/model) or newest (the newest model in the workspace manifest)",
        },
    )
    method: str = field(default="dpo", metadata={"metavar": "NAME", "help": "training method (listed below)"})
    out: Path | None = field(
        default=None,
        metadata={
            "metavar": "DIR",
            "help": "output folder; a relative DIR is read from the current folder, not from WS nor from a "
            "--config file's folder (default: WS/runs/<method>-<id>)",
        },
    )
    loss_type: tuple[str, ...] = field(
        default=DEFAULT_LOSS_TYPE,
        metadata={"help": "dpo: TRL loss type(s); several combine (e.g. sigmoid sft)"},
    )
    loss_weights: tuple[float, ...] | None = field(
        default=None, metadata={"help": "weights of combined loss types, e.g. 1 0.5"}
    )
    beta: float = field(default=0.1, metadata={"help": "β: strength of the KL anchor to the reference"})
    # None, not 0, where not given: exo_pair takes its own default ε then, and an ε 0 given is refused with it
    label_smoothing: float | None = field(
        default=None, metadata={"help": "rdpo/dpo: assumed label-flip rate ε (default 0; exo_pair's 1e-3)"}
    )
    dpop_lambda: float = field(default=50.0, metadata={"help": "dpop: λ of the DPO-Positive penalty"})
    simpo_gamma: float = field(default=0.5, metadata={"help": "simpo: target reward margin γ"})
    cpo_alpha: float = field(default=1.0, metadata={"help": "cpo: weight of the NLL term on chosen"})
    odpo_alpha: float = field(
        default=1.0,
        metadata={"help": "odpo: α of the offset Δ = α·log(strength), strength 1-4 from the labels"},
    )
    odpo_default_strength: float = field(
        default=2.5,
        metadata={"help": "odpo: strength (1-4) assumed for pairs without one, e.g. imports (1: no margin)"},
    )
    tdpo_alpha: float = field(default=0.5, metadata={"help": "tdpo2: α scaling the sequential-KL term"})
    sdpo_steps: int = field(
        default=0,
        metadata={
            "help": "sdpo: number of steps K >= 2, K equal chunks in a seeded order (0: one step per round when "
            "the pairs span several rounds, else 2)"
        },
    )
    desirable_weight: float | None = field(
        default=None, metadata={"help": "kto: λ_D (default: balanced from the label counts)"}
    )
    undesirable_weight: float | None = field(
        default=None, metadata={"help": "kto: λ_U (default: balanced from the label counts)"}
    )
    kto_from: str | None = field(
        default=None,
        metadata={
            "metavar": "RULE",
            "help": "kto: train on rubric ratings (`annotate --task rate`) instead of KTO labels: an answer is "
            "desirable when its mean rating meets 'ASPECT>=VALUE' (or >, <=, <), e.g. 'helpfulness>=3'",
        },
    )
    rm_from_ratings: str | None = field(
        default=None,
        metadata={
            "metavar": "ASPECT",
            "help": "rm: train on rubric ratings as pairs: two rated answers to one prompt, the higher mean "
            "rating of this ASPECT wins (equal ratings give no pair)",
        },
    )
    sft_from: tuple[str, ...] = field(
        default=SFT_SOURCES,
        metadata={
            "help": "sft: the rows to train on: gold (prompts' gold answers, as data export --format sft) and/or "
            "edits (labellers' kept edits, as --format sft --edits)",
        },
    )
    agreement: str = field(
        default="off",
        metadata={
            "help": "use labeller disagreement: smoothing (per-pair cDPO ε), robust (per-pair rDPO ε), "
            "weight (per-pair weight 1−2ε); ε = 1 − agreement, see README",
            "choices": AGREEMENT_MODES,
        },
    )
    rm_margin: str = field(
        default="off",
        metadata={
            "help": "rm: Bradley–Terry margin from the labels' strength (Llama 2's: (strength − 1)/3), or off",
            "choices": RM_MARGINS,
        },
    )
    labels: str = field(
        default="auto",
        metadata={
            "help": "whose labels train (as data export --labels: pairwise labels and rankings, KTO labels, the "
            "ratings of --kto-from and --rm-from-ratings, whether edits count for sft): human (people and "
            "imports), machine (judge:/rm: labellers), all, or auto (per pair: human where present, else machine)",
            "choices": LABEL_SOURCES,
        },
    )
    aggregate: str = field(
        default="majority",
        metadata={
            "help": "how labels become a verdict (as data export): majority, or dawid-skene (each labeller weighed "
            "by their estimated confusion matrix; with --agreement, ε = 1 − its posterior)",
            "choices": AGGREGATIONS,
        },
    )
    min_posterior: float | None = field(
        default=None,
        metadata={
            "metavar": "P",
            "help": "with --aggregate dawid-skene: train (and evaluate) only on verdicts whose posterior is at least "
            "this (in (0, 1]): fewer pairs, fewer of them wrong",
        },
    )
    exclude_labeller: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "labellers whose labels count in no verdict (they stay stored): several names, or names "
            "joined with commas (ann,bob; spaces around a name are dropped); names match in any Unicode "
            "normalisation",
            "metavar": "NAME",
            "names": True,  # a stored name with a comma (a judge's folder) is one name: data.exclusion.flag_names
        },
    )
    machine_weight: float = field(
        default=1.0,
        metadata={
            "metavar": "W",
            "help": "loss weight of pairs whose verdict comes from machine labellers only (humans: 1)",
        },
    )
    kinds: tuple[str, ...] | None = field(
        default=None,
        metadata={"help": "pair kinds to train on (default: spin for spin, else sampled imported rank edit)"},
    )
    rounds: tuple[int, ...] | None = field(default=None, metadata={"help": "only pairs of these rounds"})
    rank_pairs: str = field(
        default="all",
        metadata={
            "help": "the pairs a ranking of k answers trains as (kind rank): all, adjacent ranks only, or none "
            "(rankings left out: kind_rank_not_asked); the rank gap is each pair's strength, for --odpo-alpha and "
            "--rm-margin strength",
            "choices": RANK_PAIRS,
        },
    )
    round: int | None = field(
        default=None,
        metadata={"metavar": "N", "help": "round recorded for the new model (default: parent's + 1)"},
    )
    learning_rate: float = field(default=5e-6, metadata={"help": "peak learning rate"})
    epochs: float = field(default=1.0, metadata={"help": "passes over the training rows"})
    max_steps: int = field(
        default=0, metadata={"metavar": "N", "help": "stop after this many optimiser steps (0: by epochs)"}
    )
    batch_size: int = field(default=4, metadata={"help": "pairs per device per step"})
    grad_accum: int = field(default=1, metadata={"help": "gradient accumulation steps"})
    max_length: int = field(default=512, metadata={"help": "tokens per prompt+completion (see --truncation)"})
    chat_template: str | None = field(
        default=None,
        metadata={
            "path": True,
            "metavar": "TEMPLATE",
            "help": "chat template for a model folder without one: a Jinja file, or plain / roles (base models)",
        },
    )
    truncation: str = field(
        default="prompt",
        metadata={
            "help": "rows longer than --max-length: prompt (keep the completions and the prompt's end; every row "
            "trains but one whose question is cut to no word) or drop (prompts as they are; rows whose prompt "
            "fills --max-length are dropped and counted)",
            "choices": TRUNCATION_MODES,
        },
    )
    warmup_ratio: float = field(default=0.1, metadata={"help": "linear warm-up share of the steps"})
    seed: int = field(default=0, metadata={"help": "random seed"})
    lora_r: int | None = field(
        default=None,
        metadata={
            "metavar": "N",
            "help": "LoRA rank; default: the memory plan's choice (full fine-tuning when it fits, else LoRA 16); "
            "0 forces full fine-tuning",
        },
    )
    lora_alpha: int = field(default=16, metadata={"help": "LoRA α"})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout"})
    bf16: str = field(
        default="auto",
        metadata={
            "help": "bf16 autocast, fp32 master weights: auto (on GPUs and CPUs with native bf16), on, off",
            "choices": ("auto", "on", "off"),
        },
    )
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "trade compute for activation memory"}
    )
    threads: int = field(
        default=0, metadata={"help": "CPU threads (0: auto, 1 for small models, which run faster)"}
    )
    eval_limit: int | None = field(
        default=None,
        metadata={
            "help": f"held-out rows evaluated before and after (0: all; default {CPU_EVAL_LIMIT} on CPU, all on GPU)"
        },
    )
    eval_steps: int = field(
        default=0,
        metadata={
            "metavar": "N",
            "help": "DPO family: held-out reward accuracy every N steps, for the learning curve (0: off)",
        },
    )
    ref_cache: bool = field(
        default=True, metadata={"help": "read/write reference log-probs in the workspace (DPO family)"}
    )
    save_steps: int = field(default=200, metadata={"help": "checkpoint every N steps (for --resume)"})
    resume: bool = field(
        default=False,
        metadata={
            "help": "continue the unfinished run in --out from its newest checkpoint (no --out: the one unfinished "
            "run of --method in WS/runs)"
        },
    )
    overwrite: bool = field(default=False, metadata={"help": "replace the train run in a non-empty --out"})
    register: bool = field(default=True, metadata={"help": "record the model in the workspace manifest"})


# Each numeric option's valid values: (test, as the error says them). Floats must also be finite; None is unset.
RANGES: dict[str, tuple[Callable[[float], bool], str]] = {
    "beta": (lambda v: v > 0, "> 0"),
    "label_smoothing": (lambda v: 0 <= v < 0.5, "in [0, 0.5)"),
    "dpop_lambda": (lambda v: v >= 0, ">= 0"),
    # a nan (a YAML .nan) trained a model and registered it, its final loss said as 0.0
    "simpo_gamma": (lambda v: v >= 0, ">= 0"),
    "loss_weights": (lambda v: v >= 0, ">= 0"),  # each of them
    "cpo_alpha": (lambda v: v >= 0, ">= 0"),
    "odpo_alpha": (lambda v: v >= 0, ">= 0"),
    "odpo_default_strength": (lambda v: STRENGTHS[0] <= v <= STRENGTHS[1], "in [1, 4]"),
    "tdpo_alpha": (lambda v: v > 0, "> 0"),
    "sdpo_steps": (lambda v: v == 0 or v >= 2, "0 (by round) or >= 2"),
    "desirable_weight": (lambda v: v > 0, "> 0"),
    "undesirable_weight": (lambda v: v > 0, "> 0"),
    "machine_weight": (lambda v: v >= 0, ">= 0"),
    "round": (lambda v: v >= 0, ">= 0"),
    "rounds": (
        lambda v: v >= 0,
        ">= 0",
    ),  # each: a negative one matched no pair, and said so only after loading
    "learning_rate": (lambda v: v > 0, "> 0"),
    "epochs": (lambda v: v > 0, "> 0"),
    "max_steps": (lambda v: v >= 0, ">= 0 (0: by --epochs)"),
    "batch_size": (lambda v: v >= 1, ">= 1"),
    "grad_accum": (lambda v: v >= 1, ">= 1"),
    "max_length": (lambda v: v >= 16, ">= 16"),
    "warmup_ratio": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "seed": (lambda v: 0 <= v < 2**32, "in [0, 4294967295]"),  # numpy's seeds (TRL seeds numpy too)
    "lora_r": (lambda v: v >= 0, ">= 0 (0: full fine-tuning)"),
    "lora_alpha": (lambda v: v > 0, "> 0"),
    "lora_dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "threads": (lambda v: v >= 0, ">= 0 (0: auto)"),
    "eval_limit": (lambda v: v >= 0, ">= 0 (0: all)"),
    "eval_steps": (lambda v: v >= 0, ">= 0 (0: off)"),
    "save_steps": (lambda v: v >= 1, ">= 1"),
}


def check_ranges(options, ranges: dict = RANGES) -> None:
    """Each option of ``ranges`` (name: (valid, what it must be)) in its range, each value of a list option (``--rounds
    1 2``): one line naming the flag and the value."""
    for name, (valid, expected) in ranges.items():
        value = getattr(options, name)
        for item in value if isinstance(value, tuple) else () if value is None else (value,):
            finite = not isinstance(item, float) or math.isfinite(item)
            if not finite or not valid(item):  # inf passed `> 0` and was refused as if it were not above 0
                a = "" if finite else "a finite number "
                raise PrefloopError(f"--{name.replace('_', '-')} {number_shown(item)}: must be {a}{expected}")


def check_options(options: TrainOptions) -> None:
    """Every option error before anything is loaded or written: the general ranges, then the method's own."""
    method = get_method(options.method)
    check_ranges(options)
    # one method's option set for another: the parser refuses it given (by flag or YAML), this off its default (a run
    # from code, `TrainOptions(method="ipo", label_smoothing=0.1)`, whose ε the loss ignored and the report claimed)
    owners = method_options()
    check_applies(set(off_default(options, owners)), options.method, owners, "--method")
    if options.agreement not in AGREEMENT_MODES:
        raise PrefloopError(
            f"--agreement {options.agreement!r}: expected one of {', '.join(AGREEMENT_MODES)}"
        )
    if options.agreement != "off" and not method.agreement:
        takes = ", ".join(name for name, m in METHODS.items() if m.agreement)
        raise PrefloopError(f"--agreement {options.agreement}: applies to {takes}")
    if options.agreement in ("smoothing", "robust") and options.label_smoothing:
        raise PrefloopError(
            f"--label-smoothing {number_shown(options.label_smoothing)} and --agreement {options.agreement}: each "
            "pair's ε comes from its labellers' agreement, which replaces one ε for all; give one of them"
        )
    if options.label_smoothing == 0 and "exo_pair" in options.loss_type:
        # it trained with exo_pair's 1e-3 all the same, its report saying no --label-smoothing was given
        raise PrefloopError(
            "--label-smoothing 0 with --loss-type exo_pair: EXO needs ε > 0; give one above 0, or leave the flag "
            "out for exo_pair's default 1e-3"
        )
    unknown = [kind for kind in options.kinds or () if kind not in (*PAIR_KINDS, RANK_KIND)]
    if unknown:  # a misspelt kind would train on the others without a word
        raise PrefloopError(
            f"--kinds {' '.join(unknown)}: not a pair kind (expected some of {', '.join((*PAIR_KINDS, RANK_KIND))})"
        )
    if options.labels not in LABEL_SOURCES:
        raise PrefloopError(f"--labels {options.labels!r}: expected one of {', '.join(LABEL_SOURCES)}")
    if options.aggregate not in AGGREGATIONS:
        raise PrefloopError(f"--aggregate {options.aggregate!r}: expected one of {', '.join(AGGREGATIONS)}")
    if options.min_posterior is not None:  # where it cannot apply, said before what it needs
        if method.data not in ("pairs", "completions"):
            raise PrefloopError(
                f"--min-posterior applies to methods trained on verdicts, not {options.method}"
            )
        for flag, given in (("--kto-from", options.kto_from), ("--rm-from-ratings", options.rm_from_ratings)):
            if given:
                raise PrefloopError(
                    f"--min-posterior applies to verdicts of labels, not {flag} (ratings' means)"
                )
        check_min_posterior(options.min_posterior, options.aggregate)
    if options.machine_weight != 1 and not method.agreement:
        takes = ", ".join(name for name, m in METHODS.items() if m.agreement)
        raise PrefloopError(f"--machine-weight {number_shown(options.machine_weight)}: applies to {takes}")
    if options.machine_weight != 1 and options.labels == "human":  # no row is decided by machines only
        raise PrefloopError(
            f"--machine-weight {number_shown(options.machine_weight)}: weights rows machines decided, and --labels "
            "human takes none (--labels auto, all or machine do)"
        )
    if options.eval_steps and not method.learning_curve:
        takes = ", ".join(name for name, m in METHODS.items() if m.learning_curve)
        raise PrefloopError(f"--eval-steps applies to --method {takes}, not {options.method}")
    if method.check:
        method.check(options)


def check_given(options: TrainOptions, explicit: set[str]) -> None:
    """Refuse an option given (by flag or config file, even at its default) that the run would not read: an option
    of pairs where the rows are none (`train.method_checks.refuse_unread`: `--method kto --rank-pairs all`, which
    `check_options` cannot tell from the default), ``--rank-pairs`` beside pair kinds without rank (as `data export`
    refuses it), an option of the labels where the rows read no label: SFT on the prompts' gold answers alone (as
    `data export --format sft` refuses them), a LoRA adapter's options beside ``--lora-r 0``."""
    method = get_method(options.method)
    refuse_unread(options, explicit)
    adapter = next((name for name in ("lora_alpha", "lora_dropout") if name in explicit), None)
    if adapter and options.lora_r == 0:
        raise PrefloopError(
            f"--{adapter.replace('_', '-')} applies to LoRA adapters, and --lora-r 0 trains every weight without one"
        )
    if "rank_pairs" in explicit and method.data == "pairs" and options.rm_from_ratings is None:
        kinds = options.kinds or method.kinds
        named = None if options.kinds else f"--method {options.method}'s pair kinds ({' '.join(kinds)})"
        check_rank_pairs(options.rank_pairs, kinds, named)
    if options.method != "sft" or "edits" in options.sft_from:
        return
    for name in ("labels", "exclude_labeller"):
        if name in explicit:
            raise PrefloopError(
                f"--{name.replace('_', '-')} applies to rows made from labels (--sft-from edits), not --method "
                f"sft --sft-from {','.join(options.sft_from)} (the prompts' gold answers)"
            )
