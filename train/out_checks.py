"""What ``--out``, ``--resume`` and ``--overwrite`` may do, checked before anything loads (`check_out_folder`,
`check_resumed_model`) and once the memory plan is settled (`check_resumed_plan`), against what the run in OUT
recorded (`train.out_folder`).

``--resume`` continues only an unfinished run of the same method (checkpoints without a recorded config, from a
version that wrote it only at the end, are refused: their method cannot be checked), and writes into no other
non-empty folder; ``--overwrite`` replaces only what a train run wrote (a folder holding a run's config, report or
checkpoints), never any other folder's files. A round driver (`generate --spin-iter`) claims an iterate's folder
with its marker file before training there with --resume, which it sets itself: that folder starts fresh, and its
refusals say to remove the folder, not to pass --overwrite.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from data.config_values import expand_home
from data.errors import PrefloopError
from data.files import refuse_a_link_to_nothing, refuse_unwritable
from data.lineage import NEWEST
from data.model_load import is_finished_run, is_train_run, run_in_models_line
from data.provision import EMBEDDED, check_name_printable, is_model_dir, looks_like_hub_id
from data.validate import ITERATE
from data.workspace import refuse_a_stored_folder
from data.workspace_root import MARKER, Roots, read_path, read_roots
from train.methods import METHODS
from train.options import TrainOptions
from train.out_folder import (
    CONFIG_FILE,
    is_main_process,
    recorded_config,
    resume_advice,
    run_config,
    start_again,
)
from train.saving import TRAINED_FILE

# What a resume may change: where and how the run is done, not what it trains. The memory plan's own options are
# settled again from the same inputs (the recorded ones are the plan's, not the flags').
RESUME_MAY_CHANGE = frozenset(
    {
        "out",
        "resume",
        "overwrite",
        "threads",
        "eval_limit",
        "eval_steps",
        "save_steps",
        "register",
        "ref_cache",
    }
    | {"lora_r", "gradient_checkpointing", "batch_size", "grad_accum"}
)


# Options for which this value and not given (None) train alike, recorded or given now: --label-smoothing 0 (ε 0;
# exo_pair, whose default ε is not 0, refuses 0), its default before None, as a run of a version before records it.
SAME_AS_NOT_GIVEN = {"label_smoothing": 0.0}


def _same_path(a: object, b: object) -> bool:
    """Whether ``a`` and ``b`` name one folder; a recorded ``~`` is home, as parsing reads a given one now (a run
    started before that recorded `--model=~/m` as typed)."""
    if a == b or a is None or b is None:
        return a == b
    return expand_home(Path(str(a))).resolve() == expand_home(Path(str(b))).resolve()


# Options of labellers' names, kept as given (`--exclude-labeller a,b` or `a b`: the same names; data.exclusion
# splits a value that is no stored name at its commas); a run recorded before they were kept so holds them split.
NAMES_OPTIONS = frozenset(f.name for f in dataclasses.fields(TrainOptions) if f.metadata.get("names"))


def _names(values: object) -> list[str]:
    """The names a names option's values give, however the command line grouped them, in one order. Compared
    before the stored names are known, so an empty part (``judge:/models/run,``, a stored name the run took whole:
    `data.exclusion.flag_names`) names no one here rather than being refused (the resume of that run was)."""
    parts = (part.strip() for value in values or () for part in str(value).split(","))
    return sorted({part for part in parts if part})


def _changed_option(recorded: dict, options: TrainOptions, roots: Roots, out: Path) -> str | None:
    """The first option (not one a resume may change) whose value differs from the run's recorded one, or None.
    A path recorded under the folder the workspace was made in is read under where it is now (a moved or copied
    workspace: `data.workspace_root`; ``roots``: its `read_roots`, read once for every path option); so is the
    workspace of a run whose folder ``out`` it holds where the run's recorded folder lay in the recorded workspace
    (`_moved_with_run`), and a start model given inside that workspace (`_recorded_model`)."""
    now = run_config(options)
    for name, value in now.items():
        if name in RESUME_MAY_CHANGE or name not in recorded:
            continue
        was = recorded[name]
        if name == "workspace" and _moved_with_run(recorded, options.workspace, out):
            continue
        if name in ("workspace", "model"):
            if name == "model":
                was = _recorded_model(recorded, options, roots, out)
            elif isinstance(was, str):
                was = read_path(roots, was)
            if not _same_path(was, value):
                return name
        elif name in NAMES_OPTIONS:
            if _names(was) != _names(value):
                return name
        elif name in SAME_AS_NOT_GIVEN and all(v in (None, SAME_AS_NOT_GIVEN[name]) for v in (value, was)):
            continue
        elif json.loads(json.dumps(value)) != was:  # tuples are lists in the file
            return name
    return None


def _spelled_inside(path: object, folder: object) -> str | None:
    """``path`` as a path inside ``folder``, both as a run's config records them (as given: relative, or not), or
    None where it does not lie inside it."""
    if not isinstance(path, str) or not isinstance(folder, str):
        return None
    inside = os.path.relpath(path, folder)
    return None if inside == "." or inside.split(os.sep)[0] == ".." else inside


def _moved_with_run(recorded: dict, workspace: Path, out: Path) -> bool:
    """The run's folder ``out`` lies in ``workspace`` where its recorded ``out`` lay in its recorded workspace: the
    workspace was copied or moved with the run in it. Its recorded paths are as given (`-w ws`, relative), which
    `read_path` cannot read under where the workspace is now (nor a copy of a moved workspace's, made elsewhere)."""
    inside = _spelled_inside(recorded.get("out"), recorded.get("workspace"))
    return inside is not None and os.path.relpath(out, workspace) == inside


def _recorded_model(recorded: dict, options: TrainOptions, roots: Roots, out: Path) -> object:
    """The run's recorded ``--model`` as it names a folder now: one given inside its workspace (`-w ws --model
    ws/models/base`) that was copied or moved with the run (`_moved_with_run`) is that folder of the workspace it
    is in now, as the workspace counts as the recorded one; one under the workspace's recorded root, the same
    under where it is now (`read_path`); any other as given (`check_resumed_model`)."""
    was = recorded["model"]
    inside = _spelled_inside(was, recorded.get("workspace"))
    if inside is not None and _moved_with_run(recorded, options.workspace, out):
        return str(Path(options.workspace) / inside)
    return read_path(roots, was) if isinstance(was, str) else was


def _outside_folder(was: object, workspace: object) -> bool:
    """``was`` (a recorded --model) is a folder given relative to the current folder, outside the recorded
    ``workspace``: neither a name the start model is found by (``newest``, a short name, an ``org/model`` hub id)
    nor a path a copy of the workspace would hold."""
    if not isinstance(was, str) or was == NEWEST or was in EMBEDDED or looks_like_hub_id(was):
        return False
    return not expand_home(Path(was)).is_absolute() and _spelled_inside(was, workspace) is None


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def check_out_folder(
    out: Path, options: TrainOptions, reads: tuple[Path, ...] = (), marker: str | None = None
) -> None:
    """Refuse what ``--out``, ``--resume`` and ``--overwrite`` cannot do together, before anything loads;
    ``reads``: the folders the run reads (start model, workspace), which --overwrite must not empty; ``marker``:
    the file by which a round driver claimed ``out`` for this run (the SPIN driver's ``spin.json``): a folder
    holding only it is new to --resume."""
    if options.resume and options.overwrite:
        raise PrefloopError("--resume and --overwrite: give one (continue the run in --out, or replace it)")
    refuse_a_link_to_nothing(out, out)  # where the run would make its folder
    # the trained model's name in the manifest, the completions it samples and every table naming them
    check_name_printable(_out_flag(out, options), str(out.resolve()), "its path", "give another --out")
    _refuse_a_run_of_the_old_layout(out)
    # a run's files in a workspace's table folder (`--out ws/labels/run`) made that workspace fail `data validate`
    refuse_a_stored_folder(out, "--out " * (options.out is not None), "give another --out")
    existing = next(p for p in (out, *out.parents) if p.exists())  # the folder itself, or where it would go
    if not existing.is_dir():
        where = "" if existing == out else f"{existing} "
        raise PrefloopError(f"--out {out}: {where}is a file, not a folder")
    if not is_main_process():
        return
    _check_writable(out, existing, options)
    if not out.exists() or not any(out.iterdir()):
        return
    if options.overwrite:
        if not is_train_run(out):
            raise PrefloopError(f"{out}: not a train output folder; give an empty or new --out")
        for path in reads:
            if _inside(path, out):
                raise PrefloopError(
                    f"{out}: --overwrite would delete {path}, which this run reads; give another --out"
                )
        return
    if not options.resume and not is_train_run(out):  # --resume and --overwrite both refuse it
        raise PrefloopError(
            f"{out}: output folder is not empty and not a train output folder (no {CONFIG_FILE} or checkpoint-*): "
            "give an empty or new --out"
        )
    if not options.resume:
        raise PrefloopError(
            f"{out}: output folder is not empty (pass --resume to continue, --overwrite to replace)"
        )
    if not is_train_run(out):
        if {entry.name for entry in out.iterdir()} == {marker}:
            return  # claimed by a round driver for this run, nothing trained there yet: it starts fresh
        again = start_again(out, marker, "give an empty or new --out")
        raise PrefloopError(
            f"{out}: not a train output folder (no {CONFIG_FILE} or checkpoint-*), nothing to resume; {again}"
        )
    if is_finished_run(out):
        again = start_again(out, marker, "--overwrite replaces it")
        raise PrefloopError(f"{out}: the run there finished (nothing to resume); {again}")
    for path in reads:
        if _inside(path, out):
            raise PrefloopError(f"{out}: --resume from {path}, which is inside the run's own folder")
    _check_recorded(out, options, marker)


def _refuse_a_run_of_the_old_layout(out: Path) -> None:
    """An unfinished run in ``WS/models/NAME`` (`data.model_load.run_in_models_line`): it was told "give another
    --out", as if its checkpoints were not the user's. A finished one is left to `refuse_a_stored_folder`'s
    refusal: there is nothing to resume."""
    folder = out.resolve().parent
    if folder.name != "models" or not (folder.parent / MARKER).is_file() or is_finished_run(out):
        return
    line = run_in_models_line(out, folder.parent / "runs")
    if line:
        raise PrefloopError(line)


def resumed_run(options: TrainOptions, runs: Path) -> Path:
    """The run ``--resume`` without ``--out`` continues: the one unfinished run of ``options.method`` among the run
    folders in ``runs`` (``WS/runs``, where a run without --out goes: as HF's ``resume_from_checkpoint=True`` finds
    the newest checkpoint in its output_dir), never a round driver's iterate (``<name>-iter<t>``: its driver
    resumes it). None, or several, is one line naming them: a fresh run in a new folder, as --resume started, would
    leave the run the user meant to continue where it was, and train again from the start."""
    folders = sorted(p for p in runs.iterdir() if p.is_dir() and not p.is_symlink()) if runs.is_dir() else []
    candidates = [
        f for f in folders if not ITERATE.search(f.name) and is_train_run(f) and not is_finished_run(f)
    ]
    found = [folder for folder in candidates if _recorded_method(folder) == options.method]
    what = f"--resume without --out: {{}} unfinished --method {options.method} run{{}} in {runs}"
    if not found:
        raise PrefloopError(what.format("no", "") + ": nothing to resume (without --resume a new run starts)")
    if len(found) > 1:
        names = ", ".join(folder.name for folder in found)
        raise PrefloopError(what.format(len(found), "s") + f" ({names}): give --out with the one to continue")
    return found[0]


def _recorded_method(folder: Path) -> str | None:
    """The method the run in ``folder`` recorded; None where it recorded no run's config (--out names it, to be told
    why)."""
    try:
        recorded = recorded_config(folder)
    except PrefloopError:
        return None
    return None if recorded is None else recorded["method"]


def _check_recorded(out: Path, options: TrainOptions, marker: str | None) -> None:
    """The unfinished run in ``out`` is one ``options`` continue: of their method (a step of a step-wise method's
    run is none of its own), and started with them but for `RESUME_MAY_CHANGE`."""
    recorded = recorded_config(out, marker)
    if recorded is None and any(out.glob("checkpoint-*")):  # what the resume would continue from, unchecked
        stepwise = _stepwise_run(out.parent)
        if stepwise is not None:  # its run records the method in the folder above, not here
            raise PrefloopError(
                f"{out}: a step of the --method {stepwise} run in {out.parent}, which does not "
                f"resume (each step is a run of its own; --overwrite --out {out.parent} starts it again)"
            )
        raise PrefloopError(
            f"{out}: its checkpoint records no method or options (a run of a version before train_config.json "
            f"was written as a run starts), so it cannot be resumed as --method {options.method}; "
            + start_again(out, marker, "--overwrite starts again")
        )
    if recorded is None:
        return
    if recorded["method"] != options.method:
        what = "its checkpoint is" if any(out.glob("**/checkpoint-*")) else "the run there is"
        raise PrefloopError(f"{out}: {what} from --method {recorded['method']}, not {options.method}")
    roots = read_roots(Path(options.workspace))  # the workspace's marker read once for every path option
    changed = _changed_option(recorded, options, roots, out)
    if changed is not None:  # its checkpoints or its saved model were made with the recorded options
        flag, was = changed.replace("_", "-"), _shown(recorded[changed])
        named = _recorded_model(recorded, options, roots, out) if changed == "model" else recorded[changed]
        if named != recorded[changed]:  # a folder of the workspace, which is elsewhere now
            was += f" ({named} where the workspace is now)"
        raise PrefloopError(
            f"{out}: the run there was started with --{flag} {was}, not {_shown(getattr(options, changed))}; "
            + resume_advice(out, marker)
        )


def check_resumed_model(out: Path, options: TrainOptions, marker: str | None = None) -> None:
    """On --resume, before the start model is looked up: the run's relative --model folder outside its workspace
    (`_outside_folder`) is read from the current folder, as it was; where it names no model (a copy of the workspace
    made elsewhere, a resume from another folder), the resume is refused naming the folder and how to pass it,
    whatever --model is given (no other folder is the recorded one)."""
    recorded = recorded_config(out, marker) if options.resume and is_main_process() else None
    finished = is_finished_run(out)
    if recorded is None or finished or recorded["method"] != options.method:
        return  # nothing to resume, or not a run these options continue: `check_out_folder` says which
    was = recorded.get("model")
    if not _outside_folder(was, recorded.get("workspace")) or is_model_dir(expand_home(Path(was))):
        return
    here = expand_home(Path(was)).absolute()
    raise PrefloopError(
        f"{out}: the run there was started with --model {was}, a folder outside its workspace, read from the current "
        f"folder: no model at {here}; resume from the folder the run was started in (-w and --out from there, "
        f"--model {was}), or copy its start model to {here}"
    )


def _stepwise_run(folder: Path) -> str | None:
    """The step-wise method (sDPO) of the run in ``folder``, whose steps are its folders; None for any other."""
    try:
        method = (recorded_config(folder) or {}).get("method")
    except PrefloopError:  # not a run's config: the folder below is judged on its own
        return None
    return method if method in METHODS and METHODS[method].stepwise else None


def _out_flag(out: Path, options: TrainOptions) -> str:
    return f"--out {out}" if options.out is not None else f"{out} (the run's folder; --out names another)"


def _check_writable(out: Path, existing: Path, options: TrainOptions) -> None:
    """A folder the run cannot write (a read-only mount; ``existing``: ``out`` or the folder it would be made in) is
    refused before anything loads, in one line naming --out, not as the run claims it: "[Errno 30] Read-only file
    system: 'romnt/sub'" once the model had loaded."""
    flag = _out_flag(out, options)
    where = "the folder" if existing == out else str(existing)
    refuse_unwritable(existing, lambda reason: f"{flag}: {where} is not writable ({reason}); nothing trained")


def check_resumed_plan(out: Path, options: TrainOptions, marker: str | None = None) -> None:
    """On --resume, the memory plan settled again (``options``: the plan's) must train as the run did: the same
    LoRA rank (its checkpoint holds those weights and their optimiser state) and the same effective batch (its
    steps are counted in it); only the split into micro-batches and accumulation, and checkpointing, may differ.
    A run that saved its final model (`TRAINED_FILE`) trains nothing again: any plan serves its report."""
    resumes = options.resume and is_main_process() and not (out / TRAINED_FILE).exists()
    recorded = recorded_config(out, marker) if resumes else None
    if recorded is None or "lora_r" not in recorded:
        return
    again = resume_advice(out, marker)
    if (recorded["lora_r"] or 0) != (options.lora_r or 0):
        was, now = (f"LoRA r={r}" if r else "full fine-tuning" for r in (recorded["lora_r"], options.lora_r))
        raise PrefloopError(f"{out}: the run there trains with {was}, not {now} (--lora-r); {again}")
    was = recorded["batch_size"] * recorded["grad_accum"]
    if was != options.batch_size * options.grad_accum:
        raise PrefloopError(
            f"{out}: the run there trains with an effective batch of {was} (--batch-size x --grad-accum), not "
            f"{options.batch_size * options.grad_accum}; {again}"
        )


def _shown(value: object) -> str:
    if value is None:
        return "(not given)"
    if isinstance(value, list | tuple):
        return " ".join(map(str, value)) or "(none)"
    return str(value)
