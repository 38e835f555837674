"""Reading an import file into raw records, row by row, so that a bad record is reported (or skipped) by its row.

- JSON arrays (a file of any suffix starting with `[`, but for JSON Lines whose first line is a whole value with
  lines after it: rows that are arrays) are parsed one element at a time (``data.json_array``), so a
  syntax error or a cut-off tail is a problem of its row.
- JSON Lines: one record per non-blank line; a bad line is a problem of its row, the other rows still read. A
  file holding one object over several lines is that one record, as on one line (`_single_document`).
- CSV (`data.import_csv`: every cell text; an empty cell is ""), Parquet, and `datasets.save_to_disk` folders.
Text is UTF-8 with or without a BOM (skipped before any record is bounded). An invalid byte is kept as a lone
surrogate (``surrogateescape``) and reported later by the row and field that hold it (`import_text.clean_text`), not
as a byte offset into the file.

A row that cannot be read becomes a ``RecordError`` (``data.import_records``) in the returned list; errors that leave
no row to blame (an unreadable file, a syntax error inside an array, which leaves nothing after it readable) are
raised.
"""

from __future__ import annotations

import codecs
import itertools
import json
import re
import shlex
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import pyarrow.parquet as pq

from data.errors import PrefloopError, counted, cut_name, names_shown, one_line
from data.import_csv import read_csv, refuse_twice
from data.import_formats import TEXT_COLUMNS
from data.import_records import (
    CSV_REMEDY,
    ENCODED_REMEDY,
    SPACE,
    RecordError,
    decode_value,
    json_error,
    messages_as_text,
    object_or_error,
)
from data.json_array import CHUNK, JsonText, one_value_too_large, read_json_array
from data.schemas import SchemaError

JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")  # other suffixes are read as JSON too, when they look like it
TEST_SPLIT_NAMES = ("test", "testing", "validation", "valid", "val", "eval", "evaluation", "dev", "heldout")
# `dev`: GLUE's and many a paper's held-out; `held_out` / `held-out` read as `heldout` (split_of)
MAX_RECORD_BYTES = (
    64 * 2**20
)  # --max-record-bytes: a longer record or line is refused before it is read whole
# --max-record-bytes at most: a bound past any memory (a larger one, past 2**63, overflowed the reads' and the csv
# module's C integers, a traceback)
RECORD_BYTES_BOUND = 2**40


class SplitRow(dict):
    """A row of a `datasets` folder's split: the split its folder gives it travels beside its keys (``split``), so
    no column of the row (a user's own ``_split`` among them) is taken for it."""

    def __init__(self, row: dict, split: str):
        super().__init__(row)
        self.split = split


def refuse_split_flags(files: Sequence[Path], given: Sequence[str]) -> None:
    """Refuse ``--split`` or ``--test-fraction`` (``given``: their option names) where every file is a `datasets`
    folder of splits: its rows keep their split's (`split_of`), so the flag would do nothing, without a word."""
    folders = [path for path in files if (Path(path) / "dataset_dict.json").is_file()]
    if given and folders and len(folders) == len(files):
        raise PrefloopError(
            f"--{given[0].replace('_', '-')} does not go with {one_line(str(folders[0]))}: a datasets folder's rows "
            f"keep their split's (test where a word of its name is {', '.join(TEST_SPLIT_NAMES).replace('heldout', 'held-out')}; else train); "
            "leave it out"
        )


def read_records(
    path: Path, max_record_bytes: int = MAX_RECORD_BYTES, written_messages: bool = True
) -> list[object]:
    """The rows of a data file or a `datasets.save_to_disk` folder: a dict per record, a RecordError per bad row
    (with ``written_messages``, one holding messages written out as text where a format reads text among them:
    `messages_as_text`)."""
    rows = _read_rows(path, max_record_bytes)
    if not written_messages:
        return rows
    # a CSV cell is text; a JSON or Parquet string of messages was encoded twice
    remedy = CSV_REMEDY if path.suffix.lower() == ".csv" and path.is_file() else ENCODED_REMEDY
    return [
        messages_as_text(row, str(path), number, remedy, TEXT_COLUMNS) or row
        if isinstance(row, dict)
        else row
        for number, row in enumerate(rows)
    ]


