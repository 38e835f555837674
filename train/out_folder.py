"""The run's output folder (``--out``): checked before anything loads, claimed when training starts.

A run records its options in ``OUT/train_config.json`` when training starts (and again, with the options the
memory plan settled on, when it ends), so even a run killed before its first checkpoint says what it was.
``--resume`` continues only an unfinished run of the same method; ``--overwrite`` replaces only what a train run
wrote (a folder holding a run's config, report or checkpoints), never any other folder's files.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

from data.errors import PrefloopError
from data.files import NotAFileError, atomic_write, open_regular
from train.options import TrainOptions

CONFIG_FILE = "train_config.json"
FINISHED_FILES = ("metrics.json", "sdpo.json")  # written last: a run's report (sDPO: the whole run's)


def run_config(options: TrainOptions) -> dict:
    """The options as ``train_config.json`` holds them (paths as text)."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(options).items()}


def _recorded_method(out: Path) -> str | None:
    path = out / CONFIG_FILE
    if not (path.is_file() or path.is_symlink()):
        return None  # a run of an older version records nothing before it ends
    try:
        with open_regular(path) as handle:  # never through a symlink planted at its name
            return json.load(handle)["method"]
    except NotAFileError as exc:
        raise PrefloopError(str(exc)) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PrefloopError(f"{path}: not a train config ({exc}); --overwrite replaces the run") from None


def _is_train_output(out: Path) -> bool:
    return any((out / name).is_file() for name in (CONFIG_FILE, *FINISHED_FILES)) or any(
        out.glob("checkpoint-*")
    )


def is_main_process() -> bool:
    """Rank 0 of a distributed run (or the only process): the one that checks and claims the folder; another
    rank checking later could find the folder rank 0 just claimed."""
    return not int(os.environ.get("RANK", 0))


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def check_out_folder(out: Path, options: TrainOptions, reads: tuple[Path, ...] = ()) -> None:
    """Refuse what ``--out``, ``--resume`` and ``--overwrite`` cannot do together, before anything loads;
    ``reads``: the folders the run reads (start model, workspace), which --overwrite must not empty."""
    if options.resume and options.overwrite:
        raise PrefloopError("--resume and --overwrite: give one (continue the run in --out, or replace it)")
    existing = next(p for p in (out, *out.parents) if p.exists())  # the folder itself, or where it would go
    if not existing.is_dir():
        where = "" if existing == out else f"{existing} "
        raise PrefloopError(f"--out {out}: {where}is a file, not a folder")
    if not is_main_process():
        return
    if not out.exists() or not any(out.iterdir()):
        return
    if options.overwrite:
        if not _is_train_output(out):
            raise PrefloopError(f"{out}: not a train output folder; give an empty or new --out")
        for path in reads:
            if _inside(path, out):
                raise PrefloopError(
                    f"{out}: --overwrite would delete {path}, which this run reads; give another --out"
                )
        return
    if not options.resume:
        raise PrefloopError(
            f"{out}: output folder is not empty (pass --resume to continue, --overwrite to replace)"
        )
    if any((out / name).is_file() for name in FINISHED_FILES):
        raise PrefloopError(f"{out}: the run there finished (nothing to resume); --overwrite replaces it")
    method = _recorded_method(out)
    if method is not None and method != options.method:
        what = "its checkpoint is" if any(out.glob("**/checkpoint-*")) else "the run there is"
        raise PrefloopError(f"{out}: {what} from --method {method}, not {options.method}")


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
    text = json.dumps(run_config(options), indent=2) + "\n"
    atomic_write(out / CONFIG_FILE, lambda f: f.write(text.encode()))
