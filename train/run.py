"""`train(options)`: one training job from workspace labels to a registered model with its report.

The steps: check the options → read the method's rows through `data` (`train.pairs`) → attach per-pair columns
(`--agreement`, the method's own) → one run (`train.once`) or, for a step-wise method, one run per step
(`train.stepwise`). The method's entry in `train.methods.METHODS` decides each step.
"""

from __future__ import annotations

import logging
from pathlib import Path

from data.errors import PrefloopError
from data.lineage import reward_model_entry
from data.records import random_id
from data.workspace import Workspace
from train.methods import Method, get_method
from train.once import train_once
from train.options import TrainOptions, check_options
from train.pairs import TrainDataError, add_agreement, kto_rows, preference_rows
from train.saving import model_path
from train.sources import add_source_weights
from train.stepwise import train_stepwise

log = logging.getLogger(__name__)


def _out_dir(options: TrainOptions, workspace: Workspace) -> Path:
    out = Path(options.out or workspace.path / "runs" / f"{options.method}-{random_id()[:8]}")
    if out.exists() and any(out.iterdir()) and not (options.resume or options.overwrite):
        raise PrefloopError(
            f"{out}: output folder is not empty (pass --resume to continue, --overwrite to replace)"
        )
    return out


def _rows(options: TrainOptions, method: Method, workspace: Workspace, eval_rounds: tuple[int, ...] | None):
    """(train rows, eval rows, eval-split name, counts) for the method; ``eval_rounds`` narrows the held-out rows."""
    if method.data == "completions":
        train_rows, counts = kto_rows(workspace, "train", options.seed)
        eval_rows, _ = kto_rows(workspace, "test", options.seed)
        what = "completions labelled desirable/undesirable"
    else:
        kinds, rounds = options.kinds or method.kinds, options.rounds
        train_rows, counts = preference_rows(workspace, "train", kinds, rounds, options.labels)
        eval_rows, _ = preference_rows(workspace, "test", kinds, eval_rounds or rounds, options.labels)
        what = f"labelled pairs of kind {','.join(kinds)}" + (
            f" in rounds {','.join(map(str, rounds))}" if rounds else ""
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


def _pair_columns(options: TrainOptions, method: Method, rows: list[dict]) -> dict:
    """Attach the per-pair loss columns (``--agreement``, the method's own) to ``rows``; their summaries."""
    if method.data == "completions":
        return {"agreement": {"mode": "off"}}
    notes = {"agreement": add_agreement(rows, options.agreement)}
    notes["labels"] = {"source": options.labels, **add_source_weights(rows, options.machine_weight)}
    if method.columns:
        notes.update(method.columns(options, rows))
    return notes


def train(options: TrainOptions, eval_rounds: tuple[int, ...] | None = None) -> dict:
    """Run one training job as ``options`` say; returns the manifest entry (as a dict) with its metrics.

    ``eval_rounds``: evaluate on held-out pairs of these rounds only (the SPIN driver trains on two rounds and
    evaluates on the newest); default: the rounds trained on.
    """
    check_options(options)
    method = get_method(options.method)
    workspace = Workspace(options.workspace)
    start = model_path(options.model, workspace)
    train_rows, eval_rows, eval_split, counts = _rows(options, method, workspace, eval_rounds)
    notes = {**_pair_columns(options, method, train_rows), "data_counts": dict(counts)}
    out = _out_dir(options, workspace)
    evaluation = (eval_rows, eval_split)
    if method.stepwise:  # its steps are runs of train_once
        return train_stepwise(options, start, workspace, train_rows, evaluation, out, notes)
    return train_once(options, start, workspace, train_rows, evaluation, out, notes)[0]


def reward_scorer(model: str, workspace: Workspace, batch_size: int = 8, max_length: int = 1024):
    """A trained reward model as a scorer (``.score(prompt, texts) -> rewards``) and its manifest entry: ``model``
    is ``rm`` (the newest reward model) or ``rm:<model id>`` (the annotator name of its labels)."""
    from train.reward import RewardScorer

    entry = reward_model_entry(model, workspace)
    return RewardScorer(entry.path, batch_size, max_length), entry