def _read_rows(path: Path, max_record_bytes: int) -> list[object]:
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
        if suffix != ".parquet":
            _refuse_wide_unicode(path)
        if suffix == ".parquet":
            refuse_twice(pq.read_schema(path).names, str(path))
            return pq.read_table(path).to_pylist()
        if suffix == ".csv":
            return read_csv(path, str(path), max_record_bytes)
        with open(path, "rb") as handle:
            text = JsonText(handle, max_record_bytes)
            first = text.first_char()
            # a .tsv was "row 0: invalid JSON"
            if first not in ("[", "{", "") and suffix not in JSON_SUFFIXES:
                raise SchemaError(
                    str(path),
                    f"not a format this reads: a {suffix or 'suffix-less'} file is read as JSON or JSON Lines, and "
                    "this one starts with neither [ nor {; import JSON, JSON Lines, CSV (.csv) or Parquet (.parquet)",
                )
            # a .jsonl too: JSON Lines start with a record, an object, never [ ("row 0: ... got array"), but for
            # rows that are arrays, each a bad row of its own
            lines = (
                suffix in (".jsonl", ".ndjson")
                and first == "["
                and _lines_of_values(handle, max_record_bytes)
            )
            if first == "[" and not lines:
                return read_json_array(text, str(path))
            if first == "{" and suffix != ".jsonl":
                _refuse_nested(_whole(handle, max_record_bytes), str(path))
            return _read_json_lines(handle, str(path), max_record_bytes)
    except SchemaError:
        raise
    except (OSError, ValueError) as exc:
        raise SchemaError(str(path), f"cannot be read: {exc}") from exc


# a byte order mark of UTF-32 is checked before UTF-16's, whose little-endian mark begins UTF-32's
WIDE_UNICODE_MARKS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def _refuse_wide_unicode(path: Path) -> None:
    """Refuse a text file saved as UTF-16 or UTF-32 (Windows PowerShell's `>` writes UTF-16), told by its byte order
    mark: read as UTF-8, it was "row 0: invalid JSON: expecting value", or a CSV header of NUL-spaced names."""
    with open(path, "rb") as handle:
        start = handle.read(4)
    for mark, encoding in WIDE_UNICODE_MARKS:
        if start.startswith(mark):
            raise SchemaError(
                str(path),
                f"the file is {encoding} (it starts with a {encoding} byte order mark), not UTF-8: save it as UTF-8",
            )


def _whole(handle, limit: int) -> str | None:
    """The whole file's text when it fits in ``limit`` bytes (the position kept), else None."""
    where = handle.tell()
    _to_text_start(handle)
    data = handle.read(limit + 1)
    handle.seek(where)
    return data.decode("utf-8", errors="surrogateescape") if len(data) <= limit else None


def _to_text_start(handle: BinaryIO) -> None:
    """Put ``handle`` at the start of its text: past a UTF-8 byte order mark, which is no byte of the first record
    (a record of exactly --max-record-bytes was refused in a file starting with one)."""
    handle.seek(0)
    if handle.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
        handle.seek(0)


def _refuse_nested(text: str | None, source: str) -> None:
    """A file holding one object whose only value is the list of records (``{"data": [...]}``): say so."""
    if text is None:
        return
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):  # ValueError: a syntax error, or an integer too long for `int`
        return  # JSON lines, or broken: read line by line, where a bad line is an error of its row
    _nested_records(document, source)


def _nested_records(document: object, source: str) -> None:
    if isinstance(document, dict) and len(document) == 1:
        key, value = next(iter(document.items()))
        rows = isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
        # a conversation's messages (OpenAI's role, ShareGPT's from) are one record
        if rows and not any("role" in v or "from" in v for v in value):
            raise SchemaError(
                source,
                f"the records are nested under one key {_quoted(key)} ({len(value)} records): import the list itself, "
                f"e.g. jq {_jq(key)} {shlex.quote(source)} > records.json",
            )


def _quoted(key: str) -> str:
    """A key as JSON writes it (cut where long): `my "rows"` was said "my "rows"", its own quotes unescaped."""
    return json.dumps(cut_name(key), ensure_ascii=False)


