"""Test wins (`data.import_splits`): a new prompt any file of an import puts in test is test in all of them; a row
naming test for a prompt stored in train is left out (its labels would train on what its source holds out, and a
stored prompt never moves: a run may have trained on it), counted and warned of; `--remove` passes over it."""

from __future__ import annotations

import json
import logging

import pytest

from data.__main__ import main
from data.workspace import Workspace
from tests.test_data_import_errors import digest, error_lines
from tests.test_data_import_round_trip import by_prompt, summary, write


def prompt_labels(ws, question: str) -> int:
    """How many labels the pairs of the prompt ``question`` hold."""
    workspace = Workspace(ws)
    prompts = workspace.frame("prompts")
    ids = {i for i, m in zip(prompts["id"], prompts["messages"]) if m[-1]["content"] == question}
    pairs = workspace.frame("pairs")
    pairs = set(pairs[pairs["prompt_id"].isin(ids)]["id"])
    return int(workspace.frame("labels")["item_id"].isin(pairs).sum())


def test_a_prompt_one_file_holds_out_is_test_in_every_file_of_the_import(tmp_path, capsys, caplog):
    """`data import a b`: a put Same? in train, b in test. Each file kept its own rows' split and a was written
    first, so the prompt was stored in train and b's held-out rows trained too. The import's files settle it
    together: test, a's row counted and warned of, naming b's."""
    a = write(tmp_path / "a.jsonl", {"prompt": "Same?", "chosen": "a", "rejected": "b"})
    b = write(tmp_path / "b.jsonl", {"prompt": "Same?", "chosen": "c", "rejected": "d", "split": "test"})
    with caplog.at_level(logging.WARNING, logger="data.import_splits"):
        assert main(["import", "-w", str(tmp_path / "ws"), str(a), str(b)]) == 0
    assert by_prompt(tmp_path / "ws", "split") == {"Same?": "test"}
    first, second = [line for line in summary(capsys) if line.startswith("imported ")]
    assert first.startswith(f"imported {a} ") and ", split_conflicts 1" in first
    assert second.startswith(f"imported {b} ") and "split_conflicts" not in second
    assert [r.getMessage() for r in caplog.records] == [
        f"{a}, row 0: same prompt as {b}, row 0, which puts it in the test split: the prompt is test (test wins: a "
        "prompt any row holds out never trains), so this row's labels are held out"
    ]


@pytest.mark.parametrize("how", ["column", "--split test"])
def test_a_row_naming_test_for_a_prompt_stored_in_train_is_left_out_and_said(tmp_path, capsys, caplog, how):
    """Stored? was imported in train (a model may have trained on it since); a later file holds it out. Its row was
    stored in train (`stored_split_kept`), so its held-out labels trained. It is left out instead, whatever
    --on-error says, counted with split_conflicts and among the skipped rows, and one warning names how many and
    the first prompt; the file's other rows are imported."""
    ws = tmp_path / "ws"
    first = write(tmp_path / "first.jsonl", {"prompt": "Stored?", "chosen": "a", "rejected": "b"})
    assert main(["import", "-w", str(ws), str(first)]) == 0
    own = {"split": "test"} if how == "column" else {}
    later = write(
        tmp_path / "later.jsonl",
        {"prompt": "New?", "chosen": "a", "rejected": "b", **own},
        {"prompt": "Stored?", "chosen": "c", "rejected": "d", **own},
        {"prompt": "Stored?", "chosen": "e", "rejected": "f", **own},
    )
    flags = [] if how == "column" else ["--split", "test"]
    capsys.readouterr()
    with caplog.at_level(logging.WARNING, logger="data.import_splits"):
        assert main(["import", "-w", str(ws), str(later), *flags]) == 0
    assert by_prompt(ws, "split") == {"Stored?": "train", "New?": "test"}
    assert prompt_labels(ws, "Stored?") == 1 and prompt_labels(ws, "New?") == 1
    (line,) = summary(capsys)[:1]
    assert ", split_conflicts 2" in line and "; skipped 2 records (stored_train 2), listed in " in line
    assert [r.getMessage() for r in caplog.records] == [
        f"{later}: 2 rows named the test split for a prompt stored in train, left out (stored_train); the first, "
        "row 1: its prompt 'Stored?' is stored in the train split, and this row names test (a stored prompt keeps "
        "its split; in train, this row's labels would train). Stored in train, their labels would train on what "
        "this file holds out; and a stored prompt never moves to test: a run may have trained on its rows, which "
        "held-out figures would then count"
    ]


