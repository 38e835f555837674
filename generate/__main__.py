"""`python -m generate`: sample from a model into a workspace.

    python -m generate -w ws --model smollm2-135m --prompts sft --limit 32 --n 2     # pairs for labellers
    python -m generate -w ws --model smollm2-135m --prompts sft --limit 64 --spin    # SPIN negatives
    python -m generate -w ws --config sample.yaml --temperature 0.8                  # YAML + overriding flags
    python -m generate -w ws-2 --prompts sft --shard 2/4 ...   # machine 2 of 4; then: python -m data merge -w ws ws-2

    python -m generate -w ws --model newest --n 2         # next human round: the newest model, at its round
    python -m generate -w ws --prompts sft --spin-iter 2  # SPIN: 2 iterations of sample -> train -> register
                                                          # (the round drivers: prefloop loop --help)

    python -m generate -w ws --judge smollm2-135m          # an LLM judge labels the pairs people did not (both orders)
    python -m generate -w ws --judge rm --split test --judge-labelled   # the newest reward model, measured
    python -m generate -w ws --n 4 --pairs best-worst --judge rm        # best vs worst of 4 samples (RLHFlow)
    python -m generate -w ws --judge-iter 2 --judge rm --n 4            # machine rounds: sample, judge, DPO

    python -m generate -w ws --arena base,newest --split test --limit 64    # arena: models head to head
    python -m generate -w ws --judge smollm2-135m --kinds arena --split test  # a judge votes on the arena

Reruns resume: a job's prompts are a fixed set (the first `--limit` of `--split`), and only those without
completions from this model in this round are sampled (or topped up to --n: those another job, --spin say, answered
fewer times with the same parameters); a larger `--limit` samples more; `--spin-iter` reruns
continue from the last finished step (see generate/loop/driver.py). With `--spin-iter N` or `--judge-iter N` (flag or
YAML) the command is the round driver's, `python -m generate.loop` = `prefloop loop`, with that command's options.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path

from data.cli import check_applies, explicit_names, options_parser, run_cli
from data.config import ConfigError, add_config, build, load_yaml_keys
from data.errors import PrefloopError, number_shown
from data.imports import Loaded
from data.lineage import ModelEntry, find_model, is_reward_model_name
from data.provision import model_label
from data.workspace import Workspace
from generate.bestofn import check_judge_model, judge_workspace, sample_best_worst
from generate.engines import SamplingParams, engine_said, make_engine
from generate.job_plan import JobPlan, job_answers, job_prompts, pairs_plan, prompt_ids
from generate.judge import load_template
from generate.modes import MODES, SHARED, mode_of, mode_options
from generate.options import (
    GenerateOptions,
    check_arena,
    check_sample_applies,
    check_sample_options,
    engine_options,
    sampling_params,
)
from generate.prepare import (
    arena_samples,
    check_prompts,
    check_reward_judge,
    check_workspace_writable,
    fetch_model,
    file_share_line,
    import_prompts,
    job_split,
    preview_prompts,
    quiet_logs,
    read_prompts,
    start_model,
    workspace_models,
)
from generate.rank_items import check_sampled_rank_items
from generate.report_lines import (
    cost_line,
    judge_report,
    limit_taken,
    made_lines,
    nothing_left,
    topped_up_line,
)
from generate.sampling import check_pair_params, sample_pairs
from generate.shards import parse_shard
from generate.spin_pairs import sample_spin

log = logging.getLogger(__name__)
LOOP_FLAGS = ("--spin-iter", "--judge-iter")


def build_parser(prog: str = "python -m generate") -> argparse.ArgumentParser:
    """Options every mode reads, then each mode's own in a group of its own."""
    groups = {name: f"options of {' or '.join(m)}" for name, m in mode_options(MODES, SHARED).items()}
    return options_parser(GenerateOptions, prog, __doc__, groups=groups)


def parse_options(argv: list[str] | None, prog: str = "python -m generate") -> GenerateOptions:
    """The options object; an option of another mode set by flag or YAML is an error."""
    namespace, rest = build_parser(prog).parse_known_args(argv)
    if rest:
        from generate.loop.options import loop_option

        if said := loop_option(rest):  # a round driver's, given without one
            raise ConfigError(said)
        build_parser(prog).parse_args(argv)  # argparse's own line (the nearest flag named)
    spelled: dict[str, str] = {}  # a key as the file writes it
    if namespace.config and (
        keys := load_yaml_keys(namespace.config, spelled=spelled) - set(vars(namespace))
    ):
        from generate.loop.options import loop_key

        if said := loop_key(keys, namespace.config, spelled):  # a round driver's, in the file of a single job
            raise ConfigError(said)
    options = build(GenerateOptions, namespace)
    explicit = explicit_names(namespace)
    check_applies(explicit, mode_of(options), mode_options(MODES, SHARED), "")
    check_sample_applies(explicit, options)
    # train where --split is not given, but for an arena's, which the workspace's prompts decide (`run`)
    return options if options.arena else replace(options, split=job_split(options, None, None))