def _jq(key: str, then: str = "") -> str:
    """The jq filter taking out the value of ``key`` (then ``then``), quoted for a shell: a key with a quote in it
    (`user's rows`) left the suggested command's quote open."""
    return shlex.quote(f".[{json.dumps(key, ensure_ascii=False)}]{then}")


def refuse_wrapper(document: dict, source: str, fits: Callable[[dict], bool]) -> None:
    """A file of one object that fits no record format (``fits``: whether an object does, `data.imports`) but holds
    what looks like the records under a key: a list of texts (``{"prompts": ["a", "b"]}``), a list of objects
    beside other keys (``{"version": 1, "data": [...]}``; under one key alone, `_nested_records` refused it as it
    was read), or one record (``{"data": {"prompt": ...}}``). Each was "row 0: unknown record format"; one line
    says what the file holds and how to take the records out."""
    keys = names_shown(sorted(document), 8)
    for key, value in document.items():
        said = f"one JSON object that is no record (keys: {keys}): {_quoted(key)}"
        if isinstance(value, dict) and fits(value):
            raise SchemaError(
                source,
                f"{said} holds a record nested in it: import it, e.g. jq {_jq(key)} {shlex.quote(source)} > record.json",
            )
        if not isinstance(value, list) or not value:
            continue
        if all(isinstance(v, str) for v in value):
            raise SchemaError(
                source,
                f"{said} holds {counted(len(value), 'text')}, not records (a prompt record is "
                f'{{"prompt": TEXT}}, one a line or in a JSON list), e.g. jq -c {_jq(key, "[] | {prompt: .}")} '
                f"{shlex.quote(source)} > prompts.jsonl",
            )
        if all(isinstance(v, dict) for v in value) and not any("role" in v or "from" in v for v in value):
            raise SchemaError(
                source,
                f"{said} holds {counted(len(value), 'record')} nested in it: import the list itself, e.g. "
                f"jq {_jq(key)} {shlex.quote(source)} > records.json",
            )


def bounded_lines(handle: BinaryIO, limit: int) -> Iterator[bytes | None]:
    """The lines of the open file ``handle`` (with their line break), each read only if it fits in ``limit`` bytes,
    its line break (LF or CRLF) not counted: a longer one is read past in chunks, never held whole, and given as
    None, or as a blank line where it holds blank space alone (no record: one over the bound was a too_large row)."""
    while raw := handle.readline(limit + 1):
        if len(raw) > limit and not raw.endswith(b"\n"):
            blank = not raw.strip()
            if raw.endswith(b"\r"):  # the CR of a CRLF, or a byte of a line over the bound
                after = handle.readline(1)
                if after in (b"\n", b""):  # its LF, or the end of the file
                    yield raw + after
                    continue
                raw = after
            while raw and not raw.endswith(b"\n"):
                blank = blank and not raw.strip()
                raw = handle.readline(CHUNK)
            yield b"\n" if blank and not raw.strip() else None
            continue
        yield raw


def _lines(handle, limit: int):
    """The file's lines (without the line break), from the start of its text (`_to_text_start`), each read only if
    it fits in ``limit`` bytes: a longer one is read past in chunks and given as None."""
    _to_text_start(handle)
    for raw in bounded_lines(handle, limit):
        yield None if raw is None else raw.decode("utf-8", errors="surrogateescape").rstrip("\r\n")


def _lines_of_values(handle, limit: int) -> bool:
    """Whether a JSON Lines file that starts with `[` is JSON Lines all the same: its first line a whole JSON value
    (a row that is an array: `not_an_object`) with lines after it, not a JSON array on one line or over several
    (which reads as "extra data after the closing ']'", the whole file refused). The position is kept."""
    where = handle.tell()
    try:
        lines = (line for line in _lines(handle, limit) if line is None or line.strip())
        first, *after = itertools.islice(lines, 2)
        if first is None or not after:
            return False
        _, end = decode_value(first, SPACE.match(first).end(), "", 0)
        return not first[end:].strip()
    except (json.JSONDecodeError, RecordError):
        return False
    finally:
        handle.seek(where)


