"""Folders that a library writes by path (transformers' ``save_pretrained``, the trainer's checkpoints): it opens
its files with a plain ``open``, which follows a symlink, so they are kept away from any name in the workspace a
link may have been planted at.

A final save goes into a folder made anew for it (`fresh_folder`: ``mkdir`` creates, never follows, so a link at its
name is refused), is checked for links (`refuse_links`), and its files are then renamed into the run's folder
through descriptors of both (`move_files`): a link planted at ``config.json`` or ``README.md`` there is replaced,
never written through, as `data.files.atomic_write` replaces one.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from data.files import mode_of, not_a_file, open_folder, write_error


def check_plain(path: Path) -> None:
    """Refuse (NotAFileError naming it) anything at ``path`` but a regular file: a link a writer by path would
    follow, a folder, a FIFO. Nothing there is fine."""
    mode = mode_of(path)
    if mode is not None and not stat.S_ISREG(mode):
        raise not_a_file(path, mode)


def fresh_folder(path: Path) -> Path:
    """``path`` made anew, empty: a folder left there (by a save that was killed) is removed first; a link or file
    at the name is refused (NotAFileError naming it), neither followed nor removed."""
    mode = mode_of(path)
    if mode is not None and stat.S_ISDIR(mode):
        shutil.rmtree(path)  # a real folder (lstat): rmtree removes links inside it, never what they name
    elif mode is not None:
        raise not_a_file(path, mode)
    try:
        path.mkdir()
    except FileExistsError:  # a link planted since the look
        raise not_a_file(path, mode_of(path)) from None
    except OSError as exc:
        raise write_error(exc, path) from exc
    return path


def refuse_links(folder: Path) -> None:
    """Refuse (NotAFileError naming it) ``folder`` where it is a link or no folder, and the first entry at any
    depth below it that is a link or special file: what a writer by path wrote there went through the link, and
    what a reader would read there comes from elsewhere. Listed through descriptors (``os.fwalk``), never through
    a link."""
    os.close(open_folder(folder))
    for root, _, names, root_fd in os.fwalk(folder, follow_symlinks=False):
        for name in names:  # a link to a folder is listed among the files, not walked into
            mode = os.stat(name, dir_fd=root_fd, follow_symlinks=False).st_mode
            if not stat.S_ISREG(mode):
                raise not_a_file(Path(root) / name, mode)


def move_files(source: Path, target: Path) -> list[str]:
    """Move every entry of the folder ``source`` (checked first: `refuse_links`) into the folder ``target`` by
    rename, both opened without following a link: a link at a name in ``target`` is replaced, never written
    through. ``source`` is removed once empty. Returns the names moved, sorted."""
    refuse_links(source)
    src = open_folder(source)
    try:
        dst = open_folder(target)
        try:
            names = sorted(os.listdir(src))
            for name in names:
                try:
                    os.replace(name, name, src_dir_fd=src, dst_dir_fd=dst)
                except OSError as exc:
                    raise write_error(exc, target / name) from exc
            os.fsync(dst)
        finally:
            os.close(dst)
    finally:
        os.close(src)
    os.rmdir(source)  # a link swapped in for it meanwhile: ENOTDIR, never what it names
    return names
