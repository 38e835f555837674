"""One typed options dataclass per entry point: flags built from its fields, an optional ``--config file.yaml``,
flags overriding the file, unknown keys an error. Each field documents itself once via ``metadata={"help": ...}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or flag names an unknown option or holds a value of the wrong type."""


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _base_type(annotation: Any) -> Any:
    """The non-None member of ``X | None``."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return members[0]
    return annotation


def add_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one flag per dataclass field; defaults stay unset so the YAML file can fill them."""
    hints = typing.get_type_hints(cls)
    parser.add_argument("--config", type=Path, help="YAML file of options; flags override it")
    for field in dataclasses.fields(cls):
        kind = _base_type(hints[field.name])
        help_text = field.metadata.get("help", "")
        options: dict[str, Any] = {"dest": field.name, "default": argparse.SUPPRESS, "help": help_text}
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["type"] = kind if kind in (int, float, str, Path) else str
            if "choices" in field.metadata:
                options["choices"] = field.metadata["choices"]
        parser.add_argument(_flag(field.name), **options)


def load_yaml(path: Path, cls: type) -> dict[str, Any]:
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from exc
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a config file must be a mapping of option: value")
    names = {f.name for f in dataclasses.fields(cls)}
    values = {key.replace("-", "_"): value for key, value in values.items()}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}"
        )
    return values


def build(cls: type[T], namespace: argparse.Namespace) -> T:
    """The options object from a parsed namespace: dataclass defaults < YAML file < flags."""
    flags = dict(vars(namespace))
    config = flags.pop("config", None)
    values = load_yaml(config, cls) if config else {}
    names = {f.name for f in dataclasses.fields(cls)}
    values.update({k: v for k, v in flags.items() if k in names})
    hints = typing.get_type_hints(cls)
    values = {key: _coerce(key, value, _base_type(hints[key])) for key, value in values.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from exc


def _coerce(key: str, value: Any, kind: Any) -> Any:
    if value is None or kind not in (int, float, str, bool, Path):
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is Path and isinstance(value, str):
        return Path(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"option {key}: expected {kind.__name__}, got {value!r}")
    return value
