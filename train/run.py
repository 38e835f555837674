"""`train(options)`: one training job from workspace labels to a registered model with its report.

The steps: check the options → select the method's rows (`train.selection`, through `train.pairs`) → attach
per-pair columns (`--agreement`, the method's own) → one run (`train.once`) or, for a step-wise method, one run
per step (`train.stepwise`). The method's entry in `train.methods.METHODS` decides each step.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import random
from pathlib import Path

import torch

from data.errors import PrefloopError
from data.exclusion import flag_names
from data.files import refuse_unwritable
from data.lineage import REWARD_MODEL, reward_model_entry
from data.provision import check_writes_answers
from data.records import content_id, random_id
from data.workspace import Workspace
from train.builders import label_smoothing, rows_per_step
from train.fit import fit_rows
from train.memory import Batch, Setup, available_memory, model_shape, plan_memory
from train.methods import Method, get_method
from train.once import train_once, use_bf16
from train.options import CPU_EVAL_LIMIT, TrainOptions, check_options
from train.out_checks import check_out_folder, check_resumed_model, check_resumed_plan, resumed_run
from train.out_folder import (
    SELECTION_FILE,
    claim_out_folder,
    own_folders,
    read_selection,
    selection_record,
    write_selection,
)
from train.pairs import (
    TrainDataError,
    add_agreement,
    agreement_summary,
    kto_loss_weights,
    step_chunks,
)
from train.plan_notes import steps_note, unused_adapter_options
from train.saving import check_model_files, load_tokenizer, model_path, read_trained
from train.selection import run_exclusion, select_rows
from train.sources import add_source_weights, source_counts, uniform_machine_weight
from train.stepwise import train_stepwise

log = logging.getLogger(__name__)


def _out_dir(options: TrainOptions, workspace: Workspace, start: Path, marker: str | None) -> Path:
    processes = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if options.out is None and processes > 1:  # the default folder's name is drawn at random, in each process
        raise PrefloopError(
            f"a launch of {processes} processes needs --out (each would pick its own runs/ folder): "
            f"e.g. --out {workspace.path / 'runs' / options.method}-ddp"
        )
    out = Path(options.out or workspace.runs / f"{options.method}-{random_id()[:8]}")
    check_out_folder(out, options, reads=(start, workspace.path), marker=marker)
    return out


def _pair_columns(options: TrainOptions, method: Method, rows: list[dict]) -> dict:
    """Attach the per-pair loss columns (``--agreement``, ``--machine-weight``) to ``rows``, every row fitted (so
    that --agreement weight's weights are normalised over them all, whatever --max-steps reaches); the one ε every
    pair's loss takes, and the loss type whose default it is where --label-smoothing is not given."""
    if method.data != "pairs":
        return {}
    add_agreement(rows, options.agreement)
    add_source_weights(rows, options.machine_weight)
    notes = {}
    # train_config.json alone said --label-smoothing's ε, and nothing exo_pair's default
    epsilon, default = label_smoothing(options, method)
    if epsilon:
        notes["label_smoothing"] = epsilon
    if default:
        notes["label_smoothing_default"] = default
    return notes


def _trained_notes(
    options: TrainOptions, method: Method, rows: list[dict], fitted: int, step: str | None = None
) -> dict:
    """What the rows trained (``rows``: those --max-steps reaches, of the ``fitted``; or the sDPO ``step``'s, "sDPO
    step 2 of 3", of the step's ``fitted``) set or took, summarised over them: KTO's default weights, balanced on
    them; --agreement's per-pair ε or weights and whose labels decide the rows (with the warning of a
    --machine-weight that weighs them all alike, the run's, said once; weight 0 there is an error all the same,
    naming the step); the method's own per-pair columns (ODPO's offsets, a reward model's margins)."""
    if method.data == "completions":
        weights = kto_loss_weights(options.desirable_weight, options.undesirable_weight, rows)
        return {"agreement": {"mode": "off"}, "kto_weights": weights}
    if method.data != "pairs":
        return {"agreement": {"mode": "off"}}
    agreement = agreement_summary(rows, options.agreement)
    if "pairs" in agreement and len(rows) < fitted:  # the weights' mean is 1 over the fitted rows, not these
        agreement["pairs_fitted"] = fitted
    sources = source_counts(rows, options.machine_weight)
    uniform = uniform_machine_weight(sources, options.labels, fitted, f"{step}: " if step else "")
    if uniform and not step:
        log.warning(uniform)
    notes = {"agreement": agreement, "labels": {"source": options.labels, **sources}}
    if method.columns:
        notes.update(method.columns(options, rows))
    return notes


def _completion_keys(method: Method) -> tuple[str, ...]:
    return ("chosen", "rejected") if method.data == "pairs" else ("completion",)


def _fit(options: TrainOptions, method: Method, start: Path, rows: list[dict], eval_rows: list[dict]):
    """Rows fitted into --max-length (`train.fit`), the max-steps subset and the held-out cap; their accounting."""
    tokenizer = load_tokenizer(start, options.chat_template)
    keys = _completion_keys(method)
    whole = method.whole_sequences
    rows, fitted = fit_rows(tokenizer, rows, keys, options.max_length, options.truncation, whole)
    if not rows:
        raise TrainDataError(
            f"--max-length {options.max_length}: none of the {fitted['rows_in']} rows can be trained "
            f"({', '.join(f'{k}: {v}' for k, v in fitted['rows_dropped'].items())}); raise --max-length"
        )
    limit = (
        options.eval_limit
        if options.eval_limit is not None
        else (0 if torch.cuda.is_available() else CPU_EVAL_LIMIT)
    )
    held_out = len(eval_rows)
    eval_rows, eval_fitted = fit_rows(
        tokenizer,
        eval_rows[:limit] if limit else eval_rows,
        keys,
        options.max_length,
        options.truncation,
        whole,
    )
    if method.data == "pairs":  # the reference cache keys on the texts actually trained
        for row in (*rows, *eval_rows):
            row["ref_key"] = content_id(row["prompt"], row["chosen"], row["rejected"])
    evaluation = {
        "held_out": held_out,
        "evaluated": len(eval_rows),
        "beyond_eval_limit": held_out - eval_fitted["rows_in"],
        "excluded": eval_fitted["rows_dropped"],
        "truncated": eval_fitted["rows_truncated"],
    }
    return rows, eval_rows, {"rows": fitted, "eval_rows": evaluation}


def _rows_for_steps(options: TrainOptions, method: Method, rows: list[dict], fitted: dict) -> list[dict]:
    """With --max-steps N, the N steps' rows only (a seeded draw, which also mixes SFT's gold answers and edits;
    KTO keeps its interleaved order), so that the reference pass covers exactly the rows these steps see."""
    needed = options.max_steps * rows_per_step(options)
    if not options.max_steps or needed >= len(rows):
        return rows
    if method.data != "completions":
        rows = random.Random(options.seed).sample(rows, len(rows))
    fitted["rows_beyond_max_steps"] = len(rows) - needed
    fitted["rows_trained"] = needed
    return rows[:needed]


def _steps(options: TrainOptions, method: Method, rows: list[dict], fitted: dict) -> list[tuple[list, dict]]:
    """A step-wise method's steps: each chunk (`train.pairs.step_chunks`) within --max-steps (per step), with
    its own accounting of rows; ``fitted``, the run's, then counts the rows the steps trained and left out."""
    steps = []
    for chunk in step_chunks(rows, options.sdpo_steps, options.seed):
        counts = {
            "rows_in": len(chunk),
            "rows_trained": len(chunk),
            "rows_truncated": sum(bool(row.get("truncated")) for row in chunk),
            "rows_dropped": {},  # rows dropped while fitting reach no step: the run's count has them
        }
        steps.append((_rows_for_steps(options, method, chunk, counts), counts))
    fitted["rows_trained"] = sum(counts["rows_trained"] for _, counts in steps)
    beyond = sum(counts.get("rows_beyond_max_steps", 0) for _, counts in steps)
    if beyond:
        fitted["rows_beyond_max_steps"] = beyond
    return steps


def _plan(options: TrainOptions, method: Method, start: Path, fitted: dict) -> tuple[TrainOptions, dict]:
    """The memory plan (`train.memory`) for the ``fitted`` rows (`train.fit.fit_rows`' counts: the longest's
    tokens); the options it changes applied. Its line says what --max-steps trains too."""
    requested = Setup(
        options.lora_r or 0,
        options.gradient_checkpointing,
        Batch(options.batch_size, options.grad_accum, min(fitted["longest_tokens"], options.max_length)),
    )
    plan = plan_memory(
        model_shape(start),
        available_memory(),
        requested,
        lora_fixed=options.lora_r is not None,
        bf16=use_bf16(options),
        chunked_head=bool(method.pair_loss and method.pair_loss(options)),
        reference_in_memory=method.reference_in_memory,
        sequences=1 if method.data == "sft" else 2,  # SFT: one answer per row, no pair, no KL batch
    )
    line = plan.line() + steps_note(options, fitted["rows_trained"], method.stepwise)
    log.info(line)
    unused = unused_adapter_options(options, plan.lora_r)
    if unused:
        log.warning(unused)
    batch = plan.setup.batch
    options = dataclasses.replace(
        options,
        lora_r=plan.lora_r,
        gradient_checkpointing=plan.gradient_checkpointing,
        batch_size=batch.micro,
        grad_accum=batch.accumulation,
    )
    return options, {"memory_plan": line}


def _say_resumed(out: Path, recorded: dict) -> None:
    """The warning that a resumed run trains on the rows it selected as it started (``recorded``)."""
    log.warning(
        "%s: resuming on the %d training and %d %s rows the run selected as it started (%s); labels since "
        "are no part of it",
        out,
        len(recorded["train_rows"]),
        len(recorded["eval_rows"]),
        "held-out" if recorded["eval_split"] != "train" else "evaluation (training, not held-out)",
        recorded["written_at"],
    )


def train(
    options: TrainOptions, eval_rounds: tuple[int, ...] | None = None, marker: str | None = None
) -> dict:
    """Run one training job as ``options`` say; returns the manifest entry (as a dict) with its metrics.

    ``eval_rounds``: evaluate on held-out pairs of these rounds only (the SPIN driver trains on two rounds and
    evaluates on the newest); default: the rounds trained on. ``marker``: the file by which a round driver claimed
    ``options.out`` for this run (`train.out_checks.check_out_folder`: a folder holding only it starts fresh).
    """
    check_options(options)
    method = get_method(options.method)
    workspace = Workspace(options.workspace)
    # --resume without --out: the one unfinished run of the method in WS/runs, else one line saying why not
    if options.resume and options.out is None:
        options = dataclasses.replace(options, out=resumed_run(options, workspace.runs))
    start = _start_model(options, method, workspace, marker)
    out = _out_dir(options, workspace, start, marker)
    recorded = read_selection(out, marker) if options.resume else None
    if recorded is None:
        exclusion = run_exclusion(options, method, workspace)
        selection = select_rows(options, method, workspace, eval_rounds, exclusion)
    else:  # labels that arrived since the start, or a changed excluded.json, are no part of a run under way
        selection = recorded
        _say_resumed(out, recorded)
    record = selection_record(selection) if recorded is None else None  # before fitting adds columns
    options = _names_as_used(options, selection["excluded"])
    train_rows, eval_rows, accounting = _fit(
        options, method, start, selection["train_rows"], selection["eval_rows"]
    )
    options, plan = _plan(options, method, start, accounting["rows"])
    check_resumed_plan(out, options, marker)
    notes = _run_notes(options, method, train_rows, selection, {**accounting, **plan}, recorded)
    evaluation = (eval_rows, selection["eval_split"])
    train_rows, steps = _trained_rows(options, method, train_rows, accounting["rows"], notes)
    claim = functools.partial(_claim, out, options, record)  # called by train_once as the start model loads
    own = own_folders(out, options, marker)
    if steps is not None:  # a step-wise method's steps are runs of train_once
        return train_stepwise(options, start, workspace, steps, evaluation, out, notes, claim, own)
    return train_once(options, start, workspace, train_rows, evaluation, out, notes, claim=claim, own=own)[0]


def _start_model(options: TrainOptions, method: Method, workspace: Workspace, marker: str | None) -> Path:
    """The model the run starts from, checked (the workspace writable where the run writes there; a resumed
    run's recorded --model; its files; a causal LM's answers) before anything loads."""
    if options.register or (options.ref_cache and method.caches_reference):
        _check_writable(options, workspace)
    if options.resume and options.out is not None:  # a recorded --model no folder here holds: which, and how
        check_resumed_model(Path(options.out), options, marker)
    start = model_path(options.model, workspace, options.out if options.resume else None)
    check_model_files(start)
    if (
        options.method != REWARD_MODEL
    ):  # a reward model trains on from one; every other method from a causal LM
        check_writes_answers(start, f"--model {options.model}")
    return start


def _run_notes(
    options: TrainOptions,
    method: Method,
    train_rows: list[dict],
    selection: dict,
    fitting: dict,
    recorded: dict | None,
) -> dict:
    """The run's notes for its metrics: the per-pair columns attached to ``train_rows`` (`_pair_columns`), whose
    verdicts, the selection's counts, ``fitting`` (the rows' accounting and the memory plan), who was excluded and,
    on --resume, when the rows were selected."""
    notes = {
        **_pair_columns(options, method, train_rows),
        **_verdict_notes(options, method),
        "data_counts": selection["counts"],
        "eval_counts": selection["eval_counts"],
        "data_trust": selection["trust"],  # of the rows counted unchecked: `unchecked_note` quotes it
        "eval_trust": selection["eval_trust"],
        **fitting,
    }
    if selection[
        "excluded"
    ]:  # who was left out of the verdicts, and where each was named: the report says it
        notes["excluded_labellers"] = selection["excluded"]
    if recorded is not None:
        notes["selection_recorded_at"] = recorded["written_at"]
    return notes


def _trained_rows(
    options: TrainOptions, method: Method, rows: list[dict], fitted: dict, notes: dict
) -> tuple[list[dict], list[tuple[list[dict], dict, dict]] | None]:
    """The rows that train (those --max-steps reaches), or a step-wise method's steps (each step's rows, their
    accounting and `_trained_notes` over them); ``notes`` gets what the trained rows set or took."""
    fitted_rows = len(rows)
    steps = _steps(options, method, rows, fitted) if method.stepwise else None
    if steps is None:
        rows = _rows_for_steps(options, method, rows, fitted)
    trained = rows if steps is None else [row for chunk, _ in steps for row in chunk]
    notes.update(_trained_notes(options, method, trained, fitted_rows))
    if steps is None:
        return rows, None
    # each step's metrics summarise its own rows, checked before anything loads
    of = len(steps)
    return rows, [
        (chunk, counts, _trained_notes(options, method, chunk, counts["rows_in"], f"sDPO step {k} of {of}"))
        for k, (chunk, counts) in enumerate(steps, 1)
    ]


def _check_writable(options: TrainOptions, workspace: Workspace) -> None:
    """A run caches reference log-probs in the workspace and registers its model there once trained: a workspace
    it cannot write (a read-only mount) is refused before anything loads, not after the work it would waste."""
    refuse_unwritable(
        workspace.path,
        lambda reason: (
            f"{options.workspace}: the workspace is not writable ({reason}), and a run caches reference "
            "log-probs and registers its model there; nothing trained (--no-register --no-ref-cache write nothing "
            "to it)"
        ),
    )


def _claim(out: Path, options: TrainOptions, record: bytes | None) -> None:
    """Every check passed and the start model loaded (weights that do not fit their config.json are refused only
    as they load): from here on ``out`` is this run's, its options and its selection (``record``) recorded."""
    claim_out_folder(out, options)
    if record is not None:
        write_selection(out, record)


def _names_as_used(options: TrainOptions, excluded: dict[str, str]) -> TrainOptions:
    """``options`` with --exclude-labeller's names as the run used them (`data.exclusion.flag_names`; ``excluded``:
    who was kept out), so that train_config.json records ``carol, bob`` of a YAML file as the two names it is."""
    if not options.exclude_labeller:
        return options
    names = flag_names(options.exclude_labeller, set(excluded))
    return dataclasses.replace(options, exclude_labeller=tuple(names))


def _verdict_notes(options: TrainOptions, method: Method) -> dict:
    """How the labels became the rows (the report and metrics.json say it): the aggregation and the posterior
    floor, where the rows come from labellers' verdicts."""
    if method.data == "sft" or options.kto_from or options.rm_from_ratings:
        return {}
    return {"verdicts": {"aggregate": options.aggregate, "min_posterior": options.min_posterior}}


def reward_scorer(model: str, workspace: Workspace, batch_size: int = 8, max_length: int = 1024):
    """A trained reward model as a scorer (``.score(prompt, texts) -> rewards``) and its manifest entry: ``model``
    is ``rm`` (the newest reward model) or ``rm:<model id>`` (the annotator name of its labels)."""
    from train.reward import RewardScorer

    entry = reward_model_entry(model, workspace)
    return RewardScorer(entry.path, batch_size, max_length), entry


def saved_model_id(out: Path) -> str | None:
    """The manifest id of the final model a run saved in ``out`` (`trained.json`), which a ``--resume`` there
    evaluates, reports and registers once, training nothing; None where there is none it can take up (a resume
    there trains)."""
    saved = read_trained(Path(out))
    return str(saved["record_id"]) if saved is not None else None


def selected_rows(out: Path) -> bool:
    """Whether the run in ``out`` recorded the rows it selected as it started (`selection.json.gz`): a ``--resume``
    there trains and evaluates on those, whatever was sampled or labelled since."""
    return (Path(out) / SELECTION_FILE).is_file()
