"""One record of an import file: the ``RecordError`` that names its row and field, and strict decoding of one JSON
value (an object with a key twice, or a value nested too deeply, is an error of its row, not a guess).

The depth guard (`within_depth`) serves every parser of what a user typed or wrote too: ``--ratings`` JSON
(`strict_json`), config and rubric YAML (`strict_yaml`, which names an integer too long to read by its key too)."""

from __future__ import annotations

import ast
import json
import math
import re
import sys
from collections.abc import Callable, Container
from typing import TypeVar

import yaml

from data.errors import counted
from data.schemas import SchemaError

SPACE = re.compile(r"\s*")
T = TypeVar("T")
TOO_DEEP = "nested too deeply to read"


class RecordError(SchemaError):
    """One input record breaks the import rules. ``reason`` is a short name, counted when records are skipped."""

    def __init__(
        self,
        source: str,
        message: str,
        row: int | None = None,
        field: str | None = None,
        reason: str = "invalid",
    ):
        super().__init__(source, message, row=row, field=field)
        self.reason = reason


def json_error(exc: json.JSONDecodeError, line: int | None = None) -> str:
    """A JSON syntax error as one whole sentence with its line and column."""
    message = exc.msg[:1].lower() + exc.msg[1:]
    at = "" if message.endswith(" at") else " at"  # "Unterminated string starting at"
    return f"invalid JSON: {message}{at} line {line or exc.lineno}, column {exc.colno}"


class DuplicateKey(ValueError):
    """A JSON object with a key twice (``key``): which value to keep is a guess."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    """``json``'s ``object_pairs_hook`` that refuses an object with a key twice (`DuplicateKey`)."""
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        raise DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return record


class TooDeep(ValueError):
    """A JSON or YAML value nested deeper than its parser can follow."""

    def __init__(self):
        super().__init__(TOO_DEEP)


def within_depth(parse: Callable[..., T], *args: object) -> T:
    """``parse(*args)`` (json's decoder, ``yaml.safe_load``), with a value nested too deeply a `TooDeep`: both
    parsers recurse once a level, so ``[[[...]]]`` a few thousand deep would end in a RecursionError traceback."""
    try:
        return parse(*args)
    except RecursionError:
        raise TooDeep() from None


class LongNumber(ValueError):
    """A JSON integer of more digits than Python turns into a number (`sys.get_int_max_str_digits`, 4300 by
    default), at ``field`` (``ratings.helpfulness``, ``ranking[2]``; "" for the whole value)."""

    def __init__(self, field: str, digits: int):
        limit = sys.get_int_max_str_digits()
        super().__init__(f"an integer of {digits} digits, more than the {limit} Python reads as a number")
        self.field = field


class _Digits(str):
    """An integer's digits that `int` refuses (`_long_ints`), kept as text to find where it was."""


def _long_ints(digits: str) -> int | _Digits:
    try:
        return int(digits)
    except ValueError:
        return _Digits(digits)


_DECODER = json.JSONDecoder(object_pairs_hook=no_duplicate_keys)
# Only to name the field of a number `_DECODER` could not read: a parse_int hook would slow every number
_FINDER = json.JSONDecoder(object_pairs_hook=no_duplicate_keys, parse_int=_long_ints)


def _where(value: object, field: str = "") -> tuple[str, _Digits] | None:
    """The first `_Digits` in ``value`` and its path."""
    if isinstance(value, _Digits):
        return field, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, _Digits):  # a YAML mapping's key: named by the mapping that holds it
            return field, key
        found = _where(
            item, f"{field}[{key}]" if isinstance(key, int) else f"{field}.{key}" if field else key
        )
        if found is not None:
            return found
    return None


# The most levels a record's value is nested (a row, its messages, a message's content parts: a handful): json reads
# a value some hundreds deep that the import's walks over a row (`without_nulls`, a level each) could not follow.
MAX_DEPTH = 100


