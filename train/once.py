"""One training run: load the start model, evaluate it on held-out rows, build the method's TRL trainer, train
(resumable), save, evaluate again, write the report and register the model."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch

from data.workspace import Workspace
from train.evaluate import compare, evaluate_rows, write_held_out
from train.methods import Build, build_trainer, get_method
from train.options import TrainOptions
from train.out_folder import check_own_folders, is_main_process, run_config
from train.report import write_report
from train.saving import (
    check_checkpoint,
    check_resumable,
    drop_partial_checkpoints,
    load_tokenizer,
    model_record,
    newest_checkpoint,
    read_trained,
    register_once,
    resume_point,
    save_model,
    write_trained,
)
from train.seam import load_pretrained

log = logging.getLogger(__name__)

SMALL_MODEL_PARAMS = 50_000_000  # below this, one CPU thread beats two (measured: 10-20x on hidden-64 models)


def _set_threads(options: TrainOptions, params: int) -> None:
    if torch.cuda.is_available():
        return
    if options.threads:
        torch.set_num_threads(options.threads)
    elif params < SMALL_MODEL_PARAMS:
        torch.set_num_threads(1)


def cpu_has_bf16() -> bool:
    """A CPU with native bf16 arithmetic (AVX512-BF16 or AMX), where autocast cuts a DPO step by about a third."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def use_bf16(options: TrainOptions) -> bool:
    """bf16 autocast (fp32 master weights): ``auto`` turns it on for CUDA GPUs and CPUs that compute in bf16
    natively (tests/test_train_fit.py checks that the learning curve matches fp32's; RESULTS.md the speed)."""
    if options.bf16 == "auto":
        if torch.cuda.is_available():
            return torch.cuda.is_bf16_supported()
        return cpu_has_bf16()
    return options.bf16 == "on"


def evaluate(options: TrainOptions, model, tokenizer, rows: list[dict]) -> dict:
    """The held-out log-probs of ``rows`` under ``model`` (see `train.evaluate.evaluate_rows`), or the method's
    own measure (a reward model's scores)."""
    method, batch = get_method(options.method), max(1, options.batch_size)
    if method.held_out:
        return method.held_out.evaluate(model, tokenizer, rows, batch, options.max_length)
    return evaluate_rows(method.data, model, tokenizer, rows, batch, options.max_length)


def held_out_metrics(options: TrainOptions, before: dict, after: dict, rows: list[dict]) -> dict:
    method = get_method(options.method)
    if method.held_out:
        return method.held_out.compare(before, after, rows)
    return compare(method.data, before, after, rows, options.beta)


def train_once(
    options: TrainOptions,
    start: Path,
    workspace: Workspace,
    train_rows: list[dict],
    evaluation: tuple[list[dict], str],
    out: Path,
    notes: dict,
    before: dict | None = None,
    claim: Callable[[], None] | None = None,
    own: tuple[Path, ...] = (),
) -> tuple[dict, dict]:
    """Train ``start`` on ``train_rows`` into ``out`` and register it; returns (the manifest entry with its
    metrics, the start and trained models' evaluations {"before", "after"}). ``notes`` go into the metrics as they
    are; ``before`` is the start model's evaluation where it is already known; ``claim`` (`train.run`'s: the run's
    folder made its own) is called once the start model has loaded, before anything is written: a start model
    refused as it loads (weights that do not match its config.json) leaves the folder as it was. ``own``: the
    folders of ``out`` prefloop named (`train.out_folder.own_folders`), refused where a link was swapped in for one
    before each checkpoint, the final save and the report (`check_own_folders`)."""
    eval_rows, eval_split = evaluation
    started = time.time()
    tokenizer = load_tokenizer(start, options.chat_template)
    model = _load_model(options, start, tokenizer)
    if claim is not None:
        claim()
    _set_threads(options, sum(p.numel() for p in model.parameters()))
    bf16 = use_bf16(options)
    if torch.cuda.is_available():
        model = _to_device(model)
    if before is None:
        log.info("evaluating the start model on %d %s rows", len(eval_rows), eval_split)
        before = evaluate(options, model, tokenizer, eval_rows)

    saved = read_trained(out) if options.resume else None
    if saved is None:
        build = Build(model, tokenizer, train_rows, out, bf16, workspace, eval_rows)
        trained, run, cache, record_id = _train_and_record(options, build, notes, own)
    else:  # killed after the final save, before its report: evaluate the saved model, no training
        del model
        trained, run = _reload_reported(options, out, tokenizer, saved, notes)
        cache, record_id = None, saved["record_id"]
    if trained is None:  # not the main process of a distributed run: it reports and registers
        return {"id": None, "path": str(out), "method": options.method, "metrics": {}}, {}
    after = evaluate(options, trained, tokenizer, eval_rows)

    metrics = _run_metrics(options, run, (before, after, evaluation), started, saved is not None, cache)
    check_own_folders(own)  # before the report, and the record that names where ``out`` leads
    record = model_record(options, workspace, start, out, run["data"], metrics, record_id)
    write_held_out(out, eval_rows, before, after)
    if options.register:
        register_once(workspace, record)
    # metrics.json last: the run is finished
    write_report(out, record, metrics, run_config(options), run["log_history"])
    return {**dataclasses.asdict(record), "metrics": metrics}, {"before": before, "after": after}


