"""Arena rounds: model versions answer the same prompts, and their answers are paired head to head for blind votes.

    python -m generate -w ws --arena base,newest --split test --limit 64            # every pair of models
    python -m generate -w ws --arena base,newest,runs/dpo-1 --arena-pairs 1 --split test  # 1 random pair/prompt
    python -m generate -w ws --judge smollm2-135m --kinds arena --split test         # a judge votes (both orders)
    python -m data leaderboard -w ws --by judge:smollm2-135m                          # Bradley–Terry table

Every model answers the first ``--limit`` prompts of ``--split`` (a fixed set, oldest first; without it: test where
the workspace holds test prompts, else train, with a warning, `generate.prepare.job_split`) with the same sampling
settings and seeds (``--arena-n`` answers each, 1 by default), at one round for all (``--round``, else the newest
model's). Completions record the model's absolute folder (a hub id: its snapshot folder in the hub's cache, the one
name `train` registers it by) as their model, which is the manifest's path: the leaderboard resolves each side to
its manifest entry (`data.leaderboard`); a folder the manifest does not know is compared by its folder and listed
after the manifest's models. Pairs are of kind ``arena``: every pair of models per prompt and sample index below
``--arena-n`` (each model's answers in the order drawn), or ``--arena-pairs K`` drawn per prompt (seeded), two
answers of one text never (`generate.arena_pairing`, which says which models answered alike). They are
evaluation data: `train` and `data export` leave them out unless asked (``--kinds arena``). A rerun samples only
what is missing (a larger ``--arena-n`` tops each model up, seeds continuing) and adds no pair twice, nor do two
arenas at once (each model's answers and the pairs are stored in the import's turn, `data.import_write.import_lock`).
"""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np

from data.chat_template import named_chat_template
from data.errors import PrefloopError, first_line
from data.import_write import import_lock
from data.leaderboard import ARENA
from data.lineage import (
    ModelEntry,
    retraining,
    same_model_names,
)
from data.provision import answering_model_config
from data.records import ArenaRun, Completion, now
from data.selection import stored_arena_answers
from data.workspace import Workspace
from generate.answer_records import as_completions
from generate.arena_models import register_base, resolve_arena
from generate.arena_pairing import arena_answers_in_order, arena_pairs, shown_names
from generate.context import TOO_LONG, check_max_tokens
from generate.engines import SamplingParams, engine_said, make_engine
from generate.isolate import run_isolated
from generate.job_plan import PromptRow, model_answers, same_params
from generate.options import GenerateOptions, arena_names, engine_options, sampling_params
from generate.prepare import check_workspace_writable
from generate.sampling import LeftOut, run_chunks

log = logging.getLogger(__name__)


def arena_completions(
    workspace: Workspace, label: str, round: int, params: SamplingParams, prompts: set[str]
):
    """The completions ``label`` wrote in ``round`` with ``params`` for ``prompts`` (a DataFrame)."""
    completions = model_answers(workspace)
    mine = completions[(completions["round"] == round) & completions["prompt_id"].isin(prompts)]
    # a hub model's answers under its id or its snapshot folder: a workspace may hold either
    mine = mine[mine["model"].isin(same_model_names(mine["model"], label))]
    return mine[np.array([same_params(p, params) for p in mine["params"]], dtype=bool)]


