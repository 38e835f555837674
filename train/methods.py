"""The method registry: every training method is one `Method` entry in `METHODS`.

An entry says which TRL trainer family builds it (`build`), which rows it reads (`data`: preference pairs or KTO
completions) and of which pair kinds, its TRL loss type or our per-pair loss options (`pair_loss`, typed:
`train.losses.PairLoss`), whether it takes `--agreement`, per-pair columns it adds (`columns`), whether it runs
step-wise (sDPO), how its model is loaded and measured when it is not a causal LM (`held_out`: the reward model),
and its own option checks. Adding a method is adding one entry here (and its loss function in
`train.losses` if TRL has none). Heavy imports (trl, the trainer) happen inside the builders.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data.errors import PrefloopError
from data.workspace import Workspace
from train.losses import PairLoss
from train.pairs import add_offsets, kto_weights
from train.reward import RM_MARGINS, add_margins, evaluate_pairs, load_reward_model, reward_metrics

if TYPE_CHECKING:
    from train.options import TrainOptions

PAIR_KINDS = ("sampled", "imported")  # what a pairwise method trains on unless --kinds says otherwise
OUR_LOSS_TYPES = (("sigmoid",), ("robust",))  # dpo --loss-type values that run our per-pair loss


@dataclass(frozen=True)
class Build:
    """What a builder gets besides the options: the loaded model and tokenizer, the rows in TRL's columns."""

    model: Any
    tokenizer: Any
    rows: list[dict]
    out: Path
    bf16: bool
    workspace: Workspace
    eval_rows: list[dict] | None = None  # held-out rows for the learning curve (--eval-steps)


@dataclass(frozen=True)
class HeldOut:
    """How a method's model is loaded and evaluated when it is not a causal LM measured by log-probs."""

    load: Callable[[Path, Any], Any]  # (folder, tokenizer) -> model
    evaluate: Callable[[Any, Any, list[dict], int, int], dict]  # (model, tokenizer, rows, batch, max length)
    compare: Callable[[dict, dict, list[dict]], dict]  # (before, after, rows) -> held-out metrics


@dataclass(frozen=True)
class Method:
    help: str
    build: Callable[[TrainOptions, Build, Method], Any]
    data: str = "pairs"  # "pairs": chosen/rejected rows; "completions": KTO's desirable/undesirable rows
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


SHORT_RUN = 20  # optimiser steps below which a run has no warm-up


def warmup_steps(options: TrainOptions, rows: int) -> int:
    """Linear warm-up steps: --warmup-ratio of the run's steps; none for a run under SHORT_RUN steps, whose first
    step(s) would otherwise train at (near) learning rate 0 — a share of the run it cannot spare."""
    per_step = options.batch_size * options.grad_accum * int(os.environ.get("WORLD_SIZE", 1))
    steps = options.max_steps or math.ceil(math.ceil(rows / per_step) * options.epochs)
    return int(options.warmup_ratio * steps) if steps >= SHORT_RUN else 0


def common_args(options: TrainOptions, b: Build) -> dict:
    """TrainingArguments shared by every method."""
    import torch

    curve = bool(options.eval_steps and b.eval_rows)
    return dict(
        output_dir=str(b.out),
        per_device_train_batch_size=options.batch_size,
        per_device_eval_batch_size=options.batch_size,
        gradient_accumulation_steps=options.grad_accum,
        learning_rate=options.learning_rate,
        num_train_epochs=options.epochs,
        max_steps=options.max_steps or -1,
        warmup_steps=warmup_steps(options, len(b.rows)),
        lr_scheduler_type="linear",
        logging_steps=1,
        save_strategy="steps",
        save_steps=options.save_steps,
        save_total_limit=1,
        report_to=[],
        seed=options.seed,
        bf16=b.bf16,
        eval_strategy="steps" if curve else "no",
        eval_steps=options.eval_steps or None,
        gradient_checkpointing=options.gradient_checkpointing,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        max_length=options.max_length,
        disable_tqdm=not os.isatty(2),
    )


def peft_config(options: TrainOptions, task_type: str = "CAUSAL_LM"):
    if not options.lora_r:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=options.lora_r,
        lora_alpha=options.lora_alpha,
        lora_dropout=options.lora_dropout,
        target_modules="all-linear",
        task_type=task_type,  # SEQ_CLS (reward model): peft also trains and saves the new score head
    )


def _dataset(rows: list[dict], names: tuple[str, ...]):
    from datasets import Dataset

    return Dataset.from_list([{k: r[k] for k in names if k in r} for r in rows])


