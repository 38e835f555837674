"""Where models come from and go: the start model's folder, the final save (LoRA merged, gathered across
ranks), interrupted checkpoints, and the manifest entry that registers a trained model."""

from __future__ import annotations

import json
import logging
import shutil
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from data.chat_template import chat_template_for
from data.errors import PrefloopError, first_line
from data.files import NotAFileError, atomic_write, open_regular, strict_json
from data.import_records import within_depth
from data.lineage import NEWEST, find_model, find_or_register, get_model, newest_model
from data.model_load import check_weights_fit, checkpoint_step
from data.provision import check_model_parts, in_workspace, local_model
from data.records import ModelRecord, random_id
from data.saved_folders import fresh_folder, move_files, refuse_links
from data.workspace import Workspace

log = logging.getLogger(__name__)


def model_path(model: str, workspace: Workspace, resuming: Path | None = None) -> Path:
    """The start model's folder: ``newest`` is the manifest's (`data.lineage.newest_model`), a relative folder not
    here one of the workspace's (`data.provision.in_workspace`: `runs/x`, a run of it). ``resuming``: the
    folder of the run a `--resume` continues. A run killed after it registered its model, before `metrics.json`
    marked it finished, is the newest itself: it started from that model's parent."""
    if model == NEWEST:
        entry = newest_model(workspace)
        if (
            resuming is not None
            and entry.parent_id is not None
            and Path(entry.path).resolve() == resuming.resolve()
        ):
            entry = get_model(workspace, entry.parent_id)
        return Path(entry.path)
    # `runs/x`, not a folder here: the workspace's run (`in_workspace`); a hub id: its snapshot in the hub's cache
    return local_model(in_workspace(model, workspace.path))


def check_model_files(folder: Path) -> None:
    """A model folder's files read before anything is written or loaded (no weights load): its config, a tokenizer
    and weights, each ``.safetensors`` file's header too. One that lacks any, or does not read, is one line naming
    it, not a traceback once the run's folder is made (or `train score` registered the folder)."""
    from transformers import AutoConfig

    # a manifest model (`newest`) whose folder was moved or deleted: not a hub id to look up
    if not (folder / "config.json").is_file():
        raise PrefloopError(f"{folder}: no config.json there: not a model folder (moved or deleted?)")
    try:
        AutoConfig.from_pretrained(folder)
    except Exception as exc:  # noqa: BLE001 - any reader's error on a broken config
        raise PrefloopError(f"{folder}: its config.json does not read ({first_line(exc)})") from None
    check_model_parts(folder, str(folder))


def load_tokenizer(start: Path, chat_template: str | None = None):
    """The start model's tokenizer, with ``--chat-template`` (a name, file or text) where given; a folder with no
    template and no flag is a `ChatTemplateError` naming both, raised before any weights load."""
    from transformers import AutoTokenizer

    text = chat_template_for(start, chat_template)
    tokenizer = AutoTokenizer.from_pretrained(start)
    if text:
        tokenizer.chat_template = text
    return tokenizer


def _complete(checkpoint: Path) -> bool:
    """Whether ``checkpoint`` was saved whole: the trainer writes trainer_state.json last, and not atomically, so a
    kill while it writes leaves the file missing, empty or cut short. A state that is a link (or no plain file) is
    no save a kill cut off: refused in one line, the folder kept."""
    try:
        with open_regular(checkpoint / "trainer_state.json") as f:
            within_depth(json.load, f)
    except NotAFileError as exc:
        raise PrefloopError(
            f"{checkpoint / 'trainer_state.json'}: a link or no plain file, not the trainer state a save writes; "
            "move the checkpoint out of the run's folder (nothing removed)"
        ) from exc
    except (OSError, ValueError):
        return False
    return True