def sample_model(
    options: GenerateOptions,
    entry: ModelEntry,
    round: int,
    params: SamplingParams,
    have: Mapping[str, int],
    run: ArenaRun,
) -> tuple[Counter, set[str]]:
    """One model's answers with ``params`` to the prompts of ``have`` (prompt id -> the answers it has, fewer than
    ``--arena-n``: `arena_left`, as `run_arena` found them), topped up to ``--arena-n`` each at the sample indices
    they lack, as a pairs job tops up (`generate.sampling.top_up_answers`): seeds continue, none is drawn twice.
    Each chunk's answers are stored with a record of the arena (``run``, its pairs not yet made) that lists them, in
    one write: they are the arena's from then on, whenever the arena stops (`answers_recorded`). A prompt another
    arena answered with the model since ``have`` was read is left out (`answered_since`). Counts
    ``topped_up``, the prompts it had answered before; also the ids of the prompts it answered (one too long for its
    context is not, nor one left out as answered meanwhile). Run in a fresh process unless --no-spin-isolate: each
    model's engine is given back before the next loads."""
    workspace = Workspace(options.workspace)
    prompts = workspace.frame("prompts").set_index("id")
    engine = load_arena_model(options, entry)
    dtype, name = getattr(engine, "dtype", None), engine.name
    version = retraining(workspace.frame("models"), entry.path)

    answered: set[str] = set()

    def build(prompt: PromptRow, samples) -> tuple[list[object], Counter]:
        answered.add(prompt.id)
        first = have[prompt.id]  # the sample index of its first new answer
        new = as_completions(prompt, samples, entry.path, name, params, round, dtype, first, version)
        return new, Counter()

    meanwhile = LeftOut(answered_since(workspace, entry, round, params, have))
    counts: Counter = Counter()
    for k in sorted(set(have.values())):  # the prompts answered k times: n - k more, sample indices k on
        todo = [
            PromptRow(i, [dict(m) for m in prompts.at[i, "messages"]], None) for i in have if have[i] == k
        ]
        desc = "topping up arena" if k else "sampling arena"
        n, size = options.arena_n - k, options.chunk_size
        recorded = answers_recorded(run)
        done = run_chunks(workspace, engine, todo, n, params, size, build, desc, k, recorded, meanwhile)
        done.pop("new_arenas", None)  # the records of its answers: no figure of the run
        counts += done
        if k:
            counts["topped_up"] += done["prompts"]
    del engine
    gc.collect()  # this model's memory before the next one loads
    return counts, answered - meanwhile.ids  # those left out unstored: no prompt this model answered


def answered_since(
    workspace: Workspace, entry: ModelEntry, round: int, params: SamplingParams, have: Mapping[str, int]
) -> Callable[[list[str]], set[str]]:
    """`run_chunks`' ``meanwhile`` of one arena model: of a chunk's prompts, read as stored now, those whose answers
    with ``params`` are no longer as many as ``have`` says (another arena answered them, or topped them up, since
    this one planned: each would store answers of its own, twice what ``--arena-n`` asks). Left out, counted
    ``answered_meanwhile`` (`generate.sampling.write_chunk`), as a pairs job leaves them out."""

    def meanwhile(ids: list[str]) -> set[str]:
        now = Counter(arena_completions(workspace, entry.path, round, params, set(ids))["prompt_id"])
        return {i for i in ids if now[i] != have[i]}

    return meanwhile


def answers_recorded(run: ArenaRun) -> Callable[[list[object]], list[object]]:
    """`run_chunks`' ``recorded`` for the arena: a chunk's records (its answers) -> ``run`` listing those answers,
    written with them, so an arena stopped before its pairs and `run_arena`'s record (killed, or a model that does
    not load) leaves no answer of its own ordinary (before 2026-12-07 the kto, rate and rank apps served them until
    a rerun recorded them)."""

    def recorded(records: list[object]) -> list[object]:
        answers = sorted(r.id for r in records if isinstance(r, Completion))
        return [replace(run, answers=answers, id="", created_at=now())] if answers else []

    return recorded


def load_arena_model(options: GenerateOptions, entry: ModelEntry):
    """``entry``'s engine; a model that does not load is one line naming it (a library's error was a traceback).
    Which engine --engine auto took is said before it loads, as a sampling job says it."""
    log.info("arena: loading %s with engine %s", entry.path, engine_said(options.engine, options.verbose))
    try:
        return make_engine(options.engine, entry.path, engine_options(options))
    except PrefloopError:
        raise
    except Exception as exc:  # noqa: BLE001 - any library's load error: a broken folder, a bad file
        raise PrefloopError(
            f"--arena: model {entry.path} did not load ({first_line(exc)}); the models before it keep their "
            "answers, a rerun samples what is missing"
        ) from exc