def test_a_file_whose_every_row_names_test_for_a_stored_train_prompt_writes_nothing(tmp_path, capsys):
    """Importing a file again with --split test stored nothing new and kept every prompt in train, its rows' labels
    training: each row is left out now, so the file has no importable record: one line, exit 2, nothing written."""
    ws, prefs = (
        tmp_path / "ws",
        write(tmp_path / "p.jsonl", {"prompt": "q0", "chosen": "yes", "rejected": "no"}),
    )
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    before = digest(ws)
    capsys.readouterr()
    assert main(["import", "-w", str(ws), str(prefs), "--split", "test"]) == 2
    assert error_lines(capsys) == [
        f"error: {prefs}: no importable records: all 1 skipped (stored_train 1); the first, row 0: its prompt 'q0' is stored in the "
        "train split, and this row names test (a stored prompt keeps its split; in train, this row's labels would "
        "train)"
    ]
    assert digest(ws) == before


def test_a_drawn_test_split_leaves_a_stored_train_prompts_rows_in(tmp_path, capsys, caplog):
    """--test-fraction draws a split for the rows that name none: no source holds their prompt out, so a prompt
    stored in train keeps its split and the rows their labels (`stored_split_kept`), as before; nothing is left out,
    and a row naming train beside a drawn test row is no split conflict: the stored prompt is train, not test."""
    ws = tmp_path / "ws"
    rows = [{"prompt": f"q{i}", "chosen": "yes", "rejected": "no"} for i in range(40)]
    assert main(["import", "-w", str(ws), str(write(tmp_path / "p.jsonl", *rows))]) == 0
    drawn = ({**row, "rejected": "maybe"} for row in rows)
    named = ({**row, "rejected": "never", "split": "train"} for row in rows)
    again = write(tmp_path / "again.jsonl", *drawn, *named)
    capsys.readouterr()
    with caplog.at_level(logging.WARNING, logger="data.import_splits"):
        assert main(["import", "-w", str(ws), str(again), "--test-fraction", "0.5"]) == 0
    (line,) = summary(capsys)[:1]
    assert "stored_split_kept" in line and "skipped" not in line and "split_conflicts" not in line
    assert set(by_prompt(ws, "split").values()) == {"train"} and caplog.records == []


def test_a_gold_folders_prompt_in_two_splits_is_test(tmp_path, caplog):
    """`data gold FOLDER` reads a datasets folder's splits: a new prompt in train and in test is test, warned of."""
    import datasets

    folder = tmp_path / "gold"
    row = {"prompt": "Gold?", "chosen": "x", "rejected": "y"}
    splits = {"train": [row], "test": [{**row, "chosen": "z"}]}
    datasets.DatasetDict({k: datasets.Dataset.from_list(v) for k, v in splits.items()}).save_to_disk(folder)
    Workspace.init(tmp_path / "ws")
    with caplog.at_level(logging.WARNING, logger="data.import_splits"):
        assert main(["gold", "-w", str(tmp_path / "ws"), str(folder)]) == 0
    assert by_prompt(tmp_path / "ws", "split") == {"Gold?": "test"}
    assert [r.getMessage().split(": same prompt as ")[0] for r in caplog.records] == [f"{folder}, row 0"]


