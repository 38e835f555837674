"""Input bounds of `python -m data import`: a device, FIFO or socket is refused in one line; a record or line over
--max-record-bytes is refused (or skipped) without being read whole; a too-deep element inside a JSON array, a
duplicate key and a NUL character are refused naming row and field, or skipped with --on-error skip."""

from __future__ import annotations

import csv
import json
import os
import socket

import pytest

from data import import_readers, json_array
from data.__main__ import main
from tests.test_data_import_errors import BAD_INPUTS, GOOD, digest, error_lines, jsonl


@pytest.fixture()
def ws(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_bytes(jsonl(GOOD))
    assert main(["import", "-w", str(tmp_path / "ws"), str(good)]) == 0
    return tmp_path / "ws"


def test_devices_fifos_and_sockets_are_refused_in_one_line(ws, tmp_path, capsys):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)  # no writer: opening it for reading would block forever
    sock_path = tmp_path / "s.jsonl"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        for path in ("/dev/zero", fifo, sock_path):
            capsys.readouterr()
            assert main(["import", "-w", str(ws), str(path)]) == 2
            assert error_lines(capsys) == [
                f"error: {path}: not a regular file (a device, FIFO or socket): import a file"
            ]


def small_chunks(monkeypatch, chunk: int) -> None:
    """Read JSON arrays ``chunk`` characters at a time, and long lines past in ``chunk``-byte reads."""
    for module in (import_readers, json_array):  # one constant, imported by the line reader
        monkeypatch.setattr(module, "CHUNK", chunk)


def big(i: int, size: int) -> dict:
    return {"prompt": f"big {i}", "chosen": "x" * size, "rejected": "no"}


@pytest.mark.parametrize("chunk", [7, 2**20])
@pytest.mark.parametrize("suffix", ["jsonl", "json"])
def test_a_record_over_max_record_bytes_is_refused_or_skipped(
    ws, tmp_path, capsys, monkeypatch, suffix, chunk
):
    small_chunks(monkeypatch, chunk)  # 7: the array is read a few characters at a time
    records = [{"prompt": "a", "chosen": "b", "rejected": "c"}, big(1, 5000), GOOD, big(3, 300)]
    path = tmp_path / f"big.{suffix}"
    path.write_bytes(jsonl(*records) if suffix == "jsonl" else json.dumps(records).encode())
    before = digest(ws)
    limit = ["--max-record-bytes", "1000"]
    assert main(["import", "-w", str(ws), str(path), *limit]) == 2
    what = (
        "line 2 is longer than --max-record-bytes (1000 bytes)"
        if suffix == "jsonl"
        else ("record over --max-record-bytes (1000 bytes), or broken JSON")
    )
    assert error_lines(capsys) == [f"error: {path}, row 1: {what}"]
    assert digest(ws) == before
    assert main(["import", "-w", str(ws), str(path), *limit, "--on-error", "skip"]) == 0
    out = capsys.readouterr().out
    assert "records 4" in out and "skipped 1 record (too_large 1)" in out and "new_pairs 3" in out


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_blank_line_over_the_bound_is_no_record(ws, tmp_path, capsys, monkeypatch, newline):
    """A JSON Lines blank line longer than --max-record-bytes was a record, too_large: the file refused (with
    --on-error skip, "records 3; skipped 1 record" of two), where a shorter one is passed over as blank."""
    small_chunks(monkeypatch, 7)  # a long line is read past a few bytes at a time
    records = [json.dumps(GOOD | {"prompt": p}) for p in ("before", "after")]
    path = tmp_path / "spaced.jsonl"
    path.write_bytes(newline.join([records[0], " " * 1000, " \t" * 3000, records[1], ""]).encode())
    assert main(["import", "-w", str(ws), str(path), "--max-record-bytes", "1000"]) == 0
    assert "new_pairs 2, new_prompts 2, records 2" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", ["jsonl", "json"])
