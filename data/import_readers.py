"""Reading an import file into raw records, row by row, so that a bad record is reported (or skipped) by its row.

- JSON arrays are parsed one element at a time: a syntax error names its row, line and column; a file cut off
  mid-array (no closing `]`) yields its complete records and then one `truncated` problem in place of the rest.
- JSON Lines: one record per non-blank line; a bad line is a problem of its row, the other rows still read.
- CSV (every cell text; an empty cell is ""), Parquet, and `datasets.save_to_disk` folders.
Text is UTF-8 with or without a BOM. An invalid byte is kept as a lone surrogate (``surrogateescape``) and reported
later by the row and field that hold it (`import_formats.clean_text`), not as a byte offset into the file.

A row that cannot be read becomes a ``RecordError`` in the returned list; errors that leave no row to blame (an
unreadable file, a syntax error inside an array, which leaves nothing after it readable) are raised.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from data.schemas import SchemaError

TEST_SPLIT_NAMES = ("test", "validation", "valid", "eval")
_SPACE = re.compile(r"\s*")


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
        self.detail = message


def json_error(exc: json.JSONDecodeError, line: int | None = None) -> str:
    """A JSON syntax error as one whole sentence with its line and column."""
    message = exc.msg[:1].lower() + exc.msg[1:]
    at = "" if message.endswith(" at") else " at"  # "Unterminated string starting at"
    return f"invalid JSON: {message}{at} line {line or exc.lineno}, column {exc.colno}"


def read_records(path: Path) -> list[object]:
    """The rows of a data file or a `datasets.save_to_disk` folder: a dict per record, a RecordError per bad row."""
    if not path.exists():
        raise SchemaError(str(path), "file not found")
    if path.is_dir():
        return _read_dataset_dir(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pq.read_table(path).to_pylist()
        if suffix == ".csv":
            frame = pd.read_csv(
                path,
                dtype=object,
                keep_default_na=False,
                encoding="utf-8-sig",
                encoding_errors="surrogateescape",
            )
            return frame.to_dict("records")
        text = path.read_bytes().decode("utf-8-sig", errors="surrogateescape")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise SchemaError(str(path), f"cannot be read: {exc}") from exc
    if suffix != ".jsonl" and text.lstrip().startswith("["):
        return _read_json_array(text, str(path))
    if suffix != ".jsonl" and text.lstrip().startswith("{"):
        _refuse_nested(text, str(path))
    return _read_json_lines(text, str(path))


def _refuse_nested(text: str, source: str) -> None:
    """A file holding one object whose only value is the list of records (``{"data": [...]}``): say so."""
    try:
        _nested_records(json.loads(text), source)
    except (json.JSONDecodeError, RecursionError):
        return  # JSON lines, or broken: read line by line


def _nested_records(document: object, source: str) -> None:
    if isinstance(document, dict) and len(document) == 1:
        key, value = next(iter(document.items()))
        rows = isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
        if rows and not any("role" in v for v in value):  # a conversation's messages are one record
            raise SchemaError(
                source,
                f'the records are nested under one key "{key}" ({len(value)} records): import the list itself, '
                f"e.g. jq '.[\"{key}\"]' {source} > records.json",
            )


def _decode(decoder: json.JSONDecoder, text: str, pos: int, source: str, row: int) -> tuple[object, int]:
    try:
        return decoder.raw_decode(text, pos)
    except RecursionError:
        raise RecordError(source, "JSON nested too deeply to read", row=row, reason="too_deep") from None


def _read_json_array(text: str, source: str) -> list[object]:
    decoder = json.JSONDecoder()
    records: list[object] = []
    pos = _SPACE.match(text, text.index("[") + 1).end()
    if text.startswith("]", pos):
        return _after_array(text, pos, source, records)
    while True:
        row = len(records)
        try:
            record, pos = _decode(decoder, text, pos, source, row)
        except json.JSONDecodeError as exc:
            if text.rstrip().endswith("]"):  # complete file, broken record: nothing after it can be trusted
                raise RecordError(source, json_error(exc), row=row, reason="invalid_json") from None
            records.append(_truncated(source, row, f"the file ends inside this record ({json_error(exc)})"))
            return records
        records.append(_object_or_error(record, source, row))
        pos = _SPACE.match(text, pos).end()
        if text.startswith(",", pos):
            pos = _SPACE.match(text, pos + 1).end()
        elif text.startswith("]", pos):
            return _after_array(text, pos, source, records)
        elif pos >= len(text):
            records.append(_truncated(source, row + 1, "the file ends here without the closing ']'"))
            return records
        else:
            line, column = _position(text, pos)
            raise RecordError(
                source,
                f"invalid JSON: expecting ',' or ']' after the record at line {line}, column {column}",
                row=row,
                reason="invalid_json",
            )


def _after_array(text: str, pos: int, source: str, records: list[object]) -> list[object]:
    rest = _SPACE.match(text, pos + 1).end()
    if rest < len(text):
        line, column = _position(text, rest)
        raise SchemaError(
            source, f"invalid JSON: extra data after the closing ']' at line {line}, column {column}"
        )
    return records


def _truncated(source: str, row: int, message: str) -> RecordError:
    return RecordError(
        source,
        f"{message}; the {row} record(s) before it are complete (--on-error skip imports them)",
        row=row,
        reason="truncated",
    )


def _position(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _object_or_error(record: object, source: str, row: int) -> object:
    if isinstance(record, dict):
        return record
    kind = "array" if isinstance(record, list) else type(record).__name__
    return RecordError(
        source, f"each record must be a JSON object, got {kind}", row=row, reason="not_an_object"
    )


def _read_json_lines(text: str, source: str) -> list[object]:
    decoder = json.JSONDecoder()
    records: list[object] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        row = len(records)
        try:
            record, end = _decode(decoder, line, _SPACE.match(line).end(), source, row)
            if line[end:].strip():
                raise json.JSONDecodeError("Extra data", line, end)
        except json.JSONDecodeError as exc:
            if row == 0:
                _refuse_single_document(text, source)
            records.append(RecordError(source, json_error(exc, number), row=row, reason="invalid_json"))
        except RecordError as exc:
            records.append(exc)
        else:
            records.append(_object_or_error(record, source, row))
    return records


def _refuse_single_document(text: str, source: str) -> None:
    """A file holding one multi-line JSON value is not JSON Lines; say what it is instead of 'bad line 1'."""
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return
    _nested_records(document, source)
    if isinstance(document, dict):
        keys = ", ".join(sorted(document)[:8])
        raise SchemaError(
            source,
            f"holds a single JSON object (keys: {keys}), not records: expected a JSON array of records "
            "or one record per line (JSON Lines)",
        )
    raise SchemaError(source, f"holds a single JSON {type(document).__name__}, not records")


LOOSE_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet")


def _read_dataset_dir(path: Path) -> list[object]:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        loose = sorted(p.name for p in path.iterdir() if p.suffix.lower() in LOOSE_SUFFIXES)
        if loose:
            shown = " ".join(str(path / name) for name in loose[:3]) + (" ..." if len(loose) > 3 else "")
            raise SchemaError(
                str(path),
                f"a folder of {len(loose)} data file(s), not a dataset saved with save_to_disk: pass the files "
                f"themselves ({shown})",
            ) from exc
        raise SchemaError(str(path), f"not a dataset saved with save_to_disk ({exc})") from exc
    if isinstance(loaded, datasets.DatasetDict):
        records = []
        for name, split in loaded.items():
            hint = "test" if name in TEST_SPLIT_NAMES else "train"
            records += [dict(r, _split=hint) for r in split.to_list()]
        return records
    return loaded.to_list()
