"""`train(options)`: one training run from workspace labels to a registered model with its report.

The steps: read rows through `data` → evaluate the start model on held-out rows → build the TRL trainer for the
method → train (resumable) → save model, tokenizer, config → evaluate again → metrics JSON, plots, report →
register the model in the workspace manifest (parent, data, method, metrics).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from pathlib import Path

import torch

from data.lineage import NEWEST, find_or_register, newest_model
from data.provision import resolve_model
from data.records import ModelRecord, random_id
from data.workspace import Workspace
from train.evaluate import kto_metrics, pair_logps, preference_metrics, sequence_logps
from train.losses import STRENGTHS
from train.options import DEFAULT_KINDS, DPO_LOSS_OF, METHODS, TrainOptions
from train.pairs import TrainDataError, add_agreement, add_offsets, kto_rows, kto_weights, preference_rows
from train.report import write_report

log = logging.getLogger(__name__)

DPO_FAMILY = tuple(DPO_LOSS_OF)
# Methods whose per-pair loss takes --agreement's ε or weights.
AGREEMENT_METHODS = ("dpo", "dpop", "spin", "rdpo", "odpo", "sdpo")
TDPO = ("tdpo1", "tdpo2")
SMALL_MODEL_PARAMS = 50_000_000  # below this, one CPU thread beats two (measured: 10-20x on hidden-64 models)


def _csv(text: str | None, cast=str) -> tuple | None:
    return None if text is None else tuple(cast(x.strip()) for x in text.split(",") if x.strip())


def check_options(options: TrainOptions) -> None:
    """Every option error before anything is loaded or written."""
    if options.method not in METHODS:
        raise ValueError(f"--method {options.method!r}: expected one of {', '.join(METHODS)}")
    if options.beta <= 0:
        raise ValueError(f"--beta {options.beta}: must be > 0")
    if not 0 <= options.label_smoothing < 0.5:
        raise ValueError(f"--label-smoothing {options.label_smoothing}: must be in [0, 0.5)")
    if options.batch_size < 1 or options.grad_accum < 1:
        raise ValueError("--batch-size and --grad-accum must be >= 1")
    if options.method == "kto" and options.batch_size < 2:
        raise ValueError("--method kto needs --batch-size >= 2 (its KL estimate uses the batch's other rows)")
    if options.agreement != "off" and options.method not in AGREEMENT_METHODS:
        raise ValueError(
            f"--agreement {options.agreement}: applies to the sigmoid DPO family ({', '.join(AGREEMENT_METHODS)})"
        )
    if options.agreement != "off" and options.method == "dpo" and options.loss_type != "sigmoid":
        raise ValueError("--agreement needs --loss-type sigmoid (it defines its own per-pair loss)")
    if options.loss_weights and len(_csv(options.loss_weights)) != len(_csv(options.loss_type)):
        raise ValueError("--loss-weights needs one weight per --loss-type")
    if options.odpo_alpha < 0:
        raise ValueError(f"--odpo-alpha {options.odpo_alpha}: must be >= 0")
    if not STRENGTHS[0] <= options.odpo_default_strength <= STRENGTHS[1]:
        raise ValueError(f"--odpo-default-strength {options.odpo_default_strength}: must be in [1, 4]")
    if options.tdpo_alpha <= 0:
        raise ValueError(f"--tdpo-alpha {options.tdpo_alpha}: must be > 0")
    if options.sdpo_steps == 1 or options.sdpo_steps < 0:
        raise ValueError(f"--sdpo-steps {options.sdpo_steps}: must be 0 (by round) or >= 2")
    if options.method == "sdpo" and options.resume:
        raise ValueError("--method sdpo does not take --resume (each step is a run of its own; start again)")


def _out_dir(options: TrainOptions, workspace: Workspace) -> Path:
    out = options.out or workspace.path / "runs" / f"{options.method}-{random_id()[:8]}"
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (options.resume or options.overwrite):
        raise ValueError(
            f"{out}: output folder is not empty (pass --resume to continue, --overwrite to replace)"
        )
    return out


def _set_threads(options: TrainOptions, params: int) -> None:
    if torch.cuda.is_available():
        return
    if options.threads:
        torch.set_num_threads(options.threads)
    elif params < SMALL_MODEL_PARAMS:
        torch.set_num_threads(1)


def _use_bf16(options: TrainOptions) -> bool:
    if options.bf16 == "auto":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return options.bf16 == "on"


def _common_args(options: TrainOptions, out: Path, bf16: bool) -> dict:
    return dict(
        output_dir=str(out),
        per_device_train_batch_size=options.batch_size,
        per_device_eval_batch_size=options.batch_size,
        gradient_accumulation_steps=options.grad_accum,
        learning_rate=options.learning_rate,
        num_train_epochs=options.epochs,
        max_steps=options.max_steps or -1,
        warmup_steps=options.warmup_ratio,  # a float in [0, 1) is a share of the steps
        lr_scheduler_type="linear",
        logging_steps=1,
        save_strategy="steps",
        save_steps=options.save_steps,
        save_total_limit=1,
        report_to=[],
        seed=options.seed,
        bf16=bf16,
        gradient_checkpointing=options.gradient_checkpointing,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        max_length=options.max_length,
        disable_tqdm=not os.isatty(2),
    )


def _peft_config(options: TrainOptions):
    if not options.lora_r:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=options.lora_r,
        lora_alpha=options.lora_alpha,
        lora_dropout=options.lora_dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


def _columns(rows: list[dict], names: tuple[str, ...]):
    from datasets import Dataset

    return Dataset.from_list([{k: r[k] for k in names if k in r} for r in rows])


def build_trainer(options, model, tokenizer, rows, out, bf16, workspace, extra_columns=()):
    """The TRL trainer for ``options.method`` over ``rows`` (TRL's columns)."""
    common = _common_args(options, out, bf16)
    peft_config = _peft_config(options)
    method = options.method
    if method in DPO_FAMILY:
        from trl import DPOConfig

        from train.trainer import PairCollator, PreferenceTrainer, RefCache

        loss_type = list(_csv(options.loss_type)) if method == "dpo" else [DPO_LOSS_OF[method]]
        # Sigmoid and robust losses (and DPOP, agreement) run our per-pair loss on a compact LM head
        # (train.trainer.completion_logps); every other TRL loss type runs TRL's own loss.
        custom = None
        if loss_type in (["sigmoid"], ["robust"]):
            custom = {
                "dpop_lambda": options.dpop_lambda if method == "dpop" else 0.0,
                "robust": loss_type == ["robust"] or options.agreement == "robust",
                "epsilon": options.label_smoothing,
                "tdpo": method in TDPO,
                "tdpo_alpha": options.tdpo_alpha if method == "tdpo2" else None,
            }
        args = DPOConfig(
            **common,
            beta=options.beta,
            loss_type=loss_type,
            loss_weights=list(_csv(options.loss_weights, float)) if options.loss_weights else None,
            # EXO needs ε > 0; its paper recommends 1e-3.
            label_smoothing=options.label_smoothing or (1e-3 if "exo_pair" in loss_type else 0.0),
            # The reference runs once, never beside the policy in memory; but TDPO compares per-token
            # distributions, so it keeps a reference in memory (PreferenceTrainer) and scores it live.
            precompute_ref_log_probs=method not in TDPO,
        )
        tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
        model.config.pad_token_id = tokenizer.pad_token_id
        collator = PairCollator(
            pad_token_id=tokenizer.pad_token_id,
            max_length=args.max_length,
            truncation_mode=args.truncation_mode,
        )
        names = ("prompt", "chosen", "rejected", "ref_key", "pair_id", *extra_columns)
        return PreferenceTrainer(
            model=model,
            args=args,
            data_collator=collator,
            train_dataset=_columns(rows, names),
            processing_class=tokenizer,
            peft_config=peft_config,
            custom_loss=custom,
            ref_cache=RefCache(workspace) if options.ref_cache else None,
            cache_tag=f"lora{options.lora_r}",
        )
    if method == "kto":
        from trl import KTOConfig, KTOTrainer

        good = sum(r["label"] for r in rows)
        weights = kto_weights(good, len(rows) - good)
        args = KTOConfig(
            **common,
            beta=options.beta,
            desirable_weight=options.desirable_weight or weights[0],
            undesirable_weight=options.undesirable_weight or weights[1],
        )
        return KTOTrainer(
            model=model,
            args=args,
            train_dataset=_columns(rows, ("prompt", "completion", "label")),
            processing_class=tokenizer,
            peft_config=peft_config,
        )
    if method in ("simpo", "cpo"):
        from trl.experimental.cpo import CPOConfig, CPOTrainer

        extra = {"loss_type": "simpo", "cpo_alpha": 0.0, "simpo_gamma": options.simpo_gamma}
        if method == "cpo":
            extra = {"loss_type": "sigmoid", "cpo_alpha": options.cpo_alpha}
        args = CPOConfig(**common, beta=options.beta, **extra)
        trainer_cls = CPOTrainer
    else:  # orpo
        from trl.experimental.orpo import ORPOConfig, ORPOTrainer

        args = ORPOConfig(**common, beta=options.beta)
        trainer_cls = ORPOTrainer
    return trainer_cls(
        model=model,
        args=args,
        train_dataset=_columns(rows, ("prompt", "chosen", "rejected")),
        processing_class=tokenizer,
        peft_config=peft_config,
    )


def _rows(options: TrainOptions, workspace: Workspace, eval_rounds: tuple[int, ...] | None = None):
    """(train rows, eval rows, eval-split name, counts) for the method; ``eval_rounds`` narrows the held-out rows."""
    if options.method == "kto":
        train_rows, counts = kto_rows(workspace, "train", options.seed)
        eval_rows, _ = kto_rows(workspace, "test", options.seed)
        what = "completions labelled desirable/undesirable"
    else:
        kinds = _csv(options.kinds) or tuple(DEFAULT_KINDS.get(options.method, "sampled,imported").split(","))
        rounds = _csv(options.rounds, int)
        train_rows, counts = preference_rows(workspace, "train", kinds, rounds)
        eval_rows, _ = preference_rows(workspace, "test", kinds, eval_rounds or rounds)
        what = f"labelled pairs of kind {','.join(kinds)}" + (
            f" in rounds {options.rounds}" if rounds else ""
        )
    if not train_rows:
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v) or "the workspace has none"
        raise TrainDataError(f"{workspace.path}: no {what} to train on in split train ({detail})")
    split = "test"
    if not eval_rows:  # no held-out split: report on (a sample of) the training rows, and say so
        eval_rows, split = train_rows, "train"
    if options.eval_limit:
        eval_rows = eval_rows[: options.eval_limit]
    return train_rows, eval_rows, split, counts


