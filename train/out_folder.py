"""The run's output folder (``--out``): what the run records there, and the folder claimed for it.

A run records its options in ``OUT/train_config.json`` when training starts (and again, with the options the
memory plan settled on, when it ends), so even a run killed before its first checkpoint says what it was; a run
refused before, even as its start model loads, leaves OUT as it found it (`train.out_checks` checks --out,
--resume and --overwrite before anything loads, against what is recorded here).

The run also records the rows it selected (``OUT/selection.json.gz``: its training and held-out rows, their counts
and who was excluded) as training starts, and a resume trains and evaluates on those, not on a new selection:
labels that arrive after the start, or a change of WS/excluded.json, are no part of a run already under way.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import os
import shutil
from pathlib import Path

from data.errors import PrefloopError
from data.files import NotAFileError, atomic_write, open_folder, open_regular
from data.import_records import within_depth
from data.model_load import RUN_CONFIG
from data.records import now
from data.temp_writers import remove_dead_temps
from train.options import TrainOptions
from train.saving import TRAINED_FILE

log = logging.getLogger(__name__)

CONFIG_FILE = RUN_CONFIG  # "train_config.json"; what marks a folder our trainer saved (`saved_by_trainer`)
SELECTION_FILE = "selection.json.gz"
# the trust of the rows its counts say unchecked (`data.export.Counts.trust`): recorded since 2026-12-07
NEWER_KEYS = ("trust", "eval_trust")
SELECTION_KEYS = ("train_rows", "eval_rows", "eval_split", "counts", "eval_counts", "excluded", *NEWER_KEYS)


def run_config(options: TrainOptions) -> dict:
    """The options as ``train_config.json`` holds them (paths as text)."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(options).items()}


def start_again(out: Path, marker: str | None, advice: str) -> str:
    """A refusal's ``advice`` (--overwrite, for `python -m train`), or, in a folder a round driver claimed
    (``marker``), which sets --resume itself and takes no --overwrite from its user, which folder to remove; but
    not one holding the model the run saved (`TRAINED_FILE`): registered (or registered by the resume that reports
    it), removing it would lose that model and leave the manifest naming a folder that is gone."""
    if not marker:
        return advice
    if (out / TRAINED_FILE).is_file():
        return (
            f"{out} holds the model the run trained and saved ({TRAINED_FILE}; the manifest names it, or will once "
            "it is reported): rerun with the options it was started with to report it; do not remove the folder, "
            "which would lose that model"
        )
    return f"remove {out} to start its training again"


def resume_advice(out: Path, marker: str | None) -> str:
    """What to do about a resume refused for options other than the run's: ``--resume`` with them (`python -m
    train`); in a folder a round driver claimed (``marker``), which passes --resume itself, a rerun with them (its
    user passes train's flags as the loop's `--train-*`), or `start_again`'s advice."""
    if not marker:
        return "--resume continues it with the options it was started with (--overwrite starts again)"
    if (out / TRAINED_FILE).is_file():
        return start_again(out, marker, "")
    return f"rerun with the options it was started with to continue it, or {start_again(out, marker, '')}"


def recorded_config(out: Path, marker: str | None = None) -> dict | None:
    """The options the run in ``out`` recorded (`claim_out_folder`), or None where it recorded none; a file there
    that is no run's config is an error (``marker`` as for `start_again`)."""
    path = out / CONFIG_FILE
    if not (path.is_file() or path.is_symlink()):
        return None  # nothing recorded: a run of an older version (before it ends), or not a train run
    try:
        with open_regular(path) as handle:  # never through a symlink planted at its name
            recorded = within_depth(json.load, handle)
        recorded["method"]  # noqa: B018 - a config without its method is not one
        return recorded
    except NotAFileError as exc:
        raise PrefloopError(str(exc)) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        again = start_again(out, marker, "--overwrite replaces the run")
        raise PrefloopError(f"{path}: not a train config ({exc}); {again}") from None


def is_main_process() -> bool:
    """Rank 0 of a distributed run (or the only process): the one that checks and claims the folder; another
    rank checking later could find the folder rank 0 just claimed."""
    return not int(os.environ.get("RANK", 0))