def drop_partial_checkpoints(out: Path) -> list[Path]:
    """Remove checkpoints a kill interrupted mid-save (`_complete`): only folders at a name the trainer saves to
    (``checkpoint-N``, not a link), never a folder of the user's beside them (``checkpoint-best``)."""
    saved = [c for c in checkpoint_folders(out) if checkpoint_step(c) is not None and not c.is_symlink()]
    partial = [c for c in saved if not _complete(c)]
    for checkpoint in partial:
        log.warning("%s: incomplete checkpoint (killed while saving), removed", checkpoint)
        shutil.rmtree(checkpoint, ignore_errors=True)  # every rank of a distributed run may try
    return partial


def newest_checkpoint(out: Path) -> Path | None:
    """The checkpoint a --resume in ``out`` continues from: the highest step's, as the trainer would take it
    (`train.once` hands it this one, so that the one checked and reported is the one loaded); None without one.
    A link there, or in it, is refused (NotAFileError naming it): the trainer would load what it names."""
    steps = {step: c for c in checkpoint_folders(out) if (step := checkpoint_step(c)) is not None}
    if not steps:
        return None
    refuse_links(steps[max(steps)])
    return steps[max(steps)]


def checkpoint_folders(out: Path) -> list[Path]:
    """The checkpoints in ``out``: its folders named ``checkpoint-*``. A file at a checkpoint's name
    (``checkpoint-N``) is refused in one line: it is no checkpoint to resume from (that ended in `[Errno 20] Not a
    directory`), nor one cut off to remove, and the trainer's save of that step would fail on it once trained that
    far (`[Errno 17] File exists`). Any other file (``checkpoint-40.tar.gz``, an archive of one) is passed over, as
    the trainer passes it over."""
    found = sorted(out.glob("checkpoint-*"))
    stray = next((c for c in found if not c.is_dir() and checkpoint_step(c) is not None), None)
    if stray is not None:
        raise PrefloopError(
            f"{stray}: a file where the trainer keeps a checkpoint folder; move it out of the run's folder"
        )
    return [c for c in found if c.is_dir()]


# The trainer state's counts that `Trainer` computes with on a resume (a string there was a TypeError traceback)
STATE_COUNTS = ("global_step", "max_steps", "train_batch_size")


def check_resumable(checkpoint: Path) -> None:
    """The files of ``checkpoint`` that a resume loads read as what the trainer saved, before anything loads: its
    trainer state is a JSON object whose counts are whole numbers, and each ``torch.save`` file (optimizer,
    scheduler, random states) is whole (a zip archive: a file cut short or overwritten is none). A damaged one is
    one line naming it, not the trainer's traceback; `check_checkpoint` reads the weights' headers. One without its
    optimizer state resumes (the trainer goes on with a fresh optimizer, silently): a warning says so."""
    again = "remove that checkpoint to resume from the one before it, or --overwrite to start again"
    state_file = checkpoint / "trainer_state.json"
    with open_regular(state_file) as handle:  # read whole by `_complete` already
        state = within_depth(json.load, handle)
    if not isinstance(state, dict):
        raise PrefloopError(f"{state_file}: not a trainer state (no JSON object); {again}")
    for key in STATE_COUNTS:
        value = state.get(key)
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            raise PrefloopError(
                f"{state_file}, field {key!r}: {value!r} is not a count of steps or rows; {again}"
            )
    for path in sorted([*checkpoint.glob("*.pt"), *checkpoint.glob("*.pth"), *checkpoint.glob("*.bin")]):
        try:
            with zipfile.ZipFile(path):
                pass
        except (OSError, zipfile.BadZipFile) as exc:
            raise PrefloopError(f"{path}: not a whole torch.save file ({first_line(exc)}); {again}") from None
    if not any(checkpoint.glob("optimizer*")) and not any(checkpoint.glob("global_step*")):  # DeepSpeed's own
        log.warning(
            "%s: no optimizer state (optimizer.pt): the trainer resumes its steps with a fresh optimizer (its "
            "moments from zero, as at the start), not the one it saved",
            checkpoint,
        )