def check_options(options: GenerateOptions) -> None:
    check_sample_options(options)
    if (options.limit or 0) < 0:
        raise PrefloopError(f"--limit {options.limit}: must be >= 0")
    if options.test_fraction is not None and not 0 <= options.test_fraction < 1:
        raise PrefloopError(f"--test-fraction {number_shown(options.test_fraction)}: must be in [0, 1)")
    if options.arena is not None:  # first: `--arena ... --pairs best-worst` was told it "needs --judge"
        check_arena_options(options)
    if options.pairs == "best-worst" and not options.judge:
        raise PrefloopError("--pairs best-worst needs --judge (rm, rm:<id>, or a chat model)")
    if options.judge and options.spin:
        raise PrefloopError("--judge does not apply to --spin (SPIN's gold answer wins by construction)")
    if mode_of(options) == "--judge" and (options.prompts or options.test_fraction is not None):
        # --judge alone samples nothing: prompts imported here would only wait, unanswered, for a later job
        flag = "--prompts" if options.prompts else "--test-fraction"
        raise PrefloopError(
            f"{flag} does not apply to --judge alone, which judges the workspace's pairs and samples nothing: "
            "import prompts with `python -m data import`, or sample with --n 4 --pairs best-worst --judge"
        )
    if options.test_fraction is not None and not options.prompts:
        # it splits the prompts --prompts imports; the workspace's own keep the split they were imported with
        raise PrefloopError(
            "--test-fraction does not apply without --prompts, which it splits as they are imported: the "
            "workspace's prompts keep their split (import a file with `python -m data import --test-fraction`)"
        )
    if options.judge and not is_reward_model_name(options.judge):
        load_template(options.judge_template)  # a bad template file fails before any model loads


def check_arena_options(options: GenerateOptions) -> None:
    """The arena's counts (`check_arena`), and no other mode's flag beside it, each named as given."""
    check_arena(options)
    given = {
        "--spin": options.spin,
        "--shard": options.shard,
        "--pairs best-worst": options.pairs == "best-worst",
    }
    flags = [flag for flag, on in given.items() if on]
    if flags:
        raise PrefloopError(
            "--arena samples its own pairs (every pair of models per prompt, or --arena-pairs K drawn): "
            f"{' and '.join(flags)} {'does' if len(flags) == 1 else 'do'} not apply to it"
        )


def check_models(options: GenerateOptions, existing: Workspace | None) -> list[ModelEntry] | None:
    """The models the workspace must name (``existing``; None: not created yet): the arena's, and a reward-model
    --judge, whose errors would otherwise come after the workspace was created or sampled into. Returns the
    arena's models (None: no arena), resolved once: creating the workspace and importing --prompts change no
    manifest, so these are the models it samples (`base` not in the manifest yet is registered by `run_arena`)."""
    arena = None
    if options.arena:
        from generate.arena_models import resolve_arena

        arena = resolve_arena(existing, options.arena, options.model)
    check_reward_judge(options, existing)
    return arena


def fetch_models(options: GenerateOptions, model_path: str, arena: list[ModelEntry] | None) -> str:
    """The models the job loads, read (a folder's config and weight headers) or found in the hub's cache (a hub id,
    fetched there where it is not), after the checks that cost nothing: a mistyped flag costs no download. The judge
    is found last (`check_judge_model`). Returns the location of ``--model`` to load (`fetch_model`)."""
    if arena:
        from generate.arena import check_arena_files

        check_arena_files(arena, options.chat_template, options.max_tokens, options.max_model_len)
        return model_path
    return fetch_model(options, model_path)


def sampling_round(options: GenerateOptions, workspace: Workspace, model_path: str) -> int:
    """--round, else the model's round in the manifest (the next labelling round of a trained model), else 0."""
    if options.round is not None:
        return options.round
    entry = find_model(workspace, Path(model_path).resolve() if Path(model_path).is_dir() else model_path)
    return entry.round if entry else 0