def _deeper_than(value: object, bound: int) -> bool:
    """Whether ``value`` nests lists and objects more than ``bound`` levels deep (walked without recursing)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            if depth > bound:
                return True
            stack.extend((child, depth + 1) for child in children)
    return False


def _decode(text: str, pos: int | None = None) -> object:
    """``text``'s JSON value (at ``pos``: (value, end), as ``raw_decode``), within depth (`MAX_DEPTH`); an integer
    too long for `int` (a plain ValueError from json's scanner, which names no field) a `LongNumber` naming its
    field."""
    try:
        if pos is None:
            value, start, end = within_depth(_DECODER.decode, text), 0, len(text)
        else:
            (value, end), start = within_depth(_DECODER.raw_decode, text, pos), pos
        # only a value of that many brackets can be so deep: most are walked for none
        brackets = text.count("[", start, end) + text.count("{", start, end)
        if brackets > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
            raise TooDeep()
        return value if pos is None else (value, end)
    except (json.JSONDecodeError, DuplicateKey, TooDeep):
        raise
    except ValueError:
        found = _where(within_depth(_FINDER.raw_decode, text, SPACE.match(text, pos or 0).end())[0])
        if found is None:
            raise
        field, digits = found
        raise LongNumber(field, len(digits.lstrip("-"))) from None


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a mapping with a key twice, as `strict_json` refuses an object with one:
    `yaml.safe_load` kept the last value without a word (a rubric aspect's ``name`` given twice, a config's
    ``method``). A merge key's (``<<``) values stay overridable by the mapping's own."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = self.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} appears twice in one mapping: which to keep is a guess",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


class _LongIntLoader(_StrictLoader):
    """The strict loader with an integer too long for `int` kept as its digits (`_Digits`), to find where."""


def _yaml_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int | _Digits:
    try:
        return loader.construct_yaml_int(node)
    except ValueError:
        return _Digits(node.value.lstrip("+-").replace("_", ""))


_LongIntLoader.add_constructor("tag:yaml.org,2002:int", _yaml_int)


def strict_yaml(text: str) -> object:
    """``text``'s YAML value (`yaml.safe_load`'s, a key twice in one mapping a `yaml.MarkedYAMLError` at it); a value
    nested too deeply a `TooDeep`, an integer too long to read a `LongNumber` naming its key (``train.seed``,
    ``kinds[0]``): PyYAML's `int` raised a bare ValueError."""
    try:
        return within_depth(yaml.load, text, _StrictLoader)
    except (yaml.YAMLError, TooDeep):
        raise
    except ValueError:
        found = _where(within_depth(yaml.load, text, _LongIntLoader))
        if found is None:
            raise
        field, digits = found
        raise LongNumber(field, len(digits)) from None


def yaml_error(path: object, exc: yaml.YAMLError, what: str) -> str:
    """One line for a YAML file ``path`` that cannot be read: ``FILE, line 3, column 1: {what} (problem)``, the
    place where PyYAML marks one (its own text is lines quoting the file), else its first line
    (`data.config`, `data.rubric`)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        at = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return f"{path}{at}: {what} ({exc.problem or exc.context})"
    return f"{path}: {what} ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"


def strict_json(text: str) -> object:
    """The JSON value ``text`` holds; a syntax error is a JSONDecodeError, an object with a key twice a
    `DuplicateKey`, a value nested too deeply a `TooDeep`, an integer too long to read a `LongNumber` (each a
    ValueError)."""
    return _decode(text)


def decode_value(text: str, pos: int, source: str, row: int) -> tuple[object, int]:
    """One JSON value at ``pos``: (value, end). A value nested too deeply, an object with a key twice or an integer
    too long to read is a RecordError of the row (in an array, the caller finds the value's end with
    ``JsonText.skip``)."""
    try:
        return _decode(text, pos)
    except TooDeep:
        error = RecordError(source, f"JSON {TOO_DEEP}", row=row, reason="too_deep")
    except DuplicateKey as exc:
        message = f"key {exc.key!r} appears twice in one object (which to keep is a guess)"
        error = RecordError(source, message, row=row, field=exc.key, reason="duplicate_key")
    except LongNumber as exc:
        error = RecordError(source, str(exc), row=row, field=exc.field or None, reason="long_number")
    raise error


CONVERSATION = 'a conversation is one record, an object: {"messages": [...]}'


def object_or_error(record: object, source: str, row: int, lines: bool = True) -> object:
    """``record``, row ``row`` of a JSON Lines file (``lines``) or of a JSON array, else a RecordError saying what
    it is instead."""
    if isinstance(record, dict):
        return record
    kind = "array" if isinstance(record, list) else "null" if record is None else type(record).__name__
    if is_messages(record):  # a conversation's messages: the line is one record, not an array of them
        kind = f"an array of {counted(len(record), 'message')} ({CONVERSATION})"
    elif isinstance(record, list) and record and all(isinstance(item, dict) for item in record):
        # a JSON array of records on one line, JSON Lines after it: say it holds records, not one bad row's worth;
        # in a JSON array, an array nested in it
        hint = (
            "JSON Lines hold one record a line: write them so"
            if lines
            else "an array inside the file's array: its records belong in the file's array, each an item"
        )
        kind = f"an array of {counted(len(record), 'object')} ({hint})"
    return RecordError(
        source, f"each record must be a JSON object, got {kind}", row=row, reason="not_an_object"
    )


# The fields a row of any format gives its answers in (a gold file's rankings and ratings too)
ANSWER_FIELDS = ("chosen", "rejected", "completions", "completion", "response", "output", "gold", "label")
ANSWER_FIELDS += ("kto_tag", "ranking", "ratings")


# the keys whose blank text (``""``, a CSV's empty cell, or spaces) is null: a KTO label, which no text but a
# label's names, where a CSV writes a row nobody labelled as an empty cell (an answer's blank text stays an error)
BLANK_IS_NULL = ("label", "kto_tag")


def without_nulls(value: object) -> object:
    """``value`` with every object key whose value is null (None, a float NaN, or a blank `BLANK_IS_NULL` key)
    left out, at every depth; list items are kept as they are. A Parquet file or a datasets folder holds every key
    of the file in every row, null where a row has none, and a JSON row may write ``null``: a row's kind
    (preference, KTO, candidates, ranking, ratings, gold) is decided by the keys it has, so a null key is one it
    does not have."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if not null_at(key, item)}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