def check_arena_files(
    models: list[ModelEntry],
    chat_template: str | None = None,
    max_tokens: int | None = None,
    max_model_len: int | None = None,
) -> None:
    """Each arena model checked as every job checks a model it samples from (`answering_model_config`: a hub id
    found in, or fetched into, the hub's cache; the config read once; its tokenizer and weight files, headers read,
    no weights load) and its chat template (its own, or ``--chat-template``), before anything is written: a broken or
    missing folder, or a base model's, or one whose context (``max_model_len`` where set) ``max_tokens`` fills
    (`check_max_tokens`), is one line naming it (a manifest model: by its id too), not a traceback after the models
    before it had sampled and written their answers."""
    for entry in models:
        which = "" if entry.id == entry.path else f" (the manifest's model {entry.id}, round {entry.round})"
        try:
            folder, config = answering_model_config("--arena", entry.path)
            named_chat_template(f"--arena {entry.path}", folder, chat_template)
            if max_tokens is not None:
                check_max_tokens(max_tokens, folder, f"--arena {entry.path}", max_model_len, config)
        except PrefloopError as exc:
            raise PrefloopError(f"{exc}{which}; nothing written") from exc


def check_arena_prompts(workspace: Workspace, split: str, ids: list[str]) -> None:
    if not ids:
        raise PrefloopError(
            f"{workspace.path}: no {split} prompts for the arena; import some (--prompts FILE)"
        )


def arena_round(options: GenerateOptions, models: list[ModelEntry]) -> int:
    """--round, else the newest model's round (the arena's models all answer in one round)."""
    return options.round if options.round is not None else max(m.round for m in models)


def arena_left(
    workspace: Workspace,
    models: list[ModelEntry],
    round: int,
    params: SamplingParams,
    ids: list[str],
    n: int,
) -> list[dict[str, int]]:
    """Per model of ``models`` (in order), the prompts of ``ids`` (in order) it has answered fewer than ``n`` times
    in ``round`` with ``params`` (`arena_completions`), with how many times: a rerun with a larger ``--arena-n``
    tops them up, as a pairs job tops up to ``--n`` (`generate.job_plan.plan_job`)."""
    left = []
    for entry in models:
        have = Counter(arena_completions(workspace, entry.path, round, params, set(ids))["prompt_id"])
        left.append({i: have[i] for i in ids if have[i] < n})
    return left


def arena_plan(
    options: GenerateOptions,
    workspace: Workspace,
    ids: list[str],
    params: SamplingParams,
    models: list[ModelEntry] | None = None,
) -> tuple[list[ModelEntry], int, list[dict[str, int]]]:
    """The arena's models (``models``, as `resolve_arena` gave them; None: resolved here), round and the prompts of
    ``ids`` (the arena's fixed set) each model has left to answer with ``params`` (`sampling_params`), with the
    answers it has to each (`arena_left`, in the models' order). No rank check: its answers are stored with a
    record of the arena (`answers_recorded`), so they join no rank item, whatever the round. Reads only."""
    models = models or resolve_arena(workspace, options.arena, options.model)
    round = arena_round(options, models)
    return models, round, arena_left(workspace, models, round, params, ids, options.arena_n)


TRAIN_PROMPTS = (
    "arena: the models answer train prompts, which a trained model may have been trained on (it can do better there "
    "than on new prompts): compare them on held-out prompts, --split test (import some with `python -m data import "
    "--split test FILE`, or --test-fraction)"
)


def run_arena(
    options: GenerateOptions,
    workspace: Workspace,
    split: str,
    ids: list[str],
    models: list[ModelEntry] | None = None,
    judge_folder: str | None = None,
) -> dict:
    """Sample every ``--arena`` model (``models``: resolved already, as `generate` does before it creates the
    workspace; None: resolved here) on the fixed prompt set ``ids`` of ``split`` (`generate.job_plan.prompt_ids`,
    made once by the caller, which says it) and write the arena pairs; returns counts. ``judge_folder``: a
    chat-model --judge's checked folder (`generate.bestofn.OnFirstUse`)."""
    # `--arena` without --split samples test where the workspace holds some (`generate.prepare.job_split`)
    if split == "train":
        log.warning(TRAIN_PROMPTS)
    params = sampling_params(options)  # reads the chat template: made once, for the plan and the sampling
    models, round, left = arena_plan(options, workspace, ids, params, models)
    check_arena_prompts(workspace, split, ids)
    if any(left):  # a model's first chunk of answers was its first write
        check_workspace_writable(workspace.path)
    models = register_base(workspace, models)  # every check passed; each in its place, as `left` is
    sampling = ArenaRun(split, round, [m.id for m in models], len(ids), 0)  # the answers each chunk stores
    counts, too_long = sample_arena(options, models, round, params, left, sampling)
    paired, found, written, ordinary = write_arena_pairs(
        options, workspace, split, ids, models, round, params
    )
    result = {
        "arena_prompts": len(ids),
        **{f"arena_{k}": v for k, v in (counts + paired).items()},
        "arena_pairs": found,
        "arena_new_pairs": written,
        "arena_models": arena_names(m.id for m in models),  # an id may be a folder's, commas and all
        "arena_round": round,
        "arena_split": split,  # --split, or the one `--arena` picked without it (`job_split`)
    }
    if ordinary:
        result["arena_already_ordinary"] = len(ordinary)
        log.warning(ALREADY_ORDINARY, len(ordinary), "s were" if len(ordinary) > 1 else " was")
    if too_long:  # per model: a prompt one model could not take leaves that prompt unpaired
        result["arena_too_long_by_model"] = "; ".join(f"{arena_names([m])} {n}" for m, n in too_long.items())
    if options.judge:  # the judge votes on the arena's pairs of this split (both orders), as `--kinds arena`
        result.update(judge_arena(options, workspace, split, judge_folder))
    return result