def claim_out_folder(out: Path, options: TrainOptions) -> None:
    """Make ``out`` this run's as training starts: with ``--overwrite`` empty it, then record the options.
    One process does it (rank 0 of a distributed run; the others only train into the folder)."""
    if not is_main_process():
        return
    if options.overwrite and out.is_dir():
        for entry in out.iterdir():  # the folder itself stays (it may be a mount point or a link)
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    out.mkdir(parents=True, exist_ok=True)
    removed = remove_dead_run_temps(out)
    if removed:
        log.info("%s: removed %d temp file(s) that killed writers left", out, removed)
    text = json.dumps(run_config(options), indent=2) + "\n"
    atomic_write(out / CONFIG_FILE, lambda f: f.write(text.encode()))


def check_own_folders(folders: tuple[Path, ...]) -> None:
    """Refuse (NotAFileError naming it) a link at any of ``folders``: the run's folders prefloop named itself
    (`own_folders`). One swapped in since the claim would take what the trainer writes next (a checkpoint, the final
    model, its report, the manifest's path for it) wherever it points: called before each of those writes."""
    for folder in folders:
        os.close(open_folder(folder))


def own_folders(out: Path, options: TrainOptions, marker: str | None) -> tuple[Path, ...]:
    """``(WS/runs, out)`` where prefloop named ``out`` (no --out: WS/runs/<method>-<id>; a round driver's iterate
    folder, which it claimed by ``marker``), for `check_own_folders`: the run's whole path inside the workspace; none
    for a user's --out, which may be their link to a folder."""
    return (out.parent, out) if options.out is None or marker is not None else ()


def remove_dead_run_temps(out: Path) -> int:
    """Remove the temp files that writers killed mid-write left in the run's folder (a ``log_history.json`` or
    report being written), as the workspace's are (`data.temp_writers.remove_dead_temps`: by the writer's host and pid in
    the name; a live writer's stays, and another host's, on a shared file system, until it is a day old). Returns
    how many were removed."""
    # --out as the user gave it: a link to a folder there is their choice (claim_out_folder keeps it too)
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return len(remove_dead_temps(fd))
    finally:
        os.close(fd)


def selection_record(selection: dict) -> bytes:
    """The rows the run starts with (`SELECTION_KEYS`) as `write_selection` stores them: taken before fitting adds
    its own columns to the rows, so a resume fits them again exactly as the start did."""
    record = {key: selection[key] for key in SELECTION_KEYS} | {"written_at": now().isoformat()}
    return gzip.compress(json.dumps(record, ensure_ascii=False).encode(), compresslevel=1, mtime=0)


def write_selection(out: Path, record: bytes) -> None:
    """Record the rows the run starts with (`selection_record`), for a resume to continue on them."""
    if is_main_process():
        atomic_write(out / SELECTION_FILE, lambda f: f.write(record))


def read_selection(out: Path, marker: str | None = None) -> dict | None:
    """The rows the run in ``out`` started with (`write_selection`), or None where it recorded none (a run of an
    older version, or one killed before training started). An unreadable record is an error, not a new selection
    (``marker`` as for `check_out_folder`: its advice)."""
    path = out / SELECTION_FILE
    if not (path.is_file() or path.is_symlink()):
        return None
    try:
        with open_regular(path) as handle:  # never through a symlink planted at its name
            record = within_depth(json.loads, gzip.decompress(handle.read()))
        kinds = dict.fromkeys(SELECTION_KEYS, dict) | {
            "train_rows": list,
            "eval_rows": list,
            "eval_split": str,
        }
        if not isinstance(record, dict) or not isinstance(record.get("written_at"), str):
            raise ValueError("not a record of the run's rows")
        record = {key: {} for key in NEWER_KEYS} | record  # fresh: no read shares them
        wrong = next((key for key, kind in kinds.items() if not isinstance(record.get(key), kind)), None)
        if wrong is not None:
            raise ValueError(f"{wrong} missing or not a {kinds[wrong].__name__}")
        return record
    except NotAFileError as exc:
        raise PrefloopError(str(exc)) from None
    except (OSError, ValueError, EOFError) as exc:
        again = start_again(out, marker, "--overwrite starts again")
        raise PrefloopError(f"{path}: not the run's recorded selection ({exc}); {again}") from None
