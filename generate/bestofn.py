"""Machine labelling jobs: judge a workspace's pairs (`--judge`), pair the best and worst of n samples as a machine
labeller scores them (`--n 4 --pairs best-worst --judge ...`, RLHFlow's iterative DPO); the round driver
`--judge-iter N` built on them is `generate.loop.judge`.

``--judge`` names the machine labeller: ``rm`` (the newest reward model in the manifest), ``rm:<model id>``
(`python -m train --method rm` trains one) or ``rm:FOLDER`` (one outside the manifest), else a chat model (a short
name, a folder or a hub id: `judge_model`) asked MT-Bench's pairwise question through the engine seam
(`generate.judge`).
"""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Collection

import pandas as pd

from data.annotators import judge_annotator, rm_annotator
from data.chat_template import named_chat_template
from data.errors import PrefloopError
from data.leaderboard import ARENA
from data.lineage import is_reward_model_name, reward_model_entry, same_model_names
from data.pairing import distinct_completions
from data.provision import ProvisionError, answering_model_config, model_label
from data.records import Pair
from data.workspace import Workspace
from generate.context import TOO_LONG, check_max_tokens
from generate.engines import SamplingParams, make_engine
from generate.job_plan import job_prompts, model_answers, model_sampled
from generate.judge import (
    Cost,
    LLMJudge,
    RewardJudge,
    TooLong,
    Verdict,
    judge_pairs,
    load_template,
    machine_label,
    pairs_to_judge,
)
from generate.kept_pairs import BEST_WORST_NOTE, best_worst_paired
from generate.options import GenerateOptions, SampleOptions, engine_options
from generate.prepare import check_workspace_writable
from generate.sampling import sample_pairs

log = logging.getLogger(__name__)
JUDGING_WRITES = "judging writes its labels there; nothing judged"


def judge_model(options: SampleOptions) -> str:
    """The local folder the chat-model judge ``options.judge`` loads from (`data.provision.answering_model_config`: a
    hub id found in, or fetched into, the hub's cache; its config read once; its tokenizer and weight files), with a
    context that --judge-max-tokens does not fill (`check_max_tokens`, as --max-tokens is checked), else a one-line
    error naming ``--judge``. Tests fake a judge by replacing this function: the early check (`check_judge_model`)
    goes through it, and the judge's load (`make_judge`) where it is given no checked folder."""
    folder, config = answering_model_config("--judge", options.judge)
    named = f"--judge {options.judge}"
    check_max_tokens(
        options.judge_max_tokens,
        folder,
        named,
        options.max_model_len,
        config,
        flag="--judge-max-tokens",
        shared_with="the question with both answers",
    )
    return str(folder)


def check_judge_model(options: SampleOptions) -> str | None:
    """A chat-model ``--judge`` found (`judge_model`), with a chat template to ask its question in (its own, or
    ``--chat-template``, which its engine takes too), before anything is written or sampled: a sampling job's judge
    loads only after the sampling (`--pairs best-worst`, `--arena`, the judge loop's steps). A reward-model judge
    (``rm``, ``rm:...``) scores texts: no template. The last check a job runs: a hub id may be fetched. Returns the
    chat-model judge's checked folder, for its load (`make_judge`: checked once a run, not once a load); None: no
    chat-model judge."""
    if not options.judge or is_reward_model_name(options.judge):
        return None
    try:
        folder = judge_model(options)
        named_chat_template(f"--judge {options.judge}", folder, options.chat_template)
    except PrefloopError as exc:
        raise ProvisionError(f"{exc}; nothing written") from exc
    return folder


def judge_name(options: SampleOptions, workspace: Workspace) -> str:
    """The annotator name of the labels ``options.judge`` writes, found without loading it."""
    if is_reward_model_name(options.judge):
        return rm_annotator(reward_model_entry(options.judge, workspace).id)
    return judge_annotator(model_label(options.judge))