def test_blank_space_before_and_between_records_is_never_held_whole(
    ws, tmp_path, capsys, monkeypatch, suffix
):
    """The blank space before a file's first character was read into memory whole (a file led by gigabytes of it
    was held whole, whatever --max-record-bytes said), as was a JSON array's between records: it is dropped as it
    is read, a chunk at a time, and the records after it read as without it."""
    small_chunks(monkeypatch, 64)
    held, more = [], json_array.JsonText.more

    def counting(self):
        read = more(self)
        held.append(len(self.text))
        return read

    monkeypatch.setattr(json_array.JsonText, "more", counting)
    blank = b" \n" * 5000
    body = (
        jsonl(GOOD) if suffix == "jsonl" else b"[" + blank + json.dumps(GOOD).encode() + blank + b"]" + blank
    )
    path = tmp_path / f"spaced.{suffix}"
    path.write_bytes(blank + body)
    assert main(["import", "-w", str(ws), str(path), "--max-record-bytes", "1000"]) == 0
    assert "prompts_already_stored 1" in capsys.readouterr().out
    assert 0 < max(held) < 1000


def test_a_csv_cell_over_max_record_bytes_refuses_the_file_and_leaves_the_csv_modules_bound(
    ws, tmp_path, capsys
):
    """A cell over --max-record-bytes refuses the file in one line naming its row and line. The csv module's bound
    is the whole process's: the import set it to --max-record-bytes and left it so, and every later reader of CSV
    in the process (a library's) was held to the import's bound."""
    bound = csv.field_size_limit()
    path = tmp_path / "big.csv"
    path.write_bytes(b"prompt,chosen,rejected\nq,a,b\nq2," + b"x" * 5000 + b",no\n")
    before = digest(ws)
    assert main(["import", "-w", str(ws), str(path), "--max-record-bytes", "1000"]) == 2
    assert error_lines(capsys) == [
        f"error: {path}, row 1: cannot be read at line 3: a cell is longer than --max-record-bytes (1000 bytes)"
    ]
    assert digest(ws) == before
    assert csv.field_size_limit() == bound


def test_a_csv_cell_over_max_record_bytes_in_multibyte_text_refuses_the_file(ws, tmp_path, capsys):
    """The csv module's bound counts characters: a cell of 600 two-byte characters (1,200 bytes) passed a
    1,000-byte bound, as would one of 4,000 bytes in four-byte ones. The bound holds in bytes, naming the cell."""
    path = tmp_path / "wide.csv"
    at_bound = ("é" * 500).encode()  # 1,000 bytes: within the bound
    path.write_bytes(b"prompt,chosen,rejected\nq," + at_bound + b",b\nq2,a," + ("é" * 600).encode() + b"\n")
    before = digest(ws)
    assert main(["import", "-w", str(ws), str(path), "--max-record-bytes", "1000"]) == 2
    assert error_lines(capsys) == [
        f"error: {path}, row 1, field 'rejected': cannot be read at line 3: a cell is longer than "
        "--max-record-bytes (1000 bytes)"
    ]
    assert digest(ws) == before
    path.write_bytes(b"prompt,chosen,rejected\nq," + at_bound + b",b\n")
    assert main(["import", "-w", str(ws), str(path), "--max-record-bytes", "1000"]) == 0
    # a header cell over the bound, in bytes or in characters, is the header's, not the first row's (row 0)
    for cell in ["é" * 600, "e" * 1001]:
        path.write_bytes(b"prompt,chosen," + cell.encode() + b"\nq,a,b\n")
        assert main(["import", "-w", str(ws), str(path), "--max-record-bytes", "1000"]) == 2
        assert error_lines(capsys) == [
            f"error: {path}: cannot be read at line 1: a cell is longer than --max-record-bytes (1000 bytes)"
        ]


def test_the_reader_never_holds_a_long_line(tmp_path, monkeypatch):
    """A 5 MB line under a 1,000-byte bound: no read asks for more than the bound plus one byte."""
    path = tmp_path / "long.jsonl"
    path.write_bytes(jsonl(GOOD, big(1, 5_000_000), GOOD))
    sizes = []
    real_open = open

    class Watched:
        def __init__(self, handle):
            self.handle = handle

        def readline(self, size=-1):
            sizes.append(size)
            return self.handle.readline(size)

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    monkeypatch.setattr(import_readers, "open", lambda *a: Watched(real_open(*a)), raising=False)
    rows = import_readers.read_records(path, 1000)
    assert [type(r).__name__ for r in rows] == ["dict", "RecordError", "dict"]
    assert 0 < max(sizes) <= 2**20 and all(s > 0 for s in sizes)


