"""One typed options dataclass per entry point: flags built from its fields, an optional ``--config file.yaml``,
flags overriding the file, unknown keys an error. Each field documents itself once via ``metadata={"help": ...}``.

Two kinds of field beyond scalars:
- ``tuple[X, ...]``: a list. Flags take several values or one comma-separated value (``--rounds 1 2`` or
  ``--rounds 1,2``); YAML takes a list (or the same comma string).
- a nested options dataclass (the SPIN driver's ``train: TrainOptions``): YAML takes a mapping under its name, flags
  are ``--train.learning-rate`` (also spelt ``--train-learning-rate``). Fields named in the field's
  ``metadata["owned"]`` are set by the outer entry point and are neither flags nor YAML keys.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from data.config_help import SCALAR_METAVARS, default_said
from data.config_values import (
    ConfigError,
    base_type,
    check_choices,
    coerce,
    coerce_list,
    expand_home,
    item_type,
)
from data.files import read_named
from data.import_records import LongNumber, TooDeep, strict_yaml, yaml_error

T = TypeVar("T")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


# The options the newest `build`'s ``--config`` file gave and no flag overrode, by the flag that would have:
# ``{"--gold-rate": "c1.yaml, key gold_rate"}``. A check after `build` (a range, a method's own options) names the
# flag; `data.cli.run_cli` names the file and key instead where the value came from there (`from_file`).
FROM_FILE: dict[str, str] = {}


def _file_keys(values: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys a config file set (``train.beta`` under a ``train:`` section)."""
    keys = []
    for key, value in values.items():
        keys += _file_keys(value, f"{prefix}{key}.") if isinstance(value, dict) else [prefix + key]
    return keys


def _at(values: dict[str, Any], key: str) -> Any:
    """The value of the dotted ``key`` (``train.beta``) in the nested ``values``."""
    for name in key.split("."):
        values = values[name]
    return values


def from_file(message: str) -> str:
    """``message`` with a leading flag (``--gold-rate 0.7: must be ...``) that the config file set, not a flag,
    written as the file and key (``c1.yaml, key gold_rate 0.7: must be ...``), as a value's type error is; so is
    such a flag with the file's value later in what the line says is wrong (before its first "; ", the advice: a
    flag to give), `_named`: the other option of a pair (``--lora-alpha applies to LoRA adapters, and --lora-r 0
    ...``) was named as a flag where the file set both."""
    flag, space, rest = message.partition(" ")
    flag, colon = (flag[:-1], ":") if flag.endswith(":") else (flag, "")
    if flag in FROM_FILE:
        message = f"{FROM_FILE[flag]}{colon}{space}{rest}"
    said, advice, after = message.partition("; ")
    return _FLAG.sub(lambda found: _named(found, said), said) + advice + after


_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
# The values of `FROM_FILE`'s options, as `str` writes them: a flag later in a line is the file's key only where it
# is followed by the file's value (`--lora-r 0`), not another (`applies to --method dpop`, the file's being dpo).
FILE_VALUES: dict[str, str] = {}


def _named(found: re.Match, line: str) -> str:
    """The flag ``found`` in ``line``, or the file and key that set it (`from_file`), where its value follows it."""
    flag = found.group(0)
    value = FILE_VALUES.get(flag)
    if (
        flag in FROM_FILE
        and value is not None
        and re.match(rf" {re.escape(value)}(?![\w.])", line[found.end() :])
    ):
        return FROM_FILE[flag]
    return flag


def _fields(cls: type, exclude: tuple[str, ...] = ()) -> list[tuple[dataclasses.Field, Any]]:
    hints = typing.get_type_hints(cls)
    return [(f, base_type(hints[f.name])) for f in dataclasses.fields(cls) if f.name not in exclude]