def write_arena_pairs(
    options: GenerateOptions,
    workspace: Workspace,
    split: str,
    ids: list[str],
    models: list[ModelEntry],
    round: int,
    params: SamplingParams,
) -> tuple[Counter, int, int, list[str]]:
    """The arena pairs of ``models``' answers to ``ids`` (`arena_pairs`) and the run's record, read and written in
    the import's turn (`data.import_write.import_lock`, taken once every model sampled, never while one samples):
    two arenas at once each read the pairs stored and appended their own (`skip_existing` reads, then writes), so
    each stored every pair and the record, and said them new. Returns the pairing's counts, the pairs found (an
    earlier arena's among them), those written, and the answers compared that were ordinary before it ran."""
    with import_lock(workspace):
        answered = {
            entry.id: arena_completions(workspace, entry.path, round, params, set(ids)) for entry in models
        }
        pairs, paired, identical, alike = arena_pairs(
            workspace, models, answered, round, params, ids, options.arena_pairs, options.arena_n
        )
        # what this arena found, with its pairs in one write: the leaderboard reads why a workspace has no
        # arena pair
        found = len(pairs) + paired["paired_before"]  # an earlier arena's pairs of these answers among them
        # every answer compared, paired or not (one another model's text is on no pair): evaluation data, as its
        # pairs'; a model's answers past --arena-n are another run's, which it never compares (`arena_pairs`)
        ours = [
            arena_answers_in_order(frame).groupby("prompt_id").head(options.arena_n)
            for frame in answered.values()
        ]
        compared = {i for frame in ours for i in frame["id"]}
        sampled, ordinary = arena_answers_and_ordinary(workspace, compared, ids)
        record = ArenaRun(
            split,
            round,
            [m.id for m in models],
            len(ids),
            found,
            paired["identical"],
            identical,
            alike,
            sampled,
            ordinary,
        )
        written = workspace.append([*pairs, record], skip_existing=True).get("pairs", 0)
    return paired, found, written, ordinary


ALREADY_ORDINARY = (
    "arena: %d answer%s already ordinary (stored before the arena ran, by sampling for labelling): the arena "
    "compares them, but their labels (kto, rate, rank) stay training data"
)


def arena_answers_and_ordinary(
    workspace: Workspace, compared: set[str], ids: list[str]
) -> tuple[list[str], list[str]]:
    """The answers the arena ``compared`` (on the prompts ``ids``) split into its own, which its record lists
    (`ArenaRun.answers`: evaluation data), and those that were ordinary before it ran (`ArenaRun.ordinary`: a pairs
    job's the arena found stored, as completion ids are content hashes, and no arena had listed). Its own: those
    its chunks stored with their records (`answers_recorded`: an earlier, stopped run's too) and those an earlier
    arena made its own; labels on an ordinary one were never dropped, and its record keeps it so
    (`data.selection.arena_answers`)."""
    known = set(stored_arena_answers(workspace, set(ids)).to_pylist())
    return sorted(compared & known), sorted(compared - known)


