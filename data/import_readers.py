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

import codecs
import json
import re
import stat
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from data.schemas import SchemaError

TEST_SPLIT_NAMES = ("test", "validation", "valid", "eval")
_SPACE = re.compile(r"\s*")
_IN_STRING, _STRUCTURE = re.compile(r'["\\]'), re.compile(r'["\[\]{},]')
MAX_RECORD_BYTES = (
    64 * 2**20
)  # --max-record-bytes: a longer record or line is refused before it is read whole
CHUNK = 2**20


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


def read_records(path: Path, max_record_bytes: int = MAX_RECORD_BYTES) -> list[object]:
    """The rows of a data file or a `datasets.save_to_disk` folder: a dict per record, a RecordError per bad row."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SchemaError(str(path), "file not found") from None
    except OSError as exc:
        raise SchemaError(str(path), f"cannot be read: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        return _read_dataset_dir(path)
    if not stat.S_ISREG(mode):  # /dev/zero would never end, a FIFO without a writer never starts
        raise SchemaError(str(path), "not a regular file (a device, FIFO or socket): import a file")
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
        with open(path, "rb") as handle:
            text = _Text(handle, max_record_bytes)
            first = text.first_char() if suffix != ".jsonl" else ""
            if first == "[":
                return _read_json_array(text, str(path))
            if first == "{":
                _refuse_nested(_whole(handle, max_record_bytes), str(path))
            return _read_json_lines(handle, str(path), max_record_bytes)
    except SchemaError:
        raise
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise SchemaError(str(path), f"cannot be read: {exc}") from exc


def _whole(handle, limit: int) -> str | None:
    """The whole file's text when it fits in ``limit`` bytes (the position kept), else None."""
    where = handle.tell()
    handle.seek(0)
    data = handle.read(limit + 1)
    handle.seek(where)
    return data.decode("utf-8-sig", errors="surrogateescape") if len(data) <= limit else None


def _refuse_nested(text: str | None, source: str) -> None:
    """A file holding one object whose only value is the list of records (``{"data": [...]}``): say so."""
    if text is None:
        return
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


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        raise _DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return record


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates)
_PLAIN = json.JSONDecoder()


def _decode(text: str, pos: int, source: str, row: int) -> tuple[object, int]:
    """One JSON value at ``pos``: (value, end). A value nested too deeply, or an object with a key twice, is a
    RecordError of the row (in an array, the caller finds the value's end with ``_Text.skip``)."""
    try:
        return _DECODER.raw_decode(text, pos)
    except RecursionError:
        error = RecordError(source, "JSON nested too deeply to read", row=row, reason="too_deep")
    except _DuplicateKey as exc:
        message = f"key {exc.key!r} appears twice in one object (which to keep is a guess)"
        error = RecordError(source, message, row=row, field=exc.key, reason="duplicate_key")
    raise error


class _Text:
    """A JSON file's text, read in growing chunks as the parser asks; text before the record being read is
    dropped (its line count kept), so at most about one record (bounded by ``limit``) is held."""

    def __init__(self, handle, limit: int):
        self.handle, self.limit = handle, limit
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="surrogateescape")
        self.text, self.eof, self.lines, self.column = "", False, 0, 0

    def more(self) -> bool:
        """Read more (as much again as is held, at least 1 MiB); False at the end of the file."""
        if self.eof:
            return False
        chunk = self.handle.read(max(CHUNK, len(self.text)))
        self.text += self.decoder.decode(chunk, final=not chunk)
        self.eof = not chunk
        return True

    def first_char(self) -> str:
        while not self.text.strip() and self.more():
            pass
        return self.text.lstrip()[:1]

    def drop(self, pos: int) -> int:
        """Forget the text before ``pos``; the same place's new index (0)."""
        head = self.text[:pos]
        newlines = head.count("\n")
        self.lines += newlines
        self.column = len(head) - head.rfind("\n") - 1 if newlines else self.column + len(head)
        self.text = self.text[pos:]
        return 0

    def space(self, pos: int) -> int:
        """The index of the next non-blank character (reading on as needed); len(text) at the end of the file."""
        while True:
            pos = _SPACE.match(self.text, pos).end()
            if pos < len(self.text) or not self.more():
                return pos

    def position(self, pos: int) -> tuple[int, int]:
        line, column = _position(self.text, pos)
        return self.lines + line, column + (self.column if line == 1 else 0)

    def error(self, exc: json.JSONDecodeError, pos: int) -> str:
        line, column = self.position(exc.pos)
        message = exc.msg[:1].lower() + exc.msg[1:]
        return (
            f"invalid JSON: {message}{'' if message.endswith(' at') else ' at'} line {line}, column {column}"
        )

    def skip(self, pos: int) -> int:
        """The index just past the JSON value at ``pos``, found without parsing it (strings and brackets only)
        and dropping text on the way, so a value too large or too deep to read is passed over in bounded memory;
        len(text) when the file ends first."""
        depth, in_string = 0, False
        while True:
            found = (_IN_STRING if in_string else _STRUCTURE).search(self.text, pos)
            if found is None or (found.group() == "\\" and found.end() >= len(self.text)):
                pos = self.drop(len(self.text) if found is None else found.start())
                if not self.more():
                    return len(self.text)
                continue
            char, pos = found.group(), found.end()
            if in_string:
                if char == "\\":
                    pos += 1
                elif depth == 0:
                    return pos
                else:
                    in_string = False
            elif char == '"':
                in_string = True
            elif char in "[{":
                depth += 1
            elif char in "]}" and depth > 1:
                depth -= 1
            elif char in "]}":
                return pos if depth else found.start()
            elif depth == 0:  # a comma after a number, true, false or null
                return found.start()