def add_options(
    parser: argparse.ArgumentParser,
    cls: type,
    prefix: str = "",
    exclude: tuple = (),
    config: bool = True,
    groups: dict[str, Any] | None = None,
) -> None:
    """Add one flag per dataclass field; defaults stay unset so the YAML file can fill them.

    Field metadata beyond ``help``/``choices``: ``positional`` (an argument, not a flag), ``required``,
    ``short`` (e.g. ``-w``), ``repeat`` (a list given one value a flag), ``whole`` (a list whose values are never
    split at commas: JSON), ``folders`` (a list of names split at commas, except a value that names an existing
    file or folder as a whole: a model folder's name may hold a comma), ``path`` (a text that may name a file or
    folder, whose leading ``~`` is read as home, as a path's and a ``folders`` list's are: `expand_home`),
    ``switch`` (a bool that is only ``--name``, no ``--no-name``), ``one_of`` (the flags one of which must be given: `data.config_help.default_said`),
    ``metavar`` (the value as --help names it, the README's word for it, e.g. FILE; a list's default is VALUE, a number's N or X,
    ``SCALAR_METAVARS``; a text or path field names its own, or argparse would shout the flag's name: ``--out
    OUT``). ``groups`` maps a field name to the argument group its flag is shown in (a method's own options)."""
    if config and not prefix:
        add_config(parser)
    for field, kind in _fields(cls, exclude):
        if dataclasses.is_dataclass(kind):
            add_options(parser, kind, f"{prefix}{field.name}.", field.metadata.get("owned", ()), config)
            continue
        _add_field(parser, field, prefix, _value_options(field, kind, prefix), groups)


class _ConfigFile(argparse.Action):
    """``--config FILE`` as a Path; an empty FILE is refused as every other empty path is (Path('') is '.', which
    was read: "cannot read config (Is a directory: '.')")."""

    def __call__(self, parser: Any, namespace: Any, value: Any, option_string: Any = None) -> None:
        if not value.strip():
            raise ConfigError(f"--config: {value!r} names nothing; give a value or leave the option out")
        setattr(namespace, self.dest, expand_home(Path(value)))  # `--config=~/run.yaml`: no shell expands it


def add_config(parser: argparse.ArgumentParser) -> None:
    """Add ``--config FILE`` to ``parser``."""
    parser.add_argument(
        "--config", action=_ConfigFile, metavar="FILE", help="YAML file of options; flags override it"
    )


def _value_options(field: dataclasses.Field, kind: type, prefix: str) -> dict[str, Any]:
    """argparse's keywords for the values of one field's flag (``kind``: its type), by its metadata
    (`add_options`)."""
    meta = field.metadata
    options: dict[str, Any] = {
        "dest": prefix + field.name,
        "default": argparse.SUPPRESS,
        "help": (meta.get("help", "") + default_said(field, kind)).replace("%", "%%"),  # argparse %-formats
    }
    if kind is bool:
        options["action"] = "store_true" if meta.get("switch") else argparse.BooleanOptionalAction
    elif item_type(kind) is not None:
        if meta.get("repeat"):  # one value a flag, repeatable: --sample dpo --sample kto FILE
            options.update(type=str, action="append")
        else:  # --rounds 1 2, or --rounds 1,2; a repeated flag adds to the list
            options.update(type=str, nargs="*" if meta.get("positional") else "+", action="extend")
        if "choices" not in meta and not meta.get("positional"):
            options["metavar"] = meta.get("metavar", "VALUE")
    else:
        options["type"] = kind if kind in (int, float) else str  # a path as typed: '' is refused (`coerce`)
        if "metavar" in meta or kind in SCALAR_METAVARS:
            options["metavar"] = meta.get("metavar", SCALAR_METAVARS.get(kind))
    if "choices" in meta:
        options["choices"] = meta["choices"]
    return options