PRETTY_HINT = (
    "a record over several lines: JSON Lines hold one record a line; write each on one line, or the records as one "
    "JSON array"
)


def _read_json_lines(handle, source: str, limit: int) -> list[object]:
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
            record, end = decode_value(line, SPACE.match(line).end(), source, row)
            if line[end:].strip():
                raise json.JSONDecodeError("Extra data", line, end)
        except json.JSONDecodeError as exc:
            if row == 0 and (single := _single_document(handle, source, limit)) is not None:
                return single
            message = json_error(exc, number)
            if line.startswith(codecs.BOM_UTF8.decode()):  # `cat a.jsonl b.jsonl`, b saved with one
                message = f"line {number} starts with a byte order mark (files joined with cat?): {strip_mark(source)}"
            elif line.strip() == "{":  # `json.dump(record, indent=2)` per record: the line was all it said
                message += f" ({PRETTY_HINT})"
            records.append(RecordError(source, message, row=row, reason="invalid_json"))
        except RecordError as exc:
            records.append(exc)
        else:
            records.append(object_or_error(record, source, row))
    # a .jsonl's one line is not looked at before (`_refuse_nested`): refused as it is over several lines
    if len(records) == 1:
        _nested_records(records[0], source)
    return records


def strip_mark(source: str) -> str:
    """How to take out the byte order marks that start lines of the file ``source`` (GNU sed)."""
    return f"strip it, e.g. sed -i 's/^\\xEF\\xBB\\xBF//' {shlex.quote(source)}"


def _single_document(handle, source: str, limit: int) -> list[object] | None:
    """A file holding one JSON value over several lines is not JSON Lines. One object is one record (row 0), as
    the same object on one line is, a JSON Lines file of one record, and is too large as one (not invalid JSON)
    over --max-record-bytes (`one_value_too_large`); records nested under one key are refused with a hint, as is any
    other value. None where the file is no such value (a bad line 1 of JSON Lines)."""
    text = _whole(handle, limit)
    if text is None:
        too_large = one_value_too_large(handle, source, limit)
        return None if too_large is None else [too_large]
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    _nested_records(document, source)
    if isinstance(document, dict):
        try:  # read again as a line is: a key twice, say, is an error of the row
            record, _ = decode_value(text, SPACE.match(text).end(), source, 0)
        except RecordError as exc:
            return [exc]
        return [record]
    if document is not None:
        raise SchemaError(source, f"holds a single JSON {type(document).__name__}, not records")
    return None


LOOSE_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet")


def split_of(name: str) -> str:
    """The split of a `datasets` folder's split ``name``: test where one of its words is a held-out name
    (``test``, ``validation``, ``test_prefs`` as UltraFeedback's, ``eval-2``, ``held_out``), else train (``train_sft``)."""
    return "test" if split_words(name) & set(TEST_SPLIT_NAMES) else "train"


def split_words(name: str) -> set[str]:
    """The words of a split's name, lower case (``held_out`` and ``held-out`` read as ``heldout``)."""
    return set(re.split(r"[^a-z]+", re.sub(r"held[^a-z]*out", "heldout", name.lower())))


def _read_dataset_dir(path: Path) -> list[object]:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        loose = sorted(p.name for p in path.iterdir() if p.suffix.lower() in LOOSE_SUFFIXES)
        if loose:
            # quoted as a shell needs them (a name with spaces was shown as two), to paste into the command
            shown = " ".join(shlex.quote(str(path / name)) for name in loose[:3])
            shown += " ..." if len(loose) > 3 else ""
            raise SchemaError(
                str(path),
                f"a folder of {counted(len(loose), 'data file')}, not a dataset saved with save_to_disk: pass the files "
                f"themselves ({shown})",
            ) from exc
        raise SchemaError(str(path), f"not a dataset saved with save_to_disk ({exc})") from exc
    if isinstance(loaded, datasets.DatasetDict):
        records = []
        for name, split in loaded.items():
            hint = split_of(name)
            records += [SplitRow(r, hint) for r in split.to_list()]
        return records
    return loaded.to_list()
