"""JSON arrays of import records, parsed one element at a time in bounded memory (``data.import_readers`` picks the
reader by the file's first character).

A syntax error names its row, line and column; a file cut off mid-array (no closing `]`) yields its complete records
and then one `truncated` problem in place of the rest. A record over the byte bound, nested too deeply or with a key
twice is passed over without being parsed (``JsonText.skip``) and becomes a ``RecordError`` of its row.
"""

from __future__ import annotations

import codecs
import json
import re

from data.import_records import (
    CONVERSATION,
    SPACE,
    RecordError,
    decode_value,
    is_messages,
    object_or_error,
)
from data.schemas import SchemaError

_IN_STRING, _STRUCTURE = re.compile(r'["\\]'), re.compile(r'["\[\]{},]')
CHUNK = 2**20


class JsonText:
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
        """The file's first character that is not blank space ("" for none), the blank space before it dropped."""
        pos = self.space(0)  # before `self.text` is read: it drops what it passes
        return self.text[pos : pos + 1]

    def drop(self, pos: int) -> int:
        """Forget the text before ``pos``; the same place's new index (0)."""
        head = self.text[:pos]
        newlines = head.count("\n")
        self.lines += newlines
        self.column = len(head) - head.rfind("\n") - 1 if newlines else self.column + len(head)
        self.text = self.text[pos:]
        return 0

    def space(self, pos: int) -> int:
        """The index of the next non-blank character (reading on as needed); len(text) at the end of the file.
        Blank space read on is dropped (its lines counted), so no run of it is held whole: a file led by gigabytes
        of it (or an array spaced so) was read into memory whole, whatever --max-record-bytes said."""
        while True:
            pos = SPACE.match(self.text, pos).end()
            if pos < len(self.text):
                return pos
            pos = self.drop(pos)
            if not self.more():
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


def one_value_too_large(handle, source: str, limit: int) -> RecordError | None:
    """Where the file ``handle`` holds (from the start of its text: after a byte order mark) one JSON object over
    several lines and nothing after it, but more than ``limit`` bytes, too many to read whole: its one row, too large
    (`too_large`, naming its lines), found without parsing it (`JsonText.skip`, in bounded memory), not an
    "invalid JSON" row for each of its lines. None where the file is no such object (its first line a bad record
    of JSON Lines, more after it, or never closed). The position of ``handle`` is kept."""
    where = handle.tell()
    try:
        handle.seek(0)
        text = JsonText(handle, limit)
        start = text.space(0)
        if text.text[start : start + 1] != "{":
            return None
        end = text.skip(start)
        closed = text.text[end - 1 : end] == "}"  # else the file ended first: skip dropped what it read
        last, _ = text.position(end)
        if not closed or text.space(end) < len(text.text):
            return None
    finally:
        handle.seek(where)
    message = (
        f"one record over lines 1 to {last}, more than --max-record-bytes ({limit} bytes), or broken JSON: pass a "
        "larger --max-record-bytes to read it"
    )
    return RecordError(source, message, row=0, reason="too_large")


def _too_large(source: str, row: int, limit: int) -> RecordError:
    return RecordError(
        source, f"record over --max-record-bytes ({limit} bytes), or broken JSON", row=row, reason="too_large"
    )


def _bytes(text: str) -> int:
    """``text``'s length in the file: its UTF-8 bytes (a byte that was no UTF-8 kept as it was read)."""
    return len(text.encode("utf-8", "surrogateescape"))


def _next_value(text: JsonText, source: str, row: int) -> tuple[object, int]:
    """The JSON value at the start of ``text`` (reading on until it is complete): (value, end). A value that
    cannot be read (too large, too deep, a duplicate key) raises RecordError with ``end`` past it. Too large: over
    ``limit`` bytes in UTF-8, as a JSON line is counted (one of more than ``limit`` characters is refused unread;
    only one of more than a quarter of them can be over in bytes: it alone is encoded, as a CSV cell is)."""
    while True:
        try:
            value, end = decode_value(text.text, 0, source, row)
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
        if end > text.limit or (end > text.limit // 4 and _bytes(text.text[:end]) > text.limit):
            error = _too_large(source, row, text.limit)
            error.end = end
            raise error
        if end < len(text.text) or not text.more():  # a number at the end of what is read may go on
            return value, end


def read_json_array(text: JsonText, source: str) -> list[object]:
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
            records.append(object_or_error(record, source, row, lines=False))
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


def _after_array(text: JsonText, pos: int, source: str, records: list[object]) -> list[object]:
    closed, _ = text.position(pos)
    rest = text.space(pos + 1)
    if rest < len(text.text):
        line, column = text.position(rest)
        # records after a pretty-printed array: two files joined (cat a.json b.jsonl), which is which a guess; an
        # array of messages is a conversation, one a line (JSON Lines of bare message lists), not an array of records
        messages = is_messages(records)
        if text.text[rest] in "{[" and not messages:
            raise SchemaError(
                source,
                f"invalid JSON: more records at line {line}, column {column} after the JSON array that ends at line "
                f"{closed}: a file holds one JSON array or JSON Lines (a record a line), not both; write the "
                "array's records a line each (jq -c '.[]') above the lines, or the lines into the array",
            )
        hint = f" (the array holds messages: {CONVERSATION})" if messages else ""
        raise SchemaError(
            source, f"invalid JSON: extra data after the closing ']' at line {line}, column {column}{hint}"
        )
    return records


def _truncated(source: str, row: int, message: str) -> RecordError:
    return RecordError(
        source,
        f"{message}; {'the record' if row == 1 else f'the {row} records'} before it {'is' if row == 1 else 'are'} complete",
        row=row,
        reason="truncated",
    )


def _position(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1
