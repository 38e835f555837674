"""What a `--prompts` file of one JSON object is: one record where it fits a record format (a prompt field, a chat,
...), as the same object on one line of JSON Lines is; where it fits none but holds what looks like the records
under a key, one line names the file, what it holds and how to take them out. It was "row 0: unknown record
format", which told a wrapper's author nothing of the shape expected."""

from __future__ import annotations

import json

import pytest

from data import Workspace
from generate.__main__ import main


def run(tmp_path, tiny_model_dir, document: object, pretty: bool = False) -> int:
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps(document, indent=2 if pretty else None))
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "2"]
    return main([*argv, "--prompts", str(prompts)])


@pytest.mark.parametrize("pretty", [False, True])
def test_one_object_with_a_prompt_is_one_prompt(tmp_path, tiny_model_dir, pretty):
    assert run(tmp_path, tiny_model_dir, {"prompt": "Say hi."}, pretty) == 0
    assert Workspace(tmp_path / "ws").read("prompts").num_rows == 1


@pytest.mark.parametrize(
    ("document", "said"),
    [
        (  # a list of texts under a key: they were meant as the prompts
            {"prompts": ["Say hi.", "Say bye."]},
            '"prompts" holds 2 texts, not records (a prompt record is {"prompt": TEXT}, one a line or in a JSON '
            "list), e.g. jq -c '.[\"prompts\"][] | {prompt: .}' FILE > prompts.jsonl",
        ),
        (  # records beside other keys (under one key alone: "the records are nested under one key")
            {"version": 1, "data": [{"prompt": "Say hi."}, {"prompt": "Say bye."}]},
            '"data" holds 2 records nested in it: import the list itself, e.g. jq \'.["data"]\' FILE > records.json',
        ),
        (  # one record under a key
            {"data": {"prompt": "Say hi."}},
            '"data" holds a record nested in it: import it, e.g. jq \'.["data"]\' FILE > record.json',
        ),
    ],
)
def test_one_object_holding_the_records_under_a_key_is_one_line(
    tmp_path, tiny_model_dir, capsys, document, said
):
    assert run(tmp_path, tiny_model_dir, document) == 2
    keys = ", ".join(sorted(document))
    path = tmp_path / "prompts.json"
    expected = f"error: {path}: one JSON object that is no record (keys: {keys}): {said.replace('FILE', str(path))}\n"
    assert capsys.readouterr().err == expected
    assert not (tmp_path / "ws").exists()


def test_one_object_of_no_record_format_holding_nothing_like_records_says_the_formats(
    tmp_path, tiny_model_dir, capsys
):
    assert run(tmp_path, tiny_model_dir, {"question": "Say hi.", "tags": [1, 2]}) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'prompts.json'}, row 0: unknown record format (keys: question, tags); expected alpaca, "
        "chat, pair, openai or prompt\n"
    )
    assert not (tmp_path / "ws").exists()