@pytest.mark.parametrize("chunk", [7, 2**20])
@pytest.mark.parametrize("end", [b"\n", b"\r\n"])
def test_the_bound_is_on_the_record_not_its_line_break(tmp_path, monkeypatch, end, chunk):
    """A line of a record exactly --max-record-bytes long was read ending in LF and refused ending in CRLF (a file
    saved on Windows): the bound counted the CR. A record of the bound is read, and one a byte longer refused, with
    either line break, mid-file and last."""
    small_chunks(monkeypatch, chunk)
    fits = big(1, 0)
    fits["chosen"] = "x" * (1000 - len(json.dumps(fits)))
    over = big(2, 1000 - len(json.dumps(big(2, 0))) + 1)
    assert [len(json.dumps(r)) for r in (fits, over)] == [1000, 1001]
    path = tmp_path / "bound.jsonl"
    for last in (b"", end):
        lines = [json.dumps(r).encode() for r in (GOOD, fits, over, GOOD, fits)]
        path.write_bytes(end.join(lines) + last)
        rows = import_readers.read_records(path, 1000)
        assert [r if isinstance(r, dict) else r.reason for r in rows] == [GOOD, fits, "too_large", GOOD, fits]


@pytest.mark.parametrize("kind", ["lines", "one object", "array"])
def test_a_byte_order_mark_is_no_byte_of_the_first_record(tmp_path, kind):
    """A UTF-8 byte order mark counted toward the first record's --max-record-bytes in JSON Lines (and a file of one
    object): a first record of exactly the bound was refused (too_large) where the same file without the mark, or an
    array with it, read. Each reads at the bound, with or without the mark, and not a byte under it."""
    fits = big(1, 0)
    fits["chosen"] = "x" * (1000 - len(json.dumps(fits)))
    body = {
        "lines": (json.dumps(fits) + "\n" + json.dumps(GOOD) + "\n").encode(),
        "one object": json.dumps(fits, indent=0).encode(),
        "array": json.dumps([fits, GOOD]).encode(),
    }[kind]
    path = tmp_path / "rows.jsonl"
    bound = 1000 if kind != "one object" else len(body)
    for mark in (b"", b"\xef\xbb\xbf"):
        path.write_bytes(mark + body)
        rows = import_readers.read_records(path, bound)
        assert rows[0] == fits and all(isinstance(row, dict) for row in rows)
        assert not isinstance(import_readers.read_records(path, bound - 1)[0], dict)


def test_remove_counts_a_first_record_an_import_before_refused_for_its_byte_order_mark(
    tmp_path, capsys, monkeypatch
):
    """An import before the BOM was read past left a first record at the bound out (too_large, --on-error skip):
    `--remove` reads it now, found its preference not stored and refused the file, so nothing of it could ever be
    withdrawn. Its rejects file says the import left the row out: counted so, and the rest withdrawn."""
    path, ws = tmp_path / "rows.jsonl", str(tmp_path / "ws")
    path.write_bytes(
        b"\xef\xbb\xbf" + (json.dumps(GOOD) + "\r\n" + json.dumps(GOOD | {"prompt": "q2"})).encode()
    )
    bound = ["--max-record-bytes", str(len(json.dumps(GOOD)) + 2)]  # "q2" is 1 byte more
    with monkeypatch.context() as patch:  # read as the import before the BOM was read past
        patch.setattr("data.import_readers._to_text_start", lambda handle: handle.seek(0))
        assert main(["import", "-w", ws, str(path), *bound, "--on-error", "skip"]) == 0
    assert "skipped 1 record (too_large 1)" in capsys.readouterr().out
    assert main(["import", "-w", ws, "--remove", str(path), *bound]) == 0
    assert capsys.readouterr().out == (
        f"withdrew the labels of {path}: 1 (preferences 1); 1 row skipped at import (too_large), never stored\n"
    )


