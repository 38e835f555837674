"""Rubrics for the `rate` task: aspects, each rated on a small integer scale, read from a YAML file.

    name: helpsteer2                 # optional; default: the file's stem
    aspects:
      - name: helpfulness            # a column name: lower-case letters, digits, _
        scale: [0, 4]                # low, high (integers, low < high, at most 10 values)
        description: Overall helpfulness of the response to the prompt.   # one line

Every check names the file and the field (``aspects[2].scale``): a rubric is checked once, before the app serves or
an export reads ratings, and a rating is checked against it (`Rubric.check`) before it is stored.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from data.errors import CONTROL, PrefloopError, check_file_name, shown
from data.files import read_named
from data.import_records import (
    TOO_DEEP,
    DuplicateKey,
    LongNumber,
    TooDeep,
    strict_json,
    strict_yaml,
    yaml_error,
)

DEFAULT_RUBRIC = Path(__file__).resolve().parents[1] / "configs" / "rubrics" / "helpsteer2.yaml"
MAX_VALUES = 10  # one digit key per value
NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Columns of the ratings export that an aspect must not shadow.
RESERVED = ("prompt", "completion", "completion_id", "prompt_id", "raters", "rubric", "round", "split")
ASPECT_KEYS = ("name", "scale", "description")


class RubricError(PrefloopError):
    """A rubric file (or a rating) that breaks the rules above; the message names the file and the field."""


@dataclass(frozen=True)
class Aspect:
    name: str
    low: int
    high: int
    description: str

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(range(self.low, self.high + 1))

    def keys(self) -> tuple[str, ...]:
        """The key of each value: the value's own digit on a scale within 0..9, else 1, 2, ... 9, 0 by position."""
        if self.low >= 0 and self.high <= 9:
            return tuple(str(v) for v in self.values)
        return tuple("1234567890"[i] for i in range(len(self.values)))


@dataclass(frozen=True)
class Rubric:
    name: str
    aspects: tuple[Aspect, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.aspects)

    def check(self, ratings: dict) -> dict[str, int]:
        """``ratings`` ({aspect: value}) complete and in range, as ints in rubric order; else a RubricError."""
        if not isinstance(ratings, dict):
            raise RubricError(f"ratings must be an object of aspect: value, got {type(ratings).__name__}")
        unknown = sorted(set(ratings) - set(self.names))
        if unknown:
            raise RubricError(f"rubric {self.name} has no aspect {shown(unknown[0])}")
        missing = [name for name in self.names if ratings.get(name) is None]
        # NaN counts as null (README: Mixed rows), but "not rated yet" said the user gave no value
        nans = [name for name in self.names if isinstance(v := ratings.get(name), float) and math.isnan(v)]
        if missing or nans:
            said = [f"{', '.join(missing)} not rated yet"] if missing else []
            if nans:
                said.append(
                    f"{', '.join(nans)} {'is' if len(nans) == 1 else 'are'} NaN, which counts as not rated"
                )
            raise RubricError(f"rate every aspect: {'; '.join(said)}")
        out = {}
        for aspect in self.aspects:
            value = ratings[aspect.name]
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not aspect.low <= value <= aspect.high
            ):
                digits = isinstance(value, str) and not value.isascii() and any(c.isdigit() for c in value)
                raise RubricError(
                    f"{aspect.name} {shown(value)} is not an integer in {aspect.low}..{aspect.high}"
                    + (" (in ASCII digits 0-9)" if digits else "")
                )
            out[aspect.name] = value
        return out

    def encode(self, ratings: dict) -> str:
        """The stored form (labels.ratings): compact JSON, keys sorted, after `check`."""
        return json.dumps(self.check(ratings), sort_keys=True, separators=(",", ":"))


def aspect_order(names: Iterable[str], order: Sequence[str] = ()) -> list[str]:
    """The aspects ``names`` as a rubric lists them (``order``: its `Rubric.names`, the order its labellers rate
    them in), those it lacks after, sorted. A stored rating's keys are sorted: listed as stored, they read in an
    order no screen shows."""
    place = {name: i for i, name in enumerate(order)}
    return sorted(names, key=lambda name: (place.get(name, len(place)), name))