def check_job_rank_items(
    options: GenerateOptions,
    workspace: Workspace,
    model_path: str,
    label: str,
    shard: tuple[int, int] | None,
    arena: list[ModelEntry] | None,
    params: SamplingParams,
) -> JobPlan | None:
    """The job's answers change no rank item under the labels stored on it (`check_sampled_rank_items`), checked
    before anything is written or a model loads; the sampling functions check again (the round drivers call
    them). ``arena``: the arena's models (`check_models`); ``params``: the job's (`sampling_params`). Returns a
    pairs job's plan (`pairs_plan`; None: an arena or --spin job)."""
    if arena:  # its answers are stored with its record: they join no rank item (`generate.arena.arena_plan`)
        return None
    round = sampling_round(options, workspace, model_path)
    plan = None if options.spin else pairs_plan(options, workspace, label, round, shard, params)
    check_sampled_rank_items(workspace, job_answers(options, workspace, label, round, shard, plan), round)
    return plan


def check_job_with_prompts(
    options: GenerateOptions,
    existing: Workspace | None,
    loaded: Loaded | None,
    model_path: str,
    label: str,
    shard: tuple[int, int] | None,
    arena: list[ModelEntry] | None,
    params: SamplingParams,
) -> JobPlan | None:
    """The --prompts file's answers, checked as an import's, then the job's (`check_job_rank_items`) against the
    stored items and the workspace as the file's import will leave it (`preview_prompts`), before anything is
    written. A refusal only the file's rankings give advises no `data import --remove`: nothing is imported yet
    (`data.rank_guard.KeptItem.pending`). Returns a pairs job's plan where nothing is to be imported (the
    workspace it samples is ``existing`` as it stands), else None."""
    preview = preview_prompts(existing, options.workspace, loaded)
    plan = None
    if existing is not None:
        plan = check_job_rank_items(options, existing, model_path, label, shard, arena, params)
    if not loaded:
        return plan
    check_job_rank_items(options, preview, model_path, label, shard, arena, params)
    return None


def sample_job(
    options: GenerateOptions,
    workspace: Workspace,
    model_path: str,
    label: str,
    round: int,
    shard: tuple[int, int] | None,
    params: SamplingParams,
    plan: JobPlan | None,
    judge_folder: str | None,
) -> dict:
    """A --spin, pairs or best-worst job's sampling at ``round`` (``plan``: a pairs job's, `pairs_plan`;
    ``judge_folder``: `check_judge_model`'s); returns the counts."""
    # nothing left to sample (a rerun's): no model loads; the job says what it kept and pairs what it can
    answers = job_answers(options, workspace, label, round, shard, plan)
    common = dict(split=options.split, limit=options.limit or 0, chunk_size=options.chunk_size, shard=shard)
    if answers:  # a workspace it cannot write failed only once the model had sampled its first chunk
        check_workspace_writable(options.workspace)
        # before the model loads (minutes): which engine --engine auto took, and where the answers go
        said = engine_said(options.engine, options.verbose)
        log.info("sampling from %s at round %d with engine %s into %s", label, round, said, workspace.path)
    if options.pairs == "best-worst":
        args = (options, workspace, model_path, label, round, params, bool(answers), judge_folder)
        return sample_best_worst(*args, plan=plan, **common)
    common["round"] = round
    engine = make_engine(options.engine, model_path, engine_options(options)) if answers else None
    if options.spin:
        return dict(sample_spin(workspace, engine, label, params, **common))
    return dict(
        sample_pairs(
            workspace,
            engine,
            label,
            options.n,
            params,
            pairs_per_prompt=options.pairs_per_prompt,
            plan=plan,
            **common,
        )
    )