# -- trainer families ---------------------------------------------------------------------------------------
def build_dpo_family(options: TrainOptions, b: Build, method: Method):
    from trl import DPOConfig

    from train.trainer import PAIR_COLUMNS, PairCollator, PreferenceTrainer, RefCache

    loss_type = list(options.loss_type) if method.trl_loss is None else [method.trl_loss]
    args = DPOConfig(
        **common_args(options, b),
        beta=options.beta,
        loss_type=loss_type,
        loss_weights=list(options.loss_weights) if options.loss_weights else None,
        # EXO needs ε > 0; its paper recommends 1e-3.
        label_smoothing=options.label_smoothing or (1e-3 if "exo_pair" in loss_type else 0.0),
        # The reference runs once, never beside the policy in memory; TDPO compares per-token distributions, so it
        # keeps a reference in memory (PreferenceTrainer) and scores it live.
        precompute_ref_log_probs=not method.reference_in_memory,
    )
    b.tokenizer.pad_token = b.tokenizer.pad_token or b.tokenizer.eos_token
    b.model.config.pad_token_id = b.tokenizer.pad_token_id
    collator = PairCollator(
        pad_token_id=b.tokenizer.pad_token_id,
        max_length=args.max_length,
        truncation_mode=args.truncation_mode,
    )
    extra = tuple(k for k in PAIR_COLUMNS if k in b.rows[0])
    columns = ("prompt", "chosen", "rejected", "ref_key", "pair_id", *extra)
    return PreferenceTrainer(
        model=b.model,
        args=args,
        data_collator=collator,
        train_dataset=_dataset(b.rows, columns),
        eval_dataset=_dataset(b.eval_rows, columns) if options.eval_steps and b.eval_rows else None,
        processing_class=b.tokenizer,
        peft_config=peft_config(options),
        custom_loss=method.pair_loss(options) if method.pair_loss else None,
        ref_cache=RefCache(b.workspace) if options.ref_cache else None,
        cache_tag=f"lora{options.lora_r}",
    )


def build_kto(options: TrainOptions, b: Build, method: Method):
    from trl import KTOConfig, KTOTrainer

    good = sum(r["label"] for r in b.rows)
    weights = kto_weights(good, len(b.rows) - good)
    args = KTOConfig(
        **common_args(options, b),
        beta=options.beta,
        desirable_weight=options.desirable_weight or weights[0],
        undesirable_weight=options.undesirable_weight or weights[1],
    )
    return KTOTrainer(
        model=b.model,
        args=args,
        train_dataset=_dataset(b.rows, ("prompt", "completion", "label")),
        processing_class=b.tokenizer,
        peft_config=peft_config(options),
    )


def build_reward(options: TrainOptions, b: Build, method: Method):
    from trl import RewardConfig

    from train.reward import make_reward_trainer
    from train.seam import RewardCollator

    args = RewardConfig(**common_args(options, b))
    b.tokenizer.pad_token = b.tokenizer.pad_token or b.tokenizer.eos_token
    b.model.config.pad_token_id = b.tokenizer.pad_token_id
    return make_reward_trainer(
        model=b.model,
        args=args,
        data_collator=RewardCollator(pad_token_id=b.tokenizer.pad_token_id),
        train_dataset=_dataset(b.rows, ("prompt", "chosen", "rejected", "margin", "pair_weight")),
        processing_class=b.tokenizer,
        peft_config=peft_config(options, "SEQ_CLS"),
    )


def _reference_free(classes: Callable[[], tuple]):
    """A builder for TRL's reference-free trainers (CPO/SimPO, ORPO), from (Config, Trainer) ``classes``."""

    def build(options: TrainOptions, b: Build, method: Method):
        config_cls, trainer_cls = classes()
        args = config_cls(**common_args(options, b), beta=options.beta, **method.config(options))
        return trainer_cls(
            model=b.model,
            args=args,
            train_dataset=_dataset(b.rows, ("prompt", "chosen", "rejected")),
            processing_class=b.tokenizer,
            peft_config=peft_config(options),
        )

    return build


def _cpo_classes():
    from train.seam import cpo_classes

    return cpo_classes()


def _orpo_classes():
    from train.seam import orpo_classes

    return orpo_classes()


# -- per-method loss options and checks ---------------------------------------------------------------------
def _sigmoid(options: TrainOptions) -> PairLoss:
    return PairLoss(epsilon=options.label_smoothing, robust=options.agreement == "robust")


def _dpo_loss(options: TrainOptions) -> PairLoss | None:
    if options.loss_type not in OUR_LOSS_TYPES:
        return None  # ipo, hinge, exo_pair, combinations: TRL's own loss
    robust = options.loss_type == ("robust",) or options.agreement == "robust"
    return PairLoss(epsilon=options.label_smoothing, robust=robust)