def _add_field(
    parser: argparse.ArgumentParser,
    field: dataclasses.Field,
    prefix: str,
    options: dict[str, Any],
    groups: dict[str, Any] | None,
) -> None:
    """Add one field's argument with ``options`` (`_value_options`): a positional one, or its flag (with the
    prefix of a nested dataclass's fields, dotted and dashed, and its short form) in its group, if it has one."""
    meta = field.metadata
    if meta.get("positional"):
        del options["dest"]
        options.pop("action", None)
        options["default"] = None if field.default is dataclasses.MISSING else field.default
        if meta.get("required"):
            options["nargs"] = "+"
        parser.add_argument(prefix + field.name, **options)
        return
    if meta.get("required"):
        options.update(required=True)
        del options["default"]
    names = [_flag(prefix + field.name)]
    if prefix:  # --train.learning-rate and --train-learning-rate
        names = [_flag(prefix + field.name), _flag(prefix.replace(".", "_") + field.name)]
    if "short" in meta:
        names.insert(0, meta["short"])
    container = (groups or {}).get(field.name, parser)
    container.add_argument(*names, **options)


def did_you_mean(name: str, known: Any) -> str:
    """ " (did you mean learning_rate?)" for the nearest known name, or "" when none is close."""
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {match[0]}?)" if match else ""


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        values = strict_yaml(read_named(path)) or {}
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read config (not UTF-8 text: byte {exc.start})") from None
    except LongNumber as exc:  # PyYAML's int() refused it with a bare ValueError
        raise ConfigError(f"{path}{f', key {exc.field}' if exc.field else ''}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(yaml_error(path, exc, "cannot read config")) from exc
    except OSError as exc:  # why alone, as the rubric's line says it: "[Errno 22] ...: 'PATH'" named it twice
        raise ConfigError(f"{path}: cannot read config ({exc.strerror or exc})") from exc
    except TooDeep as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from exc
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a config file must be a mapping of option: value")
    return values


def load_yaml(path: Path, cls: type, spelled: dict[str, str] | None = None) -> dict[str, Any]:
    """The file's values (nested mappings checked against their own dataclass); unknown keys are errors, named as
    the file writes them. ``spelled`` (where given) gets each key the file sets, dotted under a section
    (``train.learning_rate``), by the key as written there (``train.learning-rate``), for lines naming its value."""
    return _check_keys(_read_yaml(path), cls, str(path), (), {} if spelled is None else spelled)


def load_yaml_keys(path: Path, section: str = "", spelled: dict[str, str] | None = None) -> set[str]:
    """The option names a config file sets (at the top level, or in the mapping under ``section``); ``spelled``
    (where given) gets each by its key as the file writes it."""
    values = _read_yaml(path)
    if section:
        values = values.get(_by_name(values, str(path)).get(section))
        values = values if isinstance(values, dict) else {}
    written = _by_name(values, f"{path}: {section}" if section else str(path))
    if spelled is not None:
        spelled.update(written)
    return set(written)


def _by_name(values: dict, where: str) -> dict[str, str]:
    """Each key of the mapping ``values`` by the option it sets (its dashes read as underscores), as written; two
    keys of one option (`max-tokens:` and `max_tokens:`) are refused, naming both: the later one won unsaid."""
    written: dict[str, str] = {}
    for key in map(str, values):
        name = key.replace("-", "_")
        if name in written:
            raise ConfigError(f"{where}: keys {written[name]} and {key} both set option {name}: keep one")
        written[name] = key
    return written


def _check_keys(
    values: dict,
    cls: type,
    where: str,
    exclude: tuple,
    spelled: dict[str, str],
    prefix: tuple[str, str] = ("", ""),
) -> dict[str, Any]:
    """``values`` by field name (a key's dashes read as underscores), checked against ``cls``; ``spelled`` gets
    each key as written (``prefix``: the section's, ours and as written), which every line here names: a file's
    `max-new-tokens` was said as `max_new_tokens`, a key its user never wrote."""
    fields = dict((f.name, kind) for f, kind in _fields(cls, exclude))
    owned = {f.name: f.metadata.get("owned", ()) for f, _ in _fields(cls, exclude)}
    written = _by_name(values, where)
    spelled.update({prefix[0] + name: prefix[1] + key for name, key in written.items()})
    values = {str(key).replace("-", "_"): value for key, value in values.items()}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        # the known names spelled as the user writes keys: `max-new-tokens` was told `max_tokens`
        dashed = "-" in written[unknown[0]]
        known = sorted(name.replace("_", "-") if dashed else name for name in fields)
        raise ConfigError(
            f"{where}: unknown option(s) {', '.join(written[name] for name in unknown)}"
            f"{did_you_mean(written[unknown[0]], known)}; known: {', '.join(known)}"
        )
    for name, value in values.items():
        if dataclasses.is_dataclass(fields[name]):
            # `train:` with nothing under it (YAML null): no options, as an empty file
            value = {} if value is None else value
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: option {written[name]} must be a mapping of option: value")
            inner = (f"{prefix[0]}{name}.", f"{prefix[1]}{written[name]}.")
            values[name] = _check_keys(
                value, fields[name], f"{where}: {written[name]}", owned[name], spelled, inner
            )
        elif value is None and not _admits_none(cls, name):
            # `overlap:` with nothing after it (YAML null) was taken as the value None: a TypeError traceback
            raise ConfigError(
                f"{where}, key {written[name]}: null names nothing; give a value or leave the option out"
            )
    return values


def _admits_none(cls: type, name: str) -> bool:
    """Whether the field ``name`` of ``cls`` is ``X | None`` (None a value it takes, as its default may be)."""
    return type(None) in typing.get_args(typing.get_type_hints(cls)[name])


def _names_a_path(field: dataclasses.Field, kind: Any) -> bool:
    """Whether ``field`` (of type ``kind``) names files or folders: a path, a list of them, or a text or list
    whose metadata says it may name one (``path``: a model's short name or folder; ``folders``)."""
    meta = field.metadata
    return Path in (kind, item_type(kind)) or bool(meta.get("path") or meta.get("folders"))


def build(cls: type[T], namespace: argparse.Namespace) -> T:
    """The options object from a parsed namespace: dataclass defaults < YAML file < flags."""
    flags = dict(vars(namespace))
    config = flags.pop("config", None)
    spelled: dict[str, str] = {}  # each key of the file as it writes it
    values = load_yaml(config, cls, spelled) if config else {}
    for dest, value in flags.items():  # "train.learning_rate" -> values["train"]["learning_rate"]
        *outer, name = dest.split(".")
        target = values
        for key in outer:
            target = target.setdefault(key, {})
        target[name] = value

    def where(key: str) -> str:  # a value's errors say where the user gave it: the flag, or the file and key
        return _flag(key) if key in flags else f"{config}, key {spelled.get(key, key)}"

    FROM_FILE.clear()
    FILE_VALUES.clear()
    if config:
        from_yaml = [key for key in _file_keys(values) if key not in flags]
        FROM_FILE.update({_flag(key.replace(".", "_")): where(key) for key in from_yaml})
        FILE_VALUES.update({_flag(key.replace(".", "_")): str(_at(values, key)) for key in from_yaml})

    return _construct(cls, values, "", where)


def _construct(cls: type[T], values: dict[str, Any], prefix: str, where: Callable[[str], str]) -> T:
    fields = {f.name: (f, kind) for f, kind in _fields(cls)}
    known = {k: v for k, v in values.items() if k in fields}
    for key, value in known.items():
        field, kind = fields[key]
        if dataclasses.is_dataclass(kind):
            known[key] = _construct(kind, value, f"{prefix}{key}.", where)
        elif field.metadata.get("folders") and item_type(kind) is not None:  # a folder's name may hold commas
            known[key] = coerce_list(where(prefix + key), value, str, keep_paths=True)
        elif field.metadata.get("names") and item_type(kind) is not None:  # split once the names are known
            known[key] = coerce_list(where(prefix + key), value, str, split=False)
        elif field.metadata.get("whole") and item_type(kind) is not None:  # JSON holds commas: not split
            known[key] = (
                None if value is None else tuple(value if isinstance(value, list | tuple) else [value])
            )
        else:
            label = key if field.metadata.get("positional") else where(prefix + key)
            known[key] = coerce(label, value, kind)
            check_choices(label, known[key], field.metadata.get("choices"))
        if _names_a_path(field, kind):
            known[key] = expand_home(known[key])
    try:
        return cls(**known)
    except TypeError as exc:
        raise ConfigError(str(exc)) from exc