def sample_arena(
    options: GenerateOptions,
    models: list[ModelEntry],
    round: int,
    params: SamplingParams,
    left: list[dict[str, int]],
    run: ArenaRun,
) -> tuple[Counter, dict[str, int]]:
    """Each model's answers to the prompts it has left (``left``: `arena_plan`'s, in the models' order; ``run``: the
    arena's record each chunk of answers is stored with, `answers_recorded`, which holds its prompts' count and
    split), each model in its own process (`sample_model`), each said in one line (`answered_line`): the counts,
    each prompt answered (or topped up) counted once, and per model id its prompts too long for its context (not
    answered: a rerun counts them again)."""
    counts: Counter = Counter()
    too_long = {}
    answered, topped_up = set(), set()  # the prompts some model answered, topped up: each once
    names = shown_names(models)
    for entry, todo in zip(models, left):
        sampled, done = Counter(), set()
        if todo:  # else nothing to sample: no process, no engine
            args = (options, entry, round, params, todo, run)
            sampled, done = run_isolated(
                sample_model, *args, isolate=options.spin_isolate, what="arena sampling"
            )
        log.info(answered_line(names[entry.id], todo, done, sampled, run, options.arena_n))
        answered |= done
        topped_up |= {prompt for prompt in done if todo[prompt]}
        if sampled.get(TOO_LONG):
            too_long[entry.id] = sampled[TOO_LONG]
        counts += sampled
    # each model's count of prompts it answered (or topped up), summed: `--limit 5` and three models said
    # `arena_prompts_answered 15`; that sum is `arena_model_prompts_answered`, and each prompt counts once
    counts["model_prompts_answered"] = counts.pop("prompts", 0)
    counts["model_prompts_topped_up"] = counts.pop("topped_up", 0)
    counts.update(prompts_answered=len(answered), topped_up=len(topped_up))
    return counts, too_long


def answered_line(
    name: str, todo: Mapping[str, int], done: set[str], sampled: Counter, run: ArenaRun, arena_n: int
) -> str:
    """What one model did of the arena's prompts (``run``'s): those it answered (``done``, of ``todo``: `arena_left`,
    some topped up to ``arena_n``), those it had answered before, and those it skipped, by reason (``sampled``'s
    counts: `TOO_LONG`). Said before sampling, "answers 4 of the 4 test prompts" counted 3 it then skipped as too
    long; a rerun said "answers 4 test prompts" of a model that had all 4."""
    notes = [f"{run.prompts - len(todo)} answered before"] if len(todo) < run.prompts else []
    topped = sum(1 for prompt in done if todo[prompt])  # answered before, fewer times than --arena-n
    notes += [f"{topped} topped up to --arena-n {arena_n}"] if topped else []
    said = f"arena: model {name} answered {len(done)} of the {run.prompts} {run.split} prompts"
    said += f" ({', '.join(notes)})" if notes else ""
    # the one reason a prompt is skipped: longer than the model's context (`generate.sampling.fitting_prompts`)
    return said + (f"; skipped: {TOO_LONG} {sampled[TOO_LONG]}" if sampled.get(TOO_LONG) else "")


def judge_arena(options: GenerateOptions, workspace: Workspace, split: str, judge_folder: str | None) -> dict:
    """``--judge``'s votes on the arena's pairs of ``split`` (both orders), as `--kinds arena` judges them: the
    labels written and what it did not judge, by why."""
    from generate.bestofn import judge_workspace

    judged = replace(options, kinds=(ARENA,), split=split, limit=None, judge_labelled=True)
    verdicts = judge_workspace(judged, workspace, judge_folder)["counts"]
    result = {"judged": verdicts.get("labels_written", 0)}
    if verdicts.get("already_judged"):  # a rerun: the arena pairs this judge had voted on before
        result["already_judged"] = verdicts["already_judged"]
    # Pairs without a verdict marker in either order: nothing written for them, a rerun asks again.
    if verdicts.get("unreadable"):
        result["judge_unreadable"] = verdicts["unreadable"]
    if verdicts.get("inconsistent"):  # ties where the judge's two orders disagreed: position bias
        result["judge_inconsistent"] = verdicts["inconsistent"]
    if verdicts.get(TOO_LONG):  # longer than the judge's context: not asked, a rerun asks again
        result["judge_too_long"] = verdicts[TOO_LONG]
    return result
