"""Loading a model's weights quietly and checked: transformers' load report and progress bar kept off the terminal,
the weights then checked against the folder's config.json (a re-initialised weight is refused in one line; in a
folder a trainer saved, a left-out one too)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from data.provision import ProvisionError

log = logging.getLogger(__name__)


class _BelowError(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


def _no_bar(factory: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    return factory(*args, **{**kwargs, "disable": True})


@contextmanager
def quiet_bars():
    """transformers' progress bars off for what runs within, and as they were after: those it draws through its tqdm
    hook ("Loading weights", "Writing model shards": the hook, unlike ``disable_progress_bar``, leaves the hub's
    download bars and any caller's setting as they were) and the GGUF reader's "Converting and de-quantizing GGUF
    tensors" bar, a plain tqdm of its module's that no hook reaches."""
    from transformers import modeling_gguf_pytorch_utils as gguf_reader
    from transformers.utils import logging as hf_logging

    previous = hf_logging.set_tqdm_hook(_no_bar)
    reader_bar = getattr(gguf_reader, "tqdm", None)
    if reader_bar is not None:
        gguf_reader.tqdm = functools.partial(reader_bar, disable=True)
    try:
        yield
    finally:
        if reader_bar is not None:
            gguf_reader.tqdm = reader_bar
        hf_logging.set_tqdm_hook(previous)


@contextmanager
def _quiet_load():
    """transformers' load report kept to its errors, and its progress bars off (`quiet_bars`: the "Loading weights"
    one is drawn on every load, a line of its own in a job's log, however small the model), for the load alone."""
    from transformers.utils import logging as hf_logging

    report = hf_logging.get_logger("transformers.modeling_utils")  # where from_pretrained logs its report
    # a filter, not a level: this transformers checks the logger's level to decide to log something else
    quiet = _BelowError()
    report.addFilter(quiet)
    try:
        with quiet_bars():
            yield
    finally:
        report.removeFilter(quiet)


RUN_CONFIG = "train_config.json"  # a `python -m train` run's folder: written as it starts, before any weight
CHECKPOINT_STATE = "trainer_state.json"  # the trainer's, written last into each checkpoint-N it saves
# written last into a run's folder: its report (sDPO: the whole run's)
FINISHED_FILES = ("metrics.json", "sdpo.json")


def is_train_run(folder: Path) -> bool:
    """``folder`` holds a `python -m train` run: its config, its report or its checkpoints."""
    return any((folder / name).is_file() for name in (RUN_CONFIG, *FINISHED_FILES)) or any(
        folder.glob("checkpoint-*")
    )


def is_finished_run(folder: Path) -> bool:
    """The run in ``folder`` wrote its report: nothing to resume."""
    return any((folder / name).is_file() for name in FINISHED_FILES)


def run_in_models_line(folder: Path, runs: Path) -> str | None:
    """What to do with the train run in ``folder``, ``WS/models/NAME``, where train put its runs (its default --out)
    before they went to ``runs`` (``WS/runs``), and which no run may write into now (models/ holds the manifest):
    an unfinished one moved there and resumed (--out is an option a resume may change), a finished one moved, not
    removed, as it holds the model it trained. None where ``folder`` holds no run. `train` refuses an --out there
    and `data validate` names it with these lines, never "remove it": its checkpoints are the user's."""
    if not is_train_run(folder):
        return None
    # `mv A WS/runs/` where WS/runs is missing (an older version's workspace) renames A to WS/runs itself
    move = f"mv {folder} {runs}/" if runs.is_dir() else f"mkdir -p {runs} && mv {folder} {runs}/"
    if is_finished_run(folder):
        return (
            f"{folder}: a finished run in the workspace's models/ folder, where an older version put its runs (no "
            f"table's files): move it ({move}); removing it would lose the model it trained"
        )
    return (
        f"{folder}: an unfinished run in the workspace's models/ folder, where an older version put its runs and "
        f"where none may be written now (its files are the workspace's stored data): move it ({move}) "
        f"and continue it with --resume --out {runs / folder.name}"
    )


def checkpoint_step(path: str | Path) -> int | None:
    """N where ``path`` is named ``checkpoint-N``, the name a trainer saves a checkpoint at; else None
    (``checkpoint-best``, ``checkpoint-2.tar.gz``)."""
    step = Path(path).name.removeprefix("checkpoint-")
    return int(step) if step != Path(path).name and step.isdigit() else None


def is_checkpoint(folder: str | Path) -> bool:
    """``folder`` is a checkpoint a trainer saved: ``checkpoint-N`` (the name `train.saving.newest_checkpoint`
    resumes from) holding its `CHECKPOINT_STATE`. That file alone proves nothing: a hub snapshot or a model folder
    uploaded from a trainer's output often ships one beside weights of its own making."""
    return checkpoint_step(folder) is not None and (Path(folder) / CHECKPOINT_STATE).is_file()


def saved_by_trainer(folder: str | Path) -> bool:
    """``folder`` is one our trainer saved its model in: a train run's folder (its `RUN_CONFIG`) or a checkpoint
    (`is_checkpoint`). It holds that model's weights and no others, so a weight its config has no place for is no
    extra of another format but a sign of another model."""
    return (Path(folder) / RUN_CONFIG).is_file() or is_checkpoint(folder)


def load_pretrained(load: Callable[..., Any], folder: str | Path, new: tuple[str, ...] = (), **kwargs) -> Any:
    """``load(folder, **kwargs)`` (a transformers ``from_pretrained``) with its load report and progress bar kept
    off the terminal (`_quiet_load`: the multi-line table it logs ran ahead of our one error line), the weights then
    checked against the config (`check_weights_fit`, strictly in a folder a trainer saved: `saved_by_trainer`;
    ``new``: the starts of the weights a new head adds, which no checkpoint holds). Every model load of ours goes
    through it, train's reloads of folders it saved included."""
    with _quiet_load():
        # ignore_mismatched_sizes: transformers refuses a wrong shape only after its report; told so, it loads
        # and tells us (output_loading_info), and `check_weights_fit` refuses it in one line
        model, info = load(folder, ignore_mismatched_sizes=True, output_loading_info=True, **kwargs)
    check_weights_fit(folder, info, new, strict=saved_by_trainer(folder))
    return model


def check_weights_fit(
    folder: str | Path, info: dict, new: tuple[str, ...] = (), strict: bool = False
) -> None:
    """A loaded model's ``info`` (transformers' ``output_loading_info``: missing, unexpected and mismatched keys)
    says its weights are the ones its config.json describes: a weight of another shape, or one missing (but those
    starting with ``new``), was re-initialised at random, so the model would answer noise. One `ProvisionError`
    line naming ``folder`` otherwise; weights the config has no place for are left out, counted in a warning, or
    with ``strict`` (a folder or checkpoint a trainer saved: `saved_by_trainer`) refused in that line too (none
    with ``new``: the checkpoint's own head is one)."""
    mismatched = sorted(info.get("mismatched_keys") or [], key=lambda k: k[0])
    missing = sorted(k for k in info.get("missing_keys") or [] if not k.startswith(new))
    # with a new head, the checkpoint's own head is left out by design
    unexpected = sorted(info.get("unexpected_keys") or []) if not new else []
    wrong = []
    if mismatched:
        key, checkpoint, config = mismatched[0]
        wrong.append(
            f"{len(mismatched)} of another shape, e.g. {key} {list(checkpoint)} in the weights, "
            f"{list(config)} by the config"
        )
    if missing:
        wrong.append(f"{len(missing)} missing, e.g. {missing[0]}")
    left_out = strict and bool(unexpected)
    if left_out:
        wrong.append(f"{len(unexpected)} the config has no place for, e.g. {unexpected[0]}")
    if wrong:
        fate = "re-initialise them at random" if not left_out else "leave them out"
        if left_out and (mismatched or missing):
            fate = "re-initialise those at random and leave the others out"
        raise ProvisionError(
            f"{folder}: its weights do not match its config.json ({'; '.join(wrong)}); refused, as transformers "
            f"would {fate}"
        )
    if unexpected:
        log.warning(
            "%s: %d weights its config.json has no place for, left out (e.g. %s)",
            folder,
            len(unexpected),
            unexpected[0],
        )