def check_checkpoint(checkpoint: Path, trainer) -> None:
    """The ``checkpoint`` a --resume continues from holds every weight the trainer's model (with LoRA: its adapter,
    and a reward model's score head peft saves with it) takes from it, each of its shape, and none other: the trainer
    loads a checkpoint leaving out, with a warning, the weights it lacks (they stay the start model's; a reward
    model's head, its new random one; peft: a KeyError) and those the model has no place for. Refused in one line
    naming the checkpoint (`check_weights_fit`, strictly: a trainer saved it), as its saved folder is refused when it
    loads, read from the files' headers (no weights load). A tied weight (an LM head tied to the embeddings) is saved
    once, under one of its names. DeepSpeed and FSDP load their own checkpoints, strictly."""
    from peft import PeftModel, get_peft_model_state_dict
    from safetensors import safe_open

    if trainer.is_deepspeed_enabled or trainer.is_fsdp_enabled:
        return
    model = trainer.model
    if isinstance(model, PeftModel):
        wanted, files = get_peft_model_state_dict(model), checkpoint.glob("adapter_model*.safetensors")
    else:
        wanted, files = model.state_dict(), checkpoint.glob("model*.safetensors")
    saved = {}
    for path in sorted(files):
        try:
            with safe_open(str(path), framework="pt") as handle:
                saved |= {key: handle.get_slice(key).get_shape() for key in handle.keys()}  # noqa: SIM118
        except Exception as exc:  # noqa: BLE001 - safetensors' own error type, on a header cut short or overwritten
            raise PrefloopError(
                f"{path}: its header does not read ({first_line(exc)}); remove that checkpoint to resume from the "
                "one before it, or --overwrite to start again"
            ) from None
    shapes = {key: list(value.shape) for key, value in wanted.items()}
    mismatched = [(key, saved[key], shape) for key, shape in shapes.items() if saved.get(key, shape) != shape]
    saved_tied = _tied_to(wanted, saved.keys())
    info = {
        "missing_keys": [key for key in shapes if key not in saved and key not in saved_tied],
        "mismatched_keys": mismatched,
        "unexpected_keys": [key for key in saved if key not in shapes],
    }
    check_weights_fit(checkpoint, info, strict=True)


def _tied_to(state: dict, saved: Iterable[str]) -> set[str]:
    """The keys of ``state`` (a state dict) whose tensor is also the tensor of a key in ``saved``: tied weights, which
    a save writes once (``save_pretrained`` keeps the embeddings of an LM head tied to them)."""
    tied = defaultdict(set)
    for key, tensor in state.items():
        if tensor.numel():  # an empty tensor holds no storage to share
            where = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
            tied[where].add(key)
    saved = set(saved)
    return {key for keys in tied.values() if len(keys) > 1 and keys & saved for key in keys}


def resume_point(out: Path) -> str:
    """What a --resume in ``out`` continues from, as its log says it: the newest checkpoint (`newest_checkpoint`)
    with its steps done, or none (a run killed before its first checkpoint starts at step 0)."""
    newest = newest_checkpoint(out)
    if newest is None:
        return "no checkpoint to continue from: training starts at step 0"
    with open_regular(newest / "trainer_state.json") as f:
        total = json.load(f).get("max_steps")
    done = int(newest.name.rsplit("-", 1)[1])
    return f"continuing from {newest.name} ({done} of {total or '?'} steps done)"


TRAINED_FILE = "trained.json"  # written once the final model is saved: a resume after it trains nothing again


RUN_KEYS = ("steps", "log_history", "train_rows", "data", "notes")  # what write_trained keeps of a run


