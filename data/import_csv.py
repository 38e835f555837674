"""Reading a CSV file into raw records, row by row: every cell is text (an empty cell is ""), the header's names are
the columns. What cannot be told apart is refused, not guessed: a column named twice, a row of more or fewer cells
than the header, a file saved with semicolons or tabs between cells. (A cell of messages written out as text, which
would be imported as that text, is a bad row: `data.import_readers.read_records`.)"""

from __future__ import annotations

import csv
from pathlib import Path

from data.errors import one_line
from data.import_records import RecordError
from data.schemas import SchemaError


def read_csv(path: Path, source: str, limit: int) -> list[object]:
    """`_csv_records` under a bound of ``limit`` bytes a cell: a longer cell is refused, as a longer JSON line is.
    The csv module counts characters, up to 4 bytes each in UTF-8, so its bound (``limit`` characters) only keeps a
    cell from being read whole past 4 times the bound; `_cell_bytes` holds each cell read to ``limit`` bytes. The
    csv module's bound is the process's: the one before is put back (a later reader of CSV in the process, a
    library's, would else be held to an import's --max-record-bytes)."""
    previous = csv.field_size_limit(limit)
    try:
        return _csv_records(path, source, limit)
    finally:
        csv.field_size_limit(previous)


def _csv_records(path: Path, source: str, limit: int) -> list[object]:
    """A CSV file's rows, each a dict of its cells' text by the header's column names. A line that is blank or
    holds only spaces is no row, as pandas and the JSON Lines reader skip it. A row with more cells than the header
    has columns, some of them not empty, is a `RecordError` of its row (``extra_cells``): pandas took the first
    cells of such a row for an index and read the others into the wrong columns (empty cells past the header's, a
    spreadsheet's trailing commas, are left out: nothing is a guess there). A row with fewer is one too
    (``missing_cells``, `_missing_cells`): which cell is missing is as much a guess."""
    records: list[object] = []
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader, header = csv.reader(handle, strict=True), None
        try:
            rows = (cells for cells in reader if not _blank(cells))
            header = next(rows, None)
            if header is None:
                return []  # an empty file: no records, as an empty JSON Lines file
            refuse_twice([name for name in header if name], source)  # empty ones are named by place
            _refuse_other_separator(header, source)
            _cell_bytes(header, [], source, None, reader.line_num, limit)  # no row: the header is none
            columns = [name or f"Unnamed: {i}" for i, name in enumerate(header)]
            for cells in rows:
                _cell_bytes(cells, columns, source, len(records), reader.line_num, limit)
                past_header = cells[len(columns) :]
                if not any(cell.strip() for cell in past_header):  # a spreadsheet's empty trailing cells
                    cells = cells[: len(columns)]
                if len(cells) > len(columns):
                    message = (
                        f"{len(cells)} cells, but the header names {len(columns)} columns: which cell belongs to "
                        "which column is a guess (quote a cell that holds a comma)"
                    )
                    records.append(RecordError(source, message, row=len(records), reason="extra_cells"))
                elif missing := _missing_cells(cells, header, source, len(records), reader.line_num):
                    records.append(missing)
                else:
                    records.append(dict(zip(columns, cells + [None] * (len(columns) - len(cells)))))
        # an unclosed quote, a cell over the limit: nothing after it can be told apart
        except csv.Error as exc:
            if header is None:  # the header itself: its names quoted between semicolons or tabs?
                _refuse_quoted_separator(path, source)
            problem = f"cannot be read at line {reader.line_num}: {_csv_problem(exc, limit)}"
            raise SchemaError(source, problem, row=None if header is None else len(records)) from exc
    return records


def _cell_bytes(
    cells: list[str], columns: list[str], source: str, row: int | None, line: int, limit: int
) -> None:
    """Refuse the file at a cell over ``limit`` bytes in UTF-8, as the csv module refuses one over ``limit``
    characters (only a cell of more than ``limit // 4`` characters can be one: it alone is encoded)."""
    for i, cell in enumerate(cells):
        if len(cell) > limit // 4 and len(cell.encode("utf-8", "surrogateescape")) > limit:
            field = columns[i] if i < len(columns) else None
            problem = (
                f"cannot be read at line {line}: a cell is longer than --max-record-bytes ({limit} bytes)"
            )
            raise SchemaError(source, problem, row=row, field=field)


def _missing_cells(
    cells: list[str], header: list[str], source: str, row: int, line: int
) -> RecordError | None:
    """A row that ends before a named column of the header (a column whose header cell is empty may go without
    its cell, as empty cells past the header's may be there): a bad row naming the first missing cell."""
    missing = [name for name in header[len(cells) :] if name]
    if not missing:
        return None
    more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
    count = f"{len(cells)} cell{'s' if len(cells) != 1 else ''}"
    message = (
        f"line {line}: the {missing[0]!r} cell is missing{more}: {count}, but the header names "
        f"{len(header)} columns (an empty cell still takes its comma)"
    )
    return RecordError(source, message, row=row, field=missing[0], reason="missing_cells")


def _blank(cells: list[str]) -> bool:
    """A line with no cell, or one cell of spaces only (a trailing line of spaces was a row with no answer)."""
    return not cells or (len(cells) == 1 and not cells[0].strip())


def _csv_problem(exc: csv.Error, limit: int) -> str:
    """What the csv module's error means, in the import's words."""
    if "field limit" in str(exc):
        return f"a cell is longer than --max-record-bytes ({limit} bytes)"
    if "expected after" in str(exc):
        return (
            "a quoted cell has text after its closing quote (quote the whole cell and double the quotes inside it: "
            '"""say"" hi")'
        )
    if "end of data" in str(exc):
        return "the file ends inside a quoted cell (a quote is never closed)"
    return str(exc)


SEPARATORS = ((";", "semicolons"), ("\t", "tabs"))


def _refuse_other_separator(header: list[str], source: str) -> None:
    """A header of one column whose name holds semicolons or tabs: a file saved with another separator (a
    spreadsheet's, where a comma is the decimal mark) was "unknown record format (keys: prompt;chosen;rejected)"."""
    for sep, name in SEPARATORS if len(header) == 1 else ():
        if sep in header[0].strip(sep):
            raise _separated(f"the header is one column, {one_line(repr(header[0]))}", name, source)


def _refuse_quoted_separator(path: Path, source: str) -> None:
    """A header the comma reader cannot read that reads as several cells with semicolons or tabs between them, its
    names quoted (`"prompt";"chosen"`: a spreadsheet's "quote all text cells", pandas' ``quoting=QUOTE_ALL``): refused
    as `_refuse_other_separator` refuses one unquoted, not as text after a cell's closing quote."""
    for sep, name in SEPARATORS:
        with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
            try:
                header = next(
                    (c for c in csv.reader(handle, delimiter=sep, strict=True) if not _blank(c)), []
                )
            except csv.Error:
                continue
        if len(header) > 1:
            raise _separated(
                f"the header's quoted names, {one_line(', '.join(map(repr, header)))}", name, source
            )


def _separated(header: str, name: str, source: str) -> SchemaError:
    return SchemaError(
        source,
        f"{header}: its names look separated by {name}, and a CSV file is read with commas between cells: save it "
        "comma-separated (or as JSON Lines or Parquet)",
    )


def refuse_twice(columns: list, source: str) -> None:
    """A column named twice is a key given twice, as in a JSON object: which to keep is a guess."""
    twice = next((c for i, c in enumerate(columns) if c in columns[:i]), None)
    if twice is not None:
        raise SchemaError(source, f"column {twice!r} appears twice (which to keep is a guess)")