def _evaluate(options, model, tokenizer, rows) -> dict:
    batch = max(1, options.batch_size)
    if options.method == "kto":
        logps = sequence_logps(
            model,
            tokenizer,
            [r["prompt"] for r in rows],
            [r["completion"] for r in rows],
            batch,
            options.max_length,
        )
        return {"logps": logps}
    chosen, rejected = pair_logps(model, tokenizer, rows, batch, options.max_length)
    return {"chosen": chosen, "rejected": rejected}


def _metrics(options, before: dict, after: dict, rows) -> dict:
    if options.method == "kto":
        labels = [r["label"] for r in rows]
        return kto_metrics(before["logps"], after["logps"], labels, options.beta)
    return preference_metrics(
        before["chosen"], before["rejected"], after["chosen"], after["rejected"], options.beta
    )


def model_path(model: str, workspace: Workspace) -> Path:
    """The start model's folder: ``newest`` is the newest model in the workspace manifest."""
    if model == NEWEST:
        return Path(newest_model(workspace).path)
    return Path(resolve_model(model)).resolve()


def drop_partial_checkpoints(out: Path) -> list[Path]:
    """Remove checkpoints a kill interrupted mid-save (the trainer writes trainer_state.json last)."""
    partial = [c for c in out.glob("checkpoint-*") if not (c / "trainer_state.json").is_file()]
    for checkpoint in partial:
        log.warning("%s: incomplete checkpoint (killed while saving), removed", checkpoint)
        shutil.rmtree(checkpoint, ignore_errors=True)  # every rank of a distributed run may try
    return partial


