"""`generate --prompts FILE` imports FILE as `data import` does, and says what `data import` would say of it: its
summary's parts (tests/test_generate_sampling.py) and its warnings, once, on stderr, in the same words. The warnings
were not printed at all: a null label read as an answer nobody labelled, rows giving opposite preferences, and a
copy of a file imported before stored again under another source went without a word."""

from __future__ import annotations

import shutil

from data.__main__ import main as data_main
from generate.__main__ import main
from tests.test_data_gold_files import write

ROWS = [
    {"prompt": "Say hi.", "completion": "hi", "label": True},
    {"prompt": "Say bye.", "completion": "bye", "label": None},  # an answer nobody labelled, not a gold one
    {"prompt": "Which?", "chosen": "a", "rejected": "b"},
    {"prompt": "Which?", "chosen": "b", "rejected": "a"},  # the opposite preference
]


def warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning: ")]


def test_a_prompts_files_import_warnings_are_those_data_import_prints(tmp_path, tiny_model_dir, capsys):
    first, copy = write(tmp_path / "first.jsonl", *ROWS), tmp_path / "copy.jsonl"
    shutil.copyfile(first, copy)  # its answers stored again as source `copy`: said as a copy of first.jsonl
    for ws in ("imported", "sampled"):
        assert data_main(["import", "-w", str(tmp_path / ws), str(first)]) == 0
    capsys.readouterr()
    assert data_main(["import", "-w", str(tmp_path / "imported"), str(copy)]) == 0
    expected = warnings(capsys.readouterr().err)
    said = [line.removeprefix(f"warning: {copy}: ") for line in expected]
    assert [" ".join(line.split()[:5]) for line in said] == [
        "1 row with a null",
        "rows 2 and 3 give",
        f"the same content as {first},",
    ]
    ws = tmp_path / "sampled"
    argv = ["-w", str(ws), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "2"]
    assert main([*argv, "--prompts", str(copy)]) == 0
    assert warnings(capsys.readouterr().err) == expected


def test_prompts_stored_in_test_are_no_warning_without_a_test_fraction(tmp_path, tiny_model_dir, capsys):
    """`make demo` imports the sample sets with --test-fraction, then samples `--prompts sft`: every run warned
    that the prompts stored in test "keep their split, not the one this import gives them (--split, --test-fraction
    or the rows' own)", though none of those was given (generate's --split is the split it samples; the rows' own
    split column is not read). Without --test-fraction the --prompts import gives a stored prompt no split: no
    warning; the import log still counts them."""
    prompts = write(tmp_path / "prompts.jsonl", {"prompt": "Say hi."}, {"prompt": "Say bye."})
    ws = tmp_path / "ws"
    assert data_main(["import", "-w", str(ws), str(prompts), "--split", "test"]) == 0
    capsys.readouterr()
    argv = ["-w", str(ws), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "2"]
    assert main([*argv, "--prompts", str(prompts), "--split", "test"]) == 0
    assert warnings(capsys.readouterr().err) == []
    log = (ws / "imports" / "log.jsonl").read_text().splitlines()
    assert '"stored_split_kept": 2' in log[-1]
