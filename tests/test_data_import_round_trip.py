"""An export read back with `data import` keeps what it says: each row's `split` (a held-out row stays held out,
whatever `--split` or `--test-fraction` says of the rows that name none) and a preference's `strength` (an export's
mean rounded to a whole one, counted). A KTO row whose `label` is null is an answer nobody labelled, never a gold
answer. Each bad value is one line naming file, row and field, and writes nothing."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data.__main__ import main
from data.records import Completion, Label, Pair, Prompt
from data.workspace import Workspace
from tests.test_data_import_errors import digest, error_lines

RATING = json.dumps(dict.fromkeys(("helpfulness", "correctness", "coherence", "complexity", "verbosity"), 3))


def write(path, *rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def summary(capsys) -> list[str]:
    return [
        line for line in capsys.readouterr().out.splitlines() if line.startswith(("imported ", "split: "))
    ]


def by_prompt(ws, column: str) -> dict[str, object]:
    rows = Workspace(ws).read("prompts").to_pylist()
    return {row["messages"][-1]["content"]: row[column] for row in rows}


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """A workspace of a train prompt and a held-out (test) one, each with a pair (strengths 3, and 3 and 4: a mean
    of 3.5), a KTO label, a rating and a gold answer."""
    ws = Workspace.init(tmp_path_factory.mktemp("round_trip") / "ws")
    records = []
    for split, strengths in (("train", (3,)), ("test", (3, 4))):
        prompt = Prompt([{"role": "user", "content": f"A {split} question?"}], "t", gold="Gold.", split=split)
        a, b = (Completion(prompt.id, f"{text} ({split})", "m", "hf") for text in ("Good", "Bad"))
        pair = Pair(prompt.id, a.id, b.id, "sampled")
        records += [prompt, a, b, pair, Label(a.id, "ann", "kto", "desirable")]
        records += [Label(a.id, "ann", "rate", None, ratings=RATING, rubric="helpsteer2")]
        records += [Label(pair.id, f"ann{i}", "pairwise", "a", strength=s) for i, s in enumerate(strengths)]
    ws.append(records)
    return ws.path


@pytest.mark.parametrize("fmt", ["dpo", "kto", "sft", "ratings"])
def test_an_exports_rows_keep_their_split_when_imported_again(labelled, tmp_path, capsys, fmt):
    out = tmp_path / f"{fmt}.parquet"
    assert main(["export", "-w", str(labelled), "--format", fmt, "--out", str(out)]) == 0
    assert sorted(pq.read_table(out).column("split").to_pylist()) == ["test", "train"]
    capsys.readouterr()
    assert main(["import", "-w", str(tmp_path / "again"), str(out)]) == 0
    assert summary(capsys)[1] == (
        "split: the rows' column 'split' gave the split of 2 rows (train 1, test 1); --split and --test-fraction "
        "set only the split of rows without one"
    )
    assert by_prompt(tmp_path / "again", "split") == {
        "A train question?": "train",
        "A test question?": "test",
    }


def test_a_dpo_export_keeps_its_strength_when_imported_again(labelled, tmp_path, capsys):
    out = tmp_path / "dpo.parquet"
    assert main(["export", "-w", str(labelled), "--format", "dpo", "--out", str(out)]) == 0
    assert sorted(pq.read_table(out).column("strength").to_pylist()) == [3.0, 3.5]
    capsys.readouterr()
    assert main(["import", "-w", str(tmp_path / "again"), str(out)]) == 0
    line = summary(capsys)[0]
    assert "strength_rounded 1;" in line and "strength" not in line.partition("columns not read")[2]
    labels = Workspace(tmp_path / "again").read("labels").to_pylist()
    assert sorted(label["strength"] for label in labels) == [
        3,
        4,
    ]  # 3.5: the nearest whole strength, halves up
    again = tmp_path / "again.parquet"
    assert main(["export", "-w", str(tmp_path / "again"), "--format", "dpo", "--out", str(again)]) == 0
    assert sorted(pq.read_table(again).column("strength").to_pylist()) == [3.0, 4.0]


@pytest.mark.parametrize(
    ("flags", "splits"),
    [
        ([], {"Own train?": "train", "Own test?": "test", "None?": "train"}),
        (["--split", "test"], {"Own train?": "train", "Own test?": "test", "None?": "test"}),
        # a fraction of 0.99 draws test for nearly every prompt: never for a row that names train
        (["--test-fraction", "0.99"], {"Own train?": "train", "Own test?": "test", "None?": "test"}),
    ],
)
def test_a_rows_own_split_wins_over_the_flags_which_set_the_others(tmp_path, capsys, flags, splits):
    rows = [
        {"prompt": "Own train?", "chosen": "a", "rejected": "b", "split": "train"},
        {"prompt": "Own test?", "chosen": "a", "rejected": "b", "split": "validation"},  # a held-out name
        {"prompt": "None?", "chosen": "a", "rejected": "b", "split": ""},  # a CSV's empty cell: none
    ]
    assert (
        main(["import", "-w", str(tmp_path / "ws"), str(write(tmp_path / "rows.jsonl", *rows)), *flags]) == 0
    )
    assert by_prompt(tmp_path / "ws", "split") == splits
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("split: the rows' column 'split' gave the split of 2 rows (train 1, test 1)")
    drawn = [line for line in lines if line.startswith("test split: ")]  # --test-fraction's line, if given
    said = "; the rows that name their split (above) keep it"
    assert [line.endswith(said) for line in drawn] == ([True] if "--test-fraction" in flags else [])


@pytest.mark.parametrize("order", ["train first", "test first"])
def test_a_prompt_whose_rows_name_two_splits_is_test_and_is_said(tmp_path, capsys, caplog, order):
    """A data set split by row, not by prompt, may give one prompt a train row and a test row. The first row's
    split was kept: a train row first, the row its source held out trained, and every held-out figure counted less
    than the source held out. Test wins, whichever row comes first; the train row (its labels held out) is counted
    and warned of, naming both rows."""
    import logging

    same = [
        {"prompt": "Same?", "chosen": "a", "rejected": "b", "split": "train"},
        {"prompt": "Same?", "chosen": "c", "rejected": "d", "split": "test"},
    ]
    rows = [*(same if order == "train first" else same[::-1])]
    rows.append({"prompt": "Other?", "chosen": "a", "rejected": "b", "split": "train"})
    path = write(tmp_path / "rows.jsonl", *rows)
    with caplog.at_level(logging.WARNING, logger="data.import_splits"):
        assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    assert by_prompt(tmp_path / "ws", "split") == {"Same?": "test", "Other?": "train"}
    assert ", split_conflicts 1" in summary(capsys)[0]
    train, test = (0, 1) if order == "train first" else (1, 0)
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}, row {train}: same prompt as row {test}, which puts it in the test split: the prompt is test (test "
        "wins: a prompt any row holds out never trains), so this row's labels are held out"
    ]
    out = tmp_path / "test.parquet"
    export = ["export", "-w", str(tmp_path / "ws"), "--format", "dpo", "--split", "test", "--out", str(out)]
    assert main(export) == 0
    assert sorted(row["chosen"][0]["content"] for row in pq.read_table(out).to_pylist()) == ["a", "c"]


def test_a_datasets_folders_split_wins_over_a_rows_split_column(tmp_path, capsys):
    import datasets

    row = {"prompt": "Folder?", "chosen": "a", "rejected": "b", "split": "train"}
    datasets.DatasetDict({"test": datasets.Dataset.from_list([row])}).save_to_disk(str(tmp_path / "folder"))
    assert main(["import", "-w", str(tmp_path / "ws"), str(tmp_path / "folder")]) == 0
    assert by_prompt(tmp_path / "ws", "split") == {"Folder?": "test"}
    assert summary(capsys)[0].endswith(
        "(split: a row's own split is not read (a datasets folder's rows keep their split's))"
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"split": "tset"},
            "field 'split': split 'tset' is neither train nor test (nor a held-out name: test,",
        ),
        ({"split": 1}, "field 'split': split 1 is neither train nor test"),
        ({"strength": 5}, "field 'strength': strength 5 is not a number in 1..4 (1: negligibly better, 4: "),
        ({"strength": "strong"}, "field 'strength': strength 'strong' is not a number in 1..4"),
        ({"strength": True}, "field 'strength': strength true is not a number in 1..4"),
    ],
)
def test_a_bad_split_or_strength_is_one_line_naming_row_and_field_and_writes_nothing(
    tmp_path, capsys, row, message
):
    ws = tmp_path / "ws"
    assert (
        main(
            ["import", "-w", str(ws), str(write(tmp_path / "good.jsonl", {"prompt": "q", "completion": "a"}))]
        )
        == 0
    )
    before = digest(ws)
    bad = write(
        tmp_path / "bad.jsonl",
        {"prompt": "q0", "chosen": "a", "rejected": "b"},
        {"prompt": "q1", "chosen": "a", "rejected": "b", **row},
    )
    capsys.readouterr()
    assert main(["import", "-w", str(ws), str(bad)]) == 2
    [line] = error_lines(capsys)
    assert line.startswith(f"error: {bad}, row 1, {message}")
    assert digest(ws) == before
    assert main(["import", "-w", str(ws), str(bad), "--on-error", "skip"]) == 0
    reason = "bad_split" if "split" in row else "bad_strength"
    assert f"skipped 1 record ({reason} 1)" in summary(capsys)[0]


def test_a_csv_strength_is_read_as_its_number(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("prompt,chosen,rejected,strength\nq,a,b,2\nq2,a,b,\n")
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    labels = Workspace(tmp_path / "ws").read("labels").to_pylist()
    assert sorted(label["strength"] or 0 for label in labels) == [0, 2]  # an empty cell gives none


def kto_row(fmt: str, question: str, answer: str, label: bool | None) -> dict:
    if fmt == "prompt":
        return {"prompt": question, "completion": answer, "label": label}
    # LLaMA-Factory's KTO rows: the conversation's last turn is the answer, `kto_tag` its label
    turns = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return {"messages": turns, "kto_tag": label}


@pytest.mark.parametrize("fmt", ["prompt", "chat"])
@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_a_null_label_beside_an_answer_is_no_gold_answer_but_one_nobody_labelled(
    tmp_path, capsys, fmt, suffix
):
    rows = [kto_row(fmt, "Nobody's?", "Maybe.", None), kto_row(fmt, "Labelled?", "Yes.", True)]
    path = tmp_path / f"kto{suffix}"
    if suffix == ".jsonl":
        write(path, *rows)
    else:  # a Parquet file holds the column in every row: the null is the row's label
        pq.write_table(pa.Table.from_pylist(rows), path)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    assert ", null_label 1," in summary(capsys)[0]
    assert by_prompt(tmp_path / "ws", "gold") == {"Nobody's?": None, "Labelled?": None}
    ws = Workspace(tmp_path / "ws")
    assert sorted(ws.read("completions").column("text").to_pylist()) == ["Maybe.", "Yes."]
    assert ws.read("labels").num_rows == 1  # the labelled row's
    assert main(["export", "-w", str(tmp_path / "ws"), "--format", "kto"]) == 0
    assert "unlabelled 1" in capsys.readouterr().out  # the KTO app serves it to labellers
    assert main(["export", "-w", str(tmp_path / "ws"), "--format", "sft"]) == 2  # no gold answer to export


def test_gold_rows_beside_kto_rows_in_parquet_are_warned_of_not_only_counted(tmp_path, capsys):
    """A Parquet file mixing gold rows (no label) and KTO rows gives the gold rows the column's null: their answers
    are stored unlabelled, and the summary said only `null_label 1`."""
    rows = [
        {"prompt": "Gold?", "completion": "Gold answer."},
        {"prompt": "Good?", "completion": "Yes.", "label": True},
    ]
    path = tmp_path / "mixed.parquet"
    pq.write_table(
        pa.Table.from_pylist(
            rows, schema=pa.schema({"prompt": pa.string(), "completion": pa.string(), "label": pa.bool_()})
        ),
        path,
    )
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    out, err = capsys.readouterr()
    assert ", null_label 1," in out
    assert err == (
        f"warning: {path}: 1 row with a null label: stored unlabelled, for the KTO app's labellers to label, not "
        "as gold (SFT) answers (in a Parquet or CSV file a row without a label, as a gold answer's beside KTO rows, holds "
        "a null one); to import gold answers, give them in a file of their own without a label column\n"
    )
    assert by_prompt(tmp_path / "ws", "gold") == {"Gold?": None, "Good?": None}
    gold = tmp_path / "gold.parquet"  # the advice: the gold rows alone, no label column
    pq.write_table(pa.Table.from_pylist(rows[:1]), gold)
    assert main(["import", "-w", str(tmp_path / "ws2"), str(gold)]) == 0
    assert capsys.readouterr().err == ""
    assert by_prompt(tmp_path / "ws2", "gold") == {"Gold?": "Gold answer."}


def test_a_gold_files_null_label_is_one_line_naming_the_field(tmp_path, capsys):
    Workspace.init(tmp_path / "ws")
    before = digest(tmp_path / "ws")
    path = write(tmp_path / "gold.jsonl", {"prompt": "Q?", "completion": "A.", "label": None})
    assert main(["gold", "-w", str(tmp_path / "ws"), str(path)]) == 2
    [line] = error_lines(capsys)
    assert line == (
        f"error: {path}, row 0, field 'label': 'label' is null: a gold KTO row gives its answer's label (true or "
        "false)"
    )
    assert digest(tmp_path / "ws") == before


@pytest.mark.parametrize(
    ("labels", "suffix"),
    [([1, 0, None], ".parquet"), ([1, 0, None], ".csv"), ([True, False, None], ".csv")],
)
def test_a_kto_label_column_pandas_wrote_with_a_null_keeps_its_labels(tmp_path, capsys, labels, suffix):
    """pandas writes a 0/1 label column that held a null (an unlabelled row) as floats, `1.0`, `0.0` and NaN, and a
    CSV's null as an empty cell: the labels were refused (`label 1.0 is not true/false`, `label ''`), the file
    unimportable; they are the labels, and the null one a row nobody labelled."""
    import pandas as pd

    path = tmp_path / f"kto{suffix}"
    frame = pd.DataFrame({"prompt": ["Good?", "Bad?", "Nobody's?"], "completion": ["A.", "B.", "C."]})
    frame["label"] = labels
    frame.to_parquet(path) if suffix == ".parquet" else frame.to_csv(path, index=False)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    assert ", new_labels 2, new_prompts 3, null_label 1," in summary(capsys)[0]
    ws = Workspace(tmp_path / "ws")
    texts = dict(zip(*(ws.read("completions").column(c).to_pylist() for c in ("id", "text"))))
    choices = {texts[label["item_id"]]: label["choice"] for label in ws.read("labels").to_pylist()}
    assert choices == {"A.": "desirable", "B.": "undesirable"}
    assert by_prompt(tmp_path / "ws", "gold") == {"Good?": None, "Bad?": None, "Nobody's?": None}