@pytest.mark.parametrize("chunk", [7, 2**20])
def test_an_arrays_record_is_bounded_in_bytes_as_a_line_is(tmp_path, monkeypatch, chunk):
    """--max-record-bytes bounded a JSON array's record in characters: a record of 1000 characters of text outside
    ASCII (up to 4 bytes each in UTF-8) was read under a bound of 1000 bytes, and the same record refused as a JSON
    line. Both count its bytes: a record of the bound is read, one a byte over refused, in either."""
    small_chunks(monkeypatch, chunk)

    def sized(i: int, size: int) -> dict:  # `size` bytes in UTF-8, most of them two-byte characters
        record = {"prompt": f"p{i}", "chosen": "", "rejected": "no"}
        free = size - len(json.dumps(record).encode())
        record["chosen"] = "é" * (free // 2) + "x" * (free % 2)
        return record

    records = [GOOD, sized(1, 1000), sized(2, 1001), GOOD]
    texts = [json.dumps(r, ensure_ascii=False).encode() for r in records]
    assert [len(t) for t in texts[1:3]] == [1000, 1001] and len(texts[2].decode()) < 600
    for suffix, body in (("json", b"[" + b",".join(texts) + b"]"), ("jsonl", b"\n".join(texts) + b"\n")):
        path = tmp_path / f"wide.{suffix}"
        path.write_bytes(body)
        rows = import_readers.read_records(path, 1000)
        assert [r if isinstance(r, dict) else r.reason for r in rows] == [
            GOOD,
            records[1],
            "too_large",
            GOOD,
        ], suffix


@pytest.mark.parametrize("chunk", [5, 2**20])
def test_a_too_deep_element_a_duplicate_key_and_a_nul_in_an_array(ws, tmp_path, capsys, monkeypatch, chunk):
    small_chunks(monkeypatch, chunk)
    deep = "[" * 100_000 + "]" * 100_000
    nul = json.dumps(dict(GOOD, chosen="a\x00b"))
    text = (
        f'[{json.dumps(GOOD)}, {{"prompt": {deep}}}, {{"prompt": "p", "chosen": "a", "prompt": "q"}},'
        f" {json.dumps(dict(GOOD, prompt='q1'))}, {nul}]"
    )
    path = tmp_path / "mixed.json"
    path.write_text(text)
    assert main(["import", "-w", str(ws), str(path)]) == 2
    assert error_lines(capsys) == [f"error: {path}, row 1: JSON nested too deeply to read"]
    assert main(["import", "-w", str(ws), str(path), "--on-error", "skip"]) == 0
    out = capsys.readouterr().out
    assert "skipped 3 records (duplicate_key 1, nul_character 1, too_deep 1)" in out
    rejects = next((ws / "imports").glob("*-mixed.rejects.jsonl"))
    listed = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["row"], r["field"], r["reason"]) for r in listed] == [
        (1, None, "too_deep"),
        (2, "prompt", "duplicate_key"),
        (4, "chosen", "nul_character"),
    ]
    assert listed[1]["error"] == "key 'prompt' appears twice in one object (which to keep is a guess)"
    assert listed[2]["error"] == "NUL character at character 1"


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
@pytest.mark.parametrize("depth", [600, 900])
def test_an_element_json_reads_but_nested_past_what_the_import_walks_is_a_bad_row(
    ws, tmp_path, capsys, suffix, depth
):
    """json reads a value some hundreds deep that the import's own walks over a row (its nulls left out, a level
    each) cannot: a RecursionError traceback. Deeper than any record (`MAX_DEPTH`) is too deep, a bad row."""
    deep = json.loads("[" * depth + "1" + "]" * depth)
    rows = [GOOD, {"prompt": "q", "completions": ["a", "b", "c"], "ranking": [1, 2, deep]}]
    path = tmp_path / f"deep{suffix}"
    path.write_text("\n".join(map(json.dumps, rows)) if suffix == ".jsonl" else json.dumps(rows))
    assert main(["import", "-w", str(ws), str(path)]) == 2
    assert error_lines(capsys) == [f"error: {path}, row 1: JSON nested too deeply to read"]
    rows.reverse()  # the first row, read for the file's format
    path.write_text("\n".join(map(json.dumps, rows)) if suffix == ".jsonl" else json.dumps(rows))
    assert main(["import", "-w", str(ws), str(path), "--on-error", "skip"]) == 0
    assert "skipped 1 record (too_deep 1)" in capsys.readouterr().out