def run(options: GenerateOptions) -> dict:
    """Sample into the workspace, or label its pairs by machine, as the options say; returns the counts."""
    # Every check comes before the workspace is created or written: bad input writes nothing.
    check_options(options)
    options = workspace_models(options)  # `runs/x`: the workspace's run, where no ./runs/x is here
    model, model_path = start_model(options)
    shard = parse_shard(options.shard) if options.shard else None
    params = sampling_params(options)
    if not options.spin and not options.arena:
        check_pair_params(options.n, params)
    if mode_of(options) == "--judge":  # judge the pairs already there
        workspace = Workspace(options.workspace)  # first: a hub id judge may be fetched
        check_reward_judge(options, workspace)
        options = replace(options, split=job_split(options, workspace, None))
        return judge_workspace(options, workspace, check_judge_model(options))
    loaded = read_prompts(options.prompts, options.test_fraction or 0.0, options.workspace)
    existing = Workspace.existing(options.workspace)  # None: created below, once every check has passed
    options = replace(options, split=job_split(options, existing, loaded))  # an arena's: test, where held out
    check_prompts(existing, options.workspace, loaded, options.split, shard, gold=options.spin)
    arena = check_models(options, existing)
    # a pairs job's plan, where nothing is imported: the one it samples by (made once)
    plan = check_job_with_prompts(
        options, existing, loaded, model_path, model_label(model), shard, arena, params
    )
    model_path = fetch_models(options, model_path, arena)
    # the judge loads after the sampling: found now (last: a hub id may be fetched), loaded from the folder found
    judge_folder = check_judge_model(options)
    workspace = existing or Workspace.init(options.workspace)
    if loaded:  # what `data import` would say of it beside its counts, and warn of
        loaded, said, warnings = import_prompts(workspace, loaded, options.test_fraction or 0.0)
        for line in said:
            print(line)
        for line in warnings:
            print(f"warning: {line}", file=sys.stderr)
    if options.arena:
        from generate.arena import run_arena

        # the arena's set, made once: the line below says the set the arena answers
        ids = prompt_ids(workspace, options.split, options.limit or 0)
        if loaded:  # the file's prompts or not
            why = arena_samples(options.limit or 0)
            if said := file_share_line(workspace, loaded, {options.split: set(ids)}, why):
                print(said)
        # with --judge, the judge's votes on its pairs
        return run_arena(options, workspace, options.split, ids, models=arena, judge_folder=judge_folder)
    round, label = sampling_round(options, workspace, model_path), model_label(model)
    if options.limit:  # a set smaller than --limit was taken whole without a word
        todo, kept = job_prompts(
            workspace, label, round, options.split, shard, options.limit, gold=options.spin
        )
        within = f"{'with a gold answer ' * options.spin}in split {options.split}"
        within += f" (shard {options.shard})" * bool(shard)
        for line in limit_taken(options.limit, len(todo) + len(kept), within):
            print(line)
    # planned again where --prompts was imported, or the round is another (a short name's folder, converted now)
    if not options.spin and (plan is None or plan.round != round):
        plan = pairs_plan(options, workspace, label, round, shard, params)
    if loaded:  # the file's prompts among the job's: a job samples its split, the workspace's prompts too
        asked = plan.new_answers() if plan else job_answers(options, workspace, label, round, shard, None)
        if said := file_share_line(workspace, loaded, {options.split: set(asked)}):
            print(said)
    return sample_job(options, workspace, model_path, label, round, shard, params, plan, judge_folder)


def runs_a_loop(argv: list[str]) -> bool:
    """Whether the command line (or its --config file) asks for a round driver."""
    if any(arg.split("=")[0] in LOOP_FLAGS for arg in argv):
        return True
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    add_config(pre)
    config = pre.parse_known_args(argv)[0].config
    return bool(config and {"spin_iter", "judge_iter"} & load_yaml_keys(config))


def _main(argv: list[str] | None, prog: str) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if runs_a_loop(argv):  # the documented `python -m generate --spin-iter N` form
        from generate.loop.__main__ import main as loop_main

        return loop_main(argv, prog)
    options = parse_options(argv, prog)
    quiet_logs(options.verbose)
    counts = run(options)
    if options.judge and "cost_per_pair" in counts:
        print("\n".join(judge_report(counts, options.judge_max_length, options.max_model_len)))
    else:
        cost = counts.get("judge_cost_per_prompt")  # --pairs best-worst: a line of its own, not a dict's repr
        print(
            "done: "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k != "judge_cost_per_prompt")
        )
        if cost:
            print(cost_line("prompt", cost))
        made = made_lines(counts, options.n)
        asked = counts.get("prompts") or counts.get("too_long")  # a too-long prompt is left, not sampled
        if not options.arena and not asked:  # check_prompts found some: all sampled already
            print(nothing_left(options, counts.get("already_sampled", 0), made))
        elif made:
            print("\n".join(made))
        if said := topped_up_line(counts, options.n):
            print(said)
    return 0


def main(argv: list[str] | None = None, prog: str = "python -m generate") -> int:
    return run_cli(lambda args: _main(args, prog), argv)


if __name__ == "__main__":
    sys.exit(main())
