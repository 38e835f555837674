"""A config value as its option's type (`coerce`, `coerce_list`): a file's or a flag's value checked and converted,
one `ConfigError` line naming where it was given (``--seed``, ``run.yaml, key seed``). Split from `data.config`,
which builds the options from these."""

from __future__ import annotations

import math
import os
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from data.errors import PrefloopError, comma_parts

SCALARS = (int, float, str, bool, Path)
INT64 = 2**63  # a 64-bit integer option holds values in [-INT64, INT64)


class ConfigError(PrefloopError):
    """A config file or flag names an unknown option or holds a value of the wrong type."""


class OutOfRange(ConfigError):
    """An integer past 64 bits, said as such also in a list (`rounds: [99999999999999999999]` read "expected a list
    of int", and the flag's `--rounds 99999999999999999999` was taken)."""


def as_written(value: Any) -> str:
    """A config file's value as the file spells it (``true``, ``null``, ``[1, true]``, ``.inf``, ``2024-01-01``), not
    as Python prints it (``True``: `spin_iter: true` was refused as "key spin_iter True") nor as JSON does
    (``Infinity``, text to YAML; a date quoted as text); a text quoted."""
    if isinstance(value, str):
        return repr(value)
    return yaml.safe_dump(value, default_flow_style=True, width=math.inf).removesuffix("...\n").strip()


def base_type(annotation: Any) -> Any:
    """The non-None member of ``X | None``."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return members[0]
    return annotation


def item_type(kind: Any) -> Any | None:
    """X for ``tuple[X, ...]``, else None."""
    if typing.get_origin(kind) is tuple:
        return typing.get_args(kind)[0]
    return None


def check_choices(where: str, value: Any, choices: tuple | None) -> None:
    """argparse checks a flag's choices; a YAML file's value is checked here (`pairs: bogus` was taken)."""
    if choices is None or value is None:
        return
    for one in value if isinstance(value, tuple) else (value,):
        if one not in choices:
            raise ConfigError(f"{where}: {one!r} is not one of {', '.join(map(str, choices))}")


def coerce(where: str, value: Any, kind: Any) -> Any:
    """``value`` as ``kind``; ``where`` names where it was given (``--seed``, ``run.yaml, key seed``)."""
    item = item_type(kind)
    if item is not None:  # a file's name may hold a comma (`data import 'prefs,v2.jsonl'` read `prefs`)
        return coerce_list(where, value, item, keep_paths=item is Path)
    if value is None or kind not in SCALARS:
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    # a number as text ("4", "0.7") is read as its flag reads it: YAML 1.1 (PyYAML) reads 1e-2, with no dot, as text
    # too; a quoted float was taken and a quoted int refused
    if kind in (int, float) and isinstance(value, str):
        value = _number(value, kind)
    # Path('') is '.': `export --out ''` said `--out .`, `-w ''` took the current folder for the workspace; a
    # blank text was taken as left out (`--prompts ''`, `--shard ''`) or named nothing (`--model ''`: ": not a model")
    if kind in (Path, str) and isinstance(value, str) and not value.strip():
        raise ConfigError(f"{where}: {value!r} names nothing; give a value or leave the option out")
    if kind is Path and isinstance(value, str):
        return Path(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {kind.__name__}, got {as_written(value)}")
    # stored as int64 (a round) or handed to torch: past it, an overflow traceback after sampling
    if kind is int and not -INT64 <= value < INT64:
        raise OutOfRange(f"{where}: {value} is out of range (at most {INT64 - 1})")
    return value


def expand_home(value: Any) -> Any:
    """``value`` (a path, a text naming a file or folder, or a tuple of them) with a leading ``~`` (``~user``) read
    as that home folder, as a shell reads a word: one a config file gives, or a flag as ``--out=~/x`` (which no
    shell expands), was taken as a folder named ``~`` in the current one, where the export was written while one
    check had looked in the home folder. Nothing else of the value changes (``runs/x/`` stays as typed), and a ``~``
    that names no home (``~nosuchuser``, no HOME and no user entry) stays as typed too, as a shell leaves it
    (`Path.expanduser` raised RuntimeError: a traceback for ``-w ~nosuchuser/ws``)."""
    if isinstance(value, tuple):
        return tuple(expand_home(one) for one in value)
    if isinstance(value, Path):
        return Path(os.path.expanduser(value))
    return os.path.expanduser(value) if isinstance(value, str) else value


def _number(text: str, kind: type) -> int | float | str:
    """The ``kind`` (int or float) ``text`` spells as its flag reads it (``int("4")``, ``float("1e-2")``; NaN and
    the infinities too, which the option's own range check refuses as it does the flag's), or ``text`` itself
    (refused as not a number) when it spells none."""
    try:
        return kind(text)
    except ValueError:  # also an integer of more digits than int() reads
        return text


def _exists(path: str) -> bool:
    """Whether ``path`` names a file or folder; False where it cannot be one (a name too long for the file system:
    a list of many values, never a folder's name)."""
    try:
        return expand_home(Path(path)).exists()
    except (OSError, ValueError):
        return False


def coerce_list(
    where: str, value: Any, item: Any, keep_paths: bool = False, split: bool = True
) -> tuple | None:
    """A tuple of ``item`` from a list, a scalar, or comma-separated strings (flags give a list of strings);
    ``keep_paths``: a string that names an existing file or folder as a whole is one value, commas and all;
    ``split=False``: each string as given, split later by what knows its values (`data.exclusion.flag_names`)."""
    if value is None:
        return None
    values = list(value) if isinstance(value, list | tuple) else [value]
    parts: list[Any] = []
    for v in values:
        if v is None:  # `rounds: [1, null]`: a None in the list reached the checks (a TypeError traceback)
            raise ConfigError(
                f"{where}: a null in the list names nothing; give values, or leave the option out"
            )
        # `--exclude-labeller ""` excluded nobody, silently
        if isinstance(v, str) and not v.replace(",", "").strip():
            raise ConfigError(f"{where}: {v!r} names nothing; give a value or leave the option out")
        if isinstance(v, str) and (not split or (keep_paths and "," in v and _exists(v))):
            parts.append(v)
            continue
        parts += comma_parts(where, v, ConfigError) if isinstance(v, str) else [v]
    try:
        return tuple(
            coerce(where, item(p) if isinstance(p, str) and item is not str else p, item) for p in parts
        )
    except OutOfRange:
        raise
    except ValueError as exc:
        raise ConfigError(f"{where}: expected a list of {item.__name__}, got {value!r}") from exc