NOT_AN_OBJECT = "ratings must be a JSON object of aspect: value"


def parse_ratings(text: object) -> dict:
    """A stored or submitted ratings JSON object (or the dict itself); {} for nothing, a RubricError for anything
    but an object."""
    if isinstance(text, dict):
        return text
    if text is None or text == "":
        return {}
    if not isinstance(
        text, str
    ):  # a file's row gives any JSON value (a list, a number): json reads text only
        raise RubricError(NOT_AN_OBJECT)
    try:
        value = strict_json(text)  # with json.loads the last of a key twice won, silently
    except json.JSONDecodeError:
        raise RubricError("ratings are not JSON") from None
    except DuplicateKey as exc:
        raise RubricError(f"aspect {exc.key!r} is given twice") from None
    except TooDeep:
        raise RubricError(f"ratings are JSON {TOO_DEEP}") from None
    except LongNumber as exc:
        raise RubricError(f"{f'aspect {exc.field!r}' if exc.field else 'ratings'}: {exc}") from None
    if not isinstance(value, dict):
        raise RubricError(NOT_AN_OBJECT)
    return value


# a CSV cell holds text: "3" (or a float column's "3.0") is 3; ASCII digits only ("٣", "３" are no rating), and
# not so many that int() refuses them (a rating that long is out of any scale: the rubric's check says so)
_INTEGER = re.compile(r"\s*(-?[0-9]{1,18})(\.0*)?\s*")


def rating_value(value: object) -> object:
    """A rating as a file gives it, in a column or a ratings object: text "3" (a CSV cell; UltraFeedback writes its
    ratings so), or a float 3.0 or "3.0" (an integer column with a null in it, as pandas writes Parquet and CSV),
    is the integer 3; anything else (3.5) is checked as it is."""
    match = _INTEGER.fullmatch(value) if isinstance(value, str) else None
    if match:
        return int(match.group(1))
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def read_ratings(text: object) -> dict:
    """A gold or imported answer's ratings (`parse_ratings`), each value read as `rating_value` reads it: a gold
    file's row, ``data gold --ratings`` and the admin tab's "make gold" read ``3.0`` as 3 alike."""
    return {aspect: rating_value(value) for aspect, value in parse_ratings(text).items()}


def _aspect(entry: object, source: str, index: int) -> Aspect:
    def fail(key: str, message: str) -> RubricError:
        return RubricError(f"{source}, field 'aspects[{index}]{'.' + key if key else ''}': {message}")

    if not isinstance(entry, dict):
        raise fail("", f"must be a mapping with {', '.join(ASPECT_KEYS)}")
    unknown = sorted(set(entry) - set(ASPECT_KEYS))
    if unknown:
        raise fail(str(unknown[0]), f"unknown key (expected {', '.join(ASPECT_KEYS)})")
    for key in ASPECT_KEYS:
        if entry.get(key) in (None, ""):
            raise fail(key, "missing")
    name = entry["name"]
    if not isinstance(name, str) or not NAME.fullmatch(name) or name in RESERVED:
        raise fail(
            "name",
            f"{name!r} must be lower-case letters, digits or _ (starting with a letter, at most 40), not one "
            f"of {', '.join(RESERVED)}",
        )
    scale = entry["scale"]
    if not (isinstance(scale, list) and len(scale) == 2 and all(type(v) is int for v in scale)):
        raise fail("scale", f"{scale!r} must be [low, high], two integers")
    low, high = scale
    if low >= high:
        raise fail("scale", f"low {low} must be below high {high}")
    if high - low + 1 > MAX_VALUES:
        raise fail("scale", f"{high - low + 1} values, at most {MAX_VALUES} (one key each)")
    description = entry["description"]
    if not isinstance(description, str) or "\n" in description.strip():
        raise fail("description", "must be one line of text")
    return Aspect(name, low, high, description.strip())


