"""sDPO (Kim et al. 2024): DPO run step-wise over chunks of the preference data, each step starting from, and taking
as its reference, the previous step's result (step 1: the start model).

On disk, ``OUT/step-1`` … ``OUT/step-K`` are complete run folders (model, tokenizer, report, metrics); the final
model is ``OUT/step-K``, and ``OUT/sdpo.json`` lists the steps. Each step is registered in the manifest with method
``sdpo``, parent = the previous step and data = its chunk's pair ids; all steps carry the same round (one round of
the loop, trained in K steps). The reference log-prob cache works per step unchanged: each step's reference is a
different model, so a different fingerprint.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

from data.files import atomic_write, check_not_link, strict_json
from data.lineage import find_model
from data.workspace import Workspace
from train.once import held_out_metrics, train_once
from train.options import TrainOptions
from train.out_folder import check_own_folders

log = logging.getLogger(__name__)


def train_stepwise(
    options: TrainOptions,
    model_path: Path,
    workspace: Workspace,
    chunks: list[tuple[list[dict], dict, dict]],
    evaluation: tuple[list[dict], str],
    out: Path,
    notes: dict,
    claim: Callable[[], None] | None = None,
    own: tuple[Path, ...] = (),
) -> dict:
    """Train the sDPO steps ``chunks`` (each step's rows, their accounting, ``rows`` in its metrics, and what they
    took, `train.run._trained_notes` over them, in place of the run's in ``notes``); returns
    the last step's manifest entry, its metrics comparing the start model with the final one and listing the
    steps (``sdpo_steps``), with the run's ``rows`` from ``notes``. ``claim``: step 1's (`train_once`); ``own``:
    the folders of ``out`` prefloop named (`train_once`), to which each step adds its own."""
    round_ = options.round
    if round_ is None:  # the start is registered once step 1 trained, not before
        known = find_model(workspace, model_path)
        round_ = (known.round if known else 0) + 1  # a new start model is a base model of round 0
    start = before = None
    steps: list[dict] = []
    caches: list[dict | None] = []  # each step's reference_cache: the run's is their sum
    for k, (chunk, counts, trained) in enumerate(chunks, 1):
        rounds = sorted({r["round"] for r in chunk})
        log.info(
            "sDPO step %d/%d: %d pairs of rounds %s, from %s", k, len(chunks), len(chunk), rounds, model_path
        )
        step_out = out / f"step-{k}"
        check_not_link(
            step_out
        )  # named here, not by the user: a link there was planted, and is never trained into
        step_options = dataclasses.replace(options, model=str(model_path), out=step_out, round=round_)
        step_notes = {**notes, **trained, "rows": counts}  # its own rows (in, trained, beyond --max-steps)
        ours = (*own, step_out)  # named here: prefloop's, as the run's folder may be
        result, evaluations = train_once(
            step_options, model_path, workspace, chunk, evaluation, step_out, step_notes, before, claim, ours
        )
        claim = None  # the run's folder is claimed once, as step 1's start model loads
        if result["id"] is None:  # a non-main rank of a distributed run: evaluates again, never reports
            before = None
        else:
            start = start or evaluations["before"]
            before = evaluations["after"]
            caches.append(result["metrics"].get("reference_cache"))
            steps.append(_step_summary(result, chunk, counts, rounds))
        model_path = step_out.resolve()
    if result["id"] is None:
        return result
    overall = _overall_metrics(
        options, result["metrics"], chunks, (start, before, evaluation[0]), notes, steps
    )
    if all(caches):  # each step's reference is another model: its log-probs are read or computed per step
        overall["reference_cache"] = {
            key: sum(cache[key] for cache in caches) for key in ("hits", "computed")
        }
    text = strict_json(overall, indent=2) + "\n"  # written whole or not at all: it marks the run finished
    check_own_folders(own)
    atomic_write(out / "sdpo.json", lambda f: f.write(text.encode()))
    return {**result, "metrics": overall}


def _step_summary(result: dict, chunk: list[dict], counts: dict, rounds: list[int]) -> dict:
    """One step's line of ``sdpo_steps``: its model, the rows it trained on and what training took."""
    metrics = result["metrics"]
    return {
        "id": result["id"],
        "path": result["path"],
        "parent_id": result["parent_id"],
        "pairs": len(chunk),
        "rows": counts,
        "rounds": rounds,
        "steps": metrics["steps"],
        "final_loss": metrics["final_loss"],
        "seconds": metrics["seconds"],
    }


def _overall_metrics(
    options: TrainOptions,
    last: dict,
    chunks: list[tuple[list[dict], dict, dict]],
    evaluations: tuple[dict, dict, list[dict]],
    notes: dict,
    steps: list[dict],
) -> dict:
    """The run's metrics: the last step's ``last``, with the run's row summaries from ``notes``, the held-out
    comparison of the start model with the final one (``evaluations``: before, after, the held-out rows) and the
    steps' sums."""
    start, final, eval_rows = evaluations
    return {
        **last,
        **{key: notes[key] for key in chunks[-1][2]},  # the run's summaries of its rows, not its last step's
        **held_out_metrics(options, start, final, eval_rows),
        "train_rows": sum(len(chunk) for chunk, *_ in chunks),
        "rows": notes["rows"],
        "steps": sum(s["steps"] for s in steps),
        "seconds": round(sum(s["seconds"] for s in steps), 1),
        "sdpo_steps": steps,
    }