def _save(trainer, tokenizer, out: Path, lora: bool):
    """Write the final model (gathered from all ranks under DDP/ZeRO/FSDP); returns it on the main process."""
    if lora:
        model = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()  # plain folder for vLLM
        if trainer.is_world_process_zero():
            model.save_pretrained(out, safe_serialization=True)
    else:
        trainer.save_model(str(out))
        model = trainer.accelerator.unwrap_model(trainer.model)
    trainer.accelerator.wait_for_everyone()
    if not trainer.is_world_process_zero():
        return None
    tokenizer.save_pretrained(out)
    for checkpoint in out.glob("checkpoint-*"):
        shutil.rmtree(checkpoint, ignore_errors=True)
    if trainer.accelerator.num_processes > 1:  # sharded in memory: evaluate the gathered copy
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).to(trainer.accelerator.device)
    return model


def train(options: TrainOptions, eval_rounds: tuple[int, ...] | None = None) -> dict:
    """Run one training job as ``options`` say; returns the manifest entry (as a dict) with its metrics.

    ``eval_rounds``: evaluate on held-out pairs of these rounds only (the SPIN driver trains on two rounds and
    evaluates on the newest); default: the rounds trained on.
    """
    check_options(options)
    workspace = Workspace(options.workspace)
    start = model_path(options.model, workspace)
    train_rows, eval_rows, eval_split, counts = _rows(options, workspace, eval_rounds)
    notes = {**_pair_columns(options, train_rows), "data_counts": dict(counts)}
    out = _out_dir(options, workspace)
    if options.method == "sdpo":  # its steps are runs of train_once
        from train.stepwise import train_stepwise

        return train_stepwise(options, start, workspace, train_rows, (eval_rows, eval_split), out, notes)
    result, _ = train_once(options, start, workspace, train_rows, (eval_rows, eval_split), out, notes)
    return result