def rubric_from_dict(values: object, source: str, default_name: str = "rubric") -> Rubric:
    """A checked Rubric from parsed YAML; errors name ``source`` and the field."""
    if not isinstance(values, dict):
        raise RubricError(f"{source}: a rubric is a mapping with name and aspects")
    unknown = sorted(set(values) - {"name", "aspects"})
    if unknown:
        raise RubricError(f"{source}, field '{unknown[0]}': unknown key (expected name, aspects)")
    name = values.get("name", default_name)
    if not isinstance(name, str) or not name.strip() or CONTROL.search(name):
        raise RubricError(f"{source}, field 'name': must be one line of text (no control character)")
    entries = values.get("aspects")
    if not isinstance(entries, list) or not entries:
        said = "missing" if entries is None else "empty" if isinstance(entries, list) else "not a list"
        raise RubricError(
            f"{source}, field 'aspects': {said} (a list of aspects: - name: ..., scale: [low, high])"
        )
    aspects, seen = [], set()
    for i, entry in enumerate(entries):
        aspect = _aspect(entry, source, i)
        if aspect.name in seen:
            raise RubricError(f"{source}, field 'aspects[{i}].name': duplicate aspect {aspect.name!r}")
        seen.add(aspect.name)
        aspects.append(aspect)
    return Rubric(name.strip(), tuple(aspects))


def rubric_key(path: Path | str | None = None) -> str | None:
    """What ratings checked against the rubric in ``path`` (default: HelpSteer2's) are stored as, whatever path
    names it: its name and its aspects' names and scales (``helpsteer2: helpfulness 0..4, ...``; descriptions
    change no rating); None where it cannot be read now: the import log records it after the rows are stored (the
    import read it before), where an error would say that nothing was."""
    try:
        rubric = load_rubric(path)
    except RubricError:
        return None
    return f"{rubric.name}: " + ", ".join(f"{a.name} {a.low}..{a.high}" for a in rubric.aspects)


def load_rubric(path: Path | str | None = None) -> Rubric:
    """The rubric in ``path`` (default: HelpSteer2's five aspects, configs/rubrics/helpsteer2.yaml)."""
    path = Path(path) if path is not None else DEFAULT_RUBRIC
    try:
        values = strict_yaml(read_named(path))
    except OSError as exc:
        raise RubricError(f"{path}: cannot read the rubric ({exc.strerror or exc})") from None
    except TooDeep as exc:
        raise RubricError(f"{path}: cannot read the rubric ({exc})") from None
    except UnicodeDecodeError as exc:
        raise RubricError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except yaml.YAMLError as exc:  # as a config's: a key twice is no YAML syntax error
        raise RubricError(yaml_error(path, exc, "cannot read the rubric")) from None
    except LongNumber as exc:  # PyYAML's int() refused it with a bare ValueError
        raise RubricError(f"{path}{f', field {exc.field!r}' if exc.field else ''}: {exc}") from None
    if isinstance(values, dict) and "name" not in values:  # the file's name becomes the rubric's
        becomes = "the rubric's name, stored with every rating"
        check_file_name(path, becomes, "name: in the rubric", RubricError)
    return rubric_from_dict(values, str(path), path.stem)


@cache
def bundled_rubrics() -> tuple[tuple[Path, Rubric], ...]:
    """The rubrics that ship in configs/rubrics/ (HelpSteer2's, the default, and UltraFeedback's), each with its
    file, read once."""
    return tuple((path, load_rubric(path)) for path in sorted(DEFAULT_RUBRIC.parent.glob("*.yaml")))


def bundled_for(aspects: Iterable[str], in_use: Rubric) -> Path | None:
    """The file of the bundled rubric whose aspects are ``aspects`` (ratings given for it: a raw UltraFeedback
    row's), where ``in_use``'s are not; else None."""
    names = set(aspects)
    if names == set(in_use.names):
        return None
    return next((path for path, rubric in bundled_rubrics() if set(rubric.names) == names), None)