def _too_large(source: str, row: int, limit: int) -> RecordError:
    return RecordError(
        source, f"record over --max-record-bytes ({limit} bytes), or broken JSON", row=row, reason="too_large"
    )


def _next_value(text: _Text, source: str, row: int) -> tuple[object, int]:
    """The JSON value at the start of ``text`` (reading on until it is complete): (value, end). A value that
    cannot be read (too large, too deep, a duplicate key) raises RecordError with ``end`` past it."""
    while True:
        try:
            value, end = _decode(text.text, 0, source, row)
        except json.JSONDecodeError:
            if len(text.text) > text.limit and not text.eof:
                error = _too_large(source, row, text.limit)
                error.end = text.skip(0)
                raise error from None
            if not text.more():
                raise
            continue
        except RecordError as error:
            error.end = text.skip(0)
            raise
        if end > text.limit:
            error = _too_large(source, row, text.limit)
            error.end = end
            raise error
        if end < len(text.text) or not text.more():  # a number at the end of what is read may go on
            return value, end


def _read_json_array(text: _Text, source: str) -> list[object]:
    records: list[object] = []
    pos = text.space(text.text.index("[") + 1)
    if text.text.startswith("]", pos):
        return _after_array(text, pos, source, records)
    while True:
        row = len(records)
        text.drop(pos)
        try:
            record, pos = _next_value(text, source, row)
        except json.JSONDecodeError as exc:
            if text.text.rstrip().endswith(
                "]"
            ):  # complete file, broken record: nothing after it can be trusted
                raise RecordError(source, text.error(exc, 0), row=row, reason="invalid_json") from None
            message = f"the file ends inside this record ({text.error(exc, 0)})"
            records.append(_truncated(source, row, message))
            return records
        except RecordError as exc:
            records.append(exc)
            pos = exc.end
        else:
            records.append(_object_or_error(record, source, row))
        pos = text.space(pos)
        if text.text.startswith(",", pos):
            pos = text.space(pos + 1)
        elif text.text.startswith("]", pos):
            return _after_array(text, pos, source, records)
        elif pos >= len(text.text):
            records.append(_truncated(source, row + 1, "the file ends here without the closing ']'"))
            return records
        else:
            line, column = text.position(pos)
            raise RecordError(
                source,
                f"invalid JSON: expecting ',' or ']' after the record at line {line}, column {column}",
                row=row,
                reason="invalid_json",
            )


def _after_array(text: _Text, pos: int, source: str, records: list[object]) -> list[object]:
    rest = text.space(pos + 1)
    if rest < len(text.text):
        line, column = text.position(rest)
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


def _lines(handle, limit: int):
    """The file's lines (without the line break), each read only if it fits in ``limit`` bytes: a longer one is
    read past in chunks and given as None."""
    first = True
    while raw := handle.readline(limit + 1):
        if len(raw) > limit and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = handle.readline(CHUNK)
            yield None
            continue
        yield raw.decode("utf-8-sig" if first else "utf-8", errors="surrogateescape").rstrip("\r\n")
        first = False


def _read_json_lines(handle, source: str, limit: int) -> list[object]:
    handle.seek(0)
    records: list[object] = []
    for number, line in enumerate(_lines(handle, limit), start=1):
        row = len(records)
        if line is None:
            message = f"line {number} is longer than --max-record-bytes ({limit} bytes)"
            records.append(RecordError(source, message, row=row, reason="too_large"))
            continue
        if not line.strip():
            continue
        try:
            record, end = _decode(line, _SPACE.match(line).end(), source, row)
            if line[end:].strip():
                raise json.JSONDecodeError("Extra data", line, end)
        except json.JSONDecodeError as exc:
            if row == 0:
                _refuse_single_document(handle, source, limit)
            records.append(RecordError(source, json_error(exc, number), row=row, reason="invalid_json"))
        except RecordError as exc:
            records.append(exc)
        else:
            records.append(_object_or_error(record, source, row))
    return records


def _refuse_single_document(handle, source: str, limit: int) -> None:
    """A file holding one multi-line JSON value is not JSON Lines; say what it is instead of 'bad line 1'."""
    text = _whole(handle, limit)
    try:
        document = json.loads(text) if text is not None else None
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
    if document is not None:
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