class OnFirstUse:
    """The machine labeller ``options.judge`` names, loaded when first asked (`make_judge`): a job with nothing to
    judge or pair (a rerun's) loads no model, as a sampling job with nothing to sample loads none. ``folder``: the
    chat-model judge's, as `check_judge_model` checked it (None: checked as it loads)."""

    def __init__(self, options: SampleOptions, workspace: Workspace, folder: str | None = None):
        self.annotator = judge_name(options, workspace)
        self._options, self._workspace, self._folder, self._judge = options, workspace, folder, None

    @property
    def loaded(self) -> bool:
        return self._judge is not None

    @property
    def context_length(self) -> int | None:
        """A loaded LLM judge's context (`LLMJudge.context_length`); None for a reward model, or none loaded."""
        return getattr(self._judge, "context_length", None)

    @property
    def cost(self) -> Cost:
        return self._judge.cost if self._judge is not None else Cost()

    def _load(self):
        if self._judge is None:
            # asked first with work to do: its first labels write failed only once it had loaded and judged a chunk
            check_workspace_writable(self._workspace.path, JUDGING_WRITES)
            self._judge = load_judge(self._options, self._workspace, self._folder)
        return self._judge

    def compare(self, items: list[tuple[list[dict], str, str]]) -> list[Verdict]:
        return self._load().compare(items) if items else []

    def rank(self, prompt: list[dict], texts: list[str]) -> tuple[int, int, float] | None:
        return self._load().rank(prompt, texts)


def make_judge(options: SampleOptions, workspace: Workspace, folder: str | None = None) -> OnFirstUse:
    """The machine labeller ``options.judge`` names, loaded when first asked (``folder``: `OnFirstUse`)."""
    return OnFirstUse(options, workspace, folder)


def load_judge(options: SampleOptions, workspace: Workspace, folder: str | None = None):
    """The machine labeller ``options.judge`` names (see the module docstring), loaded; a chat model from
    ``folder``, its checked folder (None: checked here, `judge_model`)."""
    if is_reward_model_name(options.judge):
        from train.run import reward_scorer

        scorer, entry = reward_scorer(options.judge, workspace, max_length=options.judge_max_length)
        return RewardJudge(scorer, entry.id)
    template = load_template(options.judge_template, warn=False)  # checked, and warned of, before the run
    engine = make_engine(options.engine, folder or judge_model(options), engine_options(options))
    # Greedy: a verdict is a measurement, not a sample.
    params = SamplingParams(
        temperature=0.0, top_p=1.0, max_tokens=options.judge_max_tokens, seed=options.seed
    )
    return LLMJudge(engine, model_label(options.judge), template, params)


def judge_workspace(options: GenerateOptions, workspace: Workspace, folder: str | None = None) -> dict:
    """`--judge` alone: machine labels on the workspace's pairs that have none from this judge yet (``folder``: the
    judge's checked folder, `OnFirstUse`)."""
    judge = make_judge(options, workspace, folder)
    labelled = options.judge_labelled or bool(options.kinds)  # arena votes are every annotator's own
    pairs, already = pairs_to_judge(
        workspace, judge.annotator, options.split, labelled, options.limit or 0, options.kinds
    )
    log.info("%s judges %d pairs of split %s", judge.annotator, len(pairs), options.split)
    own = own_answer_pairs(workspace, pairs, model_label(options.judge)) if judges_arena(options) else 0
    if own:  # its votes count on the leaderboard as any judge's: said, not refused
        log.warning(
            "--judge %s is one of the arena's models: it judges %d pairs with its own answer on one side (an LLM "
            "judge favours its own answers)",
            options.judge,
            own,
        )
    result = {**judge_pairs(workspace, judge, pairs, options.chunk_size, already), "loaded": judge.loaded}
    # nothing here, some there: `--kinds arena` judged split train, the default, and the arena's pairs were in test
    if pairs.empty and options.split:
        other = "test" if options.split == "train" else "train"
        waiting, _ = pairs_to_judge(workspace, judge.annotator, other, labelled, 0, options.kinds)
        result["elsewhere"] = {
            "split": other,
            "judged": options.split,
            "pairs": len(waiting),
            "kinds": options.kinds,
        }
    return result


def judges_arena(options: GenerateOptions) -> bool:
    """An LLM judge asked for arena pairs (a reward model writes no answers: never an arena model)."""
    return ARENA in (options.kinds or ()) and not is_reward_model_name(options.judge)


