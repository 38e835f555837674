"""What every sampling job does before it samples: resolve the model and check its chat template, read the
prompts to import. All of it before the workspace is touched, so bad input writes nothing."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from data.chat_template import chat_template_for
from data.errors import PrefloopError, check_file_name, counted
from data.files import refuse_unwritable
from data.import_summary import split_line, warning_lines
from data.import_write import copy_warning, import_lock, log_import, split_news
from data.imports import (
    ImportOptions,
    ImportPreview,
    Loaded,
    check_files,
    check_rank_items,
    checked_again,
    warn_gold_conflicts,
    write_records,
)
from data.lineage import (
    NEWEST,
    is_reward_model_name,
    newest_model,
    reward_model_entry,
    reward_model_folder,
)
from data.provision import (
    EMBEDDED,
    SAMPLES,
    answering_model_config,
    check_model_parts,
    home,
    in_workspace,
    is_model_dir,
    resolve_model,
    sample_path,
)
from data.records import Prompt, has_gold
from data.workspace import Workspace, WorkspaceError
from generate.arena_models import BASE
from generate.context import check_max_tokens
from generate.options import GenerateOptions, SampleOptions
from generate.shards import in_shard

S = TypeVar("S", bound=SampleOptions)


def quiet_logs(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for name in ("transformers", "httpx", "urllib3", "filelock"):  # their INFO lines bury our summary
        logging.getLogger(name).setLevel(logging.WARNING)
    if verbose:
        logging.getLogger("transformers").setLevel(logging.INFO)


def start_model(options: SampleOptions) -> tuple[str, str]:
    """(the model as named, a loadable location); a folder that is a base model without --chat-template is one
    line, now. A hub id is looked up by `fetch_model`, once the checks that cost nothing have passed, and so is a
    short name not converted yet (given as its name): its one-time conversion loads the model."""
    newest = options.model == NEWEST
    model = newest_model(Workspace(options.workspace)).path if newest else options.model
    if model in EMBEDDED and not is_model_dir(home() / "models" / model):
        return model, model
    model_path = resolve_model(model)
    if Path(model_path).is_dir():
        chat_template_for(Path(model_path), options.chat_template)
    return model, model_path


def workspace_models(options: S) -> S:
    """``options`` with each model they name by a folder relative to the workspace, not here, named by that folder
    (`data.provision.in_workspace`: `runs/x` is `WS/runs/x`, where `train` writes its runs, unless `./runs/x` is
    there): --model, a chat-model --judge and the --arena names (not `newest` or `base`, the manifest's). Before any
    model is resolved, so that every check and record reads the one folder."""
    workspace = options.workspace

    def named(name: str) -> str:
        return name if name in (NEWEST, BASE) else in_workspace(name, workspace)

    judge = options.judge
    if judge and not is_reward_model_name(judge):
        judge = named(judge)
    arena = tuple(map(named, options.arena)) if options.arena else options.arena
    return replace(options, model=named(options.model), judge=judge, arena=arena)


def fetch_model(options: SampleOptions, model_path: str) -> str:
    """The start model checked as every job checks a model it samples from (`data.provision.answering_model_config`:
    a hub id, the location `start_model` gives as no folder here, found in or fetched into the hub's cache; a short
    name converted; its config read once; its tokenizer and weight files), before the workspace is created: each
    failure one line naming ``--model``; a hub snapshot's chat template is checked as a folder's is. Called after the
    cheap checks (a --prompts file, the split, the rank items), so a mistyped flag costs no download or conversion.
    Returns the location to load: ``model_path``, a short name's folder."""
    try:
        folder, config = answering_model_config("--model", model_path)
        check_max_tokens(
            options.max_tokens, folder, f"--model {options.model}", options.max_model_len, config
        )
    except PrefloopError as exc:
        raise PrefloopError(f"{exc}; nothing written") from exc
    if not Path(model_path).is_dir():
        chat_template_for(folder, options.chat_template)
    return str(folder) if model_path in EMBEDDED else model_path


def check_reward_judge(options: SampleOptions, existing: Workspace | None) -> None:
    """A reward-model ``--judge`` names one (`data.lineage.reward_model_entry`; ``existing`` None: the workspace is
    not created yet), checked before it is created or any model loads: the judge loads after the sampling."""
    if not (options.judge and is_reward_model_name(options.judge)):
        return
    try:
        entry = reward_model_entry(options.judge, existing)
    except WorkspaceError as exc:
        raise WorkspaceError(f"{options.workspace}: {exc}" if existing is None else str(exc)) from None
    folder = Path(entry.path)
    try:  # the manifest's entry outlives its folder, which a later run into it may have emptied or replaced
        reward_model_folder(folder)
        check_model_parts(folder, f"rm:{folder}")
    except PrefloopError as exc:
        if entry.id == entry.path:  # rm:FOLDER, outside the manifest: said as its other refusals
            raise
        raise PrefloopError(
            f"--judge {options.judge} (the manifest's reward model {entry.id}): {exc}; its folder was moved, "
            "removed or reused by a later run (train it again, or name another: rm:<id>)"
        ) from None


def read_prompts(prompts: str | None, test_fraction: float, workspace: str | Path) -> Loaded | None:
    """``prompts`` (a file, or a sample set's name) read and checked for import into ``workspace``, or None. A
    prompt or answer that differs from one stored there (or from an earlier row's) only by Unicode normalisation,
    line ends or trailing whitespace takes its spelling, as in `data import` (`data.spellings`): no near-copy."""
    if not prompts:
        return None
    # its name less the extension is its prompts' and answers' source, as in `data import` (which takes --source)
    becomes = "the source of its prompts and answers, breaking every line that names them"
    check_file_name(
        prompts, becomes, "it to `python -m data import --source NAME` first (then leave --prompts out)"
    )
    path = sample_path(prompts) if prompts in SAMPLES else Path(prompts)
    # what is stored as it is read too (`Loaded.read_at`): `import_prompts` checks it again where that changed
    return check_files(workspace, [path], prompts_options(test_fraction))[1][0][0]


def prompts_options(test_fraction: float) -> ImportOptions:
    """The import options a --prompts file is read with: `data import`'s defaults, --test-fraction setting the
    split (no row's own split column), a file of prompts alone whatever its other columns (no answer is wanted)."""
    return ImportOptions(test_fraction=test_fraction, split_column=False, answers_wanted=False)


def preview_prompts(existing: Workspace | None, where: str | Path, loaded: Loaded | None) -> Workspace:
    """The workspace at ``where`` (``existing``; None: not created yet) as importing the --prompts file ``loaded``
    will leave it, for the checks a job runs before it writes anything (`data.import_preview.ImportPreview`:
    read-only), once the file's answers are checked as an import's (`data.imports.check_rank_items`)."""
    if existing is not None and loaded:
        check_rank_items(existing, [loaded])  # its answers change no rank item under the labels stored on it
    return ImportPreview(where, existing, loaded.records if loaded else [])


def prompts_line(loaded: Loaded, counts: Counter) -> str | None:
    """What `data import`'s summary would add about the --prompts file, stored with ``counts``: its new prompts
    (``new_prompts``: a first run said nothing of the file it imported) and their gold answers
    (``new_gold_answers``), its prompts stored already (``prompts_already_stored``: kept as they are; a rerun said
    nothing of them), its rows that repeat an earlier one (one prompt: ``duplicate_rows``, as `data import` counts
    them; they were dropped without a word), its texts given an earlier spelling (``respelled``), and the columns no
    row read."""
    keys = ("new_prompts", "new_gold_answers", "prompts_already_stored", "duplicate_rows", "respelled")
    said = [f"{key} {counts[key]}" for key in keys if counts[key]]
    said += [loaded.unread] if loaded.unread else []
    return f"--prompts {loaded.path}: {'; '.join(said)}" if said else None


# why a job samples more than the --prompts file's own prompts, per path that does (`file_share_line`)
JOB_SAMPLES = "a job samples every prompt of its split this model has not answered in the round"


def arena_samples(limit: int) -> str:
    """How an arena picks its prompts: without --limit (0) it compares its models on all of its split."""
    if limit:
        return "an arena compares its models on the first --limit prompts of its split, oldest first"
    return "an arena compares its models on every prompt of its split (no --limit)"


def loop_samples(gold: bool, arena_limit: int | None = None) -> str:
    """How a loop picks its prompts; ``gold``: SPIN's, whose pairs need a gold answer, samples only prompts with one;
    ``arena_limit``: its --arena's --spin-test-limit (None: no --arena), whose test prompts need none."""
    which = "prompts with a gold answer" if gold else "prompts"
    said = (
        f"a loop samples the first --limit {which} of split train and --spin-test-limit of test, oldest first"
    )
    if arena_limit is None:
        return said
    test = "the first --spin-test-limit of test" if arena_limit else "every test prompt (--spin-test-limit 0)"
    need = " with a gold answer or without, where SPIN needs one" if gold else ""
    return f"{said}; its --arena answers {test}{need}"


def file_share_line(
    workspace: Workspace, loaded: Loaded, sets: dict[str, set[str]], why: str = JOB_SAMPLES
) -> str | None:
    """Of the prompts a job samples (``sets``: their ids, by split), how many are the --prompts file ``loaded``'s and
    how many other prompts of ``workspace``, where there are any: the file is imported, then the job samples its split
    as any job does (the run said the file's `new_prompts` and then `prompts N`, as if they were the file's); ``why``:
    how this job picks its prompts (a pairs job's, an arena's, a loop's). Then the file's prompts in a split the job
    does not sample, by split (as `--test-fraction` or an earlier import put them): they were passed over unsaid."""
    mine = {record.id for record in loaded.records if isinstance(record, Prompt)}
    said = [
        f"the job samples {len(asked)} prompts of split {split}: {len(asked & mine)} from the file, "
        f"{len(asked - mine)} other prompts of the workspace"
        for split, asked in sets.items()
        if asked - mine
    ]
    said = ["; ".join(said) + f" ({why}, not the file's alone)"] if said else []
    splits = {i: of for i, (of, _) in known_prompts(workspace, loaded).items() if i in mine}  # as stored now
    elsewhere = Counter(of for of in splits.values() if of not in sets)
    if elsewhere:
        each = ", ".join(f"{n} in split {of}" for of, n in sorted(elsewhere.items()))
        said.append(
            f"{counted(elsewhere.total(), 'prompt')} of the file not sampled: {each}, which the job does not sample"
        )
    return f"--prompts {loaded.path}: {'; '.join(said)}" if said else None


def import_prompts(
    workspace: Workspace, loaded: Loaded, test_fraction: float, default_of: str | None = None
) -> tuple[Loaded, list[str], list[str]]:
    """Store the --prompts file ``loaded`` (read with ``test_fraction``, `read_prompts`; ``default_of``: the driver
    whose default it is, none given) in ``workspace``; returns the file as stored (read again where another import
    stored rows since it was read), what `data import` would say about it beside its
    counts (`prompts_line`), then how many of its new prompts the fraction put in the test split
    (`data.import_summary.split_line`): the share varies around the fraction; and apart, for stderr, the warnings
    `data import` would print of it, in its words (`data.import_summary.warning_lines`). Its line in the import log
    (WS/imports/log.jsonl) is written as `data import` writes one (`data.import_write.log_import`: the file, its
    sha256, options, counts stored and skipped by reason), so the log's readers see it. As `data import`, it checks
    the file against what is stored, writes it and its log line in one turn of the import lock (`import_lock`):
    where another import stored rows since `read_prompts`, the file is read again (its texts' spellings, its
    prompts' splits) and its answers checked again (`check_rank_items`) there. No model samples meanwhile."""
    options = prompts_options(test_fraction)
    with import_lock(workspace):
        read = loaded
        (loaded,), _ = checked_again(workspace, loaded.read_at, ([loaded], None), options)
        if loaded is not read:  # checked against the workspace as `preview_prompts` saw it, else
            check_rank_items(workspace, [loaded])
        warn_gold_conflicts(loaded)
        counts = write_records(workspace, loaded.records, loaded.counts)
        # its source as `read_prompts` names it: the file's name (no --source)
        copied = copy_warning(workspace, loaded, counts, loaded.path.stem)
        log_import(workspace, loaded, counts, options)  # after the copy's warning, as there
    split = split_line(counts, test_fraction, default_of)
    # no split asked of the file without a fraction (--split is the one sampled): a stored split kept is no news
    counts = split_news(counts, bool(test_fraction))
    said = [line for line in (prompts_line(loaded, counts), split) if line]
    return loaded, said, warning_lines(loaded, counts, copied)


def known_prompts(workspace: Workspace | None, loaded: Loaded | None) -> dict[str, tuple[str, str | None]]:
    """Each prompt of ``workspace`` (None: not created yet) and of the ``loaded`` --prompts: its split and gold."""
    prompts = {p.id: (p.split, p.gold) for p in (loaded.records if loaded else ()) if isinstance(p, Prompt)}
    if workspace is not None:  # a stored prompt keeps its split and gold: the import skips it
        stored = workspace.read("prompts", columns=["split", "gold"]).to_pydict()
        prompts.update(zip(stored["id"], zip(stored["split"], stored["gold"])))
    return prompts


def job_split(options: GenerateOptions, workspace: Workspace | None, loaded: Loaded | None) -> str:
    """The split a job samples (or judges): --split, else train; an arena's, else test where ``workspace`` (None:
    not created yet), with the --prompts it imports (``loaded``), holds test prompts: the models are compared on
    prompts held out from training."""
    if options.split:
        return options.split
    held = options.arena and any(of == "test" for of, _ in known_prompts(workspace, loaded).values())
    return "test" if held else "train"


def check_prompts(
    workspace: Workspace | None,
    where: Path,
    loaded: Loaded | None,
    split: str,
    shard: tuple[int, int] | None = None,
    gold: bool = False,
) -> None:
    """Refuse a job with no prompt to sample, before the workspace is created or written: none in ``workspace``
    (None: not created yet) or in the ``loaded`` --prompts, or none left by ``split``, ``shard`` and (SPIN's
    ``gold``) a gold answer. Prompts that are all sampled already are not refused: a rerun has nothing left to do."""
    prompts = known_prompts(workspace, loaded)
    if not prompts:
        raise PrefloopError(
            f"{where}: no prompts to sample from: import some with `python -m data import -w {where} FILE`, "
            f"or pass --prompts FILE (or a sample set: {', '.join(SAMPLES)})"
        )
    matching = {i: answer for i, (of, answer) in prompts.items() if of == split}
    if not matching:
        held = ", ".join(
            f"{n} {name}" for name, n in sorted(Counter(of for of, _ in prompts.values()).items())
        )
        raise PrefloopError(
            f"{where}: no prompts of --split {split} to sample from (the workspace and --prompts hold {held}): "
            f"choose another --split, or import {split} prompts (`python -m data import --split {split}`)"
        )
    within = f"--split {split}"
    if shard:
        shard_of = {i: answer for i, answer in matching.items() if in_shard(i, shard)}
        if not shard_of:
            raise PrefloopError(
                f"{where}: none of the {len(matching)} prompts of {within} falls in --shard {shard[0]}/{shard[1]}: "
                "use fewer shards"
            )
        matching, within = shard_of, f"{within} --shard {shard[0]}/{shard[1]}"
    if gold and not any(map(has_gold, matching.values())):
        raise PrefloopError(
            f"{where}: no prompts with a gold answer in {within}, and --spin needs them: import prompts with "
            "answers (e.g. --prompts sft)"
        )


SAMPLING_WRITES = "sampling writes its answers there; nothing sampled"


def check_workspace_writable(path: Path, writes: str = SAMPLING_WRITES) -> None:
    """A job with answers to sample (or, ``writes`` says, pairs to judge) refuses a workspace it cannot write (a
    read-only mount) before a model loads: its first write failed only once the model had sampled a chunk."""
    refuse_unwritable(
        Path(path), lambda reason: f"{path}: the workspace is not writable ({reason}): {writes}"
    )