def _train_and_record(options: TrainOptions, build: Build, notes: dict, own: tuple[Path, ...]):
    """Train (`_train`) and write the run's record of what trained it; returns (the saved model on the main
    process, else None; the run's record; the reference cache's statistics, or None; the record's id, or None)."""
    trained, trainer, checkpoint = _train(options, build, own)
    if checkpoint is not None:  # a killed run's training continued: its seconds are this part's alone
        notes = {**notes, "resumed_from_checkpoint": checkpoint.name}
    run = {
        "steps": trainer.state.global_step,
        "log_history": trainer.state.log_history,
        "train_rows": len(build.rows),
        "data": _data_summary(options, build.rows),
        "notes": notes,
    }
    cache = trainer.cache_stats if getattr(trainer, "ref_cache", None) else None
    check_own_folders(own)
    record_id = write_trained(build.out, run) if trained is not None else None
    return trained, run, cache, record_id


def _reload_reported(options: TrainOptions, out: Path, tokenizer, saved: dict, notes: dict):
    """A run killed after its final save: (the saved model on the main process, else None; the run as recorded,
    with the rows that trained it, not today's)."""
    log.warning("%s: the run saved its model (step %d) before it stopped; reporting it", out, saved["steps"])
    trained = _load_saved(options, out, tokenizer) if is_main_process() else None
    if "selection_recorded_at" in notes:  # evaluated on the recorded rows: the report says whose counts
        recorded_at = notes["selection_recorded_at"]
        saved = {**saved, "notes": {**saved["notes"], "selection_recorded_at": recorded_at}}
    return trained, saved


def _run_metrics(
    options: TrainOptions,
    run: dict,
    evaluations: tuple[dict, dict, tuple[list[dict], str]],
    started: float,
    reported_after_resume: bool,
    cache: dict | None,
) -> dict:
    """The run's metrics: the held-out comparison of ``evaluations`` (before, after, (rows, split)), what trained
    and how long it took, and the run's notes."""
    before, after, (eval_rows, eval_split) = evaluations
    history = run["log_history"]
    metrics = {
        "eval_split": eval_split,
        **held_out_metrics(options, before, after, eval_rows),
        "train_rows": run["train_rows"],
        "steps": run["steps"],
        "final_loss": next((h["loss"] for h in reversed(history) if "loss" in h), None),
        "seconds": round(time.time() - started, 1),
        **run["notes"],
    }
    if reported_after_resume:
        metrics["reported_after_resume"] = True  # its seconds are the evaluation's, not the training's
    if cache:
        metrics["reference_cache"] = cache
    return metrics


def _train(options: TrainOptions, build: Build, own: tuple[Path, ...]):
    """Build the method's trainer, train (from the newest complete checkpoint on --resume) and save; returns (the
    saved model on the main process, else None; the trainer; the checkpoint it continued from, or None).
    ``own``: as for `train_once`."""
    from train.checkpoint_links import CheckpointLinks  # transformers: imported where a trainer is built

    trainer = build_trainer(options, build)
    trainer.add_callback(CheckpointLinks(build.out, own))
    checkpoint = None
    if options.resume:
        saved_any = any(build.out.glob("checkpoint-*"))
        drop_partial_checkpoints(build.out)
        checkpoint = newest_checkpoint(build.out)
        if checkpoint is not None:
            check_resumable(checkpoint)
        if is_main_process():  # news where nothing was saved before (a round driver's fresh iteration)
            level = logging.WARNING if saved_any else logging.INFO
            log.log(level, "%s: %s", build.out, resume_point(build.out))
    if checkpoint is not None:  # the trainer loads what weights it holds, warning of the rest
        check_checkpoint(checkpoint, trainer)
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    reload = functools.partial(_load_saved, options, tokenizer=build.tokenizer)
    check_own_folders(own)
    return save_model(trainer, build.tokenizer, build.out, bool(options.lora_r), reload), trainer, checkpoint


def _load_saved(options: TrainOptions, out: Path, tokenizer):
    """The model a run saved in ``out`` (a merged folder even after LoRA), as the method evaluates it."""
    # checked as the start model is: a saved folder whose weights do not fit its config is one line
    model = _load_model(options, out, tokenizer)
    return _to_device(model) if torch.cuda.is_available() else model


def _load_model(options: TrainOptions, path: Path, tokenizer):
    """The model in ``path`` as the method trains it: a causal LM, or the method's own (a reward model: the
    model with a new scalar head)."""
    from transformers import AutoModelForCausalLM

    held_out = get_method(options.method).held_out
    if held_out:
        return held_out.load(path, tokenizer)
    return load_pretrained(AutoModelForCausalLM.from_pretrained, path, dtype=torch.float32)


def _to_device(model):
    return model.to(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}")


def _data_summary(options: TrainOptions, rows: list[dict]) -> dict:
    data = get_method(options.method).data
    if data == "sft":  # gold answers by prompt, edits by their completion
        return {
            "split": "train",
            "sft_from": list(options.sft_from),
            "gold_prompt_ids": [r["prompt_id"] for r in rows if r["source"] == "gold"],
            "completion_ids": [r["completion_id"] for r in rows if r["source"] == "edit"],
        }
    if data == "completions":
        return {"split": "train", "completion_ids": [r["completion_id"] for r in rows]}
    return {
        "split": "train",
        "kinds": sorted({r["kind"] for r in rows}),
        "rounds": sorted({r["round"] for r in rows}),
        "pair_ids": [r["pair_id"] for r in rows],
    }
