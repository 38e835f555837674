"""The method registry: every training method is one `Method` entry in `METHODS`.

An entry says which TRL trainer family builds it (`build`), which rows it reads (`data`: preference pairs or KTO
completions) and of which pair kinds, its TRL loss type or our per-pair loss options (`pair_loss`, typed:
`train.losses.PairLoss`), whether it takes `--agreement`, per-pair columns it adds (`columns`), whether it runs
step-wise (sDPO), how its model is loaded and measured when it is not a causal LM (`held_out`: the reward model),
its own option checks, and its own options (`options`: shown in their own `--help` group; set for another method, an
error). Adding a method is adding one entry here (and its loss function in
`train.losses` if TRL has none). Heavy imports (trl, the trainer) happen inside the builders.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data.errors import PrefloopError
from data.ratings import parse_rule
from train.builders import (
    Build,
    build_dpo_family,
    build_kto,
    build_reward,
    build_sft,
    cpo_family,
    orpo_family,
)
from train.losses import PairLoss
from train.pairs import add_offsets, check_sft_sources
from train.recompute import recompute_elementwise
from train.reward import (
    RM_MARGINS,
    add_margins,
    check_checkpoint,
    evaluate_pairs,
    load_reward_model,
    reward_metrics,
)

if TYPE_CHECKING:
    from train.options import TrainOptions

log = logging.getLogger(__name__)

# What a pairwise method trains on unless --kinds says otherwise (rank: the pairs rankings expand into;
# edit: labellers' edits over the answers they fixed).
PAIR_KINDS = ("sampled", "imported", "rank", "edit")
OUR_LOSS_TYPES = (("sigmoid",), ("robust",))  # dpo --loss-type values that run our per-pair loss
# TRL's DPO loss types (DPOConfig.loss_type; tests/test_train_seam.py checks the installed TRL lists the same), and
# those of TRL's own losses that read ε (label_smoothing); TRL's sigmoid, ipo, hinge and the others ignore it.
TRL_LOSS_TYPES = (
    "sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot", "aot_unpaired",
    "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm",
)  # fmt: skip
TRL_SMOOTHED_LOSSES = ("robust", "exo_pair", "aot", "aot_unpaired")


@dataclass(frozen=True)
class HeldOut:
    """How a method's model is loaded and evaluated when it is not a causal LM measured by log-probs."""

    load: Callable[[Path, Any], Any]  # (folder, tokenizer) -> model
    evaluate: Callable[[Any, Any, list[dict], int, int], dict]  # (model, tokenizer, rows, batch, max length)
    compare: Callable[[dict, dict, list[dict]], dict]  # (before, after, rows) -> held-out metrics
    # (a checkpoint --resume continues from, the trainer): its weights fit the model, checked before it loads
    check_checkpoint: Callable[[Path, Any], None]


@dataclass(frozen=True)
class Method:
    help: str
    build: Callable[[TrainOptions, Build, Method], Any]
    # "pairs": chosen/rejected rows; "completions": KTO's desirable/undesirable rows; "sft": prompt + answer rows
    data: str = "pairs"
    kinds: tuple[str, ...] = PAIR_KINDS
    trl_loss: str | None = None  # the TRL loss type of a DPO-family method (dpo: --loss-type)
    pair_loss: Callable[[TrainOptions], PairLoss | None] | None = None  # None: TRL's own loss
    agreement: bool = False  # takes --agreement (per-pair ε or weight)
    columns: Callable[[TrainOptions, list[dict]], dict] | None = (
        None  # adds pair_* columns, returns a summary
    )
    config: Callable[[TrainOptions], dict] = field(default=lambda options: {})  # extra TRL config arguments
    stepwise: bool = False  # sDPO: run once per chunk, each from the previous step
    reference_in_memory: bool = False  # TDPO: a live reference, no precomputed log-probs
    check: Callable[[TrainOptions], None] | None = None
    held_out: HeldOut | None = None  # None: a causal LM, evaluated by its log-probs (train.evaluate)
    whole_sequences: bool = (
        False  # its TRL trainer drops (not cuts) sequences over max_length: fit them whole
    )
    options: tuple[str, ...] = ()  # TrainOptions fields that only this method (and others naming them) reads

    @property
    def learning_curve(self) -> bool:
        """Takes --eval-steps: only the DPO family's trainer is handed the held-out rows to evaluate while training."""
        return self.build is build_dpo_family

    @property
    def caches_reference(self) -> bool:
        """Reads and writes the workspace's reference log-probs (--ref-cache): the DPO family's trainer does, but
        for TDPO's live reference; every other method's trainer is handed no cache."""
        return self.build is build_dpo_family and not self.reference_in_memory


def _sigmoid(options: TrainOptions) -> PairLoss:
    return PairLoss(epsilon=options.label_smoothing, robust=options.agreement == "robust")


def _dpo_loss(options: TrainOptions) -> PairLoss | None:
    if options.loss_type not in OUR_LOSS_TYPES:
        return None  # ipo, hinge, exo_pair, combinations: TRL's own loss
    robust = options.loss_type == ("robust",) or options.agreement == "robust"
    return PairLoss(epsilon=options.label_smoothing, robust=robust)