def test_duplicate_keys_and_nul_in_json_lines_name_row_and_field(ws, tmp_path, capsys):
    path = tmp_path / "dup.jsonl"
    path.write_bytes(jsonl(GOOD) + b'{"prompt": "q", "chosen": "a", "rejected": "b", "chosen": "c"}\n')
    assert main(["import", "-w", str(ws), str(path)]) == 2
    assert error_lines(capsys) == [
        f"error: {path}, row 1, field 'chosen': key 'chosen' appears twice in one object (which to keep is a guess)"
    ]
    path = tmp_path / "nul.csv"
    path.write_bytes(b"prompt,chosen,rejected\nq,a,b\nq2,a\x00,b\n")
    assert main(["import", "-w", str(ws), str(path)]) == 2
    assert error_lines(capsys) == [f"error: {path}, row 1, field 'chosen': NUL character at character 1"]


ARRAYS = [b for b in BAD_INPUTS if b[0].endswith(".json")]


@pytest.mark.parametrize(("name", "content", "extra", "message"), ARRAYS, ids=[b[0] for b in ARRAYS])
def test_array_errors_read_in_small_chunks_say_the_same(
    ws, tmp_path, capsys, monkeypatch, name, content, extra, message
):
    small_chunks(monkeypatch, 3)
    path = tmp_path / name
    path.write_bytes(content)
    assert main(["import", "-w", str(ws), str(path), *extra]) == 2
    assert error_lines(capsys) == [
        f"error: {path}{message.replace('{path}', str(path))}"
    ]  # names the file again


LONG = "9" * 5000  # Python reads at most 4300 digits as an integer (sys.get_int_max_str_digits)


@pytest.mark.parametrize("chunk", [5, 2**20])
@pytest.mark.parametrize("name", ["long.json", "long.jsonl", "lines.json"])
def test_an_integer_too_long_to_read_names_its_row_and_field(ws, tmp_path, capsys, monkeypatch, chunk, name):
    """json's scanner refused the number with a bare ValueError: the whole file "cannot be read". It is an error
    of its row and field, skipped with --on-error skip; the other rows import."""
    small_chunks(monkeypatch, chunk)
    ranked = '{"prompt": "Pick", "completions": ["x", "y", "z"], "ranking": [1, 2, -' + LONG + "]}"
    rated = '{"prompt": "2 + 2?", "response": "4", "ratings": {"helpfulness": ' + LONG + "}}"
    rows = [json.dumps(dict(GOOD, prompt="q1")), ranked, rated]
    path = tmp_path / name
    path.write_text(f"[{', '.join(rows)}]" if name == "long.json" else "\n".join(rows) + "\n")
    assert main(["import", "-w", str(ws), str(path)]) == 2
    said = "an integer of 5000 digits, more than the 4300 Python reads as a number"
    assert error_lines(capsys) == [f"error: {path}, row 1, field 'ranking[2]': {said}"]
    assert main(["import", "-w", str(ws), str(path), "--on-error", "skip"]) == 0
    out = capsys.readouterr().out
    assert "new_prompts 1, records 3; skipped 2 records (long_number 2), listed in" in out, out
    rejects = next((ws / "imports").glob(f"*-{path.stem}.rejects.jsonl"))
    listed = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["row"], r["field"], r["reason"]) for r in listed] == [
        (1, "ranking[2]", "long_number"),
        (2, "ratings.helpfulness", "long_number"),
    ]


@pytest.mark.parametrize(
    ("name", "first", "said"),
    [
        (
            "lines.json",
            '{"prompt": "p", "completion": "c", "label": ' + LONG + "}",
            "field 'label': an integer",
        ),
        ("broken.jsonl", '{"prompt": ' + LONG + ', "completion": }', "invalid JSON: expecting value"),
    ],
)
def test_a_long_integer_in_the_first_row_is_that_rows_error(ws, tmp_path, capsys, name, first, said):
    """The whole-file looks (one object holding the records, one multi-line JSON value) read the file with json,
    whose long-integer ValueError made the whole file "cannot be read"."""
    path = tmp_path / name
    path.write_text(f"{first}\n{json.dumps(GOOD)}\n")
    assert main(["import", "-w", str(ws), str(path)]) == 2
    (line,) = error_lines(capsys)
    assert line.startswith(f"error: {path}, row 0") and said in line, line