def _pair_columns(options: TrainOptions, rows: list[dict]) -> dict:
    """Attach the per-pair loss columns (``--agreement``, ODPO offsets) to ``rows``; their summaries for metrics."""
    if options.method == "kto":
        return {"agreement": {"mode": "off"}}
    notes = {"agreement": add_agreement(rows, options.agreement)}
    if options.method == "odpo":
        notes["odpo_offsets"] = add_offsets(rows, options.odpo_alpha, options.odpo_default_strength)
    return notes


def train_once(
    options: TrainOptions,
    start: Path,
    workspace: Workspace,
    train_rows: list[dict],
    evaluation: tuple[list[dict], str],
    out: Path,
    notes: dict,
    before: dict | None = None,
) -> tuple[dict, dict]:
    """Train ``start`` on ``train_rows`` into ``out`` and register it; returns (the manifest entry with its
    metrics, the start and trained models' evaluations {"before", "after"}). ``notes`` go into the metrics as they
    are; ``before`` is the start model's evaluation where it is already known."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    eval_rows, eval_split = evaluation
    started = time.time()
    tokenizer = AutoTokenizer.from_pretrained(start)
    model = AutoModelForCausalLM.from_pretrained(start, dtype=torch.float32)
    _set_threads(options, sum(p.numel() for p in model.parameters()))
    bf16 = _use_bf16(options)
    if torch.cuda.is_available():
        model.to(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}")
    if before is None:
        log.info("evaluating the start model on %d %s rows", len(eval_rows), eval_split)
        before = _evaluate(options, model, tokenizer, eval_rows)

    extra = tuple(k for k in ("pair_weight", "pair_epsilon", "pair_offset") if k in train_rows[0])
    trainer = build_trainer(options, model, tokenizer, train_rows, out, bf16, workspace, extra)
    if options.resume:
        drop_partial_checkpoints(out)
    checkpoint = options.resume and any(out.glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=True if checkpoint else None)
    trained = _save(trainer, tokenizer, out, bool(options.lora_r))
    if trained is None:  # not the main process of a distributed run: it reports and registers
        return {"id": None, "path": str(out), "method": options.method, "metrics": {}}, {}
    after = _evaluate(options, trained, tokenizer, eval_rows)

    metrics = {
        "eval_split": eval_split,
        **_metrics(options, before, after, eval_rows),
        "train_rows": len(train_rows),
        "steps": trainer.state.global_step,
        "final_loss": next((h["loss"] for h in reversed(trainer.state.log_history) if "loss" in h), None),
        "seconds": round(time.time() - started, 1),
        **notes,
    }
    if getattr(trainer, "ref_cache", None):
        metrics["reference_cache"] = trainer.cache_stats
    parent = find_or_register(workspace, start) if options.register else None
    record = ModelRecord(
        path=str(out.resolve()),
        method=options.method,
        round=options.round if options.round is not None else (parent.round if parent else 0) + 1,
        parent_id=parent.id if parent else None,
        data=json.dumps(_data_summary(options, train_rows)),
        metrics=json.dumps(metrics),
    )
    config = {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(options).items()}
    write_report(out, record, metrics, config, trainer.state.log_history)
    if options.register:
        workspace.append([record])
    return {**dataclasses.asdict(record), "metrics": metrics}, {"before": before, "after": after}


def _data_summary(options: TrainOptions, rows: list[dict]) -> dict:
    if options.method == "kto":
        return {"split": "train", "completion_ids": [r["completion_id"] for r in rows]}
    return {
        "split": "train",
        "kinds": sorted({r["kind"] for r in rows}),
        "rounds": sorted({r["round"] for r in rows}),
        "pair_ids": [r["pair_id"] for r in rows],
    }