def own_answer_pairs(workspace: Workspace, pairs: pd.DataFrame, model: str) -> int:
    """How many of ``pairs`` have an answer by ``model`` on a side (`data.lineage.same_model_names`: a hub id or
    its snapshot), by its current weights: one its folder wrote before its newest training is its earlier version's
    (`generate.job_plan.model_answers`)."""
    by = model_answers(workspace, columns=["model", "created_at"]).set_index("id")["model"]  # not the texts
    mine = same_model_names(by, model)
    a, b = (by.reindex(pairs[side]).isin(mine).to_numpy() for side in ("completion_a", "completion_b"))
    return int((a | b).sum())


def pair_best_worst(
    workspace: Workspace, judge, model: str, round: int, only: Collection[str] | None = None, chunk: int = 16
) -> Counter:
    """For each prompt ``model`` answered in ``round`` (``only`` these prompt ids) with no best-vs-worst pair yet
    (`best_worst_paired`, counted ``already_paired``): the best- and worst-scored of its answers as a ``sampled``
    pair (a = best), labelled ``a`` by the judge. Resumable."""
    mine = model_sampled(workspace, model, round)
    if only is not None:
        mine = mine[mine["prompt_id"].isin(only)]
    paired = best_worst_paired(workspace, mine["id"])
    messages = workspace.frame("prompts").set_index("id")["messages"]
    counts: Counter = Counter()
    records: list[object] = []
    groups = [(p, g) for p, g in mine.groupby("prompt_id", sort=True) if p not in paired]
    counts["already_paired"] = mine["prompt_id"].nunique() - len(groups)
    for index, (prompt_id, group) in enumerate(groups, start=1):
        usable, dropped = distinct_completions(list(group.sort_values(["seed", "id"]).itertuples()))
        counts += dropped
        ranked, skipped = None, "unpaired_prompts"
        if len(usable) > 1:
            try:
                ranked = judge.rank([dict(m) for m in messages[prompt_id]], [c.text for c in usable])
                skipped = "no_spread"
            except TooLong:  # not paired: a rerun asks again
                skipped = TOO_LONG
        if ranked is None:
            counts[skipped] += 1
        else:
            best, worst, confidence = ranked
            pair = Pair(prompt_id, usable[best].id, usable[worst].id, kind="sampled", round=round)
            verdict = Verdict("a", confidence, BEST_WORST_NOTE.format(len(usable)))
            records += [pair, machine_label(pair.id, judge.annotator, verdict)]
            counts["pairs"] += 1
        if records and (index % chunk == 0 or index == len(groups)):
            workspace.append(records, skip_existing=True)
            records = []
    return counts


def sample_best_worst(
    options: GenerateOptions,
    workspace: Workspace,
    model_path: str,
    label: str,
    round: int,
    params: SamplingParams,
    to_sample: bool = True,
    judge_folder: str | None = None,
    **common,
) -> dict:
    """`--n N --pairs best-worst --judge J`: sample with the job's ``params`` (`sampling_params`; ``common``:
    sample_pairs's split, limit, chunk size, shard, plan; ``to_sample`` False: nothing left to, no sampler loads),
    free the sampler, then pair each prompt of the job's set's best vs worst answer as the judge (``judge_folder``:
    its checked folder, `OnFirstUse`) scores them."""
    engine = make_engine(options.engine, model_path, engine_options(options)) if to_sample else None
    counts = dict(sample_pairs(workspace, engine, label, options.n, params, round, pairing=False, **common))
    del engine
    gc.collect()  # the sampler's memory before the judge loads
    judge = make_judge(options, workspace, judge_folder)
    # the job's set, as it sampled it (--split, --shard, --limit): not every prompt the model answered in the round
    todo, kept = job_prompts(workspace, label, round, common["split"], common["shard"], common["limit"])
    only = {prompt.id for prompt in (*todo, *kept)}
    paired = pair_best_worst(workspace, judge, label, round, only, chunk=options.chunk_size)
    judged = paired["pairs"] + paired["no_spread"]
    result = {**counts, **{f"best_worst_{k}": v for k, v in (+paired).items()}, "judge": judge.annotator}
    # not loaded: nothing was left to pair, and no cost (`generate.report_lines.made_lines` says so)
    if judge.loaded:
        result["judge_cost_per_prompt"] = judge.cost.per_pair(judged)
    return result