def _check_dpo(options: TrainOptions) -> None:
    if options.agreement != "off" and options.loss_type not in OUR_LOSS_TYPES:
        raise PrefloopError(
            "--agreement needs --loss-type sigmoid or robust (it is a per-pair term of our loss)"
        )
    if options.machine_weight != 1 and options.loss_type not in OUR_LOSS_TYPES:
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


def _check_kto(options: TrainOptions) -> None:
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
    if options.rm_margin not in RM_MARGINS:
        raise PrefloopError(f"--rm-margin {options.rm_margin!r}: expected one of {', '.join(RM_MARGINS)}")


def _rm_columns(options: TrainOptions, rows: list[dict]) -> dict:
    return {"margins": add_margins(rows, options.rm_margin)}


def _odpo_columns(options: TrainOptions, rows: list[dict]) -> dict:
    return {"odpo_offsets": add_offsets(rows, options.odpo_alpha, options.odpo_default_strength)}


_dpo, _cpo, _orpo = build_dpo_family, _reference_free(_cpo_classes), _reference_free(_orpo_classes)

METHODS: dict[str, Method] = {
    "dpo": Method(
        "DPO (Rafailov et al. 2023); any TRL loss via --loss-type (sigmoid, ipo, hinge, robust, exo_pair, ...)",
        _dpo,
        pair_loss=_dpo_loss,
        agreement=True,
        check=_check_dpo,
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
    ),
    "dpop": Method(
        "DPO-Positive (Pal et al. 2024): DPO + λ·max(0, log π_ref(y_w) − log π(y_w)) keeps chosen likely",
        _dpo,
        trl_loss="sigmoid",
        pair_loss=lambda o: PairLoss(
            dpop_lambda=o.dpop_lambda, epsilon=o.label_smoothing, robust=o.agreement == "robust"
        ),
        agreement=True,
    ),
    "simpo": Method(
        "SimPO (Meng et al. 2024): reference-free, length-normalised reward, target margin --simpo-gamma",
        _cpo,
        config=lambda o: {"loss_type": "simpo", "cpo_alpha": 0.0, "simpo_gamma": o.simpo_gamma},
    ),
    "cpo": Method(
        "CPO (Xu et al. 2024): reference-free sigmoid preference loss + NLL on chosen (--cpo-alpha)",
        _cpo,
        config=lambda o: {"loss_type": "sigmoid", "cpo_alpha": o.cpo_alpha},
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
    ),
    "spin": Method(
        "SPIN (Chen et al. 2024): DPO sigmoid on gold-vs-generated pairs, previous iterate as reference",
        _dpo,
        kinds=("spin",),
        trl_loss="sigmoid",
        pair_loss=_sigmoid,
        agreement=True,
    ),
    "odpo": Method(
        "ODPO (Amini et al. 2024): DPO where chosen must win by Δ = α·log(label strength 1-4), --odpo-alpha",
        _dpo,
        trl_loss="sigmoid",
        pair_loss=_sigmoid,
        agreement=True,
        columns=_odpo_columns,
    ),
    "tdpo1": Method(
        "TDPO1 (Zeng et al. 2024): DPO + token-level sequential KL; reference in memory (copy, or LoRA off)",
        _dpo,
        trl_loss="sigmoid",
        pair_loss=lambda o: PairLoss(epsilon=o.label_smoothing, tdpo=True),
        reference_in_memory=True,
    ),
    "tdpo2": Method(
        "TDPO2 (Zeng et al. 2024): TDPO1, KL scaled by --tdpo-alpha, chosen side stop-gradient; ref in memory",
        _dpo,
        trl_loss="sigmoid",
        pair_loss=lambda o: PairLoss(epsilon=o.label_smoothing, tdpo=True, tdpo_alpha=o.tdpo_alpha),
        reference_in_memory=True,
    ),
    "rm": Method(
        "reward model (Bradley–Terry, TRL's RewardTrainer): --rm-margin strength (Llama 2), --agreement weight; "
        "held-out accuracy by strength; registered as method rm",
        build_reward,
        agreement=True,
        columns=_rm_columns,
        check=_check_rm,
        held_out=HeldOut(load_reward_model, evaluate_pairs, reward_metrics),
        whole_sequences=True,
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
    ),
}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise PrefloopError(f"--method {name!r}: expected one of {', '.join(METHODS)}")
    return METHODS[name]


def build_trainer(options: TrainOptions, b: Build):
    """The TRL trainer for ``options.method`` over ``b.rows`` (TRL's columns)."""
    method = get_method(options.method)
    return method.build(options, b, method)
