"""A KTO row whose `label` is null is an answer nobody labelled, never a gold answer; a gold file refuses it in one
line naming file, row and field, and writes nothing."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data.__main__ import main
from data.workspace import Workspace
from tests.test_data_import_errors import digest, error_lines


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
