"""Nothing a user gives is ignored without a word: `data gold FILE` and `generate --prompts FILE` name the columns
they did not read as `data import` does, a `--rubric` no row uses is said, a gold answer beside a `completions` list
and a chat row's `system` beside the conversation's own system message are named, and a user's `_split` column is
a column like any other (not the split: a row's `split` column is, and a `datasets` folder's splits are)."""

from __future__ import annotations

import datasets

from data.__main__ import main
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_import_columns import RUBRIC, summary
from tests.test_data_import_rank_rate import rating


def test_data_gold_names_the_columns_its_file_did_not_read(tmp_path, capsys):
    path = write(tmp_path / "gold.jsonl", {"prompt": "2 + 2?", "chosen": "4", "rejected": "5", "id": 3})
    Workspace.init(tmp_path / "ws")
    assert main(["gold", "-w", str(tmp_path / "ws"), str(path)]) == 0
    assert capsys.readouterr().out.strip().endswith(f"; {path}: columns not read: id")


def test_a_rubric_no_row_uses_is_said_not_refused(tmp_path, capsys):
    rubric = tmp_path / "mine.yaml"
    rubric.write_text(RUBRIC)
    path = write(tmp_path / "prefs.jsonl", {"prompt": "2 + 2?", "chosen": "4", "rejected": "5"})
    assert main(["import", "-w", str(tmp_path / "ws"), str(path), "--rubric", str(rubric)]) == 0
    assert summary(capsys).endswith(f"records 1; --rubric {rubric} not used: no row rates")

    rated = write(tmp_path / "rated.jsonl", {"prompt": "2 + 2?", "response": "4", "quality": 5})
    assert main(["import", "-w", str(tmp_path / "ws2"), str(rated), "--rubric", str(rubric)]) == 0
    assert "not used" not in summary(capsys)


def test_a_gold_answer_beside_completions_is_named_unless_it_is_one_of_them(tmp_path, capsys):
    rows = [
        {"instruction": "Pick.", "input": "", "output": "reference", "completions": ["a", "b"]},
        {"prompt": "Again?", "response": "yes", "completions": ["yes", "no"]},  # the gold is an answer: read
    ]
    assert main(["import", "-w", str(tmp_path / "ws"), str(write(tmp_path / "alpaca.jsonl", rows[0]))]) == 0
    assert summary(capsys).endswith("; columns not read: output")
    assert main(["import", "-w", str(tmp_path / "ws2"), str(write(tmp_path / "prompt.jsonl", rows[1]))]) == 0
    assert "columns not read" not in summary(capsys)


def test_a_chat_system_key_beside_the_conversations_own_is_named_where_it_differs(tmp_path, capsys):
    turns = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    rows = [
        {"messages": turns, "system": "Be verbose.", "chosen": "a", "rejected": "b"},
        {"messages": turns, "system": "Be brief.", "chosen": "c", "rejected": "d"},  # the same: read
        {"messages": turns[1:], "system": "Be kind.", "chosen": "e", "rejected": "f"},  # prepended: read
    ]
    assert main(["import", "-w", str(tmp_path / "ws"), str(write(tmp_path / "chat.jsonl", rows[0]))]) == 0
    assert summary(capsys).endswith("; columns not read: system")
    [prompt] = Workspace(tmp_path / "ws").read("prompts").to_pylist()
    assert prompt["messages"][0]["content"] == "Be brief."
    assert main(["import", "-w", str(tmp_path / "ws2"), str(write(tmp_path / "chat2.jsonl", *rows[1:]))]) == 0
    assert "columns not read" not in summary(capsys)


def test_a_users_split_column_is_named_not_taken_for_the_split(tmp_path, capsys):
    path = write(tmp_path / "rows.jsonl", {"prompt": "Audit me?", "response": "yes", "_split": "test"})
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    assert summary(capsys).endswith(
        "; columns not read: _split (_split: not the row's split (its 'split' column is; else --split or "
        "--test-fraction sets it))"
    )
    assert [p["split"] for p in Workspace(tmp_path / "ws").read("prompts").to_pylist()] == ["train"]

    folder = tmp_path / "folder"  # a datasets folder's split is its rows' split, whatever their columns say
    row = {"prompt": "Folder?", "response": "yes", "_split": "train"}
    datasets.DatasetDict({"test": datasets.Dataset.from_list([row])}).save_to_disk(str(folder))
    assert main(["import", "-w", str(tmp_path / "ws2"), str(folder)]) == 0
    assert summary(capsys).endswith(  # no flag sets a folder's split: `refuse_split_flags`
        "; columns not read: _split (_split: a row's own split is not read "
        "(a datasets folder's rows keep their split's))"
    )
    assert [p["split"] for p in Workspace(tmp_path / "ws2").read("prompts").to_pylist()] == ["test"]