def _check_dpo(options: TrainOptions) -> None:
    unknown = [name for name in options.loss_type if name not in TRL_LOSS_TYPES]
    if unknown or not options.loss_type:
        raise PrefloopError(
            f"--loss-type {' '.join(unknown) or '(none)'}: expected one or more of {', '.join(TRL_LOSS_TYPES)}"
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
        raise PrefloopError("--loss-weights needs one weight per --loss-type")


def _check_rdpo(options: TrainOptions) -> None:
    if options.agreement == "smoothing":
        raise PrefloopError(
            "--method rdpo --agreement smoothing: rDPO's loss is the robust estimator; use --agreement robust "
            "(per-pair ε, rDPO) or --method dpo --agreement smoothing (per-pair ε, cDPO)"
        )


# The options that choose rows of the pairs table, and the general options only pairwise (or reference-anchored)
# methods read: set for SFT, an error (--eval-steps: check_options refuses it for every method outside the DPO family).
PAIR_TABLE = ("kinds", "rounds", "rank_pairs")
PAIR_SETTINGS = (*PAIR_TABLE, "aggregate", "beta")


def settings_off_default(options: TrainOptions) -> set[str]:
    """The `PAIR_SETTINGS` not at their default: what a run started from code (no command line) set."""
    defaults = {f.name: f.default for f in fields(options)}
    return {name for name in PAIR_SETTINGS if getattr(options, name) != defaults[name]}


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


def _check_kto(options: TrainOptions) -> None:
    if options.kto_from is not None:
        parse_rule(options.kto_from)
    refuse_unread(options, settings_off_default(options))
    if options.batch_size < 2:
        raise PrefloopError(
            "--method kto needs --batch-size >= 2 (its KL estimate uses the batch's other rows)"
        )


def _check_sdpo(options: TrainOptions) -> None:
    if options.resume:
        raise PrefloopError(
            "--method sdpo does not take --resume (each step is a run of its own; start again)"
        )


def _check_rm(options: TrainOptions) -> None:
    if options.agreement not in ("off", "weight"):
        raise PrefloopError(
            f"--method rm --agreement {options.agreement}: a reward model takes --agreement weight"
        )
    refuse_unread(options, settings_off_default(options))
    if options.rm_margin not in RM_MARGINS:
        raise PrefloopError(f"--rm-margin {options.rm_margin!r}: expected one of {', '.join(RM_MARGINS)}")


def _check_sft(options: TrainOptions) -> None:
    check_sft_sources(options.sft_from)
    refuse_unread(options, settings_off_default(options))


def _rm_columns(options: TrainOptions, rows: list[dict]) -> dict:
    return {"margins": add_margins(rows, options.rm_margin)}


def _odpo_columns(options: TrainOptions, rows: list[dict]) -> dict:
    return {"odpo_offsets": add_offsets(rows, options.odpo_alpha, options.odpo_default_strength)}


_dpo, _cpo, _orpo = build_dpo_family, cpo_family, orpo_family
SMOOTHING = "label_smoothing"  # ε of our sigmoid/robust loss (and of TRL_SMOOTHED_LOSSES)

METHODS: dict[str, Method] = {
    "dpo": Method(
        "DPO (Rafailov et al. 2023); any TRL loss via --loss-type (sigmoid, ipo, hinge, robust, exo_pair, ...)",
        _dpo,
        pair_loss=_dpo_loss,
        agreement=True,
        check=_check_dpo,
        options=("loss_type", "loss_weights", SMOOTHING),
    ),
    "ipo": Method(
        "IPO (Azar et al. 2023): squared loss toward a 1/(2β) margin, robust to deterministic preferences",
        _dpo,
        trl_loss="ipo",
    ),
    "slic": Method("SLiC-HF hinge loss (Zhao et al. 2023): max(0, 1 − β·h)", _dpo, trl_loss="hinge"),
    "rdpo": Method(
        "robust DPO (Chowdhury et al. 2024): unbiased under label flips at rate --label-smoothing",
        _dpo,
        trl_loss="robust",
        pair_loss=lambda o: PairLoss(epsilon=o.label_smoothing, robust=True),
        agreement=True,
        check=_check_rdpo,
        options=(SMOOTHING,),
    ),
    "dpop": Method(
        "DPO-Positive (Pal et al. 2024): DPO + λ·max(0, log π_ref(y_w) − log π(y_w)) keeps chosen likely",
        _dpo,
        trl_loss="sigmoid",
        pair_loss=lambda o: PairLoss(
            dpop_lambda=o.dpop_lambda, epsilon=o.label_smoothing, robust=o.agreement == "robust"
        ),
        agreement=True,
        options=("dpop_lambda", SMOOTHING),
    ),
    "simpo": Method(
        "SimPO (Meng et al. 2024): reference-free, length-normalised reward, target margin --simpo-gamma",
        _cpo,
        config=lambda o: {"loss_type": "simpo", "cpo_alpha": 0.0, "simpo_gamma": o.simpo_gamma},
        options=("simpo_gamma",),
    ),
    "cpo": Method(
        "CPO (Xu et al. 2024): reference-free sigmoid preference loss + NLL on chosen (--cpo-alpha)",
        _cpo,
        config=lambda o: {"loss_type": "sigmoid", "cpo_alpha": o.cpo_alpha},
        options=("cpo_alpha",),
    ),
    "orpo": Method(
        "ORPO (Hong et al. 2024): NLL + odds-ratio penalty, no reference model, no SFT stage", _orpo
    ),
    "kto": Method(
        "KTO (Ethayarajh et al. 2024): single desirable/undesirable labels, prospect-theory loss",
        build_kto,
        data="completions",
        kinds=(),
        check=_check_kto,
        options=("desirable_weight", "undesirable_weight", "kto_from"),
    ),
    "spin": Method(
        "SPIN (Chen et al. 2024): DPO sigmoid on gold-vs-generated pairs, previous iterate as reference",
        _dpo,
        kinds=("spin",),
        trl_loss="sigmoid",
        pair_loss=_sigmoid,
        agreement=True,
        options=(SMOOTHING,),
    ),
    "odpo": Method(
        "ODPO (Amini et al. 2024): DPO where chosen must win by Δ = α·log(label strength 1-4), --odpo-alpha",
        _dpo,
        trl_loss="sigmoid",
        pair_loss=_sigmoid,
        agreement=True,
        columns=_odpo_columns,
        options=("odpo_alpha", "odpo_default_strength", SMOOTHING),
    ),
    "tdpo1": Method(
        "TDPO1 (Zeng et al. 2024): DPO + token-level sequential KL; reference in memory (copy, or LoRA off)",
        _dpo,
        trl_loss="sigmoid",
        pair_loss=lambda o: PairLoss(epsilon=o.label_smoothing, tdpo=True),
        reference_in_memory=True,
        options=(SMOOTHING,),
    ),
    "tdpo2": Method(
        "TDPO2 (Zeng et al. 2024): TDPO1, KL scaled by --tdpo-alpha, chosen side stop-gradient; ref in memory",
        _dpo,
        trl_loss="sigmoid",
        pair_loss=lambda o: PairLoss(epsilon=o.label_smoothing, tdpo=True, tdpo_alpha=o.tdpo_alpha),
        reference_in_memory=True,
        options=("tdpo_alpha", SMOOTHING),
    ),
    "rm": Method(
        "reward model (Bradley–Terry, TRL's RewardTrainer): --rm-margin strength (Llama 2), --agreement weight; "
        "held-out accuracy by strength; registered as method rm",
        build_reward,
        agreement=True,
        columns=_rm_columns,
        check=_check_rm,
        held_out=HeldOut(load_reward_model, evaluate_pairs, reward_metrics, check_checkpoint),
        whole_sequences=True,
        options=("rm_margin", "rm_from_ratings"),
    ),
    "sft": Method(
        "SFT (TRL's SFTTrainer): the answer's tokens only, on gold answers and labellers' edits (--sft-from); "
        "held-out: mean log p(answer) before/after",
        build_sft,
        data="sft",
        kinds=(),
        check=_check_sft,
        options=("sft_from",),
    ),
    "sdpo": Method(
        "sDPO (Kim et al. 2024): DPO in --sdpo-steps chunks (default: by round), each step's result the next "
        "reference",
        _dpo,
        trl_loss="sigmoid",
        pair_loss=_sigmoid,
        agreement=True,
        stepwise=True,
        check=_check_sdpo,
        options=("sdpo_steps", SMOOTHING),
    ),
}


def method_options() -> dict[str, tuple[str, ...]]:
    """Each method-specific option and the methods that read it."""
    owners: dict[str, tuple[str, ...]] = {}
    for name, method in METHODS.items():
        for option in method.options:
            owners[option] = (*owners.get(option, ()), name)
    return owners


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise PrefloopError(f"--method {name!r}: expected one of {', '.join(METHODS)}")
    return METHODS[name]


def _zero3() -> bool:
    """DeepSpeed ZeRO-3 partitions every weight and gathers it in module hooks, which a recompute that calls a
    norm's forward directly would bypass: no elementwise recompute there (``accelerate launch`` with
    configs/accelerate/zero3.yaml sets this before any model or TRL config exists)."""
    return os.environ.get("ACCELERATE_DEEPSPEED_ZERO_STAGE") == "3"


def build_trainer(options: TrainOptions, b: Build):
    """The TRL trainer for ``options.method`` over ``b.rows`` (TRL's columns). Without gradient checkpointing, the
    model's elementwise work is recomputed in the backward pass instead of kept (`train.recompute`)."""
    method = get_method(options.method)
    if not options.gradient_checkpointing and not _zero3():
        counts = recompute_elementwise(b.model)
        log.info("recomputing in the backward pass: %(norms)d norms, %(mlps)d MLP activations", counts)
    return method.build(options, b, method)
