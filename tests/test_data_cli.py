"""`python -m data` end to end: one clear error line and a non-zero exit on bad input, nothing half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from data.__main__ import main
from data.cli import one_line


def snapshot(path):
    return {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "data", *map(str, args)], capture_output=True, text=True)


def test_import_export_stats_validate_compact(tmp_path, capsys):
    ws = tmp_path / "ws"
    data = tmp_path / "prefs.json"
    data.write_text(json.dumps([{"prompt": f"q{i}", "chosen": "yes", "rejected": "no"} for i in range(3)]))
    assert main(["init", "-w", str(ws)]) == 0
    assert main(["import", "-w", str(ws), str(data), "--source", "mine"]) == 0
    assert main(["export", "-w", str(ws), "--format", "dpo"]) == 0
    assert (ws / "exports" / "dpo.parquet").is_file()
    assert main(["stats", "-w", str(ws), "--json"]) == 0
    out = capsys.readouterr().out
    stats = json.loads(out[out.index("{") :])
    assert stats["rows"] == {
        "prompts": 3,
        "completions": 6,
        "pairs": 3,
        "labels": 3,
        "models": 0,
        "scores": 0,
    }
    assert stats["labels"]["pairwise"] == {"a": 3, "b": 0, "tie": 0, "both_bad": 0}
    assert main(["validate", "-w", str(ws)]) == 0
    assert main(["compact", "-w", str(ws)]) == 0
    assert main(["export", "-w", str(ws), "--format", "sft"]) == 2  # no gold answers: a clear refusal


def test_compact_says_its_work_once(tmp_path):
    """A README walk: `compact` printed each merge twice, as an INFO log line on stderr and as its line on stdout."""
    ws, data = tmp_path / "ws", tmp_path / "prefs.json"
    for prompt in ("q", "r"):  # two imports: two parts of each table
        data.write_text(json.dumps([{"prompt": prompt, "chosen": "yes", "rejected": "no"}]))
        assert main(["import", "-w", str(ws), str(data)]) == 0
    done = run_cli("compact", "-w", ws)
    assert (done.returncode, done.stderr) == (0, "")
    lines = done.stdout.splitlines()
    assert lines[:4] == [f"{name}: 2 parts -> 1" for name in ("prompts", "completions", "pairs", "labels")]


def test_malformed_file_one_line_error_nonzero_and_workspace_unchanged(tmp_path):
    ws = tmp_path / "ws"
    good = tmp_path / "good.json"
    good.write_text(json.dumps([{"prompt": "q", "chosen": "yes", "rejected": "no"}]))
    assert run_cli("import", "-w", ws, good).returncode == 0
    before = snapshot(ws)
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps([{"prompt": "fine", "chosen": "a", "rejected": "b"}, {"prompt": "x", "chosen": None}])
    )
    result = run_cli("import", "-w", ws, good, bad)
    assert result.returncode == 2
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and "it/s" not in line and "rec/s" not in line
    ]
    assert lines == [
        f"error: {bad}, row 1, field 'chosen': no answer: the field is null, and the row has no other (chosen and "
        "rejected, completion and label, completions, or a gold completion, response or output)"
    ]
    assert snapshot(ws) == before


def test_import_into_new_workspace_with_bad_file_creates_nothing(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": \n')
    result = run_cli("import", "-w", tmp_path / "new-ws", bad)
    assert (
        result.returncode == 2
        and "row 0: invalid JSON: expecting value at line 1, column 12" in result.stderr
    )
    assert not (tmp_path / "new-ws").exists()


def test_validate_reports_dangling_references(tmp_path, capsys):
    from data import Label, Workspace

    ws = Workspace.init(tmp_path / "ws")
    ws.append([Label("no-such-pair", "ann", "pairwise", "a")])
    assert main(["validate", "-w", str(ws.path)]) == 1
    out = capsys.readouterr().out
    assert "item_id no-such-pair does not exist" in out
    assert out.endswith(f"{ws.path}: 1 problem\n")  # it said "1 problem(s)"


def test_validate_reads_the_gold_table_as_every_reader_does(tmp_path, capsys):
    """`validate` left the gold table unread: a gold part that `stats`, `export` and `gold` refuse (a pairwise gold
    answer that is no choice) read "OK", and so did gold of an item that does not exist."""
    import pyarrow.parquet as pq

    from data import Workspace
    from data.records import now

    ws = Workspace.init(tmp_path / "ws")
    event = {"id": "g1", "item_id": "no-such-pair", "task": "pairwise", "choice": "a", "source": "cli"}
    event |= {"retracted": False, "ranking": None, "ratings": None, "rubric": None, "created_at": now()}
    ws.append_rows(
        {
            "gold": [
                event,
                event | {"id": "g2", "item_id": "no-such-answer", "task": "kto", "choice": "desirable"},
            ]
        }
    )
    assert main(["validate", "-w", str(ws.path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "pairwise gold g1: item_id no-such-pair does not exist",
        "kto gold g2: item_id no-such-answer does not exist",
        f"{ws.path}: 2 problems",
    ]
    part = next((ws.path / "gold").glob("*.parquet"))
    table = pq.read_table(part)
    pq.write_table(table.set_column(3, "choice", [["zzz", "desirable"]]), part)
    assert main(["validate", "-w", str(ws.path)]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"error: {part}, row 0, field 'choice': pairwise choice 'zzz' is not one of a, b, tie, both_bad\n"
    )


def test_workspace_errors_are_one_line(tmp_path):
    result = run_cli("stats", "-w", tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"error: {tmp_path}: not a workspace (no workspace.json); create it with `python -m data init`"
    )


@pytest.mark.parametrize("command", [["stats"], ["gold"], ["export", "--format", "dpo"], ["validate"]])
def test_a_file_where_the_workspace_should_be_is_said(tmp_path, command, capsys):
    """It said "not a workspace ...; create it with `python -m data init`", which then refused the file."""
    a_file = tmp_path / "f"
    a_file.write_text("keep me")
    assert main([command[0], "-w", str(a_file), *command[1:]]) == 2
    assert capsys.readouterr().err == f"error: {a_file}: is a file, not a workspace directory\n"
    assert a_file.read_text() == "keep me"


@pytest.mark.parametrize("command", [["merge", "-w", "{ws}", "{fifo}"], ["stats", "-w", "{fifo}"]])
def test_a_fifo_where_a_workspace_should_be_is_said_to_be_one(tmp_path, command, capsys):
    """`data merge -w WS FIFO` said the FIFO "is a file, not a workspace directory": no file was there to find."""
    fifo, ws = tmp_path / "pipe", tmp_path / "ws"
    os.mkfifo(fifo)
    assert main(["init", "-w", str(ws)]) == 0
    capsys.readouterr()
    assert main([arg.format(ws=ws, fifo=fifo) for arg in command]) == 2
    assert capsys.readouterr().err == f"error: {fifo}: is a FIFO, not a workspace directory\n"


@pytest.mark.parametrize("inner", ["scores", "models/new", "imports"])
@pytest.mark.parametrize("command", [["init"], ["import", "{file}"]])
def test_a_new_workspace_in_a_workspaces_stored_folder_is_refused(tmp_path, capsys, inner, command):
    """`-w ws/scores` (an empty table's folder) made a workspace there, whose folders broke the outer one: `data
    validate` then named 11 problems in it."""
    ws, prefs = tmp_path / "ws", tmp_path / "prefs.json"
    prefs.write_text(json.dumps([{"prompt": "q", "chosen": "yes", "rejected": "no"}]))
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    (ws / "imports" / "log.jsonl").unlink()  # an empty imports/ folder, as before any import
    before = snapshot(ws)
    capsys.readouterr()
    args = [a.format(file=prefs) for a in command]
    assert main([args[0], "-w", str(ws / inner), *args[1:]]) == 2
    folder = inner.split("/")[0]
    assert capsys.readouterr().err == (
        f"error: {ws / inner}: in the {folder}/ folder of workspace {ws}, whose files are its stored data: give a "
        "folder outside it\n"
    )
    assert snapshot(ws) == before  # no workspace.json, nor anything else, made in it
    assert main(["validate", "-w", str(ws)]) == 0


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["gold", "--pair", "ab\ncd", "--answer", "a"], "error: --pair: pair ab\\ncd is not in "),
        (
            ["stats", "--exclude-labeller", "x\ny\x1b[31m"],
            "error: --exclude-labeller x\\ny\\x1b[31m: no labels",
        ),
        (["stats", "--bogus", "a\u2028b"], "error: unrecognized arguments: --bogus a\\u2028b"),
    ],
)
def test_a_control_character_in_what_the_user_typed_keeps_the_error_one_line(tmp_path, args, said, capsys):
    """An id with a newline printed a two-line error; an escape sequence would restyle the terminal."""
    main(["init", "-w", str(tmp_path / "ws")])
    capsys.readouterr()
    try:
        assert main([args[0], "-w", str(tmp_path / "ws"), *args[1:]]) == 2
    except SystemExit as exit_:  # argparse's own errors: the usage, then the error line
        assert exit_.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error: " in line]
    assert len(errors) == 1 and said in errors[0] and err.endswith(errors[0] + "\n"), err
    assert "\x1b" not in err


def test_only_control_characters_are_escaped():
    assert one_line("ré 中 'x' \"y\" → ok") == "ré 中 'x' \"y\" → ok"
    assert one_line("a\nb\r\tc\x1b[0m\x85\u2029") == "a\\nb\\r\\tc\\x1b[0m\\x85\\u2029"


def test_output_into_a_closed_pipe_ends_quietly(tmp_path):
    """`python -m data stats -w ws --json | head -c 10`: no `error: [Errno 32] Broken pipe`, no traceback."""
    ws = tmp_path / "ws"
    assert main(["init", "-w", str(ws)]) == 0
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        command = [sys.executable, "-m", "data", "stats", "-w", str(ws), "--json"]
        result = subprocess.run(command, stdout=write_end, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, "")


@pytest.mark.parametrize(
    "marker, why",
    [
        (
            b"{\n",
            "not valid JSON (Expecting property name enclosed in double quotes: line 2 column 1 (char 2))",
        ),
        (b"\xff\x00junk", "not valid JSON ("),
        (b"[1]\n", "not a JSON object"),
        (b'{"version": 1}\n', 'no "format" field'),
    ],
)
def test_damaged_workspace_json_is_one_line_and_nothing_written(tmp_path, capsys, marker, why):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "workspace.json").write_bytes(marker)
    data = tmp_path / "prefs.jsonl"
    data.write_text(json.dumps({"prompt": "q", "chosen": "yes", "rejected": "no"}) + "\n")
    for args in (["stats"], ["validate"], ["import", str(data)], ["export", "--format", "dpo"]):
        assert main([*args, "-w", str(ws)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {ws / 'workspace.json'}: {why}") and err.count("\n") == 1
        assert err.rstrip().endswith('it should read {"format": 1}')
    assert sorted(p.name for p in ws.iterdir()) == ["workspace.json"]


def test_damaged_workspace_json_has_no_traceback(tmp_path):
    (tmp_path / "workspace.json").write_text("{\n")
    result = run_cli("stats", "-w", tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {tmp_path / 'workspace.json'}: not valid JSON (")


def test_export_out_must_be_a_parquet_name(tmp_path, capsys):
    ws = tmp_path / "ws"
    assert main(["init", "-w", str(ws)]) == 0
    out = tmp_path / "dpo.csv"  # it would hold Parquet under a CSV name
    assert main(["export", "-w", str(ws), "--format", "dpo", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: --out {out}: exports are Parquet files: give a name ending in .parquet\n"
    assert not out.exists()


def test_export_out_that_is_a_folder_is_one_clear_line(tmp_path, capsys):
    """A folder named like a Parquet file said "error: Is a directory: nothing was written to ..."."""
    ws, data = tmp_path / "ws", tmp_path / "prefs.json"
    data.write_text(json.dumps([{"prompt": "q", "chosen": "yes", "rejected": "no"}]))
    assert main(["import", "-w", str(ws), str(data)]) == 0
    out = tmp_path / "dpo.parquet"
    out.mkdir()
    assert main(["export", "-w", str(ws), "--format", "dpo", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"error: --out {out} is a folder: give a file path (a new name, or an export to replace)\n"
    )
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("blocked", ["read-only", "file"])
def test_export_out_it_cannot_write_is_one_line_naming_out_before_the_export(
    tmp_path, capsys, monkeypatch, blocked
):
    """An --out under a read-only mount (emulated: creating a file there fails as such a mount fails, for root too)
    or below a file made the export, then said "the file system is read-only: nothing was written to FOLDER" (or "a
    file is in the way"), naming neither --out nor its file: refused first, in one line naming both."""
    import errno

    from data import files

    ws, data = tmp_path / "ws", tmp_path / "prefs.json"
    data.write_text(json.dumps([{"prompt": "q", "chosen": "yes", "rejected": "no"}]))
    assert main(["import", "-w", str(ws), str(data)]) == 0
    blocker = tmp_path / "ro"
    if blocked == "file":
        blocker.write_text("a file")
        said = f"{blocker} is a file, not a folder"
    else:
        blocker.mkdir()
        create_temp = files.create_temp

        def read_only(directory, suffix="", mode=0o644, dir_fd=None):
            if directory == blocker:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS))
            return create_temp(directory, suffix, mode, dir_fd=dir_fd)

        monkeypatch.setattr(files, "create_temp", read_only)
        said = f"{blocker} is not writable (the file system is read-only)"
    monkeypatch.setattr("data.__main__.export_workspace", None)  # refused before the export is made
    capsys.readouterr()
    for out in (blocker / "dpo.parquet", blocker / "new" / "dpo.parquet"):
        assert main(["export", "-w", str(ws), "--format", "dpo", "--out", str(out)]) == 2
        assert capsys.readouterr().err == f"error: --out {out}: {said}; nothing exported\n"
    assert blocker.is_file() or list(blocker.iterdir()) == []


def test_export_out_below_a_link_to_nothing_is_refused_before_the_export(tmp_path, capsys, monkeypatch):
    """An --out below a link to nothing (a folder moved, a mount not there) made the export, then said "a file is
    in the way: nothing was written to LINK", naming neither --out nor where the link points: refused first, in one
    line, as `train --out` is."""
    ws, data = tmp_path / "ws", tmp_path / "prefs.json"
    data.write_text(json.dumps([{"prompt": "q", "chosen": "yes", "rejected": "no"}]))
    assert main(["import", "-w", str(ws), str(data)]) == 0
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "gone")
    monkeypatch.setattr("data.__main__.export_workspace", None)  # refused before the export is made
    capsys.readouterr()
    for out in (link / "dpo.parquet", link / "new" / "dpo.parquet"):
        assert main(["export", "-w", str(ws), "--format", "dpo", "--out", str(out)]) == 2
        assert capsys.readouterr().err == (
            f"error: --out {out}: {link} is a link to {tmp_path / 'gone'}, which does not exist: make that folder, "
            "or give another --out; nothing exported\n"
        )
    assert not (tmp_path / "gone").exists()


def test_export_out_in_a_workspace_folder_other_than_exports_is_refused(tmp_path, capsys):
    """A bad-input pass: --out WS/labels/<a part file> replaced stored labels with the export's rows (every read
    then failed on the part), and a new name there was one more part the next read refused. An export anywhere
    else in the workspace but exports/ is refused too (README: never a workspace folder but exports/)."""
    ws, data = tmp_path / "ws", tmp_path / "prefs.json"
    data.write_text(json.dumps([{"prompt": "q", "chosen": "yes", "rejected": "no"}]))
    assert main(["import", "-w", str(ws), str(data)]) == 0
    part = next((ws / "labels").glob("part-*.parquet"))
    before = snapshot(ws)
    # ... and a folder made below a table's (the export wrote there: `data validate` then failed on it)
    below = (ws / "labels" / "sub" / "x.parquet", ws / "batches" / "a" / "b" / "x.parquet")
    for out in (part, ws / "labels" / "part-1.parquet", ws / "pairs" / "dpo.parquet", *below):
        assert main(["export", "-w", str(ws), "--format", "dpo", "--out", str(out)]) == 2
        assert capsys.readouterr().err == (
            f"error: --out {out}: in the {out.relative_to(ws).parts[0]}/ folder of workspace {ws}, whose files are "
            f"its stored data: write exports to {ws / 'exports'} or outside the workspace\n"
        )
    # the workspace's top folder and any other of its own (runs/) were allowed: exports/ is the exports' folder
    for out in (ws / "dpo.parquet", ws / "runs" / "x" / "y.parquet", ws / "new" / "dpo.parquet"):
        assert main(["export", "-w", str(ws), "--format", "dpo", "--out", str(out)]) == 2
        assert capsys.readouterr().err == (
            f"error: --out {out}: in workspace {ws} outside its exports/ folder: write exports to "
            f"{ws / 'exports'} or outside the workspace\n"
        )
    assert snapshot(ws) == before and not (ws / "runs").exists() and not (ws / "new").exists()
    allowed = (ws / "exports" / "mine.parquet", ws / "exports" / "a" / "b.parquet")
    for out in (*allowed, tmp_path / "elsewhere.parquet"):
        assert main(["export", "-w", str(ws), "--format", "dpo", "--out", str(out)]) == 0 and out.is_file()


@pytest.mark.parametrize("damage", ["not parquet", "null id"])
def test_compact_refuses_a_tables_only_part_that_validate_refuses(tmp_path, capsys, damage):
    """`compact` said `labels: 1 part -> 1`, exit 0, on a table whose only part `validate` refused: a lone part
    has nothing to merge, so compaction never read it. It is one line naming the part now, exit 2, and nothing is
    changed: the other tables' two parts each stay as they are (no lock file either)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ws, data = tmp_path / "ws", tmp_path / "prefs.json"
    data.write_text(json.dumps([{"prompt": "q", "chosen": "yes", "rejected": "no"}]))
    assert main(["import", "-w", str(ws), str(data)]) == 0
    data.write_text(json.dumps([{"prompt": "r", "chosen": "yes", "rejected": "no"}]))
    # a second part of every table but labels
    assert main(["import", "-w", str(ws), str(data), "--unlabelled"]) == 0
    (part,) = (ws / "labels").glob("part-*.parquet")
    if damage == "not parquet":
        part.write_bytes(b"garbage")
    else:
        table = pq.read_table(part)
        at = table.schema.get_field_index("item_id")
        pq.write_table(table.set_column(at, "item_id", pa.nulls(table.num_rows, pa.string())), part)
    capsys.readouterr()
    assert main(["validate", "-w", str(ws)]) != 0
    said = capsys.readouterr().err
    before = snapshot(ws)
    assert main(["compact", "-w", str(ws)]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", said) and err.startswith(f"error: {part}") and err.count("\n") == 1
    assert snapshot(ws) == before


def test_compact_refuses_a_part_that_is_no_parquet_before_it_merges_any_table(tmp_path, capsys):
    """One of the labels' two parts is no Parquet: prompts, completions and pairs were merged before the labels'
    merge met it. Every part's footer is read first now: nothing is merged."""
    ws, data = tmp_path / "ws", tmp_path / "prefs.json"
    for prompt in ("q", "r"):
        data.write_text(json.dumps([{"prompt": prompt, "chosen": "yes", "rejected": "no"}]))
        assert main(["import", "-w", str(ws), str(data)]) == 0
    part = sorted((ws / "labels").glob("part-*.parquet"))[1]
    part.write_bytes(b"garbage")
    before, _ = snapshot(ws), capsys.readouterr()
    assert main(["compact", "-w", str(ws)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {part}: not a readable Parquet file (")
    assert snapshot(ws) == before


def test_a_merged_part_cut_short_is_one_line_for_every_reader(tmp_path, capsys):
    """A compacted (merged) part is opened for its sources first: cut short (a disk that lost its end), that read
    is named in one line as any other bad part's, never a traceback."""
    ws, data = tmp_path / "ws", tmp_path / "prefs.json"
    for prompt in ("q", "r"):
        data.write_text(json.dumps([{"prompt": prompt, "chosen": "yes", "rejected": "no"}]))
        assert main(["import", "-w", str(ws), str(data)]) == 0
    assert main(["compact", "-w", str(ws)]) == 0
    (part,) = (ws / "labels").glob("part-*-m.parquet")
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    capsys.readouterr()
    for command in (
        ["validate"],
        ["stats"],
        ["export", "--format", "dpo", "--out", str(tmp_path / "x.parquet")],
    ):
        assert main([*command, "-w", str(ws)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {part}: not a readable Parquet file (") and err.count("\n") == 1


@pytest.mark.parametrize("fmt", ["dpo", "kto", "ratings"])
def test_export_sft_shape_with_another_format_is_refused_in_one_line(tmp_path, fmt, capsys):
    ws = tmp_path / "ws"
    assert main(["init", "-w", str(ws)]) == 0
    for shape in ("prompt-completion", "messages"):  # given at its default too: it would change nothing
        assert main(["export", "-w", str(ws), "--format", fmt, "--sft-shape", shape]) == 2
        err = capsys.readouterr().err
        assert err == f"error: --sft-shape applies to --format sft (and sft --edits), not {fmt}\n"
    assert not (ws / "exports").exists() or not any((ws / "exports").iterdir())


def test_ctrl_c_is_one_line_and_status_130(capsys):
    """Ctrl-C during a job printed a KeyboardInterrupt traceback (a sampling walk-through): it is the user's stop."""
    from data.cli import run_cli as shell

    def interrupted(argv):
        raise KeyboardInterrupt

    assert shell(interrupted, []) == 130
    err = capsys.readouterr().err
    assert err.startswith("interrupted: what was written before it stays") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("command", "args", "said"),
    [
        ("train", ["--learning-rate", "-1e-5"], "error: --learning-rate -1e-05: must be > 0\n"),
        (
            "generate",
            ["--temperature", "-1e-3"],
            "error: --temperature -0.001: must be a finite number >= 0\n",
        ),
        ("generate.loop", ["--spin-iter", "1", "--train-learning-rate", "-1E-5"], "must be > 0\n"),
        ("annotate", ["--gold-rate", "-1e-3"], "error: --gold-rate -0.001: must be in [0, 0.5]\n"),
        (
            "data",
            ["import", "--test-fraction", "-1e-2", "x.jsonl"],
            "error: --test-fraction -0.01: must be in",
        ),
    ],
)
def test_a_negative_number_in_scientific_notation_is_a_value_not_a_flag(
    tmp_path, command, args, said, capsys
):
    """`train --learning-rate -1e-5` was argparse's "expected one argument" (Python 3.11 reads only -1 and -0.5
    as numbers), where `--learning-rate=-1e-5` was the range error: both are the range error now."""
    main_ = __import__(f"{command}.__main__", fromlist=["main"]).main
    ws = tmp_path / "ws"
    argv = [*args[:1], "-w", str(ws), *args[1:]] if command == "data" else ["-w", str(ws), *args]
    assert main_(argv) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1, err
    assert not ws.exists()