def test_keys_of_answer_objects_and_messages_not_read_are_named_by_their_field(tmp_path, capsys):
    """Raw UltraFeedback's `critique` beside an answer's text, and a message's `tool_calls`, were dropped
    without a word: the answer or message was read, and so counted its column. Each is named as a column is
    (`completions[].critique`), and an empty one (`"tool_calls": []`, `"annotations": {}`) gives nothing to name."""
    ultrafeedback = {
        "prompt": "Hi?",
        "completions": [
            {"text": "Hello!", "model": "a", "critique": "Polite."},
            {"text": "Go away.", "model": "b", "principle": "helpfulness", "annotations": {}},
        ],
    }
    messages = [
        {"role": "user", "content": "Q?", "tool_calls": [{"id": "call_1"}]},
        {"role": "assistant", "content": "A.", "tool_calls": []},
    ]
    rows = [
        ultrafeedback,
        {"messages": messages},
        {"prompt": "Pick?", "chosen": {"role": "assistant", "content": "x", "name": "bot"}, "rejected": "y"},
        {
            "prompt": "Last?",
            "chosen": [{"role": "assistant", "content": "x", "refusal": "no"}],
            "rejected": "y",
        },
    ]
    for index, row in enumerate(rows):
        assert (
            main(["import", "-w", str(tmp_path / f"ws{index}"), str(write(tmp_path / f"{index}.jsonl", row))])
            == 0
        )
    assert [line.rsplit("; ", 1)[-1] for line in capsys.readouterr().out.splitlines()] == [
        "columns not read: completions[].critique, completions[].principle",
        "columns not read: messages[].tool_calls",
        "columns not read: chosen.name",
        "columns not read: chosen[].refusal",
    ]


def test_the_keys_an_answer_object_gives_that_are_read_are_not_named(tmp_path, capsys):
    row = {
        "prompt": "Rate?",
        "completions": [
            {"content": "a", "model": "m", "ratings": rating(4)},
            {"value": "b", "ratings": rating(1)},
        ],
    }
    conversations = [{"from": "human", "value": "Hi?"}, {"from": "gpt", "value": "Hello."}]
    rows = [row, {"conversations": conversations}]
    for index, given in enumerate(rows):
        path = write(tmp_path / f"{index}.jsonl", given)
        assert main(["import", "-w", str(tmp_path / f"ws{index}"), str(path)]) == 0, capsys.readouterr().err
    assert "columns not read" not in capsys.readouterr().out


def test_of_an_output_and_a_completion_the_completion_is_read_the_output_named(tmp_path, capsys):
    path = write(
        tmp_path / "rows.jsonl", {"prompt": "Two answers?", "output": "second", "completion": "first"}
    )
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    assert summary(capsys).endswith("records 1; columns not read: output")
    assert [p["gold"] for p in Workspace(tmp_path / "ws").read("prompts").to_pylist()] == ["first"]


def test_a_ratings_export_imports_back_as_ratings_its_rubric_column_named_not_read(tmp_path, capsys):
    """A rating's rubric is the one `--rubric` gives the import (no row chooses its own): the export's `rubric`
    column is named among the columns not read, as are its ids and `raters`, not dropped without a word."""
    rated = write(tmp_path / "rated.jsonl", {"prompt": "Say hi.", "response": "Hello!", "ratings": rating(3)})
    assert main(["import", "-w", str(tmp_path / "ws"), str(rated)]) == 0
    export = tmp_path / "ratings.parquet"
    assert main(["export", "-w", str(tmp_path / "ws"), "--format", "ratings", "--out", str(export)]) == 0
    capsys.readouterr()
    assert main(["import", "-w", str(tmp_path / "back"), str(export)]) == 0
    assert summary(capsys).endswith("columns not read: completion_id, prompt_id, round, raters, rubric")
    labels = [
        (r["task"], r["ratings"], r["rubric"])
        for r in Workspace(tmp_path / "back").read("labels").to_pylist()
    ]
    [stored] = [
        (r["task"], r["ratings"], r["rubric"]) for r in Workspace(tmp_path / "ws").read("labels").to_pylist()
    ]
    assert labels == [stored]


def test_a_split_flag_for_datasets_folders_alone_is_refused(tmp_path, capsys):
    """A README walk: `--split test` or `--test-fraction` on a datasets folder of splits did nothing (its rows keep
    their split's) without a word; beside a file that reads the flag it is taken, for that file."""
    folder = tmp_path / "folder"
    row = {"prompt": "Folder?", "chosen": "yes", "rejected": "no"}
    datasets.DatasetDict({"train": datasets.Dataset.from_list([row])}).save_to_disk(str(folder))
    capsys.readouterr()  # datasets' progress bars
    ws = tmp_path / "ws"
    for flag in (["--split", "test"], ["--test-fraction", "0.5"]):
        assert main(["import", "-w", str(ws), str(folder), *flag]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [
            f"error: {flag[0]} does not go with {folder}: a datasets folder's rows keep their split's (test where "
            "a word of its name is test, testing, validation, valid, val, eval, evaluation, dev, held-out; else train); leave it out"
        ]
        assert not ws.exists()
    other = write(tmp_path / "rows.jsonl", {"prompt": "File?", "chosen": "yes", "rejected": "no"})
    assert main(["import", "-w", str(ws), str(folder), str(other), "--split", "test"]) == 0
    splits = {p["messages"][0]["content"]: p["split"] for p in Workspace(ws).read("prompts").to_pylist()}
    assert splits == {"Folder?": "train", "File?": "test"}