def null_answer_fields(record: object) -> list[str]:
    """The answer fields (`ANSWER_FIELDS`) that ``record`` holds as null: if it gives no answer without them, it
    is a row whose answers are missing, not a prompt alone."""
    if not isinstance(record, dict):
        return []
    return [key for key in ANSWER_FIELDS if key in record and null_at(key, record[key])]


def is_null(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def null_at(key: str, value: object) -> bool:
    """Whether ``value``, a row's ``key``, is null (`is_null`), or the blank text of a `BLANK_IS_NULL` key."""
    return is_null(value) or (key in BLANK_IS_NULL and isinstance(value, str) and not value.strip())


# how each reader's row is told to give its messages: a CSV cell is text, a JSON or Parquet string was encoded twice
CSV_REMEDY = (
    "the cell holds {} written out as text (as pandas' to_csv writes one), which would be imported as that text: a "
    "CSV holds only text; give the file as JSON Lines or Parquet (pandas: df.to_json(path, orient='records', "
    "lines=True) or df.to_parquet(path))"
)
ENCODED_REMEDY = (
    "the text holds {} written out as JSON (a string of them, encoded twice), which would be imported as that text: "
    "give the messages themselves, not a string of them (json.loads the column before writing the file)"
)
MESSAGES_AS_TEXT = "messages_as_text"  # the reason of such a row
# a list of objects, or one, as json.dumps writes it, indented or not
MESSAGES_START = re.compile(r"(\[\s*)?\{")


def messages_as_text(
    record: dict, source: str, row: int, remedy: str, read: Container[str]
) -> RecordError | None:
    """A row one of whose texts (its columns in ``read``) is messages written out (JSON, or Python's repr: pandas'
    ``to_csv`` writes a column of message lists so, ``json.dumps`` of a column before writing JSON or Parquet): a
    bad row naming the column, told what to do by the reader's ``remedy``. The row was imported as that text, the
    prompt (or answer) ``[{'role': 'user', 'content': ...}]``, without a word."""
    for column, cell in record.items():
        messages = _written_messages(cell) if column in read else None
        if messages is not None:
            return RecordError(
                source, remedy.format(messages), row=row, field=column, reason=MESSAGES_AS_TEXT
            )
    return None


def _written_messages(cell: object) -> str | None:
    """What ``cell`` holds where its whole text is a message or a list of them (objects with a role and a text,
    ``role`` and ``content`` or ShareGPT's ``from`` and ``value``), else None. A role alone is no message: an
    answer written as JSON (``{"from": "Boston", "to": "Chicago"}``, a user object's ``"role": "admin"``) is text."""
    text = cell.strip() if isinstance(cell, str) else ""
    if not MESSAGES_START.match(text):
        return None
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(text)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            continue
        items = value if isinstance(value, list) else [value]
        if items and all(_is_message(item) for item in items):
            return "a list of messages" if isinstance(value, list) else "a message"
        return None
    return None


def is_messages(value: object) -> bool:
    """Whether ``value`` is a list of chat messages (each with its role and text, `_is_message`)."""
    return isinstance(value, list) and bool(value) and all(map(_is_message, value))


def _is_message(item: object) -> bool:
    return isinstance(item, dict) and ({"role", "content"} <= item.keys() or {"from", "value"} <= item.keys())