def test_a_stored_test_prompt_stays_test_whatever_a_later_row_says(tmp_path, capsys):
    """Test wins over a stored prompt too: a later train row's labels are held out with it (`stored_split_kept`)."""
    ws = tmp_path / "ws"
    first = write(
        tmp_path / "first.jsonl", {"prompt": "Held?", "chosen": "a", "rejected": "b", "split": "test"}
    )
    assert main(["import", "-w", str(ws), str(first)]) == 0
    later = write(
        tmp_path / "later.jsonl", {"prompt": "Held?", "chosen": "c", "rejected": "d", "split": "train"}
    )
    capsys.readouterr()
    assert main(["import", "-w", str(ws), str(later)]) == 0
    assert "stored_split_kept 1" in summary(capsys)[0]
    assert by_prompt(ws, "split") == {"Held?": "test"} and prompt_labels(ws, "Held?") == 2


def test_remove_passes_over_the_rows_left_out_as_their_prompt_is_stored_in_train(tmp_path, capsys):
    """The row the import left out (stored_train) holds no stored label: --remove read it as a label missing, as if
    the file had not been imported there. The import's rejects say it was left out: counted so, the rest withdrawn."""
    ws = tmp_path / "ws"
    assert (
        main(
            [
                "import",
                "-w",
                str(ws),
                str(write(tmp_path / "a.jsonl", {"prompt": "S?", "chosen": "a", "rejected": "b"})),
            ]
        )
        == 0
    )
    later = write(
        tmp_path / "later.jsonl",
        {"prompt": "S?", "chosen": "c", "rejected": "d", "split": "test"},
        {"prompt": "N?", "chosen": "c", "rejected": "d", "split": "test"},
    )
    assert main(["import", "-w", str(ws), str(later)]) == 0
    (rejects,) = (ws / "imports").glob("*-later.rejects.jsonl")
    assert [(r["row"], r["reason"]) for r in map(json.loads, rejects.read_text().splitlines())] == [
        (0, "stored_train")
    ]
    capsys.readouterr()
    assert main(["import", "-w", str(ws), "--remove", str(later)]) == 0
    assert capsys.readouterr().out == (
        f"withdrew the labels of {later}: 1 (preferences 1); 1 row skipped at import (stored_train), never stored\n"
    )


@pytest.mark.parametrize("split", ["train_test_mix", "Train-Validation"])
def test_a_split_name_holding_a_held_out_word_beside_train_is_test(tmp_path, split):
    """`train_test_mix` (a split of both) names test: a held-out word anywhere in a split's name wins, as test wins
    between rows; as a datasets folder's split name and as a row's own split alike."""
    import datasets

    folder = tmp_path / "folder"
    row = {"prompt": "Folder?", "chosen": "a", "rejected": "b"}
    datasets.DatasetDict({split: datasets.Dataset.from_list([row])}).save_to_disk(str(folder))
    column = write(
        tmp_path / "rows.jsonl", {"prompt": "Column?", "chosen": "a", "rejected": "b", "split": split}
    )
    assert main(["import", "-w", str(tmp_path / "ws"), str(folder), str(column)]) == 0
    assert by_prompt(tmp_path / "ws", "split") == {"Folder?": "test", "Column?": "test"}


def test_with_on_error_skip_the_rows_refused_for_their_split_stay_out_beside_rank_locked_ones(
    tmp_path, capsys
):
    """`--on-error skip` checks a file again without the rows the rank guard refuses: the row left out for its
    stored train prompt stays out at that check too, both counted by reason."""
    from tests.test_data_import_remove import RANKED

    ws = tmp_path / "ws"
    first = write(tmp_path / "first.jsonl", RANKED, {"prompt": "S?", "chosen": "a", "rejected": "b"})
    assert main(["import", "-w", str(ws), str(first)]) == 0
    later = write(
        tmp_path / "later.jsonl",
        {"prompt": "Q?", "chosen": "a fourth", "rejected": "new 1"},  # joins the ranked item: rank_locked
        {"prompt": "S?", "chosen": "c", "rejected": "d", "split": "test"},
        {"prompt": "N?", "chosen": "c", "rejected": "d"},
    )
    capsys.readouterr()
    assert main(["import", "-w", str(ws), "--on-error", "skip", str(later)]) == 0
    assert "; skipped 2 records (rank_locked 1, stored_train 1), listed in " in summary(capsys)[0]
    assert prompt_labels(ws, "S?") == 1 and prompt_labels(ws, "N?") == 1
