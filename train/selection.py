"""The rows a training run selects from the workspace (`train.run.train`'s first step): its training and held-out
rows, by the method's data (labelled pairs, KTO-labelled completions, SFT rows, rubric ratings), without the labels
of the labellers it excludes, and the counts by reason of what it left out. A resumed run reads the selection it
recorded instead (`train.out_folder`).
"""

from __future__ import annotations

import logging

from data.errors import number_shown
from data.exclusion import Exclusion, check_exclusion
from data.export_workspace import left_out, unchecked_note
from data.workspace import Workspace
from train.methods import Method
from train.options import TrainOptions
from train.pairs import (
    TrainDataError,
    kto_rows,
    preference_rows,
    rating_kto_rows,
    rating_preference_rows,
    sft_rows,
)

log = logging.getLogger(__name__)
SFT_WHAT = {"gold": "prompts' gold answers", "edits": "labellers' kept edits"}  # --sft-from, as errors say it
# ratings train as: --rm-from-ratings trains on pairs (answers alone to their prompt make none)
RATED_ROWS = {True: "rated answers for --kto-from", False: "pairs of rated answers for --rm-from-ratings"}


def run_exclusion(options: TrainOptions, method: Method, workspace: Workspace) -> Exclusion:
    """Who is kept out of the verdicts (the flag's names checked, excluded.json's that label nothing warned of);
    nobody where the rows are made without labels (SFT on the prompts' gold answers)."""
    exclusion = check_exclusion(workspace, options.exclude_labeller)
    for line in exclusion.warnings():
        log.warning(line)
    ratings = options.kto_from or options.rm_from_ratings
    return (
        Exclusion() if method.data == "sft" and "edits" not in options.sft_from and not ratings else exclusion
    )


def select_rows(
    options: TrainOptions,
    method: Method,
    workspace: Workspace,
    eval_rounds: tuple[int, ...] | None,
    exclusion: Exclusion,
):
    """The run's selection (`train.out_folder.SELECTION_KEYS`): its training and held-out rows, the held-out
    split's name and both splits' counts by reason and the trust of the rows they count unchecked, without the
    labels of the labellers ``exclusion`` names (and who they are); ``eval_rounds`` narrows the held-out rows."""
    excluded = exclusion.names
    if options.kto_from or options.rm_from_ratings:  # rubric ratings (task rate) instead of labels
        train_rows, counts, eval_rows, eval_counts, what = _rated_rows(options, workspace, excluded)
    elif method.data == "sft":
        sources = (options.sft_from, options.labels, excluded)
        train_rows, counts = sft_rows(workspace, "train", *sources)
        eval_rows, eval_counts = sft_rows(workspace, "test", *sources)
        what = "SFT rows (" + " or ".join(SFT_WHAT[s] for s in options.sft_from) + ")"
    elif method.data == "completions":
        verdicts = (options.seed, options.labels, options.aggregate, excluded)
        sure = {"min_posterior": options.min_posterior}
        train_rows, counts = kto_rows(workspace, "train", *verdicts, **sure)
        eval_rows, eval_counts = kto_rows(workspace, "test", *verdicts, held_out=True, **sure)
        what = "completions labelled desirable/undesirable"
    else:
        kinds, rounds = options.kinds or method.kinds, options.rounds
        verdicts = (options.labels, options.aggregate, excluded, options.rank_pairs)
        sure = {"min_posterior": options.min_posterior}
        train_rows, counts = preference_rows(workspace, "train", kinds, rounds, *verdicts, **sure)
        eval_rows, eval_counts = preference_rows(
            workspace, "test", kinds, eval_rounds or rounds, *verdicts, held_out=True, **sure
        )
        what = f"labelled pairs of kind{'s' * (len(kinds) > 1)} {_listed(list(kinds), 'or')}" + (
            f" in round{'s' * (len(rounds) > 1)} {_listed(list(map(str, rounds)), 'and')}" if rounds else ""
        )
    if not train_rows:
        _refuse_none(workspace, what, counts, exclusion, options.min_posterior)
    if method.data == "completions":
        _refuse_one_sided(options, workspace, train_rows, counts)
    split = "test"
    if not eval_rows:  # no held-out rows: report on (a sample of) the training rows, and say why
        eval_rows, split = train_rows, "train"
        if not workspace.frame("prompts")["split"].eq("test").any():  # no test split: nothing of it to count
            eval_counts = {}
    return {
        "train_rows": train_rows,
        "eval_rows": eval_rows,
        "eval_split": split,
        "counts": dict(counts),
        "eval_counts": dict(eval_counts),
        # apart from the counts, of the rows they count unchecked: dpo's and kto's (`data.export.Counts`)
        "trust": getattr(counts, "trust", {}),
        "eval_trust": getattr(eval_counts, "trust", {}),
        "excluded": exclusion.sources,
    }


