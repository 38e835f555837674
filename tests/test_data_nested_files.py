"""Files a workspace keeps, damaged on disk into JSON nested past the parser's recursion (`[[[...`): read as any
other file that is no JSON is, one line naming it, never a RecursionError traceback (json's decoder recurses once
a level, past the readers' `except ValueError`)."""

from __future__ import annotations

from data.__main__ import main
from tests.test_data_gold_files import write

NESTED = "[" * 100_000


def test_an_import_log_line_nested_too_deeply_is_named_by_validate(tmp_path, capsys):
    ws = tmp_path / "ws"
    assert (
        main(
            [
                "import",
                "-w",
                str(ws),
                str(write(tmp_path / "a.jsonl", {"prompt": "A?", "chosen": "x", "rejected": "y"})),
            ]
        )
        == 0
    )
    log = ws / "imports" / "log.jsonl"
    with log.open("a") as handle:
        handle.write(NESTED + "\n")
    capsys.readouterr()
    assert main(["validate", "-w", str(ws)]) == 1
    assert capsys.readouterr().out.splitlines()[0].startswith(f"{log}, line 2: not a JSON object")


def test_a_workspace_marker_nested_too_deeply_is_one_line(tmp_path, capsys):
    ws = tmp_path / "ws"
    assert main(["init", "-w", str(ws)]) == 0
    (ws / "workspace.json").write_text(NESTED)
    capsys.readouterr()
    assert main(["stats", "-w", str(ws)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {ws / 'workspace.json'}: not valid JSON (nested too deeply to read)")
    assert len(err.splitlines()) == 1