def write_trained(out: Path, run: dict) -> str:
    """Record that ``out`` holds the run's final model, with what its report needs (``run``: `RUN_KEYS`, the
    trainer's steps and log, the rows it trained and the notes of their selection) and the id its manifest entry
    will have: a run killed between the save and its report (metrics.json) resumes by evaluating that model, not by
    training again from the start model (the checkpoints go once this record is written, not before: a kill
    between the save and the record resumes from the last checkpoint), reports the rows that trained it (not a new
    selection), and registers it once (a kill after the registration finds the id in the manifest). Returns that
    id."""
    record = {key: run[key] for key in RUN_KEYS} | {"record_id": random_id()}
    text = strict_json(record) + "\n"  # the trainer's log may hold NaN: null, as in log_history.json
    atomic_write(out / TRAINED_FILE, lambda f: f.write(text.encode()))
    for checkpoint in out.glob("checkpoint-*"):  # the saved model and this record replace them
        shutil.rmtree(checkpoint, ignore_errors=True)
    return record["record_id"]


def read_trained(out: Path) -> dict | None:
    """``write_trained``'s record, when ``out`` holds a saved final model; None otherwise (or if unreadable)."""
    try:
        with open_regular(out / TRAINED_FILE) as handle:
            saved = within_depth(json.load, handle)
        if not isinstance(saved, dict) or not all(key in saved for key in (*RUN_KEYS, "record_id")):
            return None
        return saved
    except (OSError, NotAFileError, ValueError):
        return None


SAVING = ".saving"  # the final save's own folder in the run's, moved into it once whole (`save_model`)


def save_model(trainer, tokenizer, out: Path, lora: bool, reload: Callable[[Path], Any]):
    """Write the final model (gathered from all ranks under DDP/ZeRO/FSDP); returns it on the main process.
    ``reload(out)``: the saved folder loaded as the method evaluates it (a reward model with its head), where the
    model in memory is sharded over several processes. transformers writes by path, following a link: it writes
    into a folder made anew for the save (`SAVING`), whose files are renamed into ``out`` (`move_files`), so a
    link planted at ``out/config.json`` (or any name it writes) is replaced, never written through."""
    # without the autocast accelerate wrapped its forward in for bf16 training: the trained model is evaluated in
    # fp32, as the start model was and as its saved folder is when reloaded (--resume, several processes)
    model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    staging = out / SAVING  # one name for every rank: each passes it to the save
    if trainer.is_world_process_zero():
        fresh_folder(staging)
    trainer.accelerator.wait_for_everyone()
    if lora:
        model = model.merge_and_unload()  # plain folder for vLLM
        if trainer.is_world_process_zero():
            model.save_pretrained(staging, safe_serialization=True)
    else:
        trainer.save_model(str(staging))
    trainer.accelerator.wait_for_everyone()
    if not trainer.is_world_process_zero():
        return None
    tokenizer.save_pretrained(staging)
    # --out itself may be the user's link to a folder (`claim_out_folder` keeps one): moved into where it leads,
    # its names still replaced, never written through
    move_files(staging, out.resolve())
    if trainer.accelerator.num_processes > 1:  # sharded in memory: evaluate the gathered copy
        model = reload(out)
    return model


def model_record(
    options,
    workspace: Workspace,
    start: Path,
    out: Path,
    data: dict,
    metrics: dict,
    record_id: str | None = None,
) -> ModelRecord:
    """The manifest entry of a trained model: parent = the start model (registered as ``base`` if new; with
    ``--no-register`` its entry where the manifest has one, else none), round = the parent's + 1 (or ``--round``)."""
    parent = find_or_register(workspace, start) if options.register else find_model(workspace, start)
    return ModelRecord(
        path=str(out.resolve()),
        method=options.method,
        round=options.round if options.round is not None else (parent.round if parent else 0) + 1,
        parent_id=parent.id if parent else None,
        data=json.dumps(data),
        metrics=strict_json(metrics),
        **({"id": record_id} if record_id else {}),
    )


def register_once(workspace: Workspace, record: ModelRecord) -> bool:
    """Append ``record`` to the manifest unless an entry with its id is there (a resumed run that was killed after
    registering); whether it was appended."""
    ids = workspace.read("models", ["id"]).column("id")
    if record.id in set(ids.to_pylist()):
        return False
    workspace.append([record])
    return True