def _rated_rows(options: TrainOptions, workspace: Workspace, excluded: tuple[str, ...]):
    """--kto-from's or --rm-from-ratings' rows of both splits from rubric ratings, their counts, and what they are
    (as the errors say it)."""
    rule, build = (
        (options.kto_from, rating_kto_rows)
        if options.kto_from
        else (options.rm_from_ratings, rating_preference_rows)
    )
    extra = (options.seed,) if options.kto_from else ()
    train_rows, counts = build(workspace, "train", rule, *extra, excluded, options.labels)
    eval_rows, eval_counts = build(workspace, "test", rule, *extra, excluded, options.labels)
    what = f"{RATED_ROWS[bool(options.kto_from)]} {rule}"
    log.info("%s: %s", what, ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return train_rows, counts, eval_rows, eval_counts, what


def _listed(words: list[str], last: str) -> str:
    """``words`` as a sentence lists them (``sampled, imported or rank``), not as a flag's value is typed."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


def _refuse_none(
    workspace: Workspace, what: str, counts: dict, exclusion: Exclusion, min_posterior: float | None
) -> None:
    """No training rows: the error names what was left out and why (``counts``, with what ``unchecked`` means
    under ``min_posterior``), and who was excluded."""
    detail = left_out(counts) or "the workspace has none"
    unchecked = unchecked_note(counts, min_posterior)
    detail += f"; {unchecked}" if unchecked else ""
    if any(k.startswith("kind_") for k in counts):
        detail += "; --kinds chooses the kinds that train (spin pairs: --method spin)"
    detail += f"; {exclusion.line()}" if exclusion.sources else ""
    raise TrainDataError(f"{workspace.path}: no {what} to train on in split train ({detail})")


def _refuse_one_sided(options: TrainOptions, workspace: Workspace, rows: list[dict], counts: dict) -> None:
    """KTO contrasts desirable with undesirable answers: training rows of one side only are an error (TRL would
    train on them and report the other side's rewards as nan). The error says the rows are verdicts, and what the
    selection left out (``counts``): labels of the other side can sit in split votes, or below --min-posterior."""
    if len({row["label"] for row in rows}) > 1:
        return
    side = "desirable" if rows[0]["label"] else "undesirable"
    if options.kto_from:
        raise TrainDataError(
            f"{workspace.path}: --kto-from {options.kto_from}: all {len(rows)} rated answers of split train are "
            f"{side}, so KTO has nothing to contrast (is the threshold inside the rubric's scale?)"
        )
    how = f"verdicts by {options.aggregate}"
    if options.min_posterior is not None:
        how += f", posterior at least {number_shown(options.min_posterior)}"
    how += f"; left out: {reasons}" if (reasons := left_out(counts)) else ""
    how += f"; {unchecked}" if (unchecked := unchecked_note(counts, options.min_posterior)) else ""
    raise TrainDataError(
        f"{workspace.path}: all {len(rows)} KTO-labelled completions of split train are {side} ({how}): KTO needs "
        "both desirable and undesirable examples"
    )
