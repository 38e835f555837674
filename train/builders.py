"""The TRL trainer families a method entry (`train.methods.Method.build`) points at, and what they share: the
TrainingArguments of every run, LoRA, warm-up. Each builder takes (options, `Build`, the method's entry) and
returns a ready TRL trainer; heavy imports (trl, our trainer) happen inside the builders."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data.workspace import Workspace
from train.pairs import kto_loss_weights

if TYPE_CHECKING:
    from train.methods import Method
    from train.options import TrainOptions


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


SHORT_RUN = 20  # optimiser steps below which a run has no warm-up


def rows_per_step(options: TrainOptions) -> int:
    """Rows one optimiser step consumes: batch × accumulation × processes (WORLD_SIZE under accelerate)."""
    return options.batch_size * options.grad_accum * int(os.environ.get("WORLD_SIZE", 1))


def warmup_steps(options: TrainOptions, rows: int) -> int:
    """Linear warm-up steps: --warmup-ratio of the run's steps; none for a run under SHORT_RUN steps, whose first
    step(s) would otherwise train at (near) learning rate 0 — a share of the run it cannot spare."""
    steps = options.max_steps or math.ceil(math.ceil(rows / rows_per_step(options)) * options.epochs)
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


# The ε a TRL loss type takes where --label-smoothing is not given: EXO needs ε > 0, and its paper recommends 1e-3.
DEFAULT_EPSILON = {"exo_pair": 1e-3}


def _loss_types(options: TrainOptions, method: Method) -> list[str]:
    return list(options.loss_type) if method.trl_loss is None else [method.trl_loss]


def label_smoothing(options: TrainOptions, method: Method) -> tuple[float, str | None]:
    """The one ε every pair's loss takes (TRL's label_smoothing, our loss's ε) and the loss type whose default
    gave it (`DEFAULT_EPSILON`), None where --label-smoothing gave it or nothing sets one (ε 0)."""
    if options.label_smoothing is not None or method.build is not build_dpo_family:
        return options.label_smoothing or 0.0, None
    for name in _loss_types(options, method):
        if name in DEFAULT_EPSILON:
            return DEFAULT_EPSILON[name], name
    return 0.0, None


# -- trainer families ---------------------------------------------------------------------------------------
def build_dpo_family(options: TrainOptions, b: Build, method: Method):
    from trl import DPOConfig

    from train.trainer import PAIR_COLUMNS, PairCollator, PreferenceTrainer, RefCache

    args = DPOConfig(
        **common_args(options, b),
        beta=options.beta,
        loss_type=_loss_types(options, method),
        loss_weights=list(options.loss_weights) if options.loss_weights else None,
        label_smoothing=label_smoothing(options, method)[0],
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

    weights = kto_loss_weights(options.desirable_weight, options.undesirable_weight, b.rows)
    args = KTOConfig(
        **common_args(options, b),
        beta=options.beta,
        desirable_weight=weights["desirable"],
        undesirable_weight=weights["undesirable"],
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


def build_sft(options: TrainOptions, b: Build, method: Method):
    """TRL's SFTTrainer on conversational prompt-completion rows: the loss is on the answer's tokens only
    (``completion_only_loss``), the prompt rendered with the chat template's generation prompt, as evaluation does."""
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(**common_args(options, b), completion_only_loss=True)
    return SFTTrainer(
        model=b.model,
        args=args,
        train_dataset=_dataset(b.rows, ("prompt", "completion")),
        processing_class=b.tokenizer,
        peft_config=peft_config(options),
    )


def _reference_free(classes: Callable[[], tuple]):
    """A builder for TRL's reference-free trainers (CPO/SimPO, ORPO), from (Config, Trainer) ``classes``."""

    def build(options: TrainOptions, b: Build, method: Method):
        config_cls, trainer_cls = classes()
        # TRL's collator for these needs the columns kept: it turns the flag off itself, and warns the user to set
        # it "in your TrainingArguments", which a user of `train` has no way to do
        args = config_cls(
            **common_args(options, b),
            beta=options.beta,
            remove_unused_columns=False,
            **method.config(options),
        )
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


cpo_family, orpo_family = _reference_free(_cpo_classes), _reference_free(_orpo_classes)
